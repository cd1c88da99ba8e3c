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
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/picketsec/picket"
)

// DefaultDenyPolicyName names the inline policy DisableUser attaches when
// DisableUser.PolicyName is empty.
const DefaultDenyPolicyName = "picket-deny-all"

// Tag keys DisableUser puts on the user it disables.
const (
	userTagCase       = "picket:case"
	userTagDisabledBy = "picket:disabled-by"
)

// DisableUser contains a compromised IAM user: it records the user's state,
// deactivates (never deletes) every active access key, attaches an inline
// deny-all policy that revokes sessions already issued, tags the user with
// the case and notes the finding. It implements picket.Responder for
// picket.ActionDisableUser and Undoer.
//
// A dry run still makes the read-only calls, so that the result lists the
// exact keys that would be deactivated and the evidence shows the user as
// it is; every call that would change something is recorded as
// picket.StepDryRun and not made.
type DisableUser struct {
	Clients ClientsFunc
	Guard   Guardrails
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// PolicyName names the inline deny policy; DefaultDenyPolicyName when
	// empty.
	PolicyName string
}

// UserEvidence is the state of an IAM user recorded before DisableUser
// changed anything, and what it changed. Undo restores from it.
type UserEvidence struct {
	UserName string    `json:"user_name"`
	UserID   string    `json:"user_id,omitempty"`
	ARN      string    `json:"arn,omitempty"`
	Created  time.Time `json:"created,omitzero"`
	// AccessKeys are the user's keys with their status before.
	AccessKeys []AccessKeyEvidence `json:"access_keys"`
	// AttachedPolicies are managed policy ARNs; InlinePolicies are names.
	AttachedPolicies []string `json:"attached_policies"`
	InlinePolicies   []string `json:"inline_policies"`
	Groups           []string `json:"groups"`
	// LoginProfile says the user can sign in to the console with a
	// password.
	LoginProfile        bool              `json:"login_profile"`
	LoginProfileCreated time.Time         `json:"login_profile_created,omitzero"`
	MFADevices          []string          `json:"mfa_devices"`
	Tags                map[string]string `json:"tags"`
	// Unread lists the parts of the state Picket could not read
	// ("iam:ListMFADevices: AccessDenied"), so the record is known to be
	// incomplete.
	Unread []string `json:"unread,omitempty"`

	// Finding identifies the finding in Security Hub, so Undo can note it.
	Finding FindingRef `json:"finding"`

	// What the action changed.
	//
	// DeactivatedKeys are the keys that were Active and that Picket set
	// Inactive. PolicyName is the deny policy; PolicyExisted says an
	// inline policy of that name was there before (Undo then leaves it);
	// PolicyAttached says Picket put it. TagsSet are the tag keys Picket
	// set; TagsBefore the values they had before, if any.
	DeactivatedKeys []string          `json:"deactivated_keys,omitempty"`
	PolicyName      string            `json:"policy_name"`
	PolicyExisted   bool              `json:"policy_existed,omitempty"`
	PolicyAttached  bool              `json:"policy_attached,omitempty"`
	PolicyNotBefore time.Time         `json:"policy_not_before,omitzero"`
	TagsSet         []string          `json:"tags_set,omitempty"`
	TagsBefore      map[string]string `json:"tags_before,omitempty"`
	// Intended marks evidence saved before the first change: the change
	// fields then say what the action set out to change, and Undo restores
	// all of it (re-activating a key that was never deactivated changes
	// nothing).
	Intended bool `json:"intended,omitempty"`
}

// AccessKeyEvidence is one access key and its status before the action.
type AccessKeyEvidence struct {
	ID      string    `json:"id"`
	Status  string    `json:"status"`
	Created time.Time `json:"created,omitzero"`
}

// FindingRef identifies a finding in Security Hub.
type FindingRef struct {
	Key        string `json:"key,omitempty"`
	ID         string `json:"id,omitempty"`
	ARN        string `json:"arn,omitempty"`
	ProductARN string `json:"product_arn,omitempty"`
}

func refOf(f *picket.Finding) FindingRef {
	if f == nil {
		return FindingRef{}
	}
	return FindingRef{Key: f.Key, ID: f.ID, ARN: f.ARN, ProductARN: f.ProductARN}
}

// finding rebuilds the identity of the finding for noteFinding.
func (r FindingRef) finding() *picket.Finding {
	return &picket.Finding{Key: r.Key, ID: r.ID, ARN: r.ARN, ProductARN: r.ProductARN}
}

func (d *DisableUser) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

func (d *DisableUser) policyName() string {
	if d.PolicyName == "" {
		return DefaultDenyPolicyName
	}
	return d.PolicyName
}

// userOf returns the IAM user name a target names, and whether the target
// is the root user.
func userOf(t picket.Resource) (name string, root bool) {
	switch t.Kind {
	case picket.ResourceRoot:
		return "", true
	case picket.ResourceAccessKey:
		name = t.UserName
	case picket.ResourceIAMUser:
		name = t.ID
		if name == "" && t.ARN != "" {
			name = t.ARN[strings.LastIndexByte(t.ARN, '/')+1:]
		}
	}
	if strings.HasSuffix(t.ARN, ":root") || strings.EqualFold(name, "root") && t.Kind != picket.ResourceIAMUser {
		return "", true
	}
	return name, false
}

const rootRefusal = "The root user cannot be disabled by Picket; escalate instead (and secure the root credentials: MFA, no access keys)."

