package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/slack-go/slack/slacktest"

	"github.com/picketsec/picket/internal/fauxqs"
)

// The storm tests run the real binary as a user would (environment and a
// configuration file), against the SNS/SQS emulator and a Slack test server
// that answers 429 to every 7th chat.postMessage, and check what the issue
// asks of a storm: the one alert that matters is posted at once in its own
// channel, the queue drains, the storm channel gets a few dozen posts, every
// affected resource appears in Slack exactly once, and nothing reaches the
// dead-letter queue, through a SIGKILL and through a Slack outage.

const (
	stormChannel    = "#security-alerts"
	incidentChannel = "#incidents"
	stormSize       = 1000
)

// stormMessage is one chat.postMessage or chat.update the server accepted.
type stormMessage struct {
	Method  string
	Channel string // as Slack answers: an id ("C" + name)
	TS      string
	Thread  string
	PostID  string // metadata event_payload.id
	Content string // text, attachments and blocks as sent
	At      time.Time
	Token   string // the bot token it came with: which process sent it
}

// stormSlack is a Slack Web API test server that rate-limits every 7th
// chat.postMessage (HTTP 429, Retry-After: 1), can answer 503 to every call
// for a while, records what it accepted, and serves conversations.history
// and conversations.replies from that record with metadata, as Slack does.
type stormSlack struct {
	srv *slacktest.Server

	mu        sync.Mutex
	msgs      []stormMessage
	attempts  map[string]int // chat.postMessage calls per channel, refused ones included
	posts     int
	n         int
	downUntil time.Time
	// hold, when set, picks a post that is accepted and recorded but
	// answered only once release is closed; held is closed when it
	// arrives.
	hold    func(postID string) bool
	held    chan struct{}
	release chan struct{}
	// views are the views.open and views.update requests (JSON bodies),
	// ephemerals the chat.postEphemeral forms, in arrival order.
	views      []map[string]any
	ephemerals []url.Values
}

func newStormSlack(t testing.TB) *stormSlack {
	t.Helper()
	s := &stormSlack{attempts: map[string]int{}}
	s.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", s.handle("chat.postMessage"))
		c.Handle("/chat.update", s.handle("chat.update"))
		c.Handle("/conversations.history", s.history(false))
		c.Handle("/conversations.replies", s.history(true))
		c.Handle("/views.open", s.view)
		c.Handle("/views.update", s.view)
		c.Handle("/chat.postEphemeral", s.ephemeral)
	})
	s.srv.Start()
	t.Cleanup(s.srv.Stop)
	return s
}

// channelID is what the server calls a channel: "#name" becomes "Cname".
func channelID(ch string) string {
	if name, ok := strings.CutPrefix(ch, "#"); ok {
		return "C" + name
	}
	return ch
}

func (s *stormSlack) down() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Before(s.downUntil)
}

func (s *stormSlack) handle(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		ch := channelID(form.Get("channel"))
		w.Header().Set("Content-Type", "application/json")
		if s.down() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"ok":false,"error":"service_unavailable"}`)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if method == "chat.postMessage" {
			s.attempts[ch]++
			s.posts++
			if s.posts%7 == 0 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, `{"ok":false,"error":"ratelimited"}`)
				return
			}
		}
		m := stormMessage{Method: method, Channel: ch, TS: form.Get("ts"), Thread: form.Get("thread_ts"),
			Content: form.Get("text") + form.Get("attachments") + form.Get("blocks"), At: time.Now(),
			Token: cmp.Or(form.Get("token"), strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))}
		if method == "chat.postMessage" {
			s.n++
			m.TS = fmt.Sprintf("1700000000.%06d", s.n)
			var meta struct {
				EventPayload struct {
					ID string `json:"id"`
				} `json:"event_payload"`
			}
			if json.Unmarshal([]byte(form.Get("metadata")), &meta) == nil {
				m.PostID = meta.EventPayload.ID
			}
		}
		s.msgs = append(s.msgs, m)
		if s.hold != nil && m.PostID != "" && s.hold(m.PostID) {
			s.hold = nil
			close(s.held)
			s.mu.Unlock()
			<-s.release
			s.mu.Lock()
		}
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": ch, "ts": m.TS})
	}
}

// view records a views.open or views.update request and answers as Slack
// does, with the view.
func (s *stormSlack) view(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	body, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(body, &m)
	s.mu.Lock()
	s.views = append(s.views, m)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok":true,"view":{"id":"V0PLAN","hash":"1.a","type":"modal"}}`)
}

