package actions_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
)

// TestUndoSuppressLiftedAfterPlan: the suppression expires and is lifted
// between the Undo's plan and its confirmation. The Undo must not run: it
// would restore the finding a second time, over whatever happened to it
// since (such as a new suppression).
func TestUndoSuppressLiftedAfterPlan(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, actions.Policy{})
	undoer, lifter := &fakeUndoer{}, &fakeLifter{}
	svc, err := actions.NewService(actions.ServiceOptions{
		Policy:     actions.Policy{Roles: []actions.Role{{Name: "responders", Users: []string{alice.ID}, Actions: []string{"*"}}}},
		Responders: map[picket.ActionKind]picket.Responder{picket.ActionSuppress: h.responder},
		Undoers:    map[picket.ActionKind]actions.Undoer{picket.ActionSuppress: undoer},
		Lifter:     lifter,
		Findings:   h.db, Actions: h.db, Suppressions: h.db, Audit: h.db,
		Announcer: h.rec, Alerts: h.rec,
		Now: func() time.Time { return *h.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	now := *h.now
	res := picket.ActionResult{Outcome: picket.OutcomeSucceeded, Started: now, Finished: now}
	orig := picket.ActionRecord{Request: picket.ActionRequest{ID: "act-A", Kind: picket.ActionSuppress, FindingKey: "fkey",
		Account: "123456789012", Region: "us-east-1", Target: picket.Resource{Kind: picket.ResourceAccount, ID: "123456789012"},
		Actor: bob, Reason: "test", Until: now.Add(10 * time.Minute), At: now}, Status: picket.OutcomeSucceeded, Result: &res, Updated: now}
	res.Request = orig.Request
	if _, ok, err := h.db.ClaimAction(orig); err != nil || !ok {
		t.Fatalf("store suppress: %v %v", ok, err)
	}
	if err := h.db.PutSuppression(picket.Suppression{ID: "sup-act-A", FindingKey: "fkey", RequestID: "act-A", Account: "123456789012",
		Region: "us-east-1", Actor: bob, Created: now, Until: now.Add(10 * time.Minute),
		Remote: []picket.RemoteRule{{Kind: actions.RemoteGuardDutyFilter, ID: "picket-A", Account: "123456789012", Region: "us-east-1"}}}); err != nil {
		t.Fatal(err)
	}

	plan, err := svc.Prepare(ctx, alice, picket.ActionUndo, "", "", "act-A")
	if err != nil || plan.Refusal != "" {
		t.Fatalf("prepare undo: %v, refusal %q", err, plan.Refusal)
	}
	*h.now = now.Add(20 * time.Minute) // the plan is still fresh
	if _, lifted := svc.Sweep(ctx); lifted != 1 {
		t.Fatalf("lifted = %d, want 1", lifted)
	}
	got, err := svc.Run(ctx, plan.Request.ID, alice, picket.RunInput{})
	if err != nil {
		t.Fatalf("run undo: %v", err)
	}
	if got.Outcome != picket.OutcomeRefused {
		t.Errorf("undo after the lift: outcome %s %q, want refused", got.Outcome, got.Summary)
	}
	if !strings.Contains(got.Summary, "lifted") {
		t.Errorf("summary %q, want it to say the suppression was lifted", got.Summary)
	}
	if n := undoer.executes.Load(); n != 0 {
		t.Errorf("undo executed %d times, want 0", n)
	}
}