// principalRefusal refuses a target that is not an IAM user: a role
// session, a federated user or an AWS service may share its name with an
// IAM user, and disabling that user would leave the real principal
// untouched.
func principalRefusal(t picket.Resource) (string, picket.ActionKind) {
	switch {
	case t.Mismatch != "":
		return "The finding names this principal inconsistently (" + t.Mismatch + "), so Picket will not act on it. Check the finding in the console.", picket.ActionEscalate
	case t.PrincipalType == "" || t.PrincipalType == picket.PrincipalIAMUser:
		return "", ""
	case t.PrincipalType == picket.PrincipalAssumedRole:
		return "The credentials in this finding belong to a role session, not an IAM user; revoke the role's sessions instead.", picket.ActionRevokeSessions
	}
	return fmt.Sprintf("The credentials in this finding belong to a %s principal, not an IAM user, so Picket will not disable a user; escalate instead.", t.PrincipalType), picket.ActionEscalate
}

// arnRefusal checks that the user IAM resolved is the one the finding
// names: same account, and, when the finding gives an ARN, a user ARN
// (not a role of the same name) with the same name.
func arnRefusal(t picket.Resource, name, account, resolved string) string {
	a, err := arn.Parse(resolved)
	if err != nil || a.AccountID != account {
		return fmt.Sprintf("IAM resolved user %s to %s, which is not in account %s, so Picket will not act on it.", name, resolved, account)
	}
	if t.ARN == "" {
		return ""
	}
	want, err := arn.Parse(t.ARN)
	if err != nil || want.AccountID != account || !strings.HasPrefix(want.Resource, "user/") ||
		!strings.EqualFold(afterSlash(want.Resource), afterSlash(a.Resource)) {
		return fmt.Sprintf("The finding names %s, but IAM resolves %s to %s; Picket will not act on a user the finding does not name exactly.", t.ARN, name, resolved)
	}
	return ""
}

// Plan implements picket.Responder. It reads the user (GetUser,
// ListUserTags, ListAccessKeys), checks the guardrails and lists every call
// Execute makes.
func (d *DisableUser) Plan(ctx context.Context, req picket.ActionRequest, f *picket.Finding) (picket.Plan, error) {
	plan := picket.Plan{Request: req}
	name, root := userOf(req.Target)
	if root {
		plan.Refusal, plan.Alternative = rootRefusal, picket.ActionEscalate
		return plan, nil
	}
	if r, alt := principalRefusal(req.Target); r != "" {
		plan.Refusal, plan.Alternative = r, alt
		return plan, nil
	}
	if name == "" {
		plan.Refusal = "This finding names no IAM user to disable."
		return plan, nil
	}
	c, err := d.Clients(ctx, req.Account, req.Region)
	if err != nil {
		return picket.Plan{}, fmt.Errorf("disable user %s: %w", name, err)
	}
	if c.IAM == nil {
		plan.Refusal = fmt.Sprintf("Picket has no IAM access in account %s.", req.Account)
		return plan, nil
	}
	u, err := c.IAM.GetUser(ctx, &iam.GetUserInput{UserName: &name})
	if err != nil {
		if isCode(err, "NoSuchEntity") {
			plan.Refusal = fmt.Sprintf("IAM user %s does not exist in account %s (it may have been deleted already), so there is nothing to disable.", name, req.Account)
			return plan, nil
		}
		code, _ := apiError(err)
		return picket.Plan{}, &picket.Error{Code: picket.EUNAVAILABLE, Err: fmt.Errorf("get user %s: %w", name, err),
			Message: fmt.Sprintf("Picket could not read IAM user %s in account %s (%s), so it cannot plan disabling it.", name, req.Account, orUnknownCode(code))}
	}
	userARN := aws.ToString(u.User.Arn)
	if r := arnRefusal(req.Target, name, req.Account, userARN); r != "" {
		plan.Refusal = r
		return plan, nil
	}
	tags, err := userTags(ctx, c.IAM, name)
	if err != nil {
		// Fail closed: without the tags the protecting tag cannot be checked.
		code, _ := apiError(err)
		plan.Refusal = fmt.Sprintf("Picket could not read the tags of IAM user %s (%s), so it cannot check that the user is not protected.", name, orUnknownCode(code))
		return plan, nil
	}
	if reason, protected := d.Guard.UserProtected(name, userARN, tags); protected {
		plan.Refusal = reason
		return plan, nil
	}
	add := func(op, desc string) {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: op, Description: desc})
	}
	add("iam:GetUser", fmt.Sprintf("Record the state of %s, which IAM resolves to %s (access keys, attached and inline policies, groups, login profile, MFA devices, tags), as evidence and for Undo.", name, userARN))
	var active []string
	keys, kerr := c.IAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: &name})
	if kerr != nil {
		add("iam:UpdateAccessKey", fmt.Sprintf("Deactivate (not delete) every active access key of %s (the keys could not be listed now).", name))
	} else {
		for _, k := range keys.AccessKeyMetadata {
			if k.Status == iamtypes.StatusTypeActive {
				id := aws.ToString(k.AccessKeyId)
				active = append(active, id)
				add("iam:UpdateAccessKey", fmt.Sprintf("Deactivate access key %s (it is not deleted).", id))
			}
		}
	}
	pol := d.policyName()
	add("iam:PutUserPolicy", fmt.Sprintf("Attach inline policy %s denying all actions for sessions issued before the moment it is attached, which revokes the sessions %s already has.", pol, name))
	add("iam:TagUser", fmt.Sprintf("Tag the user %s=%s and %s=%s.", userTagCase, req.ID, userTagDisabledBy, req.Actor.ID))
	if f != nil && f.ProductARN != "" && c.SecurityHub != nil {
		add("securityhub:BatchUpdateFindings", "Add a note to the finding in Security Hub.")
	}
	switch {
	case kerr != nil:
		plan.Undo = fmt.Sprintf("Re-activate the keys this deactivates and remove the inline policy %s and the tags.", pol)
	case len(active) == 0:
		plan.Undo = fmt.Sprintf("Remove the inline policy %s and the tags.", pol)
	default:
		plan.Undo = fmt.Sprintf("Re-activate %s %s and remove the inline policy %s and the tags.", plural(len(active), "key", "keys"), strings.Join(active, ", "), pol)
	}
	return plan, nil
}

