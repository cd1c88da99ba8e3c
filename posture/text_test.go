package posture_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/posture"
)

func TestText(t *testing.T) {
	var many []string
	for i := range 12 {
		many = append(many, fmt.Sprintf("user%02d", i))
	}
	r := picket.PostureReport{
		Account: account, Regions: []string{"us-east-1"}, Generated: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC),
		Results: []picket.CheckResult{
			{ID: "iam.root-mfa", Title: "Root account has MFA", Section: posture.SectionIAM, Severity: picket.SeverityCritical, Status: picket.CheckPass},
			{ID: "iam.password-policy", Title: "Password policy", Section: posture.SectionIAM, Status: picket.CheckError,
				Error: "access denied: grant iam:GetAccountPasswordPolicy"},
			{ID: "iam.console-mfa", Title: "Every console user has MFA", Section: posture.SectionIAM, Severity: picket.SeverityHigh,
				Status: picket.CheckFail, Failing: many, Remediation: "Assign MFA.", RemediationURL: "https://docs.example/mfa"},
			{ID: "guardduty.enabled", Title: "GuardDuty is enabled", Section: posture.SectionMonitoring, Status: picket.CheckPass},
			{ID: "ec2.ebs-default-encryption", Title: "EBS", Section: posture.SectionStorage, Status: picket.CheckFail,
				Evidence: []string{"EBS encryption by default: false"}, Remediation: "Turn it on."},
		},
	}
	out := posture.Text(r)
	for _, want := range []string{
		"Posture of account " + account + " in us-east-1 at 2026-06-01 12:00 UTC",
		"Score: 50% (2 passed, 2 failed, 1 could not run)",
		"FAIL  iam.console-mfa: Every console user has MFA [High]",
		"- user09\n        and 2 more\n",
		"fix: Assign MFA.\n        https://docs.example/mfa\n",
		"ERROR iam.password-policy: Password policy [Informational]\n        access denied: grant iam:GetAccountPasswordPolicy\n",
		"- EBS encryption by default: false",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text has no %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "user10") {
		t.Errorf("text lists more than 10 failing resources:\n%s", out)
	}
	order := []string{posture.SectionIAM, "FAIL  iam.console-mfa", "ERROR iam.password-policy", "PASS  iam.root-mfa",
		posture.SectionStorage, posture.SectionMonitoring}
	last := -1
	for _, s := range order {
		i := strings.Index(out, s)
		if i < last {
			t.Errorf("%q is out of order (sections in benchmark order, failures, errors, passes):\n%s", s, out)
		}
		last = i
	}
}
