package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket/config"
)

func TestRunPlan(t *testing.T) {
	withQueue := func(c config.Config) config.Config {
		c.AWS.QueueURL = "https://sqs.eu-west-1.amazonaws.com/123456789012/picket-findings"
		return c
	}
	withSlack := func(c config.Config) config.Config {
		c.Slack.BotToken, c.Slack.AppToken = "xoxb-1", "xapp-1"
		return c
	}
	def := config.Default()
	tests := []struct {
		name        string
		cfg         config.Config
		configGiven bool
		stdout      bool
		want        runMode
		wantMissing []string // substrings, one per missing setting
	}{
		{name: "nothing configured: the demo", cfg: def, want: runDemo},
		{name: "Slack and the queue: the bot", cfg: withSlack(withQueue(def)), configGiven: true, want: runBot},
		{name: "queue and --stdout: printed alerts", cfg: withQueue(def), stdout: true, want: runStdout},
		{name: "a config file alone", cfg: def, configGiven: true, want: runRefused, wantMissing: []string{"PICKET_QUEUE_URL", "SLACK_BOT_TOKEN"}},
		{name: "a queue without Slack", cfg: withQueue(def), want: runRefused, wantMissing: []string{"SLACK_BOT_TOKEN"}},
		{name: "Slack without a queue", cfg: withSlack(def), want: runRefused, wantMissing: []string{"PICKET_QUEUE_URL"}},
		{name: "--stdout without a queue", cfg: def, stdout: true, want: runRefused, wantMissing: []string{"PICKET_QUEUE_URL"}},
		{name: "--stdout with a Slack token", cfg: withSlack(withQueue(def)), stdout: true, want: runRefused, wantMissing: []string{"--stdout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, missing := runPlan(tt.cfg, tt.configGiven, tt.stdout)
			if got != tt.want {
				t.Errorf("got mode %d, want %d (missing %q)", got, tt.want, missing)
			}
			if len(missing) != len(tt.wantMissing) {
				t.Fatalf("got missing %q, want %d naming %q", missing, len(tt.wantMissing), tt.wantMissing)
			}
			for _, w := range tt.wantMissing {
				if !slices.ContainsFunc(missing, func(m string) bool { return strings.Contains(m, w) }) {
					t.Errorf("got missing %q, want one naming %s", missing, w)
				}
			}
		})
	}
}

// TestRunRefusesIncompleteDeployment: `picket run --config FILE` whose
// secrets are missing (a mis-keyed secret) fails loudly, naming them,
// instead of running the demo and exiting 0.
func TestRunRefusesIncompleteDeployment(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "picket.yaml")
	if err := os.WriteFile(cfgFile, []byte("slack:\n  default_channel: \"#security-alerts\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{name: "config file, no secrets", env: map[string]string{"PICKET_DATA_DIR": dir}, args: []string{"run", "--config", cfgFile},
			want: []string{"SLACK_BOT_TOKEN", "PICKET_QUEUE_URL"}},
		{name: "config in PICKET_CONFIG_YAML, no secrets", env: map[string]string{"PICKET_DATA_DIR": dir, "PICKET_CONFIG_YAML": "slack:\n  default_channel: \"#sec\"\n"}, args: []string{"run"},
			want: []string{"SLACK_BOT_TOKEN", "PICKET_QUEUE_URL"}},
		{name: "queue without Slack", env: map[string]string{"PICKET_DATA_DIR": dir, "PICKET_QUEUE_URL": "http://127.0.0.1:1/000000000000/q", "PICKET_HTTP_ADDR": "off"}, args: []string{"run"},
			want: []string{"SLACK_BOT_TOKEN", "--stdout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Before the fix the last case started the bot: the deadline
			// stops it.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			code := run(ctx, tt.args, strings.NewReader(""), &out, &errb, func(k string) string { return tt.env[k] })
			if code != exitUsage {
				t.Errorf("got exit %d, want %d (stderr %q)", code, exitUsage, errb.String())
			}
			if strings.Contains(out.String(), "Summary:") {
				t.Errorf("ran the demo:\n%s", out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr does not name %s:\n%s", w, errb.String())
				}
			}
		})
	}
}
