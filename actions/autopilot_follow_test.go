package actions_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
)

// followResponder starts work that ends later (as Patch instance does):
// Execute returns StatusRunning, Follow waits for gate and succeeds.
type followResponder struct {
	gate    chan struct{}
	follows atomic.Int32
}

func (r *followResponder) Plan(_ context.Context, req picket.ActionRequest, _ *picket.Finding) (picket.Plan, error) {
	return picket.Plan{Request: req, Steps: []picket.PlanStep{{Operation: "ssm:SendCommand", Description: "Send"}}}, nil
}

func (r *followResponder) Execute(_ context.Context, plan picket.Plan, _ *picket.Finding) picket.ActionResult {
	return picket.ActionResult{Request: plan.Request, Outcome: picket.StatusRunning, Evidence: json.RawMessage(`{"command":"c-1"}`),
		Summary: "sent", Steps: []picket.StepResult{{Operation: "ssm:SendCommand", Status: picket.StepDone}}}
}

func (r *followResponder) Follow(ctx context.Context, rec picket.ActionRecord) picket.ActionResult {
	r.follows.Add(1)
	select {
	case <-r.gate:
	case <-ctx.Done():
		return picket.ActionResult{Request: rec.Request, Outcome: picket.StatusRunning}
	}
	return picket.ActionResult{Request: rec.Request, Outcome: picket.OutcomeSucceeded, Summary: "patched", Output: "done",
		Steps: []picket.StepResult{{Operation: "ssm:SendCommand", Status: picket.StepDone}, {Operation: "ssm:GetCommandInvocation", Status: picket.StepDone}}}
}

func (r *followResponder) Started(ev json.RawMessage) bool { return len(ev) > 0 }

// TestAutopilotAnnouncesTheEndOfAFollowedAction: a rule in auto mode runs
// an action whose work ends later (a patch command); when it ends, its
// outcome is told in the alert's thread and the alert is updated, as after
// a click.
func TestAutopilotAnnouncesTheEndOfAFollowedAction(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fr := &followResponder{gate: make(chan struct{})}
	svc, err := actions.NewService(actions.ServiceOptions{
		Responders: map[picket.ActionKind]picket.Responder{picket.ActionPatchInstance: fr},
		Findings:   h.db, Actions: h.db, Suppressions: h.db, Audit: h.db,
		Announcer: h.rec, Alerts: h.rec, Context: ctx,
		Now: func() time.Time { return *h.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	f := picket.Finding{Key: "insp1", ID: "arn:aws:inspector2:us-east-1:123456789012:finding/1", Source: picket.SourceInspector,
		Title: "CVE-2024-1 - openssl", Account: "123456789012", Region: "us-east-1", Severity: picket.SeverityHigh,
		Type:            "Software and Configuration Checks/Vulnerabilities/CVE",
		Resources:       []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: "i-0abc"}},
		Vulnerabilities: []picket.Vulnerability{{ID: "CVE-2024-1", FixAvailable: "YES", Packages: []picket.Package{{Name: "openssl", Manager: "OS"}}}}}
	if err := h.db.PutFinding(picket.FindingRecord{Finding: f, Ref: posted, Route: picket.Route{Channel: "C1"}}); err != nil {
		t.Fatal(err)
	}
	p, err := actions.NewAutopilot(actions.AutopilotOptions{Service: svc, Store: h.db, Now: func() time.Time { return *h.now },
		Rules: []picket.AutoRule{{Name: "patch-critical", Enabled: true, Types: []string{"Software and Configuration Checks/*"},
			Actions: []picket.ActionKind{picket.ActionPatchInstance}, Mode: picket.AutoModeAuto, Budget: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	commit(t, p, f)
	p.Step(ctx)
	close(fr.gate) // the command ends
	svc.Wait()
	if fr.follows.Load() != 1 {
		t.Fatalf("follows = %d, want 1", fr.follows.Load())
	}

	h.rec.mu.Lock()
	announced, refs := slices.Clone(h.rec.announced), slices.Clone(h.rec.refs)
	h.rec.mu.Unlock()
	var statuses []picket.ActionOutcome
	for i, rec := range announced {
		statuses = append(statuses, rec.Status)
		if refs[i] != posted {
			t.Errorf("reply %d went to %+v, want the alert %+v", i, refs[i], posted)
		}
	}
	if !slices.Contains(statuses, picket.OutcomeSucceeded) {
		t.Fatalf("thread replies with statuses %v, want one with the outcome (succeeded)", statuses)
	}
}
