package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"

	"github.com/picketsec/picket"
)

// DefaultRevokePolicyName names the inline policy RevokeSessions puts on
// a role when RevokeSessions.PolicyName is empty.
const DefaultRevokePolicyName = "picket-revoke-older-sessions"

// RevokeSessions contains exfiltrated temporary credentials of an assumed
// role: it puts an inline policy on the role that denies every action to
// sessions issued before now (aws:TokenIssueTime), which is what the IAM
// console's "Revoke active sessions" does. Sessions issued afterwards, such
// as an instance's next credentials, keep working. It implements
// picket.Responder for picket.ActionRevokeSessions and Undoer; Undo removes
// the policy.
//
// The role is the session's issuer as the finding names it (GuardDuty's
// userName for an AssumedRole key, ASFF's SessionIssuer), resolved with
// iam:GetRole; when the finding gives the session's principal id
// (AROA...:session), the role's unique id must match it. The session name
// is never taken for a role or user name.
type RevokeSessions struct {
	Clients ClientsFunc
	Guard   Guardrails
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// PolicyName names the inline policy; DefaultRevokePolicyName when
	// empty.
	PolicyName string
}

// RoleEvidence is the state of a role recorded before RevokeSessions
// changed it, and what it changed. Undo restores from it.
type RoleEvidence struct {
	RoleName string `json:"role_name"`
	RoleID   string `json:"role_id,omitempty"`
	ARN      string `json:"arn,omitempty"`
	// Session and PrincipalID identify the session the finding is about.
	Session        string            `json:"session,omitempty"`
	PrincipalID    string            `json:"principal_id,omitempty"`
	InlinePolicies []string          `json:"inline_policies"`
	Tags           map[string]string `json:"tags"`
	Finding        FindingRef        `json:"finding"`
	// PolicyName is the revoking policy; PolicyAttached says Picket put it,
	// denying sessions issued before PolicyNotBefore.
	PolicyName      string    `json:"policy_name"`
	PolicyAttached  bool      `json:"policy_attached,omitempty"`
	PolicyNotBefore time.Time `json:"policy_not_before,omitzero"`
	// Intended marks evidence saved before the first change: the change
	// fields say what the action set out to do, and Undo restores all of
	// it.
	Intended bool `json:"intended,omitempty"`
}

func (r *RevokeSessions) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *RevokeSessions) policyName() string {
	if r.PolicyName == "" {
		return DefaultRevokePolicyName
	}
	return r.PolicyName
}

// roleName is the name of the role a role-session target names: from its
// role ARN when it has one, else its ID (the issuer's name).
func roleName(t picket.Resource) string {
	if t.Kind != picket.ResourceRoleSession {
		return ""
	}
	if a, err := arn.Parse(t.ARN); err == nil && a.Service == "iam" && strings.HasPrefix(a.Resource, "role/") {
		return afterSlash(a.Resource)
	}
	return t.ID
}

// roleState is what the read-only calls found out about a role.
type roleState struct {
	ev RoleEvidence
}

// readFunc runs one read-only call, recording it when the caller keeps
// steps.
type readFunc func(op, desc string, fn func() (middleware.Metadata, error)) error

