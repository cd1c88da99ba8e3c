package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/internal/fauxqs"
)

// slackCall is one chat.postMessage or chat.update the Slack test server
// received.
type slackCall struct {
	Method  string
	Channel string
	TS      string
	Text    string
	Blocks  string
}

// slackRecorder is a slacktest server whose chat.postMessage and
// chat.update record every call and answer with distinct timestamps. gate,
// when set, makes chat.postMessage wait until it is closed.
type slackRecorder struct {
	srv     *slacktest.Server
	mu      sync.Mutex
	calls   []slackCall
	n       int
	gate    chan struct{}
	arrived chan struct{} // receives once per post request, before the gate
	onPost  func(text string)
}

func newSlackRecorder(tb testing.TB) *slackRecorder { return newSlackRecorderFunc(tb, nil) }

// newSlackRecorderFunc is newSlackRecorder with a function called with
// each post's fallback text as it arrives.
func newSlackRecorderFunc(tb testing.TB, onPost func(text string)) *slackRecorder {
	tb.Helper()
	rec := &slackRecorder{arrived: make(chan struct{}, 100), onPost: onPost}
	record := func(method string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			form, _ := url.ParseQuery(string(body))
			if method == "chat.postMessage" {
				if rec.onPost != nil {
					rec.onPost(form.Get("text"))
				}
				select {
				case rec.arrived <- struct{}{}:
				default:
				}
				rec.mu.Lock()
				gate := rec.gate
				rec.mu.Unlock()
				if gate != nil {
					<-gate
				}
			}
			rec.mu.Lock()
			rec.n++
			ts := form.Get("ts")
			if method == "chat.postMessage" {
				ts = fmt.Sprintf("1700000000.%06d", rec.n)
			}
			// Blocks travel top-level or inside the colour attachment.
			rec.calls = append(rec.calls, slackCall{method, form.Get("channel"), ts, form.Get("text"), form.Get("blocks") + form.Get("attachments")})
			rec.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": "C" + strings.TrimPrefix(form.Get("channel"), "#"), "ts": ts})
		}
	}
	rec.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", record("chat.postMessage"))
		c.Handle("/chat.update", record("chat.update"))
	})
	rec.srv.Start()
	tb.Cleanup(rec.srv.Stop)
	return rec
}

func (r *slackRecorder) snapshot() []slackCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slackCall(nil), r.calls...)
}

