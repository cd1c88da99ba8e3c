package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/posture"
	pt "github.com/picketsec/picket/posture/posturetest"
)

// checkEnv points the AWS SDK's default chain at srv with static
// credentials and no shared config files.
func checkEnv(t *testing.T, srv *awsfake.Server) map[string]string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	return map[string]string{
		"AWS_ENDPOINT_URL": srv.URL(),
		"AWS_REGION":       "us-east-1",
		"PICKET_DATA_DIR":  dir,
		"PICKET_LOG_LEVEL": "error",
	}
}

// runCheck runs `picket check args...` in-process.
func runCheck(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := cliEnv(env, &out, &errb)
	code = cmdCheck(context.Background(), e, args)
	return code, out.String(), errb.String()
}

// cliEnv is an env over the given variables and buffers.
func cliEnv(m map[string]string, out, errb *bytes.Buffer) env {
	return env{stdin: strings.NewReader(""), stdout: out, stderr: errb, getenv: func(k string) string { return m[k] }}
}

func TestCheckJSON(t *testing.T) {
	srv := awsfake.New(t)
	pt.Healthy(srv, time.Now(), nil)
	env := checkEnv(t, srv)

	code, out, errOut := runCheck(t, env, "--json")
	if code != exitOK {
		t.Fatalf("exit %d, want 0 for a healthy account; stderr:\n%s\nstdout:\n%s", code, errOut, out)
	}
	var raw struct {
		Account string           `json:"account"`
		Regions []string         `json:"regions"`
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if raw.Account != pt.Account || len(raw.Regions) != 1 || raw.Regions[0] != "us-east-1" {
		t.Errorf("got account %q regions %q, want %s in us-east-1", raw.Account, raw.Regions, pt.Account)
	}
	defs := posture.Definitions()
	if len(raw.Results) != len(defs) {
		t.Fatalf("got %d checks, want %d", len(raw.Results), len(defs))
	}
	for i, d := range defs {
		r := raw.Results[i]
		if r["id"] != d.ID || r["status"] != string(picket.CheckPass) {
			t.Errorf("result %d: got %v %v, want %s pass (error %v)", i, r["id"], r["status"], d.ID, r["error"])
		}
	}
	ops := srv.Operations()
	if len(ops) == 0 || ops[0] != "sts:GetCallerIdentity" {
		t.Errorf("first call %q, want sts:GetCallerIdentity", ops)
	}
}

func TestCheckFailsPipeline(t *testing.T) {
	srv := awsfake.New(t)
	pt.Healthy(srv, time.Now(), nil)
	srv.On("ec2", "GetEbsEncryptionByDefault", awsfake.Reply(awsfake.EC2Result("GetEbsEncryptionByDefault",
		"<ebsEncryptionByDefault>false</ebsEncryptionByDefault>")))
	env := checkEnv(t, srv)

	code, out, errOut := runCheck(t, env, "--json", "ec2.ebs-default-encryption", "iam.password-policy")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1 when a check fails; stderr:\n%s", code, errOut)
	}
	var r picket.PostureReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stdout is not a report: %v\n%s", err, out)
	}
	got := map[string]picket.CheckStatus{}
	for _, c := range r.Results {
		got[c.ID] = c.Status
	}
	if got["ec2.ebs-default-encryption"] != picket.CheckFail || got["iam.password-policy"] != picket.CheckPass || len(got) != 2 {
		t.Errorf("got statuses %v, want EBS fail and password policy pass only", got)
	}

	// Text output, flags after the ids, explicit account and region.
	code, out, _ = runCheck(t, env, "ec2.ebs-default-encryption", "--account", pt.Account, "--region", "eu-west-1")
	if code != exitFailure {
		t.Fatalf("text: exit %d, want 1", code)
	}
	for _, want := range []string{"Posture of account " + pt.Account + " in eu-west-1", "Score: 0%", "FAIL  ec2.ebs-default-encryption",
		"https://docs.aws.amazon.com/ebs/latest/userguide/encryption-by-default.html"} {
		if !strings.Contains(out, want) {
			t.Errorf("text has no %q:\n%s", want, out)
		}
	}
	last := srv.Calls()[len(srv.Calls())-1]
	if last.Operation != "GetEbsEncryptionByDefault" || last.Region != "eu-west-1" {
		t.Errorf("last call %s in %s, want GetEbsEncryptionByDefault in eu-west-1", last.Operation, last.Region)
	}
}

