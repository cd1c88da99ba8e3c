package notifiers

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	picket "github.com/picketsec/picket"
	"github.com/slack-go/slack"
)

// Slack's limits on a message (https://docs.slack.dev/reference/block-kit).
// Render never exceeds them. Lengths count runes.
const (
	MaxBlocks      = 50
	MaxSectionText = 3000
	MaxHeaderText  = 150
	MaxButtonText  = 75
	MaxButtonValue = 2000
	MaxFields      = 10
	MaxFieldText   = 2000
	// MaxConfirmText is the limit on a confirm dialog's text; its title
	// and button labels are limited to maxConfirmTitle.
	MaxConfirmText  = 300
	maxConfirmTitle = 100
	maxFallbackText = 3000
)

// ActionsBlockID is the block_id of the block holding an alert's buttons.
const ActionsBlockID = "picket.actions"

// Message is an alert rendered for Slack: Block Kit blocks, the fallback
// text shown in notifications and by clients that cannot show blocks, and
// the colour of the bar beside the message.
type Message struct {
	Text   string        `json:"text"`
	Color  string        `json:"color"`
	Blocks []slack.Block `json:"blocks"`
}

// Colours of the bar beside an alert, by severity; a closed finding is
// green whatever its severity, so a channel shows at a glance what is done.
const (
	ColorCritical      = "#B0151E"
	ColorHigh          = "#E8741B"
	ColorMedium        = "#F2C744"
	ColorLow           = "#2E86DE"
	ColorInformational = "#9E9E9E"
	ColorClosed        = "#2EB67D"
)

// Escape makes s safe to show as Slack text: it escapes &, < and > as
// &amp;, &lt; and &gt;, so the text cannot mention @channel, a user group
// or a person, nor make a link, and replaces invalid UTF-8. Every string
// that comes from a finding or its enrichment goes through it.
func Escape(s string) string {
	if !strings.ContainsAny(s, "&<>") && utf8.ValidString(s) {
		return s
	}
	return htmlEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD"))
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// mentionID keeps a user-group id to the characters Slack ids use, so a
// misconfigured mention cannot break out of its <!subteam^...> tag.
var mentionID = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)

// Render draws an alert as a Slack message. It is pure: the same alert
// always gives the same message. Every string from the finding or its
// enrichment is escaped, URLs are kept only when they are http(s), and the
// message keeps within Slack's limits (resources beyond the block budget are
// counted, not shown).
//
// An open finding gets buttons: Disable user (when it names an IAM user or
// access key), Quarantine instance (when it names an EC2 instance),
// Suppress and Escalate. A closed one (see picket.Finding.Closed) says why
// it is closed and offers only Escalate.
func Render(a picket.Alert) Message {
	v := newView(a)
	mention := ""
	if mentionID.MatchString(a.Mention) {
		mention = "<!subteam^" + a.Mention + ">"
	}

	var head, tail []slack.Block

	header := severityEmoji(v.severity) + " " + v.severity.String() + ": " + Escape(v.title)
	head = append(head, slack.NewHeaderBlock(plain(clip(header, MaxHeaderText))))

	if len(v.closed) > 0 {
		head = append(head, slack.NewSectionBlock(mrkdwn(":white_check_mark: *Closed*: this finding is "+
			joinWords(v.closed)+". Response actions are no longer offered."), nil, nil))
	}

	summary := Escape(v.description)
	if summary == "" {
		summary = "*" + Escape(v.title) + "*"
	}
	if mention != "" {
		summary = mention + " " + summary
	}
	head = append(head, slack.NewSectionBlock(mrkdwn(clip(summary, MaxSectionText)), fieldObjects(v.facts), nil))

	if v.user != nil {
		tail = append(tail, sectionBlock(v.user))
	}
	if v.instance != nil {
		tail = append(tail, sectionBlock(v.instance))
	}
	if v.compliance != nil {
		c := *v.compliance
		if v.remediation != "" {
			c.facts = append(c.facts, fact{label: "Remediation", value: "<" + escapeURL(v.remediation) + "|Remediation guide>", markup: true})
		}
		tail = append(tail, sectionBlock(&c))
	}
	if len(v.missing) > 0 {
		lines := make([]string, len(v.missing))
		for i, m := range v.missing {
			lines[i] = ":warning: Context unavailable: " + Escape(m)
		}
		tail = append(tail, slack.NewContextBlock("", mrkdwn(clip(strings.Join(lines, "\n"), MaxSectionText))))
	}
	if b := linksBlock(v); b != nil {
		tail = append(tail, b)
	}
	if b := historyBlock(v.records); b != nil {
		tail = append(tail, b)
	}
	for i, u := range v.undos {
		tail = append(tail, undoBlock(i, u))
	}
	if len(v.actions) > 0 {
		tail = append(tail, actionsBlock(v.actions, a.Finding))
	}

	blocks := append(head, resourceBlocks(v.resources, MaxBlocks-len(head)-len(tail))...)
	blocks = append(blocks, tail...)
	if len(blocks) > MaxBlocks { // unreachable with today's layout; keep the buttons if it changes
		blocks = append(blocks[:MaxBlocks-1], blocks[len(blocks)-1])
	}

	return Message{
		Text:   clip(fallbackText(v, a.Finding, mention), maxFallbackText),
		Color:  color(v),
		Blocks: blocks,
	}
}

