package actions_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
	"github.com/picketsec/picket/internal/awsfake"
)

const (
	sDetector   = "det-1"
	sRuleARN    = "arn:aws:securityhub:us-east-1:123456789012:automation-rule/rule-1"
	sGDProduct  = "arn:aws:securityhub:us-east-1::product/aws/guardduty"
	sSHProduct  = "arn:aws:securityhub:us-east-1::product/aws/securityhub"
	sGDARN      = "arn:aws:guardduty:us-east-1:123456789012:detector/det-1/finding/gd-7"
	sASFFID     = "arn:aws:securityhub:us-east-1:123456789012:subscription/cis/1.4.0/1.10/finding/f-1"
	sASFFRawRes = "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc"
)

// newSuppressFake registers the GuardDuty and Security Hub calls Suppress
// and Lift make, with the paths of the SDK's REST serializers.
func newSuppressFake(t *testing.T) *awsfake.Server {
	t.Helper()
	srv := awsfake.New(t)
	srv.OnREST("guardduty", "ListDetectors", "GET", "/detector",
		awsfake.Reply(awsfake.JSONBody(map[string]any{"detectorIds": []string{sDetector}})))
	srv.OnREST("guardduty", "ArchiveFindings", "POST", "/detector/{DetectorId}/findings/archive",
		awsfake.Reply(awsfake.JSONBody(map[string]any{})))
	srv.OnREST("guardduty", "CreateFilter", "POST", "/detector/{DetectorId}/filter", func(r *awsfake.Request) awsfake.Response {
		return awsfake.JSONBody(map[string]any{"name": r.JSON["name"]})
	})
	srv.OnREST("guardduty", "DeleteFilter", "DELETE", "/detector/{DetectorId}/filter/{FilterName}",
		awsfake.Reply(awsfake.JSONBody(map[string]any{})))
	srv.OnREST("securityhub", "BatchUpdateFindings", "PATCH", "/findings/batchupdate",
		awsfake.Reply(awsfake.JSONBody(map[string]any{"ProcessedFindings": []any{}, "UnprocessedFindings": []any{}})))
	srv.OnREST("securityhub", "CreateAutomationRule", "POST", "/automationrules/create",
		awsfake.Reply(awsfake.JSONBody(map[string]any{"RuleArn": sRuleARN})))
	srv.OnREST("securityhub", "BatchDeleteAutomationRules", "POST", "/automationrules/delete",
		awsfake.Reply(awsfake.JSONBody(map[string]any{"ProcessedAutomationRules": []string{sRuleARN}})))
	return srv
}

func testGuardDutyFinding(inSecurityHub bool) *picket.Finding {
	f := &picket.Finding{
		Key: "fk-gd", ID: "gd-7", Source: picket.SourceGuardDuty, ARN: sGDARN,
		Type: "Recon:EC2/PortProbeUnprotectedPort", Account: qAccount, Region: "us-east-1",
		Resources: []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: qInstance}},
	}
	if inSecurityHub {
		f.ProductARN = sGDProduct
	}
	return f
}

func testSecurityHubFinding() *picket.Finding {
	return &picket.Finding{
		Key: "fk-sh", ID: sASFFID, Source: picket.SourceSecurityHub, ProductARN: sSHProduct,
		Type:    "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark",
		Account: qAccount, Region: "us-east-1",
		Resources: []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: qInstance}},
		Raw:       json.RawMessage(`{"GeneratorId":"arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.10","Resources":[{"Type":"AwsEc2Instance","Id":"` + sASFFRawRes + `"}]}`),
	}
}

func testSuppressRequest(f *picket.Finding, similar, dryRun bool) picket.ActionRequest {
	req := picket.ActionRequest{
		ID: "act-s1", Kind: picket.ActionSuppress, FindingKey: f.Key, Target: f.Resources[0],
		Account: f.Account, Region: f.Region, Actor: picket.Actor{ID: "U0CAROL", Name: "carol"},
		Reason: "approved scanner", Similar: similar, DryRun: dryRun,
	}
	if similar {
		req.Until = stoppedClock()().Add(7 * 24 * time.Hour)
	}
	return req
}

