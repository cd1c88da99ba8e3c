package triage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/metrics"
	"github.com/picketsec/picket/triage"
)

// TestDispatchObservesAlertLatency checks that a new alert's post is
// observed with the time its finding waited since intake.
func TestDispatchObservesAlertLatency(t *testing.T) {
	router, err := triage.NewRouter(nil, "#security", picket.SeverityMedium)
	if err != nil {
		t.Fatal(err)
	}
	db, snd := openStore(t), &fakeSender{}
	clock := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	var reg metrics.Registry
	lat := reg.Histogram("picket_alert_latency_seconds", "Latency.", 1, 5)
	d, err := triage.NewDispatcher(triage.DispatchOptions{Store: db, Alerts: snd, Enricher: fixedEnricher{},
		Now: now, Metrics: triage.DispatchMetrics{Latency: lat}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := triage.NewPipeline(triage.Options{Store: db, Router: router, Notify: d, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.HandleMessage(context.Background(), "", []picket.Finding{*finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh)}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(3 * time.Second)
	if err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := reg.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"picket_alert_latency_seconds_sum 3\n", "picket_alert_latency_seconds_count 1\n",
		`picket_alert_latency_seconds_bucket{le="1"} 0` + "\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("got metrics\n%s\nwant a line %q", b.String(), want)
		}
	}
}