// Execute implements picket.Responder.
func (d *DisableUser) Execute(ctx context.Context, plan picket.Plan, f *picket.Finding) picket.ActionResult {
	return d.ExecuteWith(ctx, plan, f, nil)
}

// ExecuteWith implements CheckpointResponder. Evidence is recorded first
// and saved through save before the first change; then every containment
// step is attempted even when one fails, so as much as possible is
// contained, and the result says exactly what was done.
func (d *DisableUser) ExecuteWith(ctx context.Context, plan picket.Plan, f *picket.Finding, save Checkpoint) picket.ActionResult {
	req := plan.Request
	res, finish := begin(plan, d.now)
	if plan.Refusal != "" {
		return finish()
	}
	name, root := userOf(req.Target)
	if root {
		res.Outcome, res.Summary = picket.OutcomeRefused, rootRefusal
		return finish()
	}
	if r, _ := principalRefusal(req.Target); r != "" {
		res.Outcome, res.Summary = picket.OutcomeRefused, r
		return finish()
	}
	// Reads are recorded as they happen (never dry), writes through a
	// recorder that is dry in a dry run. The outcome is that of the
	// writes: reading changes nothing.
	reads := &steps{now: d.now}
	writes := &steps{now: d.now, dryRun: req.DryRun}
	result := func() picket.ActionResult {
		res.Steps = append(slices.Clone(reads.results()), writes.results()...)
		res.Outcome = picket.OutcomeOf(writes.results())
		if len(writes.results()) == 0 {
			res.Outcome = picket.OutcomeFailed
		}
		return finish()
	}
	c, err := d.Clients(ctx, req.Account, req.Region)
	if err == nil && c.IAM == nil {
		err = picket.Errorf(picket.EUNAVAILABLE, "Picket has no IAM access in account %s.", req.Account)
	}
	if err != nil {
		recordFailure(writes, "iam:GetUser", "Record the state of "+name, err)
		res.Summary = fmt.Sprintf("Picket could not reach IAM in account %s, so it did not disable %s.", req.Account, name)
		res.NextStep = "Check Picket's access to account " + req.Account + ", or disable the user by hand: deactivate the access keys and attach a deny-all policy."
		return result()
	}

	ev := d.record(ctx, c.IAM, reads, name)
	ev.Finding = refOf(f)
	if ev.missing {
		// The user is gone: nothing to contain.
		writes.skip("iam:UpdateAccessKey", "Deactivate the access keys of "+name, "the user does not exist")
		res.Outcome = picket.OutcomeFailed
		res.Steps = reads.results()
		res.Summary = fmt.Sprintf("IAM user %s no longer exists in account %s; Picket changed nothing.", name, req.Account)
		res.NextStep = "Check CloudTrail for who deleted the user and whether other users or roles were created."
		res.Evidence, _ = json.Marshal(ev.UserEvidence)
		return finish()
	}
	// Protection is checked again with the state just read: the user may
	// have been tagged since the plan was shown. Without the tags it cannot
	// be checked, so Picket does nothing (fail closed).
	refusal := ""
	if !ev.tagsKnown {
		refusal = fmt.Sprintf("Picket could not read the tags of IAM user %s (%s), so it cannot check that the user is not protected; it changed nothing.", name, strings.Join(ev.Unread, ", "))
	} else if reason, protected := d.Guard.UserProtected(name, ev.ARN, ev.Tags); protected {
		refusal = reason
	} else if ev.ARN != "" {
		refusal = arnRefusal(req.Target, name, req.Account, ev.ARN)
	}
	if refusal != "" {
		res.Steps, res.Outcome, res.Summary = reads.results(), picket.OutcomeRefused, refusal
		res.Evidence, _ = json.Marshal(ev.UserEvidence)
		return finish()
	}

	// What the steps below set out to change goes to the store before the
	// first of them, so that an Undo after a restart restores it.
	pol := d.policyName()
	notBefore := d.now().UTC().Truncate(time.Second)
	tagVals := map[string]string{userTagCase: req.ID, userTagDisabledBy: orDefault(req.Actor.ID, "picket")}
	tagKeys := []string{userTagCase, userTagDisabledBy}
	intended := ev.UserEvidence
	intended.Intended, intended.PolicyName = true, pol
	intended.PolicyExisted = slices.Contains(ev.InlinePolicies, pol)
	intended.PolicyAttached, intended.PolicyNotBefore = true, notBefore
	intended.DeactivatedKeys = nil
	for _, k := range ev.AccessKeys {
		if k.Status == string(iamtypes.StatusTypeActive) {
			intended.DeactivatedKeys = append(intended.DeactivatedKeys, k.ID)
		}
	}
	intended.TagsSet, intended.TagsBefore = tagKeys, previousTags(ev.Tags, tagKeys)
	if err := save.save(req.DryRun, intended); err != nil {
		res.Steps, res.Outcome = reads.results(), picket.OutcomeFailed
		res.Summary = fmt.Sprintf("Picket could not save the state of IAM user %s before changing it, so it changed nothing.", name)
		res.NextStep = "Check the bot's data volume and try again."
		return finish()
	}

	// 1. Long-term credentials: deactivate every active key. Keys are never
	// deleted, so Undo can restore them and the evidence stays.
	active := 0
	if ev.keysKnown {
		for _, k := range ev.AccessKeys {
			if k.Status != string(iamtypes.StatusTypeActive) {
				continue
			}
			active++
			id := k.ID
			if writes.call("iam:UpdateAccessKey", fmt.Sprintf("Deactivate access key %s of %s", id, name), func() (middleware.Metadata, error) {
				out, err := c.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: &name, AccessKeyId: &id, Status: iamtypes.StatusTypeInactive})
				return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
			}) && !req.DryRun {
				ev.DeactivatedKeys = append(ev.DeactivatedKeys, id)
			}
		}
	} else {
		writes.skip("iam:UpdateAccessKey", "Deactivate the access keys of "+name, "the keys could not be listed")
	}

	// 2. Temporary credentials: deactivating a key does not end the
	// sessions already issued with it (GetSessionToken, AssumeRole chains,
	// console sessions), which stay valid for up to 36 hours. An explicit
	// Deny on every action for requests whose aws:TokenIssueTime is before
	// now ends all of them at once: explicit denies win over any allow.
	// Requests signed with a long-term key carry no aws:TokenIssueTime, so
	// the condition does not match them; that is what step 1 is for.
	ev.PolicyName = pol
	ev.PolicyExisted = slices.Contains(ev.InlinePolicies, pol)
	doc := denyAllBefore(notBefore)
	if writes.call("iam:PutUserPolicy", fmt.Sprintf("Attach inline policy %s to %s, denying all actions for sessions issued before %s", pol, name, notBefore.Format(time.RFC3339)), func() (middleware.Metadata, error) {
		out, err := c.IAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &name, PolicyName: &pol, PolicyDocument: &doc})
		return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
	}) && !req.DryRun {
		ev.PolicyAttached, ev.PolicyNotBefore = true, notBefore
	}

	// 3. Mark the user with the case, so anyone looking at it in the
	// console sees why it stopped working.
	if writes.call("iam:TagUser", fmt.Sprintf("Tag %s with %s=%s and %s=%s", name, userTagCase, tagVals[userTagCase], userTagDisabledBy, tagVals[userTagDisabledBy]), func() (middleware.Metadata, error) {
		tags := make([]iamtypes.Tag, 0, len(tagKeys))
		for _, k := range tagKeys {
			tags = append(tags, iamtypes.Tag{Key: aws.String(k), Value: aws.String(tagVals[k])})
		}
		out, err := c.IAM.TagUser(ctx, &iam.TagUserInput{UserName: &name, Tags: tags})
		return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
	}) && !req.DryRun {
		ev.TagsSet, ev.TagsBefore = tagKeys, previousTags(ev.Tags, tagKeys)
	}

	// 4. The note says what was done, so the finding's history in Security
	// Hub shows the response.
	if f != nil {
		note := fmt.Sprintf("Picket disabled IAM user %s (case %s) at the request of %s: %d of %d active access keys deactivated, deny policy %s %s.",
			name, req.ID, nameOf(req.Actor), len(ev.DeactivatedKeys), active, pol, attachedWord(ev.PolicyAttached))
		noteFinding(ctx, writes, c.SecurityHub, f, note, "Picket")
	}

	res.Evidence, _ = json.Marshal(ev.UserEvidence)
	out := result()
	out.Summary, out.NextStep = disableSummary(name, &ev.UserEvidence, active, out.Outcome, writes.results())
	return out
}

