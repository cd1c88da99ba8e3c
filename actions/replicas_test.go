package actions_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
)

// replica returns another Service on the harness's store, as a second
// replica of Picket has: plans kept in the store, its own runner name.
func (h *harness) replica(t *testing.T, runner string, gone func(string) bool) *actions.Service {
	t.Helper()
	svc, err := actions.NewService(actions.ServiceOptions{
		Policy: actions.Policy{Roles: []actions.Role{{Name: "responders", Users: []string{alice.ID}, Actions: []string{"*"}}}},
		Responders: map[picket.ActionKind]picket.Responder{
			picket.ActionDisableUser: h.responder, picket.ActionSuppress: h.responder, picket.ActionEscalate: h.responder,
		},
		Undoers:  map[picket.ActionKind]actions.Undoer{picket.ActionDisableUser: h.undoer},
		Lifter:   h.lifter,
		Findings: h.db, Actions: h.db, Suppressions: h.db, Audit: h.db,
		Announcer: h.rec, Alerts: h.rec,
		Now:   func() time.Time { return *h.now },
		Plans: h.db, Runner: runner, RunnerGone: gone,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestReplicasRunAPlanAnotherPrepared: the dialog's confirmation reaches
// another replica than the click did; it runs the plan, once, only for
// the person who clicked, however many replicas receive the submission.
func TestReplicasRunAPlanAnotherPrepared(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	a, b, c := h.replica(t, "a", nil), h.replica(t, "b", nil), h.replica(t, "c", nil)
	ctx := context.Background()
	plan, err := a.Prepare(ctx, alice, picket.ActionDisableUser, "fkey", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Run(ctx, plan.Request.ID, bob, picket.RunInput{}); picket.ErrorCode(err) != picket.EUNAUTHORIZED {
		t.Fatalf("Run by someone else on another replica: err %v, want unauthorized", err)
	}
	var ok, gone atomic.Int32
	var wg sync.WaitGroup
	for _, svc := range []*actions.Service{b, c, b, c} {
		wg.Go(func() {
			res, err := svc.Run(ctx, plan.Request.ID, alice, picket.RunInput{})
			switch {
			case err == nil && res.Outcome == picket.OutcomeSucceeded:
				ok.Add(1)
			case picket.ErrorCode(err) == picket.ENOTFOUND:
				gone.Add(1)
			default:
				t.Errorf("Run: outcome %q err %v", res.Outcome, err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || gone.Load() != 3 || h.responder.executes.Load() != 1 {
		t.Fatalf("succeeded %d, already submitted %d, executed %d; want 1, 3, 1", ok.Load(), gone.Load(), h.responder.executes.Load())
	}
	*h.now = h.now.Add(31 * time.Minute)
	late, _ := a.Prepare(ctx, alice, picket.ActionEscalate, "fkey", "", "")
	*h.now = h.now.Add(31 * time.Minute)
	if _, err := b.Run(ctx, late.Request.ID, alice, picket.RunInput{}); picket.ErrorCode(err) != picket.ENOTFOUND {
		t.Errorf("Run of an expired plan: err %v, want not_found", err)
	}
}

// TestReplicasRecoverOnlyDeadRunners: Recover, run periodically by one
// replica, closes the running actions of a replica that died, and leaves
// those of a live replica and its own alone.
func TestReplicasRecoverOnlyDeadRunners(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	dead := map[string]bool{"gone": true}
	a := h.replica(t, "a", func(r string) bool { return dead[r] })
	ctx := context.Background()
	running := func(id, user, runner string) {
		rec := picket.ActionRecord{Request: picket.ActionRequest{ID: id, Kind: picket.ActionDisableUser, FindingKey: "fkey",
			Target: picket.Resource{Kind: picket.ResourceIAMUser, ID: user}, Actor: alice}, Status: picket.StatusRunning, Runner: runner}
		if _, ok, err := h.db.ClaimAction(rec); err != nil || !ok {
			t.Fatalf("seed %s: ok %v err %v", id, ok, err)
		}
	}
	running("act-live", "u1", "live")
	running("act-own", "u2", "a")
	running("act-dead", "u3", "gone")
	if n := a.Recover(ctx); n != 1 {
		t.Fatalf("Recover closed %d, want 1 (the dead replica's)", n)
	}
	for id, want := range map[string]picket.ActionOutcome{"act-live": picket.StatusRunning, "act-own": picket.StatusRunning, "act-dead": picket.OutcomeFailed} {
		rec, _, _ := h.db.Action(id)
		if rec.Status != want {
			t.Errorf("%s: status %q, want %q", id, rec.Status, want)
		}
	}
	// The live replica dies: the next pass closes its action too.
	dead["live"] = true
	if n := a.Recover(ctx); n != 1 {
		t.Errorf("second Recover closed %d, want 1", n)
	}
}