// inspect reads the role and checks every guardrail. refusal says why
// Picket must not act; err that the role could not be read.
func (r *RevokeSessions) inspect(ctx context.Context, c IAMAPI, read readFunc, t picket.Resource, account string) (*roleState, string, error) {
	name := roleName(t)
	s := &roleState{ev: RoleEvidence{RoleName: name, Session: t.Session, PrincipalID: t.PrincipalID,
		InlinePolicies: []string{}, Tags: map[string]string{}, PolicyName: r.policyName()}}
	var role *iam.GetRoleOutput
	err := read("iam:GetRole", "Record role "+name, func() (middleware.Metadata, error) {
		out, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
		if err != nil {
			return middleware.Metadata{}, err
		}
		role = out
		return out.ResultMetadata, nil
	})
	if err != nil {
		if isCode(err, "NoSuchEntity") {
			return nil, fmt.Sprintf("IAM role %s does not exist in account %s, so there are no sessions of it to revoke.", name, account), nil
		}
		return nil, "", fmt.Errorf("get role %s: %w", name, err)
	}
	if role.Role == nil {
		return nil, "", fmt.Errorf("get role %s: no role in the answer", name)
	}
	s.ev.ARN, s.ev.RoleID = aws.ToString(role.Role.Arn), aws.ToString(role.Role.RoleId)
	if refusal := r.identityRefusal(t, name, account, s.ev.ARN, s.ev.RoleID, aws.ToString(role.Role.Path)); refusal != "" {
		return nil, refusal, nil
	}
	err = read("iam:ListRoleTags", "Record the tags of role "+name, func() (middleware.Metadata, error) {
		var md middleware.Metadata
		in := &iam.ListRoleTagsInput{RoleName: &name}
		for {
			out, err := c.ListRoleTags(ctx, in)
			if err != nil {
				return md, err
			}
			md = out.ResultMetadata
			for _, tag := range out.Tags {
				s.ev.Tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
			}
			if !out.IsTruncated || out.Marker == nil {
				return md, nil
			}
			in.Marker = out.Marker
		}
	})
	if err != nil {
		// Fail closed: without the tags the protecting tag cannot be checked.
		code, _ := apiError(err)
		return nil, fmt.Sprintf("Picket could not read the tags of IAM role %s (%s), so it cannot check that the role is not protected.", name, orUnknownCode(code)), nil
	}
	if reason, protected := r.Guard.RoleProtected(name, s.ev.ARN, s.ev.Tags); protected {
		return nil, reason, nil
	}
	err = read("iam:ListRolePolicies", "Record the inline policies of role "+name, func() (middleware.Metadata, error) {
		var md middleware.Metadata
		in := &iam.ListRolePoliciesInput{RoleName: &name}
		for {
			out, err := c.ListRolePolicies(ctx, in)
			if err != nil {
				return md, err
			}
			md = out.ResultMetadata
			s.ev.InlinePolicies = append(s.ev.InlinePolicies, out.PolicyNames...)
			if !out.IsTruncated || out.Marker == nil {
				return md, nil
			}
			in.Marker = out.Marker
		}
	})
	if err != nil {
		code, _ := apiError(err)
		return nil, fmt.Sprintf("Picket could not list the inline policies of IAM role %s (%s), so it cannot tell whether it would overwrite one.", name, orUnknownCode(code)), nil
	}
	if slices.Contains(s.ev.InlinePolicies, s.ev.PolicyName) {
		return nil, fmt.Sprintf("IAM role %s already has an inline policy named %s (an earlier revoke, or one made by hand); Picket will not overwrite it. Remove or rename it first, or use Undo on the earlier revoke.", name, s.ev.PolicyName), nil
	}
	return s, "", nil
}

// identityRefusal checks that the role IAM resolved is the one the finding
// is about.
func (r *RevokeSessions) identityRefusal(t picket.Resource, name, account, roleARN, roleID, path string) string {
	a, err := arn.Parse(roleARN)
	if err != nil || a.AccountID != account {
		return fmt.Sprintf("IAM resolved role %s to %s, which is not in account %s, so Picket will not act on it.", name, roleARN, account)
	}
	if t.ARN != "" && !strings.EqualFold(t.ARN, roleARN) {
		return fmt.Sprintf("The finding names role %s, but IAM resolves %s to %s; Picket will not act on a role the finding does not name exactly.", t.ARN, name, roleARN)
	}
	if issuer, _, ok := strings.Cut(t.PrincipalID, ":"); ok && strings.HasPrefix(issuer, "AROA") && issuer != roleID {
		return fmt.Sprintf("The session's principal id %s does not belong to IAM role %s (%s, id %s): the role may have been deleted and created again. Picket will not act on it.", t.PrincipalID, name, roleARN, roleID)
	}
	if strings.HasPrefix(path, "/aws-service-role/") {
		return fmt.Sprintf("IAM role %s is a service-linked role, which takes no inline policies; revoke its sessions from the service that owns it.", name)
	}
	return ""
}

