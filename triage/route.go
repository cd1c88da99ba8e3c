package triage

import (
	"fmt"
	"slices"
	"strings"

	"github.com/picketsec/picket"
)

// Rule sends findings that match every non-empty filter, at or above
// MinSeverity, to Channel.
type Rule struct {
	Name        string
	MinSeverity picket.Severity
	Sources     []picket.Source
	// Products are product names ("Inspector", "Macie", "IAM Access
	// Analyzer", "GuardDuty", "Security Hub"), matched regardless of
	// case and of the way the finding arrived (natively or through
	// Security Hub).
	Products []string
	Accounts []string
	Regions  []string
	// Types are finding-type globs: "*" matches any run of characters,
	// slashes included, and "?" any one character, e.g.
	// "UnauthorizedAccess:*" or "*/CnCActivity.B*".
	Types   []string
	Channel string
	// MentionCritical is a Slack user-group id notified for Critical
	// findings.
	MentionCritical string
}

// Router picks a channel for each finding: the first rule that matches, in
// order; failing that the default channel, when the finding reaches
// DefaultMinSeverity. A finding no rule takes is recorded but not posted.
type Router struct {
	rules      []Rule
	defChannel string
	defMin     picket.Severity
}

// NewRouter checks the rules and returns a Router. defaultChannel may be
// empty, in which case only rules post.
func NewRouter(rules []Rule, defaultChannel string, defaultMin picket.Severity) (*Router, error) {
	for i, r := range rules {
		if r.Channel == "" {
			return nil, fmt.Errorf("route %d (%s): no channel", i+1, r.Name)
		}
	}
	return &Router{rules: slices.Clone(rules), defChannel: defaultChannel, defMin: defaultMin}, nil
}

// Route returns where f goes. Route.Channel is empty when f is below every
// rule's threshold.
func (r *Router) Route(f *picket.Finding) picket.Route {
	for _, rule := range r.rules {
		if f.Severity < rule.MinSeverity || !rule.matches(f) {
			continue
		}
		rt := picket.Route{Channel: rule.Channel, Rule: rule.Name}
		if f.Severity == picket.SeverityCritical {
			rt.Mention = rule.MentionCritical
		}
		return rt
	}
	if r.defChannel != "" && f.Severity >= r.defMin {
		return picket.Route{Channel: r.defChannel, Rule: "default"}
	}
	return picket.Route{}
}

func (rule *Rule) matches(f *picket.Finding) bool {
	if len(rule.Sources) > 0 && !slices.Contains(rule.Sources, f.Source) {
		return false
	}
	if len(rule.Products) > 0 && !slices.ContainsFunc(rule.Products, func(p string) bool { return strings.EqualFold(p, f.Product) }) {
		return false
	}
	if len(rule.Accounts) > 0 && !slices.Contains(rule.Accounts, f.Account) {
		return false
	}
	if len(rule.Regions) > 0 && !slices.Contains(rule.Regions, f.Region) {
		return false
	}
	if len(rule.Types) > 0 {
		return slices.ContainsFunc(rule.Types, func(g string) bool {
			return Glob(g, f.Type)
		})
	}
	return true
}

// Glob reports whether s matches pattern, where "*" matches any run of
// characters (including none and including "/") and "?" matches exactly
// one character: picket.Glob, which automatic response rules share.
func Glob(pattern, s string) bool { return picket.Glob(pattern, s) }
