package actions_test

import (
	"strings"
	"testing"

	"github.com/picketsec/picket/actions"
)

func TestGuardrailsUserProtected(t *testing.T) {
	g := actions.Guardrails{
		ProtectedUsers: []string{"break-glass-*", "arn:aws:iam::*:user/ops/admin", "ci"},
		ProtectedTag:   "picket:protected",
	}
	for _, tc := range []struct {
		name, user, arn string
		tags            map[string]string
		want            bool
		reason          string // a part of the reason
	}{
		{name: "glob on name", user: "break-glass-1", want: true, reason: `"break-glass-*"`},
		{name: "name is case-insensitive", user: "Break-Glass-2", want: true},
		{name: "glob on ARN", user: "admin", arn: "arn:aws:iam::123456789012:user/ops/admin", want: true, reason: "IAM user admin"},
		{name: "exact name", user: "ci", want: true},
		{name: "no partial match", user: "ci-runner", want: false},
		{name: "glob needs the whole name", user: "x-break-glass-1", want: false},
		{name: "tag true", user: "alice", tags: map[string]string{"picket:protected": "TRUE"}, want: true, reason: "tagged picket:protected=true"},
		{name: "tag false", user: "alice", tags: map[string]string{"picket:protected": "false"}, want: false},
		{name: "other tag", user: "alice", tags: map[string]string{"team": "ops"}, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, got := g.UserProtected(tc.user, tc.arn, tc.tags)
			if got != tc.want {
				t.Fatalf("UserProtected(%q, %q): got %v (%q), want %v", tc.user, tc.arn, got, reason, tc.want)
			}
			if got && !strings.Contains(reason, tc.reason) {
				t.Errorf("reason: got %q, want it to contain %q", reason, tc.reason)
			}
			if !got && reason != "" {
				t.Errorf("reason: got %q, want empty", reason)
			}
		})
	}
}

func TestGuardrailsDefaultTagAndRoles(t *testing.T) {
	var g actions.Guardrails // no patterns, default tag
	if _, got := g.UserProtected("alice", "", map[string]string{actions.DefaultProtectedTag: "true"}); !got {
		t.Errorf("default tag %s: got not protected, want protected", actions.DefaultProtectedTag)
	}
	g.ProtectedRoles = []string{"OrganizationAccountAccessRole"}
	if _, got := g.RoleProtected("organizationaccountaccessrole", "", nil); !got {
		t.Errorf("RoleProtected: got not protected, want protected")
	}
	if _, got := g.UserProtected("OrganizationAccountAccessRole", "", nil); got {
		t.Errorf("UserProtected with a role pattern: got protected, want not")
	}
}

func TestGuardrailsInstanceProtected(t *testing.T) {
	g := actions.Guardrails{ProtectedInstances: []string{"i-0prod*", "bastion", "*-db-*"}}
	for _, tc := range []struct {
		name, id, tagName string
		tags              map[string]string
		want              bool
	}{
		{name: "id glob", id: "i-0prod123", want: true},
		{name: "Name tag", id: "i-1", tagName: "bastion", want: true},
		{name: "Name tag glob in the middle", id: "i-2", tagName: "eu-db-primary", want: true},
		{name: "instances match case", id: "i-3", tagName: "Bastion", want: false},
		{name: "default tag", id: "i-4", tags: map[string]string{"picket:protected": "true"}, want: true},
		{name: "unprotected", id: "i-5", tagName: "web-1", want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, got := g.InstanceProtected(tc.id, tc.tagName, tc.tags)
			if got != tc.want {
				t.Errorf("InstanceProtected(%q, %q): got %v (%q), want %v", tc.id, tc.tagName, got, reason, tc.want)
			}
			if got && !strings.Contains(reason, tc.id) {
				t.Errorf("reason: got %q, want it to name %s", reason, tc.id)
			}
		})
	}
}
