package picket_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/picketsec/picket"
)

func TestPatchTarget(t *testing.T) {
	inst := picket.Resource{Kind: picket.ResourceEC2Instance, ID: "i-1"}
	vuln := func(fix string, pkgs ...picket.Package) picket.Vulnerability {
		return picket.Vulnerability{ID: "CVE-1", FixAvailable: fix, Packages: pkgs}
	}
	osPkg := picket.Package{Name: "curl", Version: "1", FixedIn: "2", Manager: "OS"}
	tests := []struct {
		name string
		f    picket.Finding
		want bool
	}{
		{"OS package with a fix on an instance", picket.Finding{Resources: []picket.Resource{inst}, Vulnerabilities: []picket.Vulnerability{vuln("YES", osPkg)}}, true},
		{"manager not reported", picket.Finding{Resources: []picket.Resource{inst}, Vulnerabilities: []picket.Vulnerability{vuln("", picket.Package{Name: "curl"})}}, true},
		{"language package only", picket.Finding{Resources: []picket.Resource{inst}, Vulnerabilities: []picket.Vulnerability{vuln("YES", picket.Package{Name: "lodash", Manager: "NPM"})}}, false},
		{"no fix", picket.Finding{Resources: []picket.Resource{inst}, Vulnerabilities: []picket.Vulnerability{vuln("NO", osPkg)}}, false},
		{"no instance", picket.Finding{Resources: []picket.Resource{{Kind: picket.ResourceLambda, ID: "fn"}}, Vulnerabilities: []picket.Vulnerability{vuln("YES", osPkg)}}, false},
		{"instance named inconsistently", picket.Finding{Resources: []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: "i-1", Mismatch: "x"}}, Vulnerabilities: []picket.Vulnerability{vuln("YES", osPkg)}}, false},
		{"not a vulnerability", picket.Finding{Resources: []picket.Resource{inst}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := tt.f.PatchTarget(); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPatchablePackagesMergesVulnerabilities(t *testing.T) {
	p := picket.Package{Name: "curl", Version: "1", FixedIn: "2", Manager: "OS"}
	f := &picket.Finding{Vulnerabilities: []picket.Vulnerability{
		{ID: "CVE-1", Packages: []picket.Package{p}}, {ID: "CVE-2", Packages: []picket.Package{p}}, {ID: "CVE-1", Packages: []picket.Package{p}}}}
	got := picket.PatchablePackages(f)
	if len(got) != 1 || !slices.Equal(got[0].Vulnerabilities, []string{"CVE-1", "CVE-2"}) {
		t.Errorf("got %+v, want curl once with CVE-1 and CVE-2", got)
	}
}

func TestPatchClaimOnlyWhileUnderWay(t *testing.T) {
	for _, tt := range []struct {
		kind   picket.ActionKind
		status picket.ActionOutcome
		want   bool
	}{
		{picket.ActionPatchInstance, picket.StatusRunning, true},
		{picket.ActionPatchInstance, picket.OutcomePending, true},
		{picket.ActionPatchInstance, picket.OutcomeSucceeded, false},
		{picket.ActionPatchInstance, picket.OutcomePartial, false},
		{picket.ActionQuarantineInstance, picket.OutcomePartial, true},
	} {
		r := picket.ActionRecord{Request: picket.ActionRequest{Kind: tt.kind}, Status: tt.status}
		if got := r.Active(); got != tt.want {
			t.Errorf("%s %s: Active() = %v, want %v", tt.kind, tt.status, got, tt.want)
		}
	}
}

func TestManagedInstancePatchBlocker(t *testing.T) {
	for _, tt := range []struct {
		m    picket.ManagedInstance
		want string
	}{
		{picket.ManagedInstance{InstanceID: "i-1", Managed: true, PingStatus: "Online"}, ""},
		{picket.ManagedInstance{InstanceID: "i-1"}, "instance i-1 is not managed by Systems Manager"},
		{picket.ManagedInstance{InstanceID: "i-1", Managed: true, PingStatus: "Inactive"}, "is Inactive, not Online"},
	} {
		got := tt.m.PatchBlocker()
		if (tt.want == "") != (got == "") || (tt.want != "" && !strings.Contains(got, tt.want)) {
			t.Errorf("%+v: got %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestPatchClaimsTheInstance(t *testing.T) {
	req := func(finding string) picket.ActionRequest {
		return picket.ActionRequest{Kind: picket.ActionPatchInstance, FindingKey: finding, Account: "123456789012", Region: "us-east-1",
			Target: picket.Resource{Kind: picket.ResourceEC2Instance, ID: "i-1"}}
	}
	a, b := req("fk-cve-1"), req("fk-cve-2")
	if a.ClaimKey() != b.ClaimKey() {
		t.Errorf("two findings on one instance: claim keys %q and %q, want one", a.ClaimKey(), b.ClaimKey())
	}
	c := req("fk-cve-1")
	c.Target.ID = "i-2"
	if a.ClaimKey() == c.ClaimKey() {
		t.Errorf("two instances share claim key %q", a.ClaimKey())
	}
}
