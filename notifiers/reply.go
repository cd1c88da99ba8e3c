package notifiers

import (
	"strconv"
	"strings"
	"unicode/utf8"

	picket "github.com/picketsec/picket"
	"github.com/slack-go/slack"
)

// ApprovalBlockID is the block_id of the block holding the Approve and
// Reject buttons of a reply awaiting approval.
const ApprovalBlockID = "picket.approval"

// maxStepLine bounds one step line of a reply (an AWS error message can be
// long).
const maxStepLine = 1000

// reply is what a thread reply about an action record says, drawn once per
// medium by a style.
type reply struct {
	headline string   // fallback text: icon, action, target, status
	about    string   // action, target, account/region, actor, reason
	status   string   // icon and bold status, with the explanation
	summary  string   // the result's summary
	steps    []string // one line per planned or executed step
	undo     string   // what Undo would restore (plan only)
	next     string   // "What to do:" line
	context  string   // request id
	details  []string // the plan's details (awaiting approval or running)
	output   string   // raw tail of a command's output
}

// statusWord says in a few words how rec stands, for the headline.
func statusWord(rec picket.ActionRecord) string {
	switch rec.Status {
	case picket.OutcomeSucceeded:
		return "done"
	case picket.OutcomePartial:
		return "partly done"
	case picket.OutcomeFailed:
		return "failed"
	case picket.OutcomeDryRunned:
		return "dry run"
	case picket.OutcomePending:
		return "awaiting approval"
	case picket.StatusRunning:
		return "running"
	case picket.OutcomeRejected:
		if rec.Approver == nil {
			return "expired"
		}
		return "rejected"
	case picket.OutcomeRefused:
		return "refused"
	case picket.OutcomeDenied:
		return "not allowed"
	}
	return string(rec.Status)
}

func statusIcon(rec picket.ActionRecord) string {
	switch rec.Status {
	case picket.OutcomeSucceeded:
		return iconDone
	case picket.OutcomePartial:
		return iconPartial
	case picket.OutcomeFailed:
		return iconFailed
	case picket.OutcomeDryRunned:
		return iconDryRun
	case picket.OutcomePending:
		return iconPending
	case picket.StatusRunning:
		return iconRunning
	case picket.OutcomeRejected:
		return iconRejected
	case picket.OutcomeRefused, picket.OutcomeDenied:
		return iconRefused
	}
	return iconUnknown
}

// targetLabel names the resource an action applies to: "IAM user alice".
func targetLabel(r picket.Resource) string {
	if r.ID == "" {
		return ""
	}
	return resourceLabel(r) + " " + shorten(r.ID, 256)
}

