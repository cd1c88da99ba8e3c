package picket

import (
	"context"
	"time"
)

// Enrichment is the context looked up about a finding's resources before it
// is shown. Every field is optional: a lookup that failed or ran out of time
// leaves its field empty and adds a line to Missing.
type Enrichment struct {
	AccountAlias string           `json:"account_alias,omitempty"`
	User         *UserContext     `json:"user,omitempty"`
	Instance     *InstanceContext `json:"instance,omitempty"`
	// SSM is what Systems Manager knows of the instance of a finding
	// Patch instance applies to (see Finding.PatchTarget); nil when not
	// looked up or the lookup failed.
	SSM *ManagedInstance `json:"ssm,omitempty"`
	// Missing says, one line per lookup, what context could not be had and
	// why ("IAM user details: timed out after 2s"). It is shown to people.
	Missing []string `json:"missing,omitempty"`
}

// UserContext describes an IAM user named in a finding.
type UserContext struct {
	UserName         string      `json:"user_name"`
	ARN              string      `json:"arn,omitempty"`
	CreatedAt        time.Time   `json:"created_at,omitzero"`
	Groups           []string    `json:"groups,omitempty"`
	AttachedPolicies []string    `json:"attached_policies,omitempty"`
	InlinePolicies   []string    `json:"inline_policies,omitempty"`
	AccessKeys       []AccessKey `json:"access_keys,omitempty"`
	MFADevices       int         `json:"mfa_devices"`
	ConsoleAccess    bool        `json:"console_access"`
}

// AccessKey is one IAM access key with its age and last use.
type AccessKey struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	LastUsedAt  time.Time `json:"last_used_at,omitzero"`
	LastService string    `json:"last_service,omitempty"`
}

// InstanceContext describes an EC2 instance named in a finding.
type InstanceContext struct {
	InstanceID       string   `json:"instance_id"`
	Name             string   `json:"name,omitempty"`
	Owner            string   `json:"owner,omitempty"`
	State            string   `json:"state,omitempty"`
	VPCID            string   `json:"vpc_id,omitempty"`
	SubnetID         string   `json:"subnet_id,omitempty"`
	SecurityGroups   []string `json:"security_groups,omitempty"`
	PublicIP         string   `json:"public_ip,omitempty"`
	InstanceProfile  string   `json:"instance_profile,omitempty"`
	AutoScalingGroup string   `json:"auto_scaling_group,omitempty"`
}

// Alert is what a person is shown about one finding: the finding, what was
// learnt about it, and where it goes.
type Alert struct {
	Finding    *Finding   `json:"finding"`
	Enrichment Enrichment `json:"enrichment"`
	// Channel is the Slack channel id or name the alert is posted to.
	Channel string `json:"channel"`
	// Mention is a Slack user-group id to notify, set for Critical findings
	// when the matching route asks for it.
	Mention string `json:"mention,omitempty"`
	// Actions are the responses taken on the finding so far, oldest first,
	// shown on the alert (who did what, and Undo where it applies).
	Actions []ActionRecord `json:"actions,omitempty"`
	// PostID, when set, is carried in the posted message's metadata so
	// that a post whose result was lost can be found again (see Post).
	PostID string `json:"-"`
}

// MessageRef identifies a posted Slack message so it can be updated in place.
type MessageRef struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// Zero reports whether the reference points at no message.
func (r MessageRef) Zero() bool { return r.Channel == "" || r.TS == "" }

// AlertSender delivers alerts and updates them in place. notifiers.Slack
// implements it; a sender must block while rate-limited rather than drop.
type AlertSender interface {
	PostAlert(ctx context.Context, a Alert) (MessageRef, error)
	UpdateAlert(ctx context.Context, ref MessageRef, a Alert) error
}

// Enricher looks up context about a finding within its own time budget. It
// never fails: what it could not learn is listed in Enrichment.Missing.
type Enricher interface {
	Enrich(ctx context.Context, f *Finding) Enrichment
}

// Route is where a finding goes after triage.
type Route struct {
	// Channel is empty when the finding is below every rule's threshold:
	// it is recorded but not posted.
	Channel string `json:"channel,omitempty"`
	Mention string `json:"mention,omitempty"`
	// Rule names the routing rule that matched ("default" for the default
	// channel).
	Rule string `json:"rule,omitempty"`
}

// Router picks the route for a finding.
type Router interface {
	Route(f *Finding) Route
}

// FindingRecord is the latest known state of one finding in the store.
type FindingRecord struct {
	Finding Finding `json:"finding"`
	// Ref is the Slack message showing the finding; zero when it was never
	// posted.
	Ref   MessageRef `json:"ref,omitzero"`
	Route Route      `json:"route,omitzero"`
	// Group is the id of the group message the finding is shown in; Ref
	// is then that message. Empty for a finding shown on its own.
	Group string `json:"group,omitempty"`
	// FirstReceived and LastReceived are when Picket first and last
	// processed the finding.
	FirstReceived time.Time `json:"first_received"`
	LastReceived  time.Time `json:"last_received"`
	// Deliveries counts how many times the finding arrived.
	Deliveries int `json:"deliveries"`
}

// FindingStore keeps the latest state of every finding and which queue
// messages have been fully handled. store.DB implements it.
type FindingStore interface {
	// Finding returns the record for key; ok is false when there is none.
	Finding(key string) (rec FindingRecord, ok bool, err error)
	// PutFinding saves rec under rec.Finding.Key, replacing what was there.
	PutFinding(rec FindingRecord) error
	// MessageDone reports whether the queue message id was fully handled.
	MessageDone(messageID string) (bool, error)
	// MarkMessageDone records that the queue message id was fully handled.
	MarkMessageDone(messageID string, at time.Time) error
}

// Outcome is what happened to one finding in the pipeline.
type Outcome string

// Outcomes of processing a finding.
const (
	OutcomeQueued     Outcome = "queued"     // a new alert, waiting in the outbox for Slack
	OutcomePosted     Outcome = "posted"     // a new Slack message
	OutcomeUpdated    Outcome = "updated"    // the existing message is updated in place
	OutcomeDuplicate  Outcome = "duplicate"  // same or older version: nothing to do
	OutcomeBelowRoute Outcome = "recorded"   // stored, below every routing threshold
	OutcomeSuppressed Outcome = "suppressed" // matched a suppression rule
	OutcomeDryRun     Outcome = "dry_run"    // rendered, not sent
)

// FindingHandler processes one decoded finding to a committed outcome.
// triage.Pipeline implements it; ingest calls it.
type FindingHandler interface {
	HandleFinding(ctx context.Context, f *Finding) (Outcome, error)
}
