package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/slack-go/slack"
)

// buttons maps the action id of a response button to the action it plans.
var buttons = map[string]picket.ActionKind{
	ActionDisableUser:        picket.ActionDisableUser,
	ActionQuarantineInstance: picket.ActionQuarantineInstance,
	ActionSuppress:           picket.ActionSuppress,
	ActionEscalate:           picket.ActionEscalate,
	ActionUndo:               picket.ActionUndo,
	ActionPatchInstance:      picket.ActionPatchInstance,

	"picket.revoke_role_sessions": picket.ActionRevokeSessions, // notifiers.ActionRevokeSessions
	ActionSuppressSimilar:         picket.ActionSuppress,

	// The fix buttons (notifiers.ActionFix...): "picket." + the kind.
	"picket." + string(picket.ActionFixBucketPublicAccess):  picket.ActionFixBucketPublicAccess,
	"picket." + string(picket.ActionFixAccountPublicAccess): picket.ActionFixAccountPublicAccess,
	"picket." + string(picket.ActionFixSecurityGroup):       picket.ActionFixSecurityGroup,
	"picket." + string(picket.ActionFixEBSEncryption):       picket.ActionFixEBSEncryption,
}

// Block and action ids of the plan dialog's inputs.
const (
	blockReason  = "reason"
	blockExpiry  = "expiry"
	blockSimilar = "similar"
	blockDryRun  = "dry_run"
	blockReboot  = "reboot"
)

// Values of the Patch instance dialog's reboot select.
const (
	rebootIfNeeded = "RebootIfNeeded"
	rebootNever    = "NoReboot"
)

// expiries are the choices of the Suppress dialog's expiry select.
var expiries = []struct {
	value string
	label string
	d     time.Duration
}{
	{"1d", "1 day", 24 * time.Hour},
	{"7d", "7 days", 7 * 24 * time.Hour},
	{"30d", "30 days", 30 * 24 * time.Hour},
	{"90d", "90 days", 90 * 24 * time.Hour},
}

// defaultExpiry is the preselected expiry.
const defaultExpiry = "7d"

// metadata is the plan dialog's private_metadata: which request it
// confirms and where the alert is, for replies.
type metadata struct {
	RequestID string            `json:"request_id"`
	Kind      picket.ActionKind `json:"kind"`
	ChannelID string            `json:"channel_id,omitempty"`
	MessageTS string            `json:"message_ts,omitempty"`
	// Similar starts a Suppress dialog with "suppress similar" chosen
	// (the group message's Suppress similar button).
	Similar bool `json:"similar,omitempty"`
}

// serveInteraction answers POST /slack/interactions. Nothing of the body
// is parsed before its signature, timestamp and freshness are verified.
func (b *Bot) serveInteraction(w http.ResponseWriter, r *http.Request) {
	body, err := b.readVerified(w, r)
	if err != nil {
		b.reject(w, err)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		b.refused.add(refusedMalformed, "form body", "")
		http.Error(w, "malformed form body", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		b.refused.add(refusedMalformed, "interaction payload", "")
		http.Error(w, "malformed interaction payload", http.StatusBadRequest)
		return
	}
	ack, work := b.interaction(cb)
	if ack != nil {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(ack); err != nil {
			b.log.Warn("write interaction response", "err", err)
		}
	} else {
		w.WriteHeader(http.StatusOK)
	}
	b.goWork(r.Context(), string(cb.Type), work)
}

// reject answers a request that failed verification. It is counted and
// summed up in the audit trail later (see refusals), never recorded on
// its own and never under a name taken from its body.
func (b *Bot) reject(w http.ResponseWriter, err error) {
	status, reason, detail := http.StatusUnauthorized, err.Error(), ""
	var rej *rejection
	if errors.As(err, &rej) {
		status, reason, detail = rej.status, rej.reason, rej.detail
	}
	b.refused.add(reason, detail, "")
	http.Error(w, http.StatusText(status), status)
}

// foreign returns why a verified request from another Slack workspace or
// app than the configured ones is refused, or "" when it is not.
func (b *Bot) foreign(team, enterprise, app string) (reason, detail string) {
	if b.teamID != "" && team != b.teamID && enterprise != b.teamID {
		return refusedOtherTeam, fmt.Sprintf("team %q, enterprise %q", clip(team, 32), clip(enterprise, 32))
	}
	if b.appID != "" && app != b.appID {
		return refusedOtherApp, fmt.Sprintf("app %q", clip(app, 32))
	}
	return "", ""
}

// interaction decides at once how to acknowledge an interaction (nil: an
// empty acknowledgement) and returns the work to do afterwards.
func (b *Bot) interaction(cb slack.InteractionCallback) (ack any, work func(ctx context.Context)) {
	if reason, detail := b.foreign(cb.Team.ID, cb.Enterprise.ID, cb.APIAppID); reason != "" {
		b.refused.add(reason, detail, "")
		return nil, nil
	}
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		return nil, b.blockAction(cb)
	case slack.InteractionTypeViewSubmission:
		if cb.View.CallbackID != CallbackConfirm {
			b.log.Debug("ignored view submission", "callback_id", clip(cb.View.CallbackID, 64))
			return nil, nil
		}
		return b.confirm(cb)
	default:
		b.log.Debug("ignored interaction", "type", clip(string(cb.Type), 64))
		return nil, nil
	}
}