// ephemeral records a chat.postEphemeral request.
func (s *stormSlack) ephemeral(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	s.mu.Lock()
	s.ephemerals = append(s.ephemerals, r.PostForm)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok":true,"message_ts":"1700000009.000001"}`)
}

// history answers conversations.history (top-level messages of a channel)
// or conversations.replies (a thread), with each message's metadata.
func (s *stormSlack) history(replies bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if s.down() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if strings.HasPrefix(r.Form.Get("channel"), "#") {
			// As Slack: history wants the channel's id, not its name.
			json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "channel_not_found"})
			return
		}
		ch, thread := channelID(r.Form.Get("channel")), r.Form.Get("ts")
		s.mu.Lock()
		var out []map[string]any
		for _, m := range s.msgs {
			if m.Method != "chat.postMessage" || m.Channel != ch || (replies && m.Thread != thread) || (!replies && m.Thread != "") {
				continue
			}
			msg := map[string]any{"type": "message", "ts": m.TS, "text": "…"}
			if m.PostID != "" {
				msg["metadata"] = map[string]any{"event_type": "picket_post", "event_payload": map[string]any{"id": m.PostID}}
			}
			out = append(out, msg)
		}
		s.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "messages": out, "has_more": false})
	}
}

func (s *stormSlack) snapshot() []stormMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stormMessage(nil), s.msgs...)
}

func (s *stormSlack) postAttempts(ch string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[channelID(ch)]
}

// stormEvents returns SNS messages: n Low Recon:EC2/PortProbeUnprotectedPort
// GuardDuty findings, one per instance (ids i-storm00000...), and one High
// Backdoor finding, from the corpus's GuardDuty EC2 event.
func stormEvents(t testing.TB, n int) (storm []string, high string, instances []string) {
	t.Helper()
	base := readTestdata(t, "eb_Backdoor_EC2_CnCActivity.B_DNS__c7n.json")
	make1 := func(i int, typ, title string, sev float64) (string, string) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(base), &ev); err != nil {
			t.Fatal(err)
		}
		d := ev["detail"].(map[string]any)
		id := fmt.Sprintf("%032x", 0x5707+i)
		inst := fmt.Sprintf("i-storm%08d", i)
		d["id"] = id
		d["arn"] = "arn:aws:guardduty:us-east-1:101010101111:detector/abc/finding/" + id
		d["type"], d["title"], d["severity"] = typ, title+" "+inst, sev
		d["resource"].(map[string]any)["instanceDetails"].(map[string]any)["instanceId"] = inst
		b, _ := json.Marshal(ev)
		return string(b), inst
	}
	for i := range n {
		ev, inst := make1(i, "Recon:EC2/PortProbeUnprotectedPort", "Unprotected port on EC2 instance is being probed:", 2)
		storm, instances = append(storm, ev), append(instances, inst)
	}
	high, _ = make1(n+1, "Backdoor:EC2/C&CActivity.B!DNS", "Command and Control server domain name queried by EC2 instance", 8)
	return storm, high, instances
}