// recorded is UserEvidence with what Execute needs to know about the reads.
type recorded struct {
	UserEvidence
	missing   bool // GetUser said NoSuchEntity
	keysKnown bool
	tagsKnown bool
}

// record reads the user's state. Each read is a step; a failed read leaves
// its part of the evidence empty and is listed in Unread.
func (d *DisableUser) record(ctx context.Context, c IAMAPI, st *steps, name string) *recorded {
	ev := &recorded{UserEvidence: UserEvidence{UserName: name, PolicyName: d.policyName(),
		AccessKeys: []AccessKeyEvidence{}, AttachedPolicies: []string{}, InlinePolicies: []string{},
		Groups: []string{}, MFADevices: []string{}, Tags: map[string]string{}}}
	unread := func(op string, err error) {
		code, _ := apiError(err)
		ev.Unread = append(ev.Unread, op+": "+orUnknownCode(code))
	}
	read := func(op, desc string, fn func() (middleware.Metadata, error)) bool {
		var callErr error
		ok := st.call(op, desc, func() (middleware.Metadata, error) {
			md, err := fn()
			callErr = err
			return md, err
		})
		if !ok {
			unread(op, callErr)
		}
		return ok
	}

	ok := read("iam:GetUser", "Record user "+name, func() (middleware.Metadata, error) {
		out, err := c.GetUser(ctx, &iam.GetUserInput{UserName: &name})
		if err != nil {
			if isCode(err, "NoSuchEntity") {
				ev.missing = true
			}
			return middleware.Metadata{}, err
		}
		ev.UserID, ev.ARN = aws.ToString(out.User.UserId), aws.ToString(out.User.Arn)
		ev.Created = aws.ToTime(out.User.CreateDate).UTC()
		return out.ResultMetadata, nil
	})
	if !ok && ev.missing {
		return ev
	}
	ev.keysKnown = read("iam:ListAccessKeys", "Record the access keys of "+name, func() (middleware.Metadata, error) {
		out, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: &name})
		if err != nil {
			return middleware.Metadata{}, err
		}
		// A user has at most two access keys: one page holds them.
		for _, k := range out.AccessKeyMetadata {
			ev.AccessKeys = append(ev.AccessKeys, AccessKeyEvidence{ID: aws.ToString(k.AccessKeyId), Status: string(k.Status), Created: aws.ToTime(k.CreateDate).UTC()})
		}
		return out.ResultMetadata, nil
	})
	read("iam:ListAttachedUserPolicies", "Record the managed policies attached to "+name, func() (middleware.Metadata, error) {
		var md middleware.Metadata
		in := &iam.ListAttachedUserPoliciesInput{UserName: &name}
		for {
			out, err := c.ListAttachedUserPolicies(ctx, in)
			if err != nil {
				return md, err
			}
			md = out.ResultMetadata
			for _, p := range out.AttachedPolicies {
				ev.AttachedPolicies = append(ev.AttachedPolicies, aws.ToString(p.PolicyArn))
			}
			if !out.IsTruncated || out.Marker == nil {
				return md, nil
			}
			in.Marker = out.Marker
		}
	})
	read("iam:ListUserPolicies", "Record the inline policies of "+name, func() (middleware.Metadata, error) {
		var md middleware.Metadata
		in := &iam.ListUserPoliciesInput{UserName: &name}
		for {
			out, err := c.ListUserPolicies(ctx, in)
			if err != nil {
				return md, err
			}
			md = out.ResultMetadata
			ev.InlinePolicies = append(ev.InlinePolicies, out.PolicyNames...)
			if !out.IsTruncated || out.Marker == nil {
				return md, nil
			}
			in.Marker = out.Marker
		}
	})
	read("iam:ListGroupsForUser", "Record the groups of "+name, func() (middleware.Metadata, error) {
		var md middleware.Metadata
		in := &iam.ListGroupsForUserInput{UserName: &name}
		for {
			out, err := c.ListGroupsForUser(ctx, in)
			if err != nil {
				return md, err
			}
			md = out.ResultMetadata
			for _, g := range out.Groups {
				ev.Groups = append(ev.Groups, aws.ToString(g.GroupName))
			}
			if !out.IsTruncated || out.Marker == nil {
				return md, nil
			}
			in.Marker = out.Marker
		}
	})
	read("iam:GetLoginProfile", "Record whether "+name+" can sign in to the console", func() (middleware.Metadata, error) {
		out, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: &name})
		if err != nil {
			if isCode(err, "NoSuchEntity") {
				// No password: the user cannot sign in to the console. The
				// call itself answered, so the step is done.
				return middleware.Metadata{}, nil
			}
			return middleware.Metadata{}, err
		}
		ev.LoginProfile = true
		if out.LoginProfile != nil {
			ev.LoginProfileCreated = aws.ToTime(out.LoginProfile.CreateDate).UTC()
		}
		return out.ResultMetadata, nil
	})
	read("iam:ListMFADevices", "Record the MFA devices of "+name, func() (middleware.Metadata, error) {
		out, err := c.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: &name})
		if err != nil {
			return middleware.Metadata{}, err
		}
		for _, m := range out.MFADevices {
			ev.MFADevices = append(ev.MFADevices, aws.ToString(m.SerialNumber))
		}
		return out.ResultMetadata, nil
	})
	ev.tagsKnown = read("iam:ListUserTags", "Record the tags of "+name, func() (middleware.Metadata, error) {
		var md middleware.Metadata
		in := &iam.ListUserTagsInput{UserName: &name}
		for {
			out, err := c.ListUserTags(ctx, in)
			if err != nil {
				return md, err
			}
			md = out.ResultMetadata
			for _, t := range out.Tags {
				ev.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			if !out.IsTruncated || out.Marker == nil {
				return md, nil
			}
			in.Marker = out.Marker
		}
	})
	return ev
}