func (r *slackRecorder) count(method string) int {
	n := 0
	for _, c := range r.snapshot() {
		if c.Method == method {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runningBot is one in-process `picket run`.
type runningBot struct {
	cancel context.CancelFunc
	done   chan error
	http   string
}

func (b *runningBot) stop(t *testing.T) {
	t.Helper()
	b.cancel()
	select {
	case err := <-b.done:
		if err != nil {
			t.Fatalf("serve returned %v, want a clean shutdown", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of cancellation")
	}
}

func startBot(t *testing.T, cfg config.Config) *runningBot {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &runningBot{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { b.done <- serve(ctx, cfg, log, io.Discard, func(a string) { ready <- a }) }()
	select {
	case b.http = <-ready:
	case err := <-b.done:
		t.Fatalf("serve failed to start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start within 30s")
	}
	t.Cleanup(func() { cancel() })
	return b
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// e2eConfig is a bot configured against the emulator and the Slack test
// server.
func e2eConfig(t *testing.T, emu *fauxqs.Emulator, queueURL string, rec *slackRecorder, dataDir string) config.Config {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg := config.Default()
	cfg.AWS.QueueURL = queueURL
	cfg.AWS.EndpointURL = emu.URL()
	cfg.AWS.Region = "us-east-1"
	cfg.Slack.BotToken = "xoxb-test-token"
	cfg.Slack.AppToken = "xapp-test-token"
	cfg.Slack.APIURL = rec.srv.GetAPIURL()
	cfg.Slack.DefaultChannel = "#security-alerts"
	cfg.Slack.DefaultMinSeverity = "low"
	cfg.DataDir = dataDir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Enrich.Enabled = false
	cfg.Ingest.Workers = 2
	cfg.Ingest.WaitTime = config.Dur(time.Second)
	cfg.Ingest.VisibilityTimeout = config.Dur(3 * time.Second)
	cfg.Ingest.ReconcileInterval = config.Dur(0) // the emulator has no Security Hub
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	return cfg
}

func readTestdata(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// bumped returns the GuardDuty event with a higher count and a later
// updatedAt: the next version of the same finding.
func bumped(t *testing.T, event string, count int, updatedAt string) string {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal([]byte(event), &ev); err != nil {
		t.Fatal(err)
	}
	d := ev["detail"].(map[string]any)
	d["updatedAt"] = updatedAt
	d["service"].(map[string]any)["count"] = count
	b, _ := json.Marshal(ev)
	return string(b)
}

func metricValue(t *testing.T, httpAddr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		var v float64
		if strings.HasPrefix(line, name+" ") {
			fmt.Sscanf(strings.TrimPrefix(line, name+" "), "%g", &v)
			return v
		}
	}
	t.Fatalf("metric %s not in /metrics:\n%s", name, body)
	return 0
}

func httpStatus(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestEndToEnd drives the real binary's wiring: SNS -> SQS (emulator) ->
// consumer -> decode -> triage -> store -> Slack (test server).
func TestEndToEnd(t *testing.T) {
	emu := fauxqs.Start(t)
	ctx := context.Background()
	queueURL, dlqURL := emu.CreateQueueWithDLQ(ctx, "picket-e2e", 2, 3*time.Second)
	topic := emu.CreateTopicSubscribedTo(ctx, "picket-findings", queueURL, false)
	rec := newSlackRecorder(t)
	cfg := e2eConfig(t, emu, queueURL, rec, t.TempDir())
	b := startBot(t, cfg)

	tor := readTestdata(t, "eb_UnauthorizedAccess_IAMUser_TorIPCaller__c7n.json")
	emu.Publish(ctx, topic, tor)
	emu.Publish(ctx, topic, readTestdata(t, "eb_Backdoor_EC2_CnCActivity.B_DNS__c7n.json"))
	emu.Publish(ctx, topic, readTestdata(t, "custom_action_2_findings_IAM.6_RDS.4__asr.json")) // two findings
	emu.Publish(ctx, topic, readTestdata(t, "imported_fsbp_EC2.7__asr.json"))                  // informational: recorded only

	// One post per finding at or above the route threshold.
	waitFor(t, "4 posts", 30*time.Second, func() bool { return rec.count("chat.postMessage") >= 4 })
	waitFor(t, "queue drained", 30*time.Second, func() bool {
		v, f := emu.Count(ctx, queueURL)
		return v == 0 && f == 0
	})
	if got := rec.count("chat.postMessage"); got != 4 {
		t.Fatalf("chat.postMessage calls = %d, want 4 (one per finding, informational recorded only)", got)
	}
	var torPost slackCall
	for _, c := range rec.snapshot() {
		if strings.Contains(c.Blocks, "picket.disable_user") {
			torPost = c
		}
		if c.Channel != "#security-alerts" {
			t.Errorf("post to %q, want #security-alerts", c.Channel)
		}
		if c.Text == "" || c.Blocks == "" {
			t.Errorf("post without fallback text or blocks: %+v", c)
		}
	}
	if torPost.TS == "" {
		t.Fatal("no post offered Disable user (the IAM user finding)")
	}

	// A GuardDuty repeat with a higher count updates the same message.
	emu.Publish(ctx, topic, bumped(t, tor, 7, "2017-12-08T17:00:00.000Z"))
	waitFor(t, "an update", 30*time.Second, func() bool { return rec.count("chat.update") >= 1 })
	upd := rec.snapshot()[len(rec.snapshot())-1]
	if upd.Method != "chat.update" || upd.TS != torPost.TS {
		t.Fatalf("last call = %s ts %s, want chat.update of the Tor message ts %s", upd.Method, upd.TS, torPost.TS)
	}

	// The original again (an older version, delivered late) changes nothing.
	before := metricValue(t, b.http, "picket_findings_deduplicated_total")
	emu.Publish(ctx, topic, tor)
	waitFor(t, "the late delivery to be deduplicated", 30*time.Second, func() bool {
		return metricValue(t, b.http, "picket_findings_deduplicated_total") > before
	})

	// A malformed message is never deleted: it ends up in the DLQ.
	emu.Send(ctx, queueURL, `{"Type":"Notification","Message":"{\"detail-type\": \"GuardDuty Finding\", \"detail\": {...}}"`)
	waitFor(t, "the malformed message in the DLQ", 45*time.Second, func() bool {
		v, _ := emu.Count(ctx, dlqURL)
		return v == 1
	})
	if got := metricValue(t, b.http, "picket_messages_undecodable_total"); got < 1 {
		t.Errorf("picket_messages_undecodable_total = %g, want at least 1", got)
	}

	if got, want := rec.count("chat.postMessage"), 4; got != want {
		t.Errorf("chat.postMessage calls = %d at the end, want still %d", got, want)
	}
	if got, want := rec.count("chat.update"), 1; got != want {
		t.Errorf("chat.update calls = %d, want %d", got, want)
	}
	for _, name := range []string{"picket_alerts_posted_total", "picket_alerts_updated_total"} {
		if metricValue(t, b.http, name) < 1 {
			t.Errorf("%s is 0", name)
		}
	}
	if s := httpStatus(t, "http://"+b.http+"/healthz"); s != 200 {
		t.Errorf("/healthz = %d, want 200", s)
	}
	if s := httpStatus(t, "http://"+b.http+"/readyz"); s != 200 {
		t.Errorf("/readyz = %d, want 200", s)
	}
	b.stop(t)
}

// TestRestartLosesNothing stops the bot while a post is in flight and
// findings wait in the outbox, starts it again on the same data directory,
// and expects every finding posted exactly once.
func TestRestartLosesNothing(t *testing.T) {
	emu := fauxqs.Start(t)
	ctx := context.Background()
	queueURL, _ := emu.CreateQueueWithDLQ(ctx, "picket-restart", 5, 3*time.Second)
	topic := emu.CreateTopicSubscribedTo(ctx, "picket-restart", queueURL, false)
	rec := newSlackRecorder(t)
	gate := make(chan struct{})
	rec.gate = gate
	dataDir := t.TempDir()
	cfg := e2eConfig(t, emu, queueURL, rec, dataDir)
	cfg.Ingest.Workers = 1
	cfg.Ingest.MaxMessages = 1
	b := startBot(t, cfg)

	tor := readTestdata(t, "eb_UnauthorizedAccess_IAMUser_TorIPCaller__c7n.json")
	emu.Publish(ctx, topic, tor)
	emu.Publish(ctx, topic, readTestdata(t, "eb_Backdoor_EC2_CnCActivity.B_DNS__c7n.json"))
	emu.Publish(ctx, topic, readTestdata(t, "custom_action_2_findings_IAM.6_RDS.4__asr.json"))

	select {
	case <-rec.arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("no post reached Slack")
	}
	// A post hangs in Slack: intake does not wait for it. Every message is
	// committed to the outbox and deleted from the queue.
	waitFor(t, "the queue drained while a post hangs", 30*time.Second, func() bool {
		v, f := emu.Count(ctx, queueURL)
		return v == 0 && f == 0
	})
	// Stop while the post is in flight, then let Slack answer: the bot
	// finishes and records that post and exits; the others stay in the
	// outbox.
	b.cancel()
	time.Sleep(200 * time.Millisecond)
	rec.mu.Lock()
	rec.gate = nil
	rec.mu.Unlock()
	close(gate)
	b.stop(t)

	b2 := startBot(t, cfg)
	waitFor(t, "all 4 findings posted after the restart", 45*time.Second, func() bool {
		return rec.count("chat.postMessage") >= 4
	})
	waitFor(t, "queue drained", 30*time.Second, func() bool {
		v, f := emu.Count(ctx, queueURL)
		return v == 0 && f == 0
	})
	posts := map[string]int{}
	for _, c := range rec.snapshot() {
		if c.Method == "chat.postMessage" {
			posts[c.Text]++
		}
	}
	if len(posts) != 4 {
		t.Errorf("distinct alerts posted = %d, want 4: %v", len(posts), posts)
	}
	for text, n := range posts {
		if n != 1 {
			t.Errorf("alert %q posted %d times, want once", text, n)
		}
	}
	b2.stop(t)
}
