package notifiers

import (
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
	if escaped(s) {
		return s
	}
	return htmlEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD"))
}

// escaped reports whether Escape would return s unchanged: it is valid
// UTF-8 without &, < or >. One pass over s, as Render calls Escape for
// nearly every string it writes.
func escaped(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == '&' || c == '<' || c == '>' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		i += size
	}
	return true
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// mentionID reports whether s is a plausible user-group id: 1 to 32
// letters and digits, the characters Slack ids use, so a misconfigured
// mention cannot break out of its <!subteam^...> tag.
func mentionID(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

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
	if mentionID(a.Mention) {
		mention = "<!subteam^" + a.Mention + ">"
	}
	m := newSlab(v)

	// The blocks below the resources: at most product, user, instance,
	// compliance, missing context, links, history, the Undo buttons and the
	// actions.
	var tailSpace [8 + maxUndoButtons]slack.Block
	tail := tailSpace[:0]
	if v.product != nil {
		tail = append(tail, m.sectionBlock(v.product))
	}
	if v.user != nil {
		tail = append(tail, m.sectionBlock(v.user))
	}
	if v.instance != nil {
		tail = append(tail, m.sectionBlock(v.instance))
	}
	if v.compliance != nil {
		c := *v.compliance
		switch {
		case v.remediation != "":
			c.facts = append(c.facts[:len(c.facts):len(c.facts)], fact{label: "Remediation", value: "<" + escapeURL(v.remediation) + "|Remediation guide>", markup: true})
		case v.remediationHost != "":
			c.facts = append(c.facts[:len(c.facts):len(c.facts)], fact{label: "Remediation", value: foreignRemediation(v.remediationHost)})
		}
		tail = append(tail, m.sectionBlock(&c))
	}
	if len(v.missing) > 0 {
		lines := make([]string, len(v.missing))
		for i, miss := range v.missing {
			lines[i] = ":warning: Context unavailable: " + Escape(miss)
		}
		tail = append(tail, newContextBlock("", m.mrkdwn(clip(strings.Join(lines, "\n"), MaxSectionText))))
	}
	if b := m.linksBlock(v); b != nil {
		tail = append(tail, b)
	}
	if b := historyBlock(v.records); b != nil {
		tail = append(tail, b)
	}
	for i, u := range v.undos {
		tail = append(tail, m.undoBlock(i, u))
	}
	if len(v.actions) > 0 {
		tail = append(tail, m.actionsBlock(v.actions, a.Finding))
	}

	head := 2
	if len(v.closed) > 0 {
		head++
	}
	budget := MaxBlocks - head - len(tail)
	blocks := make([]slack.Block, 0, head+min(len(v.resources), max(budget, 0))+len(tail))

	header := severityEmoji(v.severity) + " " + v.severity.String() + ": " + Escape(v.title)
	blocks = append(blocks, &slack.HeaderBlock{Type: slack.MBTHeader, Text: m.plain(clip(header, MaxHeaderText))})

	if len(v.closed) > 0 {
		blocks = append(blocks, m.section(m.mrkdwn(":white_check_mark: *Closed*: this finding is "+
			joinWords(v.closed)+". Response actions are no longer offered."), nil))
	}

	summary := Escape(v.description)
	if summary == "" {
		summary = "*" + Escape(v.title) + "*"
	}
	if mention != "" {
		summary = mention + " " + summary
	}
	blocks = append(blocks, m.section(m.mrkdwn(clip(summary, MaxSectionText)), m.fieldObjects(v.facts)))

	blocks = m.resourceBlocks(blocks, v.resources, budget)
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
	account := "unknown"
	if f != nil && f.Account != "" {
		account = f.Account
	}
	sev, title := v.severity.String(), Escape(v.title)
	var b strings.Builder
	b.Grow(len(mention) + len(sev) + len(title) + len(account) + len(v.region) + 32)
	if mention != "" {
		b.WriteString(mention)
		b.WriteByte(' ')
	}
	b.WriteByte('[')
	b.WriteString(sev)
	b.WriteString("] ")
	b.WriteString(title)
	b.WriteString(" - account ")
	b.WriteString(Escape(account))
	if v.region != "" {
		b.WriteByte(' ')
		b.WriteString(Escape(v.region))
	}
	if len(v.closed) > 0 {
		b.WriteString(" (" + joinWords(v.closed) + ")")
	}
	return b.String()
}

