package actions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/service/accessanalyzer"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
	"github.com/picketsec/picket/internal/awsfake"
)

// realClientsAt returns real SDK clients pointed at srv, for every account
// and region.
func realClientsAt(srv *awsfake.Server) actions.ClientsFunc {
	cfg := srv.Config()
	c := actions.Clients{
		EC2:         ec2.NewFromConfig(cfg),
		AutoScaling: autoscaling.NewFromConfig(cfg),
		SecurityHub: securityhub.NewFromConfig(cfg),
		GuardDuty:   guardduty.NewFromConfig(cfg),

		AccessAnalyzer: accessanalyzer.NewFromConfig(cfg),
	}
	return func(context.Context, string, string) (actions.Clients, error) { return c, nil }
}

// stoppedClock returns a clock stopped at a fixed time.
func stoppedClock() func() time.Time {
	t := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	return func() time.Time { return t }
}

// instanceScenario describes the instance the fake EC2 reports.
type instanceScenario struct {
	state      string // default "running"
	tags       string // extra <item> elements of tagSet
	protection bool   // termination protection before
	asg        string // Auto Scaling group, "" for none
	groups     string // <item> elements of DescribeSecurityGroups
}

const (
	qAccount    = "123456789012"
	qInstance   = "i-0abc"
	qTransition = "sg-trans"
	qIsolation  = "sg-iso"
)

// newQuarantineFake registers every EC2, Auto Scaling and Security Hub
// call a quarantine makes, answering for an instance with two network
// interfaces (eni-1 in sg-web and sg-ssh, eni-2 in sg-db) and two volumes.
func newQuarantineFake(t *testing.T, sc instanceScenario) *awsfake.Server {
	t.Helper()
	if sc.state == "" {
		sc.state = "running"
	}
	srv := awsfake.New(t)
	ok := func(op string) awsfake.Handler { return awsfake.Reply(awsfake.EC2Result(op, "<return>true</return>")) }
	srv.On("ec2", "DescribeInstances", awsfake.Reply(awsfake.EC2Result("DescribeInstances", fmt.Sprintf(`
<reservationSet><item><reservationId>r-1</reservationId><instancesSet><item>
  <instanceId>%s</instanceId>
  <instanceState><code>16</code><name>%s</name></instanceState>
  <vpcId>vpc-1</vpcId>
  <iamInstanceProfile><arn>arn:aws:iam::123456789012:instance-profile/web</arn><id>AIPA1</id></iamInstanceProfile>
  <networkInterfaceSet>
    <item><networkInterfaceId>eni-1</networkInterfaceId><vpcId>vpc-1</vpcId>
      <groupSet><item><groupId>sg-web</groupId><groupName>web</groupName></item><item><groupId>sg-ssh</groupId><groupName>ssh</groupName></item></groupSet></item>
    <item><networkInterfaceId>eni-2</networkInterfaceId><vpcId>vpc-1</vpcId>
      <groupSet><item><groupId>sg-db</groupId><groupName>db</groupName></item></groupSet></item>
  </networkInterfaceSet>
  <blockDeviceMapping>
    <item><deviceName>/dev/xvda</deviceName><ebs><volumeId>vol-1</volumeId></ebs></item>
    <item><deviceName>/dev/xvdf</deviceName><ebs><volumeId>vol-2</volumeId></ebs></item>
  </blockDeviceMapping>
  <tagSet><item><key>Name</key><value>web-1</value></item>%s</tagSet>
</item></instancesSet></item></reservationSet>`, qInstance, sc.state, sc.tags))))
	srv.On("ec2", "DescribeInstanceAttribute", awsfake.Reply(awsfake.EC2Result("DescribeInstanceAttribute", fmt.Sprintf(
		`<instanceId>%s</instanceId><disableApiTermination><value>%t</value></disableApiTermination>`, qInstance, sc.protection))))
	asg := ""
	if sc.asg != "" {
		asg = fmt.Sprintf(`<member><InstanceId>%s</InstanceId><AutoScalingGroupName>%s</AutoScalingGroupName>
			<AvailabilityZone>us-east-1a</AvailabilityZone><LifecycleState>InService</LifecycleState><HealthStatus>HEALTHY</HealthStatus>
			<ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>`, qInstance, sc.asg)
	}
	srv.On("autoscaling", "DescribeAutoScalingInstances", awsfake.Reply(awsfake.QueryResult("DescribeAutoScalingInstances",
		"<AutoScalingInstances>"+asg+"</AutoScalingInstances>")))
	srv.On("autoscaling", "DetachInstances", awsfake.Reply(awsfake.QueryResult("DetachInstances", "<Activities/>")))
	srv.On("autoscaling", "AttachInstances", awsfake.Reply(awsfake.QueryResult("AttachInstances", "")))
	srv.On("ec2", "DescribeSecurityGroups", awsfake.Reply(awsfake.EC2Result("DescribeSecurityGroups",
		"<securityGroupInfo>"+sc.groups+"</securityGroupInfo>")))
	srv.On("ec2", "CreateSecurityGroup", func(r *awsfake.Request) awsfake.Response {
		id := qIsolation
		if strings.HasSuffix(r.Param("GroupName"), "-transition") {
			id = qTransition
		}
		return awsfake.EC2Result("CreateSecurityGroup", "<return>true</return><groupId>"+id+"</groupId>")
	})
	srv.On("ec2", "AuthorizeSecurityGroupIngress", ok("AuthorizeSecurityGroupIngress"))
	srv.On("ec2", "RevokeSecurityGroupEgress", ok("RevokeSecurityGroupEgress"))
	srv.On("ec2", "ModifyInstanceAttribute", ok("ModifyInstanceAttribute"))
	srv.On("ec2", "ModifyNetworkInterfaceAttribute", ok("ModifyNetworkInterfaceAttribute"))
	srv.On("ec2", "CreateSnapshot", func(r *awsfake.Request) awsfake.Response {
		vol := r.Param("VolumeId")
		return awsfake.EC2Result("CreateSnapshot", "<snapshotId>snap-"+strings.TrimPrefix(vol, "vol-")+"</snapshotId><volumeId>"+vol+"</volumeId><status>pending</status>")
	})
	srv.On("ec2", "CreateTags", ok("CreateTags"))
	srv.On("ec2", "DeleteTags", ok("DeleteTags"))
	srv.OnREST("securityhub", "BatchUpdateFindings", "PATCH", "/findings/batchupdate",
		awsfake.Reply(awsfake.JSONBody(map[string]any{"ProcessedFindings": []any{}, "UnprocessedFindings": []any{}})))
	return srv
}

