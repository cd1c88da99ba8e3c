package actions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/metrics"
)

// Role grants actions to Slack users and user groups, optionally only in
// some accounts.
type Role struct {
	Name   string
	Users  []string // Slack user ids
	Groups []string // Slack user-group ids
	// Actions lists what the role may run; "*" means every action.
	Actions []string
	// Accounts limits the role to these accounts; empty means all.
	Accounts []string
}

// Policy is who may do what, and the guardrails around it.
type Policy struct {
	Roles []Role
	// DryRun makes every action a dry run; DryRunActions only those.
	DryRun        bool
	DryRunActions []picket.ActionKind
	// Approvals lists the actions that need a second person (two-person
	// rule); ApprovalTimeout is how long a request waits (default 30m).
	Approvals       []picket.ActionKind
	ApprovalTimeout time.Duration
	// AllowedAccounts, when not empty, are the only accounts Picket acts
	// in.
	AllowedAccounts []string
	// EscalationChannel receives a notice of every escalation.
	EscalationChannel string
}

// allows reports whether actor may run kind in account, and the role that
// grants it.
func (p *Policy) allows(actor picket.Actor, kind picket.ActionKind, account string) (string, bool) {
	for _, r := range p.Roles {
		member := slices.Contains(r.Users, actor.ID) ||
			slices.ContainsFunc(r.Groups, func(g string) bool { return slices.Contains(actor.Groups, g) })
		if !member {
			continue
		}
		if !slices.Contains(r.Actions, "*") && !slices.Contains(r.Actions, string(kind)) {
			continue
		}
		if len(r.Accounts) > 0 && !slices.Contains(r.Accounts, account) {
			continue
		}
		return r.Name, true
	}
	return "", false
}

// Undoer reverses an action from the state it recorded.
type Undoer interface {
	PlanUndo(ctx context.Context, original picket.ActionRecord, req picket.ActionRequest) (picket.Plan, error)
	ExecuteUndo(ctx context.Context, plan picket.Plan, original picket.ActionRecord) picket.ActionResult
}

// Follower is a responder whose execution starts work in AWS that ends
// later (Patch instance: a Run Command invocation). Its ExecuteWith
// returns a result with Outcome picket.StatusRunning once the work is
// started and its handle saved in the evidence; the Service then calls
// Follow in the background, and again after a restart (Recover), until it
// returns any other outcome. Follow returns a StatusRunning result when
// ctx ends first.
type Follower interface {
	Follow(ctx context.Context, rec picket.ActionRecord) picket.ActionResult
	// Started reports whether evidence shows the work started, so that
	// it can be followed (rather than only that it may have started).
	Started(evidence json.RawMessage) bool
}

// Lifter removes what a suppression created in AWS.
type Lifter interface {
	Lift(ctx context.Context, s picket.Suppression) []picket.StepResult
}

// FindingSource gives the stored state of findings.
type FindingSource interface {
	Finding(key string) (picket.FindingRecord, bool, error)
}

// ServiceOptions wires a Service. Responders, Findings, Actions and Audit
// are required.
type ServiceOptions struct {
	Policy       Policy
	Responders   map[picket.ActionKind]picket.Responder
	Undoers      map[picket.ActionKind]Undoer
	Lifter       Lifter
	Findings     FindingSource
	Actions      picket.ActionStore
	Suppressions picket.SuppressionStore
	Audit        picket.Auditor
	Announcer    picket.Announcer   // optional: thread replies and escalation notices
	Alerts       picket.AlertSender // optional: alerts updated with the outcome
	Enricher     picket.Enricher    // optional: keeps context on updated alerts
	Now          func() time.Time
	Logger       *slog.Logger
	// NewID returns a fresh request id; default random.
	NewID func() string
	// Durations observes the seconds each executed action took, labelled
	// kind (isolate, undo...) and outcome (succeeded, partial, failed).
	// Nil observes nothing.
	Durations *metrics.HistogramVec
	// Plans keeps the plans of open confirmation dialogs, so that any
	// replica can run the plan another prepared (nil: kept in this
	// process, for one replica).
	Plans picket.PlanStore
	// Runner names this replica on the records of the actions it runs;
	// RunnerGone reports whether the replica that ran a record is gone
	// (its liveness lease expired), so that Recover, run periodically by
	// one replica, closes only actions whose runner died. With RunnerGone
	// nil, every running record is taken to be interrupted (one process,
	// Recover at start-up).
	Runner     string
	RunnerGone func(runner string) bool
	// Context bounds the work the Service goes on with after a request
	// returns (following a patch command, see Follower); when it ends,
	// that work stops and resumes at the next start. Default
	// context.Background().
	Context context.Context
}

// Service implements picket.ResponseService: authorization, guardrails,
// plans, the two-person rule, exactly-once execution, the audit trail and
// the Slack announcements.
type Service struct {
	o ServiceOptions

	mu       sync.Mutex
	prepared map[string]prepared // request id -> plan awaiting confirmation
	locks    map[string]*sync.Mutex

	followers sync.WaitGroup
	following map[string]bool // request ids being followed
}

