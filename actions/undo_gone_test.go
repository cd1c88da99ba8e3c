package actions_test

import (
	"context"
	"strings"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/internal/awsfake"
)

// TestDisableUserUndoPlanWhenUserUnreadable: planning the undo of a
// disable refuses when the user is gone and fails, unavailable, when IAM
// cannot be read; it never plans a restore it cannot check.
func TestDisableUserUndoPlanWhenUserUnreadable(t *testing.T) {
	srv := newUserFake(t, userScenario{keys: keyXML("AKIA1", "Active")})
	d := newDisable(srv)
	plan, res := planThenExecute(t, srv, d, disableRequest(aliceTarget, false), userFinding())
	if res.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("disable: got %s (%s), want succeeded", res.Outcome, res.Summary)
	}
	original := picket.ActionRecord{Request: plan.Request, Plan: plan, Status: res.Outcome, Result: &res}
	undoReq := picket.ActionRequest{ID: "act-u1", Kind: picket.ActionUndo, FindingKey: "fk-d", Target: aliceTarget,
		Account: duAccount, Region: "us-east-1", Actor: picket.Actor{ID: "U0BOB", Name: "bob"}, UndoOf: "act-d1"}

	srv.On("iam", "GetUser", func(*awsfake.Request) awsfake.Response {
		return awsfake.QueryError("NoSuchEntity", "The user with name alice cannot be found.")
	})
	up, err := d.PlanUndo(context.Background(), original, undoReq)
	if err != nil {
		t.Fatalf("PlanUndo of a deleted user: %v", err)
	}
	if want := "IAM user alice no longer exists in account " + duAccount; !strings.Contains(up.Refusal, want) || len(up.Steps) != 0 {
		t.Errorf("PlanUndo of a deleted user: refusal %q steps %d, want %q and no steps", up.Refusal, len(up.Steps), want)
	}

	srv.On("iam", "GetUser", func(*awsfake.Request) awsfake.Response {
		return awsfake.QueryError("ServiceFailure", "try later")
	})
	_, err = d.PlanUndo(context.Background(), original, undoReq)
	if picket.ErrorCode(err) != picket.EUNAVAILABLE || !strings.Contains(picket.ErrorMessage(err), "ServiceFailure") {
		t.Errorf("PlanUndo when IAM fails: got %v (%s), want %s naming ServiceFailure", err, picket.ErrorCode(err), picket.EUNAVAILABLE)
	}
}
