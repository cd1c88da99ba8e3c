package actions

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/picketsec/picket"
)

// Kinds returns the action kinds the service has a responder for, sorted:
// what an automatic response rule may name.
func (s *Service) Kinds() []picket.ActionKind {
	out := make([]picket.ActionKind, 0, len(s.o.Responders))
	for k := range s.o.Responders {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// AutoRequest is one action an automatic response rule asks for.
type AutoRequest struct {
	// RequestID is fixed by the rule's run (picket.AutoRun.RequestID), so
	// that a run repeated after a restart finds the request it made.
	RequestID  string
	Rule       string
	Kind       picket.ActionKind
	FindingKey string
	// Approve asks for approval instead of running (mode approve).
	Approve bool
}

// request builds the request of an automatic action: the rule as the
// actor, the first resource of the finding the action applies to, and the
// configured dry run.
func (s *Service) autoRequest(a AutoRequest, f *picket.Finding) (picket.ActionRequest, error) {
	req := picket.ActionRequest{
		ID: a.RequestID, Kind: a.Kind, FindingKey: f.Key, Account: f.Account, Region: f.Region,
		Actor: picket.RuleActor(a.Rule), At: s.o.Now().UTC(),
		Reason: "Automatic response rule " + a.Rule + " matched this finding.",
		DryRun: s.o.Policy.DryRun || slices.Contains(s.o.Policy.DryRunActions, a.Kind),
	}
	if a.Kind == picket.ActionUndo || a.Kind == picket.ActionLiftSuppression {
		return req, picket.Errorf(picket.EINVALID, "%s is not an action a rule can take.", a.Kind.Label())
	}
	t, ok := pickTarget(a.Kind, f, "")
	if !ok {
		return req, picket.Errorf(picket.EINVALID, "The finding names no resource that %s applies to.", a.Kind.Label())
	}
	req.Target = t
	if a.Kind == picket.ActionSuppress {
		// Nobody chose an expiry: a rule's suppression lifts itself after
		// AutoSuppressFor rather than silence the finding for ever.
		req.Until = req.At.Add(AutoSuppressFor)
	}
	return req, nil
}

// AutoSuppressFor is how long a suppression made by an automatic rule
// lasts.
const AutoSuppressFor = 7 * 24 * time.Hour

// ProposeAutomatic plans what an automatic response rule would do, for a
// notice offering it to people: the same guardrails as a run, read-only
// calls only, nothing stored.
func (s *Service) ProposeAutomatic(ctx context.Context, a AutoRequest) (picket.Plan, error) {
	frec, ok, err := s.o.Findings.Finding(a.FindingKey)
	if err != nil {
		return picket.Plan{}, fmt.Errorf("load finding %s: %w", a.FindingKey, err)
	}
	if !ok {
		return picket.Plan{}, picket.Errorf(picket.ENOTFOUND, "Picket does not know this finding any more.")
	}
	req, err := s.autoRequest(a, &frec.Finding)
	if err != nil {
		return picket.Plan{}, err
	}
	plan, err := s.guardedPlan(ctx, req, &frec.Finding)
	if err != nil {
		return picket.Plan{}, err
	}
	plan.Request = req
	if slices.Contains(s.o.Policy.Approvals, a.Kind) {
		plan.Approvals = 1
	}
	return plan, nil
}

// Automatic runs one action of an automatic response rule through what a
// click goes through: the guardrails (allow-list, protected resources,
// root refused), the configured dry run, the claim that makes it run at
// most once, and the audit trail, with the rule as the actor. With
// a.Approve, or when the action needs a second person (responses.approvals),
// it is stored as a request awaiting approval instead of run. A refusal is
// stored and audited as one. It does not reply in the alert's thread: the
// caller announces the record (Announce) once the alert is posted.
//
// A request id that already has a record is never run again: that record
// is returned, whatever its state (a restart resumes a run this way). When
// another request holds the claim (a person, or a rule about another
// finding of the same resource) it returns an ECONFLICT error naming it,
// and stores nothing.
func (s *Service) Automatic(ctx context.Context, a AutoRequest) (picket.ActionRecord, error) {
	if rec, ok, err := s.o.Actions.Action(a.RequestID); err != nil {
		return picket.ActionRecord{}, fmt.Errorf("load action %s: %w", a.RequestID, err)
	} else if ok {
		return rec, nil
	}
	frec, ok, err := s.o.Findings.Finding(a.FindingKey)
	if err != nil {
		return picket.ActionRecord{}, fmt.Errorf("load finding %s: %w", a.FindingKey, err)
	}
	if !ok {
		return picket.ActionRecord{}, picket.Errorf(picket.ENOTFOUND, "Picket does not know this finding any more.")
	}
	f := &frec.Finding
	req, err := s.autoRequest(a, f)
	if err != nil {
		return picket.ActionRecord{}, err
	}
	plan, err := s.guardedPlan(ctx, req, f)
	if err != nil {
		return picket.ActionRecord{}, err
	}
	plan.Request = req
	if slices.Contains(s.o.Policy.Approvals, a.Kind) {
		plan.Approvals = 1
	}
	actor := req.Actor
	now := s.o.Now().UTC()
	if plan.Refusal != "" {
		res := picket.ActionResult{Request: req, Outcome: picket.OutcomeRefused, Summary: plan.Refusal, Started: now, Finished: now}
		rec := picket.ActionRecord{Request: req, Plan: plan, Status: picket.OutcomeRefused, Result: &res, Updated: now}
		e := entryFor("refused", actor, req)
		e.Outcome, e.Detail = string(picket.OutcomeRefused), plan.Refusal
		if err := s.audit(e); err != nil {
			return picket.ActionRecord{}, err
		}
		if _, _, err := s.o.Actions.ClaimAction(rec); err != nil {
			return picket.ActionRecord{}, fmt.Errorf("record refusal %s: %w", req.ID, err)
		}
		return rec, nil
	}

	rec := picket.ActionRecord{Request: req, Plan: plan, Status: picket.StatusRunning, Updated: now, Runner: s.o.Runner}
	if (a.Approve || plan.Approvals > 0) && !req.DryRun {
		rec.Status, rec.ApproveBy = picket.OutcomePending, now.Add(s.o.Policy.ApprovalTimeout)
	}
	holder, ok, err := s.o.Actions.ClaimAction(rec)
	if err != nil {
		return picket.ActionRecord{}, fmt.Errorf("claim %s: %w", req.ClaimKey(), err)
	}
	if !ok {
		e := entryFor("duplicate", actor, req)
		e.Outcome, e.Detail = "conflict", "held by request "+holder.Request.ID+" ("+string(holder.Status)+")"
		s.audit(e)
		return picket.ActionRecord{}, conflictError(holder)
	}
	e := entryFor("requested", actor, req)
	e.Plan = plan.Steps
	e.Detail = "automatic response rule " + a.Rule
	switch {
	case req.DryRun:
		e.Detail += " (dry run)"
	case rec.Status == picket.OutcomePending:
		e.Detail += " (awaiting approval)"
	}
	if err := s.audit(e); err != nil {
		rec.Status = picket.OutcomeFailed
		s.o.Actions.PutAction(rec)
		return picket.ActionRecord{}, err
	}
	if rec.Status == picket.OutcomePending {
		return rec, nil
	}
	// The thread reply waits for the alert (the caller announces): with no
	// message to reply to, execute only records and audits.
	quiet := frec
	quiet.Ref = picket.MessageRef{}
	s.execute(ctx, quiet, rec)
	out, ok, err := s.o.Actions.Action(req.ID)
	if err != nil || !ok {
		return rec, fmt.Errorf("reload action %s: %w", req.ID, err)
	}
	return out, nil
}

// Announce replies in the alert's thread with rec and updates the alert,
// as the service does after a click. It does nothing while the finding has
// no message.
func (s *Service) Announce(ctx context.Context, frec picket.FindingRecord, rec picket.ActionRecord) {
	s.announce(ctx, frec, rec)
}

// AuditAutomatic appends an audit entry about automatic responses (a
// proposal, a fall-back, the kill switch) with actor.
func (s *Service) AuditAutomatic(e picket.AuditEntry) error {
	return s.audit(e)
}

// autoLabel lists kinds for people: "Disable user, then Escalate to
// Detective".
func autoLabel(kinds []picket.ActionKind) string {
	labels := make([]string, len(kinds))
	for i, k := range kinds {
		labels[i] = k.Label()
	}
	return strings.Join(labels, ", then ")
}
