package notifiers

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short enough", "abc", 3, "abc"},
		{"cut", "abcdef", 4, "abc…"},
		{"runes not bytes", "田中田中田中", 4, "田中田…"},
		{"emoji", "🚨🚨🚨🚨", 3, "🚨🚨…"},
		{"not inside an escape", "ab&amp;cd", 5, "ab…"},
		{"after a whole escape", "ab&amp;cd", 8, "ab&amp;…"},
		{"not inside a link", "see <https://x.example/a|here> now", 20, "see …"},
		{"after a whole link", "see <https://x.example/a|here> now", 32, "see <https://x.example/a|here> …"},
		{"not inside a mention", "<!subteam^S1> hi", 8, "…"},
		{"escape inside a link url", "<https://x.example/?a=1&amp;b=2|go>", 30, "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := clip(tt.in, tt.n)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if n := utf8.RuneCountInString(got); n > tt.n {
				t.Errorf("got %d runes, want at most %d", n, tt.n)
			}
		})
	}
}

func TestClipEveryLength(t *testing.T) {
	// Whatever the limit, a clipped escaped string never ends in part of an
	// escape sequence.
	s := Escape(strings.Repeat("<!channel> & é ", 20))
	for n := 1; n < utf8.RuneCountInString(s); n++ {
		got := strings.TrimSuffix(clip(s, n), "…")
		if i := strings.LastIndexByte(got, '&'); i >= 0 && !strings.Contains(got[i:], ";") {
			t.Fatalf("clip(%d): got %q, which ends inside an escape", n, got)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("clip(%d): got invalid UTF-8 %q", n, got)
		}
	}
}

func TestSafeURL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"https", "https://console.aws.amazon.com/guardduty/home?region=us-east-1#/findings", "https://console.aws.amazon.com/guardduty/home?region=us-east-1#/findings"},
		{"http", "http://example.com/a", "http://example.com/a"},
		{"empty", "", ""},
		{"javascript", "javascript:alert(1)", ""},
		{"relative", "/guardduty/home", ""},
		{"no host", "https:///x", ""},
		{"credentials", "https://user:pass@example.com/", ""},
		{"pipe and angle brackets", "https://example.com/a?b=|<x>", "https://example.com/a?b=%7C%3Cx%3E"},
		{"upper-case scheme", "HTTPS://example.com/", "https://example.com/"},
		{"newline", "https://example.com/\n<!channel>", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := safeURL(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
