package picket

import (
	"slices"
	"strconv"
	"strings"
)

// Fix buttons: responses that correct the misconfiguration a Security Hub
// control finding (Compliance.Status FAILED) reports. Each has a runbook in
// package actions with the same plan, guardrails, audit and Undo as the
// containments.
const (
	// ActionFixBucketPublicAccess turns on every Block Public Access
	// setting of an S3 bucket (controls S3.2, S3.3, S3.8). Undo restores
	// the bucket's recorded settings, or removes them when it had none.
	ActionFixBucketPublicAccess ActionKind = "fix_s3_bucket_public_access"
	// ActionFixAccountPublicAccess turns on every S3 Block Public Access
	// setting of an account (control S3.1). Undo restores the recorded
	// settings.
	ActionFixAccountPublicAccess ActionKind = "fix_s3_account_public_access"
	// ActionFixSecurityGroup revokes the ingress rules of a security group
	// that are open to the world (0.0.0.0/0, ::/0) on the ports the control
	// names (EC2.13, EC2.14, EC2.19, EC2.53, EC2.54). Undo adds exactly
	// those rules again.
	ActionFixSecurityGroup ActionKind = "fix_security_group_open"
	// ActionFixEBSEncryption turns on EBS encryption by default in an
	// account and region (control EC2.7). Undo turns it off again.
	ActionFixEBSEncryption ActionKind = "fix_ebs_default_encryption"
)

// FixKinds are the fix actions, in the order alerts show them.
var FixKinds = []ActionKind{ActionFixBucketPublicAccess, ActionFixAccountPublicAccess, ActionFixSecurityGroup, ActionFixEBSEncryption}

// IsFix reports whether k is one of the fix actions.
func (k ActionKind) IsFix() bool { return slices.Contains(FixKinds, k) }

// fixLabel is the button label of a fix ("Fix: ..." naming what it does).
func fixLabel(k ActionKind) string {
	switch k {
	case ActionFixBucketPublicAccess:
		return "Fix: block public access to bucket"
	case ActionFixAccountPublicAccess:
		return "Fix: turn on account S3 Block Public Access"
	case ActionFixSecurityGroup:
		return "Fix: revoke world-open rules"
	case ActionFixEBSEncryption:
		return "Fix: turn on EBS encryption by default"
	}
	return ""
}

// Fix is what a fix button would do for one control finding: the action,
// the consolidated control it answers and the resource it changes.
type Fix struct {
	Kind ActionKind
	// Control is the consolidated control id ("S3.8"), whatever form the
	// finding named it in.
	Control string
	// Target is the resource changed: the bucket, the security group, or
	// the account (ID the account id) for account-level settings.
	Target Resource
	// Ports are the ports whose world-open ingress rules the control
	// reports (security group fixes only).
	Ports []int32
	// Protocols are the IP protocols those rules may use: "tcp", "udp",
	// and "-1" for all traffic.
	Protocols []string
	// IPv4 and IPv6 say which world ranges the control looks at:
	// 0.0.0.0/0, ::/0 or both.
	IPv4, IPv6 bool
}

// fixControl is one consolidated control that a fix handles.
type fixControl struct {
	kind      ActionKind
	resource  ResourceKind
	ports     []int32
	protocols []string
	v4, v6    bool
}

// highRiskPorts are the ports control EC2.19 names (AWS Security Hub user
// guide, "[EC2.19] Security groups should not allow unrestricted access to
// ports with high risk").
var highRiskPorts = []int32{20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500, 5601, 8080, 8088, 8888, 9200, 9300}

// fixControls are the consolidated controls with a fix, from the AWS
// Security Hub user guide's control reference (S3 and EC2 controls).
// EC2.18 is left out on purpose: the ports it allows are a parameter of
// the account's configuration that the finding does not carry, so Picket
// cannot tell which rules are the offending ones.
var fixControls = map[string]fixControl{
	"S3.1":   {kind: ActionFixAccountPublicAccess, resource: ResourceAccount},
	"S3.2":   {kind: ActionFixBucketPublicAccess, resource: ResourceS3Bucket},
	"S3.3":   {kind: ActionFixBucketPublicAccess, resource: ResourceS3Bucket},
	"S3.8":   {kind: ActionFixBucketPublicAccess, resource: ResourceS3Bucket},
	"EC2.7":  {kind: ActionFixEBSEncryption, resource: ResourceAccount},
	"EC2.13": {kind: ActionFixSecurityGroup, resource: ResourceSecurityGrp, ports: []int32{22}, protocols: []string{"tcp", "-1"}, v4: true, v6: true},
	"EC2.14": {kind: ActionFixSecurityGroup, resource: ResourceSecurityGrp, ports: []int32{3389}, protocols: []string{"tcp", "-1"}, v4: true, v6: true},
	"EC2.19": {kind: ActionFixSecurityGroup, resource: ResourceSecurityGrp, ports: highRiskPorts, protocols: []string{"tcp", "-1"}, v4: true, v6: true},
	"EC2.53": {kind: ActionFixSecurityGroup, resource: ResourceSecurityGrp, ports: []int32{22, 3389}, protocols: []string{"tcp", "udp", "-1"}, v4: true},
	"EC2.54": {kind: ActionFixSecurityGroup, resource: ResourceSecurityGrp, ports: []int32{22, 3389}, protocols: []string{"tcp", "udp", "-1"}, v6: true},
}

