package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/smithy-go/middleware"

	"github.com/picketsec/picket"
)

// Fix runs the fix button of one kind on a failed Security Hub control
// finding: it implements picket.Responder, CheckpointResponder and Undoer.
// The work is shared: the runbook of the kind (fix_s3.go, fix_sg.go,
// fix_ebs.go) says what it reads, what it changes and how that is undone;
// Fix finds the control the finding reports (picket.Fixes), checks the
// guardrails, records the state before the first change, runs the change,
// notes the finding and words the result.
type Fix struct {
	Kind    picket.ActionKind
	Clients ClientsFunc
	Guard   Guardrails
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// runbook is one fix: the state it reads, the change it makes and its
// undo. A runbook value is also its own evidence (it is saved as JSON), so
// Undo works from exactly what was recorded.
type runbook interface {
	// missing names the client the runbook needs that c lacks, or "".
	missing(c Clients) string
	// inspect reads the state the fix changes (each call through read)
	// and checks the guardrails; refusal says why Picket must not act.
	inspect(ctx context.Context, c Clients, read readFunc, g *Guardrails) (refusal string, err error)
	// plan lists the writes apply makes, and says what Undo restores.
	plan() (steps []picket.PlanStep, undo string)
	// intend marks every change apply sets out to make as made, for the
	// evidence saved before the first change.
	intend()
	// apply makes the change, each call a step.
	apply(ctx context.Context, c Clients, st *steps)
	// changed reports whether apply changed anything.
	changed() bool
	// doing says what the fix does ("turn on ... for bucket logs"); done
	// says in a sentence what it did, from the recorded state.
	doing() string
	done() string
	// undoPlan lists the writes revert makes.
	undoPlan() []picket.PlanStep
	// revert undoes what apply changed; it reports whether every change
	// was undone.
	revert(ctx context.Context, c Clients, st *steps) bool
	// undoing says what Undo does; undone what it did.
	undoing() string
	undone() string
}

// FixEvidence is what a fix recorded: the control, the finding, and the
// state of the resource before the change with what was changed. Exactly
// one of the runbook fields is set.
type FixEvidence struct {
	Kind    picket.ActionKind `json:"kind"`
	Control string            `json:"control"`
	Account string            `json:"account"`
	Region  string            `json:"region"`
	Finding FindingRef        `json:"finding"`
	// Intended marks evidence saved before the first change: the change
	// fields say what the fix set out to do, and Undo restores all of it.
	Intended bool `json:"intended,omitempty"`

	Bucket        *bucketFix  `json:"bucket,omitempty"`
	AccountBPA    *accountFix `json:"account_public_access,omitempty"`
	SecurityGroup *sgFix      `json:"security_group,omitempty"`
	EBS           *ebsFix     `json:"ebs,omitempty"`
}

// newEvidence starts the evidence of a fix with the runbook of its kind.
func newEvidence(req picket.ActionRequest, x picket.Fix) (*FixEvidence, error) {
	ev := &FixEvidence{Kind: x.Kind, Control: x.Control, Account: req.Account, Region: regionOf(x.Target, req.Region)}
	switch x.Kind {
	case picket.ActionFixBucketPublicAccess:
		ev.Bucket = &bucketFix{Bucket: x.Target.ID, ARN: x.Target.ARN, Account: req.Account}
	case picket.ActionFixAccountPublicAccess:
		ev.AccountBPA = &accountFix{Account: req.Account}
	case picket.ActionFixSecurityGroup:
		ev.SecurityGroup = &sgFix{GroupID: x.Target.ID, ARN: x.Target.ARN, Account: req.Account, Region: ev.Region,
			Ports: x.Ports, Protocols: x.Protocols, IPv4: x.IPv4, IPv6: x.IPv6}
	case picket.ActionFixEBSEncryption:
		ev.EBS = &ebsFix{Account: req.Account, Region: ev.Region}
	default:
		return nil, fmt.Errorf("no fix runbook for %s", x.Kind)
	}
	return ev, nil
}

// runbook returns the runbook the evidence holds, or nil.
func (e *FixEvidence) runbook() runbook {
	switch {
	case e.Bucket != nil:
		return e.Bucket
	case e.AccountBPA != nil:
		return e.AccountBPA
	case e.SecurityGroup != nil:
		return e.SecurityGroup
	case e.EBS != nil:
		return e.EBS
	}
	return nil
}

func regionOf(t picket.Resource, region string) string {
	if t.Region != "" {
		return t.Region
	}
	return region
}

func (x *Fix) now() time.Time {
	if x.Now == nil {
		return time.Now()
	}
	return x.Now()
}

// fixOf finds the fix of x's kind the finding offers for req's target.
func (x *Fix) fixOf(req picket.ActionRequest, f *picket.Finding) (picket.Fix, string) {
	if req.Kind != x.Kind {
		return picket.Fix{}, fmt.Sprintf("Picket cannot run %s as %s.", req.Kind.Label(), x.Kind.Label())
	}
	fx, ok := picket.FixFor(f, x.Kind, req.Target.ID)
	if !ok {
		return picket.Fix{}, "This finding is not a failed Security Hub control that " + strings.TrimPrefix(x.Kind.Label(), "Fix: ") +
			" answers (or it has passed or been closed since), so Picket will not change anything."
	}
	return fx, ""
}

// clients returns the clients for account and region, or why not.
func (x *Fix) clients(ctx context.Context, rb runbook, account, region string) (Clients, error) {
	c, err := x.Clients(ctx, account, region)
	if err != nil {
		return Clients{}, err
	}
	if m := rb.missing(c); m != "" {
		return Clients{}, picket.Errorf(picket.EUNAVAILABLE, "Picket has no %s access in account %s.", m, account)
	}
	return c, nil
}

// Plan implements picket.Responder: it reads the current state (read-only
// calls), checks the guardrails and lists exactly the writes Execute makes.
func (x *Fix) Plan(ctx context.Context, req picket.ActionRequest, f *picket.Finding) (picket.Plan, error) {
	plan := picket.Plan{Request: req}
	fx, refusal := x.fixOf(req, f)
	if refusal != "" {
		plan.Refusal = refusal
		return plan, nil
	}
	ev, err := newEvidence(req, fx)
	if err != nil {
		return picket.Plan{}, err
	}
	rb := ev.runbook()
	c, err := x.clients(ctx, rb, req.Account, ev.Region)
	if err != nil {
		if picket.ErrorCode(err) == picket.EUNAVAILABLE {
			plan.Refusal = picket.ErrorMessage(err)
			return plan, nil
		}
		return picket.Plan{}, fmt.Errorf("%s: %w", x.Kind, err)
	}
	direct := func(_, _ string, fn func() (middleware.Metadata, error)) error {
		_, err := fn()
		return err
	}
	refusal, err = rb.inspect(ctx, c, direct, &x.Guard)
	if err != nil {
		code, _ := apiError(err)
		return picket.Plan{}, &picket.Error{Code: picket.EUNAVAILABLE, Err: err,
			Message: fmt.Sprintf("Picket could not read the current state in account %s (%s), so it cannot plan to %s.", req.Account, orUnknownCode(code), rb.doing())}
	}
	if refusal != "" {
		plan.Refusal = refusal
		return plan, nil
	}
	steps, undo := rb.plan()
	plan.Steps = append(plan.Steps, steps...)
	if f != nil && f.ProductARN != "" && c.SecurityHub != nil {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: "securityhub:BatchUpdateFindings",
			Description: "Add a note to the finding in Security Hub saying what was fixed (control " + fx.Control + ")."})
	}
	plan.Undo = undo
	return plan, nil
}

