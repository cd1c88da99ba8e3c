package metrics_test

import (
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
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { c.Inc() })
	}
	wg.Wait()
	c.Add(5)
	g.Set(2.5)
	for _, v := range []float64{0.05, 0.1, 0.5, 3} {
		h.Observe(v)
	}
	var b strings.Builder
	if err := reg.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP picket_things_total Things seen.
# TYPE picket_things_total counter
picket_things_total 15
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
`
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestNilMetricsAreIgnored(t *testing.T) {
	var c *metrics.Counter
	var g *metrics.Gauge
	var h *metrics.Histogram
	c.Inc()
	g.Set(1)
	h.Observe(1)
	if c.Value() != 0 || g.Value() != 0 || h.Count() != 0 {
		t.Error("nil metrics reported values")
	}
}
