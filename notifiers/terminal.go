package notifiers

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	picket "github.com/picketsec/picket"
)

// Terminal prints alerts as plain text, for the demo and dry runs. It
// implements picket.AlertSender and picket.Announcer: a post returns a
// synthetic reference (the alert's channel and a counter as the timestamp),
// an update prints the alert again marked "(updated)", and thread replies
// and escalation notices are printed as they would be posted. It is safe
// for concurrent use.
type Terminal struct {
	// W receives the text.
	W io.Writer

	mu sync.Mutex
	n  int
}

// NewTerminal returns a Terminal printing to w.
func NewTerminal(w io.Writer) *Terminal {
	return &Terminal{W: w}
}

// PostAlert prints the alert and returns a synthetic message reference.
func (t *Terminal) PostAlert(ctx context.Context, a picket.Alert) (picket.MessageRef, error) {
	if err := ctx.Err(); err != nil {
		return picket.MessageRef{}, fmt.Errorf("print alert: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	ref := picket.MessageRef{Channel: a.Channel, TS: fmt.Sprintf("0000000000.%06d", t.n)}
	if ref.Channel == "" {
		ref.Channel = "terminal"
	}
	header := fmt.Sprintf("── alert to %s (message %s)\n", terminalLine(ref.Channel), ref.TS)
	if _, err := io.WriteString(t.W, header+RenderText(a)+"\n"); err != nil {
		return picket.MessageRef{}, fmt.Errorf("print alert: %w", err)
	}
	return ref, nil
}

// UpdateAlert prints the alert again, marked as an update of ref.
func (t *Terminal) UpdateAlert(ctx context.Context, ref picket.MessageRef, a picket.Alert) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("print alert update: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	header := fmt.Sprintf("── alert in %s (message %s) (updated)\n", terminalLine(ref.Channel), terminalLine(ref.TS))
	if _, err := io.WriteString(t.W, header+RenderText(a)+"\n"); err != nil {
		return fmt.Errorf("print alert update: %w", err)
	}
	return nil
}

// PostGroup prints the group message and returns a synthetic reference.
func (t *Terminal) PostGroup(ctx context.Context, g picket.Group, _ string) (picket.MessageRef, error) {
	if err := ctx.Err(); err != nil {
		return picket.MessageRef{}, fmt.Errorf("print group: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	ref := picket.MessageRef{Channel: cmpOr(g.Channel, "terminal"), TS: fmt.Sprintf("0000000000.%06d", t.n)}
	header := fmt.Sprintf("── group alert to %s (message %s)\n", terminalLine(ref.Channel), ref.TS)
	if _, err := io.WriteString(t.W, header+RenderGroupText(g)+"\n"); err != nil {
		return picket.MessageRef{}, fmt.Errorf("print group: %w", err)
	}
	return ref, nil
}

// UpdateGroup prints the group message again, marked as an update.
func (t *Terminal) UpdateGroup(ctx context.Context, g picket.Group) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("print group update: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	header := fmt.Sprintf("── group alert in %s (message %s) (updated)\n", terminalLine(g.Ref.Channel), terminalLine(g.Ref.TS))
	if _, err := io.WriteString(t.W, header+RenderGroupText(g)+"\n"); err != nil {
		return fmt.Errorf("print group update: %w", err)
	}
	return nil
}

// PostGroupList prints a thread reply listing group members.
func (t *Terminal) PostGroupList(ctx context.Context, g picket.Group, from int, members []picket.FindingRecord, _ string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("print group list: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	header := fmt.Sprintf("── reply in thread of %s (message %s)\n", terminalLine(g.Ref.Channel), terminalLine(g.Ref.TS))
	if _, err := io.WriteString(t.W, header+renderGroupListText(g, from, members)+"\n"); err != nil {
		return fmt.Errorf("print group list: %w", err)
	}
	return nil
}

// FindPost finds nothing: what the terminal printed cannot be looked up.
func (t *Terminal) FindPost(context.Context, string, string, string, time.Time) (picket.MessageRef, bool, error) {
	return picket.MessageRef{}, false, nil
}

// AnnounceAction prints the state of rec as a reply in the thread of the
// alert at ref. A zero ref is ENOTFOUND, as for Slack.
func (t *Terminal) AnnounceAction(ctx context.Context, ref picket.MessageRef, rec picket.ActionRecord) error {
	if ref.Zero() {
		return picket.Errorf(picket.ENOTFOUND, "announce %s: the alert message is unknown", rec.Request.ID)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("print action reply: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	header := fmt.Sprintf("── reply in thread of %s (message %s)\n", terminalLine(ref.Channel), terminalLine(ref.TS))
	if _, err := io.WriteString(t.W, header+renderActionReplyText(rec)+"\n"); err != nil {
		return fmt.Errorf("print action reply: %w", err)
	}
	return nil
}

// PostEscalation prints a notice of an escalation to channel.
func (t *Terminal) PostEscalation(ctx context.Context, channel string, ref picket.MessageRef, f *picket.Finding, rec picket.ActionRecord) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("print escalation: %w", err)
	}
	headline, summary, link := escalationLines(ref, f, rec, plainStyle{})
	var b strings.Builder
	fmt.Fprintf(&b, "── escalation to %s\n%s\n", terminalLine(channel), headline)
	for _, part := range []string{summary, link} {
		if part != "" {
			b.WriteString("  " + part + "\n")
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := io.WriteString(t.W, b.String()+"\n"); err != nil {
		return fmt.Errorf("print escalation: %w", err)
	}
	return nil
}

// maxTextResources bounds the resources RenderText lists.
const maxTextResources = 20

// RenderText draws an alert as plain text for a terminal: the same facts,
// context, links and buttons as Render, without Slack markup. Control
// characters from the finding (terminal escape sequences among them) are
// replaced, so a finding cannot rewrite the screen.
func RenderText(a picket.Alert) string {
	v := newView(a)
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s\n", v.severity, terminalLine(v.title))
	if len(v.closed) > 0 {
		fmt.Fprintf(&b, "  Closed: %s; response actions are no longer offered.\n", joinWords(v.closed))
	}
	if mentionID(a.Mention) {
		fmt.Fprintf(&b, "  Notifies user group %s\n", a.Mention)
	}
	writeFacts(&b, "  ", v.facts)
	if v.description != "" {
		b.WriteString("\n" + indent(terminalText(v.description), "  ") + "\n\n")
	}
	if len(v.resources) > 0 {
		fmt.Fprintf(&b, "  Resources (%d):\n", len(v.resources))
		for i, r := range v.resources {
			if i == maxTextResources {
				fmt.Fprintf(&b, "    ...and %d more\n", len(v.resources)-i)
				break
			}
			line := r.kind + " " + r.id
			if r.owner != "" {
				line += " of IAM user " + r.owner
			}
			if r.detail != "" {
				line += ", " + r.detail
			}
			if r.arn != "" && r.arn != r.id {
				line += "  " + r.arn
			}
			b.WriteString("    - " + terminalLine(line) + "\n")
		}
	}
	for _, s := range []*section{v.product, v.user, v.instance, v.compliance} {
		if s == nil {
			continue
		}
		title := s.kind
		if s.name != "" {
			title += " " + s.name
		}
		b.WriteString("  " + terminalLine(title) + ":\n")
		writeFacts(&b, "    ", s.facts)
	}
	for _, m := range v.missing {
		b.WriteString("  Context unavailable: " + terminalLine(m) + "\n")
	}
	if v.console != "" {
		b.WriteString("  Console: " + v.console + "\n")
	}
	if v.remediation != "" {
		b.WriteString("  Remediation: " + v.remediation + "\n")
	}
	if v.remediationHost != "" {
		b.WriteString("  Remediation: " + terminalLine(v.remediationHost) + " (not an AWS documentation host)\n")
	}
	for _, n := range v.notes {
		b.WriteString("  Note: " + terminalLine(n) + "\n")
	}
	if v.findingID != "" {
		b.WriteString("  Finding: " + terminalLine(v.findingID) + "\n")
	}
	if lines := historyLines(v.records, plainStyle{}); len(lines) > 0 {
		b.WriteString("  Actions:\n")
		for _, l := range lines {
			b.WriteString("    " + l + "\n")
		}
	}
	var names []string
	for _, u := range v.undos {
		names = append(names, "["+u.text+"]")
	}
	for _, act := range v.actions {
		names = append(names, "["+act.text+"]")
	}
	if len(names) > 0 {
		b.WriteString("  Buttons: " + strings.Join(names, " ") + "\n")
	}
	return b.String()
}

func writeFacts(b *strings.Builder, prefix string, facts []fact) {
	width := 0
	for _, f := range facts {
		width = max(width, utf8.RuneCountInString(f.label))
	}
	for _, f := range facts {
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(f.label))
		value := f.value
		if f.url != "" {
			value += " (" + f.url + ")"
		}
		lines := strings.Split(terminalText(value), "\n")
		fmt.Fprintf(b, "%s%s:%s %s\n", prefix, f.label, pad, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(b, "%s%s  %s\n", prefix, strings.Repeat(" ", width), l)
		}
	}
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// terminalText replaces control characters other than newline and tab,
// and invalid UTF-8, with U+FFFD.
func terminalText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) || r == utf8.RuneError || unicode.In(r, unicode.Bidi_Control) {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// terminalLine is terminalText on one line: newlines and tabs become
// spaces.
func terminalLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, terminalText(s))
}
