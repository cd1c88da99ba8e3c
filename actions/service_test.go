package actions_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
	"github.com/picketsec/picket/metrics"
	"github.com/picketsec/picket/store"
)

// fakeResponder plans one step and executes with a configurable outcome;
// gate, when set, holds Execute until closed.
type fakeResponder struct {
	executes atomic.Int32
	gate     chan struct{}
	started  chan struct{}
	outcome  picket.ActionOutcome
	evidence json.RawMessage
	lastPlan picket.ActionRequest
	mu       sync.Mutex
}

func (r *fakeResponder) Plan(_ context.Context, req picket.ActionRequest, f *picket.Finding) (picket.Plan, error) {
	r.mu.Lock()
	r.lastPlan = req
	r.mu.Unlock()
	return picket.Plan{Request: req, Steps: []picket.PlanStep{{Operation: "iam:UpdateAccessKey", Description: "Deactivate key"}}, Undo: "Re-activate the key"}, nil
}

func (r *fakeResponder) Execute(_ context.Context, plan picket.Plan, _ *picket.Finding) picket.ActionResult {
	r.executes.Add(1)
	if r.started != nil {
		r.started <- struct{}{}
	}
	if r.gate != nil {
		<-r.gate
	}
	out := r.outcome
	if out == "" {
		out = picket.OutcomeSucceeded
	}
	status := picket.StepDone
	if plan.Request.DryRun {
		out, status = picket.OutcomeDryRunned, picket.StepDryRun
	}
	return picket.ActionResult{Request: plan.Request, Outcome: out, Evidence: r.evidence, Summary: "did it",
		Steps: []picket.StepResult{{Operation: "iam:UpdateAccessKey", Status: status, RequestID: "req-1"}}}
}

type fakeUndoer struct{ executes atomic.Int32 }

func (u *fakeUndoer) PlanUndo(_ context.Context, orig picket.ActionRecord, req picket.ActionRequest) (picket.Plan, error) {
	return picket.Plan{Request: req, Steps: []picket.PlanStep{{Operation: "iam:UpdateAccessKey", Description: "Re-activate key"}}}, nil
}

func (u *fakeUndoer) ExecuteUndo(_ context.Context, plan picket.Plan, _ picket.ActionRecord) picket.ActionResult {
	u.executes.Add(1)
	return picket.ActionResult{Request: plan.Request, Outcome: picket.OutcomeSucceeded, Summary: "undone"}
}

type fakeLifter struct{ lifted atomic.Int32 }

func (l *fakeLifter) Lift(context.Context, picket.Suppression) []picket.StepResult {
	l.lifted.Add(1)
	return []picket.StepResult{{Operation: "guardduty:DeleteFilter", Status: picket.StepDone}}
}

// recorder is the announcer and the alert sender.
type recorder struct {
	mu        sync.Mutex
	announced []picket.ActionRecord
	refs      []picket.MessageRef // where each announcement went
	updates   []picket.Alert
	escalated []string
}

func (r *recorder) AnnounceAction(_ context.Context, ref picket.MessageRef, rec picket.ActionRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.announced = append(r.announced, rec)
	r.refs = append(r.refs, ref)
	return nil
}

func (r *recorder) PostEscalation(_ context.Context, ch string, _ picket.MessageRef, _ *picket.Finding, _ picket.ActionRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.escalated = append(r.escalated, ch)
	return nil
}

func (r *recorder) PostAlert(context.Context, picket.Alert) (picket.MessageRef, error) {
	return picket.MessageRef{}, nil
}

func (r *recorder) UpdateAlert(_ context.Context, _ picket.MessageRef, a picket.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updates = append(r.updates, a)
	return nil
}

var (
	alice = picket.Actor{ID: "U0ALICE", Name: "alice"}
	bob   = picket.Actor{ID: "U0BOB", Name: "bob", Groups: []string{"S0SEC"}}
	eve   = picket.Actor{ID: "U0EVE", Name: "eve"}
)