// Plan implements picket.Responder. It reads the role (GetRole,
// ListRoleTags, ListRolePolicies), checks the guardrails and says exactly
// what Execute does, naming the role ARN IAM resolves.
func (r *RevokeSessions) Plan(ctx context.Context, req picket.ActionRequest, f *picket.Finding) (picket.Plan, error) {
	plan := picket.Plan{Request: req}
	name := roleName(req.Target)
	if name == "" {
		plan.Refusal = "This finding names no role session to revoke."
		return plan, nil
	}
	c, err := r.Clients(ctx, req.Account, req.Region)
	if err != nil {
		return picket.Plan{}, fmt.Errorf("revoke sessions of %s: %w", name, err)
	}
	if c.IAM == nil {
		plan.Refusal = fmt.Sprintf("Picket has no IAM access in account %s.", req.Account)
		return plan, nil
	}
	direct := func(_, _ string, fn func() (middleware.Metadata, error)) error {
		_, err := fn()
		return err
	}
	s, refusal, err := r.inspect(ctx, c.IAM, direct, req.Target, req.Account)
	if err != nil {
		code, _ := apiError(err)
		return picket.Plan{}, &picket.Error{Code: picket.EUNAVAILABLE, Err: err,
			Message: fmt.Sprintf("Picket could not read IAM role %s in account %s (%s), so it cannot plan revoking its sessions.", name, req.Account, orUnknownCode(code))}
	}
	if refusal != "" {
		plan.Refusal = refusal
		return plan, nil
	}
	add := func(op, desc string) {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: op, Description: desc})
	}
	session := ""
	if req.Target.Session != "" {
		session = fmt.Sprintf(" (the finding's session is %s)", req.Target.Session)
	}
	add("iam:GetRole", fmt.Sprintf("Record the state of role %s, which IAM resolves to %s%s: its inline policies and tags, as evidence and for Undo.", name, s.ev.ARN, session))
	add("iam:PutRolePolicy", fmt.Sprintf("Attach inline policy %s to %s denying every action to sessions issued before the moment it is attached. Sessions issued afterwards keep working; no IAM user is touched.", s.ev.PolicyName, s.ev.ARN))
	if f != nil && f.ProductARN != "" && c.SecurityHub != nil {
		add("securityhub:BatchUpdateFindings", "Add a note to the finding in Security Hub.")
	}
	plan.Undo = fmt.Sprintf("Remove the inline policy %s from role %s.", s.ev.PolicyName, name)
	return plan, nil
}

// Execute implements picket.Responder.
func (r *RevokeSessions) Execute(ctx context.Context, plan picket.Plan, f *picket.Finding) picket.ActionResult {
	return r.ExecuteWith(ctx, plan, f, nil)
}

// ExecuteWith implements CheckpointResponder: it reads the role again,
// checks the guardrails with what it read, saves the evidence through save
// and only then attaches the policy.
func (r *RevokeSessions) ExecuteWith(ctx context.Context, plan picket.Plan, f *picket.Finding, save Checkpoint) picket.ActionResult {
	req := plan.Request
	res, finish := begin(plan, r.now)
	if plan.Refusal != "" {
		return finish()
	}
	name := roleName(req.Target)
	reads := &steps{now: r.now}
	writes := &steps{now: r.now, dryRun: req.DryRun}
	result := func() picket.ActionResult {
		res.Steps = append(slices.Clone(reads.results()), writes.results()...)
		res.Outcome = picket.OutcomeOf(writes.results())
		if len(writes.results()) == 0 {
			res.Outcome = picket.OutcomeFailed
		}
		return finish()
	}
	c, err := r.Clients(ctx, req.Account, req.Region)
	if err == nil && c.IAM == nil {
		err = picket.Errorf(picket.EUNAVAILABLE, "Picket has no IAM access in account %s.", req.Account)
	}
	if err != nil {
		recordFailure(writes, "iam:GetRole", "Record role "+name, err)
		res.Summary = fmt.Sprintf("Picket could not reach IAM in account %s, so it did not revoke the sessions of role %s.", req.Account, name)
		res.NextStep = "Check Picket's access to account " + req.Account + ", or use Revoke active sessions on the role in the IAM console."
		return result()
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
	s, refusal, err := r.inspect(ctx, c.IAM, recorded, req.Target, req.Account)
	if err != nil {
		res.Outcome, res.Steps = picket.OutcomeFailed, reads.results()
		res.Summary = fmt.Sprintf("Picket could not read IAM role %s, so it changed nothing.", name)
		res.NextStep = "Check that Picket's role may call iam:GetRole in account " + req.Account + ", or use Revoke active sessions on the role in the IAM console."
		return finish()
	}
	if refusal != "" {
		res.Steps, res.Outcome, res.Summary = reads.results(), picket.OutcomeRefused, refusal
		return finish()
	}
	ev := s.ev
	ev.Finding = refOf(f)
	pol := ev.PolicyName
	notBefore := r.now().UTC().Truncate(time.Second)

	// The state goes to the store before the first change, so that Undo
	// can remove the policy even if Picket stops right after attaching it.
	intended := ev
	intended.PolicyAttached, intended.PolicyNotBefore, intended.Intended = true, notBefore, true
	if err := save.save(req.DryRun, intended); err != nil {
		res.Outcome, res.Steps = picket.OutcomeFailed, reads.results()
		res.Summary = fmt.Sprintf("Picket could not save the state of role %s before changing it, so it changed nothing.", name)
		res.NextStep = "Check the bot's data volume and try again."
		return finish()
	}

	doc := denyAllBefore(notBefore)
	if writes.call("iam:PutRolePolicy", fmt.Sprintf("Attach inline policy %s to %s, denying all actions to sessions issued before %s", pol, ev.ARN, notBefore.Format(time.RFC3339)), func() (middleware.Metadata, error) {
		out, err := c.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &name, PolicyName: &pol, PolicyDocument: &doc})
		return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
	}) && !req.DryRun {
		ev.PolicyAttached, ev.PolicyNotBefore = true, notBefore
	}
	if f != nil {
		note := fmt.Sprintf("Picket revoked the sessions of IAM role %s issued before %s (case %s) at the request of %s: deny policy %s %s.",
			ev.ARN, notBefore.Format(time.RFC3339), req.ID, nameOf(req.Actor), pol, attachedWord(ev.PolicyAttached))
		noteFinding(ctx, writes, c.SecurityHub, f, note, "Picket")
	}
	res.Evidence, _ = json.Marshal(ev)
	out := result()
	out.Summary, out.NextStep = revokeSummary(&ev, notBefore, out.Outcome, writes.results())
	return out
}

