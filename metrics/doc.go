// Package metrics holds Picket's counters, gauges and histograms and serves
// them for Prometheus. It is a thin layer over the Prometheus Go client
// (github.com/prometheus/client_golang): the rest of Picket sees small,
// nil-safe types (a nil *Counter ignores every call, so components can run
// unmetered) while the client's registry does the exposition, and adds the
// Go runtime and process collectors and picket_build_info (Runtime).
package metrics
