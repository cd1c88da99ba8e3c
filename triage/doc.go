// Package triage decides what a finding means to people and gets it to
// them.
//
// Pipeline is intake: whether a finding is new, a newer version of one
// already shown (update the message in place), an older or repeated
// delivery (ignore), suppressed, below every routing threshold (record but
// do not post), and which channel it goes to. Its decisions are committed by
// the store together with an outbox entry and the queue message as done;
// intake never waits on Slack.
//
// Dispatcher is delivery: one lane per channel drains the outbox at the
// sender's pace, most severe first, so one channel's storm never delays
// another channel and a High alert never waits behind Low ones. Bursts of
// one type and account fold into group messages (Grouping), updated in
// place as they grow and listing every member, with its own actions, in
// their thread; Critical findings are never folded. Posts are recorded as in
// flight before they are made and looked up after a crash, so nothing is
// posted twice.
//
// The package imports only the root package, metrics and the standard
// library: the store, Slack and the enricher come in through root
// interfaces.
package triage
