package notifiers

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	picket "github.com/picketsec/picket"
)

// slackUserID is what a Slack user id looks like. Only such ids are drawn
// as <@ID> mentions; anything else is shown as escaped text.
var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// slackChannelID is what a Slack channel id looks like, for <#ID> links.
var slackChannelID = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)

// style draws the pieces of an action line for one medium. The Slack style
// escapes text and writes mentions and markup; the plain style (terminal)
// removes control characters and writes no markup.
type style interface {
	// text shows raw text (from a finding, a request or a result).
	text(s string) string
	// prose shows raw sentences Picket wrote about a result (a summary, a
	// next step): text, with AWS console URLs made links.
	prose(s string) string
	// code shows raw text as an id or an operation name.
	code(s string) string
	// bold emphasises text Picket itself wrote.
	bold(s string) string
	// actor names a person.
	actor(a picket.Actor) string
	// icon draws one of the icon* names.
	icon(name string) string
}

// Icons of action lines, by Slack emoji name.
const (
	iconDone     = ":white_check_mark:"
	iconPartial  = ":warning:"
	iconFailed   = ":x:"
	iconDryRun   = ":test_tube:"
	iconPending  = ":hourglass_flowing_sand:"
	iconRunning  = ":arrows_counterclockwise:"
	iconRejected = ":no_entry_sign:"
	iconRefused  = ":no_entry:"
	iconUndone   = ":leftwards_arrow_with_hook:"
	iconSkipped  = ":fast_forward:"
	iconUnknown  = ":grey_question:"
	iconAlarm    = ":rotating_light:"
)

type slackStyle struct{}

func (slackStyle) text(s string) string    { return Escape(s) }
func (slackStyle) code(s string) string    { return code(s) }
func (slackStyle) prose(s string) string   { return linkConsoleURLs(s) }
func (slackStyle) bold(s string) string    { return "*" + s + "*" }
func (slackStyle) icon(name string) string { return name }
func (slackStyle) actor(a picket.Actor) string {
	switch {
	case slackUserID.MatchString(a.ID):
		return "<@" + a.ID + ">"
	case a.Name != "":
		return Escape(shorten(a.Name, 80))
	case a.ID != "":
		return Escape(shorten(a.ID, 80))
	}
	return "someone"
}

type plainStyle struct{}

var plainIcons = map[string]string{
	iconDone: "✅", iconPartial: "⚠️", iconFailed: "❌", iconDryRun: "🧪", iconPending: "⏳",
	iconRunning: "🔄", iconRejected: "🚫", iconRefused: "⛔", iconUndone: "↩️", iconSkipped: "⏩",
	iconUnknown: "❔", iconAlarm: "🚨",
}

func (plainStyle) text(s string) string    { return terminalLine(s) }
func (plainStyle) code(s string) string    { return terminalLine(s) }
func (plainStyle) prose(s string) string   { return terminalLine(s) }
func (plainStyle) bold(s string) string    { return s }
func (plainStyle) icon(name string) string { return plainIcons[name] }
func (plainStyle) actor(a picket.Actor) string {
	switch {
	case a.Name != "":
		return terminalLine(shorten(a.Name, 80))
	case a.ID != "":
		return terminalLine(shorten(a.ID, 80))
	}
	return "someone"
}

