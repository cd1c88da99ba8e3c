package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/picketsec/picket"
)

// PatchDocument is the Systems Manager document Patch instance runs.
const PatchDocument = "AWS-RunPatchBaseline"

// Reboot options of AWS-RunPatchBaseline.
const (
	RebootIfNeeded = "RebootIfNeeded"
	NoReboot       = "NoReboot"
)

// Defaults of Patch.
const (
	// DefaultPatchFollowFor bounds how long Picket follows a patch command
	// from the moment it was sent: AWS-RunPatchBaseline's own execution
	// timeout is two hours, plus time for the agent to pick it up.
	DefaultPatchFollowFor = 2*time.Hour + 15*time.Minute
	// DefaultPatchPollMin and DefaultPatchPollMax bound the wait between
	// two GetCommandInvocation calls; it doubles from the first to the
	// second.
	DefaultPatchPollMin = 5 * time.Second
	DefaultPatchPollMax = time.Minute
)

// maxPatchOutput bounds the output tail kept in a result (Slack shows a
// section of at most 3,000 characters).
const maxPatchOutput = 2500

// Patch installs the missing patches of an EC2 instance that an Amazon
// Inspector package-vulnerability finding names, with Systems Manager Run
// Command and the document AWS-RunPatchBaseline (Operation=Install, an
// explicit RebootOption). It implements picket.Responder,
// CheckpointResponder and Follower.
//
// Plan reads the instance (ec2:DescribeInstances, for the protected
// guardrail and its state) and its Systems Manager state
// (ssm:DescribeInstanceInformation), and refuses an instance that is not
// managed or whose agent is not Online. Execute checks the state again,
// sends the command and saves its CommandId before following it, so a
// restart resumes following instead of sending it again. Follow polls
// ssm:GetCommandInvocation with a growing wait until the command ends or
// FollowFor has passed since it was sent, and keeps the tail of its
// output. Patching has no undo.
type Patch struct {
	Clients ClientsFunc
	Guard   Guardrails
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Sleep waits d or until ctx is done; a timer when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// FollowFor, PollMin and PollMax default to DefaultPatchFollowFor,
	// DefaultPatchPollMin and DefaultPatchPollMax.
	FollowFor        time.Duration
	PollMin, PollMax time.Duration
}

// PatchEvidence is what Patch recorded: the instance and, once sent, the
// command. It is saved before the command is sent (CommandID empty: a
// command may have been sent) and again with the CommandID before Picket
// waits for it.
type PatchEvidence struct {
	InstanceID   string                  `json:"instance_id"`
	Managed      *picket.ManagedInstance `json:"managed,omitempty"`
	RebootOption string                  `json:"reboot_option"`
	Packages     []picket.PackageFix     `json:"packages,omitempty"`
	CommandID    string                  `json:"command_id,omitempty"`
	// SendRequestID is the AWS request id of ssm:SendCommand.
	SendRequestID string    `json:"send_request_id,omitempty"`
	SentAt        time.Time `json:"sent_at,omitzero"`
}

func (p *Patch) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Patch) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func rebootOption(req picket.ActionRequest) string {
	if req.NoReboot {
		return NoReboot
	}
	return RebootIfNeeded
}

// managed asks Systems Manager about the instance.
func managedInstance(ctx context.Context, c SSMAPI, id string) (*picket.ManagedInstance, error) {
	out, err := c.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("InstanceIds"), Values: []string{id}}},
	})
	if err != nil {
		return nil, fmt.Errorf("describe instance information %s: %w", id, err)
	}
	m := &picket.ManagedInstance{InstanceID: id}
	for _, ii := range out.InstanceInformationList {
		if aws.ToString(ii.InstanceId) != id {
			continue
		}
		m.Managed, m.PingStatus = true, string(ii.PingStatus)
		m.Platform = strings.TrimSpace(aws.ToString(ii.PlatformName) + " " + aws.ToString(ii.PlatformVersion))
		m.AgentVersion = aws.ToString(ii.AgentVersion)
	}
	return m, nil
}

