package notifiers

import (
	"strings"
	"testing"
)

// FuzzSafeURL checks safeURL's fast path: whenever plainURL accepts a URL,
// parsing it and writing it back (the slow path) gives the URL unchanged.
func FuzzSafeURL(f *testing.F) {
	for _, s := range []string{
		"https://console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=f1a2b3c4",
		"https://docs.aws.amazon.com/securityhub/latest/userguide/ec2-controls.html#ec2-7",
		"http://example.com", "https://example.com/", "https://example.com?", "https://example.com#",
		"https://example.com/a%2Fb%zz", "https://example.com/!$()*+,;=:@", "https://a..b/%41?%41#%41",
		"https://example.com/a#b#c", "https://example.com:443/x", "https://user@example.com/",
		"HTTPS://example.com/", "https://exa mple.com/", "https://example.com/<script>", "javascript:alert(1)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		raw = strings.TrimSpace(raw)
		if raw == "" || !plainURL(raw) {
			return
		}
		if got := parsedURL(raw); got != raw {
			t.Errorf("plainURL accepted %q, but url.Parse writes it back as %q", raw, got)
		}
	})
}

// FuzzEscaped checks Escape's one-pass check against its definition.
func FuzzEscaped(f *testing.F) {
	for _, s := range []string{"", "plain", "a&b", "<x>", "caf\u00e9", "\xff", "\xe2\x82", "ok \u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := s == htmlEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD"))
		if got := escaped(s); got != want {
			t.Errorf("escaped(%q): got %v, want %v", s, got, want)
		}
	})
}
