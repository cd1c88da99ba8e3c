package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/detective"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go/middleware"

	"github.com/picketsec/picket"
)

// Escalate hands a finding to Amazon Detective: it starts an investigation
// of the IAM user or role behind the finding (for an instance, its role),
// notes the finding with a link to the principal's Detective profile and,
// when TopicARN is set, publishes a notice to the on-call SNS topic. It
// implements picket.Responder for picket.ActionEscalate. The post to the
// escalation Slack channel is the Service's job.
//
// Detective's StartInvestigation accepts only IAM user and role ARNs, so a
// finding about the root user, a bucket or an account alone is refused
// with the reason.
type Escalate struct {
	Clients ClientsFunc
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// TopicARN is the optional on-call SNS topic. Its own account and
	// region are used to publish.
	TopicARN string
}

// EscalationEvidence is what an escalation found and started.
type EscalationEvidence struct {
	// PrincipalType is "user" or "role"; PrincipalID is the IAM unique id
	// (AIDA..., AROA...), empty when it could not be read.
	PrincipalType string `json:"principal_type"`
	PrincipalARN  string `json:"principal_arn"`
	PrincipalID   string `json:"principal_id,omitempty"`
	// Via says how the principal was found ("role of instance i-0abc
	// through instance profile web").
	Via             string    `json:"via,omitempty"`
	GraphARN        string    `json:"graph_arn,omitempty"`
	InvestigationID string    `json:"investigation_id,omitempty"`
	ScopeStart      time.Time `json:"scope_start"`
	ScopeEnd        time.Time `json:"scope_end"`
	// Link opens the principal's Detective profile (or the investigation
	// list when the principal id is unknown).
	Link string `json:"link,omitempty"`
	// MessageID is the SNS message id of the on-call notice.
	MessageID string `json:"message_id,omitempty"`
}

func (e *Escalate) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

// principal is the IAM identity an escalation investigates.
type principal struct {
	kind string // "user" or "role"
	name string
	arn  string
	id   string // unique id, for the profile link
	via  string
}

func (p *principal) label() string {
	s := "IAM " + p.kind + " " + p.name
	if p.via != "" {
		s += " (" + p.via + ")"
	}
	return s
}

const noPrincipalRefusal = "Detective investigates only IAM users and roles, and this finding names none (nor an instance with a role)."

// resolve finds the principal of the finding, recording its read calls in
// st. refusal is set when there is none; err when it could not be found
// out.
func (e *Escalate) resolve(ctx context.Context, c Clients, st *steps, req picket.ActionRequest, f *picket.Finding) (p *principal, refusal string, err error) {
	cands := []picket.Resource{req.Target}
	if f != nil {
		cands = append(cands, f.Resources...)
	}
	part := partitionOf(req.Target.ARN)
	if f != nil && part == "aws" {
		part = partitionOf(f.ARN)
	}
	root := false
	var pick *picket.Resource
	for i := range cands {
		switch cands[i].Kind {
		case picket.ResourceIAMUser, picket.ResourceIAMRole, picket.ResourceRoleSession, picket.ResourceEC2Instance:
			pick = &cands[i]
		case picket.ResourceRoot:
			root = true
		}
		if pick != nil {
			break
		}
	}
	if pick == nil {
		// A long-term key (AKIA) belongs to an IAM user; a temporary one
		// (ASIA) to a session whose role the finding would have named.
		for i := range cands {
			if r := cands[i]; r.Kind == picket.ResourceAccessKey && r.UserName != "" && strings.HasPrefix(r.ID, "AKIA") {
				pick = &picket.Resource{Kind: picket.ResourceIAMUser, ID: r.UserName}
				break
			}
		}
	}
	if pick == nil {
		if root {
			return nil, "Detective cannot investigate the root user (StartInvestigation accepts only IAM users and roles); review the root user's activity in CloudTrail and secure its credentials.", nil
		}
		return nil, noPrincipalRefusal, nil
	}
	switch pick.Kind {
	case picket.ResourceIAMUser:
		return e.resolveUser(ctx, c, st, req, part, *pick)
	case picket.ResourceIAMRole, picket.ResourceRoleSession:
		return e.resolveRole(ctx, c, st, req, part, *pick)
	}
	return e.resolveInstance(ctx, c, st, req, pick.ID)
}

