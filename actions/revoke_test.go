package actions_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
	"github.com/picketsec/picket/event"
	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/store"
)

const (
	webRole    = "web-role"
	webRoleARN = "arn:aws:iam::123456789012:role/app/web-role"
	webRoleID  = "AROAWEBROLE0000000001"
)

// roleScenario describes the role the fake IAM reports.
type roleScenario struct {
	tags     string // <member> elements of Tags
	policies string // <member> elements of PolicyNames
	tagsErr  bool   // ListRoleTags fails
}

// newRoleFake registers the IAM and Security Hub calls a revoke and its
// undo make, for role web-role. No IAM user call is registered: one would
// fail the test.
func newRoleFake(t *testing.T, sc roleScenario) *awsfake.Server {
	t.Helper()
	srv := awsfake.New(t)
	q := func(op, inner string) awsfake.Handler { return awsfake.Reply(awsfake.QueryResult(op, inner)) }
	srv.On("iam", "GetRole", q("GetRole", `<Role><Path>/app/</Path><RoleName>web-role</RoleName><RoleId>`+webRoleID+`</RoleId>
		<Arn>`+webRoleARN+`</Arn><CreateDate>2024-05-06T07:08:09Z</CreateDate></Role>`))
	if sc.tagsErr {
		srv.On("iam", "ListRoleTags", awsfake.Reply(awsfake.QueryError("AccessDenied", "not allowed")))
	} else {
		srv.On("iam", "ListRoleTags", q("ListRoleTags", "<Tags>"+sc.tags+"</Tags><IsTruncated>false</IsTruncated>"))
	}
	srv.On("iam", "ListRolePolicies", q("ListRolePolicies", "<PolicyNames>"+sc.policies+"</PolicyNames><IsTruncated>false</IsTruncated>"))
	for _, op := range []string{"PutRolePolicy", "DeleteRolePolicy"} {
		srv.On("iam", op, q(op, ""))
	}
	srv.OnREST("securityhub", "BatchUpdateFindings", "PATCH", "/findings/batchupdate",
		awsfake.Reply(awsfake.JSONBody(map[string]any{"ProcessedFindings": []any{}, "UnprocessedFindings": []any{}})))
	return srv
}

// sessionFinding is the GuardDuty sample finding as an exfiltrated
// assumed-role session would give it: a temporary key of role web-role
// whose session is named like an IAM user ("alice"), decoded by package
// event.
func sessionFinding(t *testing.T, userType, userName, key, principalID string) *picket.Finding {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "finding_Recon_IAMUser_MaliciousIPCaller.Custom_ARCHIVED__aws-samples-gd-response.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	ak := m["resource"].(map[string]any)["accessKeyDetails"].(map[string]any)
	ak["userType"], ak["userName"], ak["accessKeyId"], ak["principalId"] = userType, userName, key, principalID
	m["service"].(map[string]any)["archived"] = false
	// One finding per principal, so that several can sit in one store.
	m["id"] = "f-" + strings.ToLower(userType)
	m["arn"] = "arn:aws:guardduty:us-east-1:123456789012:detector/123456789012/finding/" + m["id"].(string)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	fs, err := event.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return &fs[0]
}

func assumedRoleFinding(t *testing.T) *picket.Finding {
	return sessionFinding(t, "AssumedRole", webRole, "ASIAEXFILTRATED0001", webRoleID+":alice")
}

// newRealService is a Service over a store holding f, with the real
// Disable user and Revoke role sessions responders acting through srv.
func newRealService(t *testing.T, srv *awsfake.Server, fs ...*picket.Finding) (*actions.Service, *store.DB) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "picket.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, f := range fs {
		if err := db.PutFinding(picket.FindingRecord{Finding: *f}); err != nil {
			t.Fatal(err)
		}
	}
	return newServiceOver(t, srv, db), db
}

