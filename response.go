package picket

import (
	"context"
	"encoding/json"
	"time"
)

// ActionRecord is the stored state of one action request, from the click
// to its outcome. It is what makes an action run at most once.
type ActionRecord struct {
	Request ActionRequest `json:"request"`
	Plan    Plan          `json:"plan"`
	// Status is OutcomePending while awaiting approval, "running" while it
	// executes, then the result's outcome.
	Status ActionOutcome `json:"status"`
	Result *ActionResult `json:"result,omitempty"`
	// Approver is who approved (two-person rule) or rejected it.
	Approver *Actor `json:"approver,omitempty"`
	// ApproveBy is when a pending request expires unapproved.
	ApproveBy time.Time `json:"approve_by,omitzero"`
	// UndoneBy is the request id of the Undo that reversed this action.
	UndoneBy string `json:"undone_by,omitempty"`
	// Evidence is the state a running action recorded before its first
	// change (see ActionResult.Evidence), saved so that an action a
	// restart interrupts can still be undone.
	Evidence json.RawMessage `json:"evidence,omitempty"`
	Updated  time.Time       `json:"updated"`
	// Runner is the replica that runs (or ran) the action, when several
	// share the store (see actions.ServiceOptions.Runner).
	Runner string `json:"runner,omitempty"`
}

// StatusRunning marks an action record whose execution is under way.
const StatusRunning ActionOutcome = "running"

// Active reports whether the record still holds its claim: pending,
// running, or done successfully (a second run would act twice). A Patch
// instance holds its claim only while pending or running: patching an
// instance again installs only what is still missing, which is what a
// patch done in part asks for and what a later finding on the same
// instance may need.
func (r *ActionRecord) Active() bool {
	if r.Request.Kind == ActionPatchInstance {
		return r.Status == OutcomePending || r.Status == StatusRunning
	}
	switch r.Status {
	case OutcomePending, StatusRunning, OutcomeSucceeded, OutcomePartial:
		return r.UndoneBy == ""
	}
	return false
}

// ActionStore keeps action records. ClaimAction is atomic: of two
// concurrent claims for the same ActionRequest.ClaimKey, exactly one
// succeeds. store.DB implements it.
type ActionStore interface {
	// ClaimAction stores rec (keyed by rec.Request.ID) and takes the claim
	// for rec.Request.ClaimKey(), unless an Active record holds it: then it
	// returns that record and ok=false, storing nothing.
	ClaimAction(rec ActionRecord) (holder ActionRecord, ok bool, err error)
	// PutAction replaces the record with the same request id. A record
	// that is no longer Active releases its claim.
	PutAction(rec ActionRecord) error
	// Action returns the record for a request id.
	Action(requestID string) (ActionRecord, bool, error)
	// ActionsForFinding returns the records of a finding, oldest first.
	ActionsForFinding(findingKey string) ([]ActionRecord, error)
}

// Suppression is a rule that keeps matching findings from being posted
// until it expires, and what Picket created in AWS for it.
type Suppression struct {
	ID string `json:"id"`
	// FindingKey is the finding the rule was created from.
	FindingKey string `json:"finding_key"`
	// Match: every non-empty field must equal the finding's. ProductARN
	// and GeneratorID give the rule the same scope as the Security Hub
	// automation rule created with it, so that it does not silence another
	// product's findings of the same type.
	Source      Source `json:"source,omitempty"`
	ProductARN  string `json:"product_arn,omitempty"`
	GeneratorID string `json:"generator_id,omitempty"`
	Type        string `json:"type,omitempty"`
	Account     string `json:"account,omitempty"`
	Region      string `json:"region,omitempty"`
	ResourceID  string `json:"resource_id,omitempty"`

	Reason  string    `json:"reason"`
	Actor   Actor     `json:"actor"`
	Created time.Time `json:"created"`
	Until   time.Time `json:"until"`
	// Remote lists what was created in AWS (a GuardDuty filter name or a
	// Security Hub automation rule ARN) so it can be removed on expiry.
	Remote []RemoteRule `json:"remote,omitempty"`
	// Lifted is when the rule was lifted; zero while in force.
	Lifted time.Time `json:"lifted,omitzero"`
	// RequestID is the Suppress request that created the suppression.
	RequestID string `json:"request_id,omitempty"`
	// OneFinding marks the suppression of the one finding FindingKey
	// (Suppress without "similar"): it matches nothing in triage, and
	// exists so that at Until Picket restores the finding in AWS (see
	// Suppressed).
	OneFinding bool `json:"one_finding,omitempty"`
	// Suppressed is the suppressed state the suppression gave the finding
	// itself in AWS (archived in GuardDuty or IAM Access Analyzer,
	// SUPPRESSED in Security Hub), restored when a suppression of one
	// finding expires and by Undo.
	Suppressed []RemoteRule `json:"suppressed,omitempty"`
}

