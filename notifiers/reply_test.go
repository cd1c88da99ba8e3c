package notifiers_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/notifiers"
)

var (
	dana  = picket.Actor{ID: "U0DANA123", Name: "Dana"}
	erin  = picket.Actor{ID: "U0ERIN456", Name: "Erin"}
	frank = picket.Actor{ID: "W0FRANK78", Name: "Frank"}
)

const userFindingKey = "arn:aws:guardduty:us-east-1:123456789012:detector/d1/finding/UnauthorizedAccess:IAMUser/TorIPCaller"

// disableRecord is a finished Disable user of alice with every step done.
func disableRecord() picket.ActionRecord {
	req := picket.ActionRequest{ID: "req-disable-1", Kind: picket.ActionDisableUser, FindingKey: userFindingKey,
		Target:  picket.Resource{Kind: picket.ResourceIAMUser, ID: "alice", ARN: "arn:aws:iam::123456789012:user/alice"},
		Account: account, Region: "us-east-1", Actor: dana, At: t1}
	steps := []picket.StepResult{
		{Operation: "iam:UpdateAccessKey", Description: "Deactivate access key AKIAIOSFODNN7EXAMPLE", Status: picket.StepDone, RequestID: "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE", At: t1},
		{Operation: "iam:PutUserPolicy", Description: "Attach inline policy picket-deny-all denying tokens issued before 2025-03-15 21:27 UTC", Status: picket.StepDone, RequestID: "4a9d0e2b-11aa-4c1e-9a5b-0f1eEXAMPLE", At: t1},
		{Operation: "iam:TagUser", Description: "Tag the user with picket-case=req-disable-1", Status: picket.StepDone, RequestID: "c1b2a3d4-5e6f-4a1b-8c9d-0e1fEXAMPLE", At: t1},
		{Operation: "securityhub:BatchUpdateFindings", Description: "Add a note to the finding", Status: picket.StepDone, RequestID: "d4c3b2a1-0f9e-4d8c-b7a6-5f4eEXAMPLE", At: t1},
	}
	plan := picket.Plan{Request: req, Undo: "Reactivate access key AKIAIOSFODNN7EXAMPLE and remove the inline policy picket-deny-all."}
	for _, s := range steps {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: s.Operation, Description: s.Description})
	}
	done := t1.Add(9 * time.Second)
	return picket.ActionRecord{Request: req, Plan: plan, Status: picket.OutcomeSucceeded, Updated: done,
		Result: &picket.ActionResult{Request: req, Outcome: picket.OutcomeSucceeded, Steps: steps,
			Summary: "Disabled IAM user alice: 1 access key deactivated, sessions issued before 21:27 UTC revoked.",
			Started: t1, Finished: done}}
}

// quarantinePlan is the seven steps of a quarantine of i-0abc123def4567890.
func quarantinePlan(req picket.ActionRequest) picket.Plan {
	return picket.Plan{Request: req, Approvals: 1,
		Undo: "Restore security groups sg-0123 and sg-0456 on eni-0a1b2c3d and re-attach the instance to Auto Scaling group web-asg.",
		Steps: []picket.PlanStep{
			{Operation: "ec2:ModifyInstanceAttribute", Description: "Enable termination protection"},
			{Operation: "autoscaling:DetachInstances", Description: "Detach from Auto Scaling group web-asg"},
			{Operation: "ec2:ModifyNetworkInterfaceAttribute", Description: "Move eni-0a1b2c3d to the allow-all group sg-0aaa"},
			{Operation: "ec2:ModifyNetworkInterfaceAttribute", Description: "Move eni-0a1b2c3d to the isolation group sg-0bbb"},
			{Operation: "ec2:CreateSnapshot", Description: "Snapshot volume vol-0a1b2c3d"},
			{Operation: "ec2:CreateTags", Description: "Tag the instance with picket-quarantine=req-quar-1"},
			{Operation: "securityhub:BatchUpdateFindings", Description: "Add a note to the finding"},
		}}
}

func quarantineRequest() picket.ActionRequest {
	return picket.ActionRequest{ID: "req-quar-1", Kind: picket.ActionQuarantineInstance,
		FindingKey: "arn:aws:guardduty:us-east-1:123456789012:detector/d1/finding/Backdoor:EC2/C&CActivity.B!DNS",
		Target:     instanceResource("i-0abc123def4567890"), Account: account, Region: "us-east-1", Actor: dana, At: t1}
}

// pendingQuarantine awaits a second person's approval.
func pendingQuarantine() picket.ActionRecord {
	req := quarantineRequest()
	return picket.ActionRecord{Request: req, Plan: quarantinePlan(req), Status: picket.OutcomePending,
		ApproveBy: t1.Add(30 * time.Minute), Updated: t1}
}