// runSuppress plans and executes req on f, returning the result and the calls
// Execute made.
func runSuppress(t *testing.T, srv *awsfake.Server, req picket.ActionRequest, f *picket.Finding) (picket.Plan, picket.ActionResult, []awsfake.Call) {
	t.Helper()
	s := &actions.Suppress{Clients: realClientsAt(srv), Now: stoppedClock()}
	plan, err := s.Plan(context.Background(), req, f)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if plan.Refusal != "" {
		t.Fatalf("Plan refused: %s", plan.Refusal)
	}
	if n := len(srv.Calls()); n != 0 {
		t.Fatalf("Plan made %d AWS calls (%v), want none", n, srv.Operations())
	}
	res := s.Execute(context.Background(), plan, f)
	return plan, res, srv.Calls()
}

// jsonAt walks decoded JSON by object keys and array indexes.
func jsonAt(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func decodeSuppression(t *testing.T, res picket.ActionResult) actions.SuppressionEvidence {
	t.Helper()
	var ev actions.SuppressionEvidence
	if err := json.Unmarshal(res.Evidence, &ev); err != nil {
		t.Fatalf("evidence %s: %v", res.Evidence, err)
	}
	return ev
}

func TestSuppressOneFinding(t *testing.T) {
	tests := []struct {
		name    string
		finding *picket.Finding
		ops     []string
		shID    string // Security Hub identifier, "" when not updated
		archive bool
	}{
		{"security hub", testSecurityHubFinding(), []string{"securityhub:BatchUpdateFindings"}, sASFFID, false},
		{"guardduty only", testGuardDutyFinding(false), []string{"guardduty:ListDetectors", "guardduty:ArchiveFindings"}, "", true},
		{"guardduty in security hub", testGuardDutyFinding(true),
			[]string{"guardduty:ListDetectors", "guardduty:ArchiveFindings", "securityhub:BatchUpdateFindings"}, sGDARN, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSuppressFake(t)
			_, res, calls := runSuppress(t, srv, testSuppressRequest(tt.finding, false, false), tt.finding)
			if got := awsOps(calls); !slices.Equal(got, tt.ops) {
				t.Fatalf("operations = %v, want %v", got, tt.ops)
			}
			if res.Outcome != picket.OutcomeSucceeded {
				t.Fatalf("outcome = %s, want succeeded; steps %v", res.Outcome, stepStatuses(res.Steps))
			}
			if tt.archive {
				a := callsOf(calls, "guardduty:ArchiveFindings")[0]
				if a.PathParams["DetectorId"] != sDetector || a.Param("findingIds") != `["gd-7"]` {
					t.Errorf("archive detector %q findings %s, want %s and [gd-7]", a.PathParams["DetectorId"], a.Param("findingIds"), sDetector)
				}
			}
			if tt.shID != "" {
				u := callsOf(calls, "securityhub:BatchUpdateFindings")[0].JSON
				checks := []struct {
					name string
					path []any
					want any
				}{
					{"finding id", []any{"FindingIdentifiers", 0, "Id"}, tt.shID},
					{"product arn", []any{"FindingIdentifiers", 0, "ProductArn"}, tt.finding.ProductARN},
					{"one finding", []any{"FindingIdentifiers", 1}, nil},
					{"workflow", []any{"Workflow", "Status"}, "SUPPRESSED"},
					{"note by", []any{"Note", "UpdatedBy"}, "Picket for carol"},
				}
				for _, c := range checks {
					if got := jsonAt(u, c.path...); got != c.want {
						t.Errorf("%s: got %v, want %v", c.name, got, c.want)
					}
				}
				note, _ := jsonAt(u, "Note", "Text").(string)
				for _, want := range []string{"approved scanner", "carol", "U0CAROL", "act-s1"} {
					if !strings.Contains(note, want) {
						t.Errorf("note %q does not mention %q", note, want)
					}
				}
			}
			// A one-finding suppression keeps a record that matches
			// nothing in triage, with the finding's suppressed states for
			// Undo and the expiry, and no rule in AWS.
			ev := decodeSuppression(t, res)
			if sup := ev.Suppression; sup == nil || !sup.OneFinding || len(sup.Remote) != 0 || sup.RequestID != "act-s1" {
				t.Fatalf("one-finding suppression record = %+v, want OneFinding, request act-s1, no remote rules", sup)
			}
			var kinds []string
			for _, r := range ev.Suppression.Suppressed {
				kinds = append(kinds, r.Kind)
			}
			var wantKinds []string
			for _, op := range tt.ops {
				switch op {
				case "guardduty:ArchiveFindings":
					wantKinds = append(wantKinds, actions.RemoteGuardDutyArchive)
				case "securityhub:BatchUpdateFindings":
					wantKinds = append(wantKinds, actions.RemoteSecurityHubWorkflow)
				}
			}
			if !slices.Equal(kinds, wantKinds) {
				t.Errorf("suppressed states = %v, want %v (one per suppressing call)", kinds, wantKinds)
			}
			if ev.Suppression.Matches(tt.finding, time.Time{}) {
				t.Error("a one-finding suppression matches in triage")
			}
		})
	}
}