// slab hands out the objects of one message from a few arrays, so that a
// message costs a handful of allocations rather than one per text object,
// section and button. An array is never grown in place: a full one is
// replaced by a new one, and the objects already handed out keep pointing
// into the old.
type slab struct {
	texts    []textObject
	sections []slack.SectionBlock
	fields   []*slack.TextBlockObject
}

// textObject is a text object with room for the emoji flag it points to.
type textObject struct {
	obj   slack.TextBlockObject
	emoji bool
}

// newSlab sizes a slab for the message of v: room for every text object
// and section Render makes from v (the Remediation field and the history
// block, drawn apart, need none).
func newSlab(v view) *slab {
	texts := 2 + len(v.facts) + 2*len(v.resources) + 3 + len(v.notes)
	sections := 2 + len(v.resources)
	fields := min(len(v.facts), MaxFields)
	if len(v.closed) > 0 {
		texts++
		sections++
	}
	for _, s := range []*section{v.product, v.user, v.instance, v.compliance} {
		if s != nil {
			texts += 2 + len(s.facts)
			sections++
			fields += min(len(s.facts)+1, MaxFields)
		}
	}
	for _, a := range v.actions {
		texts++
		if a.confirmTitle != "" {
			texts += 4
		}
	}
	texts += 5 * len(v.undos)
	return &slab{
		texts:    make([]textObject, 0, min(texts, 4*MaxBlocks)),
		sections: make([]slack.SectionBlock, 0, min(sections, MaxBlocks)),
		fields:   make([]*slack.TextBlockObject, 0, fields),
	}
}

func (m *slab) text(typ, s string) *slack.TextBlockObject {
	if len(m.texts) == cap(m.texts) {
		m.texts = make([]textObject, 0, 32)
	}
	m.texts = m.texts[:len(m.texts)+1]
	t := &m.texts[len(m.texts)-1]
	t.obj = slack.TextBlockObject{Type: typ, Text: s}
	if typ == slack.MarkdownType {
		t.obj.Verbatim = true
	} else {
		t.emoji = true
		t.obj.Emoji = &t.emoji
	}
	return &t.obj
}

// plain is a plain_text object; emoji codes in it are drawn.
func (m *slab) plain(s string) *slack.TextBlockObject { return m.text(slack.PlainTextType, s) }

// mrkdwn is a verbatim mrkdwn object (see mrkdwn).
func (m *slab) mrkdwn(s string) *slack.TextBlockObject { return m.text(slack.MarkdownType, s) }

func (m *slab) section(text *slack.TextBlockObject, fields []*slack.TextBlockObject) *slack.SectionBlock {
	if len(m.sections) == cap(m.sections) {
		m.sections = make([]slack.SectionBlock, 0, 8)
	}
	m.sections = append(m.sections, slack.SectionBlock{Type: slack.MBTSection, Text: text, Fields: fields})
	return &m.sections[len(m.sections)-1]
}