func newReply(rec picket.ActionRecord, st style) reply {
	req := rec.Request
	var r reply
	label := req.Kind.Label()

	r.headline = st.icon(statusIcon(rec)) + " " + st.text(label)
	if req.Target.ID != "" {
		r.headline += " " + st.text(shorten(req.Target.ID, 256))
	}
	r.headline += ": " + statusWord(rec)

	var about strings.Builder
	about.WriteString(st.bold(st.text(label)))
	if req.Target.ID != "" {
		about.WriteString(" · " + st.text(resourceLabel(req.Target)) + " " + st.code(shorten(req.Target.ID, 256)))
	}
	if req.Account != "" || req.Region != "" {
		where := st.code(shorten(req.Account, 64))
		if req.Account == "" {
			where = "unknown"
		}
		if req.Region != "" {
			where += " / " + st.code(shorten(req.Region, 64))
		}
		about.WriteString(" · account " + where)
	}
	if req.UndoOf != "" {
		about.WriteString(" · reverses request " + st.code(shorten(req.UndoOf, 128)))
	}
	if req.DryRun {
		about.WriteString(" · dry run")
	}
	about.WriteString("\nRequested by " + st.actor(req.Actor))
	if !req.At.IsZero() {
		about.WriteString(" at " + formatMinute(req.At))
	}
	if rec.Approver != nil && rec.Status != picket.OutcomeRejected && rec.Status != picket.OutcomePending {
		about.WriteString(", approved by " + st.actor(*rec.Approver))
	}
	if req.Reason != "" {
		about.WriteString("\nReason: " + st.text(shorten(req.Reason, 500)))
	}
	r.about = about.String()

	icon := st.icon(statusIcon(rec)) + " "
	switch rec.Status {
	case picket.OutcomeSucceeded:
		r.status = icon + st.bold("Done")
	case picket.OutcomePartial:
		failed, total := failedSteps(rec)
		r.status = icon + st.bold("Partly done") + ": " + strconv.Itoa(failed) + " of " + strconv.Itoa(total) +
			" steps failed. The steps below say which were done and which were not."
	case picket.OutcomeFailed:
		r.status = icon + st.bold("Failed") + ": nothing was changed."
	case picket.OutcomeDryRunned:
		r.status = icon + st.bold("Dry run") + ": nothing was changed; these are the calls Picket would make."
	case picket.OutcomePending:
		r.status = icon + st.bold("Awaiting approval by a second person")
		if !rec.ApproveBy.IsZero() {
			r.status += " (until " + formatMinute(rec.ApproveBy) + ")"
		}
		r.status += ". The requester cannot approve their own request."
	case picket.StatusRunning:
		r.status = icon + st.bold("Running") + ": Picket is making the calls below."
	case picket.OutcomeRejected:
		if rec.Approver != nil {
			r.status = icon + st.bold("Rejected") + " by " + st.actor(*rec.Approver) + "; nothing was changed."
		} else {
			r.status = icon + st.bold("Expired") + ": no one approved the request in time; nothing was changed."
		}
	case picket.OutcomeRefused:
		r.status = icon + st.bold("Refused by a guardrail")
		if rec.Plan.Refusal != "" {
			r.status += ": " + st.text(shorten(rec.Plan.Refusal, 1000))
		}
		r.status += " Nothing was changed."
		if alt := rec.Plan.Alternative; alt != "" {
			r.status += " Use " + st.bold(st.text(alt.Label())) + " instead."
		}
	case picket.OutcomeDenied:
		r.status = icon + st.bold("Not allowed") + ": " + st.actor(req.Actor) + " has no Picket role that grants " +
			st.text(label) + " in this account; nothing was changed."
	default:
		r.status = icon + st.bold(st.text(string(rec.Status)))
	}

	if res := rec.Result; res != nil {
		if res.Summary != rec.Plan.Refusal {
			r.summary = st.prose(res.Summary)
		}
		for _, s := range res.Steps {
			r.steps = append(r.steps, stepLine(s, st))
		}
		if res.NextStep != "" {
			r.next = st.bold("What to do:") + " " + st.prose(res.NextStep)
		}
	} else if rec.Status == picket.OutcomePending || rec.Status == picket.StatusRunning {
		for _, s := range rec.Plan.Steps {
			r.steps = append(r.steps, "• "+st.text(s.Description)+" ("+st.code(s.Operation)+")")
		}
		if rec.Plan.Undo != "" {
			r.undo = st.bold("Undo") + " would " + st.text(lowerFirst(rec.Plan.Undo))
		}
	}
	if rec.Status == picket.OutcomePending || rec.Status == picket.StatusRunning {
		for _, d := range rec.Plan.Details {
			r.details = append(r.details, "• "+st.text(shorten(d, 500)))
		}
	}
	if rec.Result != nil {
		r.output = rec.Result.Output
	}
	if req.ID != "" {
		r.context = "Request " + st.code(shorten(req.ID, 128))
	}
	return r
}

// lowerFirst lower-cases the first letter of a sentence that follows
// "would".
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || r == utf8.RuneError {
		return s
	}
	return strings.ToLower(string(r)) + s[n:]
}

