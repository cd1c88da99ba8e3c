package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/accessanalyzer"
	aatypes "github.com/aws/aws-sdk-go-v2/service/accessanalyzer/types"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/picketsec/picket"
)

// Kinds of picket.RemoteRule that Suppress creates and Lift removes.
const (
	RemoteGuardDutyFilter       = "guardduty_filter"
	RemoteSecurityHubAutomation = "securityhub_automation_rule"
)

// Kinds of picket.RemoteRule for the suppressed state of the finding
// itself, which Undo (and the expiry of a suppression of one finding)
// restores.
const (
	RemoteGuardDutyArchive      = "guardduty_archive"
	RemoteSecurityHubWorkflow   = "securityhub_workflow"
	RemoteAccessAnalyzerArchive = "access_analyzer_archive"
)

// automationRuleOrder places Picket's automation rules last (1 to 1000,
// lower first), so their SUPPRESSED status is the one that stays.
const automationRuleOrder = 1000

// Suppress silences a finding, and with Similar the findings like it until
// an expiry. It implements picket.Responder and Lifter.
//
// A Security Hub finding gets BatchUpdateFindings with Workflow.Status
// SUPPRESSED and a note giving the reason, who asked and until when. A
// GuardDuty finding is archived in GuardDuty (ArchiveFindings); when it is
// in Security Hub too, it also gets the Security Hub update, because the
// archive reaches Security Hub only as RecordState ARCHIVED, without the
// reason.
//
// Suppress similar adds a local rule (SuppressionEvidence, saved by the
// Service and enforced by triage) and one remote rule: a GuardDuty filter
// with action ARCHIVE for GuardDuty findings (GuardDuty does not send
// findings its suppression rules archive on to Security Hub or
// EventBridge, so no Security Hub rule is needed), or a Security Hub
// automation rule for other findings. Lift deletes the remote rules when
// the expiry passes.
type Suppress struct {
	Clients ClientsFunc
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// SuppressionEvidence is what a Suppress recorded. Suppression is the local
// record the Service saves: for Suppress similar the rule triage enforces,
// with the remote rules it made in AWS; for a suppression of the one
// finding a record that matches nothing (OneFinding) and holds the expiry.
// Both list the finding's own suppressed state (Suppressed) for Undo.
type SuppressionEvidence struct {
	Suppression *picket.Suppression `json:"suppression,omitempty"`
	// GuardDutyFindingID and DetectorID identify the GuardDuty finding
	// archived; SecurityHubFindingID the Security Hub finding suppressed.
	GuardDutyFindingID   string `json:"guardduty_finding_id,omitempty"`
	DetectorID           string `json:"detector_id,omitempty"`
	SecurityHubFindingID string `json:"securityhub_finding_id,omitempty"`
	// AccessAnalyzerFindingID is the IAM Access Analyzer finding archived,
	// in Analyzer.
	AccessAnalyzerFindingID string `json:"access_analyzer_finding_id,omitempty"`
	Analyzer                string `json:"analyzer,omitempty"`
}

func (s *Suppress) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// suppressLocation is where a finding lives in AWS.
type suppressLocation struct {
	gdID string // GuardDuty finding id; "" when not a GuardDuty finding
	shID string // Security Hub finding Id; "" when not in Security Hub
	// aaID and analyzer locate an IAM Access Analyzer finding that came
	// natively (its id is known only then).
	aaID, analyzer string
	// aaResource, with analyzer, locates the IAM Access Analyzer findings
	// behind one that came through Security Hub: its Id is the analyzer's
	// ARN followed by the resource's, the findings' ids are not in it.
	aaResource string
}

func suppressTargetOf(f *picket.Finding) suppressLocation {
	var t suppressLocation
	if f.Source == picket.SourceGuardDuty {
		t.gdID = f.ID
	} else if id, ok := guardDutyFindingID(f.ARN); ok {
		t.gdID = id // a GuardDuty finding that came through Security Hub
	}
	if f.ProductARN != "" {
		t.shID = f.ID
		if f.ARN != "" {
			t.shID = f.ARN
		}
	}
	if f.Source == picket.SourceAccessAnalyzer && f.Access != nil && strings.HasPrefix(f.Access.Analyzer, "arn:") && f.ID != "" {
		t.aaID, t.analyzer = f.ID, f.Access.Analyzer
	} else if strings.HasSuffix(f.ProductARN, ":product/aws/access-analyzer") {
		t.analyzer, t.aaResource = accessAnalyzerOfASFF(f.ID, f.Account)
	}
	return t
}

// accessAnalyzerOfASFF splits the Id Security Hub gives an IAM Access
// Analyzer finding, arn:P:access-analyzer:R:ACCOUNT:analyzer/NAME/RESOURCE-ARN,
// into the analyzer's ARN and the resource's; "" when it is not that
// shape or the analyzer is not in account.
func accessAnalyzerOfASFF(id, account string) (analyzer, resource string) {
	parts := strings.SplitN(id, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "access-analyzer" || parts[4] != account {
		return "", ""
	}
	name, res, ok := strings.Cut(strings.TrimPrefix(parts[5], "analyzer/"), "/")
	if !ok || !strings.HasPrefix(parts[5], "analyzer/") || name == "" || !strings.HasPrefix(res, "arn:") {
		return "", ""
	}
	return strings.Join(parts[:5], ":") + ":analyzer/" + name, res
}

// maxAccessFindings bounds the analyzer findings one Suppress archives
// through Security Hub's summary of a resource.
const maxAccessFindings = 100

// maxAccessPages bounds the pages of an analyzer's findings one Suppress
// reads, so an answer whose next token never ends cannot hold it.
const maxAccessPages = 20

// guardDutyFindingID returns the finding id at the end of a GuardDuty
// finding ARN: arn:aws:guardduty:REGION:ACCOUNT:detector/DET/finding/ID.
func guardDutyFindingID(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "guardduty" {
		return "", false
	}
	res := strings.Split(parts[5], "/")
	if len(res) != 4 || res[0] != "detector" || res[2] != "finding" || res[3] == "" {
		return "", false
	}
	return res[3], true
}

// Plan implements picket.Responder. It makes no AWS calls beyond getting
// the clients. The reason comes from the dialog after the first plan, so a
// missing reason is refused when the plan is made with the dialog's
// answers (Similar or Until set) and always by Execute.
func (s *Suppress) Plan(ctx context.Context, req picket.ActionRequest, f *picket.Finding) (picket.Plan, error) {
	plan := picket.Plan{Request: req}
	if r := s.refusal(req, f); r != "" {
		plan.Refusal = r
		return plan, nil
	}
	c, err := s.Clients(ctx, req.Account, req.Region)
	if err != nil {
		return picket.Plan{}, fmt.Errorf("suppress %s: %w", f.Key, err)
	}
	t := suppressTargetOf(f)
	gd, sh := t.gdID != "" && c.GuardDuty != nil, t.shID != "" && c.SecurityHub != nil
	aa := (t.aaID != "" || t.aaResource != "") && c.AccessAnalyzer != nil
	if !gd && !sh && !aa && !req.Similar {
		plan.Refusal = "Picket cannot reach this finding in GuardDuty, Security Hub or IAM Access Analyzer, so it cannot suppress it there. Use Suppress similar for a rule that only Picket enforces."
		return plan, nil
	}
	add := func(op, desc string) {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: op, Description: desc})
	}
	reason := req.Reason
	if reason == "" {
		reason = "the reason you give"
	}
	until := req.Until.UTC().Format(time.RFC3339)
	// The same order as Execute.
	if gd {
		add("guardduty:ListDetectors", fmt.Sprintf("Find the GuardDuty detector in %s.", req.Region))
		add("guardduty:ArchiveFindings", fmt.Sprintf("Archive GuardDuty finding %s.", t.gdID))
		if req.Similar {
			add("guardduty:CreateFilter", fmt.Sprintf("Create GuardDuty filter %s that archives new findings of type %s in account %s%s, until %s.",
				suppressRuleName(req), f.Type, f.Account, suppressResourceClause(req.Target), until))
		}
	}
	switch {
	case aa && t.aaID != "":
		add("access-analyzer:UpdateFindings", fmt.Sprintf("Archive IAM Access Analyzer finding %s of analyzer %s.", t.aaID, t.analyzer))
	case aa:
		add("access-analyzer:ListFindings", fmt.Sprintf("List the active findings of analyzer %s on %s (Security Hub shows them as this one finding).", t.analyzer, t.aaResource))
		add("access-analyzer:UpdateFindings", "Archive those findings; Undo sets exactly those back to active.")
	}
	if sh {
		add("securityhub:BatchUpdateFindings", fmt.Sprintf("Set the finding's workflow status in Security Hub to SUPPRESSED, with a note: %s.", reason))
		if req.Similar && !gd {
			add("securityhub:CreateAutomationRule", fmt.Sprintf("Create Security Hub automation rule %s that suppresses new findings of type %s in account %s%s, until %s.",
				suppressRuleName(req), f.Type, f.Account, suppressResourceClause(req.Target), until))
		}
	}
	plan.Undo = "Set the finding back to the state it had (unarchived, its workflow status before) and delete any rule this creates; Picket's own rule is lifted."
	if !req.Similar {
		plan.Undo = "Set the finding back to the state it had (unarchived, its workflow status before)."
	}
	return plan, nil
}