type prepared struct {
	plan    picket.Plan
	expires time.Time
}

// preparedTTL is how long a plan shown in a dialog can still be run.
const preparedTTL = 30 * time.Minute

// NewService checks the options and returns a Service.
func NewService(o ServiceOptions) (*Service, error) {
	var missing []string
	if len(o.Responders) == 0 {
		missing = append(missing, "responders")
	}
	if o.Findings == nil {
		missing = append(missing, "finding store")
	}
	if o.Actions == nil {
		missing = append(missing, "action store")
	}
	if o.Audit == nil {
		missing = append(missing, "audit trail")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("actions service: missing %s", strings.Join(missing, ", "))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.NewID == nil {
		o.NewID = randomID
	}
	if o.Policy.ApprovalTimeout <= 0 {
		o.Policy.ApprovalTimeout = 30 * time.Minute
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	return &Service{o: o, prepared: map[string]prepared{}, locks: map[string]*sync.Mutex{}, following: map[string]bool{}}, nil
}

func randomID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the platform is broken
	}
	return "act-" + hex.EncodeToString(b[:])
}

// audit appends an entry; a failure is logged and returned, and callers
// stop: an action that cannot be recorded must not run.
func (s *Service) audit(e picket.AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = s.o.Now().UTC()
	}
	if _, err := s.o.Audit.Audit(e); err != nil {
		s.o.Logger.Error("audit trail write failed", "event", e.Event, "request_id", e.RequestID, "err", err)
		return &picket.Error{Code: picket.EUNAVAILABLE, Message: "Picket could not write its audit trail, so it did nothing. Try again; if it persists, check the bot's data volume.", Err: err}
	}
	return nil
}

func entryFor(event string, actor picket.Actor, req picket.ActionRequest) picket.AuditEntry {
	return picket.AuditEntry{
		Event: event, Actor: actor, Action: req.Kind, RequestID: req.ID,
		Target: targetName(req.Target), Account: req.Account, Region: req.Region, FindingKey: req.FindingKey,
	}
}

func targetName(r picket.Resource) string {
	if r.ARN != "" {
		return r.ARN
	}
	return string(r.Kind) + ":" + r.ID
}

// verb is how a summary names an action: "disabling".
func verb(k picket.ActionKind) string {
	switch k {
	case picket.ActionDisableUser:
		return "disabling"
	case picket.ActionQuarantineInstance:
		return "quarantining"
	case picket.ActionRevokeSessions:
		return "revoking the sessions of"
	case picket.ActionSuppress:
		return "suppressing"
	case picket.ActionEscalate:
		return "escalating"
	case picket.ActionUndo:
		return "undoing"
	case picket.ActionPatchInstance:
		return "patching"
	}
	if k.IsFix() {
		return "fixing"
	}
	return "acting on"
}

// RecordRejected audits an inbound request refused before any action.
func (s *Service) RecordRejected(actor picket.Actor, detail string) {
	s.audit(picket.AuditEntry{Event: "rejected_request", Actor: actor, Outcome: "rejected", Detail: detail})
}

// pickTarget chooses the resource an action applies to.
func pickTarget(kind picket.ActionKind, f *picket.Finding, targetID string) (picket.Resource, bool) {
	if kind.IsFix() {
		// A fix applies only to the resource of a failed control it
		// handles (picket.Fixes), never to whatever the finding names.
		x, ok := picket.FixFor(f, kind, targetID)
		return x.Target, ok
	}
	fits := func(r picket.Resource) bool {
		switch kind {
		case picket.ActionDisableUser:
			// Only IAM users: an access key names its user only when an IAM
			// user owns it (see picket.Resource.UserName). Root fits so that
			// the plan refuses it and points to Escalate.
			return r.Kind == picket.ResourceIAMUser || r.Kind == picket.ResourceRoot ||
				(r.Kind == picket.ResourceAccessKey && r.UserName != "")
		case picket.ActionQuarantineInstance:
			return r.Kind == picket.ResourceEC2Instance
		case picket.ActionRevokeSessions:
			return r.Kind == picket.ResourceRoleSession
		case picket.ActionPatchInstance:
			t, ok := f.PatchTarget()
			return ok && r.Kind == picket.ResourceEC2Instance && r.ID == t.ID
		}
		return true
	}
	for _, r := range f.Resources {
		if fits(r) && (targetID == "" || r.ID == targetID) {
			if kind == picket.ActionDisableUser && r.Kind == picket.ResourceAccessKey {
				// The user is the target; the key comes along.
				return picket.Resource{Kind: picket.ResourceIAMUser, ID: r.UserName, Region: r.Region}, true
			}
			return r, true
		}
	}
	if kind == picket.ActionSuppress || kind == picket.ActionEscalate {
		return picket.Resource{Kind: picket.ResourceAccount, ID: f.Account}, true
	}
	return picket.Resource{}, false
}

