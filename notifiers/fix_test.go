package notifiers_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/notifiers"
)

// fixFinding is a FAILED Security Hub control finding in the form the
// decoder gives it.
func fixFinding(generator, control, title string, r picket.Resource) *picket.Finding {
	f := complianceFinding("FAILED", picket.WorkflowNew)
	f.Key = picket.FindingKey("arn:aws:securityhub:us-east-1::product/aws/securityhub\n" + generator + "/" + r.ID)
	f.ProductARN = "arn:aws:securityhub:us-east-1::product/aws/securityhub"
	f.GeneratorID, f.ControlID, f.Title = generator, control, title
	f.Type = "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices"
	f.Description = title
	f.RemediationURL = "https://docs.aws.amazon.com/console/securityhub/" + control + "/remediation"
	f.Resources = []picket.Resource{r}
	return f
}

func fixBucketFinding() *picket.Finding {
	return fixFinding("security-control/S3.8", "S3.8", "S3 general purpose buckets should block public access",
		picket.Resource{Kind: picket.ResourceS3Bucket, Type: "AwsS3Bucket", ID: "customer-exports", ARN: "arn:aws:s3:::customer-exports"})
}

// fixRecord is a succeeded fix of the bucket finding by dana.
func fixRecord(f *picket.Finding) picket.ActionRecord {
	req := picket.ActionRequest{ID: "req-fix-1", Kind: picket.ActionFixBucketPublicAccess, FindingKey: f.Key, Target: f.Resources[0],
		Account: account, Region: "us-east-1", Actor: dana, At: t1}
	steps := []picket.StepResult{
		{Operation: "s3:PutPublicAccessBlock", Description: "Turn on Block Public Access for S3 bucket " + f.Resources[0].ID, Status: picket.StepDone, RequestID: "R1", At: t1},
		{Operation: "securityhub:BatchUpdateFindings", Description: "Add a note to the finding", Status: picket.StepDone, RequestID: "R2", At: t1},
	}
	plan := picket.Plan{Request: req, Undo: "Restore the Block Public Access settings of S3 bucket " + f.Resources[0].ID + " recorded before the fix (none)."}
	for _, s := range steps {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: s.Operation, Description: s.Description})
	}
	done := t1.Add(2 * time.Second)
	return picket.ActionRecord{Request: req, Plan: plan, Status: picket.OutcomeSucceeded, Updated: done,
		Result: &picket.ActionResult{Request: req, Outcome: picket.OutcomeSucceeded, Steps: steps,
			Summary: "Turned on Block Public Access for S3 bucket " + f.Resources[0].ID + ".", Started: t1, Finished: done}}
}

// fixAlertCases are the golden alerts of failed control findings with a
// fix button, one applied fix with its Undo, and a hostile variant.
func fixAlertCases() []alertCase {
	sg := fixFinding("arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/4.1", "4.1",
		"4.1 Ensure no security groups allow ingress from 0.0.0.0/0 to port 22",
		picket.Resource{Kind: picket.ResourceSecurityGrp, Type: "AwsEc2SecurityGroup", ID: "sg-0123456789abcdef0",
			ARN: "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0123456789abcdef0", Region: "us-east-1"})
	acct := picket.Resource{Kind: picket.ResourceAccount, Type: "AwsAccount", ID: account}
	s31 := fixFinding("security-control/S3.1", "S3.1", "S3 general purpose buckets should have block public access settings enabled", acct)
	ebs := fixFinding("aws-foundational-security-best-practices/v/1.0.0/EC2.7", "EC2.7", "EBS default encryption should be enabled", acct)

	applied := fixBucketFinding()

	hostile := fixFinding("security-control/EC2.13", "EC2.13", "<!channel> open <https://evil.example|ssh> & `x`",
		picket.Resource{Kind: picket.ResourceSecurityGrp, Type: "AwsEc2SecurityGroup", ID: "sg-<!channel>`&<@U1>|x>", Region: "us-east-1"})
	hostile.Description = "<!here> fix me <https://evil.example|now>"
	hostileRec := fixRecord(hostile)
	hostileRec.Request.Kind = picket.ActionFixSecurityGroup
	hostileRec.Request.ID = "req-fix-hostile" // request ids are Picket's own, never finding text
	hostileRec.Result.Summary = "Revoked 1 of 2 world-open ingress rule(s) of security group sg-<!channel>: sgr-1 (<@U1>)."
	hostileRec.Plan.Undo = "add the revoked rules to <!everyone> again"
	hostileBucket := fixFinding("security-control/S3.2", "S3.2", "S3 general purpose buckets should block public read access",
		picket.Resource{Kind: picket.ResourceS3Bucket, Type: "AwsS3Bucket", ID: "<!subteam^S1>&b`", ARN: "arn:aws:s3:::x"})

	return []alertCase{
		{"fix_bucket", picket.Alert{Finding: fixBucketFinding(), Channel: "C0COMPLY"}},
		{"fix_security_group", picket.Alert{Finding: sg, Channel: "C0COMPLY"}},
		{"fix_account_public_access", picket.Alert{Finding: s31, Channel: "C0COMPLY"}},
		{"fix_ebs_encryption", picket.Alert{Finding: ebs, Channel: "C0COMPLY"}},
		{"fix_applied", picket.Alert{Finding: applied, Channel: "C0COMPLY", Actions: []picket.ActionRecord{fixRecord(applied)}}},
		{"fix_hostile", picket.Alert{Finding: hostile, Channel: "C0COMPLY", Actions: []picket.ActionRecord{hostileRec}}},
		{"fix_hostile_bucket", picket.Alert{Finding: hostileBucket, Channel: "C0COMPLY"}},
	}
}