// stepLine is one step of a result: icon, description, operation and
// request id, and for a failure the AWS error code and message.
func stepLine(s picket.StepResult, st style) string {
	op := st.code(s.Operation)
	if s.RequestID != "" {
		op += ", request id " + st.code(s.RequestID)
	}
	desc := st.text(s.Description)
	switch s.Status {
	case picket.StepDone:
		return st.icon(iconDone) + " " + desc + " (" + op + ")"
	case picket.StepFailed:
		line := st.icon(iconFailed) + " " + desc + " (" + op + ")"
		if s.ErrorCode != "" || s.Error != "" {
			line += ":"
			if s.ErrorCode != "" {
				line += " " + st.code(s.ErrorCode)
			}
			if s.Error != "" {
				line += " " + st.text(s.Error)
			}
		}
		return line
	case picket.StepSkipped:
		return st.icon(iconSkipped) + " skipped: " + desc + " (" + op + ")"
	case picket.StepDryRun:
		return st.icon(iconDryRun) + " dry run: " + desc + " (" + op + ")"
	}
	return st.icon(iconUnknown) + " " + desc + " (" + op + "): " + st.text(string(s.Status))
}

// replyColor is the colour bar of a reply: green when done, orange when
// partly done, red when failed, yellow while waiting, blue for a dry run
// and grey when nothing was attempted.
func replyColor(rec picket.ActionRecord) string {
	switch rec.Status {
	case picket.OutcomeSucceeded:
		return ColorClosed
	case picket.OutcomePartial:
		return ColorHigh
	case picket.OutcomeFailed:
		return ColorCritical
	case picket.OutcomePending, picket.StatusRunning:
		return ColorMedium
	case picket.OutcomeDryRunned:
		return ColorLow
	}
	return ColorInformational
}

// RenderActionReply draws an action record as a reply in the alert's
// thread. It is pure, like Render. It names the action, its target,
// account, region and requester; awaiting approval, it lists the plan and
// offers Approve and Reject (their value is the request id); with a result,
// it gives the summary, every step with its AWS request id (failures with
// their error code and message), what to do next and, when it can be
// undone, an Undo button (the only one a finding shown in a group message
// has). Every string from the
// request, plan or result is escaped, and the reply keeps within Slack's
// limits: long step lists are split over sections, and steps beyond the
// block budget are counted, not shown.
func RenderActionReply(rec picket.ActionRecord) Message {
	r := newReply(rec, slackStyle{})
	var head, tail []slack.Block
	head = append(head, slack.NewSectionBlock(mrkdwn(clip(r.about, MaxSectionText)), nil, nil))
	status := r.status
	if r.summary != "" {
		status += "\n" + r.summary
	}
	head = append(head, slack.NewSectionBlock(mrkdwn(clip(status, MaxSectionText)), nil, nil))

	if len(r.details) > 0 {
		head = append(head, slack.NewSectionBlock(mrkdwn(clip(strings.Join(r.details, "\n"), MaxSectionText)), nil, nil))
	}
	if r.output != "" {
		tail = append(tail, slack.NewSectionBlock(mrkdwn(outputBlock(r.output)), nil, nil))
	}
	if r.undo != "" {
		tail = append(tail, slack.NewSectionBlock(mrkdwn(clip(r.undo, MaxSectionText)), nil, nil))
	}
	if r.next != "" {
		tail = append(tail, slack.NewSectionBlock(mrkdwn(clip(r.next, MaxSectionText)), nil, nil))
	}
	if rec.Status == picket.OutcomePending && rec.Request.ID != "" {
		tail = append(tail, approvalBlock(rec))
	}
	// The alert of a finding shown in a group message is the group's,
	// which carries no Undo buttons: the reply in the thread offers it.
	for i, u := range undoButtons([]picket.ActionRecord{rec}) {
		tail = append(tail, (&slab{}).undoBlock(i, u))
	}
	if r.context != "" {
		tail = append(tail, newContextBlock("", mrkdwn(clip(r.context, MaxSectionText))))
	}

	blocks := append(head, stepBlocks(r.steps, MaxBlocks-len(head)-len(tail))...)
	blocks = append(blocks, tail...)
	return Message{
		Text:   clip(r.headline, maxFallbackText),
		Color:  replyColor(rec),
		Blocks: blocks,
	}
}

