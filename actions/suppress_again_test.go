package actions_test

import (
	"context"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
	"github.com/picketsec/picket/bot"
)

// TestSuppressAgainAfterExpiry: once a one-finding suppression has expired
// and been lifted, the finding can be suppressed again. The expired
// Suppress must not keep holding its claim (its Undo is refused as
// "already lifted", so nothing else would ever release it).
func TestSuppressAgainAfterExpiry(t *testing.T) {
	srv := newSuppressFake(t)
	fl, s := suppressFlow(t, srv)
	id := suppressAndFindUndo(t, fl, false)
	sups, _ := fl.db.Suppressions()
	if len(sups) != 1 {
		t.Fatalf("suppressions %+v, want one", sups)
	}
	later := sups[0].Until.Add(time.Minute)
	sv, err := actions.NewService(actions.ServiceOptions{
		Responders: map[picket.ActionKind]picket.Responder{picket.ActionSuppress: s}, Lifter: s,
		Findings: fl.db, Actions: fl.db, Suppressions: fl.db, Audit: fl.db,
		Now: func() time.Time { return later },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, n := sv.Sweep(context.Background()); n != 1 {
		t.Fatalf("sweep after the expiry lifted %d, want 1", n)
	}

	time.Sleep(1100 * time.Millisecond) // a new request timestamp: the same click in the same second is a replay
	meta, _ := fl.plan("U0ALICE", bot.ActionSuppress, "fk-sh")
	_, eph := fl.confirm("U0ALICE", meta, suppressValues(false), false)
	recs, _ := fl.db.ActionsForFinding("fk-sh")
	var again []picket.ActionRecord
	for _, r := range recs {
		if r.Request.Kind == picket.ActionSuppress && r.Request.ID != id {
			again = append(again, r)
		}
	}
	if len(again) != 1 || again[0].Status != picket.OutcomeSucceeded {
		t.Fatalf("second suppress: records %+v (answer %q), want one succeeded", again, eph.Get("text"))
	}
}
