package picket_test

import (
	"slices"
	"testing"

	"github.com/picketsec/picket"
)

const shProduct = "arn:aws:securityhub:us-east-1::product/aws/securityhub"

// controlFinding is a FAILED Security Hub control finding in account
// 111111111111 about one resource.
func controlFinding(generator, controlID string, r picket.Resource) *picket.Finding {
	return &picket.Finding{
		Key: "k", Source: picket.SourceSecurityHub, ProductARN: shProduct, GeneratorID: generator, ControlID: controlID,
		ComplianceStatus: "FAILED", RecordState: picket.RecordActive, WorkflowStatus: picket.WorkflowNew,
		Account: "111111111111", Region: "us-east-1", Resources: []picket.Resource{r},
	}
}

var (
	bucket  = picket.Resource{Kind: picket.ResourceS3Bucket, Type: "AwsS3Bucket", ID: "logs", ARN: "arn:aws:s3:::logs"}
	account = picket.Resource{Kind: picket.ResourceAccount, Type: "AwsAccount", ID: "111111111111"}
	group   = picket.Resource{Kind: picket.ResourceSecurityGrp, Type: "AwsEc2SecurityGroup", ID: "sg-1", Region: "us-east-1"}
)

func TestFixes(t *testing.T) {
	tests := []struct {
		name      string
		generator string
		control   string
		r         picket.Resource
		want      picket.ActionKind // "" for no fix
		ports     []int32
	}{
		{"consolidated S3.8", "security-control/S3.8", "S3.8", bucket, picket.ActionFixBucketPublicAccess, nil},
		{"FSBP S3.2", "aws-foundational-security-best-practices/v/1.0.0/S3.2", "S3.2", bucket, picket.ActionFixBucketPublicAccess, nil},
		{"NIST S3.3", "nist-800-53/v/5.0.0/S3.3", "S3.3", bucket, picket.ActionFixBucketPublicAccess, nil},
		{"PCI S3.1 is public write (S3.3)", "pci-dss/v/3.2.1/PCI.S3.1", "PCI.S3.1", bucket, picket.ActionFixBucketPublicAccess, nil},
		{"PCI S3.6 is account BPA (S3.1)", "pci-dss/v/3.2.1/PCI.S3.6", "PCI.S3.6", account, picket.ActionFixAccountPublicAccess, nil},
		{"CIS 1.4.0 2.1.5 on a bucket", "cis-aws-foundations-benchmark/v/1.4.0/2.1.5", "2.1.5", bucket, picket.ActionFixBucketPublicAccess, nil},
		{"CIS 1.4.0 2.1.5 on the account", "cis-aws-foundations-benchmark/v/1.4.0/2.1.5", "2.1.5", account, picket.ActionFixAccountPublicAccess, nil},
		{"consolidated S3.1", "security-control/S3.1", "S3.1", account, picket.ActionFixAccountPublicAccess, nil},
		{"S3.1 on a bucket resource", "security-control/S3.1", "S3.1", bucket, "", nil},
		{"S3.8 on the account resource", "security-control/S3.8", "S3.8", account, "", nil},
		{"FSBP EC2.7", "aws-foundational-security-best-practices/v/1.0.0/EC2.7", "EC2.7", account, picket.ActionFixEBSEncryption, nil},
		{"CIS 3.0.0 2.2.1", "cis-aws-foundations-benchmark/v/3.0.0/2.2.1", "2.2.1", account, picket.ActionFixEBSEncryption, nil},
		{"CIS 1.2.0 4.1 (ARN form)", "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/4.1", "4.1", group, picket.ActionFixSecurityGroup, []int32{22}},
		{"CIS 1.2.0 4.2 in GovCloud", "arn:aws-us-gov:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/4.2", "4.2", group, picket.ActionFixSecurityGroup, []int32{3389}},
		{"CIS 3.0.0 5.2", "cis-aws-foundations-benchmark/v/3.0.0/5.2", "5.2", group, picket.ActionFixSecurityGroup, []int32{22, 3389}},
		{"PCI EC2.5", "pci-dss/v/3.2.1/PCI.EC2.5", "PCI.EC2.5", group, picket.ActionFixSecurityGroup, []int32{22}},
		{"consolidated EC2.54", "security-control/EC2.54", "EC2.54", group, picket.ActionFixSecurityGroup, []int32{22, 3389}},
		{"EC2.19 high-risk ports", "security-control/EC2.19", "EC2.19", group, picket.ActionFixSecurityGroup, nil},
		{"OCSF control id only", "", "EC2.13", group, picket.ActionFixSecurityGroup, []int32{22}},
		{"EC2.18: ports unknown", "security-control/EC2.18", "EC2.18", group, "", nil},
		{"CIS 1.2.0 4.3 is the default group", "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/4.3", "4.3", group, "", nil},
		{"CIS 1.2.0 2.7 is CloudTrail", "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/2.7", "2.7", account, "", nil},
		{"SG control on a bucket", "security-control/EC2.13", "EC2.13", bucket, "", nil},
		{"account of another account", "security-control/EC2.7", "EC2.7", picket.Resource{Kind: picket.ResourceAccount, ID: "222222222222"}, "", nil},
		{"inconsistent resource", "security-control/S3.8", "S3.8", picket.Resource{Kind: picket.ResourceS3Bucket, ID: "logs", Mismatch: "name and ARN disagree"}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := picket.Fixes(controlFinding(tt.generator, tt.control, tt.r))
			if tt.want == "" {
				if len(fs) != 0 {
					t.Fatalf("got fixes %+v, want none", fs)
				}
				return
			}
			if len(fs) != 1 || fs[0].Kind != tt.want || fs[0].Target.ID != tt.r.ID {
				t.Fatalf("got fixes %+v, want one %s on %s", fs, tt.want, tt.r.ID)
			}
			if tt.ports != nil && !slices.Equal(fs[0].Ports, tt.ports) {
				t.Errorf("got ports %v, want %v", fs[0].Ports, tt.ports)
			}
		})
	}
}

