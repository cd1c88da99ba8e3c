package picket

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// ActionKind names a response Picket can run.
type ActionKind string

// Responses offered on alerts, and Undo.
const (
	ActionDisableUser        ActionKind = "disable_user"
	ActionQuarantineInstance ActionKind = "quarantine_instance"
	// ActionRevokeSessions revokes the sessions of an IAM role issued
	// before now (exfiltrated temporary credentials of an assumed role).
	ActionRevokeSessions ActionKind = "revoke_role_sessions"
	ActionSuppress       ActionKind = "suppress"
	ActionEscalate       ActionKind = "escalate"
	// ActionUndo reverses an earlier Disable user or Quarantine instance
	// from the state recorded when it ran.
	ActionUndo ActionKind = "undo"
	// ActionLiftSuppression removes what a Suppress similar created, when
	// its expiry passes or a person asks.
	ActionLiftSuppression ActionKind = "lift_suppression"
	// ActionPatchInstance installs the missing patches of an EC2 instance
	// with the Systems Manager document AWS-RunPatchBaseline (Amazon
	// Inspector package-vulnerability findings). It has no undo.
	ActionPatchInstance ActionKind = "patch_instance"
)

// Label returns the action as a person reads it: "Disable user".
func (k ActionKind) Label() string {
	switch k {
	case ActionDisableUser:
		return "Disable user"
	case ActionQuarantineInstance:
		return "Quarantine instance"
	case ActionRevokeSessions:
		return "Revoke role sessions"
	case ActionSuppress:
		return "Suppress"
	case ActionEscalate:
		return "Escalate to Detective"
	case ActionUndo:
		return "Undo"
	case ActionLiftSuppression:
		return "Lift suppression"
	case ActionPatchInstance:
		return "Patch instance"
	}
	if l := fixLabel(k); l != "" {
		return l
	}
	return string(k)
}

// Contains reports whether the action contains a resource (changes it so
// that it can do no more harm, and can be undone): Disable user,
// Quarantine instance and Revoke role sessions. Containment is claimed per
// resource, not per finding.
func (k ActionKind) Contains() bool {
	switch k {
	case ActionDisableUser, ActionQuarantineInstance, ActionRevokeSessions:
		return true
	}
	return false
}

// Actor is the person (or Picket itself) behind a request.
type Actor struct {
	// ID is the Slack user id ("U012AB3CD"), or "picket" for the bot's own
	// scheduled work.
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Groups are the Slack user-group ids the actor belongs to, used by
	// role checks.
	Groups []string `json:"groups,omitempty"`
}

// ActionRequest is a request to run one action on one resource of a
// finding.
type ActionRequest struct {
	// ID identifies this request in the audit trail and in approvals.
	ID         string     `json:"id"`
	Kind       ActionKind `json:"kind"`
	FindingKey string     `json:"finding_key"`
	// Target is the resource acted on: the IAM user, the instance, or for
	// Suppress and Escalate the finding's main resource.
	Target  Resource `json:"target"`
	Account string   `json:"account"`
	Region  string   `json:"region"`
	Actor   Actor    `json:"actor"`
	// Reason is why (required for Suppress).
	Reason string `json:"reason,omitempty"`
	// Until is when a suppression expires (Suppress only).
	Until time.Time `json:"until,omitzero"`
	// Similar asks Suppress to also suppress future findings like this one
	// (a GuardDuty filter or a Security Hub automation rule, plus a local
	// rule), until Until.
	Similar bool `json:"similar,omitempty"`
	// NoReboot asks Patch instance not to reboot the instance even when
	// the patches need it (RebootOption NoReboot); by default it reboots
	// only when needed (RebootIfNeeded).
	NoReboot bool `json:"no_reboot,omitempty"`
	// UndoOf is the ID of the request Undo reverses.
	UndoOf string `json:"undo_of,omitempty"`
	// DryRun plans and records without changing anything.
	DryRun bool      `json:"dry_run,omitempty"`
	At     time.Time `json:"at"`
}

