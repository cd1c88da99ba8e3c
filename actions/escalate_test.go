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
	graphARN  = "arn:aws:detective:us-east-1:123456789012:graph:abc123"
	oncallARN = "arn:aws:sns:us-east-1:123456789012:oncall"
)

// newEscalateFake registers the calls an escalation makes: alice as in
// newUserFake, instance i-0web with instance profile web holding role
// web-role, a behavior graph, Security Hub and SNS.
func newEscalateFake(t *testing.T, graphs bool) *awsfake.Server {
	t.Helper()
	srv := newUserFake(t, userScenario{})
	srv.On("ec2", "DescribeInstances", awsfake.Reply(awsfake.EC2Result("DescribeInstances", `
<reservationSet><item><reservationId>r-1</reservationId><instancesSet><item>
  <instanceId>i-0web</instanceId><instanceState><code>16</code><name>running</name></instanceState>
  <iamInstanceProfile><arn>arn:aws:iam::123456789012:instance-profile/web</arn><id>AIPAWEB</id></iamInstanceProfile>
</item></instancesSet></item></reservationSet>`)))
	srv.On("iam", "GetInstanceProfile", awsfake.Reply(awsfake.QueryResult("GetInstanceProfile", `<InstanceProfile>
  <Path>/</Path><InstanceProfileName>web</InstanceProfileName><InstanceProfileId>AIPAWEB</InstanceProfileId>
  <Arn>arn:aws:iam::123456789012:instance-profile/web</Arn><CreateDate>2024-01-01T00:00:00Z</CreateDate>
  <Roles><member><Path>/</Path><RoleName>web-role</RoleName><RoleId>AROAWEB</RoleId>
    <Arn>arn:aws:iam::123456789012:role/web-role</Arn><CreateDate>2024-01-01T00:00:00Z</CreateDate></member></Roles>
</InstanceProfile>`)))
	list := []any{}
	if graphs {
		list = append(list, map[string]any{"Arn": graphARN})
	}
	srv.OnREST("detective", "ListGraphs", "POST", "/graphs/list", awsfake.Reply(awsfake.JSONBody(map[string]any{"GraphList": list})))
	srv.OnREST("detective", "StartInvestigation", "POST", "/investigations/startInvestigation",
		awsfake.Reply(awsfake.JSONBody(map[string]any{"InvestigationId": "000000000000000001"})))
	srv.On("sns", "Publish", awsfake.Reply(awsfake.QueryResult("Publish", "<MessageId>msg-1</MessageId>")))
	return srv
}

func escalateRequest(target picket.Resource) picket.ActionRequest {
	return picket.ActionRequest{ID: "act-e1", Kind: picket.ActionEscalate, FindingKey: "fk-d", Target: target,
		Account: duAccount, Region: "us-east-1", Actor: picket.Actor{ID: "U0SAM", Name: "sam"}, At: duNow}
}

func instanceFinding() *picket.Finding {
	f := userFinding()
	f.Title, f.Type = "EC2 instance talks to a command and control server", "Backdoor:EC2/C&CActivity.B"
	f.Resources = []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: "i-0web", Region: "us-east-1"}}
	return f
}

func newEscalate(srv *awsfake.Server, topic string) *actions.Escalate {
	return &actions.Escalate{Clients: principalClientsAt(srv), Now: func() time.Time { return duNow }, TopicARN: topic}
}