// refusal checks the dialog's answers.
func (s *Suppress) refusal(req picket.ActionRequest, f *picket.Finding) string {
	answered := req.Similar || !req.Until.IsZero() || req.Reason != ""
	switch {
	case answered && strings.TrimSpace(req.Reason) == "":
		return "Suppress needs a reason: say why these findings can be ignored."
	case req.Similar && req.Until.IsZero():
		return "Suppress similar needs an expiry, so the rule does not silence findings for ever."
	case !req.Until.IsZero() && !req.Until.After(s.now()):
		return "The expiry is in the past; choose a time in the future."
	case req.Similar && f.Type == "":
		return "This finding has no type, so Picket cannot tell which findings are similar."
	}
	return ""
}

func suppressResourceClause(r picket.Resource) string {
	if r.ID == "" || r.Kind == picket.ResourceAccount {
		return ""
	}
	return " for " + r.ID
}

// suppressRuleName names the remote rules of a request: "picket-" and the
// request id, in the characters GuardDuty allows.
func suppressRuleName(req picket.ActionRequest) string {
	id := strings.TrimPrefix(req.ID, "act-")
	var b strings.Builder
	for _, r := range id {
		if r < 0x80 && (r == '-' || r == '_' || r == '.' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')) {
			b.WriteRune(r)
		}
	}
	short := b.String()
	if len(short) > 32 {
		short = short[len(short)-32:]
	}
	return "picket-" + short
}

