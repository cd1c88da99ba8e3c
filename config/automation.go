package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/picketsec/picket"
)

// Automation configures automatic response rules: findings that match a
// rule get its actions planned, asked for or run without a click, through
// the same guardrails, claims and audit trail as a click.
type Automation struct {
	// Paused is the configuration's kill switch: while true no rule runs
	// anything automatically (rules in auto mode post their plan with Run
	// buttons instead), whatever /picket auto says. Env
	// PICKET_AUTOMATION_PAUSED (any value but false, 0 or no pauses).
	Paused bool `yaml:"paused"`
	// Rules are checked in order; every rule that matches a finding
	// responds to it once.
	Rules []AutoRule `yaml:"rules,omitempty"`
}

// AutoRule is one automatic response rule.
type AutoRule struct {
	// Name identifies the rule in Slack and the audit trail (the actor
	// rule:<name>); lower-case letters, digits, ".", "_" and "-".
	Name string `yaml:"name"`
	// Enabled turns the rule on; rules are off unless enabled.
	Enabled bool      `yaml:"enabled"`
	Match   AutoMatch `yaml:"match"`
	// Actions are run in order, each as its own request with its own
	// claim, plan and Undo: disable_user, revoke_role_sessions,
	// quarantine_instance, suppress, escalate, or any other action Picket
	// offers. escalate after a containment is how a rule also notifies the
	// on-call SNS topic (responses.escalation_topic_arn) and the
	// escalation channel.
	Actions []string `yaml:"actions"`
	// Mode is notify (post the plan with a Run button), approve (ask for
	// it as a request awaiting a person's approval) or auto (run it).
	Mode string `yaml:"mode"`
	// Budget is the most findings an auto rule responds to automatically
	// in any hour (1 to 1000); beyond it the rule falls back to notify and
	// says so in the thread. Required in auto mode.
	Budget int `yaml:"budget,omitempty"`
}

// AutoMatch selects findings: every filter given must hold.
type AutoMatch struct {
	Sources []string `yaml:"sources,omitempty"`
	// Types are finding-type globs, as routes take them; at least one is
	// required, so that no rule matches every finding by accident.
	Types       []string `yaml:"types"`
	MinSeverity string   `yaml:"min_severity,omitempty"`
	Accounts    []string `yaml:"accounts,omitempty"`
	Regions     []string `yaml:"regions,omitempty"`
	// Tags are resource tags (as the finding reports them) a resource of
	// the finding must carry; the value "*" accepts any value.
	Tags map[string]string `yaml:"tags,omitempty"`
}

// ExampleAutoRule is the rule Picket ships with, disabled: an IAM user
// calling AWS APIs from an IP address on a threat list has its access
// disabled (access keys deactivated, sessions revoked; Undo restores it),
// and the finding is escalated, which notifies the on-call SNS topic
// (responses.escalation_topic_arn) and the escalation channel. At most 5
// users an hour; more fall back to a notice with Run buttons.
func ExampleAutoRule() AutoRule {
	return AutoRule{
		Name:    "malicious-ip-caller",
		Enabled: false,
		Match: AutoMatch{
			Sources:     []string{string(picket.SourceGuardDuty), string(picket.SourceSecurityHub)},
			Types:       []string{"UnauthorizedAccess:IAMUser/MaliciousIPCaller*"},
			MinSeverity: "medium",
		},
		Actions: []string{string(picket.ActionDisableUser), string(picket.ActionEscalate)},
		Mode:    string(picket.AutoModeAuto),
		Budget:  5,
	}
}

// Rule returns the rule as the domain type.
func (r AutoRule) Rule() picket.AutoRule {
	sev, _ := picket.ParseSeverity(r.Match.MinSeverity)
	out := picket.AutoRule{
		Name: r.Name, Enabled: r.Enabled, Types: r.Match.Types, MinSeverity: sev,
		Accounts: r.Match.Accounts, Regions: r.Match.Regions, Tags: r.Match.Tags,
		Mode: picket.AutoMode(r.Mode), Budget: r.Budget,
	}
	for _, s := range r.Match.Sources {
		out.Sources = append(out.Sources, picket.Source(s))
	}
	for _, a := range r.Actions {
		out.Actions = append(out.Actions, picket.ActionKind(a))
	}
	return out
}