// partialQuarantine was approved; two of its seven steps failed.
func partialQuarantine() picket.ActionRecord {
	rec := pendingQuarantine()
	at := t1.Add(4 * time.Minute)
	var steps []picket.StepResult
	for i, p := range rec.Plan.Steps {
		s := picket.StepResult{Operation: p.Operation, Description: p.Description, Status: picket.StepDone,
			RequestID: fmt.Sprintf("5f0c%04d-aaaa-4bbb-8ccc-EXAMPLE", i), At: at}
		switch i {
		case 1:
			s.Status, s.ErrorCode = picket.StepFailed, "AccessDenied"
			s.Error = "User: arn:aws:sts::123456789012:assumed-role/picket/bot is not authorized to perform: autoscaling:DetachInstances"
		case 4:
			s.Status, s.ErrorCode, s.Error = picket.StepFailed, "SnapshotCreationPerVolumeRateExceeded", "The maximum per volume CreateSnapshot request rate has been exceeded."
		}
		steps = append(steps, s)
	}
	rec.Status, rec.Approver, rec.Updated = picket.OutcomePartial, &erin, at.Add(20*time.Second)
	rec.Result = &picket.ActionResult{Request: rec.Request, Outcome: picket.OutcomePartial, Steps: steps,
		Summary:  "Quarantined instance i-0abc123def4567890 in part: 5 of 7 steps done.",
		NextStep: "Detach the instance from web-asg by hand (Picket lacks autoscaling:DetachInstances) and snapshot vol-0a1b2c3d again in a few minutes.",
		Started:  at, Finished: at.Add(20 * time.Second)}
	return rec
}

// undoneDisable is disableRecord reversed by frank, with the Undo record.
func undoneDisable() (orig, undo picket.ActionRecord) {
	orig = disableRecord()
	orig.UndoneBy = "req-undo-1"
	req := picket.ActionRequest{ID: "req-undo-1", Kind: picket.ActionUndo, FindingKey: userFindingKey, Target: orig.Request.Target,
		Account: account, Region: "us-east-1", Actor: frank, UndoOf: orig.Request.ID, At: t1.Add(2 * time.Hour)}
	done := req.At.Add(5 * time.Second)
	undo = picket.ActionRecord{Request: req, Status: picket.OutcomeSucceeded, Updated: done,
		Plan: picket.Plan{Request: req, Steps: []picket.PlanStep{
			{Operation: "iam:UpdateAccessKey", Description: "Reactivate access key AKIAIOSFODNN7EXAMPLE"},
			{Operation: "iam:DeleteUserPolicy", Description: "Remove the inline policy picket-deny-all"},
		}},
		Result: &picket.ActionResult{Request: req, Outcome: picket.OutcomeSucceeded, Summary: "Restored IAM user alice.",
			Steps: []picket.StepResult{
				{Operation: "iam:UpdateAccessKey", Description: "Reactivate access key AKIAIOSFODNN7EXAMPLE", Status: picket.StepDone, RequestID: "e5f6a7b8-0000-4000-8000-EXAMPLE"},
				{Operation: "iam:DeleteUserPolicy", Description: "Remove the inline policy picket-deny-all", Status: picket.StepDone, RequestID: "f6a7b8c9-0000-4000-8000-EXAMPLE"},
			},
			Started: req.At, Finished: done}}
	return orig, undo
}

// otherRecords are one record of each remaining outcome, on the user
// finding.
func otherRecords() []picket.ActionRecord {
	base := func(id string, kind picket.ActionKind, actor picket.Actor) picket.ActionRequest {
		return picket.ActionRequest{ID: id, Kind: kind, FindingKey: userFindingKey,
			Target:  picket.Resource{Kind: picket.ResourceAccount, ID: account},
			Account: account, Region: "us-east-1", Actor: actor, At: t1.Add(3 * time.Hour)}
	}
	dry := base("req-dry-1", picket.ActionSuppress, erin)
	dry.DryRun, dry.Similar, dry.Until, dry.Reason = true, true, t1.AddDate(0, 0, 30), "known pen test"
	failed := base("req-esc-1", picket.ActionEscalate, erin)
	rejected := base("req-sup-2", picket.ActionSuppress, picket.Actor{ID: "<!channel>", Name: "<!here> & co"})
	return []picket.ActionRecord{
		{Request: dry, Status: picket.OutcomeDryRunned, Updated: dry.At,
			Result: &picket.ActionResult{Outcome: picket.OutcomeDryRunned, Finished: dry.At}},
		{Request: failed, Status: picket.OutcomeFailed, Updated: failed.At,
			Result: &picket.ActionResult{Outcome: picket.OutcomeFailed, Finished: failed.At.Add(time.Second),
				Steps: []picket.StepResult{{Operation: "detective:StartInvestigation", Status: picket.StepFailed, ErrorCode: "AccessDeniedException"}}}},
		{Request: rejected, Status: picket.OutcomeRejected, Approver: &dana, Updated: rejected.At.Add(time.Minute)},
	}
}