// blockAction returns the work for a button click.
func (b *Bot) blockAction(cb slack.InteractionCallback) func(ctx context.Context) {
	var act slack.BlockAction
	if len(cb.ActionCallback.BlockActions) > 0 && cb.ActionCallback.BlockActions[0] != nil {
		act = *cb.ActionCallback.BlockActions[0]
	}
	at := clickedAt(cb)
	channel, ts := at.channel, at.ts
	user, name := cb.User.ID, userName(cb.User)
	b.log.Debug("button clicked", "action_id", clip(act.ActionID, 64), "user", user)
	if act.ActionID == ActionRespond {
		// A menu choice stands for one of the finding's buttons; Undo is
		// never offered there.
		id, key, ok := strings.Cut(act.SelectedOption.Value, " ")
		if kind, known := buttons[id]; ok && known && kind != picket.ActionUndo && key != "" {
			act.ActionID, act.Value = id, key
		}
	}

	if kind, ok := buttons[act.ActionID]; ok {
		findingKey, undoOf := act.Value, ""
		if kind == picket.ActionUndo {
			findingKey, undoOf = "", act.Value
		}
		trigger := cb.TriggerID
		return func(ctx context.Context) {
			if !b.checkOnAlert(ctx, at, user, findingKey, undoOf) {
				return
			}
			b.plan(ctx, trigger, kind, findingKey, undoOf, user, name, metadata{Kind: kind, ChannelID: channel, MessageTS: ts,
				Similar: act.ActionID == ActionSuppressSimilar})
		}
	}
	switch act.ActionID {
	case ActionApprove, ActionReject:
		approve := act.ActionID == ActionApprove
		requestID := act.Value
		return func(ctx context.Context) {
			if !b.checkOnAlert(ctx, at, user, "", requestID) {
				return
			}
			actor := b.actor(ctx, user, name)
			var res picket.ActionResult
			var err error
			if approve {
				res, err = b.svc.Approve(ctx, requestID, actor)
			} else {
				res, err = b.svc.Reject(ctx, requestID, actor, "rejected in Slack")
			}
			b.reportResult(ctx, channel, user, requestID, res, err)
		}
	}
	return func(ctx context.Context) {
		b.svc.RecordRejected(picket.Actor{ID: user, Name: name}, fmt.Sprintf("unknown action id %q", clip(act.ActionID, 64)))
		b.ephemeral(ctx, channel, user, "Picket does not know that button.")
	}
}

// location is where a button was clicked: the channel, the message, and
// the thread that message is in ("" when it is not a reply).
type location struct {
	channel, ts, threadTS string
}

// clickedAt returns where the button of a block action was clicked, from
// the payload's container (which Slack fills in for message buttons) or,
// failing that, its channel and message.
func clickedAt(cb slack.InteractionCallback) location {
	l := location{channel: cb.Container.ChannelID, ts: cb.Container.MessageTs, threadTS: cb.Container.ThreadTs}
	if l.channel == "" {
		l.channel = cb.Channel.ID
	}
	if l.ts == "" {
		l.ts = cb.Message.Timestamp
	}
	if l.threadTS == "" {
		l.threadTS = cb.Message.ThreadTimestamp
	}
	return l
}