// Prepare implements picket.ResponseService.
func (s *Service) Prepare(ctx context.Context, actor picket.Actor, kind picket.ActionKind, findingKey, targetID, undoOf string) (picket.Plan, error) {
	var original picket.ActionRecord
	if kind == picket.ActionUndo {
		rec, ok, err := s.o.Actions.Action(undoOf)
		if err != nil {
			return picket.Plan{}, fmt.Errorf("load action %s: %w", undoOf, err)
		}
		if !ok {
			return picket.Plan{}, picket.Errorf(picket.ENOTFOUND, "Picket has no record of that action, so it cannot undo it.")
		}
		original, findingKey = rec, rec.Request.FindingKey
	}
	frec, ok, err := s.o.Findings.Finding(findingKey)
	if err != nil {
		return picket.Plan{}, fmt.Errorf("load finding %s: %w", findingKey, err)
	}
	if !ok {
		return picket.Plan{}, picket.Errorf(picket.ENOTFOUND, "Picket does not know this finding any more; it may have been pruned.")
	}
	f := &frec.Finding
	req := picket.ActionRequest{
		ID: s.o.NewID(), Kind: kind, FindingKey: findingKey, Account: f.Account, Region: f.Region,
		Actor: actor, UndoOf: undoOf, At: s.o.Now().UTC(),
		DryRun: s.o.Policy.DryRun || slices.Contains(s.o.Policy.DryRunActions, kind),
	}
	if kind == picket.ActionUndo {
		req.Target = original.Request.Target
	} else {
		t, ok := pickTarget(kind, f, targetID)
		if !ok {
			return picket.Plan{}, picket.Errorf(picket.EINVALID, "This finding names no resource that %s applies to.", kind.Label())
		}
		req.Target = t
	}

	role, ok := s.o.Policy.allows(actor, kind, f.Account)
	if !ok {
		e := entryFor("denied", actor, req)
		e.Outcome, e.Detail = string(picket.OutcomeDenied), "no role grants "+string(kind)+" in account "+f.Account
		if err := s.audit(e); err != nil {
			return picket.Plan{}, err
		}
		return picket.Plan{}, picket.Errorf(picket.EUNAUTHORIZED,
			"You are not allowed to run %s in account %s. Ask an administrator to add you to a Picket role that grants it.", kind.Label(), f.Account)
	}
	s.o.Logger.Debug("action authorized", "actor", actor.ID, "action", kind, "role", role)

	var plan picket.Plan
	switch {
	case kind != picket.ActionUndo:
		plan, err = s.guardedPlan(ctx, req, f)
	case len(s.o.Policy.AllowedAccounts) > 0 && !slices.Contains(s.o.Policy.AllowedAccounts, f.Account):
		plan = picket.Plan{Request: req, Refusal: fmt.Sprintf("Picket is not allowed to act in account %s (it is not on the allow-list).", f.Account)}
	default:
		u := s.o.Undoers[original.Request.Kind]
		if u == nil {
			plan = picket.Plan{Request: req, Refusal: original.Request.Kind.Label() + " cannot be undone."}
			break
		}
		if r := s.reversed(original); r != "" {
			plan = picket.Plan{Request: req, Refusal: r}
			break
		}
		var refusal string
		if refusal, err = s.laterContainment(original); err != nil {
			return picket.Plan{}, err
		}
		if refusal != "" {
			plan = picket.Plan{Request: req, Refusal: refusal}
			break
		}
		plan, err = u.PlanUndo(ctx, original, req)
	}
	if err != nil {
		return picket.Plan{}, err
	}
	plan.Request = req
	if slices.Contains(s.o.Policy.Approvals, kind) {
		plan.Approvals = 1
	}
	if plan.Refusal != "" {
		e := entryFor("refused", actor, req)
		e.Outcome, e.Detail = string(picket.OutcomeRefused), plan.Refusal
		if err := s.audit(e); err != nil {
			return picket.Plan{}, err
		}
	}
	s.mu.Lock()
	now := s.o.Now()
	if s.o.Plans != nil {
		s.mu.Unlock()
		if err := s.o.Plans.PutPlan(plan, now.Add(preparedTTL)); err != nil {
			return picket.Plan{}, err
		}
		return plan, nil
	}
	for id, p := range s.prepared {
		if now.After(p.expires) {
			delete(s.prepared, id)
		}
	}
	s.prepared[req.ID] = prepared{plan: plan, expires: now.Add(preparedTTL)}
	s.mu.Unlock()
	return plan, nil
}

