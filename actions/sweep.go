package actions

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/picketsec/picket"
)

// PendingLister lists requests awaiting approval; store.DB implements it.
type PendingLister interface {
	PendingActions() ([]picket.ActionRecord, error)
}

// Sweep does the Service's timed work once: requests whose approval window
// passed are closed as expired, and suppressions whose expiry passed are
// lifted (what Picket created in AWS is removed) and announced in the
// thread of the alert they came from. It returns how many of each.
func (s *Service) Sweep(ctx context.Context) (expired, lifted int) {
	now := s.o.Now()
	if pl, ok := s.o.Actions.(PendingLister); ok {
		recs, err := pl.PendingActions()
		if err != nil {
			s.o.Logger.Warn("list pending approvals", "err", err)
		}
		for _, rec := range recs {
			if now.Before(rec.ApproveBy) {
				continue
			}
			unlock := s.lock(rec.Request.ID)
			if cur, ok, err := s.o.Actions.Action(rec.Request.ID); err == nil && ok && cur.Status == picket.OutcomePending {
				frec, _, _ := s.o.Findings.Finding(cur.Request.FindingKey)
				s.expire(ctx, frec, cur)
				expired++
			}
			unlock()
		}
	}
	if s.o.Suppressions == nil {
		return expired, lifted
	}
	sups, err := s.o.Suppressions.Suppressions()
	if err != nil {
		s.o.Logger.Warn("list suppressions", "err", err)
		return expired, lifted
	}
	for _, sup := range sups {
		if !sup.Lifted.IsZero() || sup.Until.IsZero() || now.Before(sup.Until) {
			continue
		}
		s.lift(ctx, sup)
		lifted++
	}
	return expired, lifted
}

// lift removes an expired suppression and says so.
func (s *Service) lift(ctx context.Context, sup picket.Suppression) {
	start := s.o.Now().UTC()
	var steps []picket.StepResult
	if s.o.Lifter != nil && (len(sup.Remote) > 0 || (sup.OneFinding && len(sup.Suppressed) > 0)) {
		steps = s.o.Lifter.Lift(ctx, sup)
	}
	res := picket.ActionResult{Outcome: picket.OutcomeOf(steps), Steps: steps, Started: start, Finished: s.o.Now().UTC()}
	liftID := s.o.NewID()
	if res.Outcome == picket.OutcomeSucceeded {
		sup.Lifted = res.Finished
		if err := s.o.Suppressions.PutSuppression(sup); err != nil {
			s.o.Logger.Error("save lifted suppression", "id", sup.ID, "err", err)
		}
		s.endSuppress(sup, liftID, res.Finished)
		res.Summary = fmt.Sprintf("The suppression set by %s expired at %s and was lifted; matching findings are posted again.",
			nameOf(sup.Actor), sup.Until.UTC().Format(time.RFC3339))
		if sup.OneFinding {
			res.Summary = fmt.Sprintf("The suppression of this finding set by %s expired at %s; Picket restored the finding in AWS.",
				nameOf(sup.Actor), sup.Until.UTC().Format(time.RFC3339))
			if len(steps) == 0 {
				res.Summary = fmt.Sprintf("The suppression of this finding set by %s expired at %s.", nameOf(sup.Actor), sup.Until.UTC().Format(time.RFC3339))
			}
		}
	} else {
		res.Summary = fmt.Sprintf("The suppression set by %s expired, but Picket could not remove everything it created in AWS.", nameOf(sup.Actor))
		res.NextStep = "Remove the listed GuardDuty filter or Security Hub automation rule by hand, or grant Picket the permission named above."
		if sup.OneFinding {
			res.Summary = fmt.Sprintf("The suppression of this finding set by %s expired, but Picket could not restore the finding everywhere in AWS.", nameOf(sup.Actor))
			res.NextStep = "Set the finding's status back by hand in the console (the failed steps are listed), or grant Picket the permission named above; Picket retries at the next sweep."
		}
	}
	req := picket.ActionRequest{
		ID: liftID, Kind: picket.ActionLiftSuppression, FindingKey: sup.FindingKey,
		Target: picket.Resource{Kind: picket.ResourceOther, ID: sup.ID}, Account: sup.Account, Region: sup.Region,
		Actor: picket.Actor{ID: "picket", Name: "Picket"}, At: start,
	}
	res.Request = req
	rec := picket.ActionRecord{Request: req, Status: res.Outcome, Result: &res, Updated: res.Finished}
	if _, _, err := s.o.Actions.ClaimAction(rec); err != nil {
		s.o.Logger.Warn("record suppression lift", "id", sup.ID, "err", err)
	}
	e := entryFor("lifted", req.Actor, req)
	e.Calls, e.Outcome, e.Detail = steps, string(res.Outcome), res.Summary
	s.audit(e)
	if frec, ok, err := s.o.Findings.Finding(sup.FindingKey); err == nil && ok {
		s.announce(ctx, frec, rec)
	}
}

// endSuppress marks the Suppress request that created sup as reversed by
// the lift liftID, so that it no longer holds its claim: the finding can
// be suppressed again, and the alert offers no Undo of what has expired.
func (s *Service) endSuppress(sup picket.Suppression, liftID string, at time.Time) {
	id := sup.RequestID
	if id == "" {
		id = strings.TrimPrefix(sup.ID, "sup-")
	}
	orig, ok, err := s.o.Actions.Action(id)
	if err != nil || !ok || orig.Request.Kind != picket.ActionSuppress || orig.UndoneBy != "" {
		if err != nil {
			s.o.Logger.Warn("load the suppress of a lifted suppression", "id", sup.ID, "err", err)
		}
		return
	}
	orig.UndoneBy, orig.Updated = liftID, at
	if err := s.o.Actions.PutAction(orig); err != nil {
		s.o.Logger.Error("release the claim of an expired suppress", "request_id", id, "err", err)
	}
}