// checkOnAlert reports whether a button was clicked on its finding's
// alert, the message at the finding record's Ref, or on a message in that
// alert's thread (thread replies, approvals, the replies of a group
// message). The finding is findingKey, or that of request requestID.
// Otherwise the click is refused: counted, summed up in the audit trail,
// and the person is told. Without Options.Records there is nothing to
// check against and every click passes.
func (b *Bot) checkOnAlert(ctx context.Context, at location, user, findingKey, requestID string) bool {
	if b.records == nil {
		return true
	}
	detail := onAlert(b.records, at, findingKey, requestID)
	if detail == "" {
		return true
	}
	b.refused.add(refusedNotOnAlert, detail, user)
	b.ephemeral(ctx, at.channel, user, "Picket did nothing: this button is not on the finding's alert or in its thread. Use the buttons on the alert itself.")
	return false
}

// onAlert returns "" when at is the alert of the finding (findingKey, or
// that of request requestID) or a message in its thread, and otherwise
// why not.
func onAlert(records Records, at location, findingKey, requestID string) string {
	if findingKey == "" {
		rec, ok, err := records.Action(requestID)
		switch {
		case err != nil:
			return "cannot look up the request: " + err.Error()
		case !ok:
			return fmt.Sprintf("unknown request %q", clip(requestID, 64))
		}
		findingKey = rec.Request.FindingKey
	}
	rec, ok, err := records.Finding(findingKey)
	switch {
	case err != nil:
		return "cannot look up the finding: " + err.Error()
	case !ok:
		return fmt.Sprintf("unknown finding %q", clip(findingKey, 128))
	case rec.Ref.Zero():
		return fmt.Sprintf("finding %q has no alert", clip(findingKey, 128))
	}
	ref := rec.Ref
	if at.channel == ref.Channel && (at.ts == ref.TS || at.threadTS == ref.TS) {
		return ""
	}
	return fmt.Sprintf("clicked in %s on message %s (thread %q); the alert of %q is %s in %s",
		clip(at.channel, 32), clip(at.ts, 32), clip(at.threadTS, 32), clip(findingKey, 128), ref.TS, ref.Channel)
}

// plan opens the plan dialog at once (the trigger id expires three seconds
// after the click), asks the service for the plan and shows it.
func (b *Bot) plan(ctx context.Context, trigger string, kind picket.ActionKind, findingKey, undoOf, user, name string, meta metadata) {
	opened, err := b.api.OpenViewContext(ctx, trigger, planningView(kind))
	if err != nil {
		b.log.Warn("open plan dialog", "action", kind, "user", user, "err", err)
		b.ephemeral(ctx, meta.ChannelID, user, "Picket could not open the plan dialog in time; click the button again.")
		return
	}
	actor := b.actor(ctx, user, name)
	target := ""
	if meta.Similar {
		// A group's Suppress similar covers the group's kind (type and
		// account), not the first member's resource.
		target = picket.TargetAccount
	}
	plan, err := b.svc.Prepare(ctx, actor, kind, findingKey, target, undoOf)
	var view slack.ModalViewRequest
	switch {
	case err != nil:
		b.log.Info("prepare refused", "action", kind, "user", user, "code", picket.ErrorCode(err), "err", err)
		view = errorView(kind, err)
	case plan.Refusal != "":
		view = refusalView(plan)
	default:
		meta.RequestID = plan.Request.ID
		view = planView(plan, meta)
	}
	if _, err := b.api.UpdateViewContext(ctx, view, "", opened.Hash, opened.ID); err != nil {
		b.log.Warn("show plan", "action", kind, "user", user, "err", err)
		b.ephemeral(ctx, meta.ChannelID, user, "Picket could not show the plan; click the button again.")
	}
}

