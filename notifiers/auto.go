package notifiers

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	picket "github.com/picketsec/picket"
	"github.com/slack-go/slack"
)

// AutoBlockID is the block_id prefix of the blocks holding a rule
// notice's Run buttons, one block per planned action: "picket.auto.0".
const AutoBlockID = "picket.auto"

// iconRobot marks what an automatic response rule says.
const iconRobot = ":robot_face:"

// maxAutoPlans bounds the plans one notice shows (each takes up to three
// blocks).
const maxAutoPlans = 10

// RunActionID is the action id of the Run button for kind: the id of the
// alert's own button for it ("picket.disable_user"), so a click plans the
// action again for the person who clicked, with their role, exactly as
// the alert's button does.
func RunActionID(kind picket.ActionKind) string { return "picket." + string(kind) }

// autoLines is what a rule notice says, drawn by a style.
func autoLines(n picket.AutoNotice, st style) (headline, intro string) {
	who := st.code(shorten(n.Rule, 64))
	headline = "Automatic rule " + st.text(shorten(n.Rule, 64)) + " matched this finding"
	var b strings.Builder
	b.WriteString(st.icon(iconRobot) + " " + st.bold("Automatic rule") + " " + who + " matched this finding.")
	switch {
	case n.Why != "":
		b.WriteString(" It is set to run automatically, but did not: " + st.text(shorten(n.Why, 500)) + ".")
		headline += ": not run automatically"
	case n.Mode == picket.AutoModeNotify:
		b.WriteString(" It proposes the plan below.")
	}
	if len(n.Plans) > 0 {
		b.WriteString(" Anyone whose Picket role grants the action can run it: Run plans it again for you and asks you to confirm.")
	}
	for _, note := range n.Notes {
		b.WriteString("\nNot done: " + st.text(shorten(note, 500)))
	}
	return headline, b.String()
}

// planText draws one planned action: what, on what, where, then its
// steps and undo, or the guardrail's refusal.
func planText(p picket.Plan, st style) string {
	req := p.Request
	var b strings.Builder
	b.WriteString(st.bold(st.text(req.Kind.Label())))
	if req.Target.ID != "" {
		b.WriteString(" · " + st.text(resourceLabel(req.Target)) + " " + st.code(shorten(req.Target.ID, 256)))
	}
	if req.Account != "" {
		b.WriteString(" · account " + st.code(shorten(req.Account, 64)))
		if req.Region != "" {
			b.WriteString(" / " + st.code(shorten(req.Region, 64)))
		}
	}
	if req.DryRun {
		b.WriteString(" · dry run")
	}
	if p.Refusal != "" {
		b.WriteString("\n" + st.icon(iconRefused) + " Refused by a guardrail: " + st.text(shorten(p.Refusal, 1000)))
		if p.Alternative != "" {
			b.WriteString(" Use " + st.bold(st.text(p.Alternative.Label())) + " instead.")
		}
		return b.String()
	}
	for _, s := range p.Steps {
		b.WriteString("\n• " + st.text(shorten(s.Description, maxStepLine)) + " (" + st.code(s.Operation) + ")")
	}
	if p.Undo != "" {
		b.WriteString("\n" + st.bold("Undo") + " would " + st.text(lowerFirst(shorten(p.Undo, 1000))))
	}
	if p.Approvals > 0 {
		b.WriteString("\nA second person must approve it.")
	}
	return b.String()
}

// RenderAutoNotice draws the reply a rule posts in an alert's thread when
// it does not run its actions itself (mode notify, or a fall-back from
// auto, with the reason): each planned action with a Run button (none on
// a refused plan). It is pure and escapes every string.
func RenderAutoNotice(n picket.AutoNotice) Message {
	headline, intro := autoLines(n, slackStyle{})
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(clip(intro, MaxSectionText)), nil, nil)}
	plans := n.Plans
	if len(plans) > maxAutoPlans {
		plans = plans[:maxAutoPlans]
	}
	for i, p := range plans {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(clip(planText(p, slackStyle{}), MaxSectionText)), nil, nil))
		if p.Refusal != "" {
			continue
		}
		text := "Run " + strings.ToLower(p.Request.Kind.Label())
		b := slack.NewButtonBlockElement(RunActionID(p.Request.Kind), shorten(n.FindingKey, MaxButtonValue), plain(clip(Escape(text), MaxButtonText)))
		b.Style = slack.StylePrimary
		blocks = append(blocks, newActionBlock(AutoBlockID+"."+strconv.Itoa(i), b))
	}
	blocks = append(blocks, newContextBlock("", mrkdwn(clip("Automatic response rule "+code(shorten(n.Rule, 64))+
		" · the actor in the audit trail is "+code(picket.RuleActorPrefix+shorten(n.Rule, 64)), MaxSectionText))))
	return Message{Text: clip(Escape(headline), maxFallbackText), Color: ColorMedium, Blocks: blocks}
}

// renderAutoNoticeText draws a rule notice for a terminal.
func renderAutoNoticeText(n picket.AutoNotice) string {
	_, intro := autoLines(n, plainStyle{})
	var b strings.Builder
	b.WriteString(indent(intro, "  ") + "\n")
	for _, p := range n.Plans {
		b.WriteString(indent(planText(p, plainStyle{}), "    ") + "\n")
		if p.Refusal == "" {
			b.WriteString("    Buttons: [Run " + strings.ToLower(p.Request.Kind.Label()) + "]\n")
		}
	}
	return b.String()
}

// AnnounceAuto replies in the thread of the alert at ref with a rule's
// notice (RenderAutoNotice), paced and retried like other replies.
func (s *Slack) AnnounceAuto(ctx context.Context, ref picket.MessageRef, n picket.AutoNotice) error {
	if ref.Zero() {
		return picket.Errorf(picket.ENOTFOUND, "announce rule %s: the alert message is unknown", n.Rule)
	}
	opts := append(RenderAutoNotice(n).msgOptions(), slack.MsgOptionTS(ref.TS))
	return s.call(ctx, "reply in thread in", ref.Channel, func(ctx context.Context) error {
		_, _, err := s.api.PostMessageContext(ctx, ref.Channel, opts...)
		return err
	})
}

// AnnounceAuto prints a rule's notice as a reply to the alert at ref.
func (t *Terminal) AnnounceAuto(ctx context.Context, ref picket.MessageRef, n picket.AutoNotice) error {
	if ref.Zero() {
		return picket.Errorf(picket.ENOTFOUND, "announce rule %s: the alert message is unknown", n.Rule)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("print rule notice: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	header := fmt.Sprintf("── reply in thread of %s (message %s)\n", terminalLine(ref.Channel), terminalLine(ref.TS))
	if _, err := io.WriteString(t.W, header+renderAutoNoticeText(n)+"\n"); err != nil {
		return fmt.Errorf("print rule notice: %w", err)
	}
	return nil
}