type alertCase struct {
	name  string
	alert picket.Alert
}

// actionAlertCases are alerts showing responses; goldenCases includes them.
func actionAlertCases() []alertCase {
	userAlert := func(recs ...picket.ActionRecord) picket.Alert {
		f := baseFinding("UnauthorizedAccess:IAMUser/TorIPCaller", "API ListBuckets was invoked from a Tor exit node", userResource("alice"))
		return picket.Alert{Finding: f, Channel: "C0SEC", Enrichment: picket.Enrichment{AccountAlias: "Production"}, Actions: recs}
	}
	ec2Alert := func(recs ...picket.ActionRecord) picket.Alert {
		f := baseFinding("Backdoor:EC2/C&CActivity.B!DNS", "EC2 instance i-0abc123def4567890 is querying a command and control server",
			instanceResource("i-0abc123def4567890"))
		return picket.Alert{Finding: f, Channel: "C0SEC", Enrichment: picket.Enrichment{Instance: instanceContext()}, Actions: recs}
	}
	orig, undo := undoneDisable()
	var long []picket.ActionRecord
	for i := range 60 {
		r := otherRecords()[0]
		r.Request.ID = fmt.Sprintf("req-dry-%02d", i)
		r.Request.At = r.Request.At.Add(time.Duration(i) * time.Minute)
		r.Result.Finished = r.Request.At
		long = append(long, r)
	}
	return []alertCase{
		{"action_disabled_undo", userAlert(disableRecord())},
		{"action_pending_approval", ec2Alert(pendingQuarantine())},
		{"action_partial_quarantine", ec2Alert(partialQuarantine())},
		{"action_undone", userAlert(append([]picket.ActionRecord{orig, undo}, otherRecords()...)...)},
		{"action_history_long", userAlert(long...)},
	}
}

func TestRenderActionButtons(t *testing.T) {
	cases := map[string]picket.Alert{}
	for _, c := range actionAlertCases() {
		cases[c.name] = c.alert
	}
	tests := []struct {
		name       string
		wantIDs    []string
		wantValues []string // "" for the finding key
	}{
		{"action_disabled_undo", []string{notifiers.ActionUndo, notifiers.ActionSuppress, notifiers.ActionEscalate},
			[]string{"req-disable-1", "", ""}},
		{"action_pending_approval", []string{notifiers.ActionSuppress, notifiers.ActionEscalate}, []string{"", ""}},
		{"action_partial_quarantine", []string{notifiers.ActionUndo, notifiers.ActionSuppress, notifiers.ActionEscalate},
			[]string{"req-quar-1", "", ""}},
		{"action_undone", []string{notifiers.ActionDisableUser, notifiers.ActionSuppress, notifiers.ActionEscalate}, []string{"", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := cases[tt.name]
			ids, values := buttons(t, notifiers.Render(a))
			if !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("got buttons %v, want %v", ids, tt.wantIDs)
			}
			want := slices.Clone(tt.wantValues)
			for i := range want {
				if want[i] == "" {
					want[i] = a.Finding.Key
				}
			}
			if !slices.Equal(values, want) {
				t.Errorf("got values %q, want %q", values, want)
			}
		})
	}
}

func TestRenderUndoConfirmNamesRestore(t *testing.T) {
	a := actionAlertCases()[0].alert
	js := string(marshalMessage(t, notifiers.Render(a)))
	want := `"text": "Reactivate access key AKIAIOSFODNN7EXAMPLE and remove the inline policy picket-deny-all."`
	if !strings.Contains(js, want) {
		t.Errorf("got no confirm dialog with %s in\n%s", want, js)
	}
}

func TestRenderUndoButtonsHaveTheirOwnBlocks(t *testing.T) {
	// A user and an instance both disabled and quarantined: two Undo
	// buttons, which may not share a block (action ids are unique per
	// block).
	f := baseFinding("T", "t", userResource("alice"), instanceResource("i-0abc123def4567890"))
	a := picket.Alert{Finding: f, Actions: []picket.ActionRecord{disableRecord(), partialQuarantine()}}
	ids, values := buttons(t, notifiers.Render(a))
	if want := []string{notifiers.ActionUndo, notifiers.ActionUndo, notifiers.ActionSuppress, notifiers.ActionEscalate}; !slices.Equal(ids, want) {
		t.Errorf("got buttons %v, want %v", ids, want)
	}
	if len(values) >= 2 && (values[0] != "req-disable-1" || values[1] != "req-quar-1") {
		t.Errorf("got undo values %q, want req-disable-1 and req-quar-1", values[:2])
	}
	checkLimits(t, marshalMessage(t, notifiers.Render(a)))
}