// ManagedInstance implements the lookup enrichment uses: what Systems
// Manager knows of instance id in account and region.
func (p *Patch) ManagedInstance(ctx context.Context, account, region, id string) (*picket.ManagedInstance, error) {
	c, err := p.Clients(ctx, account, region)
	if err != nil {
		return nil, err
	}
	if c.SSM == nil {
		return nil, picket.Errorf(picket.EUNAVAILABLE, "Picket has no Systems Manager access in account %s, region %s.", account, region)
	}
	return managedInstance(ctx, c.SSM, id)
}

// check reads the instance and its Systems Manager state and returns why
// Patch must not run, or "".
func (p *Patch) check(ctx context.Context, c Clients, id string) (*picket.ManagedInstance, string, error) {
	if c.SSM == nil {
		return nil, "Picket has no Systems Manager access in this account and region, so it cannot patch the instance.", nil
	}
	if c.EC2 == nil {
		return nil, "Picket has no EC2 access in this account and region, so it cannot check that the instance is not protected.", nil
	}
	out, err := c.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		if isCode(err, "InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed") {
			return nil, fmt.Sprintf("Instance %s was not found; it may have been terminated.", id), nil
		}
		return nil, "", &picket.Error{Code: picket.EUNAVAILABLE, Err: fmt.Errorf("describe instance %s: %w", id, err),
			Message: "Picket could not read the instance (ec2:DescribeInstances failed), so it did not plan the patch. Try again; if it persists, check Picket's permissions."}
	}
	found := false
	for _, r := range out.Reservations {
		for _, inst := range r.Instances {
			if aws.ToString(inst.InstanceId) != id {
				continue
			}
			found = true
			tags := map[string]string{}
			for _, t := range inst.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			if reason, protected := p.Guard.InstanceProtected(id, tags["Name"], tags); protected {
				return nil, reason, nil
			}
			if inst.State != nil && inst.State.Name != "running" {
				return nil, fmt.Sprintf("Instance %s is %s; only a running instance can be patched.", id, inst.State.Name), nil
			}
		}
	}
	if !found {
		return nil, fmt.Sprintf("Instance %s was not found; it may have been terminated.", id), nil
	}
	m, err := managedInstance(ctx, c.SSM, id)
	if err != nil {
		return nil, "", &picket.Error{Code: picket.EUNAVAILABLE, Err: err,
			Message: "Picket could not ask Systems Manager about the instance (ssm:DescribeInstanceInformation failed), so it did not plan the patch. Try again; if it persists, check Picket's permissions."}
	}
	if b := m.PatchBlocker(); b != "" {
		return m, "Patch unavailable: " + b + ". Patch it by hand, or register it with Systems Manager and try again.", nil
	}
	return m, "", nil
}

// patchDetails are the plan's lines about what the patch fixes and does.
func patchDetails(f *picket.Finding, m *picket.ManagedInstance, reboot string) []string {
	var out []string
	for _, pk := range picket.PatchablePackages(f) {
		line := "Package " + pk.Name
		if pk.Version != "" {
			line += " " + pk.Version + " installed"
		}
		if pk.FixedIn != "" {
			line += ", fixed in " + pk.FixedIn
		}
		if len(pk.Vulnerabilities) > 0 {
			line += " (" + strings.Join(pk.Vulnerabilities, ", ") + ")"
		}
		out = append(out, line)
	}
	if m != nil {
		line := "Systems Manager: instance " + m.InstanceID + " is managed, agent " + m.PingStatus
		if m.Platform != "" {
			line += ", " + m.Platform
		}
		out = append(out, line)
	}
	switch reboot {
	case NoReboot:
		out = append(out, "Reboot: no. Patches that need a reboot stay pending until the instance restarts, and the instance may remain vulnerable until then.")
	default:
		out = append(out, "Reboot: only if a patch needs it (RebootIfNeeded); choose \"Do not reboot\" below to avoid one.")
	}
	out = append(out, "Patch Manager installs every patch the instance's patch baseline approves, not only these packages. There is no undo: Picket cannot uninstall patches (restore from a snapshot or AMI if one breaks the instance).")
	return out
}