// revokeSummary says in one sentence what a revoke did, and what to do
// next.
func revokeSummary(ev *RoleEvidence, notBefore time.Time, outcome picket.ActionOutcome, st []picket.StepResult) (summary, next string) {
	at := notBefore.Format("15:04:05 MST")
	switch outcome {
	case picket.OutcomeDryRunned:
		return fmt.Sprintf("Dry run: Picket would attach inline policy %s to IAM role %s, denying its sessions issued before now; nothing was changed.", ev.PolicyName, ev.RoleName), ""
	case picket.OutcomeSucceeded, picket.OutcomePartial:
		summary = fmt.Sprintf("Revoked the sessions of IAM role %s issued before %s: inline policy %s denies them every action; new sessions work.", ev.RoleName, at, ev.PolicyName)
		next = "Find how the credentials leaked (the instance or workload that had them), review in CloudTrail what the session did, and use Undo to remove the policy once no old session matters."
		for _, s := range st {
			if s.Status == picket.StepFailed && s.Operation == "securityhub:BatchUpdateFindings" {
				summary += fmt.Sprintf(" The finding could not be noted (%s).", orUnknownCode(s.ErrorCode))
			}
		}
		if !ev.PolicyAttached {
			break
		}
		return summary, next
	}
	for _, s := range st {
		if s.Status == picket.StepFailed && s.Operation == "iam:PutRolePolicy" {
			return fmt.Sprintf("Picket could not revoke the sessions of IAM role %s: the deny policy could not be attached (%s). Nothing was changed.", ev.RoleName, orUnknownCode(s.ErrorCode)),
				advice(s, "iam:PutRolePolicy", "use Revoke active sessions on the role in the IAM console")
		}
	}
	return fmt.Sprintf("Picket could not revoke the sessions of IAM role %s.", ev.RoleName), "Use Revoke active sessions on the role in the IAM console."
}

// roleEvidence decodes the evidence of a revoke that can be undone, or
// says why it cannot.
func roleEvidence(rec picket.ActionRecord) (*RoleEvidence, string) {
	if rec.Request.Kind != picket.ActionRevokeSessions {
		return nil, "That action is not a Revoke role sessions."
	}
	if rec.Result == nil {
		return nil, "That revoke has not run, so there is nothing to undo."
	}
	switch rec.Result.Outcome {
	case picket.OutcomeSucceeded, picket.OutcomePartial:
	default:
		return nil, fmt.Sprintf("That revoke ended %s and changed nothing, so there is nothing to undo.", strings.ReplaceAll(string(rec.Result.Outcome), "_", " "))
	}
	var ev RoleEvidence
	if err := json.Unmarshal(rec.Result.Evidence, &ev); err != nil || ev.RoleName == "" {
		return nil, "Picket has no readable record of the role's state before the revoke, so it cannot undo it."
	}
	if !ev.PolicyAttached || ev.PolicyName == "" {
		return nil, fmt.Sprintf("The revoke of role %s attached no policy, so there is nothing to undo.", ev.RoleName)
	}
	return &ev, ""
}