func TestRenderHidesButtonsWhileActive(t *testing.T) {
	rec := func(kind picket.ActionKind, status picket.ActionOutcome, undoneBy string) picket.ActionRecord {
		return picket.ActionRecord{Request: picket.ActionRequest{ID: "r1", Kind: kind, Actor: dana, At: t1}, Status: status, UndoneBy: undoneBy}
	}
	f := baseFinding("T", "t", userResource("alice"), instanceResource("i-0abc123def4567890"))
	all := []string{notifiers.ActionDisableUser, notifiers.ActionQuarantineInstance, notifiers.ActionSuppress, notifiers.ActionEscalate}
	suppressed := rec(picket.ActionSuppress, picket.OutcomeSucceeded, "")
	suppressed.Result = &picket.ActionResult{Outcome: picket.OutcomeSucceeded, Evidence: []byte(`{"suppression":{"id":"sup-r1","one_finding":true}}`)}
	tests := []struct {
		name string
		rec  picket.ActionRecord
		want []string
	}{
		{"disable pending", rec(picket.ActionDisableUser, picket.OutcomePending, ""), all[1:]},
		{"disable running", rec(picket.ActionDisableUser, picket.StatusRunning, ""), all[1:]},
		{"disable succeeded", rec(picket.ActionDisableUser, picket.OutcomeSucceeded, ""), append([]string{notifiers.ActionUndo}, all[1:]...)},
		{"disable undone", rec(picket.ActionDisableUser, picket.OutcomeSucceeded, "u1"), all},
		{"disable failed", rec(picket.ActionDisableUser, picket.OutcomeFailed, ""), all},
		{"disable rejected", rec(picket.ActionDisableUser, picket.OutcomeRejected, ""), all},
		{"disable dry run", rec(picket.ActionDisableUser, picket.OutcomeDryRunned, ""), all},
		{"quarantine partial", rec(picket.ActionQuarantineInstance, picket.OutcomePartial, ""),
			[]string{notifiers.ActionUndo, notifiers.ActionDisableUser, notifiers.ActionSuppress, notifiers.ActionEscalate}},
		// Suppress is undone with its own Undo; Suppress stays offered
		// (for another expiry or "similar").
		{"suppress succeeded", suppressed, append([]string{notifiers.ActionUndo}, all...)},
		{"suppress recorded without what it changed", rec(picket.ActionSuppress, picket.OutcomeSucceeded, ""), all},
		{"suppress undone", func() picket.ActionRecord { r := suppressed; r.UndoneBy = "u1"; return r }(), all},
		{"suppress dry run", rec(picket.ActionSuppress, picket.OutcomeDryRunned, ""), all},
	}
	lifted := picket.ActionRecord{Request: picket.ActionRequest{ID: "l1", Kind: picket.ActionLiftSuppression,
		Target: picket.Resource{Kind: picket.ResourceOther, ID: "sup-r1"}, Actor: picket.Actor{ID: "picket"}, At: t1}, Status: picket.OutcomeSucceeded}
	t.Run("suppress lifted at its expiry", func(t *testing.T) {
		recs := []picket.ActionRecord{suppressed, lifted}
		if ids, _ := buttons(t, notifiers.Render(picket.Alert{Finding: f, Actions: recs})); !slices.Equal(ids, all) {
			t.Errorf("got buttons %v, want %v (nothing left to undo)", ids, all)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, _ := buttons(t, notifiers.Render(picket.Alert{Finding: f, Actions: []picket.ActionRecord{tt.rec}}))
			if !slices.Equal(ids, tt.want) {
				t.Errorf("got buttons %v, want %v", ids, tt.want)
			}
		})
	}
}

func TestRenderNoUndoWhileUndoUnderWay(t *testing.T) {
	orig, undo := undoneDisable()
	orig.UndoneBy = ""
	undo.Status, undo.Result = picket.OutcomePending, nil
	ids, _ := buttons(t, notifiers.Render(picket.Alert{Finding: baseFinding("T", "t", userResource("alice")),
		Actions: []picket.ActionRecord{orig, undo}}))
	if slices.Contains(ids, notifiers.ActionUndo) {
		t.Errorf("got buttons %v, want no Undo while an Undo awaits approval", ids)
	}
}