// findingRefusal says why the finding, as it is now, gives Patch nothing
// to do on req's instance, or "": it is closed (Inspector no longer sees
// the vulnerability, or a person resolved or suppressed it), or it no
// longer names an OS package with a fix on that instance. Plan and Execute
// both check it: a run can come long after the plan (an approval, the Run
// button of a rule's notice).
func findingRefusal(req picket.ActionRequest, f *picket.Finding) string {
	t, ok := f.PatchTarget()
	switch {
	case f.Closed():
		return "This finding is closed (archived, resolved, suppressed or passed), so Picket will not patch for it."
	case !ok:
		return "This finding reports no operating-system package with a fix on an EC2 instance, so there is nothing for Patch Manager to install."
	case t.ID != req.Target.ID:
		return "This finding no longer names instance " + req.Target.ID + ", so Picket will not patch it."
	}
	return ""
}

// Plan implements picket.Responder.
func (p *Patch) Plan(ctx context.Context, req picket.ActionRequest, f *picket.Finding) (picket.Plan, error) {
	plan := picket.Plan{Request: req}
	if r := findingRefusal(req, f); r != "" {
		plan.Refusal = r
		return plan, nil
	}
	c, err := p.Clients(ctx, req.Account, req.Region)
	if err != nil {
		return picket.Plan{}, fmt.Errorf("patch %s: %w", req.Target.ID, err)
	}
	m, refusal, err := p.check(ctx, c, req.Target.ID)
	if err != nil {
		return picket.Plan{}, err
	}
	plan.Details = patchDetails(f, m, rebootOption(req))
	if refusal != "" {
		plan.Refusal = refusal
		return plan, nil
	}
	plan.Steps = []picket.PlanStep{
		{Operation: "ssm:SendCommand", Description: fmt.Sprintf("Run %s on instance %s with Operation=Install and RebootOption=%s (your choice below).", PatchDocument, req.Target.ID, rebootOption(req))},
		{Operation: "ssm:GetCommandInvocation", Description: "Follow the command to its end and report its outcome and output in the alert's thread."},
	}
	return plan, nil
}

// Execute implements picket.Responder (without a checkpoint, a restart
// cannot resume following).
func (p *Patch) Execute(ctx context.Context, plan picket.Plan, f *picket.Finding) picket.ActionResult {
	res := p.ExecuteWith(ctx, plan, f, nil)
	if res.Outcome != picket.StatusRunning {
		return res
	}
	return p.Follow(ctx, picket.ActionRecord{Request: plan.Request, Plan: plan, Evidence: res.Evidence, Result: &res})
}

