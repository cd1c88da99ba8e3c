package picket_test

import (
	"testing"

	"github.com/picketsec/picket"
)

func TestAutoRuleMatches(t *testing.T) {
	f := picket.Finding{Key: "k", Source: picket.SourceGuardDuty, Type: "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
		Severity: picket.SeverityHigh, Account: "123456789012", Region: "eu-west-1"}
	tags := func(*picket.Finding) []map[string]string {
		return []map[string]string{{"team": "web"}, {"environment": "production", "owner": "ops"}}
	}
	base := picket.AutoRule{Types: []string{"UnauthorizedAccess:IAMUser/MaliciousIPCaller*"}}
	tests := []struct {
		name string
		edit func(r *picket.AutoRule)
		tags func(*picket.Finding) []map[string]string
		want bool
	}{
		{"type glob", func(r *picket.AutoRule) {}, nil, true},
		{"type glob, other type", func(r *picket.AutoRule) { r.Types = []string{"UnauthorizedAccess:IAMUser/TorIPCaller"} }, nil, false},
		{"question mark", func(r *picket.AutoRule) { r.Types = []string{"UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custo?"} }, nil, true},
		{"glob is case-sensitive", func(r *picket.AutoRule) { r.Types = []string{"unauthorizedaccess:*"} }, nil, false},
		{"one of several types", func(r *picket.AutoRule) { r.Types = []string{"Recon:*", "*MaliciousIPCaller*"} }, nil, true},
		{"min severity met", func(r *picket.AutoRule) { r.MinSeverity = picket.SeverityHigh }, nil, true},
		{"min severity not met", func(r *picket.AutoRule) { r.MinSeverity = picket.SeverityCritical }, nil, false},
		{"source", func(r *picket.AutoRule) {
			r.Sources = []picket.Source{picket.SourceSecurityHub, picket.SourceGuardDuty}
		}, nil, true},
		{"other source", func(r *picket.AutoRule) { r.Sources = []picket.Source{picket.SourceSecurityHub} }, nil, false},
		{"account", func(r *picket.AutoRule) { r.Accounts = []string{"123456789012"} }, nil, true},
		{"other account", func(r *picket.AutoRule) { r.Accounts = []string{"210987654321"} }, nil, false},
		{"region", func(r *picket.AutoRule) { r.Regions = []string{"eu-west-1"} }, nil, true},
		{"other region", func(r *picket.AutoRule) { r.Regions = []string{"us-east-1"} }, nil, false},
		{"tags on one resource", func(r *picket.AutoRule) { r.Tags = map[string]string{"environment": "production", "owner": "*"} }, tags, true},
		{"tags split over resources", func(r *picket.AutoRule) { r.Tags = map[string]string{"environment": "production", "team": "web"} }, tags, false},
		{"tag value differs", func(r *picket.AutoRule) { r.Tags = map[string]string{"environment": "staging"} }, tags, false},
		{"tags but none reported", func(r *picket.AutoRule) { r.Tags = map[string]string{"environment": "*"} }, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			tt.edit(&r)
			if got := r.Matches(&f, tt.tags); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRuleActor(t *testing.T) {
	a := picket.RuleActor("malicious-ip")
	if a.ID != "rule:malicious-ip" {
		t.Errorf("ID = %q, want rule:malicious-ip", a.ID)
	}
	if name, ok := a.Rule(); !ok || name != "malicious-ip" {
		t.Errorf("Rule() = %q, %v", name, ok)
	}
	if _, ok := (picket.Actor{ID: "U0123ABCD"}).Rule(); ok {
		t.Error("a Slack user is not a rule")
	}
}

func TestAutoRunID(t *testing.T) {
	a, b := picket.AutoRunID("r", "k1"), picket.AutoRunID("r", "k1")
	if a != b {
		t.Errorf("ids differ for one rule and finding: %s %s", a, b)
	}
	for _, other := range []string{picket.AutoRunID("r", "k2"), picket.AutoRunID("r2", "k1"), picket.AutoRunID("r\x00k", "1")} {
		if other == a {
			t.Errorf("id %s shared by another rule or finding", a)
		}
	}
	run := picket.AutoRun{ID: a}
	if got := run.RequestID(1); got != a+"-1" {
		t.Errorf("RequestID(1) = %q", got)
	}
}