// fallbackText is "[High] title - account 123456789012 us-east-1", led by
// the mention so that the user group is notified.
func fallbackText(v view, f *picket.Finding, mention string) string {
	var b strings.Builder
	if mention != "" {
		b.WriteString(mention + " ")
	}
	b.WriteString("[" + v.severity.String() + "] " + Escape(v.title) + " - account ")
	account := "unknown"
	if f != nil && f.Account != "" {
		account = f.Account
	}
	b.WriteString(Escape(account))
	if v.region != "" {
		b.WriteString(" " + Escape(v.region))
	}
	if len(v.closed) > 0 {
		b.WriteString(" (" + joinWords(v.closed) + ")")
	}
	return b.String()
}

// resourceBlocks gives one section per resource, within budget blocks; when
// they do not all fit, the last block counts the ones left out.
func resourceBlocks(rs []resourceView, budget int) []slack.Block {
	if budget <= 0 || len(rs) == 0 {
		return nil
	}
	shown := rs
	if len(rs) > budget {
		shown = rs[:budget-1]
	}
	out := make([]slack.Block, 0, len(shown)+1)
	for _, r := range shown {
		s := "*" + Escape(r.kind) + "* `" + Escape(r.id) + "`"
		if r.owner != "" {
			s += " of IAM user `" + Escape(r.owner) + "`"
		}
		if r.arn != "" && r.arn != r.id {
			s += "\n`" + Escape(r.arn) + "`"
		}
		out = append(out, slack.NewSectionBlock(mrkdwn(clip(s, MaxSectionText)), nil, nil))
	}
	if left := len(rs) - len(shown); left > 0 {
		out = append(out, slack.NewContextBlock("", mrkdwn(
			"…and "+strconv.Itoa(left)+" more resources not shown ("+strconv.Itoa(len(rs))+" in all).")))
	}
	return out
}

func sectionBlock(s *section) slack.Block {
	text := "*" + Escape(s.kind) + "*"
	if s.name != "" {
		text += " `" + Escape(s.name) + "`"
	}
	return slack.NewSectionBlock(mrkdwn(clip(text, MaxSectionText)), fieldObjects(s.facts), nil)
}

// fieldObjects renders facts as section fields, at most MaxFields of at
// most MaxFieldText runes.
func fieldObjects(facts []fact) []*slack.TextBlockObject {
	if len(facts) == 0 {
		return nil
	}
	if len(facts) > MaxFields {
		facts = facts[:MaxFields]
	}
	out := make([]*slack.TextBlockObject, len(facts))
	for i, f := range facts {
		var value string
		switch {
		case f.markup:
			value = f.value
		case f.code:
			value = "`" + Escape(f.value) + "`"
		default:
			value = Escape(f.value)
		}
		out[i] = mrkdwn(clip("*"+f.label+"*\n"+value, MaxFieldText))
	}
	return out
}

func linksBlock(v view) slack.Block {
	var links []string
	if v.console != "" {
		links = append(links, "<"+escapeURL(v.console)+"|View in the AWS console>")
	}
	if v.remediation != "" && v.compliance == nil {
		links = append(links, "<"+escapeURL(v.remediation)+"|Remediation guide>")
	}
	var elems []slack.MixedElement
	if len(links) > 0 {
		elems = append(elems, mrkdwn(strings.Join(links, "  ·  ")))
	}
	for _, n := range v.notes {
		elems = append(elems, mrkdwn(clip(Escape(n), MaxSectionText)))
	}
	if v.findingID != "" {
		elems = append(elems, mrkdwn(clip("Finding `"+Escape(v.findingID)+"`", MaxSectionText)))
	}
	if len(elems) == 0 {
		return nil
	}
	return slack.NewContextBlock("", elems...)
}