type harness struct {
	svc       *actions.Service
	db        *store.DB
	responder *fakeResponder
	undoer    *fakeUndoer
	lifter    *fakeLifter
	rec       *recorder
	now       *time.Time
	durations *metrics.HistogramVec
}

func newHarness(t *testing.T, policy actions.Policy) *harness {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "picket.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := picket.Finding{Key: "fkey", ID: "gd-1", Source: picket.SourceGuardDuty, Title: "Tor caller", Account: "123456789012", Region: "us-east-1",
		Type:      "UnauthorizedAccess:IAMUser/TorIPCaller",
		Resources: []picket.Resource{{Kind: picket.ResourceIAMUser, ID: "mallory"}, {Kind: picket.ResourceEC2Instance, ID: "i-0abc"}}}
	if err := db.PutFinding(picket.FindingRecord{Finding: f, Ref: picket.MessageRef{Channel: "C1", TS: "1.1"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	h := &harness{db: db, responder: &fakeResponder{}, undoer: &fakeUndoer{}, lifter: &fakeLifter{}, rec: &recorder{}, now: &now,
		durations: metrics.NewHistogramVec([]string{"kind", "outcome"}, 1)}
	if policy.Roles == nil {
		policy.Roles = []actions.Role{
			{Name: "responders", Users: []string{alice.ID}, Groups: []string{"S0SEC"}, Actions: []string{"*"}},
		}
	}
	var mu sync.Mutex
	h.svc, err = actions.NewService(actions.ServiceOptions{
		Policy: policy,
		Responders: map[picket.ActionKind]picket.Responder{
			picket.ActionDisableUser: h.responder, picket.ActionSuppress: h.responder, picket.ActionEscalate: h.responder,
		},
		Undoers:  map[picket.ActionKind]actions.Undoer{picket.ActionDisableUser: h.undoer},
		Lifter:   h.lifter,
		Findings: db, Actions: db, Suppressions: db, Audit: db,
		Announcer: h.rec, Alerts: h.rec,
		Now:       func() time.Time { mu.Lock(); defer mu.Unlock(); return *h.now },
		Durations: h.durations,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) auditEvents(t *testing.T) []string {
	t.Helper()
	entries, err := h.db.RecentAudit(100)
	if err != nil {
		t.Fatal(err)
	}
	var ev []string
	for _, e := range entries {
		ev = append(ev, e.Event+":"+e.Actor.ID)
	}
	if _, err := h.db.VerifyAudit(); err != nil {
		t.Errorf("audit chain broken: %v", err)
	}
	return ev
}

func TestServiceDeniesUnauthorized(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	_, err := h.svc.Prepare(context.Background(), eve, picket.ActionDisableUser, "fkey", "", "")
	if picket.ErrorCode(err) != picket.EUNAUTHORIZED {
		t.Fatalf("Prepare by eve: err %v, want %s", err, picket.EUNAUTHORIZED)
	}
	if h.responder.executes.Load() != 0 {
		t.Fatal("responder ran for an unauthorized actor")
	}
	if got := h.auditEvents(t); len(got) != 1 || got[0] != "denied:U0EVE" {
		t.Fatalf("audit = %v, want [denied:U0EVE]", got)
	}
}

func TestServiceRunsOnceAndAnnounces(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	ctx := context.Background()
	plan, err := h.svc.Prepare(ctx, alice, picket.ActionDisableUser, "fkey", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if plan.Request.Target.ID != "mallory" || plan.Request.Account != "123456789012" {
		t.Fatalf("target %+v account %s, want the IAM user mallory in 123456789012", plan.Request.Target, plan.Request.Account)
	}
	if _, err := h.svc.Run(ctx, plan.Request.ID, bob, picket.RunInput{}); picket.ErrorCode(err) != picket.EUNAUTHORIZED {
		t.Fatalf("Run by someone else: err %v, want unauthorized", err)
	}
	// Bob's attempt did not use up Alice's request.
	res, err := h.svc.Run(ctx, plan.Request.ID, alice, picket.RunInput{})
	if err != nil || res.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("Run: outcome %q err %v, want succeeded", res.Outcome, err)
	}
	if _, err := h.svc.Run(ctx, plan.Request.ID, alice, picket.RunInput{}); picket.ErrorCode(err) != picket.ENOTFOUND {
		t.Fatalf("second submit of the same request: err %v, want not_found", err)
	}
	// A new click on the same action after success is told it is done.
	again, _ := h.svc.Prepare(ctx, bob, picket.ActionDisableUser, "fkey", "", "")
	_, err = h.svc.Run(ctx, again.Request.ID, bob, picket.RunInput{})
	if picket.ErrorCode(err) != picket.ECONFLICT {
		t.Fatalf("second click after success: err %v, want conflict", err)
	}
	t.Logf("conflict message: %s", picket.ErrorMessage(err))
	if h.responder.executes.Load() != 1 {
		t.Fatalf("executes = %d, want 1", h.responder.executes.Load())
	}
	if len(h.rec.announced) != 1 || len(h.rec.updates) != 1 || len(h.rec.updates[0].Actions) != 1 {
		t.Fatalf("announced %d, updates %d; want one thread reply and one alert update showing the action", len(h.rec.announced), len(h.rec.updates))
	}
	want := []string{"requested:U0ALICE", "executed:U0ALICE", "duplicate:U0BOB"}
	if got := h.auditEvents(t); !equalStrings(got, want) {
		t.Fatalf("audit = %v, want %v", got, want)
	}
}

func TestServiceConcurrentClicksExecuteOnce(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	h.responder.gate = make(chan struct{})
	ctx := context.Background()
	const clicks = 16
	ids := make([]string, clicks)
	for i := range ids {
		actor := alice
		if i%2 == 1 {
			actor = bob
		}
		p, err := h.svc.Prepare(ctx, actor, picket.ActionDisableUser, "fkey", "", "")
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = p.Request.ID
	}
	var wg sync.WaitGroup
	var ok, conflicts atomic.Int32
	for i, id := range ids {
		actor := alice
		if i%2 == 1 {
			actor = bob
		}
		wg.Go(func() {
			_, err := h.svc.Run(ctx, id, actor, picket.RunInput{})
			switch picket.ErrorCode(err) {
			case "":
				ok.Add(1)
			case picket.ECONFLICT:
				conflicts.Add(1)
			default:
				t.Errorf("Run: %v", err)
			}
		})
	}
	// Let the losers finish first, then release the winner.
	deadline := time.Now().Add(10 * time.Second)
	for conflicts.Load() < clicks-1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(h.responder.gate)
	wg.Wait()
	if h.responder.executes.Load() != 1 || ok.Load() != 1 || conflicts.Load() != clicks-1 {
		t.Fatalf("executes %d, ok %d, conflicts %d; want 1, 1, %d", h.responder.executes.Load(), ok.Load(), conflicts.Load(), clicks-1)
	}
}

func TestServiceTwoPersonRule(t *testing.T) {
	h := newHarness(t, actions.Policy{Approvals: []picket.ActionKind{picket.ActionDisableUser}, ApprovalTimeout: 10 * time.Minute})
	ctx := context.Background()
	plan, _ := h.svc.Prepare(ctx, alice, picket.ActionDisableUser, "fkey", "", "")
	if plan.Approvals != 1 {
		t.Fatalf("plan approvals = %d, want 1", plan.Approvals)
	}
	res, err := h.svc.Run(ctx, plan.Request.ID, alice, picket.RunInput{})
	if err != nil || res.Outcome != picket.OutcomePending {
		t.Fatalf("Run: %q %v, want pending", res.Outcome, err)
	}
	if h.responder.executes.Load() != 0 {
		t.Fatal("executed before approval")
	}
	if _, err := h.svc.Approve(ctx, plan.Request.ID, alice); picket.ErrorCode(err) != picket.EUNAUTHORIZED {
		t.Fatalf("self-approval: err %v, want unauthorized", err)
	}
	if _, err := h.svc.Approve(ctx, plan.Request.ID, eve); picket.ErrorCode(err) != picket.EUNAUTHORIZED {
		t.Fatalf("approval by someone without a role: err %v, want unauthorized", err)
	}
	res, err = h.svc.Approve(ctx, plan.Request.ID, bob) // bob is in the role through his group
	if err != nil || res.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("Approve by bob: %q %v, want succeeded", res.Outcome, err)
	}
	if _, err := h.svc.Approve(ctx, plan.Request.ID, bob); picket.ErrorCode(err) != picket.ECONFLICT {
		t.Fatalf("second approval: err %v, want conflict", err)
	}
	want := []string{"requested:U0ALICE", "denied:U0ALICE", "denied:U0EVE", "approved:U0BOB", "executed:U0ALICE"}
	if got := h.auditEvents(t); !equalStrings(got, want) {
		t.Fatalf("audit = %v, want %v", got, want)
	}
}

func TestServiceApprovalExpires(t *testing.T) {
	h := newHarness(t, actions.Policy{Approvals: []picket.ActionKind{picket.ActionDisableUser}, ApprovalTimeout: 10 * time.Minute})
	ctx := context.Background()
	plan, _ := h.svc.Prepare(ctx, alice, picket.ActionDisableUser, "fkey", "", "")
	h.svc.Run(ctx, plan.Request.ID, alice, picket.RunInput{})
	*h.now = h.now.Add(11 * time.Minute)
	if expired, _ := h.svc.Sweep(ctx); expired != 1 {
		t.Fatalf("Sweep expired %d, want 1", expired)
	}
	rec, _, _ := h.db.Action(plan.Request.ID)
	if rec.Status != picket.OutcomeRejected {
		t.Fatalf("status = %q, want rejected", rec.Status)
	}
	if _, err := h.svc.Approve(ctx, plan.Request.ID, bob); picket.ErrorCode(err) != picket.ECONFLICT {
		t.Fatalf("approve after expiry: err %v, want conflict", err)
	}
	// The claim is released: a new request can run.
	p2, _ := h.svc.Prepare(ctx, alice, picket.ActionDisableUser, "fkey", "", "")
	if res, err := h.svc.Run(ctx, p2.Request.ID, alice, picket.RunInput{}); err != nil || res.Outcome != picket.OutcomePending {
		t.Fatalf("new request after expiry: %q %v, want pending", res.Outcome, err)
	}
}

func TestServiceGuardrails(t *testing.T) {
	t.Run("dry run policy reaches the responder", func(t *testing.T) {
		h := newHarness(t, actions.Policy{DryRunActions: []picket.ActionKind{picket.ActionDisableUser}})
		p, _ := h.svc.Prepare(context.Background(), alice, picket.ActionDisableUser, "fkey", "", "")
		res, err := h.svc.Run(context.Background(), p.Request.ID, alice, picket.RunInput{})
		if err != nil || res.Outcome != picket.OutcomeDryRunned || !h.responder.lastPlan.DryRun {
			t.Fatalf("outcome %q err %v dry-run seen %v; want dry_run", res.Outcome, err, h.responder.lastPlan.DryRun)
		}
		// A dry run does not hold the claim.
		p2, _ := h.svc.Prepare(context.Background(), alice, picket.ActionDisableUser, "fkey", "", "")
		if _, err := h.svc.Run(context.Background(), p2.Request.ID, alice, picket.RunInput{}); err != nil {
			t.Fatalf("run after a dry run: %v", err)
		}
	})
	t.Run("account not on the allow-list is refused", func(t *testing.T) {
		h := newHarness(t, actions.Policy{AllowedAccounts: []string{"999999999999"}})
		p, err := h.svc.Prepare(context.Background(), alice, picket.ActionDisableUser, "fkey", "", "")
		if err != nil || p.Refusal == "" {
			t.Fatalf("plan refusal %q err %v; want a refusal", p.Refusal, err)
		}
		res, err := h.svc.Run(context.Background(), p.Request.ID, alice, picket.RunInput{})
		if err != nil || res.Outcome != picket.OutcomeRefused || h.responder.executes.Load() != 0 {
			t.Fatalf("run: %q %v executes %d; want refused, nothing run", res.Outcome, err, h.responder.executes.Load())
		}
		if got := h.auditEvents(t); !equalStrings(got, []string{"refused:U0ALICE"}) {
			t.Fatalf("audit = %v", got)
		}
	})
	t.Run("role limited to other accounts", func(t *testing.T) {
		h := newHarness(t, actions.Policy{Roles: []actions.Role{{Name: "x", Users: []string{alice.ID}, Actions: []string{"*"}, Accounts: []string{"999999999999"}}}})
		if _, err := h.svc.Prepare(context.Background(), alice, picket.ActionDisableUser, "fkey", "", ""); picket.ErrorCode(err) != picket.EUNAUTHORIZED {
			t.Fatalf("err %v, want unauthorized", err)
		}
	})
}

func TestServiceUndo(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	ctx := context.Background()
	p, _ := h.svc.Prepare(ctx, alice, picket.ActionDisableUser, "fkey", "", "")
	h.svc.Run(ctx, p.Request.ID, alice, picket.RunInput{})
	u, err := h.svc.Prepare(ctx, bob, picket.ActionUndo, "", "", p.Request.ID)
	if err != nil || u.Refusal != "" {
		t.Fatalf("Prepare undo: refusal %q err %v", u.Refusal, err)
	}
	res, err := h.svc.Run(ctx, u.Request.ID, bob, picket.RunInput{})
	if err != nil || res.Outcome != picket.OutcomeSucceeded || h.undoer.executes.Load() != 1 {
		t.Fatalf("undo: %q %v executes %d", res.Outcome, err, h.undoer.executes.Load())
	}
	orig, _, _ := h.db.Action(p.Request.ID)
	if orig.UndoneBy != u.Request.ID {
		t.Fatalf("original UndoneBy = %q, want %q", orig.UndoneBy, u.Request.ID)
	}
	u2, _ := h.svc.Prepare(ctx, bob, picket.ActionUndo, "", "", p.Request.ID)
	if u2.Refusal == "" {
		t.Fatal("a second undo was not refused")
	}
	// After undo the action can be taken again.
	p3, _ := h.svc.Prepare(ctx, alice, picket.ActionDisableUser, "fkey", "", "")
	if _, err := h.svc.Run(ctx, p3.Request.ID, alice, picket.RunInput{}); err != nil {
		t.Fatalf("disable again after undo: %v", err)
	}
}

func TestServiceSuppressionSavedAndLifted(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	ctx := context.Background()
	until := h.now.Add(24 * time.Hour)
	ev, _ := json.Marshal(map[string]any{"suppression": picket.Suppression{
		ID: "sup-1", FindingKey: "fkey", Type: "UnauthorizedAccess:IAMUser/TorIPCaller", Until: until, Actor: alice,
		Remote: []picket.RemoteRule{{Kind: "guardduty_filter", ID: "picket-1", Account: "123456789012", Region: "us-east-1"}},
	}})
	h.responder.evidence = ev
	p, _ := h.svc.Prepare(ctx, alice, picket.ActionSuppress, "fkey", "", "")
	res, err := h.svc.Run(ctx, p.Request.ID, alice, picket.RunInput{Reason: "pen test", Until: until, Similar: true})
	if err != nil || res.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("suppress: %q %v", res.Outcome, err)
	}
	if got := h.responder.lastPlan; got.Reason != "pen test" || !got.Similar || !got.Until.Equal(until) {
		t.Fatalf("responder planned with %+v, want the dialog's reason, expiry and similar", got)
	}
	sups, _ := h.db.Suppressions()
	if len(sups) != 1 || sups[0].ID != "sup-1" {
		t.Fatalf("suppressions = %+v, want sup-1 saved", sups)
	}
	if _, lifted := h.svc.Sweep(ctx); lifted != 0 {
		t.Fatal("lifted before expiry")
	}
	*h.now = until.Add(time.Minute)
	if _, lifted := h.svc.Sweep(ctx); lifted != 1 || h.lifter.lifted.Load() != 1 {
		t.Fatalf("lifted %d (lifter %d), want 1", lifted, h.lifter.lifted.Load())
	}
	sups, _ = h.db.Suppressions()
	if sups[0].Lifted.IsZero() {
		t.Fatal("suppression not marked lifted")
	}
	if _, lifted := h.svc.Sweep(ctx); lifted != 0 {
		t.Fatal("lifted twice")
	}
	last := h.rec.announced[len(h.rec.announced)-1]
	if last.Request.Kind != picket.ActionLiftSuppression {
		t.Fatalf("last thread reply is %s, want the lift", last.Request.Kind)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestServiceRecoversInterruptedActions(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	ctx := context.Background()
	stuck := picket.ActionRecord{Request: picket.ActionRequest{ID: "act-stuck", Kind: picket.ActionDisableUser, FindingKey: "fkey",
		Target: picket.Resource{Kind: picket.ResourceIAMUser, ID: "mallory"}, Actor: alice}, Status: picket.StatusRunning}
	if _, ok, err := h.db.ClaimAction(stuck); err != nil || !ok {
		t.Fatalf("seed claim: ok %v err %v", ok, err)
	}
	if n := h.svc.Recover(ctx); n != 1 {
		t.Fatalf("Recover closed %d, want 1", n)
	}
	rec, _, _ := h.db.Action("act-stuck")
	if rec.Status != picket.OutcomeFailed || rec.Result == nil || rec.Result.NextStep == "" {
		t.Fatalf("record after recovery = %+v, want failed with a next step", rec)
	}
	// The claim is free again: the action can be run.
	p, _ := h.svc.Prepare(ctx, alice, picket.ActionDisableUser, "fkey", "", "")
	if _, err := h.svc.Run(ctx, p.Request.ID, alice, picket.RunInput{}); err != nil {
		t.Fatalf("run after recovery: %v", err)
	}
	if got := h.auditEvents(t); len(got) == 0 || got[0] != "interrupted:picket" {
		t.Errorf("audit = %v, want the interruption recorded first", got)
	}
}

// TestServiceOnGroupedFindingRepliesInGroupThread: an action on a finding
// shown in a group message is announced in that message's thread and never
// redraws the group message as the finding's own alert.
func TestServiceOnGroupedFindingRepliesInGroupThread(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	ctx := context.Background()
	rec, _, _ := h.db.Finding("fkey")
	rec.Group, rec.Ref = "g3", picket.MessageRef{Channel: "C1", TS: "9.9"}
	if err := h.db.PutFinding(rec); err != nil {
		t.Fatal(err)
	}
	plan, err := h.svc.Prepare(ctx, alice, picket.ActionDisableUser, "fkey", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if res, err := h.svc.Run(ctx, plan.Request.ID, alice, picket.RunInput{}); err != nil || res.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("Run: %v %v", res.Outcome, err)
	}
	if len(h.rec.announced) != 1 || h.rec.refs[0].TS != "9.9" {
		t.Errorf("announcements %d at %+v, want one in the group's thread 9.9", len(h.rec.announced), h.rec.refs)
	}
	if len(h.rec.updates) != 0 {
		t.Errorf("alert updates = %d, want none: the group message is not the finding's own alert", len(h.rec.updates))
	}
}

// TestServicePrepareAccountTarget: a Suppress asked for with
// picket.TargetAccount (a group message's Suppress similar) targets the
// finding's account, so its similar rule covers the type in the account
// rather than the finding's first resource; an action on one resource
// refuses that target.
func TestServicePrepareAccountTarget(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	ctx := context.Background()
	plan, err := h.svc.Prepare(ctx, alice, picket.ActionSuppress, "fkey", picket.TargetAccount, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Request.Target; got.Kind != picket.ResourceAccount || got.ID != "123456789012" {
		t.Errorf("target: got %+v, want account 123456789012", got)
	}
	if _, err := h.svc.Prepare(ctx, alice, picket.ActionDisableUser, "fkey", picket.TargetAccount, ""); picket.ErrorCode(err) != picket.EINVALID {
		t.Errorf("Disable user on the account: got %v, want %s", err, picket.EINVALID)
	}
}