func testInstanceFinding() *picket.Finding {
	return &picket.Finding{
		Key: "fk-q", ID: "gd-q", Source: picket.SourceGuardDuty,
		ARN:        "arn:aws:guardduty:us-east-1:123456789012:detector/det-1/finding/gd-q",
		ProductARN: "arn:aws:securityhub:us-east-1::product/aws/guardduty",
		Type:       "Backdoor:EC2/C&CActivity.B", Account: qAccount, Region: "us-east-1",
		Resources: []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: qInstance}},
	}
}

func testQuarantineRequest(dryRun bool) picket.ActionRequest {
	return picket.ActionRequest{
		ID: "act-q1", Kind: picket.ActionQuarantineInstance, FindingKey: "fk-q",
		Target:  picket.Resource{Kind: picket.ResourceEC2Instance, ID: qInstance},
		Account: qAccount, Region: "us-east-1",
		Actor: picket.Actor{ID: "U0CAROL", Name: "carol"}, DryRun: dryRun,
	}
}

func newTestQuarantine(srv *awsfake.Server) *actions.Quarantine {
	return &actions.Quarantine{Clients: realClientsAt(srv), Now: stoppedClock(),
		Guard: actions.Guardrails{ProtectedInstances: []string{"i-0prod", "bastion"}, ProtectedTag: "picket:protected"}}
}

