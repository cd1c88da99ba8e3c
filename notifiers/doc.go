// Package notifiers turns alerts into messages people read and sends them.
//
// Render is a pure function from a picket.Alert to a Slack Block Kit
// message: it reads no clock and no configuration, so the same alert always
// renders to the same bytes, which the golden files under testdata/golden
// pin down (regenerate them with `go test ./notifiers -update`). Every
// string that comes from a finding or its enrichment passes through Escape
// before it reaches Slack, so a finding cannot mention @channel or inject a
// link, and Render keeps within Slack's size limits (50 blocks, 3,000
// characters of section text, 150 of header text, 10 fields of 2,000).
//
// Slack sends rendered alerts with chat.postMessage and updates them in
// place with chat.update, pacing itself to about one message per second per
// channel and retrying rate limits, server errors and network errors.
// Terminal prints alerts as plain text for demos and dry runs. Both
// implement picket.AlertSender.
package notifiers
