package commands

import (
	"strings"
	"unicode/utf8"
)

// Slack's limits on one message, which Split keeps within.
const (
	// MaxSectionChars is the most characters a section block's text may
	// hold.
	MaxSectionChars = 3000
	// MaxSections is the most sections Split puts in one message: Slack
	// allows 50 blocks, and a renderer may add a header and one note.
	MaxSections = 48
)

// Split packs r's sections into replies of at most maxChars characters of
// section text and at most MaxSections sections each, in order, so that a
// long answer can be sent as several messages. A section longer than
// MaxSectionChars (or maxChars, if smaller) is cut at line boundaries, and
// a single line too long is cut between characters, never inside an
// escape such as "&amp;". Every reply keeps r's Title and Public. Empty
// sections are dropped; a reply without any is returned as it is.
// maxChars below 1 means MaxSectionChars.
func Split(r Reply, maxChars int) []Reply {
	if maxChars < 1 {
		maxChars = MaxSectionChars
	}
	limit := min(maxChars, MaxSectionChars)
	var pieces []string
	for _, s := range r.Sections {
		if strings.TrimSpace(s) == "" {
			continue // Slack refuses a section without text
		}
		pieces = append(pieces, cutSection(s, limit)...)
	}
	if len(pieces) == 0 {
		return []Reply{r}
	}
	var out []Reply
	cur := Reply{Public: r.Public, Title: r.Title}
	size := 0
	for _, p := range pieces {
		n := utf8.RuneCountInString(p)
		if len(cur.Sections) > 0 && (size+n > maxChars || len(cur.Sections) == MaxSections) {
			out = append(out, cur)
			cur = Reply{Public: r.Public, Title: r.Title}
			size = 0
		}
		cur.Sections = append(cur.Sections, p)
		size += n
	}
	return append(out, cur)
}

// cutSection cuts s into pieces of at most limit runes, at line
// boundaries where it can.
func cutSection(s string, limit int) []string {
	if utf8.RuneCountInString(s) <= limit {
		return []string{s}
	}
	var out []string
	var cur strings.Builder
	size := 0
	flush := func() {
		if size > 0 {
			out = append(out, cur.String())
			cur.Reset()
			size = 0
		}
	}
	for _, line := range strings.Split(s, "\n") {
		n := utf8.RuneCountInString(line)
		sep := 0
		if size > 0 {
			sep = 1
		}
		if size+sep+n <= limit {
			if sep == 1 {
				cur.WriteByte('\n')
			}
			cur.WriteString(line)
			size += sep + n
			continue
		}
		flush()
		for utf8.RuneCountInString(line) > limit {
			head, rest := cutLine(line, limit)
			out = append(out, head)
			line = rest
		}
		cur.WriteString(line)
		size = utf8.RuneCountInString(line)
		if size == 0 {
			// An empty line at a cut would start the next piece with a
			// blank; drop it.
			continue
		}
	}
	flush()
	return out
}

// cutLine returns the first at most limit runes of line and the rest,
// moving the cut back so it does not fall inside an HTML entity.
func cutLine(line string, limit int) (string, string) {
	r := []rune(line)
	cut := limit
	// An entity is at most "&amp;" long: look back a few runes for an '&'
	// not yet closed by ';'.
	for i := cut - 1; i >= 0 && i >= cut-5; i-- {
		if r[i] == ';' {
			break
		}
		if r[i] == '&' {
			if i > 0 {
				cut = i
			}
			break
		}
	}
	return string(r[:cut]), string(r[cut:])
}
