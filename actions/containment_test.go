package actions_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/internal/awsfake"
)

// userFindingKeyed is userFinding under another key and id: a second
// finding about the same user.
func userFindingKeyed(key string) *picket.Finding {
	f := userFinding()
	f.Key, f.ID, f.ARN = key, "gd-"+key, strings.TrimSuffix(f.ARN, "gd-d")+"gd-"+key
	return f
}

func countOps(srv *awsfake.Server, op string) int {
	n := 0
	for _, o := range srv.Operations() {
		if o == op {
			n++
		}
	}
	return n
}

// TestTwoFindingsOneDisable checks that containment is claimed per
// resource: a second finding about the same user cannot disable it again
// while the first disable is in force.
func TestTwoFindingsOneDisable(t *testing.T) {
	srv := newUserFake(t, userScenario{keys: keyXML("AKIA1", "Active")})
	f1, f2 := userFindingKeyed("fk-1"), userFindingKeyed("fk-2")
	svc, _ := newRealService(t, srv, f1, f2)
	ctx := context.Background()

	p1, err := svc.Prepare(ctx, alice, picket.ActionDisableUser, f1.Key, "", "")
	if err != nil || p1.Refusal != "" {
		t.Fatalf("prepare 1: %v %s", err, p1.Refusal)
	}
	p2, err := svc.Prepare(ctx, bob, picket.ActionDisableUser, f2.Key, "", "")
	if err != nil || p2.Refusal != "" {
		t.Fatalf("prepare 2: %v %s", err, p2.Refusal)
	}
	if res, err := svc.Run(ctx, p1.Request.ID, alice, picket.RunInput{}); err != nil || res.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("run 1: %v %s %s", err, res.Outcome, res.Summary)
	}
	_, err = svc.Run(ctx, p2.Request.ID, bob, picket.RunInput{})
	if picket.ErrorCode(err) != picket.ECONFLICT {
		t.Fatalf("run 2: got %v, want %s", err, picket.ECONFLICT)
	}
	if !strings.Contains(picket.ErrorMessage(err), "alice already finished disabling alice") {
		t.Errorf("conflict message: got %q, want it to name who disabled the user", picket.ErrorMessage(err))
	}
	if n := countOps(srv, "iam:PutUserPolicy"); n != 1 {
		t.Errorf("PutUserPolicy calls: got %d, want 1 (one disable for one user)", n)
	}
}

// TestUndoRefusesWhileLaterContainmentActive checks that undoing a disable
// is refused while a later disable of the same user is in force (records
// from before claims were per resource can have two), because restoring
// the first one's evidence would silently lift the second.
func TestUndoRefusesWhileLaterContainmentActive(t *testing.T) {
	srv := newUserFake(t, userScenario{keys: keyXML("AKIA1", "Inactive")})
	f1, f2 := userFindingKeyed("fk-1"), userFindingKeyed("fk-2")
	svc, db := newRealService(t, srv, f1, f2)
	ctx := context.Background()
	done := func(id, finding string, at time.Time, ev string) picket.ActionRecord {
		req := picket.ActionRequest{ID: id, Kind: picket.ActionDisableUser, FindingKey: finding, Target: aliceTarget,
			Account: duAccount, Region: "us-east-1", Actor: alice, At: at}
		return picket.ActionRecord{Request: req, Status: picket.OutcomeSucceeded, Updated: at,
			Result: &picket.ActionResult{Request: req, Outcome: picket.OutcomeSucceeded, Evidence: []byte(ev)}}
	}
	// As stored by an earlier version: PutAction takes no claim.
	first := done("act-first", f1.Key, duNow.Add(-2*time.Hour),
		`{"user_name":"alice","deactivated_keys":["AKIA1"],"policy_name":"picket-deny-all","policy_attached":true}`)
	second := done("act-second", f2.Key, duNow.Add(-time.Hour),
		`{"user_name":"alice","policy_name":"picket-deny-all","policy_existed":true,"policy_attached":true,`+
			`"tags_set":["picket:case"],"tags_before":{"picket:case":"act-first"}}`)
	for _, r := range []picket.ActionRecord{first, second} {
		if err := db.PutAction(r); err != nil {
			t.Fatal(err)
		}
	}

	plan, err := svc.Prepare(ctx, alice, picket.ActionUndo, "", "", first.Request.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.Refusal, "act-second") || !strings.Contains(plan.Refusal, "Undo that one first") || len(plan.Steps) != 0 {
		t.Fatalf("undo of the first: got refusal %q with %d steps, want a refusal naming act-second", plan.Refusal, len(plan.Steps))
	}
	plan, err = svc.Prepare(ctx, alice, picket.ActionUndo, "", "", second.Request.ID)
	if err != nil || plan.Refusal != "" {
		t.Fatalf("undo of the later one: got %v %q, want a plan", err, plan.Refusal)
	}
	if _, err := svc.Run(ctx, plan.Request.ID, alice, picket.RunInput{}); err != nil {
		t.Fatal(err)
	}
	// With the later one undone, the first can be undone.
	plan, err = svc.Prepare(ctx, alice, picket.ActionUndo, "", "", first.Request.ID)
	if err != nil || plan.Refusal != "" {
		t.Fatalf("undo of the first after the later: got %v %q, want a plan", err, plan.Refusal)
	}
}