// confirm validates a plan dialog submission. Errors keep the dialog open
// with a message under the block; otherwise the dialog closes and the
// request runs in the background.
func (b *Bot) confirm(cb slack.InteractionCallback) (any, func(ctx context.Context)) {
	var meta metadata
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil || meta.RequestID == "" {
		b.log.Warn("plan dialog without request metadata", "user", cb.User.ID)
		return slack.NewErrorsViewSubmissionResponse(map[string]string{blockDryRun: "This dialog is out of date; close it and click the button on the alert again."}), nil
	}
	var values map[string]map[string]slack.BlockAction
	if cb.View.State != nil {
		values = cb.View.State.Values
	}
	in := picket.RunInput{DryRun: checked(values, blockDryRun)}
	if meta.Kind == picket.ActionSuppress {
		in.Reason = strings.TrimSpace(values[blockReason][blockReason].Value)
		if in.Reason == "" {
			return slack.NewErrorsViewSubmissionResponse(map[string]string{blockReason: "Say why: the reason goes into the audit trail and the finding's note."}), nil
		}
		choice := defaultExpiry
		if opt := values[blockExpiry][blockExpiry].SelectedOption.Value; opt != "" {
			choice = opt
		}
		d, ok := expiry(choice)
		if !ok {
			return slack.NewErrorsViewSubmissionResponse(map[string]string{blockExpiry: "Choose one of the offered expiries."}), nil
		}
		in.Until = b.now().Add(d).UTC()
		in.Similar = checked(values, blockSimilar)
	}
	if meta.Kind == picket.ActionPatchInstance {
		switch values[blockReboot][blockReboot].SelectedOption.Value {
		case "", rebootIfNeeded:
		case rebootNever:
			in.NoReboot = true
		default:
			return slack.NewErrorsViewSubmissionResponse(map[string]string{blockReboot: "Choose one of the offered reboot options."}), nil
		}
	}
	user, name := cb.User.ID, userName(cb.User)
	return nil, func(ctx context.Context) {
		actor := b.actor(ctx, user, name)
		res, err := b.svc.Run(ctx, meta.RequestID, actor, in)
		b.reportResult(ctx, meta.ChannelID, user, meta.RequestID, res, err)
	}
}

// reportResult tells the actor, privately, how their request went. The
// service itself replies in the alert's thread and updates the alert.
func (b *Bot) reportResult(ctx context.Context, channel, user, requestID string, res picket.ActionResult, err error) {
	if err != nil {
		b.log.Info("action request not run", "request", requestID, "user", user, "code", picket.ErrorCode(err), "err", err)
		b.ephemeral(ctx, channel, user, picket.ErrorMessage(err))
		return
	}
	b.ephemeral(ctx, channel, user, summary(res))
}

// summary is one line about a result for the person who asked.
func summary(res picket.ActionResult) string {
	if res.Summary != "" {
		return res.Summary
	}
	label := res.Request.Kind.Label()
	switch res.Outcome {
	case picket.OutcomePending:
		return label + " is waiting for a second person to approve it."
	case picket.OutcomeRejected:
		return label + " was rejected; nothing was changed."
	case picket.OutcomeDryRunned:
		return label + " ran as a dry run; nothing was changed."
	}
	return label + ": " + string(res.Outcome) + "."
}

func expiry(value string) (time.Duration, bool) {
	for _, e := range expiries {
		if e.value == value {
			return e.d, true
		}
	}
	return 0, false
}

// checked reports whether the checkbox of block (whose action id is the
// block id) is ticked.
func checked(values map[string]map[string]slack.BlockAction, block string) bool {
	for _, o := range values[block][block].SelectedOptions {
		if o.Value == block {
			return true
		}
	}
	return false
}

func userName(u slack.User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.RealName
}

// serveCommand answers POST /slack/commands: it acknowledges at once and
// answers through the command's response_url in the background. Nothing
// of the body is parsed before it is verified.
func (b *Bot) serveCommand(w http.ResponseWriter, r *http.Request) {
	body, err := b.readVerified(w, r)
	if err != nil {
		b.reject(w, err)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		b.refused.add(refusedMalformed, "form body", "")
		http.Error(w, "malformed form body", http.StatusBadRequest)
		return
	}
	ack, work := b.slashCommand(slack.SlashCommand{
		UserID: form.Get("user_id"), UserName: form.Get("user_name"), ChannelID: form.Get("channel_id"),
		Command: form.Get("command"), Text: form.Get("text"), ResponseURL: form.Get("response_url"),
		TeamID: form.Get("team_id"), EnterpriseID: form.Get("enterprise_id"), APIAppID: form.Get("api_app_id"),
	})
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(ack); err != nil {
		b.log.Warn("write command acknowledgement", "err", err)
	}
	b.goWork(r.Context(), "slash_command", work)
}
