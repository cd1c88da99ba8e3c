package triage_test

import (
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/triage"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "UnauthorizedAccess:IAMUser/TorIPCaller", true},
		{"UnauthorizedAccess:*", "UnauthorizedAccess:IAMUser/TorIPCaller", true},
		{"UnauthorizedAccess:*", "Recon:IAMUser/MaliciousIPCaller", false},
		{"*/TorIPCaller", "UnauthorizedAccess:IAMUser/TorIPCaller", true},
		{"*:EC2/*", "Backdoor:EC2/C&CActivity.B!DNS", true},
		{"*:EC2/*", "Backdoor:EC2", false},
		{"Recon:IAMUser/?aliciousIPCaller", "Recon:IAMUser/MaliciousIPCaller", true},
		{"a*b*c", "abbbc", true},
		{"a*b*c", "acb", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"", "", true},
		{"", "x", false},
		{"**", "anything", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.s, func(t *testing.T) {
			if got := triage.Glob(tt.pattern, tt.s); got != tt.want {
				t.Errorf("Glob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
			}
		})
	}
}

func TestRouter(t *testing.T) {
	rules := []triage.Rule{
		{Name: "prod-critical", MinSeverity: picket.SeverityCritical, Accounts: []string{"111111111111"},
			Channel: "#prod-critical", MentionCritical: "S0ONCALL"},
		{Name: "iam", MinSeverity: picket.SeverityMedium, Sources: []picket.Source{picket.SourceGuardDuty},
			Types: []string{"*:IAMUser/*"}, Channel: "#iam"},
		{Name: "eu", MinSeverity: picket.SeverityHigh, Regions: []string{"eu-west-1"}, Channel: "#eu"},
		{Name: "vulns", MinSeverity: picket.SeverityLow, Products: []string{"inspector"}, Channel: "#vulns"},
	}
	r, err := triage.NewRouter(rules, "#security", picket.SeverityMedium)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    picket.Finding
		want picket.Route
	}{
		{"critical in prod goes to first rule with mention",
			picket.Finding{Severity: picket.SeverityCritical, Account: "111111111111", Source: picket.SourceGuardDuty, Type: "Backdoor:EC2/X"},
			picket.Route{Channel: "#prod-critical", Rule: "prod-critical", Mention: "S0ONCALL"}},
		{"high in prod is below the first rule, falls to default",
			picket.Finding{Severity: picket.SeverityHigh, Account: "111111111111", Source: picket.SourceSecurityHub, Region: "us-east-1"},
			picket.Route{Channel: "#security", Rule: "default"}},
		{"guardduty IAM type glob",
			picket.Finding{Severity: picket.SeverityMedium, Account: "2", Source: picket.SourceGuardDuty, Type: "UnauthorizedAccess:IAMUser/TorIPCaller"},
			picket.Route{Channel: "#iam", Rule: "iam"}},
		{"same type from security hub does not match source filter",
			picket.Finding{Severity: picket.SeverityMedium, Account: "2", Source: picket.SourceSecurityHub, Type: "UnauthorizedAccess:IAMUser/TorIPCaller"},
			picket.Route{Channel: "#security", Rule: "default"}},
		{"region rule",
			picket.Finding{Severity: picket.SeverityHigh, Account: "2", Region: "eu-west-1"},
			picket.Route{Channel: "#eu", Rule: "eu"}},
		{"mention only for critical",
			picket.Finding{Severity: picket.SeverityCritical, Account: "2", Region: "eu-west-1"},
			picket.Route{Channel: "#eu", Rule: "eu"}},
		{"inspector natively, by product",
			picket.Finding{Severity: picket.SeverityLow, Account: "2", Source: picket.SourceInspector, Product: "Inspector"},
			picket.Route{Channel: "#vulns", Rule: "vulns"}},
		{"inspector through security hub, by product",
			picket.Finding{Severity: picket.SeverityLow, Account: "2", Source: picket.SourceSecurityHub, Product: "Inspector"},
			picket.Route{Channel: "#vulns", Rule: "vulns"}},
		{"another product does not match the product filter",
			picket.Finding{Severity: picket.SeverityLow, Account: "2", Source: picket.SourceSecurityHub, Product: "Macie"},
			picket.Route{}},
		{"low is below every threshold: recorded, not posted",
			picket.Finding{Severity: picket.SeverityLow, Account: "111111111111", Source: picket.SourceGuardDuty, Type: "Recon:IAMUser/X"},
			picket.Route{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Route(&tt.f); got != tt.want {
				t.Errorf("Route() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewRouterRejectsRuleWithoutChannel(t *testing.T) {
	_, err := triage.NewRouter([]triage.Rule{{Name: "x"}}, "#d", 0)
	if err == nil {
		t.Fatal("NewRouter accepted a rule without a channel")
	}
}

func TestRouterWithoutDefaultChannel(t *testing.T) {
	r, err := triage.NewRouter(nil, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	f := picket.Finding{Severity: picket.SeverityCritical}
	if got := r.Route(&f); got.Channel != "" {
		t.Errorf("Route() channel = %q, want none", got.Channel)
	}
}