func newServiceOver(t *testing.T, srv *awsfake.Server, db *store.DB) *actions.Service {
	t.Helper()
	now := func() time.Time { return duNow }
	guard := actions.Guardrails{ProtectedUsers: []string{"break-glass-*"}, ProtectedRoles: []string{"OrganizationAccountAccessRole"}}
	disable := &actions.DisableUser{Clients: principalClientsAt(srv), Now: now, Guard: guard}
	revoke := &actions.RevokeSessions{Clients: principalClientsAt(srv), Now: now, Guard: guard}
	svc, err := actions.NewService(actions.ServiceOptions{
		Policy: actions.Policy{Roles: []actions.Role{{Name: "responders", Users: []string{alice.ID, bob.ID}, Actions: []string{"*"}}}},
		Responders: map[picket.ActionKind]picket.Responder{
			picket.ActionDisableUser: disable, picket.ActionRevokeSessions: revoke, picket.ActionEscalate: &fakeResponder{},
		},
		Undoers:  map[picket.ActionKind]actions.Undoer{picket.ActionDisableUser: disable, picket.ActionRevokeSessions: revoke},
		Findings: db, Actions: db, Audit: db, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestAssumedRoleIsNeverDisabledAsUser checks that a finding about an
// assumed-role session whose session name equals an IAM user's name offers
// no Disable user: the role's sessions are revoked instead, on the role the
// session's issuer names, and no IAM user is read or touched.
func TestAssumedRoleIsNeverDisabledAsUser(t *testing.T) {
	srv := newRoleFake(t, roleScenario{policies: "<member>app-inline</member>"})
	f := assumedRoleFinding(t)
	svc, _ := newRealService(t, srv, f)
	ctx := context.Background()

	_, err := svc.Prepare(ctx, alice, picket.ActionDisableUser, f.Key, "", "")
	if picket.ErrorCode(err) != picket.EINVALID {
		t.Fatalf("Prepare Disable user: got %v, want %s (no IAM user in the finding)", err, picket.EINVALID)
	}
	_, err = svc.Prepare(ctx, alice, picket.ActionDisableUser, f.Key, "alice", "")
	if picket.ErrorCode(err) != picket.EINVALID {
		t.Fatalf("Prepare Disable user of the session name: got %v, want %s", err, picket.EINVALID)
	}

	plan, err := svc.Prepare(ctx, alice, picket.ActionRevokeSessions, f.Key, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if plan.Refusal != "" {
		t.Fatalf("plan refused: %s", plan.Refusal)
	}
	if len(plan.Steps) != 3 || plan.Steps[0].Operation != "iam:GetRole" || plan.Steps[1].Operation != "iam:PutRolePolicy" ||
		plan.Steps[2].Operation != "securityhub:BatchUpdateFindings" {
		t.Fatalf("plan steps: got %+v, want GetRole, PutRolePolicy, BatchUpdateFindings", plan.Steps)
	}
	if !strings.Contains(plan.Steps[0].Description, webRoleARN) || !strings.Contains(plan.Steps[0].Description, "session is alice") {
		t.Errorf("plan step 0: got %q, want the role ARN IAM resolves and the session name", plan.Steps[0].Description)
	}
	if want := "Remove the inline policy picket-revoke-older-sessions from role web-role."; plan.Undo != want {
		t.Errorf("plan.Undo: got %q, want %q", plan.Undo, want)
	}
	srv.Reset()
	res, err := svc.Run(ctx, plan.Request.ID, alice, picket.RunInput{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("outcome: got %s (%s), want succeeded", res.Outcome, res.Summary)
	}
	wantOps := []string{"iam:GetRole", "iam:ListRoleTags", "iam:ListRolePolicies", "iam:PutRolePolicy", "securityhub:BatchUpdateFindings"}
	if got := srv.Operations(); !slices.Equal(got, wantOps) {
		t.Fatalf("operations: got %q, want %q", got, wantOps)
	}
	for _, c := range srv.Calls()[:4] {
		if got := c.Param("RoleName"); got != webRole {
			t.Errorf("%s RoleName: got %q, want %q (never the session name)", c.Operation, got, webRole)
		}
	}
	put := srv.Calls()[3]
	if got := put.Param("PolicyName"); got != actions.DefaultRevokePolicyName {
		t.Errorf("PolicyName: got %q, want %s", got, actions.DefaultRevokePolicyName)
	}
	var doc struct {
		Statement []struct {
			Effect, Action, Resource string
			Condition                map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(put.Param("PolicyDocument")), &doc); err != nil || len(doc.Statement) != 1 {
		t.Fatalf("PolicyDocument %q: %v", put.Param("PolicyDocument"), err)
	}
	s := doc.Statement[0]
	if s.Effect != "Deny" || s.Action != "*" || s.Resource != "*" || s.Condition["DateLessThan"]["aws:TokenIssueTime"] != "2026-11-22T09:30:15Z" {
		t.Errorf("statement: got %+v, want Deny * on * for tokens issued before 2026-11-22T09:30:15Z", s)
	}
	if !strings.HasPrefix(res.Summary, "Revoked the sessions of IAM role web-role issued before 09:30:15 UTC") {
		t.Errorf("summary: got %q", res.Summary)
	}

	// Undo removes exactly that policy.
	undo, err := svc.Prepare(ctx, alice, picket.ActionUndo, "", "", plan.Request.ID)
	if err != nil || undo.Refusal != "" {
		t.Fatalf("Prepare undo: %v %s", err, undo.Refusal)
	}
	srv.Reset()
	ures, err := svc.Run(ctx, undo.Request.ID, alice, picket.RunInput{})
	if err != nil || ures.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("undo: %v %s (%s)", err, ures.Outcome, ures.Summary)
	}
	del := srv.Calls()
	if len(del) != 2 || del[0].Operation != "DeleteRolePolicy" || del[0].Param("RoleName") != webRole || del[0].Param("PolicyName") != actions.DefaultRevokePolicyName {
		t.Errorf("undo calls: got %+v, want one DeleteRolePolicy of %s on %s", srv.Operations(), actions.DefaultRevokePolicyName, webRole)
	}
}

func revokeRequest(f *picket.Finding, dryRun bool) picket.ActionRequest {
	var target picket.Resource
	for _, r := range f.Resources {
		if r.Kind == picket.ResourceRoleSession {
			target = r
		}
	}
	return picket.ActionRequest{ID: "act-r1", Kind: picket.ActionRevokeSessions, FindingKey: f.Key, Target: target,
		Account: f.Account, Region: f.Region, Actor: alice, DryRun: dryRun, At: duNow}
}

func newRevoke(srv *awsfake.Server) *actions.RevokeSessions {
	return &actions.RevokeSessions{Clients: principalClientsAt(srv), Now: func() time.Time { return duNow },
		Guard: actions.Guardrails{ProtectedRoles: []string{"OrganizationAccountAccessRole"}}}
}

// TestRevokeSessionsRefuses checks the guardrails: protected roles, a role
// whose tags cannot be read (fail closed), a principal id of another role,
// and an existing policy of the same name.
func TestRevokeSessionsRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sc      roleScenario
		f       func(t *testing.T) *picket.Finding
		refusal string
	}{
		{"protected by tag", roleScenario{tags: userTagXML("picket:protected", "true")}, assumedRoleFinding, "tagged picket:protected=true"},
		{"tags unreadable", roleScenario{tagsErr: true}, assumedRoleFinding, "could not read the tags of IAM role web-role (AccessDenied)"},
		{"protected by name", roleScenario{}, func(t *testing.T) *picket.Finding {
			f := sessionFinding(t, "AssumedRole", "OrganizationAccountAccessRole", "ASIA1", webRoleID+":x")
			return f
		}, "is protected"},
		{"session of another role", roleScenario{}, func(t *testing.T) *picket.Finding {
			return sessionFinding(t, "AssumedRole", webRole, "ASIA1", "AROAOTHERROLE000000001:alice")
		}, "does not belong to IAM role web-role"},
		{"policy already there", roleScenario{policies: "<member>picket-revoke-older-sessions</member>"}, assumedRoleFinding, "will not overwrite it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRoleFake(t, tc.sc)
			f := tc.f(t)
			r := newRevoke(srv)
			plan, err := r.Plan(context.Background(), revokeRequest(f, false), f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(plan.Refusal, tc.refusal) {
				t.Fatalf("plan refusal: got %q, want it to contain %q", plan.Refusal, tc.refusal)
			}
			// Execute checks again with what it reads, whatever plan it is
			// handed: a plan made before the role was protected does not
			// bypass the guardrails.
			res := r.Execute(context.Background(), picket.Plan{Request: revokeRequest(f, false)}, f)
			if res.Outcome != picket.OutcomeRefused || !strings.Contains(res.Summary, tc.refusal) {
				t.Errorf("execute: got %s %q, want refused with %q", res.Outcome, res.Summary, tc.refusal)
			}
			for _, op := range srv.Operations() {
				if changesState(op) {
					t.Errorf("refused revoke called %s", op)
				}
			}
		})
	}
}

func TestRevokeSessionsDryRunWritesNothing(t *testing.T) {
	srv := newRoleFake(t, roleScenario{})
	f := assumedRoleFinding(t)
	res := newRevoke(srv).Execute(context.Background(), picket.Plan{Request: revokeRequest(f, true)}, f)
	if res.Outcome != picket.OutcomeDryRunned {
		t.Errorf("outcome: got %s (%s), want dry_run", res.Outcome, res.Summary)
	}
	for _, op := range srv.Operations() {
		if changesState(op) {
			t.Errorf("dry run called %s", op)
		}
	}
}

// TestRootAndFederatedAreEscalated checks that root and federated
// principals are never planned as an IAM user: Disable user refuses root
// and points to Escalate, and finds nothing to disable for a federated
// user.
func TestRootAndFederatedAreEscalated(t *testing.T) {
	srv := awsfake.New(t) // no IAM call may be made
	root := sessionFinding(t, "Root", "Root", "AKIAROOTKEY000000001", "123456789012")
	fed := sessionFinding(t, "FederatedUser", "alice", "ASIAFEDERATED0000001", "123456789012:alice")
	svc, _ := newRealService(t, srv, root, fed)
	ctx := context.Background()

	plan, err := svc.Prepare(ctx, alice, picket.ActionDisableUser, root.Key, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if plan.Refusal == "" || plan.Alternative != picket.ActionEscalate || len(plan.Steps) != 0 {
		t.Errorf("root plan: got refusal %q, alternative %q, %d steps; want a refusal pointing to escalate", plan.Refusal, plan.Alternative, len(plan.Steps))
	}
	if strings.Contains(plan.Refusal, "IAM user Root") || plan.Request.Target.Kind != picket.ResourceRoot {
		t.Errorf("root plan: got target %+v, refusal %q; want the root user, never an IAM user named Root", plan.Request.Target, plan.Refusal)
	}
	for _, target := range []string{"", "alice"} {
		if _, err := svc.Prepare(ctx, alice, picket.ActionDisableUser, fed.Key, target, ""); picket.ErrorCode(err) != picket.EINVALID {
			t.Errorf("federated, target %q: got %v, want %s", target, err, picket.EINVALID)
		}
	}
	if ops := srv.Operations(); len(ops) != 0 {
		t.Errorf("AWS calls: got %q, want none", ops)
	}
}