func TestSuppressSimilarGuardDutyCreatesFilter(t *testing.T) {
	srv := newSuppressFake(t)
	f := testGuardDutyFinding(true)
	req := testSuppressRequest(f, true, false)
	plan, res, calls := runSuppress(t, srv, req, f)
	want := []string{"guardduty:ListDetectors", "guardduty:ArchiveFindings", "guardduty:CreateFilter", "securityhub:BatchUpdateFindings"}
	if got := awsOps(calls); !slices.Equal(got, want) {
		t.Fatalf("operations = %v, want %v", got, want)
	}
	var planned []string
	for _, s := range plan.Steps {
		planned = append(planned, s.Operation)
	}
	if !slices.Equal(planned, want) {
		t.Errorf("planned %v, want exactly the calls made, %v (a GuardDuty filter, no Security Hub rule)", planned, want)
	}
	cf := callsOf(calls, "guardduty:CreateFilter")[0]
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"detector", cf.PathParams["DetectorId"], sDetector},
		{"name", cf.JSON["name"], "picket-s1"},
		{"action", cf.JSON["action"], "ARCHIVE"},
		{"type", jsonAt(cf.JSON, "findingCriteria", "criterion", "type", "equals", 0), f.Type},
		{"account", jsonAt(cf.JSON, "findingCriteria", "criterion", "accountId", "equals", 0), qAccount},
		{"instance", jsonAt(cf.JSON, "findingCriteria", "criterion", "resource.instanceDetails.instanceId", "equals", 0), qInstance},
		{"client token", cf.JSON["clientToken"], "act-s1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("CreateFilter %s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	desc, _ := cf.JSON["description"].(string)
	if !strings.Contains(desc, "approved scanner") || !strings.Contains(desc, "2026-11-29T09:00:00Z") {
		t.Errorf("filter description %q, want the reason and the expiry", desc)
	}
	ev := decodeSuppression(t, res)
	sup := ev.Suppression
	if sup == nil {
		t.Fatal("no local rule in the evidence")
	}
	wantSup := picket.Suppression{
		ID: "sup-act-s1", FindingKey: "fk-gd", Source: picket.SourceGuardDuty, Type: f.Type, Account: qAccount,
		Region: "us-east-1", ResourceID: qInstance, Reason: "approved scanner",
		Remote: []picket.RemoteRule{{Kind: actions.RemoteGuardDutyFilter, ID: "picket-s1", Account: qAccount, Region: "us-east-1", DetectorID: sDetector}},
	}
	if sup.ID != wantSup.ID || sup.FindingKey != wantSup.FindingKey || sup.Source != wantSup.Source || sup.Type != wantSup.Type ||
		sup.Account != wantSup.Account || sup.Region != wantSup.Region || sup.ResourceID != wantSup.ResourceID ||
		sup.Reason != wantSup.Reason || !slices.Equal(sup.Remote, wantSup.Remote) || !sup.Until.Equal(req.Until) || sup.Actor.ID != "U0CAROL" {
		t.Errorf("local rule:\n got %+v\nwant %+v (until %s)", *sup, wantSup, req.Until)
	}
	// The rule the Service saves matches the next finding like this one.
	next := testGuardDutyFinding(true)
	next.ID, next.Key = "gd-8", "fk-gd-8"
	if !sup.Matches(next, stoppedClock()().Add(time.Hour)) || sup.Matches(next, req.Until.Add(time.Minute)) {
		t.Error("local rule does not match a similar finding before expiry, or still matches after")
	}
	// The Service reads the evidence as {"suppression": {...}}.
	var service struct {
		Suppression *picket.Suppression `json:"suppression"`
	}
	if json.Unmarshal(res.Evidence, &service); service.Suppression == nil || service.Suppression.ID != "sup-act-s1" {
		t.Errorf("evidence %s does not carry the rule under \"suppression\"", res.Evidence)
	}
}

