package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/slack-go/slack/slacktest"

	"github.com/picketsec/picket/internal/fauxqs"
	"github.com/picketsec/picket/metrics"
	"github.com/picketsec/picket/store"
)

// readyz returns /readyz's status code and checks.
func readyz(t *testing.T, base string) (int, map[string]string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body.Checks
}

// TestReadyzFollowsSlackAndQueue runs the bot and breaks Slack (auth.test
// fails), then the queue (deleted), checking /readyz answers 503 naming
// the failing part while it fails and 200 once it is back.
func TestReadyzFollowsSlackAndQueue(t *testing.T) {
	emu := fauxqs.Start(t)
	ctx := context.Background()
	queueURL, _ := emu.CreateQueueWithDLQ(ctx, "picket-ready", 5, 3*time.Second)
	var slackDown atomic.Bool
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/auth.test", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if slackDown.Load() {
				w.Write([]byte(`{"ok":false,"error":"invalid_auth"}`))
				return
			}
			w.Write([]byte(`{"ok":true,"team_id":"T1","user_id":"U1"}`))
		})
	})
	srv.Start()
	defer srv.Stop()
	rec := &slackRecorder{srv: srv, arrived: make(chan struct{}, 100)}
	cfg := e2eConfig(t, emu, queueURL, rec, t.TempDir())
	b := startBot(t, cfg)
	defer b.stop(t)
	base := "http://" + b.http

	// Results are cached for readyTTL, so each change shows within it.
	wait := func(what string, wantCode int, check, wantState string) {
		t.Helper()
		var code int
		var checks map[string]string
		waitFor(t, what, 3*readyTTL, func() bool {
			code, checks = readyz(t, base)
			return code == wantCode && checks[check] == wantState
		})
		if wantCode == http.StatusOK {
			for name, state := range checks {
				if state != "ok" {
					t.Errorf("%s: got check %s %s with 200, want every check ok", what, name, state)
				}
			}
		}
	}
	wait("ready at start", http.StatusOK, "slack", "ok")
	for _, name := range []string{"store", "queue", "slack"} {
		if _, checks := readyz(t, base); checks[name] != "ok" {
			t.Errorf("got checks %v, want %s among them and ok", checks, name)
		}
	}

	slackDown.Store(true)
	wait("503 while Slack fails", http.StatusServiceUnavailable, "slack", "failing")
	slackDown.Store(false)
	wait("200 once Slack answers", http.StatusOK, "slack", "ok")

	if _, err := emu.SQS().DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(queueURL)}); err != nil {
		t.Fatal(err)
	}
	wait("503 while the queue is gone", http.StatusServiceUnavailable, "queue", "failing")
	out, err := emu.SQS().CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("picket-ready")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.QueueUrl); got != queueURL {
		t.Fatalf("recreated queue at %s, want %s", got, queueURL)
	}
	wait("200 once the queue is back", http.StatusOK, "queue", "ok")
}

// TestReadyzStoreCheck checks serve's store check: ok on an open store,
// 503 once the store cannot be read.
func TestReadyzStoreCheck(t *testing.T) {
	db, err := store.Open(storePath(t.TempDir()), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ready := &readiness{ttl: time.Nanosecond}
	ready.add("store", storeReady(db))
	srv := httptest.NewServer(newMux(&metrics.Registry{}, ready))
	defer srv.Close()
	if code, checks := readyz(t, srv.URL); code != http.StatusOK || checks["store"] != "ok" {
		t.Errorf("open store: got %d %v, want 200 and store ok", code, checks)
	}
	db.Close()
	time.Sleep(time.Millisecond)
	if code, checks := readyz(t, srv.URL); code != http.StatusServiceUnavailable || checks["store"] != "failing" {
		t.Errorf("closed store: got %d %v, want 503 and store failing", code, checks)
	}
}

// TestHealthcheckExitCodes runs `picket healthcheck` against a server
// that answers /healthz, one that fails it and an address nothing
// listens on.
func TestHealthcheckExitCodes(t *testing.T) {
	ok := httptest.NewServer(newMux(&metrics.Registry{}, &readiness{}))
	defer ok.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedAddr := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want int
	}{
		{"healthy", []string{"--addr", strings.TrimPrefix(ok.URL, "http://")}, nil, exitOK},
		{"healthy from PICKET_HTTP_ADDR", nil, map[string]string{"PICKET_HTTP_ADDR": strings.TrimPrefix(ok.URL, "http://")}, exitOK},
		{"unhealthy", []string{"--addr", strings.TrimPrefix(failing.URL, "http://")}, nil, exitFailure},
		{"nothing listening", []string{"--addr", closedAddr}, nil, exitFailure},
		{"bad flag", []string{"--nope"}, nil, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.env, append([]string{"healthcheck"}, tt.args...)...)
			if code != tt.want {
				t.Errorf("got exit %d, want %d (stdout %q, stderr %q)", code, tt.want, out, errOut)
			}
		})
	}
}