// runQuarantine plans and executes req, returning the plan, the result
// and the calls Execute made.
func runQuarantine(t *testing.T, srv *awsfake.Server, q *actions.Quarantine, req picket.ActionRequest) (picket.Plan, picket.ActionResult, []awsfake.Call) {
	t.Helper()
	ctx := context.Background()
	plan, err := q.Plan(ctx, req, testInstanceFinding())
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if plan.Refusal != "" {
		t.Fatalf("Plan refused: %s", plan.Refusal)
	}
	srv.Reset()
	res := q.Execute(ctx, plan, testInstanceFinding())
	return plan, res, srv.Calls()
}

func awsOps(calls []awsfake.Call) []string {
	ops := make([]string, len(calls))
	for i, c := range calls {
		ops[i] = c.Service + ":" + c.Operation
	}
	return ops
}

// callsOf returns the calls of one operation, in order.
func callsOf(calls []awsfake.Call, op string) []awsfake.Call {
	var out []awsfake.Call
	for _, c := range calls {
		if c.Service+":"+c.Operation == op {
			out = append(out, c)
		}
	}
	return out
}

func stepStatuses(steps []picket.StepResult) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Operation+"="+string(s.Status))
	}
	return out
}

var quarantineReads = []string{
	"ec2:DescribeInstances", "ec2:DescribeInstanceAttribute", "autoscaling:DescribeAutoScalingInstances", "ec2:DescribeSecurityGroups",
}

