package actions_test

import (
	"context"
	"strings"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
)

// TestAutopilotKillSwitchMidRun switches automatic responses off while the
// first of a rule's two actions is running: the second must not start.
func TestAutopilotKillSwitchMidRun(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, actions.Policy{})
	h.responder.started, h.responder.gate = make(chan struct{}), make(chan struct{})
	p, notices := newPilot(t, h, false, autoRule("malicious-ip", 10, picket.ActionDisableUser, picket.ActionEscalate))
	commit(t, p, h.userFindingRec(t, "f1", "u1", posted))

	done := make(chan struct{})
	go func() { defer close(done); p.Step(ctx) }()
	<-h.responder.started // the disable is under way
	if _, err := p.SetSwitch(alice, false); err != nil {
		t.Fatal(err)
	}
	close(h.responder.gate)
	// A second action would start now; let it through so the test ends
	// whatever the code does.
	go func() {
		for range h.responder.started {
		}
	}()
	<-done
	close(h.responder.started)

	if got := h.responder.executes.Load(); got != 1 {
		t.Fatalf("executes = %d, want 1: the escalation must not start once switched off", got)
	}
	ns := notices.list()
	if len(ns) != 1 || len(ns[0].Notes) != 1 || !strings.Contains(ns[0].Notes[0], "Escalate to Detective: not run, automatic responses were switched off") {
		t.Fatalf("notices = %+v, want one noting the escalation was not run", ns)
	}
}