// publishAll publishes messages to the topic in batches of ten from a few
// goroutines, as a storm arrives.
func publishAll(t testing.TB, emu *fauxqs.Emulator, topic string, msgs []string) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	batches := make(chan []string)
	for range 4 {
		wg.Go(func() {
			for batch := range batches {
				entries := make([]snstypes.PublishBatchRequestEntry, len(batch))
				for i, m := range batch {
					entries[i] = snstypes.PublishBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), Message: aws.String(m)}
				}
				out, err := emu.SNS().PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: aws.String(topic), PublishBatchRequestEntries: entries})
				if err != nil || len(out.Failed) > 0 {
					t.Errorf("publish batch: %v (failed %d)", err, len(out.Failed))
				}
			}
		})
	}
	for i := 0; i < len(msgs); i += 10 {
		batches <- msgs[i:min(i+10, len(msgs))]
	}
	close(batches)
	wg.Wait()
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// picketBinary builds the binary once per test run.
func picketBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "picket-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "picket")
		cmd := exec.Command("go", "build", "-o", builtBin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// stormRig is one storm scenario: emulator, queue and topic, Slack server,
// data directory and configuration file for the binary.
type stormRig struct {
	t        testing.TB
	emu      *fauxqs.Emulator
	queueURL string
	dlqURL   string
	topic    string
	slack    *stormSlack
	dataDir  string
	config   string
	logs     *lockedLog
}

type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newStormRig(t testing.TB, name string) *stormRig {
	t.Helper()
	r := &stormRig{t: t, emu: fauxqs.Start(t), slack: newStormSlack(t), dataDir: t.TempDir(), logs: &lockedLog{}}
	ctx := context.Background()
	// maxReceiveCount 3, as a deployment's queue has it: a finding that
	// waited in SQS for Slack would be dead-lettered within seconds.
	r.queueURL, r.dlqURL = r.emu.CreateQueueWithDLQ(ctx, name, 3, 5*time.Second)
	r.topic = r.emu.CreateTopicSubscribedTo(ctx, name, r.queueURL, false)
	r.config = filepath.Join(t.TempDir(), "picket.yaml")
	cfg := `slack:
  default_channel: "` + stormChannel + `"
  default_min_severity: low
routes:
  - name: backdoor
    types: ["Backdoor:*"]
    min_severity: high
    channel: "` + incidentChannel + `"
ingest:
  wait_time: 1s
  visibility_timeout: 5s
  reconcile_interval: 0s
enrich:
  enabled: false
`
	if err := os.WriteFile(r.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("picket logs:\n%s", tail(r.logs.String(), 60))
		}
	})
	return r
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// start runs the binary; the returned process is killed at the end of
// the test if still running.
func (r *stormRig) start() *exec.Cmd {
	r.t.Helper()
	cmd := exec.Command(picketBinary(r.t), "run", "--config", r.config)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_ENDPOINT_URL="+r.emu.URL(),
		"PICKET_QUEUE_URL="+r.queueURL, "SLACK_BOT_TOKEN=xoxb-storm", "SLACK_APP_TOKEN=xapp-storm",
		"PICKET_SLACK_API_URL="+r.slack.srv.GetAPIURL(), "PICKET_DATA_DIR="+r.dataDir,
		"PICKET_HTTP_ADDR=off", "PICKET_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = io.Discard, r.logs
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// drained reports whether the queue holds nothing, visible or in flight.
func (r *stormRig) drained() bool {
	v, f := r.emu.Count(context.Background(), r.queueURL)
	return v == 0 && f == 0
}

func (r *stormRig) dlq() int {
	v, f := r.emu.Count(context.Background(), r.dlqURL)
	return v + f
}

var instanceRE = regexp.MustCompile(`i-storm[0-9]{8}`)

// shown counts, per instance id, the posts that show its finding: its own
// alert or a thread reply listing it (the group message's sample and
// updates do not count: they summarise). It also returns the posts per
// post id, to catch one piece of work posted twice.
func (r *stormRig) shown() (perInstance map[string]int, perPost map[string]int) {
	perInstance, perPost = map[string]int{}, map[string]int{}
	for _, m := range r.slack.snapshot() {
		if m.Method != "chat.postMessage" {
			continue
		}
		perPost[m.PostID]++
		if !strings.HasPrefix(m.PostID, "a:") && !strings.HasPrefix(m.PostID, "l:") {
			continue
		}
		seen := map[string]bool{}
		for _, id := range instanceRE.FindAllString(m.Content, -1) {
			if !seen[id] {
				seen[id] = true
				perInstance[id]++
			}
		}
	}
	return perInstance, perPost
}

// checkStorm asserts what must hold once the storm is delivered: every
// instance shown exactly once, no post id posted twice, the High alert
// posted once in its own channel, nothing dead-lettered.
func (r *stormRig) checkStorm(instances []string) {
	t := r.t
	t.Helper()
	waitForTB(t, "every instance shown in Slack", 150*time.Second, func() bool {
		per, _ := r.shown()
		return len(per) >= len(instances)
	})
	per, posts := r.shown()
	for _, id := range instances {
		if per[id] != 1 {
			t.Errorf("instance %s shown in %d posts, want exactly 1", id, per[id])
		}
	}
	for id, n := range posts {
		if id == "" {
			t.Errorf("%d posts carry no post id in their metadata", n)
		} else if n > 1 {
			t.Errorf("post %s made %d times, want once", id, n)
		}
	}
	highs := 0
	for _, m := range r.slack.snapshot() {
		if m.Method == "chat.postMessage" && m.Channel == channelID(incidentChannel) {
			highs++
			if !strings.Contains(m.Content, "Command and Control") {
				t.Errorf("post to %s is not the Backdoor alert: %.200s", incidentChannel, m.Content)
			}
		}
	}
	if highs != 1 {
		t.Errorf("posts to %s = %d, want the High alert once", incidentChannel, highs)
	}
	if got := r.slack.postAttempts(stormChannel); got > 60 {
		t.Errorf("chat.postMessage calls to the storm channel = %d, want at most 60", got)
	}
	if n := r.dlq(); n != 0 {
		t.Errorf("dead-letter queue holds %d messages, want none", n)
	}
}

func stormPreflight(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("storm tests take about a minute each")
	}
}

