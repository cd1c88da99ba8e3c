package posture_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/posture"
	pt "github.com/picketsec/picket/posture/posturetest"
)

var credentialReportOps = []string{"iam:GenerateCredentialReport", "iam:GetCredentialReport"}

// checkCase is one check with the AWS calls its pass case makes and a
// change to the healthy account that makes it fail.
type checkCase struct {
	id      string
	passOps []string
	// passCalls asserts on the decoded requests of the pass case.
	passCalls func(t *testing.T, calls []awsfake.Call)
	// fail makes the account fail the check; failing is what fails.
	fail    func(srv *awsfake.Server)
	failing []string
}

func paramIs(t *testing.T, c awsfake.Call, name, want string) {
	t.Helper()
	if got := c.Param(name); got != want {
		t.Errorf("%s:%s %s = %q, want %q", c.Service, c.Operation, name, got, want)
	}
}

func withUsers(change func(u []pt.User) []pt.User) func(srv *awsfake.Server) {
	return func(srv *awsfake.Server) {
		srv.On("iam", "GetCredentialReport", awsfake.Reply(pt.CredentialReport(now, change(pt.HealthyUsers(now))...)))
	}
}

var checkCases = []checkCase{
	{
		id: "iam.root-mfa", passOps: credentialReportOps,
		fail:    withUsers(func(u []pt.User) []pt.User { u[0].MFA = false; return u }),
		failing: []string{"arn:aws:iam::" + account + ":root"},
	},
	{
		id: "iam.root-access-keys", passOps: credentialReportOps,
		fail: withUsers(func(u []pt.User) []pt.User {
			u[0].Key2, u[0].Key2Rotated = true, pt.DaysAgo(now, 5)
			return u
		}),
		failing: []string{"arn:aws:iam::" + account + ":root"},
	},
	{
		id: "iam.password-policy", passOps: []string{"iam:GetAccountPasswordPolicy"},
		fail: func(srv *awsfake.Server) {
			srv.On("iam", "GetAccountPasswordPolicy", awsfake.Reply(pt.PasswordPolicy(8, 24)))
		},
		failing: []string{"account password policy"},
	},
	{
		id: "iam.console-mfa", passOps: credentialReportOps,
		fail: withUsers(func(u []pt.User) []pt.User {
			return append(u, pt.User{Name: "bob", ARN: "arn:aws:iam::" + account + ":user/bob", Created: pt.DaysAgo(now, 10),
				Password: true, PasswordUsed: pt.DaysAgo(now, 1)})
		}),
		failing: []string{"bob"},
	},
	{
		id: "iam.access-key-age", passOps: credentialReportOps,
		fail: withUsers(func(u []pt.User) []pt.User {
			u[2].Key1Rotated = pt.DaysAgo(now, 100)
			return u
		}),
		failing: []string{"deploy: access key 1 is 100 days old"},
	},
	{
		id: "iam.unused-credentials", passOps: credentialReportOps,
		fail: withUsers(func(u []pt.User) []pt.User {
			u[1].PasswordUsed = pt.DaysAgo(now, 60)
			return append(u, pt.User{Name: "ci", ARN: "arn:aws:iam::" + account + ":user/ci", Created: pt.DaysAgo(now, 300),
				Key1: true, Key1Rotated: pt.DaysAgo(now, 50)}) // never used
		}),
		failing: []string{"alice: password unused for 60 days", "ci: access key 1 unused for 50 days"},
	},
	{
		id: "iam.admin-policies", passOps: []string{"iam:GetAccountAuthorizationDetails", "iam:GetPolicy", "iam:GetPolicyVersion"},
		passCalls: func(t *testing.T, calls []awsfake.Call) {
			paramIs(t, calls[0], "Filter.member.1", "User")
			paramIs(t, calls[1], "PolicyArn", pt.CustomPolicyARN)
			paramIs(t, calls[2], "PolicyArn", pt.CustomPolicyARN)
			paramIs(t, calls[2], "VersionId", "v3")
		},
		fail: func(srv *awsfake.Server) {
			srv.On("iam", "GetAccountAuthorizationDetails", awsfake.Reply(pt.AuthDetails(
				pt.UserDetail("alice", map[string]string{"everything": pt.AllDoc}),
				pt.UserDetail("eve", nil, "arn:aws:iam::aws:policy/AdministratorAccess"))))
		},
		failing: []string{"alice: inline policy everything", "eve: attached policy AdministratorAccess"},
	},
	{
		id: "iam.access-analyzer", passOps: []string{"access-analyzer:ListAnalyzers"},
		fail: func(srv *awsfake.Server) {
			srv.On("access-analyzer", "ListAnalyzers", awsfake.Reply(awsfake.JSONBody(map[string]any{"analyzers": []any{
				map[string]any{"arn": "arn:aws:access-analyzer:us-east-1:" + account + ":analyzer/unused", "name": "unused",
					"type": "ACCOUNT_UNUSED_ACCESS", "status": "ACTIVE", "createdAt": "2024-01-01T00:00:00Z"}}})))
		},
		failing: []string{"IAM Access Analyzer in us-east-1"},
	},
	{
		id: "s3.account-public-access-block", passOps: []string{"s3:GetPublicAccessBlock"},
		fail: func(srv *awsfake.Server) {
			srv.On("s3", "GetPublicAccessBlock", awsfake.Reply(pt.PublicAccessBlock(false)))
		},
		failing: []string{"account " + account},
	},
	{
		id: "s3.public-buckets", passOps: []string{"s3:ListBuckets", "s3:GetBucketPolicyStatus", "s3:GetBucketPolicyStatus"},
		passCalls: func(t *testing.T, calls []awsfake.Call) {
			for i, want := range [][2]string{{"logs", "us-east-1"}, {"site", "eu-west-1"}} {
				c := calls[i+1]
				if c.PathParams["Bucket"] != want[0] || c.Region != want[1] {
					t.Errorf("policy status call %d: got bucket %s in %s, want %s in %s", i, c.PathParams["Bucket"], c.Region, want[0], want[1])
				}
				if _, ok := c.Query["policyStatus"]; !ok {
					t.Errorf("policy status call %d: query %v has no policyStatus", i, c.Query)
				}
			}
		},
		fail: func(srv *awsfake.Server) {
			srv.On("s3", "GetBucketPolicyStatus", pt.PolicyStatus(map[string]bool{"site": true}))
		},
		failing: []string{"site"},
	},
	{
		id: "ec2.ebs-default-encryption", passOps: []string{"ec2:GetEbsEncryptionByDefault"},
		fail: func(srv *awsfake.Server) {
			srv.On("ec2", "GetEbsEncryptionByDefault", awsfake.Reply(awsfake.EC2Result("GetEbsEncryptionByDefault",
				"<ebsEncryptionByDefault>false</ebsEncryptionByDefault>")))
		},
		failing: []string{"EBS default encryption in us-east-1"},
	},
	{
		id: "cloudtrail.multi-region", passOps: []string{"cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus"},
		passCalls: func(t *testing.T, calls []awsfake.Call) {
			paramIs(t, calls[0], "includeShadowTrails", "true")
			paramIs(t, calls[1], "Name", pt.TrailARN)
		},
		fail: func(srv *awsfake.Server) {
			srv.On("cloudtrail", "DescribeTrails", awsfake.Reply(pt.Trail(false, true, "")))
		},
		failing: []string{pt.TrailARN},
	},
	{
		id: "config.recorder", passOps: []string{"config:DescribeConfigurationRecorders", "config:DescribeConfigurationRecorderStatus"},
		fail: func(srv *awsfake.Server) {
			srv.On("config", "DescribeConfigurationRecorderStatus", awsfake.Reply(awsfake.JSONBody(map[string]any{
				"ConfigurationRecordersStatus": []any{map[string]any{"name": "default", "recording": false, "lastStatus": "SUCCESS"}}})))
		},
		failing: []string{"default"},
	},
	{
		id: "kms.key-rotation", passOps: []string{"kms:ListKeys", "kms:DescribeKey", "kms:GetKeyRotationStatus", "kms:DescribeKey"},
		passCalls: func(t *testing.T, calls []awsfake.Call) {
			paramIs(t, calls[1], "KeyId", pt.CMKID)
			paramIs(t, calls[2], "KeyId", pt.CMKID)
			paramIs(t, calls[3], "KeyId", pt.AWSKeyID)
		},
		fail: func(srv *awsfake.Server) {
			srv.On("kms", "GetKeyRotationStatus", awsfake.Reply(awsfake.JSONBody(map[string]any{"KeyRotationEnabled": false})))
		},
		failing: []string{pt.CMKARN},
	},
	{
		id: "vpc.flow-logs", passOps: []string{"ec2:DescribeVpcs", "ec2:DescribeFlowLogs"},
		fail: func(srv *awsfake.Server) {
			srv.On("ec2", "DescribeFlowLogs", awsfake.Reply(awsfake.EC2Result("DescribeFlowLogs",
				"<flowLogSet><item><flowLogId>fl-1</flowLogId><resourceId>vpc-1</resourceId><flowLogStatus>ACTIVE</flowLogStatus></item></flowLogSet>")))
		},
		failing: []string{"vpc-2"},
	},
	{
		id: "guardduty.enabled", passOps: []string{"guardduty:ListDetectors", "guardduty:GetDetector"},
		passCalls: func(t *testing.T, calls []awsfake.Call) { paramIs(t, calls[1], "DetectorId", "det1") },
		fail: func(srv *awsfake.Server) {
			srv.On("guardduty", "GetDetector", awsfake.Reply(awsfake.JSONBody(map[string]any{"status": "DISABLED", "serviceRole": "r"})))
		},
		failing: []string{"GuardDuty in us-east-1"},
	},
	{
		id: "securityhub.enabled", passOps: []string{"securityhub:DescribeHub", "securityhub:GetEnabledStandards"},
		fail: func(srv *awsfake.Server) {
			srv.On("securityhub", "DescribeHub", awsfake.Reply(awsfake.JSONError("InvalidAccessException",
				"Account "+account+" is not subscribed to AWS Security Hub").WithStatus(http.StatusUnauthorized)))
		},
		failing: []string{"Security Hub in us-east-1"},
	},
	{
		id: "ec2.admin-ports-open", passOps: []string{"ec2:DescribeSecurityGroups"},
		passCalls: func(t *testing.T, calls []awsfake.Call) {
			if _, ok := calls[0].Form["Filter.1.Name"]; ok {
				t.Errorf("DescribeSecurityGroups for every group has a filter: %v", calls[0].Form)
			}
		},
		fail: func(srv *awsfake.Server) {
			def := pt.SecurityGroup(pt.DefaultGroup, "default", "vpc-1", "", "")
			srv.On("ec2", "DescribeSecurityGroups", pt.SecurityGroups(def+pt.SecurityGroup(pt.WebGroup, "web", "vpc-1",
				pt.Rule("tcp", 3380, 3390, "", "::/0")+pt.Rule("-1", 0, 0, "0.0.0.0/0", ""), ""), def))
		},
		failing: []string{
			"sg-web (web): port 3389 open to ::/0",
			"sg-web (web): port 22 open to 0.0.0.0/0",
			"sg-web (web): port 3389 open to 0.0.0.0/0",
		},
	},
	{
		id: "ec2.default-security-groups", passOps: []string{"ec2:DescribeSecurityGroups"},
		passCalls: func(t *testing.T, calls []awsfake.Call) {
			paramIs(t, calls[0], "Filter.1.Name", "group-name")
			paramIs(t, calls[0], "Filter.1.Value.1", "default")
		},
		fail: func(srv *awsfake.Server) {
			def := pt.SecurityGroup(pt.DefaultGroup, "default", "vpc-1", pt.Rule("-1", 0, 0, "", "::/0"), "")
			srv.On("ec2", "DescribeSecurityGroups", pt.SecurityGroups(def, def))
		},
		failing: []string{"sg-default (vpc-1): 1 inbound, 0 outbound rules"},
	},
}