func TestQuarantineSuccess(t *testing.T) {
	srv := newQuarantineFake(t, instanceScenario{asg: "web-asg"})
	q := newTestQuarantine(srv)
	plan, res, calls := runQuarantine(t, srv, q, testQuarantineRequest(false))

	want := append(slices.Clone(quarantineReads),
		"ec2:ModifyInstanceAttribute",
		"autoscaling:DetachInstances",
		"ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
		"ec2:CreateSecurityGroup", "ec2:RevokeSecurityGroupEgress",
		"ec2:ModifyNetworkInterfaceAttribute", "ec2:ModifyNetworkInterfaceAttribute",
		"ec2:ModifyNetworkInterfaceAttribute", "ec2:ModifyNetworkInterfaceAttribute",
		"ec2:CreateSnapshot", "ec2:CreateSnapshot",
		"ec2:CreateTags",
		"securityhub:BatchUpdateFindings",
	)
	if got := awsOps(calls); !slices.Equal(got, want) {
		t.Fatalf("operations:\n got %v\nwant %v", got, want)
	}
	if res.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("outcome = %s, want succeeded; steps %v", res.Outcome, stepStatuses(res.Steps))
	}
	// The plan lists exactly the calls Execute made, in the same order.
	var planned []string
	for _, s := range plan.Steps {
		planned = append(planned, s.Operation)
	}
	if !slices.Equal(planned, want) {
		t.Errorf("planned:\n got %v\nwant %v", planned, want)
	}
	if !strings.Contains(plan.Undo, "Snapshots are kept as evidence") || !strings.Contains(plan.Undo, "web-asg") {
		t.Errorf("plan.Undo = %q, want it to name the group and keep the snapshots", plan.Undo)
	}
	for _, s := range res.Steps {
		if s.Status != picket.StepDone || s.RequestID == "" {
			t.Errorf("step %s: status %s, request id %q; want done with a request id", s.Operation, s.Status, s.RequestID)
		}
	}

	checks := []struct {
		name  string
		op    string
		index int
		param string
		want  string
	}{
		{"termination protection on", "ec2:ModifyInstanceAttribute", 0, "DisableApiTermination.Value", "true"},
		{"protection on the instance", "ec2:ModifyInstanceAttribute", 0, "InstanceId", qInstance},
		{"detach from the group", "autoscaling:DetachInstances", 0, "AutoScalingGroupName", "web-asg"},
		{"detach keeps capacity", "autoscaling:DetachInstances", 0, "ShouldDecrementDesiredCapacity", "false"},
		{"detach the instance", "autoscaling:DetachInstances", 0, "InstanceIds.member.1", qInstance},
		{"transition group first", "ec2:CreateSecurityGroup", 0, "GroupName", "picket-isolation-transition"},
		{"transition group in the VPC", "ec2:CreateSecurityGroup", 0, "VpcId", "vpc-1"},
		{"isolation group second", "ec2:CreateSecurityGroup", 1, "GroupName", "picket-isolation"},
		{"transition allows all protocols", "ec2:AuthorizeSecurityGroupIngress", 0, "IpPermissions.1.IpProtocol", "-1"},
		{"transition allows from anywhere", "ec2:AuthorizeSecurityGroupIngress", 0, "IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"},
		{"transition rule on the transition group", "ec2:AuthorizeSecurityGroupIngress", 0, "GroupId", qTransition},
		{"egress revoked on the isolation group", "ec2:RevokeSecurityGroupEgress", 0, "GroupId", qIsolation},
		{"egress revoked to anywhere", "ec2:RevokeSecurityGroupEgress", 0, "IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"},
		{"eni-1 to transition", "ec2:ModifyNetworkInterfaceAttribute", 0, "NetworkInterfaceId", "eni-1"},
		{"eni-1 transition group", "ec2:ModifyNetworkInterfaceAttribute", 0, "SecurityGroupId.1", qTransition},
		{"eni-1 to isolation", "ec2:ModifyNetworkInterfaceAttribute", 1, "NetworkInterfaceId", "eni-1"},
		{"eni-1 isolation group", "ec2:ModifyNetworkInterfaceAttribute", 1, "SecurityGroupId.1", qIsolation},
		{"eni-2 to transition", "ec2:ModifyNetworkInterfaceAttribute", 2, "SecurityGroupId.1", qTransition},
		{"eni-2 to isolation", "ec2:ModifyNetworkInterfaceAttribute", 3, "SecurityGroupId.1", qIsolation},
		{"eni-2 id", "ec2:ModifyNetworkInterfaceAttribute", 3, "NetworkInterfaceId", "eni-2"},
		{"snapshot vol-1", "ec2:CreateSnapshot", 0, "VolumeId", "vol-1"},
		{"snapshot vol-2", "ec2:CreateSnapshot", 1, "VolumeId", "vol-2"},
		{"snapshot tagged as snapshot", "ec2:CreateSnapshot", 0, "TagSpecification.1.ResourceType", "snapshot"},
		{"snapshot case tag", "ec2:CreateSnapshot", 0, "TagSpecification.1.Tag.1.Key", "picket:case"},
		{"snapshot case value", "ec2:CreateSnapshot", 0, "TagSpecification.1.Tag.1.Value", "act-q1"},
		{"snapshot instance tag", "ec2:CreateSnapshot", 1, "TagSpecification.1.Tag.2.Value", qInstance},
		{"snapshot finding tag", "ec2:CreateSnapshot", 1, "TagSpecification.1.Tag.3.Key", "picket:finding"},
		{"instance tagged", "ec2:CreateTags", 0, "ResourceId.1", qInstance},
		{"quarantined tag", "ec2:CreateTags", 0, "Tag.1.Key", "picket:quarantined"},
		{"quarantined tag value", "ec2:CreateTags", 0, "Tag.1.Value", "act-q1"},
		{"quarantined-by tag", "ec2:CreateTags", 0, "Tag.2.Value", "U0CAROL"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			cs := callsOf(calls, c.op)
			if len(cs) <= c.index {
				t.Fatalf("%s: %d calls, want more than %d", c.op, len(cs), c.index)
			}
			if got := cs[c.index].Param(c.param); got != c.want {
				t.Errorf("%s #%d %s = %q, want %q", c.op, c.index, c.param, got, c.want)
			}
		})
	}
	note := callsOf(calls, "securityhub:BatchUpdateFindings")[0]
	ids, _ := note.JSON["FindingIdentifiers"].([]any)
	if len(ids) != 1 || ids[0].(map[string]any)["Id"] != testInstanceFinding().ARN {
		t.Errorf("note finding identifiers = %v, want the GuardDuty finding ARN", note.JSON["FindingIdentifiers"])
	}

	var ev actions.InstanceEvidence
	if err := json.Unmarshal(res.Evidence, &ev); err != nil {
		t.Fatalf("evidence: %v", err)
	}
	if ev.AutoScalingGroup != "web-asg" || !ev.Detached || ev.TerminationProtection || !ev.TerminationProtectionKnown || !ev.ProtectionEnabled {
		t.Errorf("evidence ASG/protection = %+v", ev)
	}
	if ev.VPCID != "vpc-1" || ev.InstanceProfileARN == "" || ev.Name != "web-1" {
		t.Errorf("evidence VPC %q profile %q name %q", ev.VPCID, ev.InstanceProfileARN, ev.Name)
	}
	if len(ev.NetworkInterfaces) != 2 || !slices.Equal(ev.NetworkInterfaces[0].Groups, []string{"sg-web", "sg-ssh"}) ||
		!ev.NetworkInterfaces[0].Isolated || !ev.NetworkInterfaces[1].Isolated {
		t.Errorf("evidence interfaces = %+v, want both isolated with their original groups", ev.NetworkInterfaces)
	}
	if !slices.Equal(ev.GroupsCreated, []string{qTransition, qIsolation}) {
		t.Errorf("groups created = %v, want [%s %s]", ev.GroupsCreated, qTransition, qIsolation)
	}
	if len(ev.Volumes) != 2 || ev.Volumes[0].SnapshotID != "snap-1" || ev.Volumes[1].SnapshotID != "snap-2" {
		t.Errorf("evidence volumes = %+v, want snap-1 and snap-2", ev.Volumes)
	}
	if !strings.Contains(res.Summary, "is quarantined") || !strings.Contains(res.Summary, "web-asg") {
		t.Errorf("summary = %q", res.Summary)
	}
}