// takePlan returns the prepared plan of requestID for actor and forgets
// it, so that it runs once: ENOTFOUND when there is none (expired, or
// submitted already), EUNAUTHORIZED (keeping it) when actor is not who
// clicked.
func (s *Service) takePlan(requestID string, actor picket.Actor) (picket.Plan, error) {
	gone := picket.Errorf(picket.ENOTFOUND, "This request has expired or was already submitted; click the button on the alert again.")
	notYours := picket.Errorf(picket.EUNAUTHORIZED, "Only the person who clicked can confirm this request.")
	if s.o.Plans != nil {
		plan, expires, ok, err := s.o.Plans.PreparedPlan(requestID)
		if err != nil {
			return picket.Plan{}, err
		}
		if !ok || s.o.Now().After(expires) {
			return picket.Plan{}, gone
		}
		if plan.Request.Actor.ID != actor.ID {
			return picket.Plan{}, notYours
		}
		deleted, err := s.o.Plans.DeletePlan(requestID)
		if err != nil {
			return picket.Plan{}, err
		}
		if !deleted {
			return picket.Plan{}, gone // another submit took it first
		}
		return plan, nil
	}
	s.mu.Lock()
	p, ok := s.prepared[requestID]
	mine := ok && p.plan.Request.Actor.ID == actor.ID
	if mine {
		delete(s.prepared, requestID) // a plan runs once; a second submit finds nothing
	}
	s.mu.Unlock()
	if !ok || s.o.Now().After(p.expires) {
		return picket.Plan{}, gone
	}
	if !mine {
		return picket.Plan{}, notYours
	}
	return p.plan, nil
}

// guardedPlan plans an action other than Undo for req on f behind the
// guardrails every request passes, clicked or automatic: the account
// allow-list, a resource the finding names inconsistently, and the
// responder's own checks (protected resources, root).
func (s *Service) guardedPlan(ctx context.Context, req picket.ActionRequest, f *picket.Finding) (picket.Plan, error) {
	switch {
	case len(s.o.Policy.AllowedAccounts) > 0 && !slices.Contains(s.o.Policy.AllowedAccounts, f.Account):
		return picket.Plan{Request: req, Refusal: fmt.Sprintf("Picket is not allowed to act in account %s (it is not on the allow-list).", f.Account)}, nil
	case req.Kind.Contains() && req.Target.Mismatch != "":
		return picket.Plan{Request: req, Alternative: picket.ActionEscalate,
			Refusal: "The finding names this resource inconsistently (" + req.Target.Mismatch + "), so Picket will not act on it. Check the finding in the console."}, nil
	}
	r := s.o.Responders[req.Kind]
	if r == nil {
		return picket.Plan{}, picket.Errorf(picket.EINVALID, "Picket does not offer %s here.", req.Kind.Label())
	}
	return r.Plan(ctx, req, f)
}

// Run implements picket.ResponseService.
func (s *Service) Run(ctx context.Context, requestID string, actor picket.Actor, in picket.RunInput) (picket.ActionResult, error) {
	plan, err := s.takePlan(requestID, actor)
	if err != nil {
		return picket.ActionResult{}, err
	}
	req := plan.Request
	frec, ok, err := s.o.Findings.Finding(req.FindingKey)
	if err != nil || !ok {
		return picket.ActionResult{}, picket.Errorf(picket.ENOTFOUND, "Picket does not know this finding any more.")
	}
	f := &frec.Finding

	req.Reason, req.Until, req.Similar, req.NoReboot = in.Reason, in.Until, in.Similar, in.NoReboot
	req.DryRun = req.DryRun || in.DryRun
	if req.Kind == picket.ActionSuppress && plan.Refusal == "" {
		// The plan depends on the reason, expiry and "similar" given in the
		// dialog: plan again with them.
		np, err := s.o.Responders[req.Kind].Plan(ctx, req, f)
		if err != nil {
			return picket.ActionResult{}, err
		}
		np.Request, np.Approvals = req, plan.Approvals
		plan = np
	}
	plan.Request = req
	now := s.o.Now().UTC()
	if plan.Refusal != "" {
		return picket.ActionResult{Request: req, Outcome: picket.OutcomeRefused, Summary: plan.Refusal, Started: now, Finished: now}, nil
	}

	rec := picket.ActionRecord{Request: req, Plan: plan, Status: picket.StatusRunning, Updated: now, Runner: s.o.Runner}
	if plan.Approvals > 0 && !req.DryRun {
		rec.Status, rec.ApproveBy = picket.OutcomePending, now.Add(s.o.Policy.ApprovalTimeout)
	}
	holder, ok, err := s.o.Actions.ClaimAction(rec)
	if err != nil {
		return picket.ActionResult{}, fmt.Errorf("claim %s: %w", req.ClaimKey(), err)
	}
	if !ok {
		e := entryFor("duplicate", actor, req)
		e.Outcome, e.Detail = "conflict", "held by request "+holder.Request.ID+" ("+string(holder.Status)+")"
		s.audit(e)
		return picket.ActionResult{}, conflictError(holder)
	}
	e := entryFor("requested", actor, req)
	e.Plan, e.Detail = plan.Steps, req.Reason
	if req.DryRun {
		e.Detail = strings.TrimSpace("dry run. " + req.Reason)
	}
	if err := s.audit(e); err != nil {
		rec.Status = picket.OutcomeFailed
		s.o.Actions.PutAction(rec)
		return picket.ActionResult{}, err
	}
	if rec.Status == picket.OutcomePending {
		s.announce(ctx, frec, rec)
		return picket.ActionResult{Request: req, Outcome: picket.OutcomePending, Started: now, Finished: now,
			Summary: fmt.Sprintf("Waiting for a second person to approve %s %s (until %s).", strings.ToLower(req.Kind.Label()), req.Target.ID, rec.ApproveBy.Format("15:04 MST"))}, nil
	}
	return s.execute(ctx, frec, rec), nil
}

