package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/ingest"
	"github.com/picketsec/picket/metrics"
	"github.com/picketsec/picket/triage"
)

// appMetrics are the series /metrics exposes.
type appMetrics struct {
	Received     *metrics.Counter
	Decoded      *metrics.Counter
	Undecodable  *metrics.Counter
	Failed       *metrics.Counter
	Deleted      *metrics.Counter
	Posted       *metrics.Counter
	Updated      *metrics.Counter
	Deduplicated *metrics.Counter
	Recorded     *metrics.Counter
	Suppressed   *metrics.Counter
	HandleFailed *metrics.Counter
	SlackRetries *metrics.Counter
	SlackRefused *metrics.Counter
	Latency      *metrics.Histogram
	// Delivery from the outbox.
	Queued           *metrics.Counter
	Grouped          *metrics.Counter
	DeliveryFailures *metrics.Counter
	Recovered        *metrics.Counter
	// Latency of the parts.
	AlertLatency    *metrics.Histogram
	SlackCalls      *metrics.HistogramVec
	AWSCalls        *metrics.HistogramVec
	ActionDurations *metrics.HistogramVec
	AuditFailures   *metrics.Counter
}

func newAppMetrics(reg *metrics.Registry) appMetrics {
	return appMetrics{
		Received:     reg.Counter("picket_messages_received_total", "SQS messages received."),
		Decoded:      reg.Counter("picket_findings_decoded_total", "Findings decoded from messages."),
		Undecodable:  reg.Counter("picket_messages_undecodable_total", "Messages that did not decode; left for the dead-letter queue."),
		Failed:       reg.Counter("picket_messages_failed_total", "Messages whose findings could not be committed; retried."),
		Deleted:      reg.Counter("picket_messages_deleted_total", "Messages deleted after their outcome was committed."),
		Posted:       reg.Counter("picket_alerts_posted_total", "New Slack alerts posted."),
		Updated:      reg.Counter("picket_alerts_updated_total", "Slack alerts updated in place."),
		Deduplicated: reg.Counter("picket_findings_deduplicated_total", "Repeated or out-of-date deliveries ignored."),
		Recorded:     reg.Counter("picket_findings_recorded_total", "Findings stored without a post (closed, or below every route)."),
		Suppressed:   reg.Counter("picket_findings_suppressed_total", "Findings a suppression rule in force kept from being posted."),
		HandleFailed: reg.Counter("picket_findings_failed_total", "Findings whose outcome could not be committed (Slack or the store failed); retried."),
		SlackRetries: reg.Counter("picket_slack_retries_total", "Slack calls retried after 429 or 5xx."),
		SlackRefused: reg.Counter("picket_slack_requests_refused_total", "Slack requests refused: bad or missing signature, stale, replayed, other workspace or app, button not on its alert."),
		Latency: reg.Histogram("picket_processing_seconds", "Time from SQS send to committed outcome.",
			0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
		Queued:           reg.Counter("picket_findings_queued_total", "Findings committed to the outbox as new alerts."),
		Grouped:          reg.Counter("picket_findings_grouped_total", "Findings folded into group messages."),
		DeliveryFailures: reg.Counter("picket_delivery_failures_total", "Slack deliveries that failed after retries; the work stayed in the outbox."),
		Recovered:        reg.Counter("picket_posts_recovered_total", "Posts interrupted by a stop and found in Slack afterwards (not posted again)."),
		AlertLatency: reg.Histogram("picket_alert_latency_seconds",
			"Time from a finding's commit to the outbox (at intake) to its new Slack alert being posted; end to end is picket_processing_seconds plus this.",
			0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600),
		SlackCalls: reg.HistogramVec("picket_slack_call_seconds",
			"Slack Web API calls by method and outcome (ok, rate_limited, error), each attempt counted.",
			[]string{"method", "outcome"}, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
		AWSCalls: reg.HistogramVec("picket_aws_call_seconds",
			"AWS API calls by service, operation and outcome (ok, error), retries included.",
			[]string{"service", "operation", "outcome"}, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
		ActionDurations: reg.HistogramVec("picket_action_seconds",
			"Response actions executed, by kind and outcome.",
			[]string{"kind", "outcome"}, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
		AuditFailures: reg.Counter("picket_audit_write_failures_total", "Audit trail writes that failed (the action was refused)."),
	}
}

// initSeries creates the labelled series alerts and dashboards read, at
// zero, so they exist (and rates over them are defined) before the first
// call.
func (m appMetrics) initSeries() {
	for _, method := range []string{"chat.postMessage", "chat.update"} {
		for _, outcome := range []string{"ok", "rate_limited", "error"} {
			m.SlackCalls.Init(method, outcome)
		}
	}
	kinds := append([]picket.ActionKind{picket.ActionDisableUser, picket.ActionQuarantineInstance,
		picket.ActionRevokeSessions, picket.ActionSuppress, picket.ActionEscalate, picket.ActionUndo, picket.ActionPatchInstance}, picket.FixKinds...)
	for _, kind := range kinds {
		for _, outcome := range []picket.ActionOutcome{picket.OutcomeSucceeded, picket.OutcomePartial, picket.OutcomeFailed} {
			m.ActionDurations.Init(string(kind), string(outcome))
		}
	}
	for _, outcome := range []string{"ok", "error"} {
		m.AWSCalls.Init("SQS", "ReceiveMessage", outcome)
		m.AWSCalls.Init("SecurityHub", "GetFindings", outcome)
	}
}

func (m appMetrics) dispatch() triage.DispatchMetrics {
	return triage.DispatchMetrics{Posted: m.Posted, Updated: m.Updated, Grouped: m.Grouped,
		Failures: m.DeliveryFailures, Recovered: m.Recovered, Latency: m.AlertLatency}
}

// watchBacklog exposes the outbox backlog per channel: findings and group
// messages waiting, and the age of the oldest.
func (m appMetrics) watchBacklog(reg *metrics.Registry, d *triage.Dispatcher, now func() time.Time) {
	reg.GaugeFunc("picket_outbox_pending", "Findings waiting in the outbox to be posted or updated, per channel.", func() []metrics.Sample {
		var out []metrics.Sample
		for _, b := range d.Backlog() {
			out = append(out, metrics.Sample{Labels: []string{"channel", b.Channel}, Value: float64(b.Pending)})
		}
		return out
	})
	reg.GaugeFunc("picket_outbox_groups_pending", "Group messages behind their members (to post, update or list), per channel.", func() []metrics.Sample {
		var out []metrics.Sample
		for _, b := range d.Backlog() {
			out = append(out, metrics.Sample{Labels: []string{"channel", b.Channel}, Value: float64(b.Groups)})
		}
		return out
	})
	reg.GaugeFunc("picket_outbox_oldest_seconds", "Age of the oldest finding waiting in the outbox, per channel (0 when none waits).", func() []metrics.Sample {
		var out []metrics.Sample
		t := now()
		for _, b := range d.Backlog() {
			age := 0.0
			if !b.Oldest.IsZero() {
				age = t.Sub(b.Oldest).Seconds()
			}
			out = append(out, metrics.Sample{Labels: []string{"channel", b.Channel}, Value: age})
		}
		return out
	})
}

// watchQueue exposes the queue's depth as last polled by w (no sample
// before the first poll; the DLQ's only when there is one) and its lag as
// the consumer saw it.
func watchQueue(reg *metrics.Registry, w *ingest.DepthWatcher, c *ingest.Consumer) {
	depth := func(get func(ingest.Depth) (float64, bool)) func() []metrics.Sample {
		return func() []metrics.Sample {
			d := w.Last()
			if d.At.IsZero() {
				return nil
			}
			v, ok := get(d)
			if !ok {
				return nil
			}
			return []metrics.Sample{{Value: v}}
		}
	}
	reg.GaugeFunc("picket_queue_messages_visible", "Messages waiting in the SQS queue (ApproximateNumberOfMessages, polled).",
		depth(func(d ingest.Depth) (float64, bool) { return float64(d.Visible), true }))
	reg.GaugeFunc("picket_queue_messages_in_flight", "Messages received and not yet deleted (ApproximateNumberOfMessagesNotVisible, polled).",
		depth(func(d ingest.Depth) (float64, bool) { return float64(d.InFlight), true }))
	reg.GaugeFunc("picket_dlq_messages_visible", "Messages in the dead-letter queue (configured or named by the queue's redrive policy); absent without one.",
		depth(func(d ingest.Depth) (float64, bool) { return float64(d.DLQVisible), d.DLQURL != "" }))
	reg.GaugeFunc("picket_queue_oldest_message_age_seconds", "How long the oldest message of the last receive had waited in the queue (from SentTimestamp); 0 once a receive finds the queue empty.",
		func() []metrics.Sample { return []metrics.Sample{{Value: c.OldestWait().Seconds()}} })
}

func (m appMetrics) triage() triage.Metrics {
	return triage.Metrics{Posted: m.Posted, Updated: m.Updated, Deduplicated: m.Deduplicated, Recorded: m.Recorded,
		Suppressed: m.Suppressed, Failed: m.HandleFailed, Queued: m.Queued}
}

// configFlag registers --config on fs, defaulting to PICKET_CONFIG.
func configFlag(fs *flag.FlagSet, e env) *string {
	return fs.String("config", e.getenv("PICKET_CONFIG"), "YAML configuration `file` (default $PICKET_CONFIG)")
}

// loadConfig loads and validates the configuration, printing every problem
// to stderr when there are any.
func loadConfig(e env, path string) (config.Config, bool) {
	cfg, err := config.Load(path, e.getenv, os.ReadFile)
	if err != nil {
		var p *config.Problems
		if errors.As(err, &p) {
			fmt.Fprintln(e.stderr, err)
		} else {
			fmt.Fprintf(e.stderr, "picket: %v\n", err)
		}
		return cfg, false
	}
	return cfg, true
}

// newLogger returns the JSON (or text) logger the configuration asks for.
func newLogger(w io.Writer, c config.Log) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// storePath is where the database lives inside the data directory.
func storePath(dataDir string) string { return filepath.Join(dataDir, "picket.db") }

// newRouter builds the router from the configured routes.
func newRouter(cfg config.Config) (*triage.Router, error) {
	rules := make([]triage.Rule, 0, len(cfg.Routes))
	for _, r := range cfg.Routes {
		rule := triage.Rule{
			Name: r.Name, MinSeverity: r.Severity(), Products: r.Products, Accounts: r.Accounts, Regions: r.Regions,
			Types: r.Types, Channel: r.Channel, MentionCritical: r.MentionCritical,
		}
		for _, s := range r.Sources {
			rule.Sources = append(rule.Sources, picket.Source(s))
		}
		rules = append(rules, rule)
	}
	return triage.NewRouter(rules, cfg.Slack.DefaultChannel, cfg.Slack.DefaultMinSeverityLevel())
}

func cmdConfigCheck(e env, args []string) int {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := configFlag(fs, e)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, ok := loadConfig(e, *path)
	fmt.Fprint(e.stdout, cfg.Redacted())
	if !ok {
		return exitUsage
	}
	fmt.Fprintln(e.stderr, "configuration OK")
	return exitOK
}