func actionsBlock(acts []action, f *picket.Finding) slack.Block {
	value := ""
	if f != nil {
		value = shorten(f.Key, MaxButtonValue)
	}
	elems := make([]slack.BlockElement, 0, len(acts))
	for _, a := range acts {
		b := slack.NewButtonBlockElement(a.id, value, plain(clip(Escape(a.text), MaxButtonText)))
		if a.danger {
			b.Style = slack.StyleDanger
		}
		if a.confirmTitle != "" {
			b.Confirm = slack.NewConfirmationBlockObject(
				plain(clip(Escape(a.confirmTitle), maxConfirmTitle)),
				plain(clip(Escape(a.confirmText), MaxConfirmText)),
				plain(clip(Escape(a.confirmOK), maxConfirmTitle)),
				plain("Cancel"),
			)
			b.Confirm.Style = slack.StyleDanger
		}
		elems = append(elems, b)
	}
	return slack.NewActionBlock(ActionsBlockID, elems...)
}

// maxHistoryLine bounds one line of an alert's action history.
const maxHistoryLine = 600

// historyBlock shows one line per action taken on the finding, oldest
// first, in one section. When they do not all fit, the oldest are left out
// and counted.
func historyBlock(recs []picket.ActionRecord) slack.Block {
	lines := historyLines(recs, slackStyle{})
	if len(lines) == 0 {
		return nil
	}
	for i := range lines {
		lines[i] = clip(lines[i], maxHistoryLine)
	}
	const room = MaxSectionText - 80 // for the line counting what was left out
	first, size := len(lines), 0
	for first > 0 {
		n := utf8.RuneCountInString(lines[first-1]) + 1
		if size+n > room {
			break
		}
		size += n
		first--
	}
	shown := lines[first:]
	if first > 0 {
		shown = append([]string{"…" + strconv.Itoa(first) + " earlier actions not shown."}, shown...)
	}
	return slack.NewSectionBlock(mrkdwn(strings.Join(shown, "\n")), nil, nil)
}

// UndoBlockID is the block_id prefix of the blocks holding Undo buttons,
// one block each (an action_id must be unique within its block): the
// first is "picket.undo.0".
const UndoBlockID = "picket.undo"

func undoBlock(i int, u undoButton) slack.Block {
	b := slack.NewButtonBlockElement(ActionUndo, shorten(u.requestID, MaxButtonValue), plain(clip(Escape(u.text), MaxButtonText)))
	b.Confirm = slack.NewConfirmationBlockObject(
		plain(clip(Escape(u.text)+"?", maxConfirmTitle)),
		plain(clip(Escape(u.confirm), MaxConfirmText)),
		plain("Undo"),
		plain("Cancel"),
	)
	b.Confirm.Style = slack.StyleDanger
	return slack.NewActionBlock(UndoBlockID+"."+strconv.Itoa(i), b)
}

func color(v view) string {
	if len(v.closed) > 0 {
		return ColorClosed
	}
	switch v.severity {
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

func severityEmoji(s picket.Severity) string {
	switch s {
	case picket.SeverityCritical:
		return ":red_circle:"
	case picket.SeverityHigh:
		return ":large_orange_circle:"
	case picket.SeverityMedium:
		return ":large_yellow_circle:"
	case picket.SeverityLow:
		return ":large_blue_circle:"
	}
	return ":white_circle:"
}

// plain is a plain_text object; emoji codes in it are drawn.
func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

// mrkdwn is a verbatim mrkdwn object: Slack does not auto-link bare URLs,
// channel names or @names in it, so only the links and mentions Render
// writes in <...> form are live.
func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

// escapeURL escapes a URL that safeURL accepted for use inside <...|...>:
// & becomes &amp; as Slack expects; | and > are already percent-encoded.
func escapeURL(u string) string {
	return strings.ReplaceAll(u, "&", "&amp;")
}

// clip cuts escaped Slack text to at most n runes, ending with an ellipsis
// when cut. It never splits a rune, an escape sequence (&amp;) or a
// <link|label> that Render wrote.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := runeOffset(s, n-1)
	if lt := strings.LastIndexByte(s[:cut], '<'); lt >= 0 && !strings.Contains(s[lt:cut], ">") {
		cut = lt
	}
	if amp := strings.LastIndexByte(s[:cut], '&'); amp >= 0 && !strings.Contains(s[amp:cut], ";") {
		cut = amp
	}
	return s[:cut] + "…"
}

func joinWords(w []string) string {
	switch len(w) {
	case 0:
		return ""
	case 1:
		return w[0]
	}
	return strings.Join(w[:len(w)-1], ", ") + " and " + w[len(w)-1]
}