func (e *Escalate) resolveUser(ctx context.Context, c Clients, st *steps, req picket.ActionRequest, part string, r picket.Resource) (*principal, string, error) {
	p := &principal{kind: "user", name: r.ID, arn: r.ARN}
	if p.name == "" {
		p.name = afterSlash(r.ARN)
	}
	if c.IAM != nil {
		var gerr error
		st.call("iam:GetUser", "Find the ARN and id of IAM user "+p.name, func() (middleware.Metadata, error) {
			out, err := c.IAM.GetUser(ctx, &iam.GetUserInput{UserName: &p.name})
			if err != nil {
				gerr = err
				return middleware.Metadata{}, err
			}
			p.arn, p.id = aws.ToString(out.User.Arn), aws.ToString(out.User.UserId)
			return out.ResultMetadata, nil
		})
		if isCode(gerr, "NoSuchEntity") {
			return nil, fmt.Sprintf("IAM user %s does not exist in account %s any more, so Detective cannot investigate it.", p.name, req.Account), nil
		}
	}
	if p.arn == "" {
		p.arn = fmt.Sprintf("arn:%s:iam::%s:user/%s", part, req.Account, p.name)
	}
	return p, "", nil
}

func (e *Escalate) resolveRole(ctx context.Context, c Clients, st *steps, req picket.ActionRequest, part string, r picket.Resource) (*principal, string, error) {
	p := &principal{kind: "role", name: r.ID}
	if a, err := arn.Parse(r.ARN); err == nil {
		switch {
		case a.Service == "iam" && strings.HasPrefix(a.Resource, "role/"):
			p.arn = r.ARN
			p.name = afterSlash(a.Resource)
		case a.Service == "sts" && strings.HasPrefix(a.Resource, "assumed-role/"):
			// arn:aws:sts::123:assumed-role/NAME/SESSION: Detective wants
			// the role, not the session.
			if parts := strings.Split(a.Resource, "/"); len(parts) >= 2 {
				p.name = parts[1]
			}
		}
	}
	if p.name == "" {
		return nil, noPrincipalRefusal, nil
	}
	if c.IAM != nil {
		var gerr error
		st.call("iam:GetRole", "Find the ARN and id of IAM role "+p.name, func() (middleware.Metadata, error) {
			out, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: &p.name})
			if err != nil {
				gerr = err
				return middleware.Metadata{}, err
			}
			p.arn, p.id = aws.ToString(out.Role.Arn), aws.ToString(out.Role.RoleId)
			return out.ResultMetadata, nil
		})
		if isCode(gerr, "NoSuchEntity") {
			return nil, fmt.Sprintf("IAM role %s does not exist in account %s any more, so Detective cannot investigate it.", p.name, req.Account), nil
		}
	}
	if p.arn == "" {
		p.arn = fmt.Sprintf("arn:%s:iam::%s:role/%s", part, req.Account, p.name)
	}
	return p, "", nil
}

// resolveInstance finds the role of an instance: its instance profile from
// EC2, then the profile's role from IAM.
func (e *Escalate) resolveInstance(ctx context.Context, c Clients, st *steps, req picket.ActionRequest, id string) (*principal, string, error) {
	if c.EC2 == nil || c.IAM == nil {
		return nil, "", picket.Errorf(picket.EUNAVAILABLE, "Picket needs EC2 and IAM access in account %s, region %s, to find the role of instance %s.", req.Account, req.Region, id)
	}
	var profileARN string
	found := false
	var derr error
	st.call("ec2:DescribeInstances", "Find the instance profile of "+id, func() (middleware.Metadata, error) {
		out, err := c.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			derr = err
			return middleware.Metadata{}, err
		}
		for _, r := range out.Reservations {
			for _, in := range r.Instances {
				if aws.ToString(in.InstanceId) == id {
					found = true
					if in.IamInstanceProfile != nil {
						profileARN = aws.ToString(in.IamInstanceProfile.Arn)
					}
				}
			}
		}
		return out.ResultMetadata, nil
	})
	switch {
	case isCode(derr, "InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"):
		return nil, fmt.Sprintf("Instance %s does not exist in account %s, region %s, so Picket cannot find its role.", id, req.Account, req.Region), nil
	case derr != nil:
		return nil, "", fmt.Errorf("describe instance %s: %w", id, derr)
	case !found:
		return nil, fmt.Sprintf("Instance %s does not exist in account %s, region %s, so Picket cannot find its role.", id, req.Account, req.Region), nil
	case profileARN == "":
		return nil, fmt.Sprintf("Instance %s has no instance profile, so it has no role for Detective to investigate.", id), nil
	}
	profile := afterSlash(profileARN)
	p := &principal{kind: "role", via: fmt.Sprintf("role of instance %s through instance profile %s", id, profile)}
	var gerr error
	st.call("iam:GetInstanceProfile", "Find the role of instance profile "+profile, func() (middleware.Metadata, error) {
		out, err := c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: &profile})
		if err != nil {
			gerr = err
			return middleware.Metadata{}, err
		}
		if ip := out.InstanceProfile; ip != nil && len(ip.Roles) > 0 {
			p.name, p.arn, p.id = aws.ToString(ip.Roles[0].RoleName), aws.ToString(ip.Roles[0].Arn), aws.ToString(ip.Roles[0].RoleId)
		}
		return out.ResultMetadata, nil
	})
	switch {
	case isCode(gerr, "NoSuchEntity"):
		return nil, fmt.Sprintf("Instance profile %s of instance %s no longer exists, so Picket cannot find its role.", profile, id), nil
	case gerr != nil:
		return nil, "", fmt.Errorf("get instance profile %s: %w", profile, gerr)
	case p.arn == "":
		return nil, fmt.Sprintf("Instance profile %s of instance %s has no role, so there is nothing for Detective to investigate.", profile, id), nil
	}
	return p, "", nil
}

