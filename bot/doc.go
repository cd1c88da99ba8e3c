// Package bot is Picket's Slack inbound: the response buttons on alerts,
// the plan dialogs they open, approvals and slash commands.
//
// It receives requests either over Socket Mode (the default: no public
// endpoint) or over HTTP, where every request must carry a valid v0
// signature made with the app's signing secret, a timestamp within five
// minutes of Picket's clock, and must not repeat a request already seen
// (the replay set is keyed on the MAC itself, so a signature's hex case
// does not make it new). Headers, timestamp and signature are checked
// before anything of the body is parsed. A refused request is answered
// 401 and costs a counter (Options.Refused) and, at most every ten
// seconds, a log line; it is never audited on its own, and never under a
// user id taken from its unverified body. Instead, one audit entry
// (picket.ResponseService.RecordRejected, actor "picket") per period sums
// up the refusals by reason, so a flood of forged requests cannot fill the
// data volume.
//
// Verified requests are refused too (and counted the same way) when they
// come from another workspace or app than Options.TeamID and
// Options.AppID, or when a button was not clicked on its finding's alert
// (the message at the finding's stored Ref) or a message in that alert's
// thread (Options.Records).
//
// Socket Mode errors are logged by event type and envelope id only: an
// envelope's payload carries a response_url, which lets anyone who has it
// post into the conversation.
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
// plan is escaped before it is shown in Slack, and all mrkdwn it sends is
// verbatim (as alerts are), so Slack links no bare URL, #channel or @name.
package bot