func TestFixesOnlyOnFailedSecurityHubControls(t *testing.T) {
	base := func() *picket.Finding { return controlFinding("security-control/S3.8", "S3.8", bucket) }
	if len(picket.Fixes(base())) != 1 {
		t.Fatal("the base finding has no fix")
	}
	for _, tt := range []struct {
		name string
		edit func(f *picket.Finding)
	}{
		{"passed", func(f *picket.Finding) { f.ComplianceStatus = "PASSED" }},
		{"warning", func(f *picket.Finding) { f.ComplianceStatus = "WARNING" }},
		{"no compliance status", func(f *picket.Finding) { f.ComplianceStatus = "" }},
		{"resolved", func(f *picket.Finding) { f.WorkflowStatus = picket.WorkflowResolved }},
		{"suppressed", func(f *picket.Finding) { f.WorkflowStatus = picket.WorkflowSuppressed }},
		{"archived", func(f *picket.Finding) { f.RecordState = picket.RecordArchived }},
		{"a third-party product", func(f *picket.Finding) {
			f.ProductARN = "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
		}},
		{"GuardDuty", func(f *picket.Finding) { f.Source = picket.SourceGuardDuty }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := base()
			tt.edit(f)
			if fs := picket.Fixes(f); len(fs) != 0 {
				t.Errorf("got fixes %+v, want none", fs)
			}
		})
	}
	if _, ok := picket.FixFor(base(), picket.ActionFixSecurityGroup, ""); ok {
		t.Error("FixFor found a security group fix on a bucket finding")
	}
	if _, ok := picket.FixFor(base(), picket.ActionFixBucketPublicAccess, "other"); ok {
		t.Error("FixFor found a fix on a resource the finding does not name")
	}
	for _, k := range picket.FixKinds {
		if !k.IsFix() || k.Contains() || len(k.Label()) > 75 || k.Label()[:5] != "Fix: " {
			t.Errorf("%s: IsFix %v, Contains %v, label %q: want a fix, not a containment, labelled \"Fix: ...\" within 75 characters", k, k.IsFix(), k.Contains(), k.Label())
		}
	}
}
