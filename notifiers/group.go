package notifiers

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/slack-go/slack"
)

// ActionRespond is the action id of the menu beside each finding listed in
// a group's thread. The value of each of its options is the action id of
// the alert button it stands for, a space, and the finding key
// ("picket.quarantine_instance 3fa9..."); the bot treats a choice exactly
// like a click on that button of the finding's own alert.
const ActionRespond = "picket.respond"

// maxOptionValue is Slack's limit on an overflow option's value.
const maxOptionValue = 150

// RespondValue is the value of a menu option standing for button actionID
// on finding key.
func RespondValue(actionID, key string) string {
	return actionID + " " + key
}

// ParseRespondValue splits a menu option value into the button action id
// and the finding key; ok is false when it is not one RespondValue makes.
func ParseRespondValue(v string) (actionID, key string, ok bool) {
	actionID, key, ok = strings.Cut(v, " ")
	if !ok || actionID == "" || key == "" || strings.ContainsAny(key, " \t\n") {
		return "", "", false
	}
	return actionID, key, true
}

// RenderGroup renders a group message: how many findings of which type
// and account, their severities, regions and state, the first resources
// by name, and the group's buttons (Suppress and Escalate, acting on the
// group's first finding: the Suppress dialog's "similar" choice covers the
// whole group, and starts chosen). Every member is listed in the thread
// (RenderGroupList).
func RenderGroup(g picket.Group) Message {
	sev := g.MaxSeverity()
	title := g.Title
	if title == "" {
		title = g.Type
	}
	m := &slab{}
	blocks := make([]slack.Block, 0, 6)
	header := fmt.Sprintf("%s %s: %d findings: %s", severityEmoji(sev), sev, g.Members, Escape(title))
	blocks = append(blocks, &slack.HeaderBlock{Type: slack.MBTHeader, Text: m.plain(clip(header, MaxHeaderText))})

	kind := "of type " + codeSpan(g.Type)
	if g.Control != "" {
		kind = "of control " + codeSpan(g.Control)
	}
	summary := fmt.Sprintf("*%d findings* %s arrived together in account %s and are shown as one message. "+
		"Each is listed in this thread with its own actions.", g.Members, kind, codeSpan(g.Account))
	facts := []*slack.TextBlockObject{
		m.mrkdwn("*Severity*\n" + severityCounts(g)),
		m.mrkdwn("*Status*\n" + statusCounts(g)),
		m.mrkdwn("*Account*\n" + Escape(cmpOr(g.Account, "unknown"))),
		m.mrkdwn("*Regions*\n" + Escape(regionList(g))),
		m.mrkdwn("*Source*\n" + Escape(cmpOr(string(g.Source), "unknown"))),
	}
	if !g.FirstSeen.IsZero() {
		facts = append(facts, m.mrkdwn("*First seen*\n"+g.FirstSeen.UTC().Format(time.RFC3339)))
	}
	if !g.LastSeen.IsZero() {
		facts = append(facts, m.mrkdwn("*Last seen*\n"+g.LastSeen.UTC().Format(time.RFC3339)))
	}
	for _, f := range facts {
		// Account and regions come from findings unchecked: keep each
		// field within Slack's limit, or Slack refuses the whole message.
		f.Text = clip(f.Text, MaxFieldText)
	}
	blocks = append(blocks, m.section(m.mrkdwn(clip(summary, MaxSectionText)), facts))

	if len(g.Sample) > 0 {
		names := make([]string, len(g.Sample))
		for i, s := range g.Sample {
			names[i] = codeSpan(shorten(s, 80))
		}
		text := "*Resources* (first " + strconv.Itoa(len(g.Sample)) + " of " + strconv.Itoa(g.Members) + ")\n" + strings.Join(names, ", ")
		if len(g.Sample) >= g.Members {
			text = "*Resources*\n" + strings.Join(names, ", ")
		}
		blocks = append(blocks, m.section(m.mrkdwn(clip(text, MaxSectionText)), nil))
	}
	blocks = append(blocks, newContextBlock("", m.mrkdwn(clip("Group "+codeSpan(g.ID)+" · "+
		"more findings of this type and account join it for a while; "+
		"`/picket finding KEY` shows any one of them", MaxSectionText))))

	if g.First != "" {
		value := shorten(g.First, MaxButtonValue)
		blocks = append(blocks, slack.NewActionBlock(ActionsBlockID,
			&slack.ButtonBlockElement{Type: slack.METButton, ActionID: ActionSuppressSimilar, Value: value, Text: m.plain("Suppress similar")},
			&slack.ButtonBlockElement{Type: slack.METButton, ActionID: ActionEscalate, Value: value, Text: m.plain("Escalate")},
		))
	}
	text := fmt.Sprintf("[%s] %d findings: %s - account %s", sev, g.Members, Escape(title), Escape(cmpOr(g.Account, "unknown")))
	c := severityColor(sev)
	if g.Closed == g.Members && g.Members > 0 {
		c = ColorClosed
	}
	return Message{Text: clip(text, maxFallbackText), Color: c, Blocks: blocks}
}

