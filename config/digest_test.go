package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
)

func TestDigestDefaults(t *testing.T) {
	d := config.Digest{Name: "daily", Channel: "#security"}
	if got := d.Spec(); got != "0 9 * * *" {
		t.Errorf("Spec: got %q, want %q", got, "0 9 * * *")
	}
	if got := d.Location(); got != time.UTC {
		t.Errorf("Location: got %v, want UTC", got)
	}
	if got := d.Severity(); got != picket.SeverityInformational {
		t.Errorf("Severity: got %v, want Informational", got)
	}
	d.Timezone, d.MinSeverity = "Europe/Paris", "high"
	if got := d.Location().String(); got != "Europe/Paris" {
		t.Errorf("Location: got %q, want Europe/Paris", got)
	}
	if got := d.Severity(); got != picket.SeverityHigh {
		t.Errorf("Severity: got %v, want High", got)
	}
}

func TestDigestValidation(t *testing.T) {
	ok := config.Digest{Name: "daily", Channel: "#security", Schedule: "30 8 * * 1-5", Timezone: "Europe/Paris",
		Accounts: []string{"123456789012"}, MinSeverity: "medium"}
	tests := []struct {
		name string
		edit func(*config.Digest)
		want string // "" for no problem
	}{
		{"valid", func(*config.Digest) {}, ""},
		{"descriptor", func(d *config.Digest) { d.Schedule = "@daily" }, ""},
		{"default schedule", func(d *config.Digest) { d.Schedule = "" }, ""},
		{"no name", func(d *config.Digest) { d.Name = "" }, "digests[0].name: required"},
		{"bad name", func(d *config.Digest) { d.Name = "Daily Digest" }, "is not a digest name"},
		{"no channel", func(d *config.Digest) { d.Channel = "" }, "digests[0].channel: required"},
		{"bad channel", func(d *config.Digest) { d.Channel = "security" }, "is not a channel id"},
		{"six fields", func(d *config.Digest) { d.Schedule = "0 0 9 * * *" }, "is not a cron spec"},
		{"garbage schedule", func(d *config.Digest) { d.Schedule = "every morning" }, "is not a cron spec"},
		{"bad zone", func(d *config.Digest) { d.Timezone = "Mars/Olympus" }, "digests[0].timezone: \"Mars/Olympus\" is not a time zone"},
		{"bad account", func(d *config.Digest) { d.Accounts = []string{"12"} }, "digests[0].accounts[0]"},
		{"bad severity", func(d *config.Digest) { d.MinSeverity = "urgent" }, "digests[0].min_severity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			d := ok
			tt.edit(&d)
			c.Digests = []config.Digest{d}
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want no problem", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want a problem containing %q", err, tt.want)
			}
		})
	}
	c := config.Default()
	c.Digests = []config.Digest{ok, ok}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "used by another digest") {
		t.Errorf("duplicate names: got %v, want a problem", err)
	}
}

func TestDigestFromExample(t *testing.T) {
	cfg, err := config.Load("testdata/picket.example.yaml", func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Digests) != 1 || cfg.Digests[0].Name != "daily" || cfg.Digests[0].Location().String() != "Europe/Paris" {
		t.Errorf("example digests: got %+v, want one daily digest in Europe/Paris", cfg.Digests)
	}
}
