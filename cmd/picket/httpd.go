package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/picketsec/picket/metrics"
)

// Limits of Picket's HTTP servers. Slack's requests are small (a body of
// at most 1 MiB, read by the bot) and answered within 3 seconds; health and
// metrics answers are small too. A client that trickles its request or
// never reads the answer is cut off instead of holding a connection.
const (
	httpReadHeaderTimeout = 5 * time.Second
	httpReadTimeout       = 15 * time.Second
	httpWriteTimeout      = 30 * time.Second
	httpIdleTimeout       = 60 * time.Second
	httpMaxHeaderBytes    = 64 << 10
	// readyTTL is how long a /readyz result is reused, so that requests to
	// it (which anyone who reaches the listener can make) cause at most
	// one round of checks, and so at most one AWS call, per period.
	readyTTL = 5 * time.Second
)

// readiness collects named checks for /readyz. A check returns nil when its
// part is ready. Results are cached for ttl (readyTTL when zero) and only
// one round of checks runs at a time; callers meanwhile wait for it and
// share its result.
type readiness struct {
	// log receives each failing check's error, which /readyz itself does
	// not show (it can carry AWS account ids, ARNs and request ids);
	// discarded when nil.
	log *slog.Logger
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	checks map[string]func(context.Context) error

	probe    sync.Mutex // held while a round of checks runs
	results  map[string]string
	ok       bool
	probedAt time.Time
}

func (r *readiness) add(name string, check func(context.Context) error) {
	r.mu.Lock()
	if r.checks == nil {
		r.checks = map[string]func(context.Context) error{}
	}
	r.checks[name] = check
	r.mu.Unlock()
	// A new check invalidates the cached result. (probe is taken after mu
	// is released: run takes probe, then mu.)
	r.probe.Lock()
	r.probedAt = time.Time{}
	r.probe.Unlock()
}

// run returns every check's result, "ok" or "failing", evaluating them
// unless a result younger than the ttl is cached; ok is true when all
// pass.
func (r *readiness) run(ctx context.Context) (results map[string]string, ok bool) {
	now, ttl := time.Now, r.ttl
	if r.now != nil {
		now = r.now
	}
	if ttl <= 0 {
		ttl = readyTTL
	}
	r.probe.Lock()
	defer r.probe.Unlock()
	if t := now(); !r.probedAt.IsZero() && t.Sub(r.probedAt) < ttl && !t.Before(r.probedAt) {
		return maps.Clone(r.results), r.ok
	}
	r.mu.Lock()
	names := make([]string, 0, len(r.checks))
	for n := range r.checks {
		names = append(names, n)
	}
	checks := r.checks
	r.mu.Unlock()
	sort.Strings(names)
	results, ok = map[string]string{}, true
	for _, n := range names {
		if err := checks[n](ctx); err != nil {
			if r.log != nil {
				r.log.Warn("readiness check failed", "check", n, "err", err)
			}
			results[n] = "failing"
			ok = false
			continue
		}
		results[n] = "ok"
	}
	r.results, r.ok, r.probedAt = results, ok, now()
	return maps.Clone(results), ok
}

// newMux serves /healthz (the process is alive), /readyz (every part is
// ready) and /metrics (the Prometheus exposition formats). It never serves Slack's
// requests: they have their own listener (serveSlackHTTP), so health and
// metrics need not be exposed where Slack can reach.
func newMux(reg *metrics.Registry, ready *readiness) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		results, ok := ready.run(ctx)
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(map[string]any{"ready": ok, "checks": results})
	})
	mux.Handle("GET /metrics", reg.Handler())
	return mux
}

// newServer is an HTTP server for h with Picket's timeouts and header
// limit.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
	}
}

// serveHTTP listens on addr and serves h until ctx is cancelled, then shuts
// down gracefully. It returns once the listener is bound, with the bound
// address, and reports serving errors on the returned channel.
func serveHTTP(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (net.Addr, <-chan error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := newServer(h)
	errc := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("http shutdown", "addr", ln.Addr().String(), "err", err)
		}
	}()
	log.Info("http listening", "addr", ln.Addr().String())
	return ln.Addr(), errc, nil
}

// serveSlackHTTP serves Slack's signed requests (h is bot.Handler:
// POST /slack/interactions and /slack/commands, 404 for anything else) on
// a listener of their own at addr (slack.http_addr), apart from
// /healthz, /readyz and /metrics, until ctx is cancelled. It returns the
// bound address once listening; wg counts the server and its end (nil
// after a clean shutdown) is sent on errc.
func serveSlackHTTP(ctx context.Context, addr string, h http.Handler, log *slog.Logger, wg *sync.WaitGroup, errc chan<- error) (net.Addr, error) {
	bound, serr, err := serveHTTP(ctx, addr, h, log.With("listener", "slack"))
	if err != nil {
		return nil, fmt.Errorf("slack listener: %w", err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); errc <- <-serr }()
	log.Info("slack requests served over HTTP", "addr", bound.String(), "path", "/slack/interactions, /slack/commands")
	return bound, nil
}