// previousTags returns the values tags had for keys, nil when none had one.
func previousTags(tags map[string]string, keys []string) map[string]string {
	var out map[string]string
	for _, k := range keys {
		if v, ok := tags[k]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// userTags reads every tag of an IAM user.
func userTags(ctx context.Context, c IAMAPI, name string) (map[string]string, error) {
	tags := map[string]string{}
	in := &iam.ListUserTagsInput{UserName: &name}
	for {
		out, err := c.ListUserTags(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list tags of user %s: %w", name, err)
		}
		for _, t := range out.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if !out.IsTruncated || out.Marker == nil {
			return tags, nil
		}
		in.Marker = out.Marker
	}
}

// denyAllBefore is the inline policy that revokes every session issued
// before t.
func denyAllBefore(t time.Time) string {
	type condition struct {
		DateLessThan map[string]string `json:"DateLessThan"`
	}
	type statement struct {
		Effect    string    `json:"Effect"`
		Action    string    `json:"Action"`
		Resource  string    `json:"Resource"`
		Condition condition `json:"Condition"`
	}
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{"2012-10-17", []statement{{Effect: "Deny", Action: "*", Resource: "*",
		Condition: condition{DateLessThan: map[string]string{"aws:TokenIssueTime": t.UTC().Format(time.RFC3339)}}}}}
	b, _ := json.Marshal(doc) // cannot fail: plain strings
	return string(b)
}

// disableSummary says in one sentence what a disable did, and what to do
// next.
func disableSummary(name string, ev *UserEvidence, active int, outcome picket.ActionOutcome, st []picket.StepResult) (summary, next string) {
	deactivated := len(ev.DeactivatedKeys)
	keyPhrase := func() string {
		if active == 0 {
			return "it had no active access keys"
		}
		return fmt.Sprintf("%d of %d %s deactivated", deactivated, active, plural(active, "key", "keys"))
	}
	consoleWarning := ""
	if ev.LoginProfile {
		consoleWarning = " The console password still works for new sign-ins: reset it or delete the login profile if it may be compromised."
	}
	unread := ""
	if len(ev.Unread) > 0 {
		unread = " The recorded state is incomplete (" + strings.Join(ev.Unread, ", ") + ")."
	}
	switch outcome {
	case picket.OutcomeDryRunned:
		return fmt.Sprintf("Dry run: Picket would disable IAM user %s: deactivate %d active access %s, attach %s and tag the user; nothing was changed.",
			name, active, plural(active, "key", "keys"), ev.PolicyName), ""
	case picket.OutcomeSucceeded:
		if active == 0 {
			summary = fmt.Sprintf("Disabled IAM user %s: no active keys to deactivate, sessions revoked.", name)
		} else {
			summary = fmt.Sprintf("Disabled IAM user %s: %d %s deactivated, sessions revoked.", name, deactivated, plural(deactivated, "key", "keys"))
		}
		return summary + unread, "Review CloudTrail for what the user did, rotate its credentials, and use Undo to restore access once it is cleared." + consoleWarning
	}

	var clauses, todo []string
	failed := func(op string) (picket.StepResult, bool) {
		for _, s := range st {
			if s.Operation == op && s.Status == picket.StepFailed {
				return s, true
			}
		}
		return picket.StepResult{}, false
	}
	keysOK := true
	if s, ok := failed("iam:UpdateAccessKey"); ok {
		keysOK = false
		todo = append(todo, advice(s, "iam:UpdateAccessKey", "deactivate the remaining access keys by hand"))
	} else if skippedOp(st, "iam:UpdateAccessKey") {
		keysOK = false
		clauses = append(clauses, "the access keys could not be listed, so none were deactivated")
		todo = append(todo, "Deactivate the user's access keys by hand.")
	}
	if keysOK || active > 0 {
		clauses = append([]string{keyPhrase()}, clauses...)
	}
	if s, ok := failed("iam:PutUserPolicy"); ok {
		clauses = append(clauses, fmt.Sprintf("the deny policy could not be attached (%s)", orUnknownCode(s.ErrorCode)))
		todo = append(todo, advice(s, "iam:PutUserPolicy", "attach the policy by hand"))
	} else {
		clauses = append(clauses, "sessions revoked")
	}
	if s, ok := failed("iam:TagUser"); ok {
		clauses = append(clauses, fmt.Sprintf("the user could not be tagged (%s)", orUnknownCode(s.ErrorCode)))
		todo = append(todo, advice(s, "iam:TagUser", "tag the user by hand"))
	}
	if s, ok := failed("securityhub:BatchUpdateFindings"); ok {
		clauses = append(clauses, fmt.Sprintf("the finding could not be noted (%s)", orUnknownCode(s.ErrorCode)))
		todo = append(todo, advice(s, "securityhub:BatchUpdateFindings", "add the note in Security Hub by hand"))
	}
	if outcome == picket.OutcomeFailed {
		summary = fmt.Sprintf("Picket could not disable %s: %s. Nothing was changed.", name, joinClauses(clauses))
	} else {
		summary = fmt.Sprintf("Partly disabled %s: %s.", name, joinClauses(clauses))
	}
	return summary + unread, strings.Join(todo, " ") + consoleWarning
}

// advice says what to do about a failed step: grant the permission when
// it was refused, otherwise retry; or do it by hand.
func advice(s picket.StepResult, op, byHand string) string {
	if strings.Contains(s.ErrorCode, "AccessDenied") || s.ErrorCode == "UnauthorizedOperation" {
		return fmt.Sprintf("Grant %s to the Picket role or %s.", op, byHand)
	}
	return fmt.Sprintf("Retry, or %s (%s failed: %s).", byHand, op, orUnknownCode(s.ErrorCode))
}

func skippedOp(st []picket.StepResult, op string) bool {
	for _, s := range st {
		if s.Operation == op && s.Status == picket.StepSkipped {
			return true
		}
	}
	return false
}

// joinClauses joins clauses with ", " and "; " before the failures, as a
// person would write them.
func joinClauses(cs []string) string {
	if len(cs) == 0 {
		return "no step was done"
	}
	out := cs[0]
	for _, c := range cs[1:] {
		if strings.HasPrefix(c, "the ") {
			out += "; " + c
		} else {
			out += ", " + c
		}
	}
	return out
}

func attachedWord(attached bool) string {
	if attached {
		return "attached"
	}
	return "not attached"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orUnknownCode(code string) string {
	if code == "" {
		return "unknown error"
	}
	return code
}

// PlanUndo implements Undoer: it plans restoring exactly what the original
// disable changed, from its evidence. It reads only GetUser, to refuse
// when the user no longer exists.
func (d *DisableUser) PlanUndo(ctx context.Context, original picket.ActionRecord, req picket.ActionRequest) (picket.Plan, error) {
	plan := picket.Plan{Request: req}
	ev, refusal := undoableEvidence(original)
	if refusal != "" {
		plan.Refusal = refusal
		return plan, nil
	}
	c, refusal, err := iamForUndo(ctx, d.Clients, original, "user", ev.UserName, func(ctx context.Context, api IAMAPI) error {
		_, err := api.GetUser(ctx, &iam.GetUserInput{UserName: &ev.UserName})
		return err
	})
	if err != nil {
		return picket.Plan{}, err
	}
	if refusal != "" {
		plan.Refusal = refusal
		return plan, nil
	}
	var what []string
	for _, k := range ev.DeactivatedKeys {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: "iam:UpdateAccessKey", Description: fmt.Sprintf("Re-activate access key %s.", k)})
	}
	if n := len(ev.DeactivatedKeys); n > 0 {
		what = append(what, fmt.Sprintf("re-activates %s %s", plural(n, "key", "keys"), strings.Join(ev.DeactivatedKeys, ", ")))
	}
	if ev.PolicyAttached && !ev.PolicyExisted {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: "iam:DeleteUserPolicy", Description: fmt.Sprintf("Remove the inline policy %s.", ev.PolicyName)})
		what = append(what, "removes the inline policy "+ev.PolicyName)
	}
	if add, remove := tagRestore(ev); len(add)+len(remove) > 0 {
		if len(remove) > 0 {
			plan.Steps = append(plan.Steps, picket.PlanStep{Operation: "iam:UntagUser", Description: "Remove the tags " + strings.Join(remove, ", ") + "."})
		}
		if len(add) > 0 {
			plan.Steps = append(plan.Steps, picket.PlanStep{Operation: "iam:TagUser", Description: "Put back the earlier values of the tags " + strings.Join(slices.Sorted(mapKeys(add)), ", ") + "."})
		}
		what = append(what, "restores the tags")
	}
	if len(plan.Steps) == 0 {
		plan.Refusal = fmt.Sprintf("The disable of %s changed nothing that Undo can restore.", ev.UserName)
		return plan, nil
	}
	if ev.Finding.ProductARN != "" && c.SecurityHub != nil {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: "securityhub:BatchUpdateFindings", Description: "Add a note to the finding in Security Hub."})
	}
	if ev.PolicyAttached && ev.PolicyExisted {
		what = append(what, "leaves the inline policy "+ev.PolicyName+", which was there before")
	}
	plan.Undo = "This " + joinAnd(what) + "."
	return plan, nil
}

