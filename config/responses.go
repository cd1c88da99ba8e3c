package config

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/picketsec/picket"
)

// Role grants Slack users and user groups the right to run actions (and,
// later, commands), optionally only in some accounts.
type Role struct {
	// Name identifies the role in logs and problems; unique, required.
	Name string `yaml:"name"`
	// Users are Slack user ids (U..., W...).
	Users []string `yaml:"users,omitempty"`
	// Groups are Slack user-group ids (S...).
	Groups []string `yaml:"groups,omitempty"`
	// Actions are disable_user, quarantine_instance, revoke_role_sessions,
	// suppress, escalate, undo, patch_instance, the fix buttons
	// (fix_s3_bucket_public_access, fix_s3_account_public_access,
	// fix_security_group_open, fix_ebs_default_encryption), or "*" for all.
	Actions []string `yaml:"actions,omitempty"`
	// Commands are the /picket commands the role may run (help, posture,
	// check, finding, user, instance, audit, suppressions, digest, status,
	// auto), or "*" for all. "auto" lets a person switch automatic
	// responses off and on (/picket auto off|on); everyone the role names
	// may then also see their status.
	Commands []string `yaml:"commands,omitempty"`
	// Accounts limits the role to these 12-digit account ids; empty = all.
	Accounts []string `yaml:"accounts,omitempty"`
}

// Responses configures the response buttons' guardrails.
type Responses struct {
	// DryRun makes every action a dry run: planned and recorded, nothing
	// changed. DryRunActions does so for the listed actions only.
	DryRun        bool     `yaml:"dry_run"`
	DryRunActions []string `yaml:"dry_run_actions,omitempty"`
	// Approvals lists actions that need a second authorized person to
	// approve (two-person rule) within ApprovalTimeout (default 30m).
	Approvals       []string `yaml:"approvals,omitempty"`
	ApprovalTimeout Duration `yaml:"approval_timeout"`
	// AllowedAccounts, when set, are the only accounts Picket acts in.
	AllowedAccounts []string `yaml:"allowed_accounts,omitempty"`
	// Protected principals and instances are refused with a reason.
	// Entries are names, ARNs or instance ids; "*" globs are allowed.
	ProtectedUsers     []string `yaml:"protected_users,omitempty"`
	ProtectedRoles     []string `yaml:"protected_roles,omitempty"`
	ProtectedInstances []string `yaml:"protected_instances,omitempty"`
	// ProtectedBuckets (S3 bucket names or ARNs) and
	// ProtectedSecurityGroups (group ids, names or ARNs) are refused by the
	// fix buttons; "*" globs are allowed, and the protected tag counts too.
	ProtectedBuckets        []string `yaml:"protected_buckets,omitempty"`
	ProtectedSecurityGroups []string `yaml:"protected_security_groups,omitempty"`
	// ProtectedTag is a tag key: a user or instance tagged with it set to
	// "true" is protected (default picket:protected).
	ProtectedTag string `yaml:"protected_tag"`
	// EscalationChannel receives a notice of every escalation;
	// EscalationTopicARN, when set, an SNS message for the on-call team.
	EscalationChannel  string `yaml:"escalation_channel,omitempty"`
	EscalationTopicARN string `yaml:"escalation_topic_arn,omitempty"`
	// IsolationGroup names the security group quarantined instances are
	// moved to (default picket-isolation).
	IsolationGroup string `yaml:"isolation_group"`
	// Accounts are the other accounts Picket acts in, through STS
	// AssumeRole; the account Picket runs in needs no entry.
	Accounts []Account `yaml:"accounts,omitempty"`
}

// Account is a member account Picket reaches through a role.
type Account struct {
	ID         string `yaml:"id"`
	RoleARN    string `yaml:"role_arn"`
	ExternalID string `yaml:"external_id,omitempty"`
}

// ActionNames are the actions roles, dry runs and approvals may name.
var ActionNames = []string{
	string(picket.ActionDisableUser), string(picket.ActionQuarantineInstance), string(picket.ActionRevokeSessions),
	string(picket.ActionSuppress), string(picket.ActionEscalate), string(picket.ActionUndo),
	string(picket.ActionFixBucketPublicAccess), string(picket.ActionFixAccountPublicAccess),
	string(picket.ActionFixSecurityGroup), string(picket.ActionFixEBSEncryption),
	string(picket.ActionPatchInstance),
}

