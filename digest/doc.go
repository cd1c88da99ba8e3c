// Package digest computes the periodic posture digest: from the store's
// live finding index, the action records and the audit trail, the
// suppressions, an optional posture report and the previous day's
// snapshot, it builds one picket.Digest saying what changed in the window,
// what is still open and how fast the team responds.
//
// Build is pure and streams the findings once, keeping only counters and a
// bounded list of the oldest urgent findings, so a store of 100,000
// findings is summarised in one pass without holding it in memory. It never
// pages through Security Hub: the index is kept current by the event stream
// and by ingest's reconciliation.
//
// The trend chart is drawn by package chart; rendering for Slack is in
// notifiers.
package digest
