package bot

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	picket "github.com/picketsec/picket"
	"github.com/slack-go/slack"
)

// Slack limits that the dialog text must respect.
const (
	maxTitle       = 24   // modal title
	maxSectionText = 3000 // section text
	maxFieldText   = 2000 // section field
	maxReason      = 2000 // reason input
)

// escape makes text safe inside Slack mrkdwn: a finding's title cannot
// mention @channel or forge a link.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// clip shortens s to at most n characters, marking the cut with "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

// mrkdwn is a verbatim mrkdwn text object, as alerts use: Slack does not
// turn bare URLs, channel names or user names in it into links or
// mentions, so only what Picket wrote as markup is markup.
func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

func section(id, text string) slack.Block {
	return slack.NewSectionBlock(mrkdwn(clip(text, maxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(id))
}

func title(kind picket.ActionKind) *slack.TextBlockObject {
	return plain(clip(kind.Label(), maxTitle))
}

func modal(kind picket.ActionKind, close string, blocks ...slack.Block) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:   slack.VTModal,
		Title:  title(kind),
		Close:  plain(close),
		Blocks: slack.Blocks{BlockSet: blocks},
	}
}

// planningView is the dialog opened at the click, while the plan is made.
func planningView(kind picket.ActionKind) slack.ModalViewRequest {
	return modal(kind, "Cancel",
		section("planning", ":hourglass_flowing_sand: Planning *"+escape(kind.Label())+"*… Picket is checking what it would do."))
}

// errorView says why there is no plan: the actor may not do this, the
// finding is gone, or something failed.
func errorView(kind picket.ActionKind, err error) slack.ModalViewRequest {
	head := ":warning: *Picket cannot plan this.*"
	if picket.ErrorCode(err) == picket.EUNAUTHORIZED {
		head = ":no_entry: *You may not do this.*"
	}
	return modal(kind, "Close", section("error", head+"\n"+escape(picket.ErrorMessage(err))))
}

// refusalView explains a guardrail's refusal and what to do instead.
func refusalView(p picket.Plan) slack.ModalViewRequest {
	kind := p.Request.Kind
	blocks := []slack.Block{
		section("refusal", ":no_entry: *Picket will not "+escape(strings.ToLower(kind.Label()))+" here.*\n"+escape(p.Refusal)),
		targetSection(p.Request),
	}
	if d := detailsSection(p); d != nil {
		blocks = append(blocks, d)
	}
	if p.Alternative != "" {
		blocks = append(blocks, section("alternative",
			"*Instead:* "+escape(p.Alternative.Label())+" (use that button on the alert)."))
	}
	return modal(kind, "Close", blocks...)
}

