package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/event"
	"github.com/picketsec/picket/notifiers"
	"github.com/picketsec/picket/store"
	"github.com/picketsec/picket/triage"
)

// samples are public AWS sample events (from ../shared/corpus) arranged to
// show what Picket does: new alerts, a redelivery, a repeat that updates
// the alert in place, an archived finding, a malformed message and a
// hostile title. See samples/README.md.
//
//go:embed samples/*.json samples/*.txt
var samples embed.FS

// demoConfig is the configuration the demo runs with when no file is given:
// High and Critical to #security-alerts, Critical also to #security-critical
// with an on-call mention.
func demoConfig() config.Config {
	cfg := config.Default()
	cfg.Slack.DefaultChannel = "#security-alerts"
	cfg.Slack.DefaultMinSeverity = "low"
	cfg.Routes = []config.Route{{
		Name: "critical", MinSeverity: "critical", Channel: "#security-critical", MentionCritical: "S0ONCALL",
	}}
	return cfg
}

func cmdDemo(ctx context.Context, e env, args []string) int {
	fl := flag.NewFlagSet("demo", flag.ContinueOnError)
	fl.SetOutput(e.stderr)
	keep := fl.String("data-dir", "", "keep the demo store in this `directory` (default: a temporary one, removed)")
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	cfg := demoConfig()
	dir := *keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "picket-demo-")
		if err != nil {
			fmt.Fprintf(e.stderr, "picket demo: %v\n", err)
			return exitFailure
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	cfg.DataDir = dir
	cfg.Log.Format = "text"
	cfg.Log.Level = "warn"
	log := newLogger(e.stderr, cfg.Log)

	db, err := store.Open(storePath(dir), store.Options{Logger: log})
	if err != nil {
		fmt.Fprintf(e.stderr, "picket demo: %v\n", err)
		return exitFailure
	}
	defer db.Close()
	p, d, err := newPipeline(cfg, db, &builderLinks{Terminal: notifiers.NewTerminal(e.stdout), w: e.stdout},
		offlineEnricher{reason: "no AWS credentials in the demo: account, user and instance lookups skipped"},
		log, triage.Metrics{}, triage.DispatchMetrics{})
	if err == nil {
		err = d.Load(ctx)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "picket demo: %v\n", err)
		return exitFailure
	}

	names, _ := fs.Glob(samples, "samples/*")
	sort.Strings(names)
	fmt.Fprintf(e.stdout, "Picket demo: %d sample SQS messages through decode → store → dedup → route → render.\nStore: %s\n%s\n", len(names), storePath(dir), describeRouting(cfg))
	counts := map[string]int{}
	for _, name := range names {
		data, _ := samples.ReadFile(name)
		fmt.Fprintf(e.stdout, "▶ message %s\n", path.Base(name))
		findings, err := event.Decode(data)
		if err != nil {
			counts["undecodable"]++
			fmt.Fprintf(e.stdout, "  ✗ not decoded (%s): %v\n    In production this message stays in the queue and its redrive policy moves it to the dead-letter queue.\n\n",
				picket.ErrorCode(err), err)
			continue
		}
		// The message's findings are committed together, as `picket run`
		// does, and what they queued is delivered (printed) at once.
		outs, err := p.HandleMessage(ctx, path.Base(name), findings)
		if err == nil {
			err = d.Drain(ctx)
		}
		if err != nil {
			counts["failed"] += len(findings)
			fmt.Fprintf(e.stdout, "  ✗ %v\n\n", err)
			continue
		}
		if outs == nil {
			counts["duplicate"] += len(findings)
			fmt.Fprintf(e.stdout, "  → duplicate: this SQS message was already handled (a redelivery): nothing sent\n\n")
			continue
		}
		for i, out := range outs {
			if out == picket.OutcomeQueued {
				out = picket.OutcomePosted
				if rec, _, err := db.Finding(findings[i].Key); err == nil && rec.Group != "" {
					counts["grouped"]++
					fmt.Fprintf(e.stdout, "  → grouped: shown in group message %s with the other findings of its kind, listed with its actions in the thread\n", rec.Group)
					continue
				}
			}
			counts[string(out)]++
			fmt.Fprintf(e.stdout, "  → %s: %s\n", out, demoExplain(out))
		}
		fmt.Fprintln(e.stdout)
	}
	fmt.Fprintf(e.stdout, "Summary: %d posted, %d grouped, %d updated in place, %d duplicates ignored, %d recorded without a post, %d undecodable, %d failed.\n",
		counts["posted"], counts["grouped"], counts["updated"], counts["duplicate"], counts["recorded"], counts["undecodable"], counts["failed"])
	if counts["failed"] > 0 {
		return exitFailure
	}
	return exitOK
}

func demoExplain(o picket.Outcome) string {
	switch o {
	case picket.OutcomePosted:
		return "new alert posted"
	case picket.OutcomeUpdated:
		return "the existing alert was updated in place (no second message)"
	case picket.OutcomeDuplicate:
		return "same or older version of a finding already shown: nothing sent"
	case picket.OutcomeBelowRoute:
		return "stored, not posted (closed when first seen, or below every route's severity)"
	}
	return string(o)
}

// offlineEnricher adds one line saying why there is no context: used when
// Picket has no AWS access.
type offlineEnricher struct{ reason string }

func (o offlineEnricher) Enrich(context.Context, *picket.Finding) picket.Enrichment {
	return picket.Enrichment{Missing: []string{o.reason}}
}