// formatMinute is how action lines give a time: "2026-11-22 09:03 UTC".
func formatMinute(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// activeOf reports whether recs hold an active record of kind.
func activeOf(recs []picket.ActionRecord, kind picket.ActionKind) bool {
	for i := range recs {
		if recs[i].Request.Kind == kind && recs[i].Active() {
			return true
		}
	}
	return false
}

// recordByID finds the record of a request id in recs.
func recordByID(recs []picket.ActionRecord, id string) (picket.ActionRecord, bool) {
	if id == "" {
		return picket.ActionRecord{}, false
	}
	for _, r := range recs {
		if r.Request.ID == id {
			return r, true
		}
	}
	return picket.ActionRecord{}, false
}

// undoable reports whether rec is a Disable user, Quarantine instance,
// Revoke role sessions or Suppress that changed something and has not been
// undone. (A suppression whose expiry lifted it is left out by
// undoButtons.)
func undoable(rec picket.ActionRecord) bool {
	switch rec.Request.Kind {
	case picket.ActionDisableUser, picket.ActionQuarantineInstance, picket.ActionRevokeSessions, picket.ActionSuppress:
	default:
		if !rec.Request.Kind.IsFix() {
			return false
		}
	}
	return (rec.Status == picket.OutcomeSucceeded || rec.Status == picket.OutcomePartial) &&
		rec.UndoneBy == "" && rec.Request.ID != ""
}

// undoButton is an Undo button for one earlier action.
type undoButton struct {
	requestID string
	text      string
	confirm   string // raw
}

// maxUndoButtons bounds the Undo buttons on one alert.
const maxUndoButtons = 5

// undoButtons lists the Undo buttons recs call for: one per undoable
// record that no Undo is already awaiting approval for or running.
func undoButtons(recs []picket.ActionRecord) []undoButton {
	var out []undoButton
	for _, rec := range recs {
		if !undoable(rec) || undoUnderWay(recs, rec.Request.ID) || liftedSuppression(recs, rec) {
			continue
		}
		what := rec.Plan.Undo
		if what == "" {
			what = "Restore the state Picket recorded before it " + pastPhrase(rec, recs, plainStyle{}) + "."
		}
		out = append(out, undoButton{
			requestID: rec.Request.ID,
			text:      "Undo " + strings.ToLower(rec.Request.Kind.Label()),
			confirm:   what,
		})
		if len(out) == maxUndoButtons {
			break
		}
	}
	return out
}

// liftedSuppression reports whether rec is a Suppress that leaves nothing
// to undo: a later lift (its expiry) removed it, or it recorded nothing to
// reverse.
func liftedSuppression(recs []picket.ActionRecord, rec picket.ActionRecord) bool {
	if rec.Request.Kind != picket.ActionSuppress {
		return false
	}
	if rec.Result == nil || !strings.Contains(string(rec.Result.Evidence), `"suppression"`) {
		// Recorded before Suppress kept what it changed (a suppression
		// of one finding): there is nothing Undo could reverse.
		return true
	}
	for _, r := range recs {
		if r.Request.Kind == picket.ActionLiftSuppression && r.Request.Target.ID == "sup-"+rec.Request.ID && r.Status == picket.OutcomeSucceeded {
			return true
		}
	}
	return false
}

// undoUnderWay reports whether an Undo of request id is pending or running.
func undoUnderWay(recs []picket.ActionRecord, id string) bool {
	for _, r := range recs {
		if r.Request.Kind == picket.ActionUndo && r.Request.UndoOf == id &&
			(r.Status == picket.OutcomePending || r.Status == picket.StatusRunning) {
			return true
		}
	}
	return false
}

// folded reports whether rec is an Undo shown on the line of the action it
// reversed rather than on a line of its own.
func folded(rec picket.ActionRecord, recs []picket.ActionRecord) bool {
	if rec.Request.Kind != picket.ActionUndo {
		return false
	}
	orig, ok := recordByID(recs, rec.Request.UndoOf)
	return ok && orig.UndoneBy == rec.Request.ID
}

// infPhrase is what rec asks for, after "asked to": "disable IAM user
// alice".
func infPhrase(rec picket.ActionRecord, recs []picket.ActionRecord, st style) string {
	req := rec.Request
	id := st.text(shorten(req.Target.ID, 128))
	switch req.Kind {
	case picket.ActionDisableUser:
		return "disable IAM user " + id
	case picket.ActionQuarantineInstance:
		return "quarantine instance " + id
	case picket.ActionRevokeSessions:
		return "revoke the sessions of IAM role " + id
	case picket.ActionSuppress:
		return "suppress " + suppressObject(req)
	case picket.ActionEscalate:
		return "escalate the finding to Detective"
	case picket.ActionLiftSuppression:
		return "lift the suppression"
	case picket.ActionUndo:
		return "undo " + undoObject(req, recs, st)
	case picket.ActionPatchInstance:
		return "patch instance " + id
	}
	if p := fixPhrase(req.Kind, id, false); p != "" {
		return p
	}
	return strings.ToLower(st.text(req.Kind.Label())) + " on " + id
}

// pastPhrase is what rec did: "disabled IAM user alice".
func pastPhrase(rec picket.ActionRecord, recs []picket.ActionRecord, st style) string {
	req := rec.Request
	id := st.text(shorten(req.Target.ID, 128))
	switch req.Kind {
	case picket.ActionDisableUser:
		return "disabled IAM user " + id
	case picket.ActionQuarantineInstance:
		return "quarantined instance " + id
	case picket.ActionRevokeSessions:
		return "revoked the sessions of IAM role " + id
	case picket.ActionSuppress:
		return "suppressed " + suppressObject(req)
	case picket.ActionEscalate:
		return "escalated the finding to Detective"
	case picket.ActionLiftSuppression:
		return "lifted the suppression"
	case picket.ActionUndo:
		return "undid " + undoObject(req, recs, st)
	case picket.ActionPatchInstance:
		return "patched instance " + id
	}
	if p := fixPhrase(req.Kind, id, true); p != "" {
		return p
	}
	return "ran " + strings.ToLower(st.text(req.Kind.Label())) + " on " + id
}

// fixPhrase is what a fix asks for (past false) or did (past true) on the
// resource id, already styled: "turn on Block Public Access for S3 bucket
// logs"; "" for an action that is not a fix.
func fixPhrase(k picket.ActionKind, id string, past bool) string {
	pick := func(inf, done string) string {
		if past {
			return done
		}
		return inf
	}
	switch k {
	case picket.ActionFixBucketPublicAccess:
		return pick("turn on", "turned on") + " Block Public Access for S3 bucket " + id
	case picket.ActionFixAccountPublicAccess:
		return pick("turn on", "turned on") + " S3 Block Public Access for account " + id
	case picket.ActionFixSecurityGroup:
		return pick("revoke", "revoked") + " the world-open ingress rules of security group " + id
	case picket.ActionFixEBSEncryption:
		return pick("turn on", "turned on") + " EBS encryption by default in account " + id
	}
	return ""
}

func suppressObject(req picket.ActionRequest) string {
	s := "the finding"
	if req.Similar {
		s += " and similar ones"
	}
	if !req.Until.IsZero() {
		s += " until " + formatMinute(req.Until)
	}
	return s
}

// undoObject names the action an Undo reverses: "disable user alice".
func undoObject(req picket.ActionRequest, recs []picket.ActionRecord, st style) string {
	if orig, ok := recordByID(recs, req.UndoOf); ok {
		if orig.Request.Kind == picket.ActionSuppress {
			return "the suppression of " + suppressObject(orig.Request)
		}
		return strings.ToLower(orig.Request.Kind.Label()) + " " + st.text(shorten(orig.Request.Target.ID, 128))
	}
	if req.Target.ID != "" {
		return "an earlier action on " + st.text(shorten(req.Target.ID, 128))
	}
	return "an earlier action"
}

// recordTime is when rec last changed state: its result's end, else its
// last update, else its request.
func recordTime(rec picket.ActionRecord) time.Time {
	switch {
	case rec.Result != nil && !rec.Result.Finished.IsZero():
		return rec.Result.Finished
	case !rec.Updated.IsZero():
		return rec.Updated
	}
	return rec.Request.At
}

func at(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " at " + formatMinute(t)
}

// failedSteps counts the failed steps of rec's result and all its steps.
func failedSteps(rec picket.ActionRecord) (failed, total int) {
	if rec.Result == nil {
		return 0, 0
	}
	for _, s := range rec.Result.Steps {
		if s.Status == picket.StepFailed {
			failed++
		}
	}
	return failed, len(rec.Result.Steps)
}

// historyLine is one line about one action record on an alert: icon, who,
// what, when and how it ended.
func historyLine(rec picket.ActionRecord, recs []picket.ActionRecord, st style) string {
	who := st.actor(rec.Request.Actor)
	asked := who + " asked to " + infPhrase(rec, recs, st) + at(rec.Request.At)
	var b strings.Builder
	switch rec.Status {
	case picket.OutcomeSucceeded:
		b.WriteString(st.icon(iconDone) + " " + who + " " + pastPhrase(rec, recs, st) + at(recordTime(rec)))
	case picket.OutcomePartial:
		b.WriteString(st.icon(iconPartial) + " " + who + " partly " + pastPhrase(rec, recs, st) + at(recordTime(rec)))
		if failed, total := failedSteps(rec); total > 0 {
			b.WriteString(" (" + strconv.Itoa(failed) + " of " + strconv.Itoa(total) + " steps failed)")
		}
	case picket.OutcomeFailed:
		b.WriteString(st.icon(iconFailed) + " " + who + " tried to " + infPhrase(rec, recs, st) + at(recordTime(rec)) +
			": failed, nothing was changed")
	case picket.OutcomeDryRunned:
		b.WriteString(st.icon(iconDryRun) + " dry run by " + who + at(recordTime(rec)) + ": would " +
			infPhrase(rec, recs, st) + "; nothing was changed")
	case picket.OutcomePending:
		b.WriteString(st.icon(iconPending) + " " + asked + ": awaiting approval")
		if !rec.ApproveBy.IsZero() {
			b.WriteString(" until " + formatMinute(rec.ApproveBy))
		}
	case picket.StatusRunning:
		b.WriteString(st.icon(iconRunning) + " " + who + " started to " + infPhrase(rec, recs, st) + at(recordTime(rec)) + ": running")
	case picket.OutcomeRejected:
		if rec.Approver != nil {
			b.WriteString(st.icon(iconRejected) + " " + asked + ": rejected by " + st.actor(*rec.Approver))
		} else {
			b.WriteString(st.icon(iconRejected) + " " + asked + ": expired unapproved")
		}
	case picket.OutcomeRefused:
		b.WriteString(st.icon(iconRefused) + " " + asked + ": refused")
		if rec.Plan.Refusal != "" {
			b.WriteString(" (" + st.text(shorten(rec.Plan.Refusal, 200)) + ")")
		}
	case picket.OutcomeDenied:
		b.WriteString(st.icon(iconRefused) + " " + asked + ": not allowed")
	default:
		b.WriteString(st.icon(iconUnknown) + " " + asked + ": " + st.text(string(rec.Status)))
	}
	if rec.Approver != nil && rec.Status != picket.OutcomeRejected && rec.Status != picket.OutcomePending {
		b.WriteString(", approved by " + st.actor(*rec.Approver))
	}
	if rec.UndoneBy != "" {
		b.WriteString(" — " + st.icon(iconUndone) + " ")
		undo, ok := recordByID(recs, rec.UndoneBy)
		switch {
		case !ok:
			b.WriteString("undone")
		case undo.Status == picket.OutcomePartial:
			b.WriteString("partly undone by " + st.actor(undo.Request.Actor) + at(recordTime(undo)))
		default:
			b.WriteString("undone by " + st.actor(undo.Request.Actor) + at(recordTime(undo)))
		}
	}
	return b.String()
}

// historyLines gives the lines of the records to show, oldest first: an
// Undo folded into the line of the action it reversed has none.
func historyLines(recs []picket.ActionRecord, st style) []string {
	var out []string
	for _, rec := range recs {
		if folded(rec, recs) {
			continue
		}
		out = append(out, historyLine(rec, recs, st))
	}
	return out
}

// linkConsoleURLs escapes s like Escape, except that an http(s) URL of the
// AWS console (console.aws.amazon.com or a subdomain) becomes a Slack link,
// labelled "Detective profile" for Detective and "AWS console" otherwise.
// Any other URL stays inert text, so a result cannot carry a finding's
// links into Slack.
func linkConsoleURLs(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "https://")
		if i < 0 {
			b.WriteString(Escape(s))
			return b.String()
		}
		end := i + strings.IndexFunc(s[i:]+" ", unicode.IsSpace)
		raw := strings.TrimRight(s[i:end], ".,;:!?)'\"")
		end = i + len(raw)
		b.WriteString(Escape(s[:i]))
		if link := consoleLink(raw); link != "" {
			b.WriteString(link)
		} else {
			b.WriteString(Escape(raw))
		}
		s = s[end:]
	}
}

// consoleLink is <url|label> for an AWS console URL, or "".
func consoleLink(raw string) string {
	safe := safeURL(raw)
	if safe == "" {
		return ""
	}
	u, err := url.Parse(safe)
	if err != nil {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if host != "console.aws.amazon.com" && !strings.HasSuffix(host, ".console.aws.amazon.com") {
		return ""
	}
	label := "AWS console"
	if strings.HasPrefix(u.Path, "/detective/") {
		label = "Detective profile"
	}
	return "<" + escapeURL(safe) + "|" + label + ">"
}