// graph finds the region's Detective behavior graph (an account
// administers at most one per region).
func graph(ctx context.Context, d DetectiveAPI, st *steps, region string) (string, error) {
	var g string
	var gerr error
	st.call("detective:ListGraphs", "Find the Detective behavior graph in "+region, func() (middleware.Metadata, error) {
		out, err := d.ListGraphs(ctx, &detective.ListGraphsInput{})
		if err != nil {
			gerr = err
			return middleware.Metadata{}, err
		}
		if len(out.GraphList) > 0 {
			g = aws.ToString(out.GraphList[0].Arn)
		}
		return out.ResultMetadata, nil
	})
	return g, gerr
}

// scope is the investigation's time window: from when the finding's
// activity was first seen (or a day back) to now.
func (e *Escalate) scope(f *picket.Finding) (start, end time.Time) {
	end = e.now().UTC().Truncate(time.Second)
	start = end.Add(-24 * time.Hour)
	if f != nil && !f.FirstSeen.IsZero() && f.FirstSeen.Before(end) {
		start = f.FirstSeen.UTC()
	}
	return start, end
}

// Plan implements picket.Responder: it finds the principal and the
// behavior graph (read-only) and lists the calls Execute makes.
func (e *Escalate) Plan(ctx context.Context, req picket.ActionRequest, f *picket.Finding) (picket.Plan, error) {
	plan := picket.Plan{Request: req}
	c, err := e.Clients(ctx, req.Account, req.Region)
	if err != nil {
		return picket.Plan{}, fmt.Errorf("escalate in %s %s: %w", req.Account, req.Region, err)
	}
	if c.Detective == nil {
		plan.Refusal = fmt.Sprintf("Picket has no Detective access in account %s, region %s.", req.Account, req.Region)
		return plan, nil
	}
	reads := &steps{now: e.now}
	p, refusal, err := e.resolve(ctx, c, reads, req, f)
	if err != nil {
		code, _ := apiError(err)
		return picket.Plan{}, &picket.Error{Code: picket.EUNAVAILABLE, Err: err,
			Message: fmt.Sprintf("Picket could not find the principal to investigate (%s), so it cannot plan the escalation.", orUnknownCode(code))}
	}
	if refusal != "" {
		plan.Refusal = refusal
		return plan, nil
	}
	g, err := graph(ctx, c.Detective, reads, req.Region)
	if err != nil {
		code, _ := apiError(err)
		return picket.Plan{}, &picket.Error{Code: picket.EUNAVAILABLE, Err: fmt.Errorf("list detective graphs: %w", err),
			Message: fmt.Sprintf("Picket could not list the Detective behavior graphs in %s (%s), so it cannot plan the escalation.", req.Region, orUnknownCode(code))}
	}
	if g == "" {
		plan.Refusal = "Detective is not enabled in " + req.Region + ", so there is no behavior graph to investigate in."
		return plan, nil
	}
	for _, s := range reads.results() {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: s.Operation, Description: s.Description + "."})
	}
	start, end := e.scope(f)
	plan.Steps = append(plan.Steps, picket.PlanStep{Operation: "detective:StartInvestigation",
		Description: fmt.Sprintf("Start a Detective investigation of %s (%s) from %s to %s.", p.label(), p.arn, start.Format(time.RFC3339), end.Format(time.RFC3339))})
	if f != nil && f.ProductARN != "" && c.SecurityHub != nil {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: "securityhub:BatchUpdateFindings", Description: "Add a note with the investigation and the Detective link to the finding in Security Hub."})
	}
	if e.TopicARN != "" {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: "sns:Publish", Description: "Notify the on-call team on SNS topic " + e.TopicARN + "."})
	}
	return plan, nil
}