func TestRenderFixButtons(t *testing.T) {
	cases := map[string]picket.Alert{}
	for _, c := range fixAlertCases() {
		cases[c.name] = c.alert
	}
	tests := []struct {
		name    string
		wantIDs []string
		// wantConfirm are phrases the fix button's confirm dialog says.
		wantConfirm []string
	}{
		{"fix_bucket", []string{notifiers.ActionFixBucketPublicAccess, notifiers.ActionSuppress, notifiers.ActionEscalate},
			[]string{"S3 bucket customer-exports", "account 123456789012", "S3.8", "Undo"}},
		{"fix_security_group", []string{notifiers.ActionFixSecurityGroup, notifiers.ActionSuppress, notifiers.ActionEscalate},
			[]string{"sg-0123456789abcdef0", "port 22", "EC2.13"}},
		{"fix_account_public_access", []string{notifiers.ActionFixAccountPublicAccess, notifiers.ActionSuppress, notifiers.ActionEscalate},
			[]string{"every bucket in account 123456789012", "S3.1"}},
		{"fix_ebs_encryption", []string{notifiers.ActionFixEBSEncryption, notifiers.ActionSuppress, notifiers.ActionEscalate},
			[]string{"region us-east-1", "EC2.7"}},
		// Applied: the fix button gives way to its Undo.
		{"fix_applied", []string{notifiers.ActionUndo, notifiers.ActionSuppress, notifiers.ActionEscalate}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := notifiers.Render(cases[tt.name])
			ids, _ := buttons(t, m)
			if !slices.Equal(ids, tt.wantIDs) {
				t.Fatalf("got buttons %v, want %v", ids, tt.wantIDs)
			}
			if tt.wantConfirm == nil {
				return
			}
			b, _ := json.Marshal(m)
			s := string(b)
			for _, want := range append(tt.wantConfirm, `"style":"danger"`, `"text":"Fix: `) {
				if !strings.Contains(s, want) {
					t.Errorf("fix button does not say %q", want)
				}
			}
		})
	}
	// A passed or closed control finding offers no fix, nor does one whose
	// product is not Security Hub.
	for name, edit := range map[string]func(*picket.Finding){
		"passed":   func(f *picket.Finding) { f.ComplianceStatus = "PASSED" },
		"resolved": func(f *picket.Finding) { f.WorkflowStatus = picket.WorkflowResolved },
		"third party": func(f *picket.Finding) {
			f.ProductARN = "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := fixBucketFinding()
			edit(f)
			ids, _ := buttons(t, notifiers.Render(picket.Alert{Finding: f, Channel: "C0COMPLY"}))
			if slices.ContainsFunc(ids, func(id string) bool { return strings.HasPrefix(id, "picket.fix_") }) {
				t.Errorf("got buttons %v, want no fix", ids)
			}
		})
	}
}

// TestRenderFixHostile: finding text in the fix button's dialog, the
// history line and the Undo button cannot mention anyone or link anywhere.
func TestRenderFixHostile(t *testing.T) {
	for _, c := range fixAlertCases() {
		if !strings.HasPrefix(c.name, "fix_hostile") {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			m := notifiers.Render(c.alert)
			b := marshalMessage(t, m)
			for _, bad := range []string{"<!channel>", "<!here>", "<!everyone>", "<@U1>", "<!subteam^S1>", "<https://evil.example"} {
				if strings.Contains(string(b), bad) {
					t.Errorf("rendered message contains %q unescaped", bad)
				}
			}
			ids, _ := buttons(t, m)
			if !slices.ContainsFunc(ids, func(id string) bool { return strings.HasPrefix(id, "picket.fix_") || id == notifiers.ActionUndo }) {
				t.Errorf("got buttons %v, want the fix or its Undo offered still", ids)
			}
		})
	}
}