func TestQuarantineReusesIsolationGroups(t *testing.T) {
	tests := []struct {
		name   string
		groups string
		want   []string
		revoke string // the CidrIp revoked from the reused isolation group, "" for no revoke
	}{
		{
			name: "empty groups",
			groups: `<item><groupId>sg-old-t</groupId><groupName>picket-isolation-transition</groupName><vpcId>vpc-1</vpcId>
				<ipPermissions><item><ipProtocol>-1</ipProtocol><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item></ipPermissions></item>
				<item><groupId>sg-old-i</groupId><groupName>picket-isolation</groupName><vpcId>vpc-1</vpcId></item>`,
		},
		{
			name: "stray outbound rule removed",
			groups: `<item><groupId>sg-old-t</groupId><groupName>picket-isolation-transition</groupName><vpcId>vpc-1</vpcId></item>
				<item><groupId>sg-old-i</groupId><groupName>picket-isolation</groupName><vpcId>vpc-1</vpcId>
				<ipPermissionsEgress><item><ipProtocol>tcp</ipProtocol><fromPort>443</fromPort><toPort>443</toPort>
				<ipRanges><item><cidrIp>10.0.0.0/8</cidrIp></item></ipRanges></item></ipPermissionsEgress></item>`,
			revoke: "10.0.0.0/8",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newQuarantineFake(t, instanceScenario{protection: true, groups: tt.groups})
			_, res, calls := runQuarantine(t, srv, newTestQuarantine(srv), testQuarantineRequest(false))
			if res.Outcome != picket.OutcomeSucceeded {
				t.Fatalf("outcome = %s, want succeeded; steps %v", res.Outcome, stepStatuses(res.Steps))
			}
			ops := awsOps(calls)
			for _, op := range []string{"ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "autoscaling:DetachInstances", "ec2:ModifyInstanceAttribute"} {
				if slices.Contains(ops, op) {
					t.Errorf("called %s; want the groups reused, no group membership and protection already on", op)
				}
			}
			revokes := callsOf(calls, "ec2:RevokeSecurityGroupEgress")
			switch {
			case tt.revoke == "" && len(revokes) > 0:
				t.Errorf("revoked egress %v on an empty group", revokes[0].Form)
			case tt.revoke != "" && (len(revokes) != 1 || revokes[0].Param("IpPermissions.1.IpRanges.1.CidrIp") != tt.revoke ||
				revokes[0].Param("GroupId") != "sg-old-i"):
				t.Errorf("revokes = %d, want one on sg-old-i for %s", len(revokes), tt.revoke)
			}
			moves := callsOf(calls, "ec2:ModifyNetworkInterfaceAttribute")
			var groups []string
			for _, m := range moves {
				groups = append(groups, m.Param("SecurityGroupId.1"))
			}
			if want := []string{"sg-old-t", "sg-old-i", "sg-old-t", "sg-old-i"}; !slices.Equal(groups, want) {
				t.Errorf("interface moves = %v, want %v", groups, want)
			}
			var ev actions.InstanceEvidence
			json.Unmarshal(res.Evidence, &ev)
			if len(ev.GroupsCreated) != 0 || ev.ProtectionEnabled || !ev.TerminationProtection {
				t.Errorf("evidence created %v protection enabled %t before %t; want none created and protection left as it was",
					ev.GroupsCreated, ev.ProtectionEnabled, ev.TerminationProtection)
			}
		})
	}
}