// TestStormHighAlertFirstAndEveryResourceShown is the scenario:
// 1,000 Low findings to one channel, then a High one routed to another
// during the burst.
func TestStormHighAlertFirstAndEveryResourceShown(t *testing.T) {
	stormPreflight(t)
	t.Parallel()
	r := newStormRig(t, "picket-storm")
	storm, high, instances := stormEvents(t, stormSize)
	r.start()
	start := time.Now()
	publishAll(t, r.emu, r.topic, storm[:stormSize/2])
	highAt := time.Now()
	publishAll(t, r.emu, r.topic, []string{high})
	publishAll(t, r.emu, r.topic, storm[stormSize/2:])

	waitFor(t, "the High alert", 30*time.Second, func() bool {
		for _, m := range r.slack.snapshot() {
			if m.Channel == channelID(incidentChannel) {
				return true
			}
		}
		return false
	})
	var highPosted time.Time
	for _, m := range r.slack.snapshot() {
		if m.Channel == channelID(incidentChannel) {
			highPosted = m.At
			break
		}
	}
	if d := highPosted.Sub(highAt); d > 5*time.Second {
		t.Errorf("High alert posted %s after its publish, want within 5s", d.Round(time.Millisecond))
	}
	waitFor(t, "the queue drained", 60*time.Second-time.Since(start), r.drained)
	t.Logf("High alert after %s; queue drained after %s", highPosted.Sub(highAt).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	r.checkStorm(instances)
	t.Logf("storm channel: %d chat.postMessage calls", r.slack.postAttempts(stormChannel))
	if os.Getenv("STORM_DEBUG") != "" {
		for _, m := range r.slack.snapshot() {
			t.Logf("%6.1fs %s %s %s", m.At.Sub(start).Seconds(), m.Method, m.Channel, m.PostID)
		}
	}
}

// TestStormSurvivesSIGKILL kills the binary in the middle of the storm and
// starts it again on the same data: nothing lost, nothing posted twice. It
// kills at the worst moment: Slack has accepted a thread reply listing
// members but Picket has not had the answer, so only the in-flight record
// and the message's metadata can tell the restart not to post it again.
func TestStormSurvivesSIGKILL(t *testing.T) {
	stormPreflight(t)
	t.Parallel()
	r := newStormRig(t, "picket-storm-kill")
	r.slack.held, r.slack.release = make(chan struct{}), make(chan struct{})
	r.slack.hold = func(id string) bool {
		from, ok := strings.CutPrefix(id, "l:")
		return ok && strings.HasSuffix(from, ":80")
	}
	storm, high, instances := stormEvents(t, stormSize)
	cmd := r.start()
	publishAll(t, r.emu, r.topic, storm[:stormSize/2])
	publishAll(t, r.emu, r.topic, []string{high})
	publishAll(t, r.emu, r.topic, storm[stormSize/2:])
	select {
	case <-r.slack.held:
	case <-time.After(60 * time.Second):
		t.Fatal("the third thread reply never reached Slack")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	close(r.slack.release)
	per, _ := r.shown()
	t.Logf("killed with %d of %d instances shown", len(per), len(instances))
	r.start()
	waitFor(t, "the queue drained", 60*time.Second, r.drained)
	r.checkStorm(instances)
}

// TestStormWaitsOutSlackOutage has Slack answer 503 to every call for the
// first 60 seconds: findings wait in the outbox (the queue drains, nothing
// is dead-lettered) and are all posted once Slack is back.
func TestStormWaitsOutSlackOutage(t *testing.T) {
	stormPreflight(t)
	t.Parallel()
	r := newStormRig(t, "picket-storm-outage")
	r.slack.mu.Lock()
	r.slack.downUntil = time.Now().Add(60 * time.Second)
	r.slack.mu.Unlock()
	storm, high, instances := stormEvents(t, stormSize)
	r.start()
	publishAll(t, r.emu, r.topic, storm)
	publishAll(t, r.emu, r.topic, []string{high})
	waitFor(t, "the queue drained while Slack is down", 50*time.Second, r.drained)
	if !r.slack.down() {
		t.Fatal("Slack recovered before the queue drained: the test proves nothing")
	}
	if got := len(r.slack.snapshot()); got != 0 {
		t.Fatalf("Slack accepted %d calls while down", got)
	}
	r.checkStorm(instances)
}

// waitForTB polls cond until it holds or the deadline passes.
func waitForTB(tb testing.TB, what string, d time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkStorm runs the storm scenario with the real binary at Slack's
// real pace (one message a second per channel, 429 on every 7th post) for
// 1,000 and 10,000 findings and reports: seconds from the High finding's
// publish to its alert, from the first publish to the queue drained and to
// every resource shown in Slack, chat.postMessage calls to the storm
// channel, and the binary's peak RSS. Run it with -benchtime 1x.
func BenchmarkStorm(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for range b.N {
				r := newStormRig(b, fmt.Sprintf("picket-bench-storm-%d", n))
				storm, high, instances := stormEvents(b, n)
				cmd := r.start()
				start := time.Now()
				publishAll(b, r.emu, r.topic, storm[:n/2])
				highAt := time.Now()
				publishAll(b, r.emu, r.topic, []string{high})
				publishAll(b, r.emu, r.topic, storm[n/2:])
				var highPosted, drained time.Time
				waitForTB(b, "the storm shown", 30*time.Minute, func() bool {
					if highPosted.IsZero() {
						for _, m := range r.slack.snapshot() {
							if m.Channel == channelID(incidentChannel) {
								highPosted = m.At
							}
						}
					}
					if drained.IsZero() && r.drained() {
						drained = time.Now()
					}
					per, _ := r.shown()
					return len(per) >= len(instances) && !drained.IsZero() && !highPosted.IsZero()
				})
				shownAt := time.Now()
				rss := procStatusMB(b, cmd.Process.Pid, "VmHWM:")
				twice := 0
				per, _ := r.shown()
				for _, c := range per {
					if c > 1 {
						twice++
					}
				}
				b.ReportMetric(highPosted.Sub(highAt).Seconds(), "high-alert-s")
				b.ReportMetric(drained.Sub(start).Seconds(), "queue-drained-s")
				b.ReportMetric(shownAt.Sub(start).Seconds(), "all-shown-s")
				b.ReportMetric(float64(r.slack.postAttempts(stormChannel)), "storm-posts")
				b.ReportMetric(float64(twice), "shown-twice")
				b.ReportMetric(rss, "peak-rss-MB")
			}
		})
	}
}

// TestMain removes the binary the storm tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}