// ExecuteWith implements CheckpointResponder: it sends the command and
// returns a result with Outcome picket.StatusRunning and the CommandID in
// its evidence, saved through save before it returns. The Service then
// follows the command (Follow).
func (p *Patch) ExecuteWith(ctx context.Context, plan picket.Plan, f *picket.Finding, save Checkpoint) picket.ActionResult {
	req := plan.Request
	res := picket.ActionResult{Request: req, Started: p.now().UTC()}
	finish := func(outcome picket.ActionOutcome, summary, next string) picket.ActionResult {
		res.Outcome, res.Summary, res.NextStep, res.Finished = outcome, summary, next, p.now().UTC()
		return res
	}
	if plan.Refusal != "" {
		return finish(picket.OutcomeRefused, plan.Refusal, "")
	}
	if r := findingRefusal(req, f); r != "" {
		return finish(picket.OutcomeRefused, r, "")
	}
	id := req.Target.ID
	reboot := rebootOption(req)
	st := &steps{now: p.now, dryRun: req.DryRun}
	sendDesc := fmt.Sprintf("Run %s on instance %s with Operation=Install and RebootOption=%s", PatchDocument, id, reboot)
	c, err := p.Clients(ctx, req.Account, req.Region)
	if err != nil {
		addFailedStep(st, "sts:AssumeRole", "Get access to account "+req.Account, err)
		res.Steps = st.results()
		return finish(picket.OutcomeFailed, "Picket could not reach account "+req.Account+"; nothing was sent.", "Check Picket's role in that account.")
	}
	// The state may have changed since the plan.
	m, refusal, err := p.check(ctx, c, id)
	if err != nil {
		return finish(picket.OutcomeFailed, picket.ErrorMessage(err), "")
	}
	if refusal != "" {
		return finish(picket.OutcomeRefused, refusal, "")
	}
	ev := PatchEvidence{InstanceID: id, Managed: m, RebootOption: reboot, Packages: picket.PatchablePackages(f)}
	if req.DryRun {
		st.call("ssm:SendCommand", sendDesc, nil)
		st.call("ssm:GetCommandInvocation", "Follow the command to its end", nil)
		res.Steps = st.results()
		res.Evidence, _ = json.Marshal(ev)
		return finish(picket.OutcomeDryRunned, fmt.Sprintf("Dry run: Picket would run %s on instance %s (RebootOption=%s); nothing was sent.", PatchDocument, id, reboot), "")
	}
	// Before sending: a restart from here on may have sent the command.
	if err := save.save(false, ev); err != nil {
		st.skip("ssm:SendCommand", sendDesc, "Picket could not save its record before acting")
		res.Steps = st.results()
		return finish(picket.OutcomeFailed, "Picket could not save its record of the patch, so it sent nothing.", "Check the bot's data volume, then try again.")
	}
	var out *ssm.SendCommandOutput
	ok := st.call("ssm:SendCommand", sendDesc, func() (middleware.Metadata, error) {
		var err error
		out, err = c.SSM.SendCommand(ctx, &ssm.SendCommandInput{
			DocumentName: aws.String(PatchDocument),
			InstanceIds:  []string{id},
			Parameters:   map[string][]string{"Operation": {"Install"}, "RebootOption": {reboot}},
			Comment:      aws.String(clipText("Picket "+req.ID+" for "+nameOf(req.Actor), 100)),
		})
		if err != nil {
			return middleware.Metadata{}, err
		}
		if out.Command == nil || aws.ToString(out.Command.CommandId) == "" {
			return middleware.Metadata{}, &smithy.GenericAPIError{Code: "NoCommandId", Message: "Systems Manager returned no command id"}
		}
		return out.ResultMetadata, nil
	})
	res.Steps = st.results()
	if !ok {
		res.Evidence, _ = json.Marshal(ev)
		return finish(picket.OutcomeFailed, fmt.Sprintf("Picket could not send the patch command to instance %s (%s); nothing was changed.", id, failedCalls(res.Steps)),
			"Grant Picket's role the permission named, or patch the instance by hand with Systems Manager.")
	}
	ev.CommandID, ev.SendRequestID, ev.SentAt = aws.ToString(out.Command.CommandId), res.Steps[0].RequestID, res.Steps[0].At
	res.Evidence, _ = json.Marshal(ev)
	if err := save.save(false, ev); err != nil {
		// The command is sent; following it in this process still works.
		res.NextStep = "Picket could not save the command id; if it restarts before the command ends, check Run Command history for command " + ev.CommandID + "."
	}
	res.Outcome = picket.StatusRunning
	res.Summary = fmt.Sprintf("Picket sent %s to instance %s (command %s, RebootOption=%s) and is following it.", PatchDocument, id, ev.CommandID, reboot)
	return res
}

