package actions_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/detective"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
	"github.com/picketsec/picket/internal/awsfake"
)

const (
	duAccount = "123456789012"
	duUser    = "alice"
	duUserARN = "arn:aws:iam::123456789012:user/alice"
)

// duNow is the injected clock of the disable and escalate tests.
var duNow = time.Date(2026, 11, 22, 9, 30, 15, 0, time.UTC)

// principalClientsAt returns real SDK clients for IAM, EC2, Security Hub,
// Detective and SNS pointed at srv, for every account and region.
func principalClientsAt(srv *awsfake.Server) actions.ClientsFunc {
	cfg := srv.Config()
	c := actions.Clients{
		IAM:         iam.NewFromConfig(cfg),
		EC2:         ec2.NewFromConfig(cfg),
		SecurityHub: securityhub.NewFromConfig(cfg),
		Detective:   detective.NewFromConfig(cfg),
		SNS:         sns.NewFromConfig(cfg),
	}
	return func(context.Context, string, string) (actions.Clients, error) { return c, nil }
}

// userScenario describes the user the fake IAM reports.
type userScenario struct {
	keys         string // <member> elements of AccessKeyMetadata
	inline       string // <member> elements of PolicyNames
	tags         string // <member> elements of Tags
	loginProfile bool
}

func keyXML(id, status string) string {
	return "<member><UserName>alice</UserName><AccessKeyId>" + id + "</AccessKeyId><Status>" + status +
		"</Status><CreateDate>2025-01-02T03:04:05Z</CreateDate></member>"
}

func userTagXML(k, v string) string {
	return "<member><Key>" + k + "</Key><Value>" + v + "</Value></member>"
}

// newUserFake registers every IAM and Security Hub call a disable and its
// undo make, for user alice.
func newUserFake(t *testing.T, sc userScenario) *awsfake.Server {
	t.Helper()
	srv := awsfake.New(t)
	q := func(op, inner string) awsfake.Handler { return awsfake.Reply(awsfake.QueryResult(op, inner)) }
	srv.On("iam", "GetUser", q("GetUser", `<User><Path>/</Path><UserName>alice</UserName><UserId>AIDAALICE</UserId>
		<Arn>`+duUserARN+`</Arn><CreateDate>2024-05-06T07:08:09Z</CreateDate></User>`))
	srv.On("iam", "ListAccessKeys", q("ListAccessKeys", "<AccessKeyMetadata>"+sc.keys+"</AccessKeyMetadata><IsTruncated>false</IsTruncated>"))
	srv.On("iam", "ListAttachedUserPolicies", q("ListAttachedUserPolicies", `<AttachedPolicies><member><PolicyName>ReadOnlyAccess</PolicyName>
		<PolicyArn>arn:aws:iam::aws:policy/ReadOnlyAccess</PolicyArn></member></AttachedPolicies><IsTruncated>false</IsTruncated>`))
	srv.On("iam", "ListUserPolicies", q("ListUserPolicies", "<PolicyNames>"+sc.inline+"</PolicyNames><IsTruncated>false</IsTruncated>"))
	srv.On("iam", "ListGroupsForUser", q("ListGroupsForUser", `<Groups><member><Path>/</Path><GroupName>devs</GroupName><GroupId>AGPADEVS0000000000</GroupId>
		<Arn>arn:aws:iam::123456789012:group/devs</Arn><CreateDate>2024-01-01T00:00:00Z</CreateDate></member></Groups><IsTruncated>false</IsTruncated>`))
	if sc.loginProfile {
		srv.On("iam", "GetLoginProfile", q("GetLoginProfile", `<LoginProfile><UserName>alice</UserName><CreateDate>2024-02-03T04:05:06Z</CreateDate>
			<PasswordResetRequired>false</PasswordResetRequired></LoginProfile>`))
	} else {
		srv.On("iam", "GetLoginProfile", awsfake.Reply(awsfake.QueryError("NoSuchEntity", "Login Profile for User alice cannot be found.")))
	}
	srv.On("iam", "ListMFADevices", q("ListMFADevices", `<MFADevices><member><UserName>alice</UserName><SerialNumber>arn:aws:iam::123456789012:mfa/alice</SerialNumber>
		<EnableDate>2024-01-01T00:00:00Z</EnableDate></member></MFADevices><IsTruncated>false</IsTruncated>`))
	srv.On("iam", "ListUserTags", q("ListUserTags", "<Tags>"+sc.tags+"</Tags><IsTruncated>false</IsTruncated>"))
	for _, op := range []string{"UpdateAccessKey", "PutUserPolicy", "TagUser", "UntagUser", "DeleteUserPolicy"} {
		srv.On("iam", op, q(op, ""))
	}
	srv.OnREST("securityhub", "BatchUpdateFindings", "PATCH", "/findings/batchupdate",
		awsfake.Reply(awsfake.JSONBody(map[string]any{"ProcessedFindings": []any{}, "UnprocessedFindings": []any{}})))
	return srv
}

