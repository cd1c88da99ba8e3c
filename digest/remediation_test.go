package digest_test

import (
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/digest"
)

// TestBuildListsPatchesAndUndos: patches applied (and those that failed
// in part) and Undos of suppressions are listed with what they did; a
// dry run and a patch still running are not.
func TestBuildListsPatchesAndUndos(t *testing.T) {
	at := now.Add(-2 * time.Hour)
	patch := action("p1", "fk-p", "alice", at, picket.OutcomeSucceeded)
	patch.Request.Kind, patch.Request.Target = picket.ActionPatchInstance, picket.Resource{ID: "i-0abc"}
	partial := action("p2", "fk-q", "alice", at.Add(time.Minute), picket.OutcomePartial)
	partial.Request.Kind, partial.Request.Target = picket.ActionPatchInstance, picket.Resource{ID: "i-0def"}
	running := action("p3", "fk-r", "alice", at.Add(2*time.Minute), picket.StatusRunning)
	running.Request.Kind = picket.ActionPatchInstance
	dry := action("p4", "fk-s", "alice", at.Add(3*time.Minute), picket.OutcomeDryRunned)
	dry.Request.Kind, dry.Request.DryRun = picket.ActionPatchInstance, true
	sup := action("s1", "fk-sh", "bob", at.Add(4*time.Minute), picket.OutcomeSucceeded)
	sup.Request.Kind = picket.ActionSuppress
	undo := action("u1", "fk-sh", "carol", at.Add(5*time.Minute), picket.OutcomeSucceeded)
	undo.Request.Kind, undo.Request.UndoOf = picket.ActionUndo, "s1"

	d := digest.Build(digest.Input{Name: "daily", Now: now, Actions: []picket.ActionRecord{patch, partial, running, dry, sup, undo}})
	var got []string
	for _, a := range d.Actions {
		got = append(got, a.Label()+" "+a.Target+" "+string(a.Outcome))
	}
	want := []string{"Patch instance i-0abc succeeded", "Patch instance i-0def partial", "Suppress bob succeeded", "Undo suppress bob succeeded"}
	if len(got) != len(want) {
		t.Fatalf("got actions %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("action %d: got %q, want %q", i, got[i], want[i])
		}
	}
}