// undoableEvidence decodes the evidence of a disable that can be undone, or
// says why it cannot.
func undoableEvidence(rec picket.ActionRecord) (*UserEvidence, string) {
	if rec.Request.Kind != "" && rec.Request.Kind != picket.ActionDisableUser {
		return nil, "That action is not a Disable user."
	}
	if rec.Result == nil {
		return nil, "That disable has not run, so there is nothing to undo."
	}
	switch rec.Result.Outcome {
	case picket.OutcomeSucceeded, picket.OutcomePartial:
	default:
		return nil, fmt.Sprintf("That disable ended %s and changed nothing, so there is nothing to undo.", strings.ReplaceAll(string(rec.Result.Outcome), "_", " "))
	}
	if len(rec.Result.Evidence) == 0 {
		return nil, "Picket has no record of the user's state before the disable, so it cannot undo it."
	}
	var ev UserEvidence
	if err := json.Unmarshal(rec.Result.Evidence, &ev); err != nil || ev.UserName == "" {
		return nil, "Picket has no readable record of the user's state before the disable, so it cannot undo it."
	}
	if ev.PolicyName == "" {
		ev.PolicyName = DefaultDenyPolicyName
	}
	return &ev, ""
}

// tagRestore returns the tags to put back (with their earlier values) and
// the tag keys to remove.
func tagRestore(ev *UserEvidence) (add map[string]string, remove []string) {
	add = map[string]string{}
	for _, k := range ev.TagsSet {
		if v, ok := ev.TagsBefore[k]; ok {
			add[k] = v
		} else {
			remove = append(remove, k)
		}
	}
	return add, remove
}