// guardDutyCriteria is the GuardDuty filter for findings like f on r.
func guardDutyCriteria(f *picket.Finding, r picket.Resource) map[string]gdtypes.Condition {
	eq := func(v string) gdtypes.Condition { return gdtypes.Condition{Equals: []string{v}} }
	c := map[string]gdtypes.Condition{"type": eq(f.Type), "accountId": eq(f.Account)}
	field := ""
	switch r.Kind {
	case picket.ResourceEC2Instance:
		field = "resource.instanceDetails.instanceId"
	case picket.ResourceAccessKey:
		field = "resource.accessKeyDetails.accessKeyId"
	case picket.ResourceIAMUser:
		field = "resource.accessKeyDetails.userName"
	case picket.ResourceS3Bucket:
		field = "resource.s3BucketDetails.name"
	}
	if field != "" && r.ID != "" {
		c[field] = eq(r.ID)
	}
	return c
}

// asffMatchFields are the fields of an ASFF finding an automation rule matches
// on, read from the raw finding when it is one.
type asffMatchFields struct {
	GeneratorID string `json:"GeneratorId"`
	Resources   []struct {
		ID string `json:"Id"`
	} `json:"Resources"`
}

// securityHubCriteria is the Security Hub automation rule filter for findings like
// f on r.
func securityHubCriteria(f *picket.Finding, r picket.Resource) *shtypes.AutomationRulesFindingFilters {
	eq := func(v string) []shtypes.StringFilter {
		return []shtypes.StringFilter{{Comparison: shtypes.StringFilterComparisonEquals, Value: aws.String(v)}}
	}
	c := &shtypes.AutomationRulesFindingFilters{
		ProductArn:   eq(f.ProductARN),
		AwsAccountId: eq(f.Account),
		Type:         eq(f.Type),
	}
	var raw asffMatchFields
	if len(f.Raw) > 0 {
		json.Unmarshal(f.Raw, &raw) // a finding that is not ASFF has no fields to match
	}
	if g := generatorOf(f); g != "" {
		c.GeneratorId = eq(g)
	}
	if r.Kind == picket.ResourceAccount || r.ID == "" {
		return c
	}
	id := r.ARN
	for _, rr := range raw.Resources {
		if rr.ID != "" && (rr.ID == r.ARN || rr.ID == r.ID || strings.HasSuffix(rr.ID, "/"+r.ID)) {
			id = rr.ID // exactly as Security Hub spells it
			break
		}
	}
	if id == "" {
		id = r.ID
	}
	c.ResourceId = eq(id)
	return c
}

