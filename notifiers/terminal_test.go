package notifiers_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/notifiers"
)

func TestRenderTextGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join("testdata", "golden_text", tc.name+".txt")
			got := notifiers.RenderText(tc.alert)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run go test ./notifiers -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("text differs from %s (run go test ./notifiers -update and review the diff)\ngot:\n%s", path, got)
			}
		})
	}
}

func TestRenderText(t *testing.T) {
	closed := baseFinding("Recon:IAMUser/MaliciousIPCaller", "Recon", userResource("bob"))
	closed.RecordState = picket.RecordArchived
	evil := baseFinding("T", "title \x1b[2J\x1b]0;pwned\x07 end\rX", instanceResource("i-1\x1b[31m"))
	evil.Description = "line one\nline two \x1b[1mbold\u202ereversed"
	tests := []struct {
		name    string
		alert   picket.Alert
		want    []string
		notWant []string
	}{
		{"user with enrichment", picket.Alert{Finding: baseFinding("UnauthorizedAccess:IAMUser/TorIPCaller", "Tor caller", userResource("alice")),
			Enrichment: picket.Enrichment{AccountAlias: "Production", User: userContext()}},
			[]string{"[High] Tor caller\n", "Account:    Production (123456789012)", "Region:     us-east-1", "Count:      3",
				"- IAM user alice  arn:aws:iam::123456789012:user/alice", "IAM user details alice:", "MFA:               No",
				"Console access:    Yes", "AKIAIOSFODNN7EXAMPLE, Active, created 2024-02-08 (401 days old), last used 2025-03-14 (s3)",
				"Console: https://console.aws.amazon.com/guardduty/", "Buttons: [Disable user] [Suppress] [Escalate]"},
			nil},
		{"instance with missing context", picket.Alert{Finding: baseFinding("T", "t", instanceResource("i-0abc123def4567890")),
			Enrichment: picket.Enrichment{Instance: instanceContext(), Missing: []string{"IAM user details: timed out after 2s"}}},
			[]string{"EC2 instance details i-0abc123def4567890:", "Auto Scaling group: web-asg",
				"Context unavailable: IAM user details: timed out after 2s", "Buttons: [Quarantine instance] [Suppress] [Escalate]"},
			nil},
		{"closed", picket.Alert{Finding: closed},
			[]string{"Closed: archived; response actions are no longer offered.", "Buttons: [Escalate]"},
			[]string{"[Suppress]", "[Disable user]"}},
		{"compliance", picket.Alert{Finding: complianceFinding("FAILED", picket.WorkflowNew)},
			[]string{"Control:           IAM.3", "Compliance status: FAILED", "Remediation: https://docs.aws.amazon.com/console/securityhub/IAM.3/remediation"},
			nil},
		{"mention", picket.Alert{Finding: baseFinding("T", "t"), Mention: "S0614TZR7"},
			[]string{"Notifies user group S0614TZR7"}, nil},
		{"terminal escapes replaced", picket.Alert{Finding: evil},
			[]string{"title \uFFFD[2J\uFFFD]0;pwned\uFFFD end\uFFFDX", "  line one\n  line two", "i-1\uFFFD[31m"},
			[]string{"\x1b", "\x07", "\r", "\u202e"}},
		{"no finding", picket.Alert{}, []string{"[Informational] Untitled finding", "Account:  unknown"}, []string{"Buttons"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := notifiers.RenderText(tt.alert)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got no %q in\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("got %q in\n%s", w, got)
				}
			}
		})
	}
}

func TestTerminalPostAndUpdate(t *testing.T) {
	var out bytes.Buffer
	term := notifiers.NewTerminal(&out)
	ctx := context.Background()
	a := sampleAlert("C0SEC")

	ref1, err := term.PostAlert(ctx, a)
	if err != nil {
		t.Fatalf("PostAlert: %v", err)
	}
	ref2, err := term.PostAlert(ctx, sampleAlert(""))
	if err != nil {
		t.Fatalf("PostAlert: %v", err)
	}
	if want := (picket.MessageRef{Channel: "C0SEC", TS: "0000000000.000001"}); ref1 != want {
		t.Errorf("got first ref %+v, want %+v", ref1, want)
	}
	if want := (picket.MessageRef{Channel: "terminal", TS: "0000000000.000002"}); ref2 != want {
		t.Errorf("got second ref %+v, want %+v", ref2, want)
	}
	a.Finding.RecordState = picket.RecordArchived
	if err := term.UpdateAlert(ctx, ref1, a); err != nil {
		t.Fatalf("UpdateAlert: %v", err)
	}
	got := out.String()
	for _, w := range []string{
		"── alert to C0SEC (message 0000000000.000001)\n[High] Tor <!channel> caller\n",
		"── alert to terminal (message 0000000000.000002)\n",
		"── alert in C0SEC (message 0000000000.000001) (updated)\n[High] Tor <!channel> caller\n  Closed: archived",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("got no %q in\n%s", w, got)
		}
	}
}

func TestTerminalConcurrentPostsGetDistinctRefs(t *testing.T) {
	var out bytes.Buffer
	term := notifiers.NewTerminal(&out)
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			ref, err := term.PostAlert(context.Background(), sampleAlert("C0SEC"))
			if err != nil {
				t.Errorf("PostAlert: %v", err)
				return
			}
			mu.Lock()
			seen[ref.TS] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) != 20 {
		t.Errorf("got %d distinct timestamps, want 20", len(seen))
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestTerminalErrors(t *testing.T) {
	term := notifiers.NewTerminal(failingWriter{})
	if _, err := term.PostAlert(context.Background(), sampleAlert("C0SEC")); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("post: got %v, want the write error", err)
	}
	if err := term.UpdateAlert(context.Background(), picket.MessageRef{Channel: "C", TS: "1"}, sampleAlert("C")); err == nil {
		t.Errorf("update: got no error, want the write error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := notifiers.NewTerminal(&bytes.Buffer{}).PostAlert(ctx, sampleAlert("C")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled post: got %v, want context.Canceled", err)
	}
}