func TestQuarantineDryRunWritesNothing(t *testing.T) {
	srv := newQuarantineFake(t, instanceScenario{asg: "web-asg"})
	_, res, calls := runQuarantine(t, srv, newTestQuarantine(srv), testQuarantineRequest(true))
	if got := awsOps(calls); !slices.Equal(got, quarantineReads) {
		t.Fatalf("operations = %v, want only the reads %v", got, quarantineReads)
	}
	if res.Outcome != picket.OutcomeDryRunned {
		t.Fatalf("outcome = %s, want dry_run", res.Outcome)
	}
	if len(res.Steps) == 0 {
		t.Fatal("no steps recorded, want every write as a dry-run step")
	}
	for _, s := range res.Steps {
		if s.Status != picket.StepDryRun {
			t.Errorf("step %s %q: status %s, want dry_run", s.Operation, s.Description, s.Status)
		}
	}
	if !strings.HasPrefix(res.Summary, "Dry run") {
		t.Errorf("summary = %q, want it to say dry run", res.Summary)
	}
}

func TestQuarantineRefusals(t *testing.T) {
	tests := []struct {
		name     string
		sc       instanceScenario
		target   string
		notFound bool
		want     string
	}{
		{name: "protected tag", sc: instanceScenario{tags: `<item><key>picket:protected</key><value>true</value></item>`}, want: "protected"},
		{name: "protected by name", sc: instanceScenario{tags: `<item><key>role</key><value>x</value></item>`}, want: "protected", target: "bastion"},
		{name: "terminated", sc: instanceScenario{state: "terminated"}, want: "terminated"},
		{name: "not found", notFound: true, want: "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newQuarantineFake(t, tt.sc)
			if tt.target == "bastion" {
				srv.On("ec2", "DescribeInstances", awsfake.Reply(awsfake.EC2Result("DescribeInstances", `<reservationSet><item><instancesSet><item>
					<instanceId>i-0abc</instanceId><instanceState><name>running</name></instanceState><vpcId>vpc-1</vpcId>
					<networkInterfaceSet><item><networkInterfaceId>eni-1</networkInterfaceId></item></networkInterfaceSet>
					<tagSet><item><key>Name</key><value>bastion</value></item></tagSet></item></instancesSet></item></reservationSet>`)))
			}
			if tt.notFound {
				srv.On("ec2", "DescribeInstances", awsfake.Reply(awsfake.EC2Error("InvalidInstanceID.NotFound", "The instance ID 'i-0abc' does not exist")))
			}
			q := newTestQuarantine(srv)
			plan, err := q.Plan(context.Background(), testQuarantineRequest(false), testInstanceFinding())
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if !strings.Contains(plan.Refusal, tt.want) || len(plan.Steps) != 0 {
				t.Fatalf("refusal %q with %d steps, want a refusal mentioning %q and no steps", plan.Refusal, len(plan.Steps), tt.want)
			}
			srv.Reset()
			res := q.Execute(context.Background(), plan, testInstanceFinding())
			if res.Outcome != picket.OutcomeRefused || len(srv.Calls()) != 0 {
				t.Fatalf("Execute of a refused plan: outcome %s after %v, want refused and no calls", res.Outcome, srv.Operations())
			}
		})
	}
}