// ExecuteUndo implements Undoer. Every restoring step is attempted; the
// result says which were done.
func (d *DisableUser) ExecuteUndo(ctx context.Context, plan picket.Plan, original picket.ActionRecord) picket.ActionResult {
	req := plan.Request
	res, finish := begin(plan, d.now)
	if plan.Refusal != "" {
		return finish()
	}
	ev, refusal := undoableEvidence(original)
	if refusal != "" {
		res.Outcome, res.Summary = picket.OutcomeRefused, refusal
		return finish()
	}
	name := ev.UserName
	st := &steps{now: d.now, dryRun: req.DryRun}
	c, err := d.Clients(ctx, original.Request.Account, original.Request.Region)
	if err == nil && c.IAM == nil {
		err = picket.Errorf(picket.EUNAVAILABLE, "Picket has no IAM access in account %s.", original.Request.Account)
	}
	if err != nil {
		recordFailure(st, "iam:UpdateAccessKey", "Re-activate the access keys of "+name, err)
		res.Steps, res.Outcome = st.results(), picket.OutcomeFailed
		res.Summary = fmt.Sprintf("Picket could not reach IAM in account %s, so it restored nothing for %s.", original.Request.Account, name)
		res.NextStep = "Check Picket's access to the account and try Undo again."
		return finish()
	}
	reactivated := 0
	for _, k := range ev.DeactivatedKeys {
		id := k
		if st.call("iam:UpdateAccessKey", fmt.Sprintf("Re-activate access key %s of %s", id, name), func() (middleware.Metadata, error) {
			out, err := c.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: &name, AccessKeyId: &id, Status: iamtypes.StatusTypeActive})
			return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
		}) {
			reactivated++
		}
	}
	policyRemoved := false
	if ev.PolicyAttached && !ev.PolicyExisted {
		pol := ev.PolicyName
		policyRemoved = st.call("iam:DeleteUserPolicy", fmt.Sprintf("Remove inline policy %s from %s", pol, name), func() (middleware.Metadata, error) {
			out, err := c.IAM.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: &name, PolicyName: &pol})
			if isCode(err, "NoSuchEntity") {
				return middleware.Metadata{}, nil // already gone: the state is what Undo wants
			}
			return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
		})
	}
	add, remove := tagRestore(ev)
	if len(remove) > 0 {
		st.call("iam:UntagUser", fmt.Sprintf("Remove tags %s from %s", strings.Join(remove, ", "), name), func() (middleware.Metadata, error) {
			out, err := c.IAM.UntagUser(ctx, &iam.UntagUserInput{UserName: &name, TagKeys: remove})
			return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
		})
	}
	if len(add) > 0 {
		keys := slices.Sorted(mapKeys(add))
		st.call("iam:TagUser", fmt.Sprintf("Put back the earlier values of tags %s on %s", strings.Join(keys, ", "), name), func() (middleware.Metadata, error) {
			tags := make([]iamtypes.Tag, 0, len(keys))
			for _, k := range keys {
				tags = append(tags, iamtypes.Tag{Key: aws.String(k), Value: aws.String(add[k])})
			}
			out, err := c.IAM.TagUser(ctx, &iam.TagUserInput{UserName: &name, Tags: tags})
			return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
		})
	}
	if ev.Finding.ProductARN != "" {
		note := fmt.Sprintf("Picket undid the disable of IAM user %s (case %s) at the request of %s: %d of %d access keys re-activated, deny policy %s.",
			name, original.Request.ID, nameOf(req.Actor), reactivated, len(ev.DeactivatedKeys), removedWord(policyRemoved, ev))
		noteFinding(ctx, st, c.SecurityHub, ev.Finding.finding(), note, "Picket")
	}
	res.Steps = st.results()
	res.Outcome = picket.OutcomeOf(res.Steps)
	res.Evidence = original.Result.Evidence
	switch res.Outcome {
	case picket.OutcomeDryRunned:
		res.Summary = fmt.Sprintf("Dry run: Picket would restore IAM user %s with %d steps; nothing was changed.", name, len(res.Steps))
	case picket.OutcomeSucceeded:
		res.Summary = fmt.Sprintf("Restored IAM user %s: %d %s re-activated, deny policy %s, tags removed.", name, reactivated, plural(reactivated, "key", "keys"), removedWord(policyRemoved, ev))
		res.NextStep = "Watch the user's activity in CloudTrail for a while."
	default:
		res.Summary = fmt.Sprintf("Partly restored %s: %d of %d keys re-activated; failed: %s.", name, reactivated, len(ev.DeactivatedKeys), failedList(res.Steps))
		if res.Outcome == picket.OutcomeFailed {
			res.Summary = fmt.Sprintf("Picket could not restore %s; failed: %s.", name, failedList(res.Steps))
		}
		res.NextStep = "Finish the failed steps by hand in the IAM console, or grant the Picket role the permissions named and try Undo again."
	}
	return finish()
}

