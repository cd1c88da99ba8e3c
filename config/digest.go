package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/picketsec/picket"
)

// Digest defaults.
const (
	DefaultDigestSchedule = "0 9 * * *"
	DefaultDigestTimezone = "UTC"
)

// Digest is one scheduled posture digest: what changed, what is open and
// how fast the team responds, posted to a channel on a cron schedule.
type Digest struct {
	// Name identifies the digest in the store (its last run and snapshots)
	// and on the command line; unique, required, [a-z0-9_-].
	Name string `yaml:"name"`
	// Channel is the Slack channel id (C...) or #name to post to.
	Channel string `yaml:"channel"`
	// Schedule is a five-field cron spec (minute hour day month weekday)
	// or a descriptor (@daily, @weekly...); default "0 9 * * *".
	Schedule string `yaml:"schedule,omitempty"`
	// Timezone is the IANA zone the schedule is read in; default "UTC".
	Timezone string `yaml:"timezone,omitempty"`
	// Accounts limits the digest to these 12-digit account ids; empty =
	// all.
	Accounts []string `yaml:"accounts,omitempty"`
	// MinSeverity leaves out findings below it; default informational.
	MinSeverity string `yaml:"min_severity,omitempty"`
}

// Spec returns the schedule, or the default when none is set.
func (d Digest) Spec() string {
	if strings.TrimSpace(d.Schedule) == "" {
		return DefaultDigestSchedule
	}
	return strings.TrimSpace(d.Schedule)
}

// Location returns the schedule's time zone; UTC when none is set or it
// is unknown (which Validate reports).
func (d Digest) Location() *time.Location {
	if d.Timezone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(d.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Severity returns the minimum severity; informational when empty or
// unknown (which Validate reports).
func (d Digest) Severity() picket.Severity {
	s, err := picket.ParseSeverity(d.MinSeverity)
	if err != nil {
		return picket.SeverityInformational
	}
	return s
}

var (
	digestNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
	cronFieldPattern  = regexp.MustCompile(`^[0-9A-Za-z*?,/-]+$`)
	cronDescriptors   = map[string]bool{"@yearly": true, "@annually": true, "@monthly": true,
		"@weekly": true, "@daily": true, "@midnight": true, "@hourly": true}
)

// digests checks the digest schedules. The cron spec is checked for its
// shape here; cmd/picket parses it fully at start-up.
func (v *checker) digests(ds []Digest) {
	seen := map[string]bool{}
	for i, d := range ds {
		key := fmt.Sprintf("digests[%d]", i)
		switch {
		case d.Name == "":
			v.add(key+".name", "required: a short name such as daily")
		case !digestNamePattern.MatchString(d.Name):
			v.add(key+".name", "%q is not a digest name (want 1 to 40 of a-z, 0-9, - and _)", d.Name)
		case seen[d.Name]:
			v.add(key+".name", "%q is used by another digest", d.Name)
		}
		seen[d.Name] = true
		if d.Channel == "" {
			v.add(key+".channel", "required: the Slack channel id (C...) or #name to post to")
		} else if !channelIDPattern.MatchString(d.Channel) && !validChannelName(d.Channel) {
			v.add(key+".channel", "%q is not a channel id (C...) or #name", d.Channel)
		}
		if spec := d.Spec(); !cronDescriptors[spec] {
			fields := strings.Fields(spec)
			ok := len(fields) == 5
			for _, f := range fields {
				ok = ok && cronFieldPattern.MatchString(f)
			}
			if !ok {
				v.add(key+".schedule", "%q is not a cron spec (want five fields: minute hour day-of-month month day-of-week, e.g. %q)", d.Schedule, DefaultDigestSchedule)
			}
		}
		if d.Timezone != "" {
			if _, err := time.LoadLocation(d.Timezone); err != nil {
				v.add(key+".timezone", "%q is not a time zone (want an IANA name such as Europe/Paris)", d.Timezone)
			}
		}
		for j, a := range d.Accounts {
			if !accountIDPattern.MatchString(a) {
				v.add(fmt.Sprintf("%s.accounts[%d]", key, j), "%q is not a 12-digit account id", a)
			}
		}
		if d.MinSeverity != "" {
			if _, err := picket.ParseSeverity(d.MinSeverity); err != nil {
				v.add(key+".min_severity", "%v", err)
			}
		}
	}
}