// RemoteRule is one suppression object Picket created in AWS.
type RemoteRule struct {
	// Kind is "guardduty_filter" or "securityhub_automation_rule" for a
	// rule, or for the finding's own state "guardduty_archive",
	// "securityhub_workflow" or "access_analyzer_archive".
	Kind    string `json:"kind"`
	ID      string `json:"id"` // filter name or rule ARN
	Account string `json:"account"`
	Region  string `json:"region"`
	// DetectorID is the GuardDuty detector of a filter or an archived
	// finding.
	DetectorID string `json:"detector_id,omitempty"`
	// ProductARN is the Security Hub product of a suppressed finding, and
	// Status its workflow status before (restored by Undo and expiry).
	ProductARN string `json:"product_arn,omitempty"`
	Status     string `json:"status,omitempty"`
	// Analyzer is the IAM Access Analyzer analyzer of an archived
	// finding.
	Analyzer string `json:"analyzer,omitempty"`
}

// Matches reports whether the suppression is in force at now and matches f.
func (s *Suppression) Matches(f *Finding, now time.Time) bool {
	if s.OneFinding || !s.Lifted.IsZero() || (!s.Until.IsZero() && !now.Before(s.Until)) {
		return false
	}
	if (s.Source != "" && s.Source != f.Source) || (s.Type != "" && s.Type != f.Type) ||
		(s.Account != "" && s.Account != f.Account) || (s.Region != "" && s.Region != f.Region) ||
		(s.ProductARN != "" && s.ProductARN != f.ProductARN) || (s.GeneratorID != "" && s.GeneratorID != f.GeneratorID) {
		return false
	}
	if s.ResourceID == "" {
		return true
	}
	for _, r := range f.Resources {
		if r.ID == s.ResourceID {
			return true
		}
	}
	return false
}

// SuppressionStore keeps suppression rules. store.DB implements it.
type SuppressionStore interface {
	PutSuppression(s Suppression) error
	Suppressions() ([]Suppression, error)
}

// RunInput is what a person confirmed in the plan dialog.
type RunInput struct {
	Reason  string
	Until   time.Time
	Similar bool
	DryRun  bool
	// NoReboot is Patch instance's "do not reboot" choice.
	NoReboot bool
}

// TargetAccount, given to ResponseService.Prepare as targetID, makes the
// finding's account the target of a Suppress instead of the first of its
// resources, so that its "similar" rule covers every finding of the type
// in the account: what a group message's Suppress similar promises.
// Actions on one resource refuse it.
const TargetAccount = "*account*"

// ResponseService is what Slack inbound (package bot) asks of the action
// machinery. Every method authorizes the actor and writes the audit trail;
// errors are *Error values whose Message can be shown to the actor.
type ResponseService interface {
	// Prepare plans kind for the finding on behalf of actor and remembers
	// the plan under Plan.Request.ID for Run. targetID picks the resource
	// when the finding names several ("" for the first that fits,
	// TargetAccount for the finding's account); undoOf
	// names the request to reverse for ActionUndo. EUNAUTHORIZED when the
	// actor may not; ENOTFOUND for an unknown finding.
	Prepare(ctx context.Context, actor Actor, kind ActionKind, findingKey, targetID, undoOf string) (Plan, error)
	// Run executes the prepared request once. ECONFLICT, with a message
	// naming who is already acting, when another request holds the claim.
	// With the two-person rule it returns an OutcomePending result.
	Run(ctx context.Context, requestID string, actor Actor, in RunInput) (ActionResult, error)
	// Approve runs a pending request; the approver must be authorized and
	// must not be the requester.
	Approve(ctx context.Context, requestID string, approver Actor) (ActionResult, error)
	// Reject refuses a pending request.
	Reject(ctx context.Context, requestID string, approver Actor, reason string) (ActionResult, error)
	// RecordRejected audits an inbound request Picket refused before it
	// reached an action (bad signature, stale timestamp, replay, unknown
	// action id).
	RecordRejected(actor Actor, detail string)
}

// Announcer tells people in Slack what an action did: a reply in the
// alert's thread, and the alert itself updated to show the outcome.
// notifiers.Slack implements it.
type Announcer interface {
	// AnnounceAction replies in the thread of the alert at ref with the
	// record's state: awaiting approval (with Approve and Reject buttons),
	// or the result with every step.
	AnnounceAction(ctx context.Context, ref MessageRef, rec ActionRecord) error
	// PostEscalation posts a notice of an escalation to channel (the
	// escalation channel), linking the alert when ref is not zero.
	PostEscalation(ctx context.Context, channel string, ref MessageRef, f *Finding, rec ActionRecord) error
}

// PlanStore keeps the plans shown in confirmation dialogs until they are
// confirmed, so that whichever replica receives the confirmation runs the
// plan another prepared. store.DB and dynamo.Store implement it.
type PlanStore interface {
	// PutPlan keeps p under p.Request.ID until expires.
	PutPlan(p Plan, expires time.Time) error
	// PreparedPlan returns the plan kept under id and when it expires.
	PreparedPlan(id string) (p Plan, expires time.Time, ok bool, err error)
	// DeletePlan removes the plan under id; deleted reports whether this
	// call removed it: of concurrent calls exactly one does, which is what
	// makes a plan run once.
	DeletePlan(id string) (deleted bool, err error)
}