// Follow implements Follower: it polls the command recorded in rec's
// evidence until it ends, FollowFor has passed since it was sent, or ctx
// is done (then it returns an Outcome picket.StatusRunning result, and the
// record stays running for the next start to resume).
func (p *Patch) Follow(ctx context.Context, rec picket.ActionRecord) picket.ActionResult {
	req := rec.Request
	var ev PatchEvidence
	json.Unmarshal(rec.Evidence, &ev) // checked below
	res := picket.ActionResult{Request: req, Evidence: rec.Evidence, Started: req.At}
	if rec.Result != nil {
		res.Started = rec.Result.Started
	}
	sent := picket.StepResult{Operation: "ssm:SendCommand", Status: picket.StepDone, RequestID: ev.SendRequestID, At: ev.SentAt,
		Description: fmt.Sprintf("Run %s on instance %s with Operation=Install and RebootOption=%s (command %s)", PatchDocument, ev.InstanceID, ev.RebootOption, ev.CommandID)}
	followDesc := "Follow command " + ev.CommandID + " to its end"
	if ev.CommandID == "" {
		res.Outcome, res.Finished = picket.OutcomeFailed, p.now().UTC()
		res.Summary = "Picket has no command id for this patch, so it cannot follow it."
		res.NextStep = "Check Run Command history in the Systems Manager console for the instance."
		return res
	}
	c, err := p.Clients(ctx, req.Account, req.Region)
	if err == nil && c.SSM == nil {
		err = picket.Errorf(picket.EUNAVAILABLE, "Picket has no Systems Manager access in account %s, region %s.", req.Account, req.Region)
	}
	followFor, lo, hi := p.FollowFor, p.PollMin, p.PollMax
	if followFor <= 0 {
		followFor = DefaultPatchFollowFor
	}
	if lo <= 0 {
		lo = DefaultPatchPollMin
	}
	if hi < lo {
		hi = max(DefaultPatchPollMax, lo)
	}
	deadline := ev.SentAt.Add(followFor)
	wait := lo
	var inv *ssm.GetCommandInvocationOutput
	var lastErr error
	var lastReq string
	for err == nil {
		var out *ssm.GetCommandInvocationOutput
		md := middleware.Metadata{}
		out, lastErr = c.SSM.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{
			CommandId: aws.String(ev.CommandID), InstanceId: aws.String(ev.InstanceID),
		})
		if lastErr == nil {
			inv, md = out, out.ResultMetadata
			if terminal(out.Status) {
				lastReq = requestIDOf(md)
				break
			}
		} else if !isCode(lastErr, "InvocationDoesNotExist") && !retryable(lastErr) {
			break // access denied and the like: waiting will not help
		}
		if ctx.Err() != nil {
			return running(res, sent, ctx.Err())
		}
		if !p.now().Add(wait).Before(deadline) {
			lastErr = nil
			inv = timedOut(inv)
			break
		}
		if serr := p.sleep(ctx, wait); serr != nil {
			return running(res, sent, serr)
		}
		wait = min(wait*2, hi)
	}
	res.Finished = p.now().UTC()
	follow := picket.StepResult{Operation: "ssm:GetCommandInvocation", Description: followDesc, At: res.Finished}
	switch {
	case err != nil:
		follow.Status, follow.Error = picket.StepFailed, picket.ErrorMessage(err)
	case inv == nil || lastErr != nil:
		follow.Status = picket.StepFailed
		follow.ErrorCode, follow.Error = apiError(lastErr)
		follow.RequestID = requestIDOfError(lastErr)
	case inv.Status == ssmtypes.CommandInvocationStatusSuccess:
		follow.Status, follow.RequestID = picket.StepDone, lastReq
		follow.Description += ": Success"
	default:
		follow.Status, follow.RequestID = picket.StepFailed, lastReq
		follow.ErrorCode = string(inv.Status)
		follow.Error = strings.TrimSpace(aws.ToString(inv.StatusDetails) + ". " + tail(aws.ToString(inv.StandardErrorContent), 300))
		follow.Error = strings.TrimSuffix(strings.TrimSpace(follow.Error), ".")
	}
	res.Steps = []picket.StepResult{sent, follow}
	if inv != nil {
		res.Output = tail(aws.ToString(inv.StandardOutputContent), maxPatchOutput)
	}
	res.Outcome = picket.OutcomeOf(res.Steps)
	id := ev.InstanceID
	switch {
	case res.Outcome == picket.OutcomeSucceeded:
		res.Summary = fmt.Sprintf("Picket patched instance %s: %s ended in Success (command %s, RebootOption=%s).", id, PatchDocument, ev.CommandID, ev.RebootOption)
		if ev.RebootOption == NoReboot {
			res.NextStep = "Restart the instance when convenient if a patch needs a reboot; Inspector updates the finding at its next scan."
		}
	case follow.ErrorCode == "PicketFollowTimeout":
		res.Summary = fmt.Sprintf("Picket sent the patch to instance %s (command %s) but stopped following it after %s; its outcome is unknown.", id, ev.CommandID, followFor)
		res.NextStep = "Check the command in Run Command history in the Systems Manager console."
	case inv != nil && lastErr == nil:
		res.Summary = fmt.Sprintf("The patch command on instance %s (command %s) ended in %s; some patches may be installed.", id, ev.CommandID, inv.Status)
		res.NextStep = "Read the output below and the command in Run Command history, fix the cause, then patch again."
	default:
		res.Summary = fmt.Sprintf("Picket sent the patch to instance %s (command %s) but could not follow it (%s); its outcome is unknown.", id, ev.CommandID, failedCalls(res.Steps))
		res.NextStep = "Grant Picket's role ssm:GetCommandInvocation, and check the command in Run Command history."
	}
	return res
}