// ActionLister lists every action record; store.DB implements it. Undo
// uses it to find other containments of the same resource.
type ActionLister interface {
	AllActions() ([]picket.ActionRecord, error)
}

// laterContainment refuses to undo original while a containment of the
// same resource that started after it is still in force: original's
// evidence predates it, so restoring that evidence would silently lift the
// later containment too. Undoing the later one first is safe, as its
// evidence already shows original's changes. (Claims per resource keep
// two containments of one resource from being in force at once; records
// from before they did can.)
func (s *Service) laterContainment(original picket.ActionRecord) (string, error) {
	al, ok := s.o.Actions.(ActionLister)
	key := original.Request.ResourceKey()
	if !ok || key == "" {
		return "", nil
	}
	all, err := al.AllActions()
	if err != nil {
		return "", &picket.Error{Code: picket.EUNAVAILABLE, Err: fmt.Errorf("list actions: %w", err),
			Message: "Picket could not check for other responses on this resource, so it did not plan the undo. Try again."}
	}
	for _, r := range all {
		if r.Request.ID == original.Request.ID || !r.Active() || r.Request.ResourceKey() != key ||
			r.Request.At.Before(original.Request.At) {
			continue
		}
		return fmt.Sprintf("%s (request %s by %s, %s) is still in force on %s, and started after this one; undoing this one would lift it too. Undo that one first.",
			r.Request.Kind.Label(), r.Request.ID, nameOf(r.Request.Actor), r.Status, targetName(r.Request.Target)), nil
	}
	return "", nil
}

// conflictError says who holds the claim.
func conflictError(holder picket.ActionRecord) error {
	who := holder.Request.Actor.Name
	if who == "" {
		who = holder.Request.Actor.ID
	}
	what := verb(holder.Request.Kind) + " " + holder.Request.Target.ID
	switch holder.Status {
	case picket.OutcomePending:
		return picket.Errorf(picket.ECONFLICT, "%s already asked for %s; it is waiting for approval.", who, what)
	case picket.StatusRunning:
		return picket.Errorf(picket.ECONFLICT, "%s is already %s (started %s).", who, what, holder.Request.At.Format("15:04:05 MST"))
	}
	return picket.Errorf(picket.ECONFLICT, "%s already finished %s at %s (%s). Use Undo on the alert to reverse it.",
		who, what, holder.Updated.Format("15:04 MST"), holder.Status)
}