// RunSweeper calls Sweep every interval until ctx is done.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if e, l := s.Sweep(ctx); e+l > 0 {
				s.o.Logger.Info("sweep", "expired_approvals", e, "lifted_suppressions", l)
			}
		}
	}
}

// RunningLister lists actions whose execution was under way; store.DB
// implements it.
type RunningLister interface {
	RunningActions() ([]picket.ActionRecord, error)
}

// Recover closes the actions a previous process stopped in the middle of
// (status running at start-up), and announces each in the alert's thread.
// The steps it finished are unknown. One that had saved its evidence
// before its first change is marked partial: it keeps its claim and can be
// undone from that evidence. Any other changed nothing yet, and is marked
// failed, which releases its claim. One whose work runs on in AWS and can
// be followed (a patch command whose id was saved, see Follower) is not
// closed but followed again in the background. It returns how many it
// closed. Call it once at start-up, before Slack requests are served; with
// replicas (ServiceOptions.RunnerGone), one replica calls it periodically
// and it closes only the actions of replicas that died.
func (s *Service) Recover(ctx context.Context) int {
	rl, ok := s.o.Actions.(RunningLister)
	if !ok {
		return 0
	}
	recs, err := rl.RunningActions()
	if err != nil {
		s.o.Logger.Warn("list interrupted actions", "err", err)
		return 0
	}
	closed := 0
	for _, rec := range recs {
		if !s.orphaned(rec) {
			continue
		}
		if fo, ok := s.o.Responders[rec.Request.Kind].(Follower); ok && len(rec.Evidence) > 0 && fo.Started(rec.Evidence) {
			// Started in AWS and followable (a patch command): follow it
			// again rather than guess, and never start it a second time.
			frec, _, err := s.o.Findings.Finding(rec.Request.FindingKey)
			if err != nil {
				s.o.Logger.Warn("load finding of a resumed action", "request_id", rec.Request.ID, "err", err)
			}
			if rec.Runner != s.o.Runner {
				// Followed here from now on: while this replica lives,
				// no other resumes it.
				rec.Runner = s.o.Runner
				if err := s.o.Actions.PutAction(rec); err != nil {
					s.o.Logger.Warn("take over a resumed action", "request_id", rec.Request.ID, "err", err)
					continue
				}
			}
			e := entryFor("resumed", picket.Actor{ID: "picket", Name: "Picket"}, rec.Request)
			e.Outcome, e.Detail = string(picket.StatusRunning), "following the started action again after a restart"
			s.audit(e)
			s.startFollow(fo, frec, rec, s.o.Now())
			continue
		}
		closed++
		now := s.o.Now().UTC()
		res := picket.ActionResult{Request: rec.Request, Outcome: picket.OutcomeFailed, Started: rec.Updated, Finished: now,
			Summary:  "Picket stopped while this action was running, so it cannot tell which steps were done.",
			NextStep: "Check the resource in the AWS console (and CloudTrail for the calls), then run the action again if it is still needed."}
		if _, follows := s.o.Responders[rec.Request.Kind].(Follower); follows && len(rec.Evidence) > 0 {
			// Stopped between saving its record and saving the command
			// id: the command may or may not have been sent.
			res.Outcome, res.Evidence = picket.OutcomePartial, rec.Evidence
			res.Summary = "Picket stopped while sending the command, before it saved the command id; the command may or may not have been sent."
			res.NextStep = "Look in Run Command history in the Systems Manager console for a command with the comment \"Picket " + rec.Request.ID + "\" before running it again."
		} else if len(rec.Evidence) > 0 {
			// The state before any change was saved: some steps may have
			// been done, so the action keeps its claim and Undo restores
			// that state.
			res.Outcome, res.Evidence = picket.OutcomePartial, rec.Evidence
			res.Summary = "Picket stopped while this action was running, after it recorded the state before any change; some steps may have been done."
			res.NextStep = "Check the resource in the AWS console (and CloudTrail for the calls). Undo restores the recorded state; run the action again if it is still needed."
		}
		rec.Status, rec.Result, rec.Updated = res.Outcome, &res, now
		if err := s.o.Actions.PutAction(rec); err != nil {
			s.o.Logger.Error("close interrupted action", "request_id", rec.Request.ID, "err", err)
			continue
		}
		e := entryFor("interrupted", picket.Actor{ID: "picket", Name: "Picket"}, rec.Request)
		e.Outcome, e.Detail = string(res.Outcome), res.Summary
		s.audit(e)
		if frec, ok, err := s.o.Findings.Finding(rec.Request.FindingKey); err == nil && ok {
			s.announce(ctx, frec, rec)
		}
	}
	return closed
}

// orphaned reports whether a running record was left by a runner that is
// gone: with one process (RunnerGone nil) every running record found is;
// with replicas, one run by this replica or followed here is not, and one
// whose runner still holds its liveness lease is not.
func (s *Service) orphaned(rec picket.ActionRecord) bool {
	s.mu.Lock()
	followed := s.following[rec.Request.ID]
	s.mu.Unlock()
	switch {
	case followed:
		return false
	case s.o.RunnerGone == nil:
		return true
	case rec.Runner != "" && rec.Runner == s.o.Runner:
		return false
	case rec.Runner == "":
		return true // written by one process before replicas shared the store
	}
	return s.o.RunnerGone(rec.Runner)
}