// TestEveryCheck runs each check alone against a healthy account, which
// passes, and against one changed to fail it.
func TestEveryCheck(t *testing.T) {
	for _, tc := range checkCases {
		t.Run(tc.id+"/pass", func(t *testing.T) {
			srv := awsfake.New(t)
			pt.Healthy(srv, now, nil)
			r, err := newChecker(t, srv).Check(context.Background(), account, []string{tc.id})
			if err != nil {
				t.Fatal(err)
			}
			res := only(t, r, tc.id)
			if res.Status != picket.CheckPass {
				t.Fatalf("got %s (%s; evidence %q; failing %q), want pass", res.Status, res.Error, res.Evidence, res.Failing)
			}
			if len(res.Evidence) == 0 {
				t.Error("a passing check gave no evidence")
			}
			if got := srv.Operations(); !slices.Equal(got, tc.passOps) {
				t.Errorf("got calls %q, want %q", got, tc.passOps)
			}
			if tc.passCalls != nil && len(srv.Calls()) == len(tc.passOps) {
				tc.passCalls(t, srv.Calls())
			}
		})
		t.Run(tc.id+"/fail", func(t *testing.T) {
			srv := awsfake.New(t)
			pt.Healthy(srv, now, nil)
			tc.fail(srv)
			r, err := newChecker(t, srv).Check(context.Background(), account, []string{tc.id})
			if err != nil {
				t.Fatal(err)
			}
			res := only(t, r, tc.id)
			if res.Status != picket.CheckFail {
				t.Fatalf("got %s (%s; evidence %q), want fail", res.Status, res.Error, res.Evidence)
			}
			if !slices.Equal(res.Failing, tc.failing) {
				t.Errorf("got failing %q, want %q", res.Failing, tc.failing)
			}
			if res.Remediation == "" || res.RemediationURL == "" || res.Why == "" {
				t.Errorf("failure without why/remediation: %+v", res)
			}
		})
	}
}

