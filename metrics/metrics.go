package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
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
	h prometheus.Histogram
}

// NewHistogram returns an unregistered histogram with the given upper
// bounds (for tests and components run on their own).
func NewHistogram(bounds ...float64) *Histogram {
	return &Histogram{h: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "picket_unregistered_seconds", Help: "Unregistered.", Buckets: bounds,
	})}
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	if h != nil {
		h.h.Observe(v)
	}
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
	var m dto.Metric
	if err := h.h.Write(&m); err != nil {
		return 0
	}
	return m.GetHistogram().GetSampleCount()
}

// HistogramVec is a histogram partitioned by labels, such as Slack call
// latency by method. A nil *HistogramVec ignores every call.
type HistogramVec struct {
	v *prometheus.HistogramVec
	n int
}

// NewHistogramVec returns an unregistered labelled histogram (for tests and
// components run on their own).
func NewHistogramVec(labels []string, bounds ...float64) *HistogramVec {
	return &HistogramVec{v: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "picket_unregistered_seconds", Help: "Unregistered.", Buckets: bounds,
	}, labels), n: len(labels)}
}

// Observe records v under the given label values, one per label name in
// the order they were registered. Missing values are empty; extra values
// are dropped.
func (h *HistogramVec) Observe(v float64, labelValues ...string) {
	if h == nil {
		return
	}
	vals := make([]string, h.n)
	copy(vals, labelValues)
	h.v.WithLabelValues(vals...).Observe(v)
}

// Init creates the series for the label values at zero, so that rates
// and alerts over it are defined before the first observation.
func (h *HistogramVec) Init(labelValues ...string) {
	if h == nil {
		return
	}
	vals := make([]string, h.n)
	copy(vals, labelValues)
	h.v.WithLabelValues(vals...)
}

// Count returns how many values were observed under the label values
// (creating their series, at zero, if none was observed yet).
func (h *HistogramVec) Count(labelValues ...string) uint64 {
	if h == nil {
		return 0
	}
	vals := make([]string, h.n)
	copy(vals, labelValues)
	var m dto.Metric
	if err := h.v.WithLabelValues(vals...).(prometheus.Metric).Write(&m); err != nil {
		return 0
	}
	return m.GetHistogram().GetSampleCount()
}

// Registry names metrics and serves them for Prometheus. The zero value is
// ready to use. Register every metric before serving; registering a name
// twice panics, as it is a programming error.
type Registry struct {
	once sync.Once
	reg  *prometheus.Registry
}

func (r *Registry) prom() *prometheus.Registry {
	r.once.Do(func() { r.reg = prometheus.NewRegistry() })
	return r.reg
}

// Counter registers and returns a new counter.
func (r *Registry) Counter(name, help string) *Counter {
	c := &Counter{}
	r.prom().MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
		func() float64 { return float64(c.Value()) }))
	return c
}

// Gauge registers and returns a new gauge.
func (r *Registry) Gauge(name, help string) *Gauge {
	g := &Gauge{}
	r.prom().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, g.Value))
	return g
}

// Histogram registers and returns a new histogram with the given bounds.
func (r *Registry) Histogram(name, help string, bounds ...float64) *Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: bounds})
	r.prom().MustRegister(h)
	return &Histogram{h: h}
}

// HistogramVec registers and returns a new histogram partitioned by the
// named labels.
func (r *Registry) HistogramVec(name, help string, labels []string, bounds ...float64) *HistogramVec {
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: bounds}, labels)
	r.prom().MustRegister(v)
	return &HistogramVec{v: v, n: len(labels)}
}

// Runtime registers the Go runtime and process collectors (go_* and
// process_* series) and picket_build_info{version,go_version}, which is
// always 1.
func (r *Registry) Runtime(version string) {
	r.prom().MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "picket_build_info",
		Help:        "Picket's version and the Go version it was built with; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "go_version": runtime.Version()},
	})
	info.Set(1)
	r.prom().MustRegister(info)
}

// Handler serves every registered metric in the format the scraper asks
// for (the text format by default).
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.prom(), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// WriteText writes every registered metric in the Prometheus text format,
// sorted by name.
func (r *Registry) WriteText(w io.Writer) error {
	mfs, err := r.prom().Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return fmt.Errorf("write metric %s: %w", mf.GetName(), err)
		}
	}
	return nil
}

// Sample is one labelled value of a GaugeFunc.
type Sample struct {
	// Labels are name, value pairs.
	Labels []string
	Value  float64
}

// GaugeFunc registers a gauge whose labelled values are read from fn at
// every scrape (for values another part of Picket already keeps, such as
// the outbox backlog per channel).
func (r *Registry) GaugeFunc(name, help string, fn func() []Sample) {
	r.prom().MustRegister(&sampleCollector{name: name, help: help, fn: fn})
}

// sampleCollector is an unchecked collector (it describes nothing): its
// label names come from the samples fn returns.
type sampleCollector struct {
	name, help string
	fn         func() []Sample
}

func (c *sampleCollector) Describe(chan<- *prometheus.Desc) {}

func (c *sampleCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.fn() {
		var names, values []string
		for i := 0; i+1 < len(s.Labels); i += 2 {
			names = append(names, s.Labels[i])
			values = append(values, s.Labels[i+1])
		}
		d := prometheus.NewDesc(c.name, c.help, names, nil)
		m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, s.Value, values...)
		if err != nil {
			m = prometheus.NewInvalidMetric(d, err)
		}
		ch <- m
	}
}