func TestRenderHistoryLines(t *testing.T) {
	orig, undo := undoneDisable()
	tests := []struct {
		name string
		recs []picket.ActionRecord
		want []string
	}{
		{"succeeded", []picket.ActionRecord{disableRecord()},
			[]string{":white_check_mark: <@U0DANA123> disabled IAM user alice at 2025-03-15 21:27 UTC"}},
		{"pending", []picket.ActionRecord{pendingQuarantine()},
			[]string{":hourglass_flowing_sand: <@U0DANA123> asked to quarantine instance i-0abc123def4567890 at 2025-03-15 21:26 UTC: awaiting approval until 2025-03-15 21:56 UTC"}},
		{"partial", []picket.ActionRecord{partialQuarantine()},
			[]string{":warning: <@U0DANA123> partly quarantined instance i-0abc123def4567890 at 2025-03-15 21:31 UTC (2 of 7 steps failed), approved by <@U0ERIN456>"}},
		{"undone", []picket.ActionRecord{orig, undo},
			[]string{":white_check_mark: <@U0DANA123> disabled IAM user alice at 2025-03-15 21:27 UTC — :leftwards_arrow_with_hook: undone by <@W0FRANK78> at 2025-03-15 23:26 UTC"}},
		{"others", otherRecords(), []string{
			":test_tube: dry run by <@U0ERIN456> at 2025-03-16 00:26 UTC: would suppress the finding and similar ones until 2025-04-14 21:26 UTC; nothing was changed",
			":x: <@U0ERIN456> tried to escalate the finding to Detective at 2025-03-16 00:26 UTC: failed, nothing was changed",
			":no_entry_sign: &lt;!here&gt; &amp; co asked to suppress the finding at 2025-03-16 00:26 UTC: rejected by <@U0DANA123>",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFinding("T", "t", userResource("alice"))
			js := string(marshalMessage(t, notifiers.Render(picket.Alert{Finding: f, Actions: tt.recs})))
			for _, w := range tt.want {
				if !strings.Contains(js, w) {
					t.Errorf("got no line %q in\n%s", w, js)
				}
			}
		})
	}
}

// replyCases are thread replies that together reach every branch of
// RenderActionReply.
func replyCases() []struct {
	name string
	rec  picket.ActionRecord
} {
	type tc = struct {
		name string
		rec  picket.ActionRecord
	}
	dry := disableRecord()
	dry.Request.ID, dry.Request.DryRun, dry.Status = "req-dry-2", true, picket.OutcomeDryRunned
	dry.Result = &picket.ActionResult{Outcome: picket.OutcomeDryRunned, Summary: "Dry run: Picket would disable IAM user alice; nothing was changed.",
		Started: t1, Finished: t1}
	for _, s := range dry.Plan.Steps {
		dry.Result.Steps = append(dry.Result.Steps, picket.StepResult{Operation: s.Operation, Description: s.Description, Status: picket.StepDryRun})
	}

	rejected := pendingQuarantine()
	rejected.Status, rejected.Approver = picket.OutcomeRejected, &erin
	rejected.Result = &picket.ActionResult{Outcome: picket.OutcomeRejected,
		Summary: "Erin rejected the request (the instance is the build server, not compromised); nothing was changed."}

	expired := pendingQuarantine()
	expired.Status = picket.OutcomeRejected
	expired.Result = &picket.ActionResult{Outcome: picket.OutcomeRejected, Summary: "No one approved the request in time; nothing was changed."}

	refused := picket.ActionRecord{Status: picket.OutcomeRefused,
		Request: picket.ActionRequest{ID: "req-root-1", Kind: picket.ActionDisableUser,
			Target: picket.Resource{Kind: picket.ResourceRoot, ID: "root"}, Account: account, Region: "us-east-1", Actor: dana, At: t1},
		Plan: picket.Plan{Refusal: "The root user cannot be disabled.", Alternative: picket.ActionEscalate}}
	refused.Result = &picket.ActionResult{Outcome: picket.OutcomeRefused, Summary: "The root user cannot be disabled."}

	denied := disableRecord()
	denied.Request.ID, denied.Status, denied.Result = "req-denied-1", picket.OutcomeDenied, nil

	failed := disableRecord()
	failed.Status = picket.OutcomeFailed
	failed.Result = &picket.ActionResult{Outcome: picket.OutcomeFailed, Summary: "Picket could not disable IAM user alice; nothing was changed.",
		NextStep: "Grant Picket's role iam:UpdateAccessKey in account 123456789012, or disable the user by hand.",
		Steps: []picket.StepResult{
			{Operation: "iam:UpdateAccessKey", Description: "Deactivate access key AKIAIOSFODNN7EXAMPLE", Status: picket.StepFailed,
				RequestID: "0b1c2d3e-0000-4000-8000-EXAMPLE", ErrorCode: "AccessDenied", Error: "not authorized to perform iam:UpdateAccessKey"},
			{Operation: "iam:PutUserPolicy", Description: "Attach inline policy picket-deny-all", Status: picket.StepSkipped},
		}}

	hostile := partialQuarantine()
	hostile.Request.Actor = picket.Actor{ID: "<!channel>", Name: "<!everyone>"}
	hostile.Request.Reason = "<!channel> <https://evil.example|click> & see <@U123>"
	hostile.Request.Target.ID = "i-<!here>"
	hostile.Approver = &picket.Actor{ID: "U12<!x>", Name: "<#C999>"}
	hostile.Result.Summary = "<!channel> done <https://evil.example|here>"
	hostile.Result.NextStep = "<!here> call <tel:123|me> &amp;"
	hostile.Result.Steps[1].Error = "<!channel> denied: <https://evil.example|details>"
	hostile.Result.Steps[1].ErrorCode = "<!subteam^S1>"
	hostile.Result.Steps[0].Description = "<@U999> <#C999> <!date^1|x>"

	many := partialQuarantine()
	many.Result.Steps = nil
	for i := range 400 {
		s := picket.StepResult{Operation: "ec2:CreateSnapshot", Description: fmt.Sprintf("Snapshot volume vol-%012d", i),
			Status: picket.StepDone, RequestID: fmt.Sprintf("%08d-aaaa-4bbb-8ccc-EXAMPLE", i)}
		if i%3 == 0 {
			s.Status, s.ErrorCode, s.Error = picket.StepFailed, "SnapshotLimitExceeded", strings.Repeat("The snapshot limit was exceeded. ", 40)
		}
		many.Result.Steps = append(many.Result.Steps, s)
	}

	_, undo := undoneDisable()
	return append([]tc{
		{"reply_pending", pendingQuarantine()},
		{"reply_succeeded", disableRecord()},
		{"reply_partial", partialQuarantine()},
		{"reply_failed", failed},
		{"reply_dry_run", dry},
		{"reply_rejected", rejected},
		{"reply_expired", expired},
		{"reply_refused", refused},
		{"reply_denied", denied},
		{"reply_undo", undo},
		{"reply_hostile", hostile},
		{"reply_many_steps", many},
	}, patchReplyCases()...)
}