// planView shows exactly what Run would do and asks for confirmation.
func planView(p picket.Plan, meta metadata) slack.ModalViewRequest {
	req := p.Request
	var steps strings.Builder
	steps.WriteString("*What will be done*")
	if len(p.Steps) == 0 {
		steps.WriteString("\nNothing: no AWS call is needed.")
	}
	for _, s := range p.Steps {
		steps.WriteString("\n• " + escape(s.Description) + " (`" + escape(s.Operation) + "`)")
	}
	blocks := []slack.Block{}
	if req.Kind == picket.ActionDisableUser || req.Kind == picket.ActionQuarantineInstance || req.Kind == picket.ActionPatchInstance || req.Kind.IsFix() {
		blocks = append(blocks, section("warning",
			":warning: This changes live resources in account "+escape(req.Account)+"."))
	}
	blocks = append(blocks, section("steps", steps.String()), targetSection(req))
	if d := detailsSection(p); d != nil {
		blocks = append(blocks, d)
	}
	switch {
	case p.Undo != "":
		blocks = append(blocks, section("undo", "*Undo would restore*\n"+escape(p.Undo)))
	case req.Kind == picket.ActionUndo:
		// An undo is not itself undone.
	case req.Kind == picket.ActionPatchInstance:
		blocks = append(blocks, section("undo", "*Undo*\nThere is none: Picket cannot uninstall patches. Restore from a snapshot or AMI if a patch breaks the instance."))
	default:
		blocks = append(blocks, section("undo", "*Undo*\nPicket cannot undo this."))
	}
	approval := "*Approval*\nNo second person needs to approve this."
	if p.Approvals > 0 {
		approval = "*Approval*\nA second person must approve this before it runs; Picket will ask in the alert's thread."
	}
	blocks = append(blocks, section("approval", approval))

	if req.Kind == picket.ActionSuppress {
		reason := slack.NewPlainTextInputBlockElement(plain("Why these findings need no action"), blockReason)
		reason.Multiline = true
		reason.MaxLength = maxReason
		blocks = append(blocks, slack.NewInputBlock(blockReason, plain("Reason"), nil, reason))

		opts := make([]*slack.OptionBlockObject, 0, len(expiries))
		var initial *slack.OptionBlockObject
		for _, e := range expiries {
			o := slack.NewOptionBlockObject(e.value, plain(e.label), nil)
			opts = append(opts, o)
			if e.value == defaultExpiry {
				initial = o
			}
		}
		sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Expires after"), blockExpiry, opts...)
		sel.InitialOption = initial
		blocks = append(blocks, slack.NewInputBlock(blockExpiry, plain("Expires after"),
			plain("At the expiry Picket sets this finding back (unarchived, its status before); with similar findings it lifts the rule instead."), sel))

		simOpt := slack.NewOptionBlockObject(blockSimilar, plain("Suppress similar findings until then"), nil)
		similar := slack.NewCheckboxGroupsBlockElement(blockSimilar, simOpt)
		if meta.Similar {
			similar.InitialOptions = []*slack.OptionBlockObject{simOpt}
		}
		in := slack.NewInputBlock(blockSimilar, plain("Similar findings"), nil, similar)
		in.Optional = true
		blocks = append(blocks, in)
	}

	if req.Kind == picket.ActionPatchInstance {
		ifNeeded := slack.NewOptionBlockObject(rebootIfNeeded, plain("Reboot if a patch needs it"), nil)
		never := slack.NewOptionBlockObject(rebootNever, plain("Do not reboot (patches needing one stay pending)"), nil)
		sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Reboot"), blockReboot, ifNeeded, never)
		sel.InitialOption = ifNeeded
		blocks = append(blocks, slack.NewInputBlock(blockReboot, plain("Reboot"), nil, sel))
	}

	dryOpt := slack.NewOptionBlockObject(blockDryRun, plain("Dry run (change nothing)"), nil)
	dry := slack.NewCheckboxGroupsBlockElement(blockDryRun, dryOpt)
	if req.DryRun {
		dry.InitialOptions = []*slack.OptionBlockObject{dryOpt}
	}
	in := slack.NewInputBlock(blockDryRun, plain("Dry run"), nil, dry)
	in.Optional = true
	if req.DryRun {
		in.Hint = plain("Dry run is on for this action in Picket's configuration: nothing will change either way.")
	}
	blocks = append(blocks, in)

	v := modal(req.Kind, "Cancel", blocks...)
	v.Submit = plain("Run")
	v.CallbackID = CallbackConfirm
	md, _ := json.Marshal(meta) // a struct of strings always marshals
	v.PrivateMetadata = string(md)
	return v
}

// detailsSection lists the plan's details (what a patch fixes, the
// instance's Systems Manager state, the reboot), or nil.
func detailsSection(p picket.Plan) slack.Block {
	if len(p.Details) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("*Details*")
	for _, d := range p.Details {
		b.WriteString("\n• " + escape(clip(d, 500)))
	}
	return section("details", b.String())
}

// targetSection names the resource, account and region acted on.
func targetSection(req picket.ActionRequest) slack.Block {
	target := resourceLabel(req.Target.Kind) + " `" + escape(req.Target.ID) + "`"
	if req.Target.ARN != "" && req.Target.ARN != req.Target.ID {
		target += "\n`" + escape(req.Target.ARN) + "`"
	}
	fields := []*slack.TextBlockObject{
		mrkdwn(clip("*Target*\n"+target, maxFieldText)),
		mrkdwn(clip("*Account*\n"+escape(req.Account), maxFieldText)),
		mrkdwn(clip("*Region*\n"+escape(req.Region), maxFieldText)),
	}
	if req.FindingKey != "" {
		fields = append(fields, mrkdwn(clip("*Finding*\n`"+escape(req.FindingKey)+"`", maxFieldText)))
	}
	return slack.NewSectionBlock(nil, fields, nil, slack.SectionBlockOptionBlockID("target"))
}

func resourceLabel(k picket.ResourceKind) string {
	if l := k.Label(); l != "" {
		return l
	}
	if k == "" {
		return "Resource"
	}
	return escape(string(k))
}
