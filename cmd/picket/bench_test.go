package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/event"
	"github.com/picketsec/picket/internal/fauxqs"
	"github.com/picketsec/picket/notifiers"
	"github.com/picketsec/picket/store"
	"github.com/picketsec/picket/triage"
)

// The benchmarks here measure the targets; `make bench` runs them
// and writes bench/results.txt. Nothing asserts a speed.

// memStore is an in-memory picket.IntakeStore, so the throughput benchmark
// measures decode, triage and render rather than the disk.
type memStore struct {
	mu   sync.Mutex
	recs map[string]picket.FindingRecord
	seq  uint64
}

func (s *memStore) Intake(_ string, _ time.Time, fs []picket.Finding, decide picket.Decide) (picket.IntakeResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := picket.IntakeResult{Outcomes: make([]picket.Outcome, len(fs))}
	for i := range fs {
		prev, found := s.recs[fs[i].Key]
		rec, out, show := decide(&fs[i], prev, found)
		s.recs[rec.Finding.Key] = rec
		res.Outcomes[i] = out
		if show {
			s.seq++
			res.Pending = append(res.Pending, picket.Pending{Key: rec.Finding.Key, Channel: rec.Route.Channel, Seq: s.seq})
		}
	}
	return res, nil
}

// render renders the alert of a queued finding to Block Kit and encodes
// it as the Slack API request would, as delivery does; the network call
// is left out.
func (s *memStore) render(key string) error {
	s.mu.Lock()
	rec := s.recs[key]
	s.mu.Unlock()
	_, err := json.Marshal(notifiers.Render(picket.Alert{Finding: &rec.Finding, Channel: rec.Route.Channel, Mention: rec.Route.Mention}))
	return err
}

