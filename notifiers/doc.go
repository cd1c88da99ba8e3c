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
// An alert also shows the responses taken on its finding (picket.Alert.
// Actions), one line each: who did what, when, and how it ended. A Disable
// user or Quarantine instance that changed something and is not undone gets
// an Undo button (action id ActionUndo, value the request id), and the
// button that started it is hidden while it is active. RenderActionReply
// draws one action record as a reply in the alert's thread: the plan with
// Approve and Reject buttons while it awaits a second person, then every
// step with its AWS request id, failures with their error, and what to do
// next. RenderEscalation draws the notice posted to the escalation channel.
// These are pure and golden-tested too (testdata/golden_reply). Slack user
// ids become <@ID> mentions only when they look like Slack ids, and only
// AWS console URLs in a result's summary become links.
//
// Render is on the hot path of every finding (decode, triage, render and
// encode must reach 40,000 findings a second per core), so it allocates its
// text objects and sections from a few per-message arrays, and context and
// actions blocks are ContextBlock and ActionBlock: they encode to exactly
// the JSON of slack-go's own types, but through encoding/json's reflection
// alone, without the nested json.Marshal and compaction pass slack-go's
// element lists cost. A hand-written MarshalJSON on Message would not help:
// encoding/json re-scans and compacts whatever a MarshalJSON returns, which
// alone costs about as much as encoding the message by reflection. Tests
// check that every golden message, and fuzzed ones, encode byte for byte as
// with slack-go's types, and that the Slack sender posts those bytes.
//
// Slack sends rendered alerts with chat.postMessage and updates them in
// place with chat.update, pacing itself to about one message per second per
// channel and retrying rate limits, server errors and network errors.
// Thread replies and escalation notices are paced and retried the same way,
// a reply counting against its channel's pace. Terminal prints alerts,
// replies and notices as plain text for demos and dry runs. Both implement
// picket.AlertSender and picket.Announcer.
package notifiers