func TestRenderActionReplyGolden(t *testing.T) {
	for _, tc := range replyCases() {
		t.Run(tc.name, func(t *testing.T) {
			m := notifiers.RenderActionReply(tc.rec)
			checkGolden(t, filepath.Join("testdata", "golden_reply", tc.name+".json"), m)
			checkLimits(t, marshalMessage(t, m))
		})
	}
}

func TestRenderEscalationGolden(t *testing.T) {
	f := baseFinding("UnauthorizedAccess:IAMUser/TorIPCaller", "API ListBuckets was invoked from a Tor exit node", userResource("alice"))
	req := picket.ActionRequest{ID: "req-esc-9", Kind: picket.ActionEscalate, FindingKey: f.Key, Target: userResource("alice"),
		Account: account, Region: "us-east-1", Actor: dana, At: t1}
	rec := picket.ActionRecord{Request: req, Status: picket.OutcomeSucceeded, Result: &picket.ActionResult{Outcome: picket.OutcomeSucceeded,
		Summary: "Started Detective investigation 000000000000001 for arn:aws:iam::123456789012:user/alice: " +
			"https://console.aws.amazon.com/detective/home?region=us-east-1#entities/AwsUser/arn:aws:iam::123456789012:user%2Falice."}}
	hostile := baseFinding("T", "<!channel> <https://evil.example|x> & co")
	hostile.Account = "<!here>"
	hostileRec := rec
	hostileRec.Request.Actor = picket.Actor{ID: "<!channel>"}
	hostileRec.Result = &picket.ActionResult{Summary: "<!everyone> https://evil.example/x https://console.aws.amazon.com.evil.example/ " +
		"https://console.aws.amazon.com/detective/home?a=1&b=<!channel>|x>"}
	tests := []struct {
		name string
		ref  picket.MessageRef
		f    *picket.Finding
		rec  picket.ActionRecord
	}{
		{"escalation", picket.MessageRef{Channel: "C0SEC", TS: "1700000000.000100"}, f, rec},
		{"escalation_no_ref", picket.MessageRef{}, f, rec},
		{"escalation_hostile", picket.MessageRef{Channel: "<!channel>", TS: "1"}, hostile, hostileRec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := notifiers.RenderEscalation(tt.ref, tt.f, tt.rec)
			checkGolden(t, filepath.Join("testdata", "golden_reply", tt.name+".json"), m)
		})
	}
}

