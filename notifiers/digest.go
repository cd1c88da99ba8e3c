package notifiers

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	picket "github.com/picketsec/picket"
	"github.com/slack-go/slack"
)

// Digest block ids, stable so that tests and people can find sections.
const (
	DigestBlockPrefix = "picket.digest."
	// digestChartName is the file name of the uploaded trend chart.
	digestChartName = "picket-digest.png"
	// maxDigestLine bounds one line of a digest section, in runes.
	maxDigestLine = 300
)

// digestColor is the bar beside a digest: the colour of the most severe
// open finding, green when nothing Critical or High is open.
func digestColor(d picket.Digest) string {
	switch {
	case d.Open[picket.SeverityCritical] > 0:
		return ColorCritical
	case d.Open[picket.SeverityHigh] > 0:
		return ColorHigh
	}
	return ColorClosed
}

// RenderDigest draws a digest as a Slack message. It is pure: the same
// digest always gives the same message. Every string that came from a
// finding, a suppression or a person is escaped, and every section keeps
// within Slack's limits (whole lines are dropped and counted rather than
// cut).
func RenderDigest(d picket.Digest) Message {
	var blocks []slack.Block

	title := "Security digest"
	if d.Name != "" {
		title += ": " + d.Name
	}
	title += " · " + d.To.UTC().Format("Mon 2 Jan 2006")
	blocks = append(blocks, slack.NewHeaderBlock(
		slack.NewTextBlockObject(slack.PlainTextType, Escape(shorten(title, MaxHeaderText)), true, false),
		slack.HeaderBlockOptionBlockID(DigestBlockPrefix+"header")))

	scope := "all accounts"
	if len(d.Accounts) > 0 {
		acc := make([]string, len(d.Accounts))
		for i, a := range d.Accounts {
			acc[i] = code(shorten(a, 40))
		}
		scope = "accounts " + strings.Join(acc, ", ")
	}
	ctx := fmt.Sprintf("%s to %s · %s · %s and above", digestTime(d.From), digestTime(d.To), scope, d.MinSeverity)
	if d.HasPrevious {
		ctx += " · changes since " + d.Previous.UTC().Format("2 Jan")
	}
	blocks = append(blocks, newContextBlock(DigestBlockPrefix+"scope", digestMrkdwn(clipLines([]string{ctx}, MaxSectionText))))

	blocks = append(blocks, digestSection("changes", "What changed", changeLines(d)))
	blocks = append(blocks, digestSection("open", "Open now", openLines(d)))
	if len(d.TopTypes) > 0 || len(d.TopAccounts) > 0 {
		blocks = append(blocks, topBlock(d))
	}
	blocks = append(blocks, digestSection("responses", "Responses", responseLines(d)))
	if len(d.Expiring) > 0 {
		blocks = append(blocks, digestSection("expiring", "Suppressions expiring soon", expiringLines(d)))
	}
	if lines := postureLines(d); len(lines) > 0 {
		blocks = append(blocks, digestSection("posture", "Posture", lines))
	}
	return Message{Text: digestFallback(d, title), Color: digestColor(d), Blocks: blocks}
}

func digestMrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

func digestSection(id, heading string, lines []string) slack.Block {
	text := clipLines(append([]string{"*" + heading + "*"}, lines...), MaxSectionText)
	return slack.NewSectionBlock(digestMrkdwn(text), nil, nil, slack.SectionBlockOptionBlockID(DigestBlockPrefix+id))
}

// clipLines joins lines with newlines within n runes, dropping whole lines
// from the end and saying how many.
func clipLines(lines []string, n int) string {
	note := func(k int) string { return fmt.Sprintf("_… and %d more lines_", k) }
	total := 0
	for i, l := range lines {
		size := utf8.RuneCountInString(l) + 1
		if total+size <= n {
			total += size
			continue
		}
		if i == 0 {
			return clip(l, n)
		}
		for i > 1 && total+len(note(len(lines)-i)) > n {
			i--
			total -= utf8.RuneCountInString(lines[i]) + 1
		}
		return strings.Join(lines[:i], "\n") + "\n" + note(len(lines)-i)
	}
	return strings.Join(lines, "\n")
}

var digestSeverities = []picket.Severity{picket.SeverityCritical, picket.SeverityHigh, picket.SeverityMedium, picket.SeverityLow, picket.SeverityInformational}

// severityBreakdown says "2 Critical, 1 High" for the non-zero counts.
func severityBreakdown(c picket.SeverityCounts) string {
	var parts []string
	for _, s := range digestSeverities {
		if c[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[s], s))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func sourceBreakdown(m map[picket.Source]int) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for _, s := range []picket.Source{picket.SourceGuardDuty, picket.SourceSecurityHub} {
		if m[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", sourceName(s), m[s]))
		}
	}
	parts = append(parts, sortedSources(m)...)
	return " (" + strings.Join(parts, ", ") + ")"
}