// Execute implements picket.Responder.
func (x *Fix) Execute(ctx context.Context, plan picket.Plan, f *picket.Finding) picket.ActionResult {
	return x.ExecuteWith(ctx, plan, f, nil)
}

// ExecuteWith implements CheckpointResponder: it reads the state again,
// checks the guardrails with what it read, saves the evidence through save
// and only then makes the change. A dry run makes only the reads.
func (x *Fix) ExecuteWith(ctx context.Context, plan picket.Plan, f *picket.Finding, save Checkpoint) picket.ActionResult {
	req := plan.Request
	res, finish := begin(plan, x.now)
	if plan.Refusal != "" {
		return finish()
	}
	fx, refusal := x.fixOf(req, f)
	if refusal != "" {
		res.Outcome, res.Summary = picket.OutcomeRefused, refusal
		return finish()
	}
	ev, err := newEvidence(req, fx)
	if err != nil {
		res.Outcome, res.Summary = picket.OutcomeFailed, "Picket has no runbook for this fix; nothing was changed."
		return finish()
	}
	ev.Finding = refOf(f)
	rb := ev.runbook()
	reads := &steps{now: x.now}
	writes := &steps{now: x.now, dryRun: req.DryRun}
	c, err := x.clients(ctx, rb, req.Account, ev.Region)
	if err != nil {
		recordFailure(writes, "sts:AssumeRole", "Reach account "+req.Account, err)
		res.Steps, res.Outcome = writes.results(), picket.OutcomeFailed
		res.Summary = fmt.Sprintf("Picket could not reach account %s (%s), so it did not %s.", req.Account, picket.ErrorMessage(err), rb.doing())
		res.NextStep = "Check Picket's access to account " + req.Account + ", or make the change by hand."
		return finish()
	}
	recorded := func(op, desc string, fn func() (middleware.Metadata, error)) error {
		var callErr error
		reads.call(op, desc, func() (middleware.Metadata, error) {
			md, err := fn()
			callErr = err
			return md, err
		})
		return callErr
	}
	refusal, err = rb.inspect(ctx, c, recorded, &x.Guard)
	if err != nil {
		res.Outcome, res.Steps = picket.OutcomeFailed, reads.results()
		res.Summary = fmt.Sprintf("Picket could not read the current state, so it changed nothing (it was to %s).", rb.doing())
		res.NextStep = "Check that Picket's role may make the read calls listed, or make the change by hand."
		return finish()
	}
	if refusal != "" {
		res.Steps, res.Outcome, res.Summary = reads.results(), picket.OutcomeRefused, refusal
		return finish()
	}

	// The state goes to the store before the first change, so that Undo
	// can restore it even if Picket stops right after the change.
	if save != nil && !req.DryRun {
		intended, err := ev.clone()
		if err == nil {
			intended.Intended = true
			intended.runbook().intend()
			err = save.save(false, intended)
		}
		if err != nil {
			res.Outcome, res.Steps = picket.OutcomeFailed, reads.results()
			res.Summary = "Picket could not save the state before changing it, so it changed nothing."
			res.NextStep = "Check the bot's data volume and try again."
			return finish()
		}
	}

	rb.apply(ctx, c, writes)
	if f != nil {
		note := fmt.Sprintf("Picket fixed control %s (case %s) at the request of %s: %s", fx.Control, req.ID, nameOf(req.Actor), rb.done())
		if !rb.changed() {
			note = fmt.Sprintf("Picket tried to fix control %s (case %s) at the request of %s and changed nothing: %s", fx.Control, req.ID, nameOf(req.Actor), failedList(writes.results()))
		}
		noteFinding(ctx, writes, c.SecurityHub, f, note, "Picket")
	}
	res.Evidence, _ = json.Marshal(ev)
	res.Steps = append(slices.Clone(reads.results()), writes.results()...)
	res.Outcome = picket.OutcomeOf(writes.results())
	if len(writes.results()) == 0 {
		res.Outcome = picket.OutcomeFailed
	}
	if res.Outcome == picket.OutcomePartial && !rb.changed() {
		// Only the note went through: the fix itself did nothing.
		res.Outcome = picket.OutcomeFailed
	}
	res.Summary, res.NextStep = fixSummary(rb, res.Outcome, writes.results())
	return finish()
}