// TestReplyGoldenLimits walks every reply golden file and checks Slack's
// limits and that no markup from request or result text survives. The
// Detective link of the escalation summary is the result's own text: it is
// escaped like the rest.
func TestReplyGoldenLimits(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "golden_reply", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 14 {
		t.Fatalf("got %d reply golden files, want at least 14 (run go test ./notifiers -update)", len(paths))
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			checkLimits(t, b)
		})
	}
}

func TestRenderActionReplyContent(t *testing.T) {
	cases := map[string]picket.ActionRecord{}
	for _, c := range replyCases() {
		cases[c.name] = c.rec
	}
	tests := []struct {
		name    string
		want    []string
		notWant []string
	}{
		{"reply_pending", []string{
			"*Quarantine instance* · EC2 instance `i-0abc123def4567890` · account `123456789012` / `us-east-1`",
			"Requested by <@U0DANA123>",
			"Awaiting approval by a second person* (until 2025-03-15 21:56 UTC)",
			"• Detach from Auto Scaling group web-asg (`autoscaling:DetachInstances`)",
			"*Undo* would restore security groups",
			`"action_id": "picket.approve"`, `"action_id": "picket.reject"`, `"value": "req-quar-1"`, `"style": "primary"`,
		}, nil},
		{"reply_succeeded", []string{
			":white_check_mark: Deactivate access key AKIAIOSFODNN7EXAMPLE (`iam:UpdateAccessKey`, request id `7a62c49f-347e-4fc4-9331-6e8eEXAMPLE`)",
			"Disabled IAM user alice: 1 access key deactivated",
		}, []string{"picket.approve", "What to do"}},
		{"reply_partial", []string{
			"*Partly done*: 2 of 7 steps failed.",
			":x: Detach from Auto Scaling group web-asg (`autoscaling:DetachInstances`, request id `5f0c0001-aaaa-4bbb-8ccc-EXAMPLE`): `AccessDenied` User: arn:aws:sts::123456789012:assumed-role/picket/bot is not authorized",
			"*What to do:* Detach the instance from web-asg by hand",
			"approved by <@U0ERIN456>",
		}, nil},
		{"reply_failed", []string{"*Failed*: nothing was changed.", ":fast_forward: skipped: Attach inline policy picket-deny-all (`iam:PutUserPolicy`)"}, nil},
		{"reply_dry_run", []string{"*Dry run*: nothing was changed", ":test_tube: dry run: Deactivate access key AKIAIOSFODNN7EXAMPLE (`iam:UpdateAccessKey`)", "· dry run"}, nil},
		{"reply_rejected", []string{"*Rejected* by <@U0ERIN456>; nothing was changed.", "the instance is the build server"}, []string{"picket.approve"}},
		{"reply_expired", []string{"*Expired*: no one approved the request in time"}, nil},
		{"reply_refused", []string{"*Refused by a guardrail*: The root user cannot be disabled. Nothing was changed. Use *Escalate to Detective* instead."}, nil},
		{"reply_denied", []string{"*Not allowed*: <@U0DANA123> has no Picket role that grants Disable user"}, nil},
		{"reply_hostile", []string{"&lt;!channel&gt;", "&lt;!everyone&gt;", "&lt;https://evil.example|click&gt;", "&amp;amp;", "`&lt;!subteam^S1&gt;`"},
			[]string{"<!channel", "<!here", "<!everyone", "<https://evil", "<@U123>", "<@U999>", "<#C999>", "<!subteam", "<tel:", "<!date"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := notifiers.RenderActionReply(cases[tt.name])
			js := string(marshalMessage(t, m)) + "\n" + m.Text
			for _, w := range tt.want {
				if !strings.Contains(js, w) {
					t.Errorf("got no %q in\n%s", w, js)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(js, w) {
					t.Errorf("got %q in the reply, want it escaped or absent", w)
				}
			}
		})
	}
}

func TestRenderActionReplyManySteps(t *testing.T) {
	var rec picket.ActionRecord
	for _, c := range replyCases() {
		if c.name == "reply_many_steps" {
			rec = c.rec
		}
	}
	m := notifiers.RenderActionReply(rec)
	if len(m.Blocks) != notifiers.MaxBlocks {
		t.Errorf("got %d blocks, want %d (400 long steps fill the budget)", len(m.Blocks), notifiers.MaxBlocks)
	}
	js := string(marshalMessage(t, m))
	if !strings.Contains(js, "more steps not shown (400 in all).") {
		t.Errorf("got no count of the steps left out")
	}
	if !strings.Contains(js, "*What to do:*") || !strings.Contains(js, "Request `req-quar-1`") {
		t.Errorf("got the next step or the request id dropped, want them kept after the steps")
	}
}

func TestRenderActionReplyIsDeterministic(t *testing.T) {
	for _, tc := range replyCases() {
		a := marshalMessage(t, notifiers.RenderActionReply(tc.rec))
		b := marshalMessage(t, notifiers.RenderActionReply(tc.rec))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two renders of the same record differ", tc.name)
		}
	}
}