// ClaimKey is the key that makes a request run at most once. A
// containment (see ActionKind.Contains) claims its resource, whatever
// finding it came from: two findings about one user give one disable. An
// Undo claims the request it reverses. Patch instance claims its instance
// while it is pending or running (see ActionRecord.Active). Any other
// action claims the finding and resource it acts on. A double click, a retried payload or two people
// clicking at once share the key.
func (r *ActionRequest) ClaimKey() string {
	switch {
	case r.UndoOf != "":
		return "undo|" + r.UndoOf
	case r.Kind.Contains():
		return "contain|" + r.ResourceKey()
	case r.Kind == ActionPatchInstance:
		// One patch at a time per instance, whichever finding asked: two
		// Run Commands of AWS-RunPatchBaseline on one instance collide.
		region := r.Target.Region
		if region == "" {
			region = r.Region
		}
		return string(r.Kind) + "|" + r.Account + "|" + region + "|" + r.Target.ID
	}
	return string(r.Kind) + "|" + r.FindingKey + "|" + r.Target.ID
}

// ResourceKey identifies the resource a containment acts on: its kind,
// account, region and id. IAM is global, so IAM resources have no region,
// and IAM names are unique regardless of case, so they are compared in
// lower case. A role session is its role. It is "" for an action that is
// not a containment.
func (r *ActionRequest) ResourceKey() string {
	if !r.Kind.Contains() {
		return ""
	}
	t := r.Target
	kind, region, id := t.Kind, t.Region, t.ID
	switch kind {
	case ResourceIAMUser, ResourceIAMRole, ResourceRoleSession, ResourceRoot, ResourceAccessKey, ResourceFederatedUser:
		if kind == ResourceRoleSession {
			kind = ResourceIAMRole
		}
		region, id = "", strings.ToLower(id)
	default:
		if region == "" {
			region = r.Region
		}
	}
	return string(kind) + "|" + r.Account + "|" + region + "|" + id
}

// PlanStep is one AWS call an action will make.
type PlanStep struct {
	// Operation is "service:Action" as IAM names it ("iam:UpdateAccessKey").
	Operation string `json:"operation"`
	// Description says what the call does, for the person approving it.
	Description string `json:"description"`
}

// Plan is exactly what an action will do, shown before it runs.
type Plan struct {
	Request ActionRequest `json:"request"`
	Steps   []PlanStep    `json:"steps"`
	// Undo says what Undo would restore; empty when the action has no undo.
	Undo string `json:"undo,omitempty"`
	// Details are facts to weigh before running, one line each (the
	// vulnerabilities and packages a patch fixes, the instance's Systems
	// Manager state, what happens about a reboot). Raw text.
	Details []string `json:"details,omitempty"`
	// Refusal is set when a guardrail refuses the action; Steps is then
	// empty and Alternative may name what to do instead.
	Refusal     string     `json:"refusal,omitempty"`
	Alternative ActionKind `json:"alternative,omitempty"`
	// Approvals is how many people other than the requester must approve
	// before it runs (the two-person rule): 0 or 1.
	Approvals int `json:"approvals,omitempty"`
}

// StepStatus is how one step of an action ended.
type StepStatus string

// Step statuses.
const (
	StepDone    StepStatus = "done"
	StepFailed  StepStatus = "failed"
	StepSkipped StepStatus = "skipped" // not attempted because an earlier step failed, or nothing to do
	StepDryRun  StepStatus = "dry_run" // would have run
)

// StepResult is one AWS call as it happened.
type StepResult struct {
	Operation   string     `json:"operation"`
	Description string     `json:"description"`
	Status      StepStatus `json:"status"`
	// RequestID is the AWS request id of the call, for CloudTrail.
	RequestID string `json:"request_id,omitempty"`
	// ErrorCode is the AWS error code ("AccessDenied") when it failed.
	ErrorCode string    `json:"error_code,omitempty"`
	Error     string    `json:"error,omitempty"`
	At        time.Time `json:"at"`
}

// ActionOutcome is how a whole action ended.
type ActionOutcome string