func TestSuppressSimilarSecurityHubCreatesAutomationRule(t *testing.T) {
	srv := newSuppressFake(t)
	f := testSecurityHubFinding()
	_, res, calls := runSuppress(t, srv, testSuppressRequest(f, true, false), f)
	want := []string{"securityhub:BatchUpdateFindings", "securityhub:CreateAutomationRule"}
	if got := awsOps(calls); !slices.Equal(got, want) {
		t.Fatalf("operations = %v, want %v", got, want)
	}
	r := callsOf(calls, "securityhub:CreateAutomationRule")[0].JSON
	checks := []struct {
		name string
		path []any
		want any
	}{
		{"name", []any{"RuleName"}, "picket-s1"},
		{"order", []any{"RuleOrder"}, float64(1000)},
		{"enabled", []any{"RuleStatus"}, "ENABLED"},
		{"product", []any{"Criteria", "ProductArn", 0, "Value"}, sSHProduct},
		{"account", []any{"Criteria", "AwsAccountId", 0, "Value"}, qAccount},
		{"generator from the raw finding", []any{"Criteria", "GeneratorId", 0, "Value"}, "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.10"},
		{"type", []any{"Criteria", "Type", 0, "Value"}, f.Type},
		{"resource as Security Hub spells it", []any{"Criteria", "ResourceId", 0, "Value"}, sASFFRawRes},
		{"comparison", []any{"Criteria", "ResourceId", 0, "Comparison"}, "EQUALS"},
		{"action type", []any{"Actions", 0, "Type"}, "FINDING_FIELDS_UPDATE"},
		{"action workflow", []any{"Actions", 0, "FindingFieldsUpdate", "Workflow", "Status"}, "SUPPRESSED"},
		// The bot role may create a rule only with this tag, and delete
		// only rules that carry it (deploy/iam-policy.json).
		{"tagged as Picket's", []any{"Tags", "picket:managed"}, "true"},
	}
	for _, c := range checks {
		if got := jsonAt(r, c.path...); got != c.want {
			t.Errorf("CreateAutomationRule %s: got %v, want %v", c.name, got, c.want)
		}
	}
	if note, _ := jsonAt(r, "Actions", 0, "FindingFieldsUpdate", "Note", "Text").(string); !strings.Contains(note, "approved scanner") {
		t.Errorf("rule note %q, want the reason", note)
	}
	ev := decodeSuppression(t, res)
	if ev.Suppression == nil || len(ev.Suppression.Remote) != 1 ||
		ev.Suppression.Remote[0] != (picket.RemoteRule{Kind: actions.RemoteSecurityHubAutomation, ID: sRuleARN, Account: qAccount, Region: "us-east-1"}) {
		t.Fatalf("evidence rule = %+v, want the automation rule ARN as its remote rule", ev.Suppression)
	}
}

func TestSuppressRefusals(t *testing.T) {
	now := stoppedClock()()
	tests := []struct {
		name    string
		edit    func(*picket.ActionRequest)
		finding *picket.Finding
		want    string
	}{
		{"similar without reason", func(r *picket.ActionRequest) { r.Reason = "" }, testGuardDutyFinding(true), "needs a reason"},
		{"blank reason", func(r *picket.ActionRequest) { r.Reason = "   " }, testGuardDutyFinding(true), "needs a reason"},
		{"similar without expiry", func(r *picket.ActionRequest) { r.Until = time.Time{} }, testGuardDutyFinding(true), "needs an expiry"},
		{"expiry in the past", func(r *picket.ActionRequest) { r.Until = now.Add(-time.Hour) }, testSecurityHubFinding(), "in the past"},
		{"nowhere to suppress", func(r *picket.ActionRequest) { r.Similar, r.Until = false, time.Time{} },
			&picket.Finding{Key: "fk-x", ID: "x", Source: "inspector", Account: qAccount, Region: "us-east-1",
				Resources: []picket.Resource{{Kind: picket.ResourceOther, ID: "r"}}}, "cannot reach"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSuppressFake(t)
			s := &actions.Suppress{Clients: realClientsAt(srv), Now: stoppedClock()}
			req := testSuppressRequest(tt.finding, true, false)
			tt.edit(&req)
			plan, err := s.Plan(context.Background(), req, tt.finding)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if !strings.Contains(plan.Refusal, tt.want) || len(plan.Steps) != 0 {
				t.Fatalf("refusal %q with %d steps, want one saying %q", plan.Refusal, len(plan.Steps), tt.want)
			}
			res := s.Execute(context.Background(), plan, tt.finding)
			if res.Outcome != picket.OutcomeRefused || len(srv.Calls()) != 0 {
				t.Fatalf("Execute: outcome %s after %v, want refused and no calls", res.Outcome, srv.Operations())
			}
		})
	}

	// The first plan is made before the dialog asks for the reason: it is
	// a preview, and Execute refuses if the reason never came.
	t.Run("missing reason at execution", func(t *testing.T) {
		srv := newSuppressFake(t)
		s := &actions.Suppress{Clients: realClientsAt(srv), Now: stoppedClock()}
		f := testSecurityHubFinding()
		req := testSuppressRequest(f, false, false)
		req.Reason = ""
		plan, err := s.Plan(context.Background(), req, f)
		if err != nil || plan.Refusal != "" || len(plan.Steps) == 0 {
			t.Fatalf("preview plan: %v, refusal %q, %d steps; want steps and no refusal", err, plan.Refusal, len(plan.Steps))
		}
		res := s.Execute(context.Background(), plan, f)
		if res.Outcome != picket.OutcomeRefused || !strings.Contains(res.Summary, "needs a reason") || len(srv.Calls()) != 0 {
			t.Fatalf("Execute without reason: outcome %s summary %q calls %v, want refused with no calls", res.Outcome, res.Summary, srv.Operations())
		}
	})
}