func TestEscalate(t *testing.T) {
	// Scope: from the finding's first activity (3 hours before the
	// clock) to the clock; the link's scope is widened to whole hours (06:00 to 10:00).
	const (
		scopeStart = "2026-11-22T06:30:15Z"
		scopeEnd   = "2026-11-22T09:30:15Z"
		linkScope  = "?scopeStart=1795327200&scopeEnd=1795341600"
	)
	for _, tc := range []struct {
		name      string
		target    picket.Resource
		finding   *picket.Finding
		topic     string
		ops       []string
		entityARN string
		link      string
	}{
		{
			name:    "IAM user from an access key finding",
			target:  picket.Resource{Kind: picket.ResourceAccessKey, ID: "AKIA1", UserName: duUser},
			finding: userFinding(),
			ops: []string{"iam:GetUser", "detective:ListGraphs", "detective:StartInvestigation",
				"securityhub:BatchUpdateFindings"},
			entityARN: duUserARN,
			link:      "https://console.aws.amazon.com/detective/home?region=us-east-1#entities/AwsUser/AIDAALICE" + linkScope,
		},
		{
			name:    "instance through its role",
			target:  picket.Resource{Kind: picket.ResourceEC2Instance, ID: "i-0web"},
			finding: instanceFinding(),
			ops: []string{"ec2:DescribeInstances", "iam:GetInstanceProfile", "detective:ListGraphs",
				"detective:StartInvestigation", "securityhub:BatchUpdateFindings"},
			entityARN: "arn:aws:iam::123456789012:role/web-role",
			link:      "https://console.aws.amazon.com/detective/home?region=us-east-1#entities/AwsRole/AROAWEB" + linkScope,
		},
		{
			name:    "on-call topic",
			target:  aliceTarget,
			finding: userFinding(),
			topic:   oncallARN,
			ops: []string{"iam:GetUser", "detective:ListGraphs", "detective:StartInvestigation",
				"securityhub:BatchUpdateFindings", "sns:Publish"},
			entityARN: duUserARN,
			link:      "https://console.aws.amazon.com/detective/home?region=us-east-1#entities/AwsUser/AIDAALICE" + linkScope,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newEscalateFake(t, true)
			plan, res := planThenExecute(t, srv, newEscalate(srv, tc.topic), escalateRequest(tc.target), tc.finding)
			var planOps []string
			for _, s := range plan.Steps {
				planOps = append(planOps, s.Operation)
			}
			if !slices.Equal(planOps, tc.ops) {
				t.Errorf("plan: got %q, want %q", planOps, tc.ops)
			}
			if got := srv.Operations(); !slices.Equal(got, tc.ops) {
				t.Errorf("operations:\ngot  %q\nwant %q", got, tc.ops)
			}
			calls := srv.Calls()
			start := userCalls(calls, "detective:StartInvestigation")[0]
			for name, want := range map[string]string{"GraphArn": graphARN, "EntityArn": tc.entityARN, "ScopeStartTime": scopeStart, "ScopeEndTime": scopeEnd} {
				if got := start.Param(name); got != want {
					t.Errorf("StartInvestigation %s: got %q, want %q", name, got, want)
				}
			}
			if tc.name == "instance through its role" {
				if got := userCalls(calls, "iam:GetInstanceProfile")[0].Param("InstanceProfileName"); got != "web" {
					t.Errorf("GetInstanceProfile: got %q, want web", got)
				}
				if got := userCalls(calls, "ec2:DescribeInstances")[0].Param("InstanceId.1"); got != "i-0web" {
					t.Errorf("DescribeInstances: got %q, want i-0web", got)
				}
			}
			if res.Outcome != picket.OutcomeSucceeded {
				t.Fatalf("outcome: got %s (%s), want succeeded", res.Outcome, res.Summary)
			}
			var ev actions.EscalationEvidence
			if err := json.Unmarshal(res.Evidence, &ev); err != nil {
				t.Fatalf("evidence: %v", err)
			}
			if ev.InvestigationID != "000000000000000001" || ev.Link != tc.link {
				t.Errorf("evidence: got investigation %q link %q, want 000000000000000001 and %q", ev.InvestigationID, ev.Link, tc.link)
			}
			if !strings.Contains(res.Summary, tc.link) || !strings.Contains(res.Summary, "000000000000000001") {
				t.Errorf("summary: got %q, want the investigation and the link", res.Summary)
			}
			note := userCalls(calls, "securityhub:BatchUpdateFindings")[0]
			if text, _ := note.JSON["Note"].(map[string]any)["Text"].(string); !strings.Contains(text, tc.link) {
				t.Errorf("note: got %q, want the link", text)
			}
			for _, s := range res.Steps {
				if s.Status != picket.StepDone || s.RequestID == "" {
					t.Errorf("step %s: got %s with request id %q, want done with one", s.Operation, s.Status, s.RequestID)
				}
			}
			if tc.topic == "" {
				return
			}
			pub := userCalls(calls, "sns:Publish")[0]
			if got := pub.Param("TopicArn"); got != oncallARN {
				t.Errorf("Publish TopicArn: got %q, want %q", got, oncallARN)
			}
			if got, want := pub.Param("Subject"), "Picket escalation: API called from a Tor exit node"; got != want {
				t.Errorf("Publish Subject: got %q, want %q", got, want)
			}
			var msg map[string]any
			if err := json.Unmarshal([]byte(pub.Param("Message")), &msg); err != nil {
				t.Fatalf("Publish Message %q: %v", pub.Param("Message"), err)
			}
			for k, want := range map[string]string{"finding_key": "fk-d", "title": "API called from a Tor exit node", "severity": "High",
				"account": duAccount, "region": "us-east-1", "investigation_id": "000000000000000001", "link": tc.link} {
				if got, _ := msg[k].(string); got != want {
					t.Errorf("Message %s: got %q, want %q", k, got, want)
				}
			}
			if actor, _ := msg["actor"].(map[string]any); actor["id"] != "U0SAM" {
				t.Errorf("Message actor: got %v, want U0SAM", msg["actor"])
			}
			if ev.MessageID != "msg-1" {
				t.Errorf("evidence message id: got %q, want msg-1", ev.MessageID)
			}
		})
	}
}