// CommandNames are the /picket commands roles may name.
var CommandNames = []string{"help", "posture", "check", "finding", "user", "instance", "audit", "suppressions", "digest", "status", "auto"}

var (
	slackUserPattern = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	roleARNPattern   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$`)
	topicARNPattern  = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$`)
)

func (v *checker) actionList(key string, names []string, star bool) {
	for j, a := range names {
		if (star && a == "*") || slices.Contains(ActionNames, a) {
			continue
		}
		v.add(fmt.Sprintf("%s[%d]", key, j), "%q is not an action (want one of %v)", a, ActionNames)
	}
}

func (v *checker) accounts(key string, ids []string) {
	for j, a := range ids {
		if !accountIDPattern.MatchString(a) {
			v.add(fmt.Sprintf("%s[%d]", key, j), "%q is not a 12-digit account id", a)
		}
	}
}

func (v *checker) roles(roles []Role) {
	seen := map[string]int{}
	for i, r := range roles {
		p := fmt.Sprintf("roles[%d]", i)
		switch first, dup := seen[r.Name]; {
		case r.Name == "":
			v.add(p+".name", "required")
		case dup:
			v.add(p+".name", "%q is already the name of roles[%d]", r.Name, first)
		default:
			seen[r.Name] = i
		}
		if len(r.Users) == 0 && len(r.Groups) == 0 {
			v.add(p, "names no users and no groups: it grants nothing")
		}
		for j, u := range r.Users {
			if !slackUserPattern.MatchString(u) {
				v.add(fmt.Sprintf("%s.users[%d]", p, j), "%q is not a Slack user id (U... or W...)", u)
			}
		}
		for j, g := range r.Groups {
			if !userGroupPattern.MatchString(g) {
				v.add(fmt.Sprintf("%s.groups[%d]", p, j), "%q is not a Slack user-group id (S...)", g)
			}
		}
		if len(r.Actions) == 0 && len(r.Commands) == 0 {
			v.add(p+".actions", "required: the actions (or commands) the role may run, or \"*\"")
		}
		v.actionList(p+".actions", r.Actions, true)
		for j, c := range r.Commands {
			if c != "*" && !slices.Contains(CommandNames, c) {
				v.add(fmt.Sprintf("%s.commands[%d]", p, j), "%q is not a command (want one of %v)", c, CommandNames)
			}
		}
		v.accounts(p+".accounts", r.Accounts)
	}
}

func (v *checker) responses(r Responses) {
	v.actionList("responses.dry_run_actions", r.DryRunActions, false)
	v.actionList("responses.approvals", r.Approvals, false)
	if d := r.ApprovalTimeout.Duration; d < time.Minute || d > 24*time.Hour {
		v.add("responses.approval_timeout", "%s is out of range (1m to 24h)", d)
	}
	v.accounts("responses.allowed_accounts", r.AllowedAccounts)
	if r.EscalationChannel != "" {
		v.channel("responses.escalation_channel", r.EscalationChannel)
	}
	if r.EscalationTopicARN != "" && !topicARNPattern.MatchString(r.EscalationTopicARN) {
		v.add("responses.escalation_topic_arn", "%q is not an SNS topic ARN", r.EscalationTopicARN)
	}
	if r.IsolationGroup == "" {
		v.add("responses.isolation_group", "required: the name of the isolation security group")
	}
	seen := map[string]bool{}
	for i, a := range r.Accounts {
		p := fmt.Sprintf("responses.accounts[%d]", i)
		if !accountIDPattern.MatchString(a.ID) {
			v.add(p+".id", "%q is not a 12-digit account id", a.ID)
		} else if seen[a.ID] {
			v.add(p+".id", "account %s is listed twice", a.ID)
		}
		seen[a.ID] = true
		if !roleARNPattern.MatchString(a.RoleARN) {
			v.add(p+".role_arn", "%q is not an IAM role ARN", a.RoleARN)
		}
	}
}