func TestSuppressDryRunWritesNothing(t *testing.T) {
	srv := newSuppressFake(t)
	f := testGuardDutyFinding(true)
	_, res, calls := runSuppress(t, srv, testSuppressRequest(f, true, true), f)
	if got := awsOps(calls); !slices.Equal(got, []string{"guardduty:ListDetectors"}) {
		t.Fatalf("operations = %v, want only the read ListDetectors", got)
	}
	if res.Outcome != picket.OutcomeDryRunned {
		t.Fatalf("outcome = %s, want dry_run", res.Outcome)
	}
	if got, want := stepStatuses(res.Steps), []string{"guardduty:ArchiveFindings=dry_run", "guardduty:CreateFilter=dry_run", "securityhub:BatchUpdateFindings=dry_run"}; !slices.Equal(got, want) {
		t.Errorf("steps = %v, want %v", got, want)
	}
	if ev := decodeSuppression(t, res); ev.Suppression == nil || len(ev.Suppression.Remote) != 0 {
		t.Errorf("dry-run rule = %+v, want a described rule with nothing created remotely", ev.Suppression)
	}
}

func TestSuppressPartialFailure(t *testing.T) {
	srv := newSuppressFake(t)
	srv.OnREST("guardduty", "CreateFilter", "POST", "/detector/{DetectorId}/filter",
		awsfake.Reply(awsfake.JSONError("AccessDeniedException", "not allowed")))
	f := testGuardDutyFinding(true)
	_, res, _ := runSuppress(t, srv, testSuppressRequest(f, true, false), f)
	if res.Outcome != picket.OutcomePartial {
		t.Fatalf("outcome = %s, want partial", res.Outcome)
	}
	if !strings.Contains(res.Summary, "guardduty:CreateFilter: AccessDeniedException") || res.NextStep == "" {
		t.Errorf("summary %q next %q, want the failed filter named and a next step", res.Summary, res.NextStep)
	}
	if ev := decodeSuppression(t, res); ev.Suppression == nil || len(ev.Suppression.Remote) != 0 {
		t.Errorf("rule = %+v, want the local rule without a remote filter that was never created", ev.Suppression)
	}
}