// TestUndoAfterRestartRestores checks that an action interrupted by a
// restart keeps the state it recorded before its first change: recovery
// marks it partial with that evidence, and Undo restores it.
func TestUndoAfterRestartRestores(t *testing.T) {
	srv := newUserFake(t, userScenario{keys: keyXML("AKIA1", "Active")})
	f := userFindingKeyed("fk-1")
	svc, db := newRealService(t, srv, f)
	ctx := context.Background()

	plan, err := svc.Prepare(ctx, alice, picket.ActionDisableUser, f.Key, "", "")
	if err != nil || plan.Refusal != "" {
		t.Fatalf("prepare: %v %s", err, plan.Refusal)
	}
	// The process dies during the first write: what is on disk then is
	// what the next process finds.
	var onDisk picket.ActionRecord
	srv.On("iam", "UpdateAccessKey", func(r *awsfake.Request) awsfake.Response {
		onDisk, _, _ = db.Action(plan.Request.ID)
		return awsfake.QueryResult("UpdateAccessKey", "")
	})
	if _, err := svc.Run(ctx, plan.Request.ID, alice, picket.RunInput{}); err != nil {
		t.Fatal(err)
	}
	if onDisk.Status != picket.StatusRunning || len(onDisk.Evidence) == 0 {
		t.Fatalf("record at the first write: got status %s with %d bytes of evidence, want running with evidence", onDisk.Status, len(onDisk.Evidence))
	}
	if err := db.PutAction(onDisk); err != nil {
		t.Fatal(err)
	}

	restarted := newServiceOver(t, srv, db)
	if n := restarted.Recover(ctx); n != 1 {
		t.Fatalf("Recover: got %d, want 1", n)
	}
	rec, _, _ := db.Action(plan.Request.ID)
	if rec.Status != picket.OutcomePartial || rec.Result == nil || len(rec.Result.Evidence) == 0 {
		t.Fatalf("recovered record: got %s %+v, want partial with the evidence", rec.Status, rec.Result)
	}
	undo, err := restarted.Prepare(ctx, alice, picket.ActionUndo, "", "", plan.Request.ID)
	if err != nil || undo.Refusal != "" {
		t.Fatalf("undo after restart: got %v %q, want a plan", err, undo.Refusal)
	}
	var ops []string
	for _, s := range undo.Steps {
		ops = append(ops, s.Operation+" "+s.Description)
	}
	for _, want := range []string{"iam:UpdateAccessKey Re-activate access key AKIA1.", "iam:DeleteUserPolicy Remove the inline policy picket-deny-all.", "iam:UntagUser"} {
		if !slices.ContainsFunc(ops, func(o string) bool { return strings.HasPrefix(o, want) }) {
			t.Errorf("undo steps: got %q, want %q", ops, want)
		}
	}
	// The claim is kept: the user may be contained.
	again, _ := restarted.Prepare(ctx, bob, picket.ActionDisableUser, f.Key, "", "")
	if _, err := restarted.Run(ctx, again.Request.ID, bob, picket.RunInput{}); picket.ErrorCode(err) != picket.ECONFLICT {
		t.Errorf("disable again after recovery: got %v, want %s", err, picket.ECONFLICT)
	}
}

// TestRecoverWithoutEvidenceReleases checks that an action interrupted
// before it saved any evidence (so before any change) is closed as failed.
func TestRecoverWithoutEvidenceReleases(t *testing.T) {
	srv := newUserFake(t, userScenario{})
	f := userFindingKeyed("fk-1")
	svc, db := newRealService(t, srv, f)
	stuck := picket.ActionRecord{Request: picket.ActionRequest{ID: "act-stuck", Kind: picket.ActionDisableUser, FindingKey: f.Key,
		Target: aliceTarget, Account: duAccount, Actor: alice}, Status: picket.StatusRunning}
	if _, ok, err := db.ClaimAction(stuck); err != nil || !ok {
		t.Fatalf("seed: %v %v", ok, err)
	}
	svc.Recover(context.Background())
	rec, _, _ := db.Action("act-stuck")
	if rec.Status != picket.OutcomeFailed {
		t.Errorf("status: got %s, want failed", rec.Status)
	}
}

