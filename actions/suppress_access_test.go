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
