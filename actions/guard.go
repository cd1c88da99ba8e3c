package actions

import (
	"fmt"
	"strings"
)

// DefaultProtectedTag is the tag key that protects a user, role or instance
// when Guardrails.ProtectedTag is empty.
const DefaultProtectedTag = "picket:protected"

// Guardrails name the principals and instances Picket must never act on.
// Patterns are matched whole; "*" matches any run of characters
// (including none), so "break-glass-*" or "arn:aws:iam::*:user/admin"
// work. IAM names and ARNs are matched without regard to letter case,
// because IAM does not let two users differ only by case; instance ids and
// Name tags are matched exactly.
type Guardrails struct {
	// ProtectedUsers are IAM user names or ARNs.
	ProtectedUsers []string
	// ProtectedRoles are IAM role names or ARNs.
	ProtectedRoles []string
	// ProtectedInstances are EC2 instance ids or Name tag values.
	ProtectedInstances []string
	// ProtectedBuckets are S3 bucket names or ARNs the fix buttons leave
	// alone.
	ProtectedBuckets []string
	// ProtectedSecurityGroups are security group ids, names or ARNs the
	// fix buttons leave alone.
	ProtectedSecurityGroups []string
	// ProtectedTag is a tag key: a user, role or instance carrying it with
	// the value "true" is protected. Default DefaultProtectedTag.
	ProtectedTag string
}

// tagKey returns the protecting tag key, defaulted.
func (g *Guardrails) tagKey() string {
	if g.ProtectedTag == "" {
		return DefaultProtectedTag
	}
	return g.ProtectedTag
}

// taggedProtected reports whether tags carry the protecting tag set to
// "true", and the reason to show.
func (g *Guardrails) taggedProtected(what string, tags map[string]string) (string, bool) {
	k := g.tagKey()
	if v, ok := tags[k]; ok && strings.EqualFold(strings.TrimSpace(v), "true") {
		return fmt.Sprintf("%s is tagged %s=true, so Picket will not act on it.", what, k), true
	}
	return "", false
}

// UserProtected reports whether the IAM user with name and arn (either may
// be empty) and tags is protected, and the reason to show people.
func (g *Guardrails) UserProtected(name, arn string, tags map[string]string) (reason string, protected bool) {
	return g.principalProtected("IAM user", g.ProtectedUsers, name, arn, tags)
}

// RoleProtected reports whether the IAM role with name and arn (either may
// be empty) and tags is protected, and the reason to show people.
func (g *Guardrails) RoleProtected(name, arn string, tags map[string]string) (reason string, protected bool) {
	return g.principalProtected("IAM role", g.ProtectedRoles, name, arn, tags)
}

func (g *Guardrails) principalProtected(kind string, patterns []string, name, arn string, tags map[string]string) (string, bool) {
	what := kind + " " + firstNonEmpty(name, arn)
	for _, p := range patterns {
		lp := strings.ToLower(p)
		for _, v := range []string{name, arn} {
			if v != "" && glob(lp, strings.ToLower(v)) {
				return fmt.Sprintf("%s is protected (it matches %q in the guardrails), so Picket will not act on it.", what, p), true
			}
		}
	}
	return g.taggedProtected(what, tags)
}

// InstanceProtected reports whether the EC2 instance with id, Name tag value
// name (may be empty) and tags is protected, and the reason to show people.
func (g *Guardrails) InstanceProtected(id, name string, tags map[string]string) (reason string, protected bool) {
	what := "Instance " + id
	if name != "" {
		what += " (" + name + ")"
	}
	for _, p := range g.ProtectedInstances {
		for _, v := range []string{id, name} {
			if v != "" && glob(p, v) {
				return fmt.Sprintf("%s is protected (it matches %q in the guardrails), so Picket will not act on it.", what, p), true
			}
		}
	}
	return g.taggedProtected(what, tags)
}

// BucketProtected reports whether the S3 bucket name (with ARN arn) and
// tags is protected, and the reason to show people. Bucket names are
// lower case, so they are matched exactly.
func (g *Guardrails) BucketProtected(name, arn string, tags map[string]string) (reason string, protected bool) {
	return g.matchProtected("S3 bucket "+name, g.ProtectedBuckets, []string{name, arn}, tags)
}

// SecurityGroupProtected reports whether the security group with id, name
// (may be empty), ARN and tags is protected, and the reason to show people.
func (g *Guardrails) SecurityGroupProtected(id, name, arn string, tags map[string]string) (reason string, protected bool) {
	what := "Security group " + id
	if name != "" {
		what += " (" + name + ")"
	}
	return g.matchProtected(what, g.ProtectedSecurityGroups, []string{id, name, arn}, tags)
}

func (g *Guardrails) matchProtected(what string, patterns, values []string, tags map[string]string) (string, bool) {
	for _, p := range patterns {
		for _, v := range values {
			if v != "" && glob(p, v) {
				return fmt.Sprintf("%s is protected (it matches %q in the guardrails), so Picket will not act on it.", what, p), true
			}
		}
	}
	return g.taggedProtected(what, tags)
}

// glob reports whether s matches pattern, where '*' matches any run of
// bytes and every other byte matches itself. It backtracks only to the last
// star, so it runs in O(len(pattern)*len(s)) at worst.
func glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			mark++
			p, i = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
