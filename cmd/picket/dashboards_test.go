package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/internal/fauxqs"
)

// Files whose PromQL must name only metrics Picket serves.
const (
	rulesFile          = "../../deploy/prometheus/picket-rules.yaml"
	prometheusRuleFile = "../../deploy/kubernetes/picket-prometheusrule.yaml"
	dashboardFile      = "../../deploy/grafana/picket.json"
)

// laterMetrics are series that appear only after an event a test run does
// not cause, each with the source file that registers it.
var laterMetrics = map[string]string{
	"picket_posture_score_percent": "posturemetrics.go", // after the first full posture run
}

// TestDashboardsAndRulesNameServedMetrics scrapes a running Picket's
// /metrics and fails if an alert rule or dashboard panel names a metric
// it does not serve.
func TestDashboardsAndRulesNameServedMetrics(t *testing.T) {
	emu := fauxqs.Start(t)
	ctx := context.Background()
	queueURL, _ := emu.CreateQueueWithDLQ(ctx, "picket-metrics", 5, 3*time.Second)
	topic := emu.CreateTopicSubscribedTo(ctx, "picket-metrics", queueURL, false)
	rec := newSlackRecorder(t)
	// Slack holds the first post, so the finding waits in the outbox and
	// the per-channel outbox gauges have a channel.
	gate := make(chan struct{})
	rec.gate = gate
	cfg := e2eConfig(t, emu, queueURL, rec, t.TempDir())
	// The reconciler's counters exist only when it runs (its calls fail
	// here: the emulator has no Security Hub).
	cfg.Ingest.ReconcileInterval = config.Dur(time.Hour)
	b := startBot(t, cfg)
	defer b.stop(t)
	defer close(gate)
	emu.Publish(ctx, topic, readTestdata(t, "eb_UnauthorizedAccess_IAMUser_TorIPCaller__c7n.json"))
	<-rec.arrived

	var families map[string]bool
	// The queue gauges appear after the first depth poll, at start.
	waitFor(t, "the first queue depth poll", 10*time.Second, func() bool {
		families = scrapeFamilies(t, "http://"+b.http+"/metrics")
		return families["picket_dlq_messages_visible"]
	})

	exprs := map[string][]string{rulesFile: ruleExprs(t, rulesFile), prometheusRuleFile: ruleExprs(t, prometheusRuleFile),
		dashboardFile: dashboardExprs(t, dashboardFile)}
	for file, list := range exprs {
		if len(list) < 5 {
			t.Errorf("%s: got %d expressions, want the rules or panels", file, len(list))
		}
		for _, expr := range list {
			for _, name := range metricNames(expr) {
				if served(families, name) {
					continue
				}
				if src, ok := laterMetrics[name]; ok {
					if b, err := os.ReadFile(src); err == nil && strings.Contains(string(b), `"`+name+`"`) {
						continue
					}
				}
				t.Errorf("%s: %q names %s, which a running Picket does not serve", file, expr, name)
			}
		}
	}
}

// TestMetricNames checks the PromQL parsing the test above relies on.
func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`up{job="picket"} == 0 or absent(up{job="picket"})`, []string{"up", "up"}},
		{`sum without (method, outcome) (rate(picket_slack_call_seconds_count{outcome="rate_limited"}[10m])) > 0.05`, []string{"picket_slack_call_seconds_count"}},
		{`histogram_quantile(0.99, sum by (le) (rate(picket_processing_seconds_bucket{job="$job"}[5m])))`, []string{"picket_processing_seconds_bucket"}},
		{`picket_queue_messages_visible > 0 and rate(picket_messages_received_total[10m]) == 0`, []string{"picket_queue_messages_visible", "picket_messages_received_total"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	families := map[string]bool{"picket_processing_seconds": true, "picket_alerts_posted_total": true}
	for name, want := range map[string]bool{
		"picket_processing_seconds_bucket": true, "picket_alerts_posted_total": true, "up": true,
		"picket_alerts_posted": false, "picket_alerts_posted_total_count": false,
	} {
		if got := served(families, name); got != want {
			t.Errorf("served(%s): got %v, want %v", name, got, want)
		}
	}
}

// scrapeFamilies returns the metric families /metrics names in its TYPE
// lines.
func scrapeFamilies(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for line := range strings.Lines(string(body)) {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = true
		}
	}
	return out
}

// served reports whether name is a series of a served family: the family
// itself, or a histogram's _bucket, _count or _sum. Prometheus itself
// makes up.
func served(families map[string]bool, name string) bool {
	if name == "up" || families[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && families[base] && !strings.HasSuffix(base, "_total") {
			return true
		}
	}
	return false
}

var (
	promStrings   = regexp.MustCompile(`"[^"]*"`)
	promMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping  = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(?`)
	promOperators = []string{"and", "or", "unless", "bool", "offset"}
)

// metricNames returns the metric names in a PromQL expression: its
// identifiers less functions, operators, label matchers and groupings.
func metricNames(expr string) []string {
	e := promStrings.ReplaceAllString(expr, `""`)
	e = promMatchers.ReplaceAllString(e, " ")
	e = promRanges.ReplaceAllString(e, " ")
	e = promGrouping.ReplaceAllString(e, " ")
	var out []string
	for _, tok := range promIdent.FindAllString(e, -1) {
		if strings.HasSuffix(tok, "(") {
			continue // a function or aggregation
		}
		tok = strings.TrimSpace(tok)
		if slices.Contains(promOperators, tok) {
			continue
		}
		out = append(out, tok)
	}
	return out
}

// ruleExprs returns the expr of every rule in a Prometheus rules file or
// a PrometheusRule (whose spec is one).
func ruleExprs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type groups struct {
		Groups []struct {
			Rules []struct {
				Expr string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	var doc struct {
		groups `yaml:",inline"`
		Spec   groups `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, g := range append(doc.Groups, doc.Spec.Groups...) {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	return out
}

// dashboardExprs returns the expr of every panel target of a Grafana
// dashboard.
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", path, p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	return out
}
