package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/accessanalyzer"
	aatypes "github.com/aws/aws-sdk-go-v2/service/accessanalyzer/types"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/picketsec/picket"
)

// restore puts one finding back in the state it had before Suppress: it
// unarchives it in GuardDuty or IAM Access Analyzer, or sets its Security
// Hub workflow status back (NEW when it was not known), with note.
func (s *Suppress) restore(ctx context.Context, st *steps, c Clients, err error, r picket.RemoteRule, note string) {
	switch r.Kind {
	case RemoteGuardDutyArchive:
		const op = "guardduty:UnarchiveFindings"
		desc := fmt.Sprintf("Unarchive GuardDuty finding %s", r.ID)
		if err == nil && c.GuardDuty == nil {
			err = picket.Errorf(picket.EUNAVAILABLE, "Picket has no GuardDuty access in account %s, region %s.", r.Account, r.Region)
		}
		det := r.DetectorID
		if err == nil && det == "" {
			det, err = s.detector(ctx, c.GuardDuty)
		}
		if err != nil {
			addFailedStep(st, op, desc, err)
			return
		}
		st.call(op, desc, func() (middleware.Metadata, error) {
			out, err := c.GuardDuty.UnarchiveFindings(ctx, &guardduty.UnarchiveFindingsInput{DetectorId: aws.String(det), FindingIds: []string{r.ID}})
			return resultMetadata(out, err, func() middleware.Metadata { return out.ResultMetadata })
		})
	case RemoteAccessAnalyzerArchive:
		const op = "access-analyzer:UpdateFindings"
		desc := fmt.Sprintf("Set IAM Access Analyzer finding %s back to ACTIVE", r.ID)
		if err == nil && c.AccessAnalyzer == nil {
			err = picket.Errorf(picket.EUNAVAILABLE, "Picket has no IAM Access Analyzer access in account %s, region %s.", r.Account, r.Region)
		}
		if err != nil {
			addFailedStep(st, op, desc, err)
			return
		}
		st.call(op, desc, func() (middleware.Metadata, error) {
			out, err := c.AccessAnalyzer.UpdateFindings(ctx, &accessanalyzer.UpdateFindingsInput{
				AnalyzerArn: aws.String(r.Analyzer), Ids: []string{r.ID}, Status: aatypes.FindingStatusUpdateActive,
			})
			return resultMetadata(out, err, func() middleware.Metadata { return out.ResultMetadata })
		})
	case RemoteSecurityHubWorkflow:
		const op = "securityhub:BatchUpdateFindings"
		status := r.Status
		if status == "" {
			status = string(shtypes.WorkflowStatusNew)
		}
		desc := "Set the finding's workflow status in Security Hub back to " + status + ", with a note"
		if err == nil && c.SecurityHub == nil {
			err = picket.Errorf(picket.EUNAVAILABLE, "Picket has no Security Hub access in account %s, region %s.", r.Account, r.Region)
		}
		if err != nil {
			addFailedStep(st, op, desc, err)
			return
		}
		st.call(op, desc, func() (middleware.Metadata, error) {
			out, err := c.SecurityHub.BatchUpdateFindings(ctx, &securityhub.BatchUpdateFindingsInput{
				FindingIdentifiers: []shtypes.AwsSecurityFindingIdentifier{{Id: aws.String(r.ID), ProductArn: aws.String(r.ProductARN)}},
				Workflow:           &shtypes.WorkflowUpdate{Status: shtypes.WorkflowStatus(status)},
				Note:               &shtypes.NoteUpdate{Text: aws.String(clipText(note, 512)), UpdatedBy: aws.String("Picket")},
			})
			if err != nil {
				return middleware.Metadata{}, err
			}
			if len(out.UnprocessedFindings) > 0 {
				u := out.UnprocessedFindings[0]
				return middleware.Metadata{}, &smithy.GenericAPIError{Code: aws.ToString(u.ErrorCode),
					Message: "finding not updated: " + aws.ToString(u.ErrorMessage)}
			}
			return out.ResultMetadata, nil
		})
	}
}

// suppressionOf returns the suppression a Suppress record created, from
// its evidence.
func suppressionOf(rec picket.ActionRecord) (*picket.Suppression, bool) {
	ev := rec.Evidence
	if rec.Result != nil && len(rec.Result.Evidence) > 0 {
		ev = rec.Result.Evidence
	}
	var se SuppressionEvidence
	if json.Unmarshal(ev, &se) != nil || se.Suppression == nil {
		return nil, false
	}
	return se.Suppression, true
}

// undoRules are what Undo reverses, in order: the rules first (so no new
// finding is suppressed), then the finding itself.
func undoRules(sup *picket.Suppression) []picket.RemoteRule {
	return append(slices.Clone(sup.Remote), sup.Suppressed...)
}

