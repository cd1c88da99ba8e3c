package actions_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
)

// TestPatchRefusesClosedFinding: a finding that is closed (archived,
// resolved, suppressed) by the time Patch plans or runs sends nothing,
// like the fix buttons: a Run button in a rule's notice or an approval
// can come long after Inspector closed the finding.
func TestPatchRefusesClosedFinding(t *testing.T) {
	ctx := context.Background()
	closers := map[string]func(f *picket.Finding){
		"archived":   func(f *picket.Finding) { f.RecordState = picket.RecordArchived },
		"resolved":   func(f *picket.Finding) { f.WorkflowStatus = picket.WorkflowResolved },
		"suppressed": func(f *picket.Finding) { f.WorkflowStatus = picket.WorkflowSuppressed },
	}
	for name, closeIt := range closers {
		t.Run(name, func(t *testing.T) {
			srv := newPatchFake(t, patchScenario{})
			p := newTestPatch(srv, &testClock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)})
			f := patchFinding()
			req := picket.ActionRequest{ID: "act-1", Kind: picket.ActionPatchInstance, FindingKey: f.Key, Account: qAccount, Region: "us-east-1",
				Target: picket.Resource{Kind: picket.ResourceEC2Instance, ID: qInstance}, Actor: picket.Actor{ID: "U0ALICE"}}

			// Planned while open, run once closed.
			plan, err := p.Plan(ctx, req, f)
			if err != nil || plan.Refusal != "" {
				t.Fatalf("plan of the open finding: %v, refusal %q", err, plan.Refusal)
			}
			closeIt(f)
			srv.Reset()
			res := p.ExecuteWith(ctx, plan, f, nil)
			if res.Outcome != picket.OutcomeRefused || !strings.Contains(res.Summary, "closed") {
				t.Errorf("run on the closed finding: outcome %s %q, want refused saying it is closed", res.Outcome, res.Summary)
			}
			if ops := srv.Operations(); slices.Contains(ops, "ssm:SendCommand") || len(ops) != 0 {
				t.Errorf("calls = %v, want none", ops)
			}

			plan, err = p.Plan(ctx, req, f)
			if err != nil || !strings.Contains(plan.Refusal, "closed") {
				t.Errorf("plan of the closed finding: %v, refusal %q, want one saying it is closed", err, plan.Refusal)
			}
		})
	}
}