// clone copies the evidence through JSON.
func (e *FixEvidence) clone() (*FixEvidence, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode evidence: %w", err)
	}
	var out FixEvidence
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode evidence: %w", err)
	}
	return &out, nil
}

// fixSummary words the result of a fix, telling the truth about every
// step that failed.
func fixSummary(rb runbook, outcome picket.ActionOutcome, st []picket.StepResult) (summary, next string) {
	switch outcome {
	case picket.OutcomeDryRunned:
		return "Dry run: Picket would " + rb.doing() + "; nothing was changed.", ""
	case picket.OutcomeSucceeded:
		return rb.done(), "Check that nothing that needed the old setting broke; Undo restores it."
	case picket.OutcomePartial:
		return rb.done() + " Not done: " + failedList(st) + ".",
			"Finish the rest by hand, or grant the Picket role the permission named and run the fix again; Undo restores what was changed."
	}
	return "Picket could not " + rb.doing() + "; failed: " + failedList(st) + ". Nothing was changed.",
		"Make the change by hand, or grant the Picket role the permission named and try again."
}

// fixEvidence decodes the evidence of a fix that can be undone, or says
// why it cannot.
func fixEvidence(rec picket.ActionRecord) (*FixEvidence, runbook, string) {
	if !rec.Request.Kind.IsFix() {
		return nil, nil, "That action is not a fix."
	}
	if rec.Result == nil {
		return nil, nil, "That fix has not run, so there is nothing to undo."
	}
	switch rec.Result.Outcome {
	case picket.OutcomeSucceeded, picket.OutcomePartial:
	default:
		return nil, nil, fmt.Sprintf("That fix ended %s and changed nothing, so there is nothing to undo.", strings.ReplaceAll(string(rec.Result.Outcome), "_", " "))
	}
	var ev FixEvidence
	if err := json.Unmarshal(rec.Result.Evidence, &ev); err != nil || ev.runbook() == nil || ev.Kind != rec.Request.Kind {
		return nil, nil, "Picket has no readable record of the state before the fix, so it cannot undo it."
	}
	rb := ev.runbook()
	if !rb.changed() {
		return nil, nil, "That fix changed nothing, so there is nothing to undo."
	}
	return &ev, rb, ""
}