// undoStep describes one reversal for a plan.
func undoStep(r picket.RemoteRule) picket.PlanStep {
	switch r.Kind {
	case RemoteGuardDutyFilter:
		return picket.PlanStep{Operation: "guardduty:DeleteFilter", Description: fmt.Sprintf("Delete GuardDuty filter %s in account %s, %s.", r.ID, r.Account, r.Region)}
	case RemoteSecurityHubAutomation:
		return picket.PlanStep{Operation: "securityhub:BatchDeleteAutomationRules", Description: fmt.Sprintf("Delete Security Hub automation rule %s.", r.ID)}
	case RemoteGuardDutyArchive:
		return picket.PlanStep{Operation: "guardduty:UnarchiveFindings", Description: fmt.Sprintf("Unarchive GuardDuty finding %s.", r.ID)}
	case RemoteAccessAnalyzerArchive:
		return picket.PlanStep{Operation: "access-analyzer:UpdateFindings", Description: fmt.Sprintf("Set IAM Access Analyzer finding %s back to ACTIVE.", r.ID)}
	case RemoteSecurityHubWorkflow:
		status := r.Status
		if status == "" {
			status = "NEW"
		}
		return picket.PlanStep{Operation: "securityhub:BatchUpdateFindings", Description: "Set the finding's workflow status in Security Hub back to " + status + ", with a note."}
	}
	return picket.PlanStep{Operation: "picket:Lift", Description: "Remove " + r.Kind + " " + r.ID + "."}
}

// PlanUndo implements Undoer: it lists the rules Suppress created and the
// finding states it changed, from its evidence. It makes no AWS calls.
func (s *Suppress) PlanUndo(ctx context.Context, original picket.ActionRecord, req picket.ActionRequest) (picket.Plan, error) {
	plan := picket.Plan{Request: req}
	sup, ok := suppressionOf(original)
	if !ok {
		plan.Refusal = "Picket has no record of what this suppression changed, so it cannot undo it. Set the finding's status back by hand in the console."
		return plan, nil
	}
	for _, r := range undoRules(sup) {
		plan.Steps = append(plan.Steps, undoStep(r))
	}
	if len(plan.Steps) == 0 {
		plan.Details = []string{"The suppression changed nothing in AWS; undoing it only lifts Picket's own rule."}
	}
	return plan, nil
}

// ExecuteUndo implements Undoer: it deletes the rules and restores the
// finding. A rule already gone counts as deleted. The Service lifts
// Picket's own rule when every step succeeded.
func (s *Suppress) ExecuteUndo(ctx context.Context, plan picket.Plan, original picket.ActionRecord) picket.ActionResult {
	req := plan.Request
	res := picket.ActionResult{Request: req, Started: s.now().UTC()}
	sup, ok := suppressionOf(original)
	if !ok || plan.Refusal != "" {
		res.Outcome, res.Summary, res.Finished = picket.OutcomeRefused, plan.Refusal, s.now().UTC()
		return res
	}
	note := fmt.Sprintf("Suppression by Picket (case %s) undone by %s (%s), case %s.", original.Request.ID, nameOf(req.Actor), req.Actor.ID, req.ID)
	res.Steps = s.lift(ctx, undoRules(sup), req.DryRun, note)
	res.Outcome = picket.OutcomeOf(res.Steps)
	what := "the suppression of the finding"
	if original.Request.Similar {
		what = "the suppression of this finding and similar ones"
	}
	switch res.Outcome {
	case picket.OutcomeDryRunned:
		res.Summary = fmt.Sprintf("Dry run: Picket would undo %s with %d steps; nothing was changed.", what, len(res.Steps))
	case picket.OutcomeSucceeded:
		res.Summary = fmt.Sprintf("Picket undid %s: matching findings are posted again.", what)
		if len(res.Steps) == 0 {
			res.Summary = fmt.Sprintf("Picket undid %s (it had changed nothing in AWS).", what)
		}
	case picket.OutcomeFailed:
		res.Summary = fmt.Sprintf("Picket could not undo %s (%s); it stays in force.", what, failedCalls(res.Steps))
		res.NextStep = "Grant Picket's role the permissions named and undo again, or remove the suppression by hand in the console."
	default:
		res.Summary = fmt.Sprintf("Picket undid %s only in part: %d steps done, %d failed (%s). Picket's own rule stays in force until its expiry, when it retries.",
			what, countSteps(res.Steps, picket.StepDone), countSteps(res.Steps, picket.StepFailed), failedCalls(res.Steps))
		res.NextStep = "Finish the failed steps by hand in the console, or grant Picket's role the permissions named."
	}
	res.Finished = s.now().UTC()
	return res
}