func TestCheckUsage(t *testing.T) {
	srv := awsfake.New(t)
	pt.Healthy(srv, time.Now(), nil)
	env := checkEnv(t, srv)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown check", []string{"iam.nope"}, "valid checks: all, iam.root-mfa"},
		{"bad account", []string{"--account", "12"}, "not a 12-digit"},
		{"other account", []string{"--account", "999999999999", "iam.root-mfa"}, "no access to account 999999999999"},
		{"bad flag", []string{"--frobnicate"}, "usage: picket check"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCheck(t, env, tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stdout %q", code, exitUsage, out)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q does not say %q", errOut, tc.want)
			}
		})
	}
}

// TestPostureClientsMemberAccount: a member account listed in
// responses.accounts is checked with its role's credentials; an unknown
// account is refused.
func TestPostureClientsMemberAccount(t *testing.T) {
	srv := awsfake.New(t)
	srv.On("sts", "GetCallerIdentity", awsfake.Reply(awsfake.QueryResult("GetCallerIdentity",
		`<Arn>arn:aws:iam::111111111111:user/picket</Arn><UserId>AIDA</UserId><Account>111111111111</Account>`)))
	srv.On("sts", "AssumeRole", awsfake.Reply(awsfake.QueryResult("AssumeRole", `<Credentials>
		<AccessKeyId>ASIAMEMBER</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>tok</SessionToken>
		<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
		<AssumedRoleUser><Arn>arn:aws:sts::222222222222:assumed-role/PicketResponder/picket-posture</Arn><AssumedRoleId>AROA:p</AssumedRoleId></AssumedRoleUser>`)))
	var signed []string
	srv.On("iam", "GetAccountPasswordPolicy", func(r *awsfake.Request) awsfake.Response {
		signed = append(signed, r.Header.Get("Authorization"))
		return awsfake.QueryError("NoSuchEntity", "no policy")
	})
	clients := postureClients(srv.Config(), true, []config.Account{
		{ID: "222222222222", RoleARN: "arn:aws:iam::222222222222:role/PicketResponder", ExternalID: "ext-9"},
	})
	ctx := context.Background()
	if _, err := clients(ctx, "333333333333", "us-east-1"); picket.ErrorCode(err) != picket.EUNAUTHORIZED {
		t.Fatalf("unknown account: err %v, want unauthorized", err)
	}
	own, err := clients(ctx, "111111111111", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	member, err := clients(ctx, "222222222222", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	member.IAM.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	own.IAM.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	if len(signed) != 2 || !strings.Contains(signed[0], "Credential=ASIAMEMBER/") || strings.Contains(signed[1], "ASIAMEMBER") {
		t.Fatalf("signatures = %q; want the member call signed with the assumed role and the own-account call not", signed)
	}
	for _, c := range srv.Calls() {
		if c.Operation == "AssumeRole" && c.Param("ExternalId") != "ext-9" {
			t.Errorf("AssumeRole ExternalId = %q, want ext-9", c.Param("ExternalId"))
		}
	}
}

// TestCheckFailsClosed: a check that could not run makes picket check exit
// with exitIncomplete, distinct from a failed check, whether or not other
// checks failed, so a pipeline gate never passes on a report it cannot
// trust.
func TestCheckFailsClosed(t *testing.T) {
	tests := []struct {
		name  string
		setup func(srv *awsfake.Server)
		args  []string
		want  int
		says  string // on stderr
	}{
		{
			name: "every check denied",
			setup: func(srv *awsfake.Server) {
				srv.On("sts", "GetCallerIdentity", awsfake.Reply(awsfake.QueryResult("GetCallerIdentity",
					"<Arn>arn:aws:sts::"+pt.Account+":assumed-role/picket/bot</Arn><UserId>AROA:bot</UserId><Account>"+pt.Account+"</Account>")))
				srv.AllowUnexpected() // every other call is answered with an error
			},
			want: exitIncomplete,
			says: fmt.Sprintf("%d of %d checks could not run", len(posture.Definitions()), len(posture.Definitions())),
		},
		{
			name: "one failed and one denied",
			setup: func(srv *awsfake.Server) {
				pt.Healthy(srv, time.Now(), nil)
				srv.On("ec2", "GetEbsEncryptionByDefault", awsfake.Reply(awsfake.EC2Result("GetEbsEncryptionByDefault",
					"<ebsEncryptionByDefault>false</ebsEncryptionByDefault>")))
				srv.On("iam", "GetAccountPasswordPolicy", awsfake.Reply(awsfake.QueryError("AccessDenied",
					"User: arn:aws:sts::123456789012:assumed-role/picket/bot is not authorized to perform: iam:GetAccountPasswordPolicy")))
			},
			args: []string{"ec2.ebs-default-encryption", "iam.password-policy"},
			want: exitIncomplete,
			says: "1 of 2 checks could not run (iam.password-policy)",
		},
		{
			name: "one denied, the other passed",
			setup: func(srv *awsfake.Server) {
				pt.Healthy(srv, time.Now(), nil)
				srv.On("iam", "GetAccountPasswordPolicy", awsfake.Reply(awsfake.QueryError("AccessDenied", "denied")))
			},
			args: []string{"ec2.ebs-default-encryption", "iam.password-policy"},
			want: exitIncomplete,
			says: "could not run (iam.password-policy)",
		},
		{
			name: "all ran, one failed",
			setup: func(srv *awsfake.Server) {
				pt.Healthy(srv, time.Now(), nil)
				srv.On("ec2", "GetEbsEncryptionByDefault", awsfake.Reply(awsfake.EC2Result("GetEbsEncryptionByDefault",
					"<ebsEncryptionByDefault>false</ebsEncryptionByDefault>")))
			},
			args: []string{"ec2.ebs-default-encryption", "iam.password-policy"},
			want: exitFailure,
		},
	}
	for _, tc := range tests {
		for _, format := range []string{"text", "json"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				srv := awsfake.New(t)
				tc.setup(srv)
				args := tc.args
				if format == "json" {
					args = append([]string{"--json"}, args...)
				}
				code, out, errOut := runCheck(t, checkEnv(t, srv), args...)
				if code != tc.want {
					t.Fatalf("exit %d, want %d; stderr:\n%s\nstdout:\n%s", code, tc.want, errOut, out)
				}
				if tc.says != "" && !strings.Contains(errOut, tc.says) {
					t.Errorf("stderr %q does not say %q", errOut, tc.says)
				}
			})
		}
	}
}

// TestCheckHelpNamesExitStatuses: `picket check -h` documents every exit
// status, the incomplete one included.
func TestCheckHelpNamesExitStatuses(t *testing.T) {
	code, _, errOut := runCheck(t, map[string]string{}, "-h")
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	for _, want := range []string{
		"exit status:",
		fmt.Sprintf("%d  every check ran and passed", exitOK),
		fmt.Sprintf("%d  every check ran and at least one failed", exitFailure),
		fmt.Sprintf("%d  at least one check could not run", exitIncomplete),
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("help does not say %q:\n%s", want, errOut)
		}
	}
	if exitIncomplete == exitFailure || exitIncomplete == exitOK || exitIncomplete == exitUsage {
		t.Errorf("exitIncomplete = %d, want a status of its own", exitIncomplete)
	}
}