func TestQuarantinePartialFailureTellsTheTruth(t *testing.T) {
	t.Run("snapshot denied", func(t *testing.T) {
		srv := newQuarantineFake(t, instanceScenario{})
		srv.On("ec2", "CreateSnapshot", func(r *awsfake.Request) awsfake.Response {
			if r.Param("VolumeId") == "vol-2" {
				return awsfake.EC2Error("UnauthorizedOperation", "You are not authorized to perform this operation.")
			}
			return awsfake.EC2Result("CreateSnapshot", "<snapshotId>snap-1</snapshotId>")
		})
		_, res, calls := runQuarantine(t, srv, newTestQuarantine(srv), testQuarantineRequest(false))
		if res.Outcome != picket.OutcomePartial {
			t.Fatalf("outcome = %s, want partial", res.Outcome)
		}
		// Independent later steps still ran.
		if ops := awsOps(calls); !slices.Contains(ops, "ec2:CreateTags") || !slices.Contains(ops, "securityhub:BatchUpdateFindings") {
			t.Errorf("operations %v, want tagging and the note after the failed snapshot", ops)
		}
		var failed []picket.StepResult
		for _, s := range res.Steps {
			if s.Status == picket.StepFailed {
				failed = append(failed, s)
			}
		}
		if len(failed) != 1 || failed[0].Operation != "ec2:CreateSnapshot" || failed[0].ErrorCode != "UnauthorizedOperation" ||
			failed[0].RequestID == "" || !strings.Contains(failed[0].Description, "vol-2") {
			t.Fatalf("failed steps = %+v, want the vol-2 snapshot with its code and request id", failed)
		}
		for _, want := range []string{"only in part", "ec2:CreateSnapshot: UnauthorizedOperation", "All 2 network interfaces are isolated"} {
			if !strings.Contains(res.Summary, want) {
				t.Errorf("summary %q does not say %q", res.Summary, want)
			}
		}
		if res.NextStep == "" {
			t.Error("no next step for a partial quarantine")
		}
	})
	t.Run("isolation move fails", func(t *testing.T) {
		srv := newQuarantineFake(t, instanceScenario{})
		srv.On("ec2", "ModifyNetworkInterfaceAttribute", func(r *awsfake.Request) awsfake.Response {
			if r.Param("NetworkInterfaceId") == "eni-2" && r.Param("SecurityGroupId.1") == qIsolation {
				return awsfake.EC2Error("InvalidGroup.NotFound", "The security group does not exist")
			}
			return awsfake.EC2Result("ModifyNetworkInterfaceAttribute", "<return>true</return>")
		})
		_, res, calls := runQuarantine(t, srv, newTestQuarantine(srv), testQuarantineRequest(false))
		var got []string
		for _, m := range callsOf(calls, "ec2:ModifyNetworkInterfaceAttribute") {
			got = append(got, m.Param("NetworkInterfaceId")+":"+strings.Join(sgParams(m), ","))
		}
		// eni-2 must not be left in the allow-all group: it goes back.
		want := []string{"eni-1:sg-trans", "eni-1:sg-iso", "eni-2:sg-trans", "eni-2:sg-iso", "eni-2:sg-db"}
		if !slices.Equal(got, want) {
			t.Fatalf("interface moves = %v, want %v", got, want)
		}
		if res.Outcome != picket.OutcomePartial || !strings.Contains(res.Summary, "Only 1 of 2 network interfaces are isolated") {
			t.Errorf("outcome %s summary %q, want partial saying only 1 of 2 isolated", res.Outcome, res.Summary)
		}
		if !strings.HasPrefix(res.NextStep, "Isolate the instance by hand") {
			t.Errorf("next step = %q, want isolating by hand first", res.NextStep)
		}
		var ev actions.InstanceEvidence
		json.Unmarshal(res.Evidence, &ev)
		if ev.NetworkInterfaces[1].Moved || ev.NetworkInterfaces[1].Isolated {
			t.Errorf("eni-2 evidence = %+v, want neither moved (it was put back) nor isolated", ev.NetworkInterfaces[1])
		}
	})
}

func sgParams(c awsfake.Call) []string {
	var out []string
	for i := 1; ; i++ {
		v := c.Param(fmt.Sprintf("SecurityGroupId.%d", i))
		if v == "" {
			return out
		}
		out = append(out, v)
	}
}

