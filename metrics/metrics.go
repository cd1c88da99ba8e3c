package metrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Counter is a monotonically increasing count. The zero value is ready to
// use; a nil *Counter ignores every call, so components can run unmetered.
type Counter struct {
	v atomic.Int64
}

// Inc adds one.
func (c *Counter) Inc() { c.Add(1) }

// Add adds n, which must not be negative.
func (c *Counter) Add(n int64) {
	if c != nil {
		c.v.Add(n)
	}
}

// Value returns the current count.
func (c *Counter) Value() int64 {
	if c == nil {
		return 0
	}
	return c.v.Load()
}

// Gauge is a value that goes up and down. A nil *Gauge ignores every call.
type Gauge struct {
	bits atomic.Uint64
}

// Set stores v.
func (g *Gauge) Set(v float64) {
	if g != nil {
		g.bits.Store(math.Float64bits(v))
	}
}

// Value returns the current value.
func (g *Gauge) Value() float64 {
	if g == nil {
		return 0
	}
	return math.Float64frombits(g.bits.Load())
}

// Histogram counts observations into cumulative buckets. A nil *Histogram
// ignores every call.
type Histogram struct {
	mu     sync.Mutex
	bounds []float64
	counts []uint64 // per bucket, not cumulative; len(bounds)+1 with +Inf last
	sum    float64
	count  uint64
}

// NewHistogram returns a histogram with the given upper bounds, which must be
// sorted ascending.
func NewHistogram(bounds ...float64) *Histogram {
	b := append([]float64(nil), bounds...)
	sort.Float64s(b)
	return &Histogram{bounds: b, counts: make([]uint64, len(b)+1)}
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	if h == nil {
		return
	}
	i := sort.SearchFloat64s(h.bounds, v)
	h.mu.Lock()
	h.counts[i]++
	h.sum += v
	h.count++
	h.mu.Unlock()
}

// ObserveSince records the seconds elapsed since start.
func (h *Histogram) ObserveSince(start time.Time) {
	h.Observe(time.Since(start).Seconds())
}

// Count returns how many values were observed.
func (h *Histogram) Count() uint64 {
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}

type series struct {
	name, help, kind string
	write            func(w io.Writer, name string)
}

// Registry names metrics and writes them for Prometheus. Register every
// metric before serving.
type Registry struct {
	mu     sync.Mutex
	series []series
}

// Counter registers and returns a new counter.
func (r *Registry) Counter(name, help string) *Counter {
	c := &Counter{}
	r.add(series{name, help, "counter", func(w io.Writer, n string) {
		fmt.Fprintf(w, "%s %d\n", n, c.Value())
	}})
	return c
}

// Gauge registers and returns a new gauge.
func (r *Registry) Gauge(name, help string) *Gauge {
	g := &Gauge{}
	r.add(series{name, help, "gauge", func(w io.Writer, n string) {
		fmt.Fprintf(w, "%s %s\n", n, formatFloat(g.Value()))
	}})
	return g
}

// Histogram registers and returns a new histogram with the given bounds.
func (r *Registry) Histogram(name, help string, bounds ...float64) *Histogram {
	h := NewHistogram(bounds...)
	r.add(series{name, help, "histogram", func(w io.Writer, n string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		var cum uint64
		for i, b := range h.bounds {
			cum += h.counts[i]
			fmt.Fprintf(w, "%s_bucket{le=%q} %d\n", n, formatFloat(b), cum)
		}
		cum += h.counts[len(h.bounds)]
		fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n", n, cum)
		fmt.Fprintf(w, "%s_sum %s\n", n, formatFloat(h.sum))
		fmt.Fprintf(w, "%s_count %d\n", n, h.count)
	}})
	return h
}

func (r *Registry) add(s series) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.series = append(r.series, s)
}

// WriteText writes every registered metric in the Prometheus text format.
func (r *Registry) WriteText(w io.Writer) error {
	r.mu.Lock()
	ss := append([]series(nil), r.series...)
	r.mu.Unlock()
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", s.name, s.help, s.name, s.kind)
		s.write(&b, s.name)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func formatFloat(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Sample is one labelled value of a GaugeFunc.
type Sample struct {
	// Labels are name, value pairs.
	Labels []string
	Value  float64
}

// GaugeFunc registers a gauge whose labelled values are read from fn at
// every scrape (for values another part of Picket already keeps, such as
// the outbox backlog per channel). Label values are escaped as the text
// format requires.
func (r *Registry) GaugeFunc(name, help string, fn func() []Sample) {
	r.add(series{name, help, "gauge", func(w io.Writer, n string) {
		for _, s := range fn() {
			var b strings.Builder
			for i := 0; i+1 < len(s.Labels); i += 2 {
				if b.Len() > 0 {
					b.WriteByte(',')
				}
				b.WriteString(s.Labels[i])
				b.WriteString(`="`)
				b.WriteString(labelEscaper.Replace(s.Labels[i+1]))
				b.WriteByte('"')
			}
			if b.Len() > 0 {
				fmt.Fprintf(w, "%s{%s} %s\n", n, b.String(), formatFloat(s.Value))
			} else {
				fmt.Fprintf(w, "%s %s\n", n, formatFloat(s.Value))
			}
		}
	}})
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