// lock serialises work on one request id (approve versus reject, two
// approvers).
func (s *Service) lock(id string) func() {
	s.mu.Lock()
	l := s.locks[id]
	if l == nil {
		l = &sync.Mutex{}
		s.locks[id] = l
	}
	s.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// execute runs a claimed record to its outcome and tells everyone.
func (s *Service) execute(ctx context.Context, frec picket.FindingRecord, rec picket.ActionRecord) picket.ActionResult {
	req := rec.Request
	start := s.o.Now()
	var res picket.ActionResult
	if req.Kind == picket.ActionUndo {
		orig, ok, err := s.o.Actions.Action(req.UndoOf)
		if err != nil || !ok {
			now := s.o.Now().UTC()
			res = picket.ActionResult{Request: req, Outcome: picket.OutcomeFailed, Started: now, Finished: now,
				Summary: "The action to undo could not be loaded; nothing was changed."}
		} else if refusal := s.undoneSince(orig); refusal != "" {
			// Undone or lifted between the plan and now (the plan lives
			// for preparedTTL, an approval longer): restoring the recorded
			// state again would overwrite what happened since.
			now := s.o.Now().UTC()
			res = picket.ActionResult{Request: req, Outcome: picket.OutcomeRefused, Started: now, Finished: now, Summary: refusal}
		} else {
			res = s.o.Undoers[orig.Request.Kind].ExecuteUndo(ctx, rec.Plan, orig)
			if res.Outcome == picket.OutcomeSucceeded || res.Outcome == picket.OutcomePartial {
				orig.UndoneBy, orig.Updated = req.ID, s.o.Now().UTC()
				if err := s.o.Actions.PutAction(orig); err != nil {
					s.o.Logger.Error("mark action undone", "request_id", orig.Request.ID, "err", err)
				}
			}
			if orig.Request.Kind == picket.ActionSuppress && res.Outcome == picket.OutcomeSucceeded {
				// Everything in AWS is reversed: lift Picket's own rule.
				// After a partial undo it stays, and its expiry retries.
				s.liftLocal(orig.Request.ID, res.Finished)
			}
		}
	} else if cr, ok := s.o.Responders[req.Kind].(CheckpointResponder); ok {
		save := func(evidence json.RawMessage) error {
			rec.Evidence, rec.Updated = evidence, s.o.Now().UTC()
			if err := s.o.Actions.PutAction(rec); err != nil {
				s.o.Logger.Error("save evidence before acting", "request_id", req.ID, "err", err)
				return err
			}
			return nil
		}
		res = cr.ExecuteWith(ctx, rec.Plan, &frec.Finding, save)
	} else {
		res = s.o.Responders[req.Kind].Execute(ctx, rec.Plan, &frec.Finding)
	}
	res.Request = req
	if fo, ok := s.o.Responders[req.Kind].(Follower); ok && res.Outcome == picket.StatusRunning {
		// Started in AWS: say so, and follow it to its end in the
		// background (a restart resumes from the saved evidence).
		rec.Result, rec.Status, rec.Evidence, rec.Updated = &res, picket.StatusRunning, res.Evidence, s.o.Now().UTC()
		if err := s.o.Actions.PutAction(rec); err != nil {
			s.o.Logger.Error("save started action", "request_id", req.ID, "err", err)
		}
		e := entryFor("started", req.Actor, req)
		if rec.Approver != nil {
			e.Detail = "approved by " + rec.Approver.ID + ". "
		}
		e.Plan, e.Calls, e.Outcome, e.Detail = rec.Plan.Steps, res.Steps, string(picket.StatusRunning), e.Detail+res.Summary
		s.audit(e)
		s.announce(ctx, frec, rec)
		s.startFollow(fo, frec, rec, start)
		return res
	}
	return s.finish(ctx, frec, rec, res, start)
}

// reversed says why orig can no longer be undone: it was undone, or (a
// suppression) lifted at its expiry or by an Undo. "" when it still can.
func (s *Service) reversed(orig picket.ActionRecord) string {
	lifted := func() string {
		if orig.Request.Kind != picket.ActionSuppress {
			return ""
		}
		if sup, ok := s.suppressionFor(orig.Request.ID); ok && !sup.Lifted.IsZero() {
			return fmt.Sprintf("This suppression was already lifted at %s (it expired, or was undone).", sup.Lifted.UTC().Format("2006-01-02 15:04 UTC"))
		}
		return ""
	}
	if orig.UndoneBy != "" {
		// Reversed by an Undo, or by the lift at its expiry.
		if by, ok, err := s.o.Actions.Action(orig.UndoneBy); err == nil && ok && by.Request.Kind == picket.ActionLiftSuppression {
			if r := lifted(); r != "" {
				return r
			}
		}
		return "This action was already undone."
	}
	return lifted()
}

// undoneSince says why orig can no longer be undone although an Undo of it
// was planned: it was undone, or (a suppression) lifted, since. "" when it
// still can.
func (s *Service) undoneSince(orig picket.ActionRecord) string {
	if r := s.reversed(orig); r != "" {
		return r + " Nothing was changed."
	}
	return ""
}

// startFollow follows a started action in the background, unless it is
// already being followed.
func (s *Service) startFollow(fo Follower, frec picket.FindingRecord, rec picket.ActionRecord, start time.Time) {
	s.mu.Lock()
	if s.following[rec.Request.ID] {
		s.mu.Unlock()
		return
	}
	s.following[rec.Request.ID] = true
	s.mu.Unlock()
	s.followers.Go(func() {
		defer func() {
			s.mu.Lock()
			delete(s.following, rec.Request.ID)
			s.mu.Unlock()
		}()
		ctx := s.o.Context
		res := fo.Follow(ctx, rec)
		if res.Outcome == picket.StatusRunning {
			// Stopped by shutdown: the record stays running, with its
			// evidence, for Recover to resume.
			s.o.Logger.Info("stopped following an action; it resumes at the next start", "request_id", rec.Request.ID)
			return
		}
		res.Request = rec.Request
		// The alert may have been posted since the work started (an
		// automatic rule starts it before the alert exists): reply where
		// the finding is shown now.
		if cur, ok, err := s.o.Findings.Finding(rec.Request.FindingKey); err == nil && ok {
			frec = cur
		}
		s.finish(context.WithoutCancel(ctx), frec, rec, res, start)
	})
}

// Wait waits for the background work the Service started (following
// commands) to stop; end ServiceOptions.Context first.
func (s *Service) Wait() { s.followers.Wait() }

// finish records an action's final result, audits it and tells everyone.
func (s *Service) finish(ctx context.Context, frec picket.FindingRecord, rec picket.ActionRecord, res picket.ActionResult, start time.Time) picket.ActionResult {
	req := rec.Request
	s.o.Durations.Observe(s.o.Now().Sub(start).Seconds(), string(req.Kind), string(res.Outcome))
	rec.Result, rec.Status, rec.Updated = &res, res.Outcome, s.o.Now().UTC()
	if err := s.o.Actions.PutAction(rec); err != nil {
		s.o.Logger.Error("save action result", "request_id", req.ID, "err", err)
	}
	if req.Kind == picket.ActionSuppress && res.Outcome != picket.OutcomeFailed && !req.DryRun {
		s.saveSuppression(res)
	}
	e := entryFor("executed", req.Actor, req)
	if rec.Approver != nil {
		e.Detail = "approved by " + rec.Approver.ID
	}
	e.Plan, e.Calls, e.Outcome = rec.Plan.Steps, res.Steps, string(res.Outcome)
	if e.Detail == "" {
		e.Detail = res.Summary
	}
	s.audit(e)
	s.announce(ctx, frec, rec)
	if req.Kind == picket.ActionEscalate && res.Outcome != picket.OutcomeFailed && s.o.Announcer != nil && s.o.Policy.EscalationChannel != "" {
		if err := s.o.Announcer.PostEscalation(ctx, s.o.Policy.EscalationChannel, frec.Ref, &frec.Finding, rec); err != nil {
			s.o.Logger.Warn("post escalation notice", "channel", s.o.Policy.EscalationChannel, "err", err)
		}
	}
	return res
}

// suppressionFor finds the local suppression a Suppress request created.
func (s *Service) suppressionFor(requestID string) (picket.Suppression, bool) {
	if s.o.Suppressions == nil {
		return picket.Suppression{}, false
	}
	sups, err := s.o.Suppressions.Suppressions()
	if err != nil {
		s.o.Logger.Warn("list suppressions", "err", err)
		return picket.Suppression{}, false
	}
	for _, sup := range sups {
		if sup.RequestID == requestID || sup.ID == "sup-"+requestID {
			return sup, true
		}
	}
	return picket.Suppression{}, false
}

// liftLocal marks the local suppression of a Suppress request lifted.
func (s *Service) liftLocal(requestID string, at time.Time) {
	sup, ok := s.suppressionFor(requestID)
	if !ok || !sup.Lifted.IsZero() {
		return
	}
	if at.IsZero() {
		at = s.o.Now().UTC()
	}
	sup.Lifted = at
	if err := s.o.Suppressions.PutSuppression(sup); err != nil {
		s.o.Logger.Error("lift suppression after undo", "id", sup.ID, "err", err)
	}
}

// saveSuppression stores the local record a Suppress created.
func (s *Service) saveSuppression(res picket.ActionResult) {
	if s.o.Suppressions == nil || len(res.Evidence) == 0 {
		return
	}
	var ev struct {
		Suppression *picket.Suppression `json:"suppression"`
	}
	if err := json.Unmarshal(res.Evidence, &ev); err != nil || ev.Suppression == nil || ev.Suppression.ID == "" {
		return
	}
	if err := s.o.Suppressions.PutSuppression(*ev.Suppression); err != nil {
		s.o.Logger.Error("save suppression rule", "id", ev.Suppression.ID, "err", err)
	}
}

// announce replies in the alert's thread and updates the alert to show
// every action on the finding. Failures are logged: the action itself is
// already recorded.
func (s *Service) announce(ctx context.Context, frec picket.FindingRecord, rec picket.ActionRecord) {
	if frec.Ref.Zero() {
		return
	}
	if s.o.Announcer != nil {
		if err := s.o.Announcer.AnnounceAction(ctx, frec.Ref, rec); err != nil {
			s.o.Logger.Warn("announce action in thread", "request_id", rec.Request.ID, "err", err)
		}
	}
	if s.o.Alerts == nil || frec.Group != "" {
		// A finding shown in a group message has no alert of its own to
		// redraw: the thread reply above is its record in Slack.
		return
	}
	acts, err := s.o.Actions.ActionsForFinding(frec.Finding.Key)
	if err != nil {
		s.o.Logger.Warn("load actions for alert", "finding", frec.Finding.Key, "err", err)
		return
	}
	a := picket.Alert{Finding: &frec.Finding, Channel: frec.Ref.Channel, Mention: frec.Route.Mention, Actions: acts}
	if s.o.Enricher != nil {
		a.Enrichment = s.o.Enricher.Enrich(ctx, &frec.Finding)
	}
	if err := s.o.Alerts.UpdateAlert(ctx, frec.Ref, a); err != nil {
		s.o.Logger.Warn("update alert with action", "finding", frec.Finding.Key, "err", err)
	}
}

// Approve implements picket.ResponseService.
func (s *Service) Approve(ctx context.Context, requestID string, approver picket.Actor) (picket.ActionResult, error) {
	unlock := s.lock(requestID)
	defer unlock()
	rec, frec, err := s.pending(requestID)
	if err != nil {
		return picket.ActionResult{}, err
	}
	req := rec.Request
	if approver.ID == req.Actor.ID {
		e := entryFor("denied", approver, req)
		e.Outcome, e.Detail = string(picket.OutcomeDenied), "requester tried to approve own request"
		s.audit(e)
		return picket.ActionResult{}, picket.Errorf(picket.EUNAUTHORIZED, "You asked for this; a second person must approve it.")
	}
	if _, ok := s.o.Policy.allows(approver, req.Kind, req.Account); !ok {
		e := entryFor("denied", approver, req)
		e.Outcome, e.Detail = string(picket.OutcomeDenied), "approver has no role for "+string(req.Kind)
		s.audit(e)
		return picket.ActionResult{}, picket.Errorf(picket.EUNAUTHORIZED, "You are not allowed to approve %s in account %s.", req.Kind.Label(), req.Account)
	}
	if s.o.Now().After(rec.ApproveBy) {
		return picket.ActionResult{}, s.expire(ctx, frec, rec)
	}
	rec.Approver, rec.Status, rec.Updated, rec.Runner = &approver, picket.StatusRunning, s.o.Now().UTC(), s.o.Runner
	if err := s.o.Actions.PutAction(rec); err != nil {
		return picket.ActionResult{}, fmt.Errorf("save approval: %w", err)
	}
	e := entryFor("approved", approver, req)
	if err := s.audit(e); err != nil {
		return picket.ActionResult{}, err
	}
	return s.execute(ctx, frec, rec), nil
}

// Reject implements picket.ResponseService.
func (s *Service) Reject(ctx context.Context, requestID string, approver picket.Actor, reason string) (picket.ActionResult, error) {
	unlock := s.lock(requestID)
	defer unlock()
	rec, frec, err := s.pending(requestID)
	if err != nil {
		return picket.ActionResult{}, err
	}
	req := rec.Request
	if approver.ID != req.Actor.ID {
		if _, ok := s.o.Policy.allows(approver, req.Kind, req.Account); !ok {
			return picket.ActionResult{}, picket.Errorf(picket.EUNAUTHORIZED, "You are not allowed to decide on %s in account %s.", req.Kind.Label(), req.Account)
		}
	}
	now := s.o.Now().UTC()
	res := picket.ActionResult{Request: req, Outcome: picket.OutcomeRejected, Started: now, Finished: now,
		Summary: fmt.Sprintf("%s rejected the request (%s); nothing was changed.", nameOf(approver), reason)}
	rec.Approver, rec.Status, rec.Result, rec.Updated = &approver, picket.OutcomeRejected, &res, now
	if err := s.o.Actions.PutAction(rec); err != nil {
		return picket.ActionResult{}, fmt.Errorf("save rejection: %w", err)
	}
	e := entryFor("rejected", approver, req)
	e.Outcome, e.Detail = string(picket.OutcomeRejected), reason
	s.audit(e)
	s.announce(ctx, frec, rec)
	return res, nil
}

func nameOf(a picket.Actor) string {
	if a.Name != "" {
		return a.Name
	}
	return a.ID
}

// pending loads a request that awaits approval.
func (s *Service) pending(requestID string) (picket.ActionRecord, picket.FindingRecord, error) {
	rec, ok, err := s.o.Actions.Action(requestID)
	if err != nil {
		return rec, picket.FindingRecord{}, fmt.Errorf("load request %s: %w", requestID, err)
	}
	if !ok {
		return rec, picket.FindingRecord{}, picket.Errorf(picket.ENOTFOUND, "Picket has no record of that request.")
	}
	if rec.Status != picket.OutcomePending {
		by := ""
		if rec.Approver != nil {
			by = " by " + nameOf(*rec.Approver)
		}
		return rec, picket.FindingRecord{}, picket.Errorf(picket.ECONFLICT, "This request was already decided%s (%s).", by, rec.Status)
	}
	frec, _, err := s.o.Findings.Finding(rec.Request.FindingKey)
	if err != nil {
		return rec, frec, fmt.Errorf("load finding: %w", err)
	}
	return rec, frec, nil
}

// expire closes a pending request whose approval window passed.
func (s *Service) expire(ctx context.Context, frec picket.FindingRecord, rec picket.ActionRecord) error {
	now := s.o.Now().UTC()
	res := picket.ActionResult{Request: rec.Request, Outcome: picket.OutcomeRejected, Started: now, Finished: now,
		Summary: "No one approved the request in time; nothing was changed."}
	rec.Status, rec.Result, rec.Updated = picket.OutcomeRejected, &res, now
	if err := s.o.Actions.PutAction(rec); err != nil {
		return fmt.Errorf("expire request: %w", err)
	}
	e := entryFor("expired", picket.Actor{ID: "picket", Name: "Picket"}, rec.Request)
	e.Outcome = string(picket.OutcomeRejected)
	s.audit(e)
	s.announce(ctx, frec, rec)
	return picket.Errorf(picket.ECONFLICT, "This request expired unapproved at %s; nothing was changed.", rec.ApproveBy.Format("15:04 MST"))
}