// resourceBlocks appends one section per resource to blocks, within budget
// blocks; when they do not all fit, the last block counts the ones left out.
func (m *slab) resourceBlocks(blocks []slack.Block, rs []resourceView, budget int) []slack.Block {
	if budget <= 0 || len(rs) == 0 {
		return blocks
	}
	shown := rs
	if len(rs) > budget {
		shown = rs[:budget-1]
	}
	for _, r := range shown {
		kind, id := Escape(r.kind), code(r.id)
		var b strings.Builder
		b.Grow(len(kind) + len(id) + len(r.owner) + len(r.session) + len(r.detail) + len(r.arn) + 40)
		b.WriteByte('*')
		b.WriteString(kind)
		b.WriteString("* ")
		b.WriteString(id)
		if r.owner != "" {
			b.WriteString(" of IAM user ")
			b.WriteString(code(r.owner))
		}
		if r.session != "" {
			b.WriteString(", session ")
			b.WriteString(code(r.session))
		}
		if r.detail != "" {
			b.WriteString(", ")
			b.WriteString(Escape(r.detail))
		}
		if r.arn != "" && r.arn != r.id {
			b.WriteString("\n")
			b.WriteString(code(r.arn))
		}
		blocks = append(blocks, m.section(m.mrkdwn(clip(b.String(), MaxSectionText)), nil))
	}
	if left := len(rs) - len(shown); left > 0 {
		blocks = append(blocks, newContextBlock("", m.mrkdwn(
			"…and "+strconv.Itoa(left)+" more resources not shown ("+strconv.Itoa(len(rs))+" in all).")))
	}
	return blocks
}

func (m *slab) sectionBlock(s *section) slack.Block {
	text := "*" + Escape(s.kind) + "*"
	if s.name != "" {
		text += " " + code(s.name)
	}
	return m.section(m.mrkdwn(clip(text, MaxSectionText)), m.fieldObjects(s.facts))
}

// fieldObjects renders facts as section fields, at most MaxFields of at
// most MaxFieldText runes. The texts share one string.
func (m *slab) fieldObjects(facts []fact) []*slack.TextBlockObject {
	if len(facts) == 0 {
		return nil
	}
	if len(facts) > MaxFields {
		facts = facts[:MaxFields]
	}
	var values [MaxFields]string
	size := 0
	for i, f := range facts {
		switch {
		case f.markup:
			values[i] = f.value
		case f.url != "":
			values[i] = "<" + escapeURL(f.url) + "|" + Escape(f.value) + ">"
		case f.code:
			values[i] = code(f.value)
		default:
			values[i] = Escape(f.value)
		}
		size += len(f.label) + len(values[i]) + 3
	}
	var b strings.Builder
	b.Grow(size)
	var ends [MaxFields]int
	for i, f := range facts {
		b.WriteByte('*')
		b.WriteString(f.label)
		b.WriteString("*\n")
		b.WriteString(values[i])
		ends[i] = b.Len()
	}
	all := b.String()
	if len(m.fields)+len(facts) > cap(m.fields) {
		m.fields = make([]*slack.TextBlockObject, 0, MaxFields)
	}
	n := len(m.fields)
	start := 0
	for i := range facts {
		m.fields = append(m.fields, m.mrkdwn(clip(all[start:ends[i]], MaxFieldText)))
		start = ends[i]
	}
	return m.fields[n:len(m.fields):len(m.fields)]
}

func (m *slab) linksBlock(v view) slack.Block {
	var links []string
	if v.console != "" {
		links = append(links, slackLink(v.console, "View in the AWS console"))
	}
	if v.remediation != "" && v.compliance == nil {
		links = append(links, slackLink(v.remediation, "Remediation guide"))
	}
	if v.remediationHost != "" && v.compliance == nil {
		links = append(links, Escape(foreignRemediation(v.remediationHost)))
	}
	elems := make([]*slack.TextBlockObject, 0, 2+len(v.notes))
	if joined := strings.Join(links, "  ·  "); joined != "" && utf8.RuneCountInString(joined) <= MaxSectionText {
		elems = append(elems, m.mrkdwn(joined))
	} else {
		// Each link is whole or not at all: a link cut short is no link.
		for _, l := range links {
			elems = append(elems, m.mrkdwn(l))
		}
	}
	// A context block holds at most maxContextElements: the notes that do
	// not fit (a finding may name many resources inconsistently) share
	// the last one.
	room := maxContextElements - len(elems)
	if v.findingID != "" {
		room--
	}
	for i, n := range v.notes {
		if i == room-1 && len(v.notes) > room {
			elems = append(elems, m.mrkdwn(clip(Escape(strings.Join(v.notes[i:], "\n")), MaxSectionText)))
			break
		}
		elems = append(elems, m.mrkdwn(clip(Escape(n), MaxSectionText)))
	}
	if v.findingID != "" {
		elems = append(elems, m.mrkdwn(clip("Finding "+code(v.findingID), MaxSectionText)))
	}
	if len(elems) == 0 {
		return nil
	}
	return newContextBlock("", elems...)
}