// outputHeading introduces a command's output in a reply.
const outputHeading = "*Output* (the end of the command's standard output)\n"

// outputBlock shows the tail of a command's output as a code block within
// one section: escaped (so it mentions no one and links nothing), with
// backticks replaced so it cannot close the block, and cut at the front
// when it is too long, keeping its end.
func outputBlock(raw string) string {
	raw = strings.ReplaceAll(raw, "`", "'")
	room := MaxSectionText - utf8.RuneCountInString(outputHeading) - 8
	for {
		esc := Escape(raw)
		if utf8.RuneCountInString(esc) <= room {
			return outputHeading + "```" + esc + "```"
		}
		// Keep the end: drop from the front in proportion to what does
		// not fit (escaping lengthens text unevenly, so check again).
		r := []rune(raw)
		n := utf8.RuneCountInString(esc)
		drop := max(len(r)*(n-room)/n, 1) + 1
		if drop >= len(r) {
			return outputHeading + "```…```"
		}
		raw = "…" + string(r[drop:])
	}
}

// stepBlocks packs step lines into sections of at most MaxSectionText
// runes, within budget blocks; when they do not all fit, the last block
// counts the steps left out.
func stepBlocks(lines []string, budget int) []slack.Block {
	if len(lines) == 0 || budget <= 0 {
		return nil
	}
	var out []slack.Block
	var cur []string
	size := 0
	for i, l := range lines {
		l = clip(l, maxStepLine)
		n := utf8.RuneCountInString(l) + 1
		if len(cur) > 0 && size+n > MaxSectionText {
			if len(out) == budget-1 {
				// One block left: it counts what is not shown.
				out = append(out, newContextBlock("", mrkdwn(
					"…and "+strconv.Itoa(len(lines)-i+len(cur))+" more steps not shown ("+strconv.Itoa(len(lines))+" in all).")))
				return out
			}
			out = append(out, slack.NewSectionBlock(mrkdwn(strings.Join(cur, "\n")), nil, nil))
			cur, size = nil, 0
		}
		cur = append(cur, l)
		size += n
	}
	return append(out, slack.NewSectionBlock(mrkdwn(strings.Join(cur, "\n")), nil, nil))
}

// approvalBlock offers Approve and Reject for a pending request.
func approvalBlock(rec picket.ActionRecord) slack.Block {
	req := rec.Request
	value := shorten(req.ID, MaxButtonValue)
	what := req.Kind.Label()
	if t := targetLabel(req.Target); t != "" {
		what += " on " + t
	}
	if req.Account != "" {
		what += " in account " + req.Account
	}
	who := req.Actor.Name
	if who == "" {
		who = req.Actor.ID
	}
	approve := slack.NewButtonBlockElement(ActionApprove, value, plain("Approve"))
	approve.Style = slack.StylePrimary
	approve.Confirm = slack.NewConfirmationBlockObject(
		plain("Approve this action?"),
		plain(clip(Escape("Run "+what+" now, as "+shorten(who, 80)+" asked? You are the second person: it runs as soon as you approve."), MaxConfirmText)),
		plain("Approve"),
		plain("Cancel"),
	)
	approve.Confirm.Style = slack.StylePrimary
	reject := slack.NewButtonBlockElement(ActionReject, value, plain("Reject"))
	return newActionBlock(ApprovalBlockID, approve, reject)
}

