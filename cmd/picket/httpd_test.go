package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/metrics"
	"github.com/picketsec/picket/store"
)

func TestServerTimeouts(t *testing.T) {
	s := newServer(http.NotFoundHandler())
	tests := []struct {
		name string
		got  time.Duration
	}{
		{"read header", s.ReadHeaderTimeout},
		{"read", s.ReadTimeout},
		{"write", s.WriteTimeout},
		{"idle", s.IdleTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got <= 0 || tt.got > time.Minute {
				t.Errorf("got %s, want a timeout between 0 and 1m", tt.got)
			}
		})
	}
	if s.MaxHeaderBytes <= 0 || s.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes: got %d, want a limit of at most 1 MiB", s.MaxHeaderBytes)
	}
}

// TestReadyzHidesErrorsAndCaches proves /readyz shows no error text (an
// AWS error names accounts, ARNs and request ids) and runs its checks,
// which may call AWS, at most once per readyTTL however often it is hit.
func TestReadyzHidesErrorsAndCaches(t *testing.T) {
	var calls atomic.Int32
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	logs := &strings.Builder{}
	var logMu sync.Mutex
	ready := &readiness{now: clock, log: slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))}
	const secret = "AccessDenied: User: arn:aws:sts::123456789012:assumed-role/picket/i-0abc is not authorized, request id 5d1f"
	ready.add("store", func(context.Context) error { return nil })
	ready.add("queue", func(context.Context) error { calls.Add(1); return errors.New(secret) })
	srv := httptest.NewServer(newMux(&metrics.Registry{}, ready))
	defer srv.Close()

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			resp, err := http.Get(srv.URL + "/readyz")
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("status: got %d, want 503", resp.StatusCode)
			}
			if got, want := strings.TrimSpace(string(body)), `{"checks":{"queue":"failing","store":"ok"},"ready":false}`; got != want {
				t.Errorf("body: got %s, want %s", got, want)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("checks run for 20 requests within %s: got %d, want 1", readyTTL, n)
	}
	logMu.Lock()
	if !strings.Contains(logs.String(), "123456789012") {
		t.Errorf("log: got %q, want the check's error for operators", logs.String())
	}
	logMu.Unlock()
	mu.Lock()
	now = now.Add(readyTTL)
	mu.Unlock()
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := calls.Load(); n != 2 {
		t.Errorf("checks run after the cache expired: got %d, want 2", n)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader("payload=%7B%7D"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHTTPModeListeners runs the bot in Slack http mode and proves Slack's
// routes and health/metrics are on separate listeners: the public Slack
// listener answers nothing but /slack/..., and the health listener no
// Slack request. It also proves the audit chain is keyed and its head
// logged when an audit key is configured.
func TestHTTPModeListeners(t *testing.T) {
	sl := newSlackRecorder(t)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Slack.Mode = config.ModeHTTP
	cfg.Slack.HTTPAddr = freeAddr(t)
	cfg.Slack.BotToken, cfg.Slack.SigningSecret = "xoxb-test", "test-signing-secret"
	cfg.Slack.APIURL = sl.srv.GetAPIURL()
	cfg.Enrich.Enabled = false
	cfg.AWS.Region = "us-east-1"
	cfg.Audit.Key = config.Secret(strings.Repeat("k", 32))
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), io.Discard, func(a string) { ready <- a })
	}()
	var health string
	select {
	case health = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	slackURL := "http://" + cfg.Slack.HTTPAddr

	tests := []struct {
		name       string
		method     string
		url        string
		wantStatus int
	}{
		{"slack listener: interactions need a signature", http.MethodPost, slackURL + "/slack/interactions", http.StatusUnauthorized},
		{"slack listener: commands need a signature", http.MethodPost, slackURL + "/slack/commands", http.StatusUnauthorized},
		{"slack listener: no metrics", http.MethodGet, slackURL + "/metrics", http.StatusNotFound},
		{"slack listener: no readiness", http.MethodGet, slackURL + "/readyz", http.StatusNotFound},
		{"slack listener: no health", http.MethodGet, slackURL + "/healthz", http.StatusNotFound},
		{"health listener: no slack interactions", http.MethodPost, "http://" + health + "/slack/interactions", http.StatusNotFound},
		{"health listener: no slack commands", http.MethodPost, "http://" + health + "/slack/commands", http.StatusNotFound},
		{"health listener: health", http.MethodGet, "http://" + health + "/healthz", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := get(t, tt.method, tt.url); got != tt.wantStatus {
				t.Errorf("%s %s: got %d, want %d", tt.method, tt.url, got, tt.wantStatus)
			}
		})
	}
	if _, body := get(t, http.MethodGet, "http://"+health+"/metrics"); !strings.Contains(body, "picket_slack_requests_refused_total 2") {
		t.Errorf("metrics: want picket_slack_requests_refused_total 2 for the two unsigned requests:\n%s", body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if n := strings.Count(logs.String(), "msg=\"audit chain head\""); n < 2 {
		t.Errorf("audit chain head log lines: got %d, want at start and at stop:\n%s", n, logs.String())
	}
	db, err := store.Open(storePath(cfg.DataDir), store.Options{AuditKey: auditKey(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := db.VerifyAuditChain()
	if err != nil || c.Keyed == 0 || c.Keyed != c.Entries {
		t.Fatalf("audit chain: got %+v, %v, want every entry keyed", c, err)
	}
	recent, _ := db.RecentAudit(10)
	var events []string
	for _, e := range recent {
		events = append(events, e.Event+":"+e.Detail)
	}
	// The keyed first entry, and one summary of the two refused requests.
	if len(events) != 2 || !strings.HasPrefix(events[0], "audit_keyed:") || !strings.Contains(events[1], "refused 2 Slack requests") {
		t.Errorf("audit: got %q, want audit_keyed and one summary of 2 refused requests", events)
	}
	if !strings.Contains(logs.String(), "head") || strings.Contains(logs.String(), strings.Repeat("k", 32)) {
		t.Errorf("log shows the audit key")
	}
}

// syncBuffer is a strings.Builder safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