func TestSuppressLift(t *testing.T) {
	sup := picket.Suppression{ID: "sup-act-s1", Remote: []picket.RemoteRule{
		{Kind: actions.RemoteGuardDutyFilter, ID: "picket-s1", Account: qAccount, Region: "us-east-1", DetectorID: sDetector},
		{Kind: actions.RemoteSecurityHubAutomation, ID: sRuleARN, Account: qAccount, Region: "us-east-1"},
	}}
	tests := []struct {
		name   string
		filter awsfake.Response
		rule   awsfake.Response
		want   []string
	}{
		{"deleted", awsfake.JSONBody(map[string]any{}), awsfake.JSONBody(map[string]any{"ProcessedAutomationRules": []string{sRuleARN}}),
			[]string{"guardduty:DeleteFilter=done", "securityhub:BatchDeleteAutomationRules=done"}},
		{"already gone", awsfake.JSONError("ResourceNotFoundException", "no such filter"),
			awsfake.JSONBody(map[string]any{"UnprocessedAutomationRules": []any{map[string]any{"RuleArn": sRuleARN, "ErrorCode": 404, "ErrorMessage": "not found"}}}),
			[]string{"guardduty:DeleteFilter=done", "securityhub:BatchDeleteAutomationRules=done"}},
		{"denied", awsfake.JSONError("AccessDeniedException", "no"),
			awsfake.JSONBody(map[string]any{"UnprocessedAutomationRules": []any{map[string]any{"RuleArn": sRuleARN, "ErrorCode": 403, "ErrorMessage": "denied"}}}),
			[]string{"guardduty:DeleteFilter=failed", "securityhub:BatchDeleteAutomationRules=failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSuppressFake(t)
			srv.OnREST("guardduty", "DeleteFilter", "DELETE", "/detector/{DetectorId}/filter/{FilterName}", awsfake.Reply(tt.filter))
			srv.OnREST("securityhub", "BatchDeleteAutomationRules", "POST", "/automationrules/delete", awsfake.Reply(tt.rule))
			s := &actions.Suppress{Clients: realClientsAt(srv), Now: stoppedClock()}
			steps := s.Lift(context.Background(), sup)
			if got := stepStatuses(steps); !slices.Equal(got, tt.want) {
				t.Fatalf("steps = %v, want %v", got, tt.want)
			}
			calls := srv.Calls()
			if got := awsOps(calls); !slices.Equal(got, []string{"guardduty:DeleteFilter", "securityhub:BatchDeleteAutomationRules"}) {
				t.Fatalf("operations = %v", got)
			}
			if p := calls[0].PathParams; p["DetectorId"] != sDetector || p["FilterName"] != "picket-s1" {
				t.Errorf("DeleteFilter path params = %v, want detector %s filter picket-s1", p, sDetector)
			}
			if got := jsonAt(calls[1].JSON, "AutomationRulesArns", 0); got != sRuleARN {
				t.Errorf("BatchDeleteAutomationRules ARN = %v, want %s", got, sRuleARN)
			}
			if got, want := picket.OutcomeOf(steps) == picket.OutcomeSucceeded, tt.want[0] == "guardduty:DeleteFilter=done"; got != want {
				t.Errorf("lift succeeded = %t, want %t", got, want)
			}
		})
	}
}

// TestSuppressSimilarLocalRuleHasRemoteScope checks that the local rule of
// a Suppress similar carries the product and generator of the Security Hub
// automation rule made with it, so that it silences no other product's or
// control's findings of the same type.
func TestSuppressSimilarLocalRuleHasRemoteScope(t *testing.T) {
	srv := newSuppressFake(t)
	f := testSecurityHubFinding()
	_, res, calls := runSuppress(t, srv, testSuppressRequest(f, true, false), f)
	rule := callsOf(calls, "securityhub:CreateAutomationRule")[0].JSON
	sup := decodeSuppression(t, res).Suppression
	if sup == nil {
		t.Fatal("no local rule in the evidence")
	}
	if want := jsonAt(rule, "Criteria", "ProductArn", 0, "Value"); sup.ProductARN != want {
		t.Errorf("local rule ProductARN: got %q, want the remote rule's %v", sup.ProductARN, want)
	}
	if want := jsonAt(rule, "Criteria", "GeneratorId", 0, "Value"); sup.GeneratorID != want {
		t.Errorf("local rule GeneratorID: got %q, want the remote rule's %v", sup.GeneratorID, want)
	}
	now := stoppedClock()()
	same := *f
	same.GeneratorID = "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.10"
	otherProduct := same
	otherProduct.ProductARN = "arn:aws:securityhub:us-east-1::product/vendor/scanner"
	otherControl := same
	otherControl.GeneratorID = "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/2.1"
	for _, tc := range []struct {
		name string
		f    picket.Finding
		want bool
	}{
		{"same product and generator", same, true},
		{"another product, same type", otherProduct, false},
		{"another control, same type", otherControl, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sup.Matches(&tc.f, now); got != tc.want {
				t.Errorf("Matches: got %v, want %v", got, tc.want)
			}
		})
	}
}