// sortedSources lists the counts of sources other than GuardDuty and
// Security Hub, by name.
func sortedSources(m map[picket.Source]int) []string {
	var names []string
	for s := range m {
		if s != picket.SourceGuardDuty && s != picket.SourceSecurityHub && m[s] > 0 {
			names = append(names, string(s))
		}
	}
	sortStrings(names)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%s %d", sourceName(picket.Source(shorten(n, 40))), m[picket.Source(n)])
	}
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func sourceName(s picket.Source) string {
	return Escape(s.Name())
}

func changeLines(d picket.Digest) []string {
	a := d.Activity
	row := func(label string, c picket.SeverityCounts, src map[picket.Source]int) string {
		return fmt.Sprintf("• %s: *%d*", label, c.Total()) + breakdownSuffix(c) + sourceBreakdown(src)
	}
	lines := []string{
		row("New", a.New, a.NewBySource),
		row("Updated", a.Updated, a.UpdatedBySource),
		row("Resolved", a.Resolved, a.ResolvedBySource),
	}
	if l := productLine(a.NewByProduct); l != "" {
		lines = append(lines, l)
	}
	return lines
}

// productLine lists the new findings by product, most first, when any
// product is not simply GuardDuty or Security Hub (whose counts the New
// line already gives by source).
func productLine(m map[string]int) string {
	other := false
	names := make([]string, 0, len(m))
	for p, n := range m {
		if n > 0 {
			names = append(names, p)
			other = other || (p != "GuardDuty" && p != "Security Hub")
		}
	}
	if !other {
		return ""
	}
	// Most first, then by name. Product names come from findings, so
	// there may be as many as there were new findings: sort in n log n.
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, 0, min(len(names), 8)+1)
	for i, p := range names {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("%d more", len(names)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", Escape(shorten(p, 40)), m[p]))
	}
	return "• New by product: " + strings.Join(parts, ", ")
}

func breakdownSuffix(c picket.SeverityCounts) string {
	if c.Total() == 0 {
		return ""
	}
	return " — " + severityBreakdown(c)
}

