package actions_test

import (
	"context"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
)

// TestServiceObservesActionDurations checks that each executed action is
// observed once under its kind and outcome.
func TestServiceObservesActionDurations(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	ctx := context.Background()
	h.responder.outcome = picket.OutcomeFailed
	plan, err := h.svc.Prepare(ctx, alice, picket.ActionDisableUser, "fkey", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Run(ctx, plan.Request.ID, alice, picket.RunInput{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		outcome string
		want    uint64
	}{{"failed", 1}, {"succeeded", 0}} {
		t.Run(tc.outcome, func(t *testing.T) {
			if got := h.durations.Count(string(picket.ActionDisableUser), tc.outcome); got != tc.want {
				t.Errorf("got %d observations, want %d", got, tc.want)
			}
		})
	}
}