func userFinding() *picket.Finding {
	return &picket.Finding{
		Key: "fk-d", ID: "gd-d", Source: picket.SourceGuardDuty, Title: "API called from a Tor exit node",
		ARN:        "arn:aws:guardduty:us-east-1:123456789012:detector/det-1/finding/gd-d",
		ProductARN: "arn:aws:securityhub:us-east-1::product/aws/guardduty",
		Type:       "UnauthorizedAccess:IAMUser/TorIPCaller", Severity: picket.SeverityHigh,
		Account: duAccount, Region: "us-east-1",
		FirstSeen: duNow.Add(-3 * time.Hour),
		Resources: []picket.Resource{
			{Kind: picket.ResourceAccessKey, ID: "AKIA1", UserName: duUser},
			{Kind: picket.ResourceIAMUser, ID: duUser, ARN: duUserARN},
		},
	}
}

func disableRequest(target picket.Resource, dryRun bool) picket.ActionRequest {
	return picket.ActionRequest{
		ID: "act-d1", Kind: picket.ActionDisableUser, FindingKey: "fk-d", Target: target,
		Account: duAccount, Region: "us-east-1", Actor: picket.Actor{ID: "U0ALICE", Name: "sam"}, DryRun: dryRun, At: duNow,
	}
}

var aliceTarget = picket.Resource{Kind: picket.ResourceIAMUser, ID: duUser, ARN: duUserARN}

func newDisable(srv *awsfake.Server) *actions.DisableUser {
	return &actions.DisableUser{Clients: principalClientsAt(srv), Now: func() time.Time { return duNow },
		Guard: actions.Guardrails{ProtectedUsers: []string{"break-glass-*"}}}
}

// planThenExecute plans req, fails the test on a refusal, and executes the
// plan with the recorded calls reset in between.
func planThenExecute(t *testing.T, srv *awsfake.Server, r picket.Responder, req picket.ActionRequest, f *picket.Finding) (picket.Plan, picket.ActionResult) {
	t.Helper()
	plan, err := r.Plan(context.Background(), req, f)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if plan.Refusal != "" {
		t.Fatalf("Plan refused: %s", plan.Refusal)
	}
	srv.Reset()
	return plan, r.Execute(context.Background(), plan, f)
}

// userCalls returns the recorded calls of one "service:Operation".
func userCalls(calls []awsfake.Call, op string) []awsfake.Call {
	var out []awsfake.Call
	for _, c := range calls {
		if c.Service+":"+c.Operation == op {
			out = append(out, c)
		}
	}
	return out
}