// generatorOf is the GeneratorId of an ASFF finding: decoded, or read from
// the raw finding of one stored before it was decoded.
func generatorOf(f *picket.Finding) string {
	if f.GeneratorID != "" || f.Source != picket.SourceSecurityHub || len(f.Raw) == 0 {
		return f.GeneratorID
	}
	var raw asffMatchFields
	if json.Unmarshal(f.Raw, &raw) != nil {
		return ""
	}
	return raw.GeneratorID
}

// guardDutyDescription keeps to the characters a GuardDuty filter description
// allows (letters, digits, whitespace and -.:_{}[]()/), at most 512.
func guardDutyDescription(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z'),
			strings.ContainsRune(" \t\n-.:_{}[]()/", r):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	return clipText(b.String(), 512)
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// Execute implements picket.Responder.
func (s *Suppress) Execute(ctx context.Context, plan picket.Plan, f *picket.Finding) picket.ActionResult {
	req := plan.Request
	res, finish := begin(plan, s.now)
	refusal := plan.Refusal
	if refusal == "" && strings.TrimSpace(req.Reason) == "" {
		refusal = "Suppress needs a reason: say why these findings can be ignored."
	}
	if refusal == "" {
		refusal = s.refusal(req, f)
	}
	if refusal != "" {
		res.Outcome, res.Summary = picket.OutcomeRefused, refusal
		return finish()
	}
	st := &steps{now: s.now, dryRun: req.DryRun}
	t := suppressTargetOf(f)
	ev := SuppressionEvidence{GuardDutyFindingID: t.gdID, SecurityHubFindingID: t.shID}
	sup := &picket.Suppression{
		ID: "sup-" + req.ID, RequestID: req.ID, FindingKey: req.FindingKey, OneFinding: true,
		Account: f.Account, Region: f.Region,
		Reason: req.Reason, Actor: req.Actor, Created: res.Started, Until: req.Until.UTC(),
	}
	if req.Until.IsZero() {
		sup.Until = time.Time{}
	}
	ev.Suppression = sup
	if req.Similar {
		// The same scope as the remote rule: product and generator too
		// (GuardDuty filters are of one product and have no generator).
		sup.OneFinding = false
		sup.Source, sup.ProductARN, sup.GeneratorID, sup.Type = f.Source, f.ProductARN, generatorOf(f), f.Type
		if req.Target.Kind != picket.ResourceAccount {
			sup.ResourceID = req.Target.ID
		}
	}
	// suppressed records a change to the finding's own state, for Undo.
	suppressed := func(ok bool, r picket.RemoteRule) {
		if ok && !req.DryRun {
			r.Account, r.Region = req.Account, req.Region
			sup.Suppressed = append(sup.Suppressed, r)
		}
	}
	c, err := s.Clients(ctx, req.Account, req.Region)
	if err != nil {
		addFailedStep(st, "sts:AssumeRole", fmt.Sprintf("Get access to account %s", req.Account), err)
	}
	note := suppressionNote(req)
	name := suppressRuleName(req)

	gdReach := err == nil && t.gdID != "" && c.GuardDuty != nil
	if gdReach {
		det, derr := s.detector(ctx, c.GuardDuty)
		ev.DetectorID = det
		if derr != nil {
			addFailedStep(st, "guardduty:ListDetectors", "Find the GuardDuty detector in "+req.Region, derr)
			st.skip("guardduty:ArchiveFindings", "Archive GuardDuty finding "+t.gdID, "no GuardDuty detector was found")
			if req.Similar {
				st.skip("guardduty:CreateFilter", "Create GuardDuty filter "+name, "no GuardDuty detector was found")
			}
		} else {
			suppressed(st.call("guardduty:ArchiveFindings", fmt.Sprintf("Archive GuardDuty finding %s", t.gdID), func() (middleware.Metadata, error) {
				out, err := c.GuardDuty.ArchiveFindings(ctx, &guardduty.ArchiveFindingsInput{DetectorId: aws.String(det), FindingIds: []string{t.gdID}})
				return resultMetadata(out, err, func() middleware.Metadata { return out.ResultMetadata })
			}), picket.RemoteRule{Kind: RemoteGuardDutyArchive, ID: t.gdID, DetectorID: det})
			if req.Similar {
				desc := fmt.Sprintf("Create GuardDuty filter %s archiving new %s findings in account %s%s until %s",
					name, f.Type, f.Account, suppressResourceClause(req.Target), req.Until.UTC().Format(time.RFC3339))
				if st.call("guardduty:CreateFilter", desc, func() (middleware.Metadata, error) {
					out, err := c.GuardDuty.CreateFilter(ctx, &guardduty.CreateFilterInput{
						DetectorId: aws.String(det), Name: aws.String(name), Action: gdtypes.FilterActionArchive,
						Description:     aws.String(guardDutyDescription(note)),
						FindingCriteria: &gdtypes.FindingCriteria{Criterion: guardDutyCriteria(f, req.Target)},
						ClientToken:     aws.String(clipText(req.ID, 64)),
					})
					if err != nil {
						return middleware.Metadata{}, err
					}
					if n := aws.ToString(out.Name); n != "" {
						name = n
					}
					return out.ResultMetadata, nil
				}) && !req.DryRun {
					sup.Remote = append(sup.Remote, picket.RemoteRule{Kind: RemoteGuardDutyFilter, ID: name,
						Account: req.Account, Region: req.Region, DetectorID: det})
				}
			}
		}
	}

	if err == nil && t.aaID != "" && c.AccessAnalyzer != nil {
		ev.AccessAnalyzerFindingID, ev.Analyzer = t.aaID, t.analyzer
		suppressed(st.call("access-analyzer:UpdateFindings", fmt.Sprintf("Archive IAM Access Analyzer finding %s", t.aaID), func() (middleware.Metadata, error) {
			out, err := c.AccessAnalyzer.UpdateFindings(ctx, &accessanalyzer.UpdateFindingsInput{
				AnalyzerArn: aws.String(t.analyzer), Ids: []string{t.aaID}, Status: aatypes.FindingStatusUpdateArchived,
				ClientToken: aws.String(clipText(req.ID, 64)),
			})
			return resultMetadata(out, err, func() middleware.Metadata { return out.ResultMetadata })
		}), picket.RemoteRule{Kind: RemoteAccessAnalyzerArchive, ID: t.aaID, Analyzer: t.analyzer})
	}
	if err == nil && t.aaResource != "" && c.AccessAnalyzer != nil {
		var ids []string
		listed := st.call("access-analyzer:ListFindings", fmt.Sprintf("List the active findings of analyzer %s on %s", t.analyzer, t.aaResource), func() (middleware.Metadata, error) {
			in := &accessanalyzer.ListFindingsInput{
				AnalyzerArn: aws.String(t.analyzer),
				Filter: map[string]aatypes.Criterion{
					"resource": {Eq: []string{t.aaResource}},
					"status":   {Eq: []string{string(aatypes.FindingStatusActive)}},
				},
			}
			// The filter is applied page by page, so a page may hold fewer
			// findings than asked (even none) and still have a next one.
			var md middleware.Metadata
			for page := 0; page < maxAccessPages && len(ids) < maxAccessFindings; page++ {
				in.MaxResults = aws.Int32(int32(maxAccessFindings - len(ids)))
				out, err := c.AccessAnalyzer.ListFindings(ctx, in)
				if err != nil {
					return md, err
				}
				md = out.ResultMetadata
				for _, f := range out.Findings {
					if f.Id != nil && len(ids) < maxAccessFindings {
						ids = append(ids, *f.Id)
					}
				}
				if aws.ToString(out.NextToken) == "" {
					break
				}
				in.NextToken = out.NextToken
			}
			return md, nil
		})
		if listed && len(ids) == 0 && !st.dryRun {
			st.skip("access-analyzer:UpdateFindings", "Archive the IAM Access Analyzer findings on "+t.aaResource, "the analyzer has no active finding on it")
		}
		if listed && (len(ids) > 0 || st.dryRun) {
			ev.Analyzer = t.analyzer
			ok := st.call("access-analyzer:UpdateFindings", fmt.Sprintf("Archive %d IAM Access Analyzer finding(s) on %s", len(ids), t.aaResource), func() (middleware.Metadata, error) {
				out, err := c.AccessAnalyzer.UpdateFindings(ctx, &accessanalyzer.UpdateFindingsInput{
					AnalyzerArn: aws.String(t.analyzer), Ids: ids, Status: aatypes.FindingStatusUpdateArchived,
					ClientToken: aws.String(clipText(req.ID, 64)),
				})
				return resultMetadata(out, err, func() middleware.Metadata { return out.ResultMetadata })
			})
			for _, id := range ids {
				suppressed(ok, picket.RemoteRule{Kind: RemoteAccessAnalyzerArchive, ID: id, Analyzer: t.analyzer})
			}
		}
	}

	if err == nil && t.shID != "" && c.SecurityHub != nil {
		productARN := f.ProductARN
		by := "Picket for " + nameOf(req.Actor)
		prior := f.WorkflowStatus
		if prior == "" || prior == picket.WorkflowSuppressed {
			prior = "NEW"
		}
		suppressed(st.call("securityhub:BatchUpdateFindings", "Set the finding's workflow status in Security Hub to SUPPRESSED, with a note", func() (middleware.Metadata, error) {
			out, err := c.SecurityHub.BatchUpdateFindings(ctx, &securityhub.BatchUpdateFindingsInput{
				FindingIdentifiers: []shtypes.AwsSecurityFindingIdentifier{{Id: aws.String(t.shID), ProductArn: aws.String(productARN)}},
				Workflow:           &shtypes.WorkflowUpdate{Status: shtypes.WorkflowStatusSuppressed},
				Note:               &shtypes.NoteUpdate{Text: aws.String(clipText(note, 512)), UpdatedBy: aws.String(clipText(by, 512))},
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
		}), picket.RemoteRule{Kind: RemoteSecurityHubWorkflow, ID: t.shID, ProductARN: productARN, Status: prior})
		if req.Similar && !gdReach {
			desc := fmt.Sprintf("Create Security Hub automation rule %s suppressing new %s findings in account %s%s until %s",
				name, f.Type, f.Account, suppressResourceClause(req.Target), req.Until.UTC().Format(time.RFC3339))
			var arn string
			if st.call("securityhub:CreateAutomationRule", desc, func() (middleware.Metadata, error) {
				out, err := c.SecurityHub.CreateAutomationRule(ctx, &securityhub.CreateAutomationRuleInput{
					RuleName: aws.String(name),
					// deploy/iam-policy.json lets the bot role create a rule
					// only with this tag and delete only rules that carry it.
					Tags:        map[string]string{picketTagManaged: "true"},
					RuleOrder:   aws.Int32(automationRuleOrder),
					RuleStatus:  shtypes.RuleStatusEnabled,
					Description: aws.String(clipText(note, 1024)),
					Criteria:    securityHubCriteria(f, req.Target),
					Actions: []shtypes.AutomationRulesAction{{
						Type: shtypes.AutomationRulesActionTypeFindingFieldsUpdate,
						FindingFieldsUpdate: &shtypes.AutomationRulesFindingFieldsUpdate{
							Workflow: &shtypes.WorkflowUpdate{Status: shtypes.WorkflowStatusSuppressed},
							Note:     &shtypes.NoteUpdate{Text: aws.String(clipText(note, 512)), UpdatedBy: aws.String(clipText(by, 512))},
						},
					}},
				})
				if err != nil {
					return middleware.Metadata{}, err
				}
				arn = aws.ToString(out.RuleArn)
				return out.ResultMetadata, nil
			}) && !req.DryRun {
				sup.Remote = append(sup.Remote, picket.RemoteRule{Kind: RemoteSecurityHubAutomation, ID: arn,
					Account: req.Account, Region: req.Region})
			}
		}
	}

	res.Steps = st.results()
	res.Outcome = picket.OutcomeOf(res.Steps)
	res.Evidence, _ = json.Marshal(ev)
	res.Summary, res.NextStep = suppressionSummary(req, f, sup, res.Outcome, res.Steps)
	return finish()
}

// detector returns the region's GuardDuty detector (there is at most one).
func (s *Suppress) detector(ctx context.Context, gd GuardDutyAPI) (string, error) {
	out, err := gd.ListDetectors(ctx, &guardduty.ListDetectorsInput{})
	if err != nil {
		return "", fmt.Errorf("list guardduty detectors: %w", err)
	}
	if len(out.DetectorIds) == 0 {
		return "", &smithy.GenericAPIError{Code: "NoDetector", Message: "GuardDuty is not enabled in this region"}
	}
	return out.DetectorIds[0], nil
}

// suppressionNote is the note left on the finding and the remote rules.
func suppressionNote(req picket.ActionRequest) string {
	n := fmt.Sprintf("Suppressed by Picket for %s (%s), case %s: %s.", nameOf(req.Actor), req.Actor.ID, req.ID, strings.TrimSuffix(strings.TrimSpace(req.Reason), "."))
	if !req.Until.IsZero() {
		n += " Until " + req.Until.UTC().Format(time.RFC3339) + "."
	}
	return n
}

func suppressionSummary(req picket.ActionRequest, f *picket.Finding, sup *picket.Suppression, outcome picket.ActionOutcome, st []picket.StepResult) (summary, next string) {
	what := "the finding"
	if req.Similar {
		what = fmt.Sprintf("this finding and new %s findings in account %s%s until %s", f.Type, f.Account,
			suppressResourceClause(req.Target), req.Until.UTC().Format(time.RFC3339))
	}
	switch outcome {
	case picket.OutcomeDryRunned:
		return fmt.Sprintf("Dry run: Picket would suppress %s with %d steps; nothing was changed.", what, countSteps(st, picket.StepDryRun)), ""
	case picket.OutcomeSucceeded:
		if req.Similar && len(sup.Remote) == 0 {
			return fmt.Sprintf("Picket suppressed %s with a rule only Picket enforces (nothing was created in AWS).", what), ""
		}
		return fmt.Sprintf("Picket suppressed %s.", what), ""
	case picket.OutcomeFailed:
		return fmt.Sprintf("Picket could not suppress %s in AWS (%s).", what, failedCalls(st)), "Grant Picket's role the permissions named, or suppress the finding by hand in the console."
	}
	return fmt.Sprintf("Picket suppressed %s only in part: %d steps done, %d failed (%s).",
			what, countSteps(st, picket.StepDone), countSteps(st, picket.StepFailed), failedCalls(st)),
		"Finish the failed steps by hand in the console, or grant Picket's role the permissions named."
}

// Lift implements Lifter: it deletes every remote rule of sup. A rule that
// is already gone counts as deleted.
//
// A suppression of one finding (OneFinding) also restores the finding's
// state in AWS when it expires (see restore).
func (s *Suppress) Lift(ctx context.Context, sup picket.Suppression) []picket.StepResult {
	rules := sup.Remote
	if sup.OneFinding {
		rules = append(slices.Clone(rules), sup.Suppressed...)
	}
	return s.lift(ctx, rules, false, "Suppression by Picket expired ("+sup.ID+"); the finding is active again.")
}

// lift removes the remote rules and restores the finding states in rules,
// in order; note goes on a Security Hub finding restored.
func (s *Suppress) lift(ctx context.Context, rules []picket.RemoteRule, dryRun bool, note string) []picket.StepResult {
	st := &steps{now: s.now, dryRun: dryRun}
	for _, r := range rules {
		c, err := s.Clients(ctx, r.Account, r.Region)
		switch r.Kind {
		case RemoteGuardDutyFilter:
			const op = "guardduty:DeleteFilter"
			desc := fmt.Sprintf("Delete GuardDuty filter %s in account %s, %s", r.ID, r.Account, r.Region)
			if err == nil && c.GuardDuty == nil {
				err = picket.Errorf(picket.EUNAVAILABLE, "Picket has no GuardDuty access in account %s, region %s.", r.Account, r.Region)
			}
			det := r.DetectorID
			if err == nil && det == "" {
				det, err = s.detector(ctx, c.GuardDuty)
			}
			if err != nil {
				addFailedStep(st, op, desc, err)
				continue
			}
			callDelete(st, op, desc, func() (middleware.Metadata, error) {
				out, err := c.GuardDuty.DeleteFilter(ctx, &guardduty.DeleteFilterInput{DetectorId: aws.String(det), FilterName: aws.String(r.ID)})
				return resultMetadata(out, err, func() middleware.Metadata { return out.ResultMetadata })
			})
		case RemoteSecurityHubAutomation:
			const op = "securityhub:BatchDeleteAutomationRules"
			desc := fmt.Sprintf("Delete Security Hub automation rule %s", r.ID)
			if err == nil && c.SecurityHub == nil {
				err = picket.Errorf(picket.EUNAVAILABLE, "Picket has no Security Hub access in account %s, region %s.", r.Account, r.Region)
			}
			if err != nil {
				addFailedStep(st, op, desc, err)
				continue
			}
			callDelete(st, op, desc, func() (middleware.Metadata, error) {
				out, err := c.SecurityHub.BatchDeleteAutomationRules(ctx, &securityhub.BatchDeleteAutomationRulesInput{AutomationRulesArns: []string{r.ID}})
				if err != nil {
					return middleware.Metadata{}, err
				}
				for _, u := range out.UnprocessedAutomationRules {
					code := "RuleNotDeleted"
					if aws.ToInt32(u.ErrorCode) == 404 {
						code = "ResourceNotFoundException"
					}
					return middleware.Metadata{}, &smithy.GenericAPIError{Code: code, Message: aws.ToString(u.ErrorMessage)}
				}
				return out.ResultMetadata, nil
			})
		case RemoteGuardDutyArchive, RemoteSecurityHubWorkflow, RemoteAccessAnalyzerArchive:
			s.restore(ctx, st, c, err, r, note)
		default:
			addFailedStep(st, "picket:Lift", "Remove remote rule "+r.ID, fmt.Errorf("unknown remote rule kind %q", r.Kind))
		}
	}
	return st.results()
}

// callDelete runs a delete as a step; a "not found" answer means it is
// already gone, which is what was wanted.
func callDelete(st *steps, op, desc string, fn func() (middleware.Metadata, error)) {
	gone := false
	st.call(op, desc, func() (middleware.Metadata, error) {
		md, err := fn()
		if isCode(err, "ResourceNotFoundException", "NotFoundException", "NotFound") {
			gone = true
			return middleware.Metadata{}, nil
		}
		return md, err
	})
	if gone {
		st.list[len(st.list)-1].Description += " (it was already gone)"
	}
}