// Execute implements picket.Responder.
func (e *Escalate) Execute(ctx context.Context, plan picket.Plan, f *picket.Finding) picket.ActionResult {
	req := plan.Request
	res, finish := begin(plan, e.now)
	if plan.Refusal != "" {
		return finish()
	}
	reads := &steps{now: e.now}
	writes := &steps{now: e.now, dryRun: req.DryRun}
	all := func() []picket.StepResult {
		return append(append([]picket.StepResult{}, reads.results()...), writes.results()...)
	}
	fail := func(summary, next string) picket.ActionResult {
		res.Steps, res.Outcome, res.Summary, res.NextStep = all(), picket.OutcomeFailed, summary, next
		return finish()
	}
	c, err := e.Clients(ctx, req.Account, req.Region)
	if err == nil && c.Detective == nil {
		err = picket.Errorf(picket.EUNAVAILABLE, "Picket has no Detective access in account %s, region %s.", req.Account, req.Region)
	}
	if err != nil {
		recordFailure(writes, "detective:StartInvestigation", "Start a Detective investigation", err)
		return fail(fmt.Sprintf("Picket could not reach Detective in account %s, region %s, so it did not escalate.", req.Account, req.Region),
			"Check Picket's access to the account, or start the investigation in the Detective console.")
	}
	p, refusal, err := e.resolve(ctx, c, reads, req, f)
	if err != nil {
		if stepsWith(reads.results(), picket.StepFailed) == 0 {
			recordFailure(writes, "detective:StartInvestigation", "Start a Detective investigation", err)
		}
		return fail("Picket could not find the IAM principal to investigate, so it did not escalate.",
			"Grant the Picket role the read permissions named above, or start the investigation in the Detective console.")
	}
	if refusal != "" {
		res.Steps, res.Outcome, res.Summary = all(), picket.OutcomeRefused, refusal
		return finish()
	}
	g, err := graph(ctx, c.Detective, reads, req.Region)
	if err != nil {
		return fail(fmt.Sprintf("Picket could not list the Detective behavior graphs in %s, so it did not escalate.", req.Region),
			"Grant detective:ListGraphs to the Picket role, or start the investigation in the Detective console.")
	}
	if g == "" {
		res.Steps, res.Outcome = all(), picket.OutcomeRefused
		res.Summary = "Detective is not enabled in " + req.Region + ", so there is no behavior graph to investigate in."
		return finish()
	}
	start, end := e.scope(f)
	ev := EscalationEvidence{PrincipalType: p.kind, PrincipalARN: p.arn, PrincipalID: p.id, Via: p.via,
		GraphARN: g, ScopeStart: start, ScopeEnd: end}
	started := writes.call("detective:StartInvestigation", fmt.Sprintf("Start a Detective investigation of %s", p.label()), func() (middleware.Metadata, error) {
		out, err := c.Detective.StartInvestigation(ctx, &detective.StartInvestigationInput{
			GraphArn: &g, EntityArn: &p.arn, ScopeStartTime: &start, ScopeEndTime: &end,
		})
		if err != nil {
			return middleware.Metadata{}, err
		}
		ev.InvestigationID = aws.ToString(out.InvestigationId)
		return out.ResultMetadata, nil
	})
	ev.Link = detectiveLink(req.Region, p, ev.InvestigationID, start, end)

	if f != nil {
		note := fmt.Sprintf("Picket escalated this finding to Detective at the request of %s: investigation %s of %s. %s",
			nameOf(req.Actor), orDefault(ev.InvestigationID, "(not started)"), p.arn, ev.Link)
		noteFinding(ctx, writes, c.SecurityHub, f, note, "Picket")
	}
	if e.TopicARN != "" {
		e.publish(ctx, writes, req, f, &ev)
	}

	res.Steps = all()
	res.Outcome = picket.OutcomeOf(writes.results())
	res.Evidence, _ = json.Marshal(ev)
	switch {
	case res.Outcome == picket.OutcomeDryRunned:
		res.Summary = fmt.Sprintf("Dry run: Picket would start a Detective investigation of %s; nothing was changed.", p.label())
	case !started:
		s := writes.results()[0]
		res.Summary = fmt.Sprintf("Picket could not start a Detective investigation of %s (%s). Detective profile: %s", p.label(), orUnknownCode(s.ErrorCode), ev.Link)
		res.NextStep = advice(s, "detective:StartInvestigation", "start the investigation in the Detective console")
	case res.Outcome == picket.OutcomeSucceeded:
		res.Summary = fmt.Sprintf("Escalated to Detective: investigation %s of %s started. Detective profile: %s", ev.InvestigationID, p.label(), ev.Link)
		res.NextStep = "Follow the investigation in Detective; disable or quarantine if it confirms the compromise."
	default:
		res.Summary = fmt.Sprintf("Escalated to Detective: investigation %s of %s started, but %s failed. Detective profile: %s",
			ev.InvestigationID, p.label(), failedList(writes.results()), ev.Link)
		res.NextStep = "Tell the on-call team by hand if the SNS notice failed; grant the Picket role the permissions named."
	}
	return finish()
}