// changesState reports whether an operation changes something.
func changesState(op string) bool {
	_, name, _ := strings.Cut(op, ":")
	for _, p := range []string{"Get", "List", "Describe"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	return true
}

var userReads = []string{
	"iam:GetUser", "iam:ListAccessKeys", "iam:ListAttachedUserPolicies", "iam:ListUserPolicies",
	"iam:ListGroupsForUser", "iam:GetLoginProfile", "iam:ListMFADevices", "iam:ListUserTags",
}

func decodeUserEvidence(t *testing.T, res picket.ActionResult) actions.UserEvidence {
	t.Helper()
	var ev actions.UserEvidence
	if err := json.Unmarshal(res.Evidence, &ev); err != nil {
		t.Fatalf("decode evidence %s: %v", res.Evidence, err)
	}
	return ev
}

func TestDisableUserSuccess(t *testing.T) {
	srv := newUserFake(t, userScenario{
		keys:   keyXML("AKIA1", "Active") + keyXML("AKIA2", "Inactive"),
		inline: "<member>legacy-inline</member>", tags: userTagXML("team", "web"), loginProfile: true,
	})
	plan, res := planThenExecute(t, srv, newDisable(srv), disableRequest(aliceTarget, false), userFinding())

	t.Run("plan", func(t *testing.T) {
		var ops []string
		for _, s := range plan.Steps {
			ops = append(ops, s.Operation+" "+s.Description)
		}
		want := []string{"iam:GetUser", "iam:UpdateAccessKey", "iam:PutUserPolicy", "iam:TagUser", "securityhub:BatchUpdateFindings"}
		if len(ops) != len(want) {
			t.Fatalf("plan steps: got %q, want %q", ops, want)
		}
		for i, w := range want {
			if !strings.HasPrefix(ops[i], w+" ") {
				t.Errorf("plan step %d: got %q, want %s", i, ops[i], w)
			}
		}
		if !strings.Contains(ops[1], "AKIA1") {
			t.Errorf("plan step 1: got %q, want it to name AKIA1", ops[1])
		}
		if want := "Re-activate key AKIA1 and remove the inline policy picket-deny-all and the tags."; plan.Undo != want {
			t.Errorf("plan.Undo: got %q, want %q", plan.Undo, want)
		}
	})

	calls := srv.Calls()
	t.Run("operations in order", func(t *testing.T) {
		want := append(slices.Clone(userReads),
			"iam:UpdateAccessKey", "iam:PutUserPolicy", "iam:TagUser", "securityhub:BatchUpdateFindings")
		if got := srv.Operations(); !slices.Equal(got, want) {
			t.Errorf("operations:\ngot  %q\nwant %q", got, want)
		}
	})
	t.Run("only the active key is deactivated", func(t *testing.T) {
		up := userCalls(calls, "iam:UpdateAccessKey")
		if len(up) != 1 {
			t.Fatalf("UpdateAccessKey calls: got %d, want 1", len(up))
		}
		for name, want := range map[string]string{"UserName": duUser, "AccessKeyId": "AKIA1", "Status": "Inactive"} {
			if got := up[0].Param(name); got != want {
				t.Errorf("UpdateAccessKey %s: got %q, want %q", name, got, want)
			}
		}
	})
	t.Run("deny policy uses the injected clock", func(t *testing.T) {
		put := userCalls(calls, "iam:PutUserPolicy")[0]
		if got := put.Param("PolicyName"); got != "picket-deny-all" {
			t.Errorf("PolicyName: got %q, want picket-deny-all", got)
		}
		var doc struct {
			Version   string
			Statement []struct {
				Effect, Action, Resource string
				Condition                map[string]map[string]string
			}
		}
		if err := json.Unmarshal([]byte(put.Param("PolicyDocument")), &doc); err != nil {
			t.Fatalf("PolicyDocument %q: %v", put.Param("PolicyDocument"), err)
		}
		if doc.Version != "2012-10-17" || len(doc.Statement) != 1 {
			t.Fatalf("PolicyDocument: got %+v, want one statement, version 2012-10-17", doc)
		}
		s := doc.Statement[0]
		if s.Effect != "Deny" || s.Action != "*" || s.Resource != "*" {
			t.Errorf("statement: got %s %s on %s, want Deny * on *", s.Effect, s.Action, s.Resource)
		}
		if got, want := s.Condition["DateLessThan"]["aws:TokenIssueTime"], "2026-11-22T09:30:15Z"; got != want {
			t.Errorf("aws:TokenIssueTime: got %q, want %q", got, want)
		}
	})
	t.Run("tags", func(t *testing.T) {
		tag := userCalls(calls, "iam:TagUser")[0]
		got := map[string]string{tag.Param("Tags.member.1.Key"): tag.Param("Tags.member.1.Value"), tag.Param("Tags.member.2.Key"): tag.Param("Tags.member.2.Value")}
		want := map[string]string{"picket:case": "act-d1", "picket:disabled-by": "U0ALICE"}
		if len(got) != len(want) || got["picket:case"] != want["picket:case"] || got["picket:disabled-by"] != want["picket:disabled-by"] {
			t.Errorf("TagUser tags: got %v, want %v", got, want)
		}
	})
	t.Run("note", func(t *testing.T) {
		note := userCalls(calls, "securityhub:BatchUpdateFindings")[0]
		ids, _ := note.JSON["FindingIdentifiers"].([]any)
		if len(ids) != 1 {
			t.Fatalf("FindingIdentifiers: got %v, want one", note.JSON["FindingIdentifiers"])
		}
		id := ids[0].(map[string]any)
		if id["Id"] != userFinding().ARN || id["ProductArn"] != userFinding().ProductARN {
			t.Errorf("finding identifier: got %v, want Id %s and ProductArn %s", id, userFinding().ARN, userFinding().ProductARN)
		}
		text, _ := note.JSON["Note"].(map[string]any)["Text"].(string)
		if !strings.Contains(text, "act-d1") || !strings.Contains(text, "1 of 1 active access keys deactivated") {
			t.Errorf("note text: got %q, want the case and the keys", text)
		}
	})
	t.Run("result", func(t *testing.T) {
		if res.Outcome != picket.OutcomeSucceeded {
			t.Errorf("outcome: got %s, want succeeded (%s)", res.Outcome, res.Summary)
		}
		if want := "Disabled IAM user alice: 1 key deactivated, sessions revoked."; res.Summary != want {
			t.Errorf("summary: got %q, want %q", res.Summary, want)
		}
		if !strings.Contains(res.NextStep, "console password") {
			t.Errorf("next step: got %q, want a warning about the console password", res.NextStep)
		}
		if len(res.Steps) != len(calls) {
			t.Fatalf("steps: got %d, want one per call (%d)", len(res.Steps), len(calls))
		}
		for i, s := range res.Steps {
			if s.Status != picket.StepDone || s.RequestID == "" || s.RequestID != calls[i].RequestID {
				t.Errorf("step %d %s: got %s with request id %q, want done with %q", i, s.Operation, s.Status, s.RequestID, calls[i].RequestID)
			}
		}
	})
	t.Run("evidence", func(t *testing.T) {
		ev := decodeUserEvidence(t, res)
		if ev.UserID != "AIDAALICE" || ev.ARN != duUserARN || !ev.LoginProfile || len(ev.MFADevices) != 1 ||
			!slices.Equal(ev.Groups, []string{"devs"}) || !slices.Equal(ev.InlinePolicies, []string{"legacy-inline"}) ||
			!slices.Equal(ev.AttachedPolicies, []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}) || ev.Tags["team"] != "web" {
			t.Errorf("evidence state: got %+v", ev)
		}
		if len(ev.AccessKeys) != 2 || ev.AccessKeys[1].Status != "Inactive" {
			t.Errorf("evidence keys: got %+v, want AKIA1 Active and AKIA2 Inactive", ev.AccessKeys)
		}
		if !slices.Equal(ev.DeactivatedKeys, []string{"AKIA1"}) || !ev.PolicyAttached || ev.PolicyExisted ||
			!slices.Equal(ev.TagsSet, []string{"picket:case", "picket:disabled-by"}) {
			t.Errorf("evidence changes: got keys %v, attached %v, existed %v, tags %v", ev.DeactivatedKeys, ev.PolicyAttached, ev.PolicyExisted, ev.TagsSet)
		}
	})
}

