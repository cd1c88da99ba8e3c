// Package metrics holds Picket's counters and histograms and writes them in
// the Prometheus text exposition format for the /metrics endpoint. It uses
// only the standard library: Picket needs a handful of series, not a client
// library.
package metrics