func TestEveryDefinitionHasACase(t *testing.T) {
	for _, d := range posture.Definitions() {
		if !slices.ContainsFunc(checkCases, func(c checkCase) bool { return c.id == d.ID }) {
			t.Errorf("check %s has no pass/fail case", d.ID)
		}
	}
}

func only(t *testing.T, r picket.PostureReport, id string) picket.CheckResult {
	t.Helper()
	if len(r.Results) != 1 || r.Results[0].ID != id {
		t.Fatalf("got %d results %v, want only %s", len(r.Results), ids(r), id)
	}
	res := r.Results[0]
	if res.Account != account {
		t.Errorf("result account = %q, want %s", res.Account, account)
	}
	return res
}

func ids(r picket.PostureReport) []string {
	var out []string
	for _, c := range r.Results {
		out = append(out, c.ID)
	}
	return out
}

// TestDefinitions: ids are unique and results come grouped by section in
// the order Sections gives.
func TestDefinitions(t *testing.T) {
	seen := map[string]bool{}
	section := 0
	sections := posture.Sections()
	for _, d := range posture.Definitions() {
		if seen[d.ID] {
			t.Errorf("duplicate id %s", d.ID)
		}
		seen[d.ID] = true
		if d.Title == "" || d.Why == "" || d.Remediation == "" || !strings.HasPrefix(d.RemediationURL, "https://docs.aws.amazon.com/") || d.Run == nil {
			t.Errorf("%s is missing a title, why, remediation, AWS docs link or Run", d.ID)
		}
		i := slices.Index(sections, d.Section)
		if i < section {
			t.Errorf("%s in section %q is out of section order", d.ID, d.Section)
		}
		section = i
	}
}