func TestDisableUserDryRunWritesNothing(t *testing.T) {
	srv := newUserFake(t, userScenario{keys: keyXML("AKIA1", "Active") + keyXML("AKIA2", "Active")})
	_, res := planThenExecute(t, srv, newDisable(srv), disableRequest(aliceTarget, true), userFinding())
	for _, op := range srv.Operations() {
		if changesState(op) {
			t.Errorf("dry run called %s: got a write, want reads only", op)
		}
	}
	var dry []string
	for _, s := range res.Steps {
		if changesState(s.Operation) {
			if s.Status != picket.StepDryRun {
				t.Errorf("step %s: got %s, want dry_run", s.Operation, s.Status)
			}
			dry = append(dry, s.Operation)
		}
	}
	want := []string{"iam:UpdateAccessKey", "iam:UpdateAccessKey", "iam:PutUserPolicy", "iam:TagUser", "securityhub:BatchUpdateFindings"}
	if !slices.Equal(dry, want) {
		t.Errorf("dry-run steps: got %q, want %q", dry, want)
	}
	if res.Outcome != picket.OutcomeDryRunned {
		t.Errorf("outcome: got %s, want dry_run", res.Outcome)
	}
	if ev := decodeUserEvidence(t, res); len(ev.DeactivatedKeys) != 0 || ev.PolicyAttached || len(ev.TagsSet) != 0 {
		t.Errorf("dry-run evidence claims changes: %+v", ev)
	}
	if !strings.HasPrefix(res.Summary, "Dry run:") || !strings.Contains(res.Summary, "2 active access keys") {
		t.Errorf("summary: got %q, want a dry-run sentence naming 2 keys", res.Summary)
	}
}

func TestDisableUserRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sc      userScenario
		target  picket.Resource
		setup   func(*awsfake.Server)
		refusal string
		alt     picket.ActionKind
		ops     []string
	}{
		{
			name:    "root",
			target:  picket.Resource{Kind: picket.ResourceRoot, ID: duAccount, ARN: "arn:aws:iam::123456789012:root"},
			refusal: "The root user cannot be disabled by Picket; escalate instead",
			alt:     picket.ActionEscalate,
		},
		{
			name:    "protected by name",
			target:  picket.Resource{Kind: picket.ResourceIAMUser, ID: "break-glass-1"},
			refusal: `matches "break-glass-*"`,
			ops:     []string{"iam:GetUser", "iam:ListUserTags"},
		},
		{
			name:    "protected by tag",
			sc:      userScenario{tags: userTagXML("picket:protected", "true")},
			target:  aliceTarget,
			refusal: "tagged picket:protected=true",
			ops:     []string{"iam:GetUser", "iam:ListUserTags"},
		},
		{
			name:   "no such user",
			target: picket.Resource{Kind: picket.ResourceAccessKey, ID: "AKIA9", UserName: "ghost"},
			setup: func(srv *awsfake.Server) {
				srv.On("iam", "GetUser", awsfake.Reply(awsfake.QueryError("NoSuchEntity", "The user with name ghost cannot be found.")))
			},
			refusal: "IAM user ghost does not exist in account 123456789012",
			ops:     []string{"iam:GetUser"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newUserFake(t, tc.sc)
			if tc.setup != nil {
				tc.setup(srv)
			}
			d := newDisable(srv)
			plan, err := d.Plan(context.Background(), disableRequest(tc.target, false), userFinding())
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if !strings.Contains(plan.Refusal, tc.refusal) {
				t.Errorf("refusal: got %q, want it to contain %q", plan.Refusal, tc.refusal)
			}
			if plan.Alternative != tc.alt {
				t.Errorf("alternative: got %q, want %q", plan.Alternative, tc.alt)
			}
			if len(plan.Steps) != 0 {
				t.Errorf("steps: got %d, want none on a refusal", len(plan.Steps))
			}
			res := d.Execute(context.Background(), plan, userFinding())
			if res.Outcome != picket.OutcomeRefused {
				t.Errorf("Execute outcome: got %s, want refused", res.Outcome)
			}
			if got := srv.Operations(); !slices.Equal(got, tc.ops) {
				t.Errorf("operations: got %q, want %q (reads only)", got, tc.ops)
			}
		})
	}
}

