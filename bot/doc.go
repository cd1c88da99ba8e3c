// Package bot is Picket's Slack inbound: the response buttons on alerts,
// the plan dialogs they open, approvals and slash commands.
//
// It receives requests either over Socket Mode (the default: no public
// endpoint) or over HTTP, where every request must carry a valid v0
// signature made with the app's signing secret, a timestamp within five
// minutes of Picket's clock, and must not repeat a request already seen.
// Rejected requests are answered 401 and audited through
// picket.ResponseService.RecordRejected.
//
// Every interaction is acknowledged at once; the work (opening the plan
// dialog, planning, running) continues in the background on a context that
// outlives the request, because Slack gives an app three seconds to answer.
// Slash commands are acknowledged with "Working on it…" and answered by
// Options.Commands (commands.Run in production) within 60 seconds, through
// the command's response_url: the reply is split by commands.Split into at
// most five messages (Slack's limit for one response_url). Only
// response_urls that Options.AllowResponseURL accepts (https on
// hooks.slack.com by default) are used, so a forged one cannot make Picket
// post elsewhere.
// The bot never talks to AWS: it asks picket.ResponseService, which
// authorizes, plans, runs and audits. Everything taken from a finding or a
// plan is escaped before it is shown in Slack.
package bot