// detectiveLink is the console link to the principal's Detective profile,
// in the URL format Detective documents ("Navigating to a profile using a
// URL"): #entities/<AwsUser|AwsRole>/<principal id>?scopeStart=&scopeEnd=
// with epoch seconds. Without the principal's unique id (IAM could not be
// read) it links the investigation list.
func detectiveLink(region string, p *principal, investigation string, start, end time.Time) string {
	base := "https://console.aws.amazon.com/detective/home?region=" + url.QueryEscape(region)
	if p.id == "" {
		if investigation != "" {
			return base + "#investigations/" + url.PathEscape(investigation)
		}
		return base + "#investigations"
	}
	ns := "AwsUser"
	if p.kind == "role" {
		ns = "AwsRole"
	}
	// The console's scope time runs from hour to hour.
	s := start.UTC().Truncate(time.Hour)
	e := end.UTC().Truncate(time.Hour)
	if e.Before(end) {
		e = e.Add(time.Hour)
	}
	return base + "#entities/" + ns + "/" + url.PathEscape(p.id) +
		"?scopeStart=" + strconv.FormatInt(s.Unix(), 10) + "&scopeEnd=" + strconv.FormatInt(e.Unix(), 10)
}

// publish sends the on-call notice. The topic's own account and region
// are used: an SNS client can publish only to topics in its region.
func (e *Escalate) publish(ctx context.Context, st *steps, req picket.ActionRequest, f *picket.Finding, ev *EscalationEvidence) {
	const op = "sns:Publish"
	desc := "Notify the on-call team on " + e.TopicARN
	topic, err := arn.Parse(e.TopicARN)
	if err != nil {
		recordFailure(st, op, desc, picket.Errorf(picket.EINVALID, "The escalation topic %q is not an ARN.", e.TopicARN))
		return
	}
	var c Clients
	if !st.dryRun {
		c, err = e.Clients(ctx, topic.AccountID, topic.Region)
		if err == nil && c.SNS == nil {
			err = picket.Errorf(picket.EUNAVAILABLE, "Picket has no SNS access in account %s, region %s.", topic.AccountID, topic.Region)
		}
		if err != nil {
			recordFailure(st, op, desc, err)
			return
		}
	}
	var title string
	notice := map[string]any{
		"source": "picket", "event": "escalation", "request_id": req.ID,
		"account": req.Account, "region": req.Region, "actor": req.Actor,
		"principal": ev.PrincipalARN, "investigation_id": ev.InvestigationID, "link": ev.Link,
	}
	if f != nil {
		title = f.Title
		notice["finding_key"], notice["title"], notice["severity"], notice["type"] = f.Key, f.Title, f.Severity.String(), f.Type
	}
	body, _ := json.Marshal(notice)
	msg, subject := string(body), snsSubject("Picket escalation: "+orDefault(title, "finding "+req.FindingKey))
	st.call(op, desc, func() (middleware.Metadata, error) {
		out, err := c.SNS.Publish(ctx, &sns.PublishInput{TopicArn: &e.TopicARN, Subject: &subject, Message: &msg})
		if err != nil {
			return middleware.Metadata{}, err
		}
		ev.MessageID = aws.ToString(out.MessageId)
		return out.ResultMetadata, nil
	})
}

// snsSubject keeps to what SNS accepts in a subject: printable ASCII, no
// line breaks, at most 100 characters.
func snsSubject(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r >= 0x20 && r < 0x7f:
			b = append(b, byte(r))
		case r == '\n' || r == '\r' || r == '\t':
			b = append(b, ' ')
		default:
			b = append(b, '?')
		}
	}
	if len(b) > 100 {
		b = append(b[:97], "..."...)
	}
	return string(b)
}

func afterSlash(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// partitionOf returns the partition of an ARN, "aws" when it is not one.
func partitionOf(s string) string {
	if a, err := arn.Parse(s); err == nil && a.Partition != "" {
		return a.Partition
	}
	return "aws"
}

func stepsWith(st []picket.StepResult, status picket.StepStatus) int {
	n := 0
	for _, s := range st {
		if s.Status == status {
			n++
		}
	}
	return n
}