func removedWord(removed bool, ev *UserEvidence) string {
	switch {
	case removed:
		return "removed"
	case ev.PolicyExisted:
		return "left in place (it was there before)"
	case !ev.PolicyAttached:
		return "not attached by the disable"
	}
	return "not removed"
}

// failedList lists failed steps as "operation (code)".
func failedList(st []picket.StepResult) string {
	var out []string
	for _, s := range st {
		if s.Status == picket.StepFailed {
			e := s.Operation + " (" + orUnknownCode(s.ErrorCode) + ")"
			if !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	return strings.Join(out, ", ")
}

func joinAnd(ss []string) string {
	switch len(ss) {
	case 0:
		return ""
	case 1:
		return ss[0]
	}
	return strings.Join(ss[:len(ss)-1], ", ") + " and " + ss[len(ss)-1]
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// callResult returns the result metadata of a call that succeeded, or its
// error. md is only called on success, when the output is not nil.
func callResult(err error, md func() middleware.Metadata) (middleware.Metadata, error) {
	if err != nil {
		return middleware.Metadata{}, err
	}
	return md(), nil
}

// recordFailure records a step that failed outside steps.call: the clients
// could not be had, so the call was never made.
func recordFailure(st *steps, op, desc string, err error) {
	r := picket.StepResult{Operation: op, Description: desc, Status: picket.StepFailed, At: st.now().UTC()}
	r.ErrorCode, r.Error = apiError(err)
	if r.ErrorCode == "" {
		r.Error = picket.ErrorMessage(err)
	}
	r.RequestID = requestIDOfError(err)
	st.list = append(st.list, r)
}