// Action outcomes.
const (
	OutcomeSucceeded ActionOutcome = "succeeded"
	OutcomePartial   ActionOutcome = "partial" // some steps done, some not
	OutcomeFailed    ActionOutcome = "failed"  // nothing changed
	OutcomeDryRunned ActionOutcome = "dry_run"
	OutcomeRefused   ActionOutcome = "refused" // a guardrail said no
	OutcomeDenied    ActionOutcome = "denied"  // the actor may not do this
	OutcomePending   ActionOutcome = "pending_approval"
	OutcomeRejected  ActionOutcome = "rejected" // an approver said no, or approval expired
)

// ActionResult is what an action did.
type ActionResult struct {
	Request ActionRequest `json:"request"`
	Outcome ActionOutcome `json:"outcome"`
	Steps   []StepResult  `json:"steps"`
	// Evidence is the state recorded before acting (keys, policies, groups
	// and security groups, ...), kept for the audit and used by Undo.
	Evidence json.RawMessage `json:"evidence,omitempty"`
	// Summary is one sentence for people: what happened.
	Summary string `json:"summary"`
	// Output is the tail of what a command run on the resource printed
	// (Patch instance: the Run Command's standard output), raw; empty for
	// actions that run no command.
	Output string `json:"output,omitempty"`
	// NextStep says what a person should do now, when anything.
	NextStep string    `json:"next_step,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// OutcomeOf derives an outcome from step results: all done -> succeeded,
// none done -> failed, otherwise partial. Dry-run steps -> dry_run.
func OutcomeOf(steps []StepResult) ActionOutcome {
	done, failed, dry := 0, 0, 0
	for _, s := range steps {
		switch s.Status {
		case StepDone:
			done++
		case StepFailed:
			failed++
		case StepDryRun:
			dry++
		}
	}
	switch {
	case dry > 0 && done == 0 && failed == 0:
		return OutcomeDryRunned
	case failed == 0:
		return OutcomeSucceeded
	case done == 0:
		return OutcomeFailed
	}
	return OutcomePartial
}

// Responder plans and runs one kind of action against AWS. actions
// implements one per ActionKind.
type Responder interface {
	// Plan says exactly what Execute would do for req on finding f, or
	// refuses with a reason. It makes only read-only calls.
	Plan(ctx context.Context, req ActionRequest, f *Finding) (Plan, error)
	// Execute runs plan. It never returns an error: every failure is in
	// the result's steps, so the audit and the message tell the truth.
	Execute(ctx context.Context, plan Plan, f *Finding) ActionResult
}

// AuditEntry is one record in the tamper-evident audit trail. Each entry
// holds the hash of the previous entry, so a changed, removed or reordered
// entry breaks the chain.
type AuditEntry struct {
	// Seq numbers entries from 1, assigned by the store.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Event says what happened: "requested", "approved", "executed",
	// "denied", "refused", "rejected", "expired", "rejected_request" (a bad
	// signature or unknown action id), "started" (work that ends later
	// was started in AWS: a patch command sent), "resumed" (following it
	// again after a restart), "lifted" (a suppression's expiry) ...
	Event      string       `json:"event"`
	Actor      Actor        `json:"actor"`
	Action     ActionKind   `json:"action,omitempty"`
	RequestID  string       `json:"request_id,omitempty"`
	Target     string       `json:"target,omitempty"`
	Account    string       `json:"account,omitempty"`
	Region     string       `json:"region,omitempty"`
	FindingKey string       `json:"finding_key,omitempty"`
	Plan       []PlanStep   `json:"plan,omitempty"`
	Calls      []StepResult `json:"calls,omitempty"`
	Outcome    string       `json:"outcome,omitempty"`
	Detail     string       `json:"detail,omitempty"`
	// KeyID names the audit key the entry is sealed with (an HMAC of a
	// fixed label, never the key itself); empty for an entry sealed with
	// plain SHA-256.
	KeyID string `json:"key_id,omitempty"`
	// PrevHash is the Hash of the entry before (empty for the first);
	// Hash is the hex SHA-256 of this entry with Hash itself empty, or its
	// HMAC-SHA-256 with the audit key when KeyID is set.
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// Auditor appends entries to the audit trail durably (synced) before
// returning. store.DB implements it.
type Auditor interface {
	Audit(e AuditEntry) (AuditEntry, error)
}