func TestTerminalAnnounce(t *testing.T) {
	var buf bytes.Buffer
	term := notifiers.NewTerminal(&buf)
	ctx := context.Background()
	ref := picket.MessageRef{Channel: "C0SEC", TS: "0000000000.000001"}
	if err := term.AnnounceAction(ctx, ref, partialQuarantine()); err != nil {
		t.Fatalf("AnnounceAction: %v", err)
	}
	if err := term.AnnounceAction(ctx, ref, pendingQuarantine()); err != nil {
		t.Fatalf("AnnounceAction: %v", err)
	}
	esc := disableRecord()
	esc.Request.Kind = picket.ActionEscalate
	esc.Result.Summary = "Started Detective investigation 0001."
	if err := term.PostEscalation(ctx, "#sec-escalations", ref, baseFinding("T", "Tor caller \x1b[2J"), esc); err != nil {
		t.Fatalf("PostEscalation: %v", err)
	}
	got := buf.String()
	for _, w := range []string{
		"── reply in thread of C0SEC (message 0000000000.000001)\n⚠️ Quarantine instance i-0abc123def4567890: partly done\n",
		"Requested by Dana at 2025-03-15 21:26 UTC, approved by Erin",
		"    ❌ Detach from Auto Scaling group web-asg (autoscaling:DetachInstances, request id 5f0c0001-aaaa-4bbb-8ccc-EXAMPLE): AccessDenied User:",
		"  What to do: Detach the instance",
		"Awaiting approval by a second person (until 2025-03-15 21:56 UTC)",
		"  Buttons: [Approve] [Reject]\n",
		"── escalation to #sec-escalations\n🚨 Dana escalated: High Tor caller \uFFFD[2J in 123456789012/us-east-1\n",
		"  Started Detective investigation 0001.\n  Alert and thread in C0SEC (message 0000000000.000001)\n",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("got no %q in\n%s", w, got)
		}
	}
	if strings.Contains(got, "\x1b") {
		t.Errorf("got a terminal escape in the output")
	}
	err := term.AnnounceAction(ctx, picket.MessageRef{}, disableRecord())
	if code := picket.ErrorCode(err); code != picket.ENOTFOUND {
		t.Errorf("zero ref: got code %q (%v), want %q", code, err, picket.ENOTFOUND)
	}
}

func TestTerminalRenderTextShowsActions(t *testing.T) {
	orig, undo := undoneDisable()
	f := baseFinding("T", "t", userResource("alice"), instanceResource("i-0abc123def4567890"))
	got := notifiers.RenderText(picket.Alert{Finding: f, Actions: []picket.ActionRecord{orig, undo, partialQuarantine()}})
	for _, w := range []string{
		"  Actions:\n    ✅ Dana disabled IAM user alice at 2025-03-15 21:27 UTC — ↩️ undone by Frank at 2025-03-15 23:26 UTC\n",
		"    ⚠️ Dana partly quarantined instance i-0abc123def4567890 at 2025-03-15 21:31 UTC (2 of 7 steps failed), approved by Erin\n",
		"  Buttons: [Undo quarantine instance] [Disable user] [Suppress] [Escalate]\n",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("got no %q in\n%s", w, got)
		}
	}
}

var (
	_ picket.Announcer = (*notifiers.Slack)(nil)
	_ picket.Announcer = (*notifiers.Terminal)(nil)
)

// TestRenderActionReplyOffersUndo: a containment that succeeded (or
// partly) and was not undone gets an Undo button in its thread reply. A
// finding shown in a group message has no alert of its own, so the reply
// is the only place it can be undone from Slack; a suppression, a pending
// request or an undone action gets none.
func TestRenderActionReplyOffersUndo(t *testing.T) {
	orig, undo := undoneDisable()
	for _, tc := range []struct {
		name string
		rec  picket.ActionRecord
		want bool
	}{
		{"disable succeeded", disableRecord(), true},
		{"quarantine partly done", partialQuarantine(), true},
		{"pending approval", pendingQuarantine(), false},
		{"already undone", orig, false},
		{"the undo itself", undo, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := notifiers.RenderActionReply(tc.rec)
			ids, values := buttons(t, m)
			got := slices.Contains(ids, notifiers.ActionUndo)
			if got != tc.want {
				t.Fatalf("Undo button: got %v, want %v (buttons %v)", got, tc.want, ids)
			}
			if got && !slices.Contains(values, tc.rec.Request.ID) {
				t.Errorf("Undo value: got %v, want the request id %q", values, tc.rec.Request.ID)
			}
			checkLimits(t, marshalMessage(t, m))
		})
	}
}