func TestDisableUserPartialFailureTellsTheTruth(t *testing.T) {
	srv := newUserFake(t, userScenario{keys: keyXML("AKIA1", "Active") + keyXML("AKIA2", "Active")})
	srv.On("iam", "PutUserPolicy", awsfake.Reply(awsfake.QueryError("AccessDenied",
		"User: arn:aws:sts::123456789012:assumed-role/picket/bot is not authorized to perform: iam:PutUserPolicy")))
	_, res := planThenExecute(t, srv, newDisable(srv), disableRequest(aliceTarget, false), userFinding())

	want := append(slices.Clone(userReads), "iam:UpdateAccessKey", "iam:UpdateAccessKey", "iam:PutUserPolicy", "iam:TagUser", "securityhub:BatchUpdateFindings")
	if got := srv.Operations(); !slices.Equal(got, want) {
		t.Errorf("operations (the steps after the failure still run):\ngot  %q\nwant %q", got, want)
	}
	if res.Outcome != picket.OutcomePartial {
		t.Errorf("outcome: got %s, want partial", res.Outcome)
	}
	put := userCalls(srv.Calls(), "iam:PutUserPolicy")[0]
	var failed *picket.StepResult
	for i := range res.Steps {
		if res.Steps[i].Operation == "iam:PutUserPolicy" {
			failed = &res.Steps[i]
		}
	}
	if failed == nil || failed.Status != picket.StepFailed || failed.ErrorCode != "AccessDenied" || failed.RequestID != put.RequestID {
		t.Fatalf("PutUserPolicy step: got %+v, want failed with AccessDenied and request id %q", failed, put.RequestID)
	}
	if want := "Partly disabled alice: 2 of 2 keys deactivated; the deny policy could not be attached (AccessDenied)."; res.Summary != want {
		t.Errorf("summary: got %q, want %q", res.Summary, want)
	}
	if want := "Grant iam:PutUserPolicy to the Picket role or attach the policy by hand."; res.NextStep != want {
		t.Errorf("next step: got %q, want %q", res.NextStep, want)
	}
	ev := decodeUserEvidence(t, res)
	if ev.PolicyAttached || !slices.Equal(ev.DeactivatedKeys, []string{"AKIA1", "AKIA2"}) {
		t.Errorf("evidence: got attached %v keys %v, want not attached and both keys", ev.PolicyAttached, ev.DeactivatedKeys)
	}
}

