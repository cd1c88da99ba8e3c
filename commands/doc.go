// Package commands is Picket's slash command, "/picket": a table of
// definitions (name, usage, help, examples, handler), the parser that turns
// the text a person typed into a call, and the handlers that answer with
// domain replies.
//
// Handlers read the finding index, the action history, the audit trail and
// the suppression rules, run posture checks and enrichment look-ups, and
// report the bot's health. They never speak Slack: a Reply is a title and
// a list of sections in Slack mrkdwn in which every value that came from
// data (a finding, an IAM user, an audit entry, the typed text) is already
// escaped, so that nothing shown can mention @channel or forge a link.
// Package bot renders replies as blocks and sends them through the
// command's response_url, split by Split within Slack's limits.
//
// Every command is authorized with Deps.Authorize before it runs; a person
// who may not run it is told so. It then keeps to the person's Scope (the
// accounts of the roles that grant it): lists leave other accounts out and
// a look-up in another account is refused with a reply that says so. Failures reach people as the sentence of
// picket.ErrorMessage; the details go to the logger.
package commands