// PlanUndo implements Undoer: it plans restoring the recorded state. It
// makes no calls but reaching the account.
func (x *Fix) PlanUndo(ctx context.Context, original picket.ActionRecord, req picket.ActionRequest) (picket.Plan, error) {
	plan := picket.Plan{Request: req}
	ev, rb, refusal := fixEvidence(original)
	if refusal != "" {
		plan.Refusal = refusal
		return plan, nil
	}
	c, err := x.clients(ctx, rb, ev.Account, ev.Region)
	if err != nil {
		if picket.ErrorCode(err) == picket.EUNAVAILABLE {
			plan.Refusal = picket.ErrorMessage(err)
			return plan, nil
		}
		return picket.Plan{}, fmt.Errorf("undo %s: %w", original.Request.Kind, err)
	}
	plan.Steps = rb.undoPlan()
	if ev.Finding.ProductARN != "" && c.SecurityHub != nil {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: "securityhub:BatchUpdateFindings", Description: "Add a note to the finding in Security Hub."})
	}
	plan.Undo = "This will " + rb.undoing() + "."
	return plan, nil
}

// ExecuteUndo implements Undoer.
func (x *Fix) ExecuteUndo(ctx context.Context, plan picket.Plan, original picket.ActionRecord) picket.ActionResult {
	req := plan.Request
	res, finish := begin(plan, x.now)
	if plan.Refusal != "" {
		return finish()
	}
	ev, rb, refusal := fixEvidence(original)
	if refusal != "" {
		res.Outcome, res.Summary = picket.OutcomeRefused, refusal
		return finish()
	}
	st := &steps{now: x.now, dryRun: req.DryRun}
	c, err := x.clients(ctx, rb, ev.Account, ev.Region)
	if err != nil {
		recordFailure(st, "sts:AssumeRole", "Reach account "+ev.Account, err)
		res.Steps, res.Outcome = st.results(), picket.OutcomeFailed
		res.Summary = fmt.Sprintf("Picket could not reach account %s, so it restored nothing (it was to %s).", ev.Account, rb.undoing())
		res.NextStep = "Check Picket's access to the account and try Undo again."
		return finish()
	}
	all := rb.revert(ctx, c, st)
	if ev.Finding.ProductARN != "" {
		note := fmt.Sprintf("Picket undid the fix of control %s (case %s) at the request of %s: %s", ev.Control, original.Request.ID, nameOf(req.Actor), rb.undone())
		noteFinding(ctx, st, c.SecurityHub, ev.Finding.finding(), note, "Picket")
	}
	res.Steps = st.results()
	res.Outcome = picket.OutcomeOf(res.Steps)
	res.Evidence = original.Result.Evidence
	switch {
	case res.Outcome == picket.OutcomeDryRunned:
		res.Summary = "Dry run: Picket would " + rb.undoing() + "; nothing was changed."
	case res.Outcome == picket.OutcomeSucceeded:
		res.Summary = rb.undone()
		res.NextStep = "The control will fail again in Security Hub until the setting is fixed another way."
	case res.Outcome == picket.OutcomePartial && all:
		res.Summary = rb.undone() + " The finding could not be noted (" + failedList(res.Steps) + ")."
	case res.Outcome == picket.OutcomePartial:
		res.Summary = rb.undone() + " Not restored: " + failedList(res.Steps) + "."
		res.NextStep = "Restore the rest by hand, or grant the Picket role the permission named and try Undo again."
	default:
		res.Summary = "Picket could not " + rb.undoing() + "; failed: " + failedList(res.Steps) + "."
		res.NextStep = "Restore it by hand, or grant the Picket role the permission named and try Undo again."
	}
	return finish()
}

// onOff words a Block Public Access setting.
func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