// renderActionReplyText draws an action record as plain text for a
// terminal, with the same content as RenderActionReply.
func renderActionReplyText(rec picket.ActionRecord) string {
	r := newReply(rec, plainStyle{})
	var b strings.Builder
	b.WriteString(r.headline + "\n")
	for _, part := range []string{r.about, r.status, r.summary} {
		if part != "" {
			b.WriteString(indent(part, "  ") + "\n")
		}
	}
	for _, d := range r.details {
		b.WriteString("  " + d + "\n")
	}
	for _, s := range r.steps {
		b.WriteString("    " + s + "\n")
	}
	if r.output != "" {
		b.WriteString("  Output (the end of the command's standard output):\n")
		for _, l := range strings.Split(r.output, "\n") {
			b.WriteString("    | " + terminalLine(l) + "\n")
		}
	}
	for _, part := range []string{r.undo, r.next} {
		if part != "" {
			b.WriteString("  " + part + "\n")
		}
	}
	if rec.Status == picket.OutcomePending && rec.Request.ID != "" {
		b.WriteString("  Buttons: [Approve] [Reject]\n")
	}
	if r.context != "" {
		b.WriteString("  " + r.context + "\n")
	}
	return b.String()
}

// escalationLines gives what an escalation notice says, drawn by a style:
// who escalated what, the result's summary, and where the alert is.
func escalationLines(ref picket.MessageRef, f *picket.Finding, rec picket.ActionRecord, st style) (headline, summary, link string) {
	if f == nil {
		f = &picket.Finding{}
	}
	title := f.Title
	if title == "" {
		title = f.Type
	}
	if title == "" {
		title = "Untitled finding"
	}
	account, region := f.Account, f.Region
	if account == "" {
		account = rec.Request.Account
	}
	if region == "" {
		region = rec.Request.Region
	}
	headline = st.icon(iconAlarm) + " " + st.actor(rec.Request.Actor) + " escalated: " + st.bold(f.Severity.String()) +
		" " + st.text(shorten(title, 300)) + " in " + st.code(shorten(account, 64))
	if region != "" {
		headline += "/" + st.code(shorten(region, 64))
	}
	if rec.Result != nil {
		summary = st.prose(rec.Result.Summary)
	}
	if !ref.Zero() {
		link = "Alert and thread in " + channelLink(ref.Channel, st)
		if _, ok := st.(slackStyle); !ok {
			link += " (message " + st.text(ref.TS) + ")"
		}
	}
	return headline, summary, link
}

// channelLink draws a channel as a <#C123> link in Slack when it is an id,
// and as escaped text otherwise.
func channelLink(channel string, st style) string {
	if _, ok := st.(slackStyle); ok && slackChannelID.MatchString(channel) {
		return "<#" + channel + ">"
	}
	return st.text(shorten(channel, 80))
}

// RenderEscalation draws the notice posted to the escalation channel when
// someone escalates a finding: who escalated what (severity, title,
// account and region), the result's summary (which holds the Detective
// link) and, when ref is not zero, the channel of the alert. It is pure and
// escapes every string from the finding and the result.
func RenderEscalation(ref picket.MessageRef, f *picket.Finding, rec picket.ActionRecord) Message {
	headline, summary, link := escalationLines(ref, f, rec, slackStyle{})
	// The headline is the message's text, shown above the blocks.
	text := summary
	if text == "" {
		text = headline
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(clip(text, MaxSectionText)), nil, nil)}
	var ctx []string
	if link != "" {
		ctx = append(ctx, link)
	}
	if rec.Request.ID != "" {
		ctx = append(ctx, "Request "+code(shorten(rec.Request.ID, 128)))
	}
	if len(ctx) > 0 {
		blocks = append(blocks, newContextBlock("", mrkdwn(clip(strings.Join(ctx, "  ·  "), MaxSectionText))))
	}
	sev := picket.SeverityInformational
	if f != nil {
		sev = f.Severity
	}
	return Message{
		Text:   clip(headline, maxFallbackText),
		Color:  color(view{severity: sev}),
		Blocks: blocks,
	}
}