// maxContextElements is Slack's limit on the elements of a context block.
const maxContextElements = 10

// slackLink is <url|label> for a URL safeURL accepted, or the label alone
// when the link would not fit in one text object.
func slackLink(u, label string) string {
	l := "<" + escapeURL(u) + "|" + label + ">"
	if utf8.RuneCountInString(l) > MaxSectionText {
		return label + " (the link is too long for Slack)"
	}
	return l
}

func (m *slab) actionsBlock(acts []action, f *picket.Finding) slack.Block {
	value := ""
	if f != nil {
		value = shorten(f.Key, MaxButtonValue)
	}
	buttons := make([]slack.ButtonBlockElement, len(acts))
	elems := make([]*slack.ButtonBlockElement, len(acts))
	confirms := 0
	for _, a := range acts {
		if a.confirmTitle != "" {
			confirms++
		}
	}
	dialogs := make([]slack.ConfirmationBlockObject, confirms)
	for i, a := range acts {
		b := &buttons[i]
		*b = slack.ButtonBlockElement{Type: slack.METButton, ActionID: a.id, Value: value,
			Text: m.plain(clip(Escape(a.text), MaxButtonText))}
		if a.danger {
			b.Style = slack.StyleDanger
		}
		if a.confirmTitle != "" {
			c := &dialogs[len(dialogs)-confirms]
			confirms--
			*c = slack.ConfirmationBlockObject{
				Title:   m.plain(clip(Escape(a.confirmTitle), maxConfirmTitle)),
				Text:    m.plain(clip(Escape(a.confirmText), MaxConfirmText)),
				Confirm: m.plain(clip(Escape(a.confirmOK), maxConfirmTitle)),
				Deny:    m.plain("Cancel"),
				Style:   slack.StyleDanger,
			}
			b.Confirm = c
		}
		elems[i] = b
	}
	return newActionBlock(ActionsBlockID, elems...)
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

func (m *slab) undoBlock(i int, u undoButton) slack.Block {
	b := &slack.ButtonBlockElement{Type: slack.METButton, ActionID: ActionUndo, Value: shorten(u.requestID, MaxButtonValue),
		Text: m.plain(clip(Escape(u.text), MaxButtonText))}
	b.Confirm = &slack.ConfirmationBlockObject{
		Title:   m.plain(clip(Escape(u.text)+"?", maxConfirmTitle)),
		Text:    m.plain(clip(Escape(u.confirm), MaxConfirmText)),
		Confirm: m.plain("Undo"),
		Deny:    m.plain("Cancel"),
		Style:   slack.StyleDanger,
	}
	return newActionBlock(UndoBlockID+"."+strconv.Itoa(i), b)
}

func color(v view) string {
	if len(v.closed) > 0 {
		return ColorClosed
	}
	return severityColor(v.severity)
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

// foreignRemediation is what an alert says about a remediation guide on a
// host that is not AWS's: the host, as text.
func foreignRemediation(host string) string {
	return "Remediation guide on " + shorten(host, 100) + " (not linked: not an AWS documentation host)"
}

// code writes s as a code span: escaped, with each backtick replaced by a
// look-alike (U+02CB), since Slack has no escape for a backtick inside a
// code span and one would end the span.
func code(s string) string {
	return "`" + Escape(strings.ReplaceAll(s, "`", "\u02cb")) + "`"
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
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
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
