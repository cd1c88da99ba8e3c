package config_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
)

func TestAutomationDefaultsHoldTheExampleDisabled(t *testing.T) {
	cfg := config.Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	rules := cfg.Automation.RuleList()
	if len(rules) != 1 {
		t.Fatalf("default rules = %d, want the example", len(rules))
	}
	r := rules[0]
	if r.Enabled || r.Mode != picket.AutoModeAuto || !slices.Equal(r.Actions, []picket.ActionKind{picket.ActionDisableUser, picket.ActionEscalate}) {
		t.Errorf("example rule = %+v, want disabled, auto, disable_user then escalate", r)
	}
	f := picket.Finding{Source: picket.SourceGuardDuty, Type: "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom", Severity: picket.SeverityHigh}
	if !r.Matches(&f, nil) {
		t.Error("the example rule does not match a MaliciousIPCaller.Custom finding")
	}
}

func TestAutomationProblemsListed(t *testing.T) {
	cfg := config.Default()
	cfg.Automation.Rules = []config.AutoRule{
		{Name: "ok", Enabled: true, Match: config.AutoMatch{Types: []string{"Recon:*"}}, Actions: []string{"escalate"}, Mode: "notify"},
		{Name: "ok", Match: config.AutoMatch{}, Actions: nil, Mode: "auto"},
		{Name: "Bad Name", Match: config.AutoMatch{Types: []string{""}, Sources: []string{"cloudtrail"}, MinSeverity: "severe",
			Accounts: []string{"12"}, Regions: []string{"mars-1"}, Tags: map[string]string{"": "x"}},
			Actions: []string{"undo", "reboot", "escalate", "escalate"}, Mode: "yolo"},
		{Name: "budget", Match: config.AutoMatch{Types: []string{"*"}}, Actions: []string{"disable_user"}, Mode: "auto", Budget: 1001},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad rules")
	}
	want := []string{
		`automation.rules[1].name: "ok" is already the name of automation.rules[0]`,
		`automation.rules[1].match.types: required`,
		`automation.rules[1].actions: required`,
		`automation.rules[1].budget: 0 is out of range: an auto rule needs a budget of 1 to 1000 findings per hour`,
		`automation.rules[2].name: "Bad Name" is not a rule name`,
		`automation.rules[2].match.types[0]: empty pattern`,
		`automation.rules[2].match.sources[0]: "cloudtrail" is not a source`,
		`automation.rules[2].match.min_severity: unknown severity "severe"`,
		`automation.rules[2].match.accounts[0]: "12" is not a 12-digit account id`,
		`automation.rules[2].match.regions[0]: "mars-1" is not an AWS region code`,
		`automation.rules[2].match.tags: a tag key is empty`,
		`automation.rules[2].actions[0]: undo is not an action a rule can take`,
		// Any action Picket offers, but undo (the list grows with Picket).
		`automation.rules[2].actions[1]: "reboot" is not an action (want one of [disable_user `,
		`automation.rules[2].actions[3]: "escalate" is listed twice`,
		`automation.rules[2].mode: "yolo" is not a mode (want notify, approve or auto)`,
		`automation.rules[3].budget: 1001 is out of range`,
	}
	var p *config.Problems
	if !errors.As(err, &p) {
		t.Fatalf("error %T, want *config.Problems", err)
	}
	for _, w := range want {
		if !slices.ContainsFunc(p.List, func(s string) bool { return strings.HasPrefix(s, w) }) {
			t.Errorf("problems lack %q; got:\n%s", w, strings.Join(p.List, "\n"))
		}
	}
	for _, prob := range p.List {
		if strings.Contains(prob, `"reboot"`) && strings.Contains(prob, " undo") {
			t.Errorf("the actions a rule may take include undo: %s", prob)
		}
	}
	if len(p.List) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(p.List), len(want), strings.Join(p.List, "\n"))
	}
}

func TestAutomationFromFileAndEnv(t *testing.T) {
	yaml := `automation:
  paused: false
  rules:
    - name: tor
      enabled: true
      match:
        types: ["UnauthorizedAccess:IAMUser/TorIPCaller"]
        tags: {environment: production}
      actions: [disable_user]
      mode: auto
      budget: 3
`
	files := filesOf(map[string]string{"p.yaml": yaml})
	cfg, err := config.Load("p.yaml", envOf(nil), files)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Automation.Rules) != 1 || cfg.Automation.Rules[0].Budget != 3 || cfg.Automation.Rules[0].Match.Tags["environment"] != "production" {
		t.Fatalf("rules = %+v, want the file's one rule (replacing the built-in example)", cfg.Automation.Rules)
	}
	for _, tc := range []struct {
		value string
		want  bool
	}{{"true", true}, {"1", true}, {"yes-please", true}, {"false", false}, {"0", false}, {"NO", false}} {
		cfg, err := config.Load("p.yaml", envOf(map[string]string{"PICKET_AUTOMATION_PAUSED": tc.value}), files)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Automation.Paused != tc.want {
			t.Errorf("PICKET_AUTOMATION_PAUSED=%s: paused %v, want %v", tc.value, cfg.Automation.Paused, tc.want)
		}
	}
	_, err = config.Load("p.yaml", envOf(nil), filesOf(map[string]string{"p.yaml": strings.Replace(yaml, "budget: 3", "budget: 3\n      every: 1h", 1)}))
	if err == nil || !strings.Contains(err.Error(), "automation.rules[0].every: unknown key") {
		t.Errorf("unknown key in a rule: %v", err)
	}
}
