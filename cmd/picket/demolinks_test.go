package main

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestDemoBuilderLinks: the demo prints, after every message it shows, a
// link that opens exactly that message in Slack's Block Kit Builder, and
// says which built-in routing it used.
func TestDemoBuilderLinks(t *testing.T) {
	code, out, errOut := runCLI(t, map[string]string{}, "demo")
	if code != exitOK {
		t.Fatalf("demo exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{
		"Routing (built in: the demo reads no configuration file)",
		`route "critical": findings of Critical and above → #security-critical, Critical ones mentioning the user group S0ONCALL`,
		"every other finding of Low and above → #security-alerts (the default channel)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}

	shown := regexp.MustCompile(`(?m)^── `).FindAllStringIndex(out, -1)
	links := regexp.MustCompile(`(?m)^  ↗ in Slack \(Block Kit Builder\): (\S+)$`).FindAllStringSubmatch(out, -1)
	if len(shown) == 0 || len(links) != len(shown) {
		t.Fatalf("got %d links for %d messages shown, want one each", len(links), len(shown))
	}
	for i, l := range links {
		frag, ok := strings.CutPrefix(l[1], "https://app.slack.com/block-kit-builder/#")
		if !ok {
			t.Fatalf("link %d: got %q, want the Block Kit Builder", i, l[1])
		}
		doc, err := url.PathUnescape(frag)
		if err != nil {
			t.Fatalf("link %d: %v", i, err)
		}
		var msg struct {
			Attachments []struct {
				Color  string            `json:"color"`
				Blocks []json.RawMessage `json:"blocks"`
			} `json:"attachments"`
		}
		if err := json.Unmarshal([]byte(doc), &msg); err != nil {
			t.Fatalf("link %d does not carry JSON: %v", i, err)
		}
		if len(msg.Attachments) != 1 || msg.Attachments[0].Color == "" || len(msg.Attachments[0].Blocks) == 0 {
			t.Errorf("link %d: got %s, want one attachment with a colour and blocks", i, doc)
		}
	}
}
