package actions_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
	"github.com/picketsec/picket/internal/awsfake"
)

const sAnalyzer = "arn:aws:access-analyzer:us-east-1:123456789012:analyzer/org"

// testAccessFinding is an IAM Access Analyzer finding that arrived
// natively: its id and analyzer are known, its Security Hub Id is not.
func testAccessFinding() *picket.Finding {
	return &picket.Finding{
		Key: "fk-aa", ID: "22222222-dcba-4444-dcba-333333333333", Source: picket.SourceAccessAnalyzer, Product: "IAM Access Analyzer",
		Type: "ExternalAccess", Account: qAccount, Region: "us-east-1",
		Resources: []picket.Resource{{Kind: picket.ResourceS3Bucket, ID: "my-bucket", ARN: "arn:aws:s3:::my-bucket"}},
		Access:    &picket.AccessFinding{Kind: picket.AccessExternal, Analyzer: sAnalyzer},
	}
}

// TestSuppressArchivesAccessFinding: suppressing a native IAM Access
// Analyzer finding archives it in its analyzer, the service's own
// suppress, and touches neither GuardDuty nor Security Hub.
func TestSuppressArchivesAccessFinding(t *testing.T) {
	srv := newSuppressFake(t)
	srv.OnREST("access-analyzer", "UpdateFindings", "PUT", "/finding", awsfake.Reply(awsfake.JSONBody(map[string]any{})))
	f := testAccessFinding()
	plan, res, calls := runSuppress(t, srv, testSuppressRequest(f, false, false), f)
	if len(plan.Steps) != 1 || plan.Steps[0].Operation != "access-analyzer:UpdateFindings" ||
		!strings.Contains(plan.Steps[0].Description, sAnalyzer) {
		t.Errorf("got plan %+v, want one access-analyzer:UpdateFindings step naming the analyzer", plan.Steps)
	}
	if got := awsOps(calls); !slices.Equal(got, []string{"access-analyzer:UpdateFindings"}) {
		t.Fatalf("operations = %v, want [access-analyzer:UpdateFindings]", got)
	}
	if res.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("outcome = %s, want succeeded; steps %v", res.Outcome, stepStatuses(res.Steps))
	}
	u := callsOf(calls, "access-analyzer:UpdateFindings")[0]
	for _, c := range []struct {
		name string
		got  any
		want any
	}{
		{"analyzer", jsonAt(u.JSON, "analyzerArn"), sAnalyzer},
		{"ids", jsonAt(u.JSON, "ids", 0), f.ID},
		{"one id", jsonAt(u.JSON, "ids", 1), nil},
		{"status", jsonAt(u.JSON, "status"), "ARCHIVED"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	ev := decodeSuppression(t, res)
	if ev.AccessAnalyzerFindingID != f.ID || ev.Analyzer != sAnalyzer {
		t.Errorf("got evidence %+v, want the finding and its analyzer", ev)
	}
}

// TestSuppressAccessFindingWithoutAnalyzerIsRefused: without the analyzer
// (an access finding imported into Security Hub without it, say), Picket
// cannot archive it and says so rather than guessing.
func TestSuppressAccessFindingWithoutAnalyzerIsRefused(t *testing.T) {
	srv := newSuppressFake(t)
	f := testAccessFinding()
	f.Access.Analyzer = ""
	s := &actions.Suppress{Clients: realClientsAt(srv), Now: stoppedClock()}
	plan, err := s.Plan(context.Background(), testSuppressRequest(f, false, false), f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.Refusal, "cannot reach this finding in GuardDuty, Security Hub or IAM Access Analyzer") {
		t.Errorf("got refusal %q, want one saying Picket cannot reach the finding", plan.Refusal)
	}
}

// testAccessFindingInSecurityHub is an IAM Access Analyzer finding as
// Security Hub shows it: its Id is the analyzer's ARN followed by the
// resource's; the analyzer's own finding ids are not in it.
func testAccessFindingInSecurityHub() *picket.Finding {
	return &picket.Finding{
		Key: "fk-aa-sh", ID: sAnalyzer + "/arn:aws:s3:::my-bucket", Source: picket.SourceSecurityHub, Product: "IAM Access Analyzer",
		ProductARN: "arn:aws:securityhub:us-east-1::product/aws/access-analyzer", Type: "Effects/Data Exposure/External Access Granted",
		Account: qAccount, Region: "us-east-1",
		Resources: []picket.Resource{{Kind: picket.ResourceS3Bucket, ID: "my-bucket", ARN: "arn:aws:s3:::my-bucket"}},
	}
}

// TestSuppressArchivesAccessFindingsThroughSecurityHub: a finding that
// came through Security Hub is archived in its analyzer too (the
// service's own suppress): the analyzer's active findings on the resource
// are listed and exactly those archived, and Undo sets exactly those back.
func TestSuppressArchivesAccessFindingsThroughSecurityHub(t *testing.T) {
	srv := newSuppressFake(t)
	srv.OnREST("access-analyzer", "ListFindings", "POST", "/finding",
		awsfake.Reply(awsfake.JSONBody(map[string]any{"findings": []any{map[string]any{"id": "aa-1"}, map[string]any{"id": "aa-2"}}})))
	srv.OnREST("access-analyzer", "UpdateFindings", "PUT", "/finding", awsfake.Reply(awsfake.JSONBody(map[string]any{})))
	f := testAccessFindingInSecurityHub()
	req := testSuppressRequest(f, false, false)
	plan, res, calls := runSuppress(t, srv, req, f)
	if got := awsOps(calls); !slices.Equal(got, []string{"access-analyzer:ListFindings", "access-analyzer:UpdateFindings", "securityhub:BatchUpdateFindings"}) {
		t.Fatalf("operations = %v, want list, archive, then the Security Hub status", got)
	}
	if len(plan.Steps) != 3 || plan.Steps[0].Operation != "access-analyzer:ListFindings" || !strings.Contains(plan.Steps[0].Description, "arn:aws:s3:::my-bucket") {
		t.Errorf("plan steps %+v, want the listing of the bucket's findings first", plan.Steps)
	}
	if res.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("outcome = %s, want succeeded; steps %v", res.Outcome, stepStatuses(res.Steps))
	}
	l := callsOf(calls, "access-analyzer:ListFindings")[0]
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"analyzer", jsonAt(l.JSON, "analyzerArn"), sAnalyzer},
		{"resource", jsonAt(l.JSON, "filter", "resource", "eq", 0), "arn:aws:s3:::my-bucket"},
		{"status", jsonAt(l.JSON, "filter", "status", "eq", 0), "ACTIVE"},
	} {
		if c.got != c.want {
			t.Errorf("ListFindings %s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	u := callsOf(calls, "access-analyzer:UpdateFindings")[0]
	if jsonAt(u.JSON, "ids", 0) != "aa-1" || jsonAt(u.JSON, "ids", 1) != "aa-2" || jsonAt(u.JSON, "ids", 2) != nil || jsonAt(u.JSON, "status") != "ARCHIVED" {
		t.Errorf("UpdateFindings = %v, want aa-1 and aa-2 archived", u.JSON)
	}

	// Undo: exactly the two archived findings back to active.
	s := &actions.Suppress{Clients: realClientsAt(srv), Now: stoppedClock()}
	original := picket.ActionRecord{Request: req, Plan: plan, Status: res.Outcome, Result: &res, Evidence: res.Evidence}
	undoReq := picket.ActionRequest{ID: "undo-1", Kind: picket.ActionUndo, FindingKey: f.Key, Account: f.Account, Region: f.Region, Actor: req.Actor}
	uplan, err := s.PlanUndo(context.Background(), original, undoReq)
	if err != nil || uplan.Refusal != "" {
		t.Fatalf("PlanUndo: %+v %v", uplan, err)
	}
	before := len(srv.Calls())
	ures := s.ExecuteUndo(context.Background(), uplan, original)
	var active []any
	for _, c := range srv.Calls()[before:] {
		if c.Service == "access-analyzer" && c.Operation == "UpdateFindings" {
			if jsonAt(c.JSON, "status") != "ACTIVE" {
				t.Errorf("undo UpdateFindings status %v, want ACTIVE", jsonAt(c.JSON, "status"))
			}
			active = append(active, jsonAt(c.JSON, "ids", 0))
		}
	}
	if ures.Outcome != picket.OutcomeSucceeded || len(active) != 2 || active[0] != "aa-1" || active[1] != "aa-2" {
		t.Errorf("undo: outcome %s, set active %v; want aa-1 and aa-2", ures.Outcome, active)
	}
}

// TestAccessAnalyzerIDOfOtherAccountNotUsed: a Security Hub Id naming an
// analyzer of another account than the finding's is not archived there.
func TestAccessAnalyzerIDOfOtherAccountNotUsed(t *testing.T) {
	srv := newSuppressFake(t)
	f := testAccessFindingInSecurityHub()
	f.ID = "arn:aws:access-analyzer:us-east-1:999999999999:analyzer/org/arn:aws:s3:::my-bucket"
	_, _, calls := runSuppress(t, srv, testSuppressRequest(f, false, false), f)
	if got := awsOps(calls); !slices.Equal(got, []string{"securityhub:BatchUpdateFindings"}) {
		t.Errorf("operations = %v, want only the Security Hub status", got)
	}
}
