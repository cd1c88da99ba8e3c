package commands

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	picket "github.com/picketsec/picket"
)

// mrkdwnEscaper escapes the three characters Slack parses in mrkdwn.
var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escape makes s safe inside Slack mrkdwn: it cannot mention @channel,
// a user or a group, nor forge a link.
func escape(s string) string { return mrkdwnEscaper.Replace(s) }

// code shows s (escaped) in inline code. Backticks inside are replaced so
// the span cannot be closed early.
func code(s string) string {
	if s == "" {
		return "-"
	}
	return "`" + escape(strings.ReplaceAll(s, "`", "'")) + "`"
}

// clip shortens s to at most n runes, marking the cut with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// sentence capitalises s and ends it with a period, unless it already
// ends with punctuation.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = strings.ToUpper(string(r)) + s[n:]
	if !strings.ContainsAny(s[len(s)-1:], ".!?") {
		s += "."
	}
	return s
}

// stamp formats a time for people, in UTC; "-" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// age says how long ago t was relative to now, in the largest whole unit:
// "3 days", "5 hours", "12 minutes", "less than a minute".
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/(24*time.Hour)), "day")
}

// ago says when t was: "3 days ago", "just now".
func ago(now, t time.Time) string {
	switch d := now.Sub(t); {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return "just now"
	}
	return age(now, t) + " ago"
}

// duration shows a duration rounded to seconds.
func duration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return d.Round(time.Second).String()
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// link returns a mrkdwn link to raw labelled label, or the escaped label
// alone when raw is not a plain https URL: a URL from data must not be
// able to break out of the link syntax.
func link(raw, label string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.ContainsAny(raw, "<>| \t\n\"") {
		return escape(label)
	}
	return "<" + strings.ReplaceAll(raw, "&", "&amp;") + "|" + escape(label) + ">"
}

// channelRef shows where a message was posted: a channel mention for a
// channel id (Slack shows its name), otherwise the escaped name.
func channelRef(channel string) string {
	if isChannelID(channel) {
		return "<#" + channel + ">"
	}
	return escape(channel)
}

// isChannelID reports whether s looks like a Slack conversation id (C, G
// or D followed by upper-case letters and digits).
func isChannelID(s string) bool {
	if len(s) < 9 || len(s) > 20 || !strings.ContainsRune("CGD", rune(s[0])) {
		return false
	}
	for _, r := range s[1:] {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// list joins escaped items, or says "none".
func list(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = escape(s)
	}
	return strings.Join(out, ", ")
}

// isAccount reports whether s is a 12-digit AWS account id.
func isAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// isRegion reports whether s looks like an AWS region name
// ("eu-west-1", "us-gov-west-1").
func isRegion(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || len(s) > 25 {
		return false
	}
	for _, p := range parts[:len(parts)-1] {
		if p == "" || strings.Trim(p, "abcdefghijklmnopqrstuvwxyz") != "" {
			return false
		}
	}
	last := parts[len(parts)-1]
	return last != "" && strings.Trim(last, "0123456789") == ""
}

// withCause keeps err as the cause of e, for logs.
func withCause(e *picket.Error, err error) error {
	e.Err = err
	return e
}