func TestQuarantineUndoRestoresRecordedState(t *testing.T) {
	srv := newQuarantineFake(t, instanceScenario{asg: "web-asg"})
	q := newTestQuarantine(srv)
	plan, res, _ := runQuarantine(t, srv, q, testQuarantineRequest(false))
	if res.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("quarantine outcome = %s", res.Outcome)
	}
	original := picket.ActionRecord{Request: plan.Request, Plan: plan, Status: res.Outcome, Result: &res}
	undoReq := picket.ActionRequest{ID: "act-u1", Kind: picket.ActionUndo, UndoOf: "act-q1", FindingKey: "fk-q",
		Target: plan.Request.Target, Account: qAccount, Region: "us-east-1", Actor: picket.Actor{ID: "U0CAROL"}}
	ctx := context.Background()

	srv.Reset()
	up, err := q.PlanUndo(ctx, original, undoReq)
	if err != nil || up.Refusal != "" {
		t.Fatalf("PlanUndo: %v, refusal %q", err, up.Refusal)
	}
	if got := srv.Operations(); !slices.Equal(got, []string{"ec2:DescribeInstances"}) {
		t.Errorf("PlanUndo awsOps = %v, want only DescribeInstances", got)
	}
	if last := up.Steps[len(up.Steps)-1].Description; !strings.Contains(last, "snap-1, snap-2 are kept as evidence") {
		t.Errorf("last undo step %q, want it to say the snapshots are kept", last)
	}

	srv.Reset()
	ur := q.ExecuteUndo(ctx, up, original)
	want := []string{
		"ec2:ModifyNetworkInterfaceAttribute", "ec2:ModifyNetworkInterfaceAttribute",
		"autoscaling:AttachInstances", "ec2:ModifyInstanceAttribute", "ec2:DeleteTags",
	}
	calls := srv.Calls()
	if got := awsOps(calls); !slices.Equal(got, want) {
		t.Fatalf("undo awsOps:\n got %v\nwant %v", got, want)
	}
	if ur.Outcome != picket.OutcomeSucceeded {
		t.Fatalf("undo outcome = %s, steps %v", ur.Outcome, stepStatuses(ur.Steps))
	}
	checks := []struct {
		name string
		got  string
		want string
	}{
		{"eni-1 restored", strings.Join(sgParams(calls[0]), ","), "sg-web,sg-ssh"},
		{"eni-1 id", calls[0].Param("NetworkInterfaceId"), "eni-1"},
		{"eni-2 restored", strings.Join(sgParams(calls[1]), ","), "sg-db"},
		{"re-attached group", calls[2].Param("AutoScalingGroupName"), "web-asg"},
		{"re-attached instance", calls[2].Param("InstanceIds.member.1"), qInstance},
		{"protection back off", calls[3].Param("DisableApiTermination.Value"), "false"},
		{"quarantine tag removed", calls[4].Param("Tag.1.Key"), "picket:quarantined"},
		{"quarantined-by tag removed", calls[4].Param("Tag.2.Key"), "picket:quarantined-by"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %q, want %q", c.got, c.want)
			}
		})
	}
	if slices.Contains(awsOps(calls), "ec2:DeleteSnapshot") {
		t.Error("undo deleted a snapshot")
	}

	t.Run("dry run", func(t *testing.T) {
		srv.Reset()
		dry := up
		dry.Request.DryRun = true
		r := q.ExecuteUndo(ctx, dry, original)
		if len(srv.Calls()) != 0 || r.Outcome != picket.OutcomeDryRunned {
			t.Errorf("dry-run undo: calls %v outcome %s, want none and dry_run", srv.Operations(), r.Outcome)
		}
	})
	t.Run("no evidence refused", func(t *testing.T) {
		p, err := q.PlanUndo(ctx, picket.ActionRecord{Request: plan.Request}, undoReq)
		if err != nil || p.Refusal == "" {
			t.Errorf("PlanUndo without evidence: %v, refusal %q; want a refusal", err, p.Refusal)
		}
	})
}
