package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/picketsec/picket"
)

// Checkpoint saves the evidence an execution recorded before its first
// change, so that Undo can restore the state even when Picket stops before
// the execution ends. An error means the evidence is not safe, and the
// execution must then change nothing.
type Checkpoint func(evidence json.RawMessage) error

// save saves v through c, unless c is nil or the execution is a dry run
// (which changes nothing).
func (c Checkpoint) save(dryRun bool, v any) error {
	if c == nil || dryRun {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode evidence: %w", err)
	}
	return c(b)
}

// CheckpointResponder is a responder whose execution saves its evidence
// through save before its first change. The Service uses ExecuteWith when a
// responder has it.
type CheckpointResponder interface {
	picket.Responder
	ExecuteWith(ctx context.Context, plan picket.Plan, f *picket.Finding, save Checkpoint) picket.ActionResult
}

// steps records the AWS calls of one execution in order. Containment is
// best effort: a failed step does not stop the ones after it unless they
// depend on it (the responder then calls skip), so as much as possible is
// contained and the result says exactly what was and was not done.
type steps struct {
	now    func() time.Time
	dryRun bool
	list   []picket.StepResult
}

// call runs one AWS call as a step. fn returns the output's
// ResultMetadata (for the request id) or the error. In a dry run fn is not
// called and the step is recorded as StepDryRun. It reports whether the
// call succeeded (true in a dry run).
func (s *steps) call(operation, description string, fn func() (middleware.Metadata, error)) bool {
	r := picket.StepResult{Operation: operation, Description: description, At: s.now().UTC()}
	if s.dryRun {
		r.Status = picket.StepDryRun
		s.list = append(s.list, r)
		return true
	}
	md, err := fn()
	if err != nil {
		r.Status = picket.StepFailed
		r.ErrorCode, r.Error = apiError(err)
		r.RequestID = requestIDOfError(err)
		s.list = append(s.list, r)
		return false
	}
	r.Status = picket.StepDone
	r.RequestID, _ = awsmiddleware.GetRequestIDMetadata(md)
	s.list = append(s.list, r)
	return true
}

// skip records a step that was not attempted, and why.
func (s *steps) skip(operation, description, why string) {
	s.list = append(s.list, picket.StepResult{
		Operation: operation, Description: description, Status: picket.StepSkipped,
		Error: why, At: s.now().UTC(),
	})
}

// results returns the recorded steps.
func (s *steps) results() []picket.StepResult { return s.list }

// apiError returns the AWS error code and a short message for err.
func apiError(err error) (code, message string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "Timeout", "the call did not finish in time"
	}
	return "", err.Error()
}

// requestIDOfError returns the AWS request id carried by a failed call.
func requestIDOfError(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.ServiceRequestID()
	}
	return ""
}

// isCode reports whether err is an AWS API error with one of codes.
func isCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

// noteFinding adds a note to the finding in Security Hub (GuardDuty
// findings are there too when Security Hub is on). A finding without a
// product ARN is skipped.
func noteFinding(ctx context.Context, s *steps, sh SecurityHubAPI, f *picket.Finding, text, by string) bool {
	const op = "securityhub:BatchUpdateFindings"
	desc := "Add a note to the finding in Security Hub"
	if sh == nil || f.ProductARN == "" {
		s.skip(op, desc, "the finding is not known to Security Hub")
		return false
	}
	id := f.ID
	if f.ARN != "" {
		id = f.ARN // GuardDuty findings are identified by their ARN in Security Hub
	}
	if len(text) > 512 { // the API's limit on a note
		text = text[:509] + "..."
	}
	return s.call(op, desc, func() (middleware.Metadata, error) {
		out, err := sh.BatchUpdateFindings(ctx, &securityhub.BatchUpdateFindingsInput{
			FindingIdentifiers: []shtypes.AwsSecurityFindingIdentifier{{Id: &id, ProductArn: &f.ProductARN}},
			Note:               &shtypes.NoteUpdate{Text: &text, UpdatedBy: &by},
		})
		if err != nil {
			return middleware.Metadata{}, err
		}
		if len(out.UnprocessedFindings) > 0 {
			u := out.UnprocessedFindings[0]
			return middleware.Metadata{}, &smithy.GenericAPIError{
				Code: deref(u.ErrorCode), Message: fmt.Sprintf("finding not updated: %s", deref(u.ErrorMessage)),
			}
		}
		return out.ResultMetadata, nil
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// begin starts the result of executing plan at now() and returns it with
// the finish that stamps its end. When the plan carries a refusal the
// result is already refused with it, and the caller returns finish().
func begin(plan picket.Plan, now func() time.Time) (res *picket.ActionResult, finish func() picket.ActionResult) {
	res = &picket.ActionResult{Request: plan.Request, Started: now().UTC()}
	if plan.Refusal != "" {
		res.Outcome, res.Summary = picket.OutcomeRefused, plan.Refusal
	}
	return res, func() picket.ActionResult {
		res.Finished = now().UTC()
		return *res
	}
}

// iamForUndo returns the clients for planning the undo of original on the
// IAM entity what ("user" or "role") called name, once read shows that the
// entity still exists. A refusal says why there is nothing to plan; an
// error that IAM could not be read.
func iamForUndo(ctx context.Context, clients ClientsFunc, original picket.ActionRecord, what, name string,
	read func(context.Context, IAMAPI) error) (Clients, string, error) {
	acct := original.Request.Account
	c, err := clients(ctx, acct, original.Request.Region)
	if err != nil {
		return Clients{}, "", fmt.Errorf("undo %s of %s: %w", original.Request.Kind, name, err)
	}
	if c.IAM == nil {
		return Clients{}, fmt.Sprintf("Picket has no IAM access in account %s.", acct), nil
	}
	if err := read(ctx, c.IAM); err != nil {
		if isCode(err, "NoSuchEntity") {
			return Clients{}, fmt.Sprintf("IAM %s %s no longer exists in account %s, so there is nothing to restore.", what, name, acct), nil
		}
		code, _ := apiError(err)
		return Clients{}, "", &picket.Error{Code: picket.EUNAVAILABLE, Err: fmt.Errorf("get %s %s: %w", what, name, err),
			Message: fmt.Sprintf("Picket could not read IAM %s %s in account %s (%s), so it cannot plan the undo.", what, name, acct, orUnknownCode(code))}
	}
	return c, "", nil
}