// RuleList returns the configured rules as domain types.
func (a Automation) RuleList() []picket.AutoRule {
	out := make([]picket.AutoRule, len(a.Rules))
	for i, r := range a.Rules {
		out[i] = r.Rule()
	}
	return out
}

var ruleNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// maxBudget bounds a rule's hourly budget.
const maxBudget = 1000

func (v *checker) automation(a Automation) {
	seen := map[string]int{}
	for i, r := range a.Rules {
		p := fmt.Sprintf("automation.rules[%d]", i)
		switch first, dup := seen[r.Name]; {
		case r.Name == "":
			v.add(p+".name", "required")
		case !ruleNamePattern.MatchString(r.Name):
			v.add(p+".name", "%q is not a rule name (1 to 64 lower-case letters, digits, '.', '_' or '-')", r.Name)
		case dup:
			v.add(p+".name", "%q is already the name of automation.rules[%d]", r.Name, first)
		default:
			seen[r.Name] = i
		}
		m := r.Match
		if len(m.Types) == 0 {
			v.add(p+".match.types", "required: at least one finding-type glob, such as \"UnauthorizedAccess:IAMUser/MaliciousIPCaller*\"")
		}
		for j, t := range m.Types {
			if strings.TrimSpace(t) == "" {
				v.add(fmt.Sprintf("%s.match.types[%d]", p, j), "empty pattern")
			}
		}
		for j, s := range m.Sources {
			switch picket.Source(s) {
			case picket.SourceGuardDuty, picket.SourceSecurityHub, picket.SourceInspector, picket.SourceMacie, picket.SourceAccessAnalyzer:
			default:
				v.add(fmt.Sprintf("%s.match.sources[%d]", p, j), "%q is not a source (want guardduty, securityhub, inspector, macie or access-analyzer)", s)
			}
		}
		if m.MinSeverity != "" {
			if _, err := picket.ParseSeverity(m.MinSeverity); err != nil {
				v.add(p+".match.min_severity", "%v", err)
			}
		}
		v.accounts(p+".match.accounts", m.Accounts)
		for j, reg := range m.Regions {
			if !regionPattern.MatchString(reg) {
				v.add(fmt.Sprintf("%s.match.regions[%d]", p, j), "%q is not an AWS region code (such as eu-west-1)", reg)
			}
		}
		for k := range m.Tags {
			if strings.TrimSpace(k) == "" {
				v.add(p+".match.tags", "a tag key is empty")
			}
		}
		if len(r.Actions) == 0 {
			v.add(p+".actions", "required: the actions to take, such as [disable_user, escalate]")
		}
		for j, act := range r.Actions {
			key := fmt.Sprintf("%s.actions[%d]", p, j)
			switch {
			case act == string(picket.ActionUndo):
				v.add(key, "undo is not an action a rule can take")
			case !slices.Contains(ActionNames, act):
				v.add(key, "%q is not an action (want one of %v)", act, ruleActions())
			case slices.Index(r.Actions, act) < j:
				v.add(key, "%q is listed twice", act)
			}
		}
		switch picket.AutoMode(r.Mode) {
		case picket.AutoModeAuto:
			if r.Budget < 1 || r.Budget > maxBudget {
				v.add(p+".budget", "%d is out of range: an auto rule needs a budget of 1 to %d findings per hour", r.Budget, maxBudget)
			}
		case picket.AutoModeNotify, picket.AutoModeApprove:
			if r.Budget < 0 || r.Budget > maxBudget {
				v.add(p+".budget", "%d is out of range (0 to %d)", r.Budget, maxBudget)
			}
		default:
			v.add(p+".mode", "%q is not a mode (want notify, approve or auto)", r.Mode)
		}
	}
}

// ruleActions are the actions a rule may name: every action but undo.
func ruleActions() []string {
	return slices.DeleteFunc(slices.Clone(ActionNames), func(a string) bool { return a == string(picket.ActionUndo) })
}