// snsBody wraps an EventBridge event in an SNS envelope, as an SQS body.
func snsBody(tb testing.TB, ev map[string]any, id int) []byte {
	tb.Helper()
	msg, err := json.Marshal(ev)
	if err != nil {
		tb.Fatal(err)
	}
	env := map[string]any{
		"Type": "Notification", "MessageId": fmt.Sprintf("bench-%08d", id),
		"TopicArn": "arn:aws:sns:us-east-1:123456789012:picket-findings", "Message": string(msg),
		"Timestamp": "2026-11-22T08:00:00.000Z", "SignatureVersion": "1", "Signature": "EXAMPLE",
	}
	b, err := json.Marshal(env)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// benchBodies returns n SQS bodies, each with a distinct finding: three in
// four SNS-wrapped GuardDuty events (about 3 KB), one in four Security Hub
// imports.
func benchBodies(tb testing.TB, n int) [][]byte {
	tb.Helper()
	load := func(name string) map[string]any {
		var ev map[string]any
		if err := json.Unmarshal([]byte(readTestdata(tb, name)), &ev); err != nil {
			tb.Fatal(err)
		}
		return ev
	}
	gd := load("eb_UnauthorizedAccess_IAMUser_TorIPCaller__c7n.json")
	sh := load("imported_fsbp_EC2.7__asr.json")
	bodies := make([][]byte, n)
	for i := range bodies {
		if i%4 == 3 {
			f := sh["detail"].(map[string]any)["findings"].([]any)[0].(map[string]any)
			f["Id"] = fmt.Sprintf("arn:aws:securityhub:us-east-1:111111111111:subscription/aws-foundational-security-best-practices/v/1.0.0/EC2.7/finding/%08d", i)
			f["Severity"] = map[string]any{"Label": "HIGH", "Normalized": 70}
			bodies[i] = snsBody(tb, sh, i)
			continue
		}
		d := gd["detail"].(map[string]any)
		id := fmt.Sprintf("%032x", i)
		d["id"] = id
		d["arn"] = "arn:aws:guardduty:us-east-1:883606788610:detector/883606788610/finding/" + id
		bodies[i] = snsBody(tb, gd, i)
	}
	return bodies
}

func benchPipeline(b *testing.B, st picket.IntakeStore) *triage.Pipeline {
	b.Helper()
	router, err := triage.NewRouter(nil, "#security-alerts", picket.SeverityLow)
	if err != nil {
		b.Fatal(err)
	}
	p, err := triage.NewPipeline(triage.Options{Store: st, Router: router})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkThroughput: SQS body -> decode -> dedup/route -> render ->
// encoded Slack request, every finding new, state in memory. Run with
// -cpu 1 for the per-core figure.
func BenchmarkThroughput(b *testing.B) {
	const distinct = 5000
	bodies := benchBodies(b, distinct)
	st := &memStore{recs: map[string]picket.FindingRecord{}}
	p := benchPipeline(b, st)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	findings := 0
	for i := 0; i < b.N; i++ {
		if i%distinct == 0 && i > 0 {
			b.StopTimer()
			st.recs = map[string]picket.FindingRecord{} // every finding stays new
			b.StartTimer()
		}
		fs, err := event.Decode(bodies[i%distinct])
		if err != nil {
			b.Fatal(err)
		}
		outs, err := p.HandleMessage(ctx, "", fs)
		if err != nil {
			b.Fatal(err)
		}
		for j, out := range outs {
			if out != picket.OutcomeQueued {
				b.Fatalf("outcome %q, want queued", out)
			}
			if err := st.render(fs[j].Key); err != nil {
				b.Fatal(err)
			}
			findings++
		}
	}
	b.ReportMetric(float64(findings)/b.Elapsed().Seconds(), "findings/s")
}

// BenchmarkThroughputDuplicates: the same path when every delivery is a
// repeat (SQS redelivery, re-import): decode and a store look-up, no render.
func BenchmarkThroughputDuplicates(b *testing.B) {
	const distinct = 1000
	bodies := benchBodies(b, distinct)
	st := &memStore{recs: map[string]picket.FindingRecord{}}
	p := benchPipeline(b, st)
	ctx := context.Background()
	for _, body := range bodies {
		fs, _ := event.Decode(body)
		p.HandleMessage(ctx, "", fs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fs, err := event.Decode(bodies[i%distinct])
		if err != nil {
			b.Fatal(err)
		}
		outs, err := p.HandleMessage(ctx, "", fs)
		if err != nil {
			b.Fatal(err)
		}
		for _, out := range outs {
			if out != picket.OutcomeDuplicate {
				b.Fatalf("outcome %q; want duplicate", out)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "findings/s")
}

// BenchmarkIntakeBolt is durable intake with the real bbolt store: decode,
// triage and one synced commit of the finding, its outbox entry and the
// queue message as done, from as many concurrent workers as `picket run`
// has by default (32, sharing group commits), and from 1 worker (one
// fsync per message: the per-finding path this replaced, which also
// synced the message mark separately). The disk bounds both.
func BenchmarkIntakeBolt(b *testing.B) {
	for _, workers := range []int{1, config.Default().Ingest.Workers} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			bodies := benchBodies(b, 4000)
			db, err := store.Open(filepath.Join(b.TempDir(), "picket.db"), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			p := benchPipeline(b, db)
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range workers {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						fs, err := event.Decode(bodies[i%len(bodies)])
						if err != nil {
							b.Error(err)
							return
						}
						if _, err := p.HandleMessage(ctx, "msg-"+strconv.Itoa(i), fs); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "findings/s")
		})
	}
}

// BenchmarkEndToEndLatency publishes findings to SNS at 100 a second for
// 5 seconds and measures, per finding, the time from Publish to the
// chat.postMessage request reaching the Slack test server (loopback,
// emulator, real consumer and store, per-channel pacing off because the
// test server has no rate limit). Run it with -benchtime 1x.
func BenchmarkEndToEndLatency(b *testing.B) {
	const rate, seconds = 100, 5
	emu := fauxqs.Start(b)
	ctx := context.Background()
	queueURL, _ := emu.CreateQueueWithDLQ(ctx, "picket-bench", 3, 30*time.Second)
	topic := emu.CreateTopicSubscribedTo(ctx, "picket-bench", queueURL, false)

	var mu sync.Mutex
	arrived := map[string]time.Time{}
	rec := newSlackRecorderFunc(b, func(text string) {
		mu.Lock()
		arrived[text] = time.Now()
		mu.Unlock()
	})
	cfg := benchConfig(b, emu, queueURL, rec)
	cfg.Ingest.Workers = 8
	// Every finding is timed by its own alert: grouping (which would fold
	// findings that wait together) is measured by BenchmarkStorm.
	cfg.Delivery.Grouping = false
	stop := startBotB(b, cfg)
	defer stop()

	var gd map[string]any
	json.Unmarshal([]byte(readTestdata(b, "eb_UnauthorizedAccess_IAMUser_TorIPCaller__c7n.json")), &gd)
	sent := map[string]time.Time{}
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	b.ResetTimer()
	for i := range rate * seconds {
		<-tick.C
		d := gd["detail"].(map[string]any)
		id := fmt.Sprintf("%032x", i+1)
		d["id"] = id
		d["arn"] = "arn:aws:guardduty:us-east-1:883606788610:detector/883606788610/finding/" + id
		title := fmt.Sprintf("bench finding %d", i)
		d["title"] = title
		msg, _ := json.Marshal(gd)
		sent[title] = time.Now()
		emu.Publish(ctx, topic, string(msg))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(arrived)
		mu.Unlock()
		if n >= len(sent) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	var lat []float64
	mu.Lock()
	for text, at := range arrived {
		for title, t0 := range sent {
			// The fallback text reads "[Medium] bench finding 12 - account ...".
			if strings.Contains(text, "] "+title+" -") {
				lat = append(lat, float64(at.Sub(t0).Microseconds())/1000)
			}
		}
	}
	mu.Unlock()
	if len(lat) != len(sent) {
		b.Fatalf("matched %d of %d findings to posts", len(lat), len(sent))
	}
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
	b.ReportMetric(lat[len(lat)-1], "max-ms")
}

// BenchmarkStartupAndIdleMemory builds the real binary, starts it against
// the emulator and the Slack test server, and measures the time from exec
// to /readyz answering 200, then the resident memory after 3 seconds idle.
// Run it with -benchtime 1x; it starts the binary five times.
func BenchmarkStartupAndIdleMemory(b *testing.B) {
	emu := fauxqs.Start(b)
	ctx := context.Background()
	queueURL, _ := emu.CreateQueueWithDLQ(ctx, "picket-startup", 3, 30*time.Second)
	rec := newSlackRecorderFunc(b, nil)
	bin := filepath.Join(b.TempDir(), "picket")
	build := exec.Command("go", "build", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	var startups []float64
	var rssMB float64
	b.ResetTimer()
	for run := range 5 {
		port := freePort(b)
		cmd := exec.Command(bin, "run")
		cmd.Env = append(os.Environ(),
			"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1",
			"AWS_EC2_METADATA_DISABLED=true", "AWS_ENDPOINT_URL="+emu.URL(),
			"PICKET_QUEUE_URL="+queueURL, "SLACK_BOT_TOKEN=xoxb-bench", "SLACK_APP_TOKEN=xapp-bench",
			"PICKET_SLACK_API_URL="+rec.srv.GetAPIURL(), "PICKET_DATA_DIR="+b.TempDir(),
			"PICKET_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port), "PICKET_LOG_LEVEL=warn", "PICKET_CONFIG=")
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
		for {
			resp, err := http.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Since(t0) > 20*time.Second {
				cmd.Process.Kill()
				b.Fatal("the binary did not become ready within 20s")
			}
			time.Sleep(2 * time.Millisecond)
		}
		startups = append(startups, float64(time.Since(t0).Microseconds())/1000)
		if run == 0 {
			time.Sleep(3 * time.Second)
			rssMB = residentMB(b, cmd.Process.Pid)
		}
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	b.StopTimer()
	slices.Sort(startups)
	b.ReportMetric(startups[len(startups)/2], "ready-ms-median")
	b.ReportMetric(startups[len(startups)-1], "ready-ms-max")
	b.ReportMetric(rssMB, "idle-rss-MB")
}

func residentMB(tb testing.TB, pid int) float64 { return procStatusMB(tb, pid, "VmRSS:") }

// procStatusMB reads a memory field ("VmRSS:", "VmHWM:") of a process's
// /proc status, in MB.
func procStatusMB(tb testing.TB, pid int, field string) float64 {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	tb.Fatalf("no %s in /proc status", field)
	return 0
}

func benchConfig(tb testing.TB, emu *fauxqs.Emulator, queueURL string, rec *slackRecorder) config.Config {
	tb.Helper()
	os.Setenv("AWS_ACCESS_KEY_ID", "test")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	cfg := config.Default()
	cfg.AWS.QueueURL, cfg.AWS.EndpointURL, cfg.AWS.Region = queueURL, emu.URL(), "us-east-1"
	cfg.Slack.BotToken, cfg.Slack.AppToken = "xoxb-bench", "xapp-bench"
	cfg.Slack.APIURL = rec.srv.GetAPIURL()
	cfg.Slack.MessageInterval = config.Dur(0)
	cfg.DataDir = tb.TempDir()
	cfg.HTTPAddr = "off"
	cfg.Enrich.Enabled = false
	cfg.Ingest.ReconcileInterval = config.Dur(0)
	cfg.Log.Level = "warn"
	return cfg
}

func startBotB(b *testing.B, cfg config.Config) (stop func()) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { done <- serve(ctx, cfg, log, io.Discard, func(string) { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		b.Fatalf("serve: %v", err)
	}
	return func() { cancel(); <-done }
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