// RenderGroupList renders a thread reply listing members of g, the first
// being member number from (0-based): one line each with its severity,
// resource, region, state and key, and a menu of the actions its own alert
// would offer.
func RenderGroupList(g picket.Group, from int, members []picket.FindingRecord) Message {
	m := &slab{}
	n := min(len(members), maxListBlocks)
	blocks := make([]slack.Block, 0, n+1)
	heading := fmt.Sprintf("Findings %d–%d of %d in this group", from+1, from+n, g.Members)
	blocks = append(blocks, newContextBlock("", m.mrkdwn(heading)))
	for i := range members[:n] {
		rec := &members[i]
		f := &rec.Finding
		blocks = append(blocks, memberSection(m, f))
	}
	return Message{Text: heading, Color: severityColor(g.MaxSeverity()), Blocks: blocks}
}

// maxListBlocks keeps a list reply within Slack's 50 blocks.
const maxListBlocks = MaxBlocks - 1

func memberSection(m *slab, f *picket.Finding) *slack.SectionBlock {
	parts := []string{"*" + f.Severity.String() + "*"}
	for _, r := range f.Resources {
		if r.ID != "" {
			parts = append(parts, codeSpan(shorten(r.ID, 100)))
			break
		}
	}
	if f.Region != "" {
		parts = append(parts, Escape(f.Region))
	}
	if f.Closed() {
		parts = append(parts, "closed")
	}
	parts = append(parts, Escape(shorten(f.Title, 200)), "key "+codeSpan(f.Key))
	s := m.section(m.mrkdwn(clip(strings.Join(parts, " · "), MaxSectionText)), nil)
	acts := actions(f, picket.Enrichment{}, f.Account, f.Closed(), nil)
	opts := make([]*slack.OptionBlockObject, 0, len(acts))
	for _, a := range acts {
		v := RespondValue(a.id, f.Key)
		if len(v) > maxOptionValue {
			continue
		}
		opts = append(opts, &slack.OptionBlockObject{Text: m.plain(clip(Escape(a.text), MaxButtonText)), Value: v})
	}
	if len(opts) > 0 {
		s.Accessory = &slack.Accessory{OverflowElement: &slack.OverflowBlockElement{
			Type: slack.METOverflow, ActionID: ActionRespond, Options: opts[:min(len(opts), 5)]}}
	}
	return s
}

// RenderGroupText is the group message as plain text, for the terminal.
func RenderGroupText(g picket.Group) string {
	var b strings.Builder
	title := cmpOr(g.Title, g.Type)
	fmt.Fprintf(&b, "%s: %d findings: %s\n", g.MaxSeverity(), g.Members, terminalLine(title))
	kind := "Type " + terminalLine(g.Type)
	if g.Control != "" {
		kind = "Control " + terminalLine(g.Control)
	}
	fmt.Fprintf(&b, "  %s · account %s · regions %s\n", kind, terminalLine(cmpOr(g.Account, "unknown")), terminalLine(regionList(g)))
	fmt.Fprintf(&b, "  Severity %s · %s\n", strings.ReplaceAll(severityCounts(g), "*", ""), statusCounts(g))
	if len(g.Sample) > 0 {
		names := make([]string, len(g.Sample))
		for i, s := range g.Sample {
			names[i] = terminalLine(s)
		}
		fmt.Fprintf(&b, "  Resources: %s\n", strings.Join(names, ", "))
	}
	fmt.Fprintf(&b, "  [Suppress similar] [Escalate]   (group %s; every finding listed in the thread)\n", terminalLine(g.ID))
	return b.String()
}

// renderGroupListText is a list reply as plain text.
func renderGroupListText(g picket.Group, from int, members []picket.FindingRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Findings %d–%d of %d in this group\n", from+1, from+len(members), g.Members)
	for i := range members {
		f := &members[i].Finding
		res := ""
		for _, r := range f.Resources {
			if r.ID != "" {
				res = r.ID
				break
			}
		}
		fmt.Fprintf(&b, "  • %s %s %s %s (key %s)\n", f.Severity, terminalLine(res), terminalLine(f.Region), terminalLine(f.Title), f.Key)
	}
	return b.String()
}

// severityCounts is "300 Low · 12 Medium", most severe first.
func severityCounts(g picket.Group) string {
	var parts []string
	for s := picket.SeverityCritical; s >= picket.SeverityInformational; s-- {
		if n := g.BySeverity[s]; n > 0 {
			parts = append(parts, strconv.Itoa(n)+" "+s.String())
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " · ")
}

// statusCounts is "312 open" or "300 open, 12 closed".
func statusCounts(g picket.Group) string {
	open := g.Members - g.Closed
	if g.Closed == 0 {
		return strconv.Itoa(open) + " open"
	}
	return fmt.Sprintf("%d open, %d closed", open, g.Closed)
}

func regionList(g picket.Group) string {
	if len(g.Regions) == 0 {
		return "unknown"
	}
	s := strings.Join(g.Regions, ", ")
	if g.MoreRegions {
		s += " and more"
	}
	return s
}

// codeSpan shows s as inline code: escaped, with backticks (which would
// end the span) replaced by a look-alike.
func codeSpan(s string) string {
	if s == "" {
		return "`-`"
	}
	return "`" + strings.ReplaceAll(Escape(s), "`", "ˋ") + "`"
}

// severityColor is the colour of the bar beside a message by severity.
func severityColor(s picket.Severity) string {
	switch s {
	case picket.SeverityCritical:
		return ColorCritical
	case picket.SeverityHigh:
		return ColorHigh
	case picket.SeverityMedium:
		return ColorMedium
	case picket.SeverityLow:
		return ColorLow
	}
	return ColorInformational
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
