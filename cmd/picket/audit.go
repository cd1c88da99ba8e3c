package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/picketsec/picket/store"
)

// cmdAudit implements `picket audit verify` and `picket audit export`.
func cmdAudit(e env, args []string) int {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "export") {
		fmt.Fprintln(e.stderr, "usage: picket audit verify | picket audit export [--since TIME]")
		return exitUsage
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := configFlag(fs, e)
	since := fs.String("since", "", "export entries at or after this `time` (RFC 3339, a date 2006-01-02, or a duration ago such as 24h)")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	var from time.Time
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			fmt.Fprintf(e.stderr, "picket audit: --since: %v\n", err)
			return exitUsage
		}
		from = t
	}
	db, err := store.Open(storePath(cfg.DataDir), store.Options{})
	if err != nil {
		fmt.Fprintf(e.stderr, "picket audit: %v\n", err)
		return exitFailure
	}
	defer db.Close()
	if args[0] == "export" {
		if _, err := db.ExportAudit(e.stdout, from); err != nil {
			fmt.Fprintf(e.stderr, "picket audit export: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	n, err := db.VerifyAudit()
	if err != nil {
		fmt.Fprintf(e.stderr, "audit trail BROKEN after %d good entries: %v\n", n, err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "audit trail intact: %d entries, each chained to the one before\n", n)
	return exitOK
}

// parseSince reads an RFC 3339 time, a date, or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2026-11-22T09:00:00Z), a date (2026-11-22) or a duration (24h)", s)
}