// TestDisableFailsClosedWhenTagsUnreadable checks that Execute refuses,
// changing nothing, when ListUserTags fails at execute time (the plan read
// them fine): the protecting tag cannot be checked.
func TestDisableFailsClosedWhenTagsUnreadable(t *testing.T) {
	srv := newUserFake(t, userScenario{keys: keyXML("AKIA1", "Active")})
	srv.On("iam", "ListUserTags", awsfake.Sequence(
		awsfake.QueryResult("ListUserTags", "<Tags></Tags><IsTruncated>false</IsTruncated>"),
		awsfake.QueryError("Throttling", "Rate exceeded"),
	))
	plan, res := planThenExecute(t, srv, newDisable(srv), disableRequest(aliceTarget, false), userFinding())
	if plan.Refusal != "" {
		t.Fatalf("plan refused: %s", plan.Refusal)
	}
	if res.Outcome != picket.OutcomeRefused || !strings.Contains(res.Summary, "could not read the tags of IAM user alice") {
		t.Errorf("execute: got %s %q, want refused because the tags could not be read", res.Outcome, res.Summary)
	}
	for _, op := range srv.Operations() {
		if changesState(op) {
			t.Errorf("called %s: got a write, want none", op)
		}
	}
}

// TestDisablePlanShowsAndChecksResolvedARN checks that the plan names the
// ARN IAM resolves, and refuses when the finding's ARN names another user
// or account, or when the finding's name and ARN disagree.
func TestDisablePlanShowsAndChecksResolvedARN(t *testing.T) {
	for _, tc := range []struct {
		name    string
		target  picket.Resource
		refusal string
	}{
		{"same user", aliceTarget, ""},
		{"ARN of another user", picket.Resource{Kind: picket.ResourceIAMUser, ID: "alice", ARN: "arn:aws:iam::123456789012:user/admin"}, "IAM resolves alice to " + duUserARN},
		{"ARN of a role with the user's name", picket.Resource{Kind: picket.ResourceIAMUser, ID: "alice", ARN: "arn:aws:iam::123456789012:role/alice"}, "does not name exactly"},
		{"ARN in another account", picket.Resource{Kind: picket.ResourceIAMUser, ID: "alice", ARN: "arn:aws:iam::999999999999:user/alice"}, "does not name exactly"},
		{"name and ARN disagree in the finding", picket.Resource{Kind: picket.ResourceIAMUser, ID: "alice", ARN: "arn:aws:iam::123456789012:user/admin",
			Mismatch: `Details.AwsIamUser.UserName "alice" does not match the resource Id "arn:aws:iam::123456789012:user/admin"`}, "names this principal inconsistently"},
		{"role session", picket.Resource{Kind: picket.ResourceIAMUser, ID: "alice", PrincipalType: picket.PrincipalAssumedRole}, "revoke the role's sessions instead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newUserFake(t, userScenario{})
			srv.AllowUnexpected()
			plan, err := newDisable(srv).Plan(context.Background(), disableRequest(tc.target, false), userFinding())
			if err != nil {
				t.Fatal(err)
			}
			if tc.refusal == "" {
				if plan.Refusal != "" || len(plan.Steps) == 0 || !strings.Contains(plan.Steps[0].Description, "IAM resolves to "+duUserARN) {
					t.Fatalf("plan: got refusal %q, steps %+v; want a first step naming %s", plan.Refusal, plan.Steps, duUserARN)
				}
				return
			}
			if !strings.Contains(plan.Refusal, tc.refusal) || len(plan.Steps) != 0 {
				t.Errorf("plan: got refusal %q with %d steps, want a refusal containing %q", plan.Refusal, len(plan.Steps), tc.refusal)
			}
		})
	}
}

// TestServiceRefusesMismatchedResource checks that the Service refuses any
// containment of a resource whose name and ARN disagree in the finding.
func TestServiceRefusesMismatchedResource(t *testing.T) {
	srv := awsfake.New(t)
	f := userFindingKeyed("fk-m")
	f.Resources = []picket.Resource{{Kind: picket.ResourceIAMUser, ID: "alice", ARN: "arn:aws:iam::123456789012:user/admin", Mismatch: "name and Id disagree"}}
	svc, _ := newRealService(t, srv, f)
	plan, err := svc.Prepare(context.Background(), alice, picket.ActionDisableUser, f.Key, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.Refusal, "name and Id disagree") || plan.Alternative != picket.ActionEscalate {
		t.Errorf("plan: got refusal %q alternative %q, want the mismatch and Escalate", plan.Refusal, plan.Alternative)
	}
	if ops := srv.Operations(); len(ops) != 0 {
		t.Errorf("AWS calls: got %q, want none", ops)
	}
}