// PlanUndo implements Undoer: it plans removing the policy the revoke
// attached. It reads only GetRole, to refuse when the role is gone.
func (r *RevokeSessions) PlanUndo(ctx context.Context, original picket.ActionRecord, req picket.ActionRequest) (picket.Plan, error) {
	plan := picket.Plan{Request: req}
	ev, refusal := roleEvidence(original)
	if refusal != "" {
		plan.Refusal = refusal
		return plan, nil
	}
	c, refusal, err := iamForUndo(ctx, r.Clients, original, "role", ev.RoleName, func(ctx context.Context, api IAMAPI) error {
		_, err := api.GetRole(ctx, &iam.GetRoleInput{RoleName: &ev.RoleName})
		return err
	})
	if err != nil {
		return picket.Plan{}, err
	}
	if refusal != "" {
		plan.Refusal = refusal
		return plan, nil
	}
	plan.Steps = append(plan.Steps, picket.PlanStep{Operation: "iam:DeleteRolePolicy",
		Description: fmt.Sprintf("Remove the inline policy %s from role %s, so its sessions issued before %s work again.", ev.PolicyName, ev.RoleName, ev.PolicyNotBefore.Format(time.RFC3339))})
	if ev.Finding.ProductARN != "" && c.SecurityHub != nil {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: "securityhub:BatchUpdateFindings", Description: "Add a note to the finding in Security Hub."})
	}
	plan.Undo = "This removes the inline policy " + ev.PolicyName + " from role " + ev.RoleName + "."
	return plan, nil
}

// ExecuteUndo implements Undoer.
func (r *RevokeSessions) ExecuteUndo(ctx context.Context, plan picket.Plan, original picket.ActionRecord) picket.ActionResult {
	req := plan.Request
	res, finish := begin(plan, r.now)
	if plan.Refusal != "" {
		return finish()
	}
	ev, refusal := roleEvidence(original)
	if refusal != "" {
		res.Outcome, res.Summary = picket.OutcomeRefused, refusal
		return finish()
	}
	name, pol := ev.RoleName, ev.PolicyName
	st := &steps{now: r.now, dryRun: req.DryRun}
	c, err := r.Clients(ctx, original.Request.Account, original.Request.Region)
	if err == nil && c.IAM == nil {
		err = picket.Errorf(picket.EUNAVAILABLE, "Picket has no IAM access in account %s.", original.Request.Account)
	}
	if err != nil {
		recordFailure(st, "iam:DeleteRolePolicy", "Remove inline policy "+pol+" from "+name, err)
		res.Steps, res.Outcome = st.results(), picket.OutcomeFailed
		res.Summary = fmt.Sprintf("Picket could not reach IAM in account %s, so it restored nothing for role %s.", original.Request.Account, name)
		res.NextStep = "Check Picket's access to the account and try Undo again."
		return finish()
	}
	removed := st.call("iam:DeleteRolePolicy", fmt.Sprintf("Remove inline policy %s from role %s", pol, name), func() (middleware.Metadata, error) {
		out, err := c.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &name, PolicyName: &pol})
		if isCode(err, "NoSuchEntity") {
			return middleware.Metadata{}, nil // already gone: the state is what Undo wants
		}
		return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
	})
	if ev.Finding.ProductARN != "" {
		note := fmt.Sprintf("Picket undid the revoke of the sessions of IAM role %s (case %s) at the request of %s: deny policy %s %s.",
			name, original.Request.ID, nameOf(req.Actor), pol, removedOrNot(removed))
		noteFinding(ctx, st, c.SecurityHub, ev.Finding.finding(), note, "Picket")
	}
	res.Steps = st.results()
	res.Outcome = picket.OutcomeOf(res.Steps)
	res.Evidence = original.Result.Evidence
	switch {
	case res.Outcome == picket.OutcomeDryRunned:
		res.Summary = fmt.Sprintf("Dry run: Picket would remove inline policy %s from IAM role %s; nothing was changed.", pol, name)
	case removed:
		res.Summary = fmt.Sprintf("Removed inline policy %s from IAM role %s: its older sessions work again.", pol, name)
		res.NextStep = "Watch the role's activity in CloudTrail for a while."
		if res.Outcome == picket.OutcomePartial {
			res.Summary += " The finding could not be noted (" + failedList(res.Steps) + ")."
		}
	default:
		res.Summary = fmt.Sprintf("Picket could not remove inline policy %s from IAM role %s; failed: %s.", pol, name, failedList(res.Steps))
		res.NextStep = "Remove the policy by hand in the IAM console, or grant the Picket role the permission named and try Undo again."
	}
	return finish()
}

func removedOrNot(removed bool) string {
	if removed {
		return "removed"
	}
	return "not removed"
}