func TestDisableUserUndoRestoresRecordedState(t *testing.T) {
	srv := newUserFake(t, userScenario{keys: keyXML("AKIA1", "Active") + keyXML("AKIA2", "Inactive"), tags: userTagXML("team", "web")})
	d := newDisable(srv)
	plan, res := planThenExecute(t, srv, d, disableRequest(aliceTarget, false), userFinding())
	if res.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("disable: got %s (%s), want succeeded", res.Outcome, res.Summary)
	}
	original := picket.ActionRecord{Request: plan.Request, Plan: plan, Status: res.Outcome, Result: &res}
	undoReq := picket.ActionRequest{ID: "act-u1", Kind: picket.ActionUndo, FindingKey: "fk-d", Target: aliceTarget,
		Account: duAccount, Region: "us-east-1", Actor: picket.Actor{ID: "U0BOB", Name: "bob"}, UndoOf: "act-d1"}

	srv.Reset()
	uplan, err := d.PlanUndo(context.Background(), original, undoReq)
	if err != nil || uplan.Refusal != "" {
		t.Fatalf("PlanUndo: %v %s", err, uplan.Refusal)
	}
	if got := srv.Operations(); !slices.Equal(got, []string{"iam:GetUser"}) {
		t.Errorf("PlanUndo operations: got %q, want only iam:GetUser", got)
	}
	srv.Reset()
	ures := d.ExecuteUndo(context.Background(), uplan, original)
	want := []string{"iam:UpdateAccessKey", "iam:DeleteUserPolicy", "iam:UntagUser", "securityhub:BatchUpdateFindings"}
	if got := srv.Operations(); !slices.Equal(got, want) {
		t.Fatalf("undo operations: got %q, want %q", got, want)
	}
	calls := srv.Calls()
	if c := calls[0]; c.Param("AccessKeyId") != "AKIA1" || c.Param("Status") != "Active" {
		t.Errorf("UpdateAccessKey: got %s %s, want AKIA1 Active (AKIA2 was inactive before and stays so)", c.Param("AccessKeyId"), c.Param("Status"))
	}
	if got := calls[1].Param("PolicyName"); got != "picket-deny-all" {
		t.Errorf("DeleteUserPolicy: got %q, want picket-deny-all", got)
	}
	form := calls[2].Form
	if got := []string{form.Get("TagKeys.member.1"), form.Get("TagKeys.member.2")}; !slices.Equal(got, []string{"picket:case", "picket:disabled-by"}) {
		t.Errorf("UntagUser keys: got %q, want the picket tags", got)
	}
	if ures.Outcome != picket.OutcomeSucceeded || !strings.HasPrefix(ures.Summary, "Restored IAM user alice: 1 key re-activated, deny policy removed") {
		t.Errorf("undo result: got %s %q", ures.Outcome, ures.Summary)
	}
	for _, s := range ures.Steps {
		if s.RequestID == "" {
			t.Errorf("undo step %s: got no request id, want one", s.Operation)
		}
	}
}

func TestDisableUserUndoRefusals(t *testing.T) {
	srv := newUserFake(t, userScenario{})
	d := newDisable(srv)
	evidence, _ := json.Marshal(actions.UserEvidence{UserName: duUser, DeactivatedKeys: []string{"AKIA1"}, PolicyName: "picket-deny-all"})
	for _, tc := range []struct {
		name string
		rec  picket.ActionRecord
		want string
	}{
		{"never ran", picket.ActionRecord{Request: picket.ActionRequest{Kind: picket.ActionDisableUser}}, "has not run"},
		{"failed", picket.ActionRecord{Request: picket.ActionRequest{Kind: picket.ActionDisableUser},
			Result: &picket.ActionResult{Outcome: picket.OutcomeFailed, Evidence: evidence}}, "ended failed"},
		{"dry run", picket.ActionRecord{Request: picket.ActionRequest{Kind: picket.ActionDisableUser},
			Result: &picket.ActionResult{Outcome: picket.OutcomeDryRunned, Evidence: evidence}}, "ended dry run"},
		{"no evidence", picket.ActionRecord{Request: picket.ActionRequest{Kind: picket.ActionDisableUser},
			Result: &picket.ActionResult{Outcome: picket.OutcomeSucceeded}}, "no record of the user's state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := d.PlanUndo(context.Background(), tc.rec, picket.ActionRequest{ID: "u", Kind: picket.ActionUndo})
			if err != nil {
				t.Fatalf("PlanUndo: %v", err)
			}
			if !strings.Contains(plan.Refusal, tc.want) {
				t.Errorf("refusal: got %q, want it to contain %q", plan.Refusal, tc.want)
			}
		})
	}
	if got := srv.Operations(); len(got) != 0 {
		t.Errorf("operations: got %q, want none", got)
	}
}