func TestEscalateRefusals(t *testing.T) {
	bucket := userFinding()
	bucket.Resources = []picket.Resource{{Kind: picket.ResourceS3Bucket, ID: "logs"}}
	root := userFinding()
	root.Resources = []picket.Resource{{Kind: picket.ResourceRoot, ID: duAccount, ARN: "arn:aws:iam::123456789012:root"}}
	for _, tc := range []struct {
		name    string
		graphs  bool
		target  picket.Resource
		finding *picket.Finding
		refusal string
		ops     []string
	}{
		{"no behavior graph", false, aliceTarget, userFinding(), "Detective is not enabled in us-east-1", []string{"iam:GetUser", "detective:ListGraphs"}},
		{"no principal", true, picket.Resource{Kind: picket.ResourceAccount, ID: duAccount}, bucket, "Detective investigates only IAM users and roles", nil},
		{"root", true, root.Resources[0], root, "Detective cannot investigate the root user", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newEscalateFake(t, tc.graphs)
			e := newEscalate(srv, oncallARN)
			plan, err := e.Plan(context.Background(), escalateRequest(tc.target), tc.finding)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if !strings.Contains(plan.Refusal, tc.refusal) {
				t.Errorf("refusal: got %q, want it to contain %q", plan.Refusal, tc.refusal)
			}
			if got := srv.Operations(); !slices.Equal(got, tc.ops) {
				t.Errorf("operations: got %q, want %q", got, tc.ops)
			}
			if res := e.Execute(context.Background(), plan, tc.finding); res.Outcome != picket.OutcomeRefused {
				t.Errorf("Execute: got %s, want refused", res.Outcome)
			}
		})
	}
}

func TestEscalateDryRunStartsNothing(t *testing.T) {
	srv := newEscalateFake(t, true)
	req := escalateRequest(aliceTarget)
	req.DryRun = true
	_, res := planThenExecute(t, srv, newEscalate(srv, oncallARN), req, userFinding())
	if got, want := srv.Operations(), []string{"iam:GetUser", "detective:ListGraphs"}; !slices.Equal(got, want) {
		t.Errorf("operations: got %q, want reads only %q", got, want)
	}
	if res.Outcome != picket.OutcomeDryRunned {
		t.Errorf("outcome: got %s, want dry_run", res.Outcome)
	}
}

func TestEscalateStartFailureTellsTheTruth(t *testing.T) {
	srv := newEscalateFake(t, true)
	srv.OnREST("detective", "StartInvestigation", "POST", "/investigations/startInvestigation",
		awsfake.Reply(awsfake.JSONError("AccessDeniedException", "not authorized to perform detective:StartInvestigation")))
	_, res := planThenExecute(t, srv, newEscalate(srv, ""), escalateRequest(aliceTarget), userFinding())
	if res.Outcome != picket.OutcomePartial { // the note still went in
		t.Errorf("outcome: got %s, want partial", res.Outcome)
	}
	if !strings.Contains(res.Summary, "could not start a Detective investigation") || !strings.Contains(res.Summary, "AccessDeniedException") {
		t.Errorf("summary: got %q", res.Summary)
	}
	if want := "Grant detective:StartInvestigation to the Picket role or start the investigation in the Detective console."; res.NextStep != want {
		t.Errorf("next step: got %q, want %q", res.NextStep, want)
	}
}
