package metrics_test

import (
	"io"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/picketsec/picket/metrics"
)

func TestWriteText(t *testing.T) {
	var reg metrics.Registry
	c := reg.Counter("picket_things_total", "Things seen.")
	g := reg.Gauge("picket_queue_depth", "Messages waiting.")
	h := reg.Histogram("picket_seconds", "Time taken.", 0.1, 1)
	v := reg.HistogramVec("picket_call_seconds", "Calls.", []string{"method", "outcome"}, 1)
	reg.GaugeFunc("picket_backlog", "Backlog per channel.", func() []metrics.Sample {
		return []metrics.Sample{{Labels: []string{"channel", `C"1\`}, Value: 3}}
	})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { c.Inc() })
	}
	wg.Wait()
	c.Add(5)
	g.Set(2.5)
	for _, x := range []float64{0.05, 0.1, 0.5, 3} {
		h.Observe(x)
	}
	v.Observe(0.5, "chat.postMessage", "ok")
	v.Observe(2, "chat.postMessage", "rate_limited", "dropped")
	var b strings.Builder
	if err := reg.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP picket_backlog Backlog per channel.
# TYPE picket_backlog gauge
picket_backlog{channel="C\"1\\"} 3
# HELP picket_call_seconds Calls.
# TYPE picket_call_seconds histogram
picket_call_seconds_bucket{method="chat.postMessage",outcome="ok",le="1"} 1
picket_call_seconds_bucket{method="chat.postMessage",outcome="ok",le="+Inf"} 1
picket_call_seconds_sum{method="chat.postMessage",outcome="ok"} 0.5
picket_call_seconds_count{method="chat.postMessage",outcome="ok"} 1
picket_call_seconds_bucket{method="chat.postMessage",outcome="rate_limited",le="1"} 0
picket_call_seconds_bucket{method="chat.postMessage",outcome="rate_limited",le="+Inf"} 1
picket_call_seconds_sum{method="chat.postMessage",outcome="rate_limited"} 2
picket_call_seconds_count{method="chat.postMessage",outcome="rate_limited"} 1
# HELP picket_queue_depth Messages waiting.
# TYPE picket_queue_depth gauge
picket_queue_depth 2.5
# HELP picket_seconds Time taken.
# TYPE picket_seconds histogram
picket_seconds_bucket{le="0.1"} 2
picket_seconds_bucket{le="1"} 3
picket_seconds_bucket{le="+Inf"} 4
picket_seconds_sum 3.65
picket_seconds_count 4
# HELP picket_things_total Things seen.
# TYPE picket_things_total counter
picket_things_total 15
`
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRuntimeAndHandler(t *testing.T) {
	var reg metrics.Registry
	reg.Runtime("v1.2.3")
	reg.Counter("picket_things_total", "Things seen.").Inc()
	srv := httptest.NewServer(reg.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`picket_build_info{go_version="` + runtime.Version() + `",version="v1.2.3"} 1`,
		"picket_things_total 1",
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		t.Run(strings.Fields(want)[0], func(t *testing.T) {
			if !strings.Contains(string(body), want) {
				t.Errorf("got /metrics without %q:\n%s", want, body)
			}
		})
	}
}

func TestDuplicateNamePanics(t *testing.T) {
	var reg metrics.Registry
	reg.Counter("picket_things_total", "Things seen.")
	defer func() {
		if recover() == nil {
			t.Error("got no panic registering picket_things_total twice, want one")
		}
	}()
	reg.Counter("picket_things_total", "Things seen again.")
}

func TestNilMetricsAreIgnored(t *testing.T) {
	var c *metrics.Counter
	var g *metrics.Gauge
	var h *metrics.Histogram
	var v *metrics.HistogramVec
	c.Inc()
	g.Set(1)
	h.Observe(1)
	v.Observe(1, "a")
	if c.Value() != 0 || g.Value() != 0 || h.Count() != 0 || v.Count("a") != 0 {
		t.Error("nil metrics reported values")
	}
}

func TestUnregistered(t *testing.T) {
	h := metrics.NewHistogram(0.1, 1)
	h.Observe(0.5)
	h.Observe(5)
	if got := h.Count(); got != 2 {
		t.Errorf("got count %d, want 2", got)
	}
	v := metrics.NewHistogramVec([]string{"kind", "outcome"}, 1)
	v.Observe(0.5, "isolate", "ok")
	if got := v.Count("isolate", "ok"); got != 1 {
		t.Errorf("got count %d, want 1", got)
	}
	var reg metrics.Registry
	init := reg.HistogramVec("picket_init_seconds", "Initialised.", []string{"kind"}, 1)
	init.Init("isolate")
	var b strings.Builder
	if err := reg.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if want := `picket_init_seconds_count{kind="isolate"} 0`; !strings.Contains(b.String(), want) {
		t.Errorf("got\n%s\nwant a line %q after Init", b.String(), want)
	}
	if got := v.Count("isolate", "failed"); got != 0 {
		t.Errorf("got count %d for failed, want 0", got)
	}
}