func signed(n int) string {
	if n > 0 {
		return "+" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

func openLines(d picket.Digest) []string {
	var counts []string
	for _, s := range digestSeverities {
		c := fmt.Sprintf("%s %s *%d*", severityEmoji(s), s, d.Open[s])
		if d.HasPrevious && d.OpenChange[s] != 0 {
			c += " (" + signed(d.OpenChange[s]) + ")"
		}
		counts = append(counts, c)
	}
	lines := []string{strings.Join(counts, "  ·  ")}
	for _, f := range d.Urgent {
		title := f.Title
		if title == "" {
			title = f.Type
		}
		line := fmt.Sprintf("• %s *%s* — `%s` in `%s` %s, open %s",
			severityEmoji(f.Severity), Escape(shorten(title, 120)), Escape(shorten(f.Type, 80)),
			Escape(shorten(f.Account, 40)), Escape(shorten(f.Region, 30)), formatAge(f.Age))
		lines = append(lines, line)
	}
	if d.UrgentMore > 0 {
		lines = append(lines, fmt.Sprintf("_… and %d more open Critical or High findings_", d.UrgentMore))
	}
	return lines
}

func topBlock(d picket.Digest) slack.Block {
	list := func(heading string, top []picket.NamedCount) *slack.TextBlockObject {
		lines := []string{"*" + heading + "*"}
		for _, c := range top {
			lines = append(lines, fmt.Sprintf("• `%s` %d", Escape(shorten(c.Name, 80)), c.Count))
		}
		if len(top) == 0 {
			lines = append(lines, "none")
		}
		return digestMrkdwn(clipLines(lines, MaxFieldText))
	}
	return slack.NewSectionBlock(nil, []*slack.TextBlockObject{
		list("Top finding types", d.TopTypes), list("Top accounts", d.TopAccounts),
	}, nil, slack.SectionBlockOptionBlockID(DigestBlockPrefix+"top"))
}

func digestActor(a picket.Actor) string {
	switch {
	case slackUserID.MatchString(a.ID):
		return "<@" + a.ID + ">"
	case a.Name != "":
		return Escape(shorten(a.Name, 80))
	case a.ID != "":
		return Escape(shorten(a.ID, 80))
	}
	return "someone"
}

func responseLines(d picket.Digest) []string {
	var lines []string
	lines = append(lines, "Time to first action: "+durationStats(d.FirstAction),
		"Time to resolve: "+durationStats(d.Resolve))
	if l := ruleLine(d.Rules); l != "" {
		lines = append(lines, l)
	}
	if len(d.Actions) == 0 {
		return append(lines, "No actions taken in this period.")
	}
	var who []string
	for _, a := range d.Actors {
		who = append(who, fmt.Sprintf("%s %d", Escape(shorten(a.Name, 80)), a.Count))
	}
	lines = append(lines, "Actions by: "+strings.Join(who, ", "))
	if d.ActionsMore > 0 {
		lines = append(lines, fmt.Sprintf("_%d earlier actions not listed_", d.ActionsMore))
	}
	for _, a := range d.Actions {
		line := fmt.Sprintf("• %s %s: %s on `%s` (%s)", a.Time.UTC().Format("02 Jan 15:04"),
			digestActor(a.Actor), a.Label(), Escape(shorten(a.Target, 80)), Escape(string(a.Outcome)))
		lines = append(lines, clip(line, maxDigestLine))
	}
	return lines
}

// ruleLine sums up automatic response rules: "Automatic rules:
// `malicious-ip-caller` 3 run, 1 refused, 2 offered"; "" when none acted.
func ruleLine(rules []picket.RuleActivity) string {
	var parts []string
	for _, r := range rules {
		var what []string
		for _, c := range []struct {
			n    int
			noun string
		}{{r.Ran, "run"}, {r.DryRuns, "dry run"}, {r.Refused, "refused"}, {r.Pending, "asked for approval"}, {r.Offered, "offered"}} {
			if c.n > 0 {
				what = append(what, fmt.Sprintf("%d %s", c.n, c.noun))
			}
		}
		if len(what) > 0 {
			parts = append(parts, code(shorten(r.Rule, 64))+" "+strings.Join(what, ", "))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return clip("Automatic rules: "+strings.Join(parts, "; "), maxDigestLine)
}

func durationStats(s picket.DurationStats) string {
	if s.Count == 0 {
		return "no data"
	}
	noun := "findings"
	if s.Count == 1 {
		noun = "finding"
	}
	return fmt.Sprintf("median *%s*, p90 *%s* (%d %s)", formatAge(s.Median), formatAge(s.P90), s.Count, noun)
}

func expiringLines(d picket.Digest) []string {
	var lines []string
	for _, s := range d.Expiring {
		what := []string{}
		if s.OneFinding {
			what = append(what, "one finding ("+code(shorten(s.FindingKey, 60))+")")
		}
		if s.Type != "" {
			what = append(what, code(shorten(s.Type, 80)))
		}
		if s.ResourceID != "" {
			what = append(what, "on "+code(shorten(s.ResourceID, 80)))
		}
		if s.Account != "" {
			what = append(what, "in "+code(shorten(s.Account, 40)))
		}
		if len(what) == 0 {
			what = append(what, code(shorten(s.ID, 60)))
		}
		line := fmt.Sprintf("• %s until %s", strings.Join(what, " "), s.Until.UTC().Format("02 Jan 15:04 UTC"))
		if s.Reason != "" {
			line += " — " + Escape(shorten(s.Reason, 120))
		}
		if s.Actor.ID != "" || s.Actor.Name != "" {
			line += " (by " + digestActor(s.Actor) + ")"
		}
		lines = append(lines, clip(line, maxDigestLine))
	}
	return lines
}

func postureLines(d picket.Digest) []string {
	var lines []string
	score := func(c picket.ScoreChange) string {
		s := fmt.Sprintf("• %s: *%s%%*", Escape(shorten(c.Name, 100)), formatScore(c.Score))
		if c.HasPrevious {
			delta := c.Delta()
			switch {
			case math.Abs(delta) < 0.05:
				s += " (no change)"
			case delta > 0:
				s += " (+" + formatScore(delta) + ")"
			default:
				s += " (" + formatScore(delta) + ")"
			}
		}
		return s
	}
	if d.Posture != nil {
		lines = append(lines, score(*d.Posture))
	}
	for _, c := range d.Standards {
		lines = append(lines, score(c))
	}
	return lines
}

func formatScore(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// formatAge says a duration the way people read an age: "45m", "5h 10m",
// "3d 4h".
func formatAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + "h"
		}
		return fmt.Sprintf("%dh %dm", h, m)
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return strconv.Itoa(days) + "d"
	}
	return fmt.Sprintf("%dd %dh", days, h)
}

func digestTime(t time.Time) string { return t.UTC().Format("02 Jan 15:04 UTC") }

func digestFallback(d picket.Digest, title string) string {
	s := fmt.Sprintf("%s: %d new, %d resolved, %d open (%d Critical, %d High)", title,
		d.Activity.New.Total(), d.Activity.Resolved.Total(), d.Open.Total(),
		d.Open[picket.SeverityCritical], d.Open[picket.SeverityHigh])
	return Escape(shorten(s, maxFallbackText))
}

// RenderDigestText draws a digest as plain text for a terminal (picket
// digest --dry-run): the same sections as RenderDigest, without Slack
// markup.
func RenderDigestText(d picket.Digest) string {
	m := RenderDigest(d)
	var b strings.Builder
	for _, blk := range m.Blocks {
		switch v := blk.(type) {
		case *slack.HeaderBlock:
			b.WriteString(plainDigest(v.Text.Text) + "\n")
		case *ContextBlock:
			for _, e := range v.Elements {
				b.WriteString(plainDigest(e.Text) + "\n")
			}
		case *slack.SectionBlock:
			b.WriteString("\n")
			if v.Text != nil {
				b.WriteString(plainDigest(v.Text.Text) + "\n")
			}
			for _, f := range v.Fields {
				b.WriteString(plainDigest(f.Text) + "\n")
			}
		}
	}
	return b.String()
}

var digestPlain = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&",
	":red_circle:", "●", ":large_orange_circle:", "●", ":large_yellow_circle:", "●",
	":large_blue_circle:", "●", ":white_circle:", "○")

// plainDigest turns digest mrkdwn into terminal text: markup removed,
// entities decoded, control characters dropped.
func plainDigest(s string) string {
	s = digestPlain.Replace(stripMarkers(s))
	return strings.Map(func(r rune) rune {
		if r == '\n' || r >= 0x20 && r != 0x7f {
			return r
		}
		return -1
	}, s)
}

// stripMarkers removes mrkdwn's bold, italic and code markers (*, _, `)
// where they open or close a span (at a word's edge), and keeps them inside
// words and values, so "*:*" or "my_bucket" in finding text survive.
func stripMarkers(s string) string {
	isMarker := func(c byte) bool { return c == '*' || c == '_' || c == '`' }
	isSpace := func(c byte) bool { return c == ' ' || c == '\n' || c == '\t' }
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isMarker(c) {
			prevEdge := i == 0 || isSpace(s[i-1]) || isMarker(s[i-1]) || s[i-1] == '('
			nextEdge := i == len(s)-1 || isSpace(s[i+1]) || isMarker(s[i+1]) || strings.IndexByte(",.)", s[i+1]) >= 0
			opens := prevEdge && !nextEdge
			closes := nextEdge && !prevEdge
			if opens || closes {
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// FileUploader is the part of the Slack Web API that uploads files, with
// slack-go's exact signature so that *slack.Client satisfies it. The
// upload uses Slack's external flow (files.getUploadURLExternal, a POST of
// the bytes, files.completeUploadExternal).
type FileUploader interface {
	UploadFileContext(ctx context.Context, params slack.UploadFileParameters) (*slack.FileSummary, error)
}

// ErrDigestChart is wrapped by PostDigest's error when the digest's
// message was posted but its chart could not be uploaded: the digest is in
// Slack, so a caller must not post it again.
var ErrDigestChart = errors.New("digest posted without its chart")

// PostDigest posts the digest to channel, paced and retried like
// PostAlert, then uploads chartPNG (when not empty) to the same channel
// with a one-line comment, through Slack's external upload flow. A failed
// upload is returned after the digest itself was posted, wrapping
// ErrDigestChart; the message is not posted again.
func (s *Slack) PostDigest(ctx context.Context, channel string, d picket.Digest, chartPNG []byte) error {
	if channel == "" {
		return picket.Errorf(picket.EINVALID, "post digest: the digest has no channel")
	}
	opts := RenderDigest(d).msgOptions()
	var got string
	err := s.call(ctx, "post digest to", channel, func(ctx context.Context) error {
		ch, _, err := s.api.PostMessageContext(ctx, channel, opts...)
		got = ch
		return err
	})
	if err != nil {
		return err
	}
	if got != "" && got != channel {
		s.learnID(channel, got)
	}
	if len(chartPNG) == 0 {
		return nil
	}
	up, ok := s.api.(FileUploader)
	if !ok {
		return fmt.Errorf("%w: %w", ErrDigestChart, picket.Errorf(picket.EUNSUPPORTED, "post digest chart: the Slack client cannot upload files"))
	}
	// files.completeUploadExternal wants the channel id.
	target := channel
	if got != "" {
		target = got
	}
	comment := "Open findings by severity, last 30 days"
	if d.Name != "" {
		comment += " (" + Escape(shorten(d.Name, 80)) + ")"
	}
	err = s.call(ctx, "upload digest chart to", target, func(ctx context.Context) error {
		_, err := up.UploadFileContext(ctx, slack.UploadFileParameters{
			Reader:         bytes.NewReader(chartPNG),
			FileSize:       len(chartPNG),
			Filename:       digestChartName,
			Title:          "Open findings by severity",
			AltTxt:         "Line chart of open findings by severity over the last 30 days",
			InitialComment: comment,
			Channel:        target,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDigestChart, err)
	}
	return nil
}