// legacyControls maps the control ids of the per-standard findings (before
// consolidated control findings) to the consolidated controls they stand
// for, from the "Related requirements" of each control in the AWS
// Security Hub user guide. Where one requirement covers two controls (CIS
// 2.1.5: account and bucket Block Public Access), the resource type of the
// finding decides.
var legacyControls = map[string][]string{
	"cis/1.2.0/4.1":     {"EC2.13"},
	"cis/1.2.0/4.2":     {"EC2.14"},
	"cis/1.4.0/2.1.5":   {"S3.1", "S3.8"},
	"cis/1.4.0/2.1.5.1": {"S3.1"},
	"cis/1.4.0/2.1.5.2": {"S3.8"},
	"cis/1.4.0/2.2.1":   {"EC2.7"},
	"cis/3.0.0/2.1.4":   {"S3.1", "S3.8"},
	"cis/3.0.0/2.2.1":   {"EC2.7"},
	"cis/3.0.0/5.2":     {"EC2.53"},
	"cis/3.0.0/5.3":     {"EC2.54"},
	"pci/PCI.S3.1":      {"S3.3"},
	"pci/PCI.S3.2":      {"S3.2"},
	"pci/PCI.S3.6":      {"S3.1"},
	"pci/PCI.EC2.5":     {"EC2.13"},
}

// controlCandidates returns the consolidated control ids a finding may be
// about, from its GeneratorId in any of the forms Security Hub has used,
// then from its control id field.
func controlCandidates(f *Finding) []string {
	g := f.GeneratorID
	// "arn:aws:securityhub:::ruleset/cis-..." and "arn:aws:securityhub:::standards/cis-..."
	if _, rest, ok := strings.Cut(g, ":::ruleset/"); ok && strings.HasPrefix(g, "arn:") {
		g = rest
	} else if _, rest, ok := strings.Cut(g, ":::standards/"); ok && strings.HasPrefix(g, "arn:") {
		g = rest
	}
	var out []string
	switch {
	case strings.HasPrefix(g, "security-control/"):
		out = append(out, strings.TrimPrefix(g, "security-control/"))
	case strings.HasPrefix(g, "aws-foundational-security-best-practices/v/"), strings.HasPrefix(g, "nist-800-53/v/"):
		out = append(out, g[strings.LastIndexByte(g, '/')+1:])
	case strings.HasPrefix(g, "pci-dss/v/"):
		out = append(out, legacyControls["pci/"+g[strings.LastIndexByte(g, '/')+1:]]...)
	case strings.HasPrefix(g, "cis-aws-foundations-benchmark/v/"):
		// cis-aws-foundations-benchmark/v/1.2.0/rule/4.1 or .../v/1.4.0/2.2.1
		rest := strings.TrimPrefix(g, "cis-aws-foundations-benchmark/v/")
		version, req, _ := strings.Cut(rest, "/")
		req = strings.TrimPrefix(req, "rule/")
		out = append(out, legacyControls["cis/"+version+"/"+req]...)
	}
	if c := f.ControlID; c != "" {
		if _, ok := fixControls[c]; ok {
			out = append(out, c)
		} else if ids, ok := legacyControls["pci/"+c]; ok && strings.HasPrefix(c, "PCI.") {
			out = append(out, ids...)
		}
	}
	return out
}

// securityHubControl reports whether f is a Security Hub control finding
// that failed: the only findings a fix applies to.
func securityHubControl(f *Finding) bool {
	return f.Source == SourceSecurityHub && f.ComplianceStatus == "FAILED" &&
		strings.HasSuffix(f.ProductARN, ":product/aws/securityhub")
}

// Fixes returns the fixes Picket offers for a finding: one per resource a
// handled control reports, for a FAILED Security Hub control finding that
// is still open. A control is recognised by its consolidated id, by the
// per-standard GeneratorId forms (CIS, PCI DSS, FSBP, NIST) and only on
// the resource type its runbook changes; an account-level fix only for
// the finding's own account.
func Fixes(f *Finding) []Fix {
	if f == nil || !securityHubControl(f) || f.Closed() {
		return nil
	}
	var out []Fix
	seen := map[string]bool{}
	for _, id := range controlCandidates(f) {
		c, ok := fixControls[id]
		if !ok {
			continue
		}
		for _, r := range f.Resources {
			if r.Kind != c.resource || r.Mismatch != "" || r.ID == "" {
				continue
			}
			if c.resource == ResourceAccount && r.ID != f.Account {
				continue
			}
			key := string(c.kind) + "|" + r.ID
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, Fix{Kind: c.kind, Control: id, Target: r, Ports: c.ports, Protocols: c.protocols, IPv4: c.v4, IPv6: c.v6})
		}
	}
	return out
}

// FixFor returns the fix of kind on the finding's resource targetID ("" for
// the first), and whether there is one.
func FixFor(f *Finding, kind ActionKind, targetID string) (Fix, bool) {
	for _, x := range Fixes(f) {
		if x.Kind == kind && (targetID == "" || x.Target.ID == targetID) {
			return x, true
		}
	}
	return Fix{}, false
}

// PortList is ports as a person reads them: "22, 3389".
func PortList(ports []int32) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ", ")
}