// Started implements Follower: the evidence names the command sent.
func (p *Patch) Started(evidence json.RawMessage) bool {
	var ev PatchEvidence
	return json.Unmarshal(evidence, &ev) == nil && ev.CommandID != "" && ev.InstanceID != ""
}

// timedOut marks an invocation Picket stopped following.
func timedOut(inv *ssm.GetCommandInvocationOutput) *ssm.GetCommandInvocationOutput {
	out := &ssm.GetCommandInvocationOutput{Status: "PicketFollowTimeout", StatusDetails: aws.String("Picket stopped following the command before it ended")}
	if inv != nil {
		out.StandardOutputContent = inv.StandardOutputContent
	}
	return out
}

// running is the result of a follow that ctx cut short: still running.
func running(res picket.ActionResult, sent picket.StepResult, err error) picket.ActionResult {
	res.Outcome, res.Steps = picket.StatusRunning, []picket.StepResult{sent}
	res.Summary = "Picket stopped following the patch command (" + err.Error() + "); it resumes when it starts again."
	return res
}

func terminal(s ssmtypes.CommandInvocationStatus) bool {
	switch s {
	case ssmtypes.CommandInvocationStatusPending, ssmtypes.CommandInvocationStatusInProgress,
		ssmtypes.CommandInvocationStatusDelayed, ssmtypes.CommandInvocationStatusCancelling, "":
		return false
	}
	return true
}

// retryable reports whether a failed poll is worth repeating: throttling
// and server errors.
func retryable(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return true // a network error
	}
	return ae.ErrorFault() == smithy.FaultServer || isCode(err, "ThrottlingException", "Throttling", "TooManyRequestsException")
}

func requestIDOf(md middleware.Metadata) string {
	id, _ := awsmiddleware.GetRequestIDMetadata(md)
	return id
}

// tail keeps the last n bytes of s at a rune boundary, marked with "…".
func tail(s string, n int) string {
	s = strings.TrimRight(s, " \n\t\r")
	if len(s) <= n {
		return s
	}
	cut := len(s) - n
	for cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut++
	}
	if i := strings.IndexByte(s[cut:], '\n'); i >= 0 && i < 200 {
		cut += i + 1 // start at a whole line
	}
	return "…" + s[cut:]
}
