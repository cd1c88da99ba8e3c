package notifiers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/metrics"
	"github.com/picketsec/picket/notifiers"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// fakeClock is a clock whose Sleep records what it was asked for and moves
// the time on without waiting.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	advance bool // whether Sleep moves the clock
	sleeps  []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	if c.advance {
		c.now = c.now.Add(d)
	}
	return ctx.Err()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// request is one chat.postMessage or chat.update call the server saw.
type request struct {
	Method      string
	Channel     string
	TS          string
	ThreadTS    string
	Text        string
	Attachments []slack.Attachment
	RawAttach   string
}

// reply is what the recording server answers to one call.
type reply func(w http.ResponseWriter, req request)

func okReply(w http.ResponseWriter, req request) {
	w.Header().Set("Content-Type", "application/json")
	ts := req.TS
	if ts == "" {
		ts = "1700000000.000100"
	}
	channel := req.Channel
	if strings.HasPrefix(channel, "#") {
		channel = "C" + strings.ToUpper(channel[1:])
	}
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": channel, "ts": ts, "text": req.Text})
}

func rateLimitedReply(w http.ResponseWriter, _ request) {
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusTooManyRequests)
}

func serverErrorReply(w http.ResponseWriter, _ request) {
	http.Error(w, "<html>oops</html>", http.StatusInternalServerError)
}

func slackErrorReply(code string) reply {
	return func(w http.ResponseWriter, _ request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":false,"error":%q}`, code)
	}
}

// recorder is a slacktest server with recording handlers for
// chat.postMessage and chat.update that answer from a script (then ok).
type recorder struct {
	mu       sync.Mutex
	requests []request
	script   []reply
	server   *slacktest.Server
}

func newRecorder(t *testing.T, script ...reply) *recorder {
	t.Helper()
	r := &recorder{script: script}
	r.server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", r.handler("chat.postMessage"))
		c.Handle("/chat.update", r.handler("chat.update"))
	})
	r.server.Start()
	t.Cleanup(r.server.Stop)
	return r
}

func (r *recorder) handler(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, hr *http.Request) {
		if err := hr.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req := request{Method: method, Channel: hr.Form.Get("channel"), TS: hr.Form.Get("ts"),
			ThreadTS: hr.Form.Get("thread_ts"), Text: hr.Form.Get("text"), RawAttach: hr.Form.Get("attachments")}
		if req.RawAttach != "" {
			if err := json.Unmarshal([]byte(req.RawAttach), &req.Attachments); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		r.mu.Lock()
		r.requests = append(r.requests, req)
		next := reply(okReply)
		if len(r.script) > 0 {
			next, r.script = r.script[0], r.script[1:]
		}
		r.mu.Unlock()
		next(w, req)
	}
}

func (r *recorder) Requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

func (r *recorder) client() *slack.Client {
	return slack.New("xoxb-test", slack.OptionAPIURL(r.server.GetAPIURL()))
}

type senderSetup struct {
	sender  *notifiers.Slack
	clock   *fakeClock
	retries *metrics.Counter
}

func newSender(api notifiers.SlackAPI, opts notifiers.SlackOptions) senderSetup {
	clock := &fakeClock{now: t0, advance: true}
	retries := &metrics.Counter{}
	opts.Now, opts.Sleep, opts.Retries = clock.Now, clock.Sleep, retries
	return senderSetup{notifiers.NewSlack(api, opts), clock, retries}
}

func sampleAlert(channel string) picket.Alert {
	f := baseFinding("UnauthorizedAccess:IAMUser/TorIPCaller", "Tor <!channel> caller", userResource("alice"))
	return picket.Alert{Finding: f, Channel: channel, Enrichment: picket.Enrichment{AccountAlias: "Production"}}
}

func TestSlackPostSendsRenderedMessage(t *testing.T) {
	rec := newRecorder(t)
	s := newSender(rec.client(), notifiers.SlackOptions{})
	a := sampleAlert("#security")

	ref, err := s.sender.PostAlert(context.Background(), a)
	if err != nil {
		t.Fatalf("PostAlert: %v", err)
	}
	if want := (picket.MessageRef{Channel: "CSECURITY", TS: "1700000000.000100"}); ref != want {
		t.Errorf("got ref %+v, want %+v", ref, want)
	}
	reqs := rec.Requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	got, want := reqs[0], notifiers.Render(a)
	if got.Method != "chat.postMessage" || got.Channel != "#security" {
		t.Errorf("got %s to %q, want chat.postMessage to #security", got.Method, got.Channel)
	}
	if got.Text != want.Text {
		t.Errorf("got text %q, want %q", got.Text, want.Text)
	}
	if len(got.Attachments) != 1 {
		t.Fatalf("got %d attachments, want 1", len(got.Attachments))
	}
	att := got.Attachments[0]
	if att.Color != want.Color {
		t.Errorf("got colour %q, want %q", att.Color, want.Color)
	}
	if n := len(att.Blocks.BlockSet); n != len(want.Blocks) {
		t.Errorf("got %d blocks, want %d", n, len(want.Blocks))
	}
	wantBlocks, err := json.Marshal(want.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.RawAttach, string(wantBlocks)) {
		t.Errorf("got attachments %s, want them to hold the rendered blocks %s", got.RawAttach, wantBlocks)
	}
	for _, id := range []string{notifiers.ActionDisableUser, notifiers.ActionSuppress, notifiers.ActionEscalate} {
		if !strings.Contains(got.RawAttach, id) {
			t.Errorf("got no button %s in the request", id)
		}
	}
	if strings.Contains(got.Text+got.RawAttach, "<!channel>") {
		t.Errorf("got an unescaped <!channel> in the request")
	}
	if n := s.retries.Value(); n != 0 {
		t.Errorf("got %d retries, want 0", n)
	}
}

func TestSlackUpdate(t *testing.T) {
	rec := newRecorder(t)
	s := newSender(rec.client(), notifiers.SlackOptions{})
	a := sampleAlert("C0SEC")
	a.Finding.RecordState = picket.RecordArchived
	ref := picket.MessageRef{Channel: "C0SEC", TS: "1700000000.000200"}

	if err := s.sender.UpdateAlert(context.Background(), ref, a); err != nil {
		t.Fatalf("UpdateAlert: %v", err)
	}
	reqs := rec.Requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if got.Method != "chat.update" || got.Channel != ref.Channel || got.TS != ref.TS {
		t.Errorf("got %s %s/%s, want chat.update %s/%s", got.Method, got.Channel, got.TS, ref.Channel, ref.TS)
	}
	if want := notifiers.Render(a).Text; got.Text != want {
		t.Errorf("got text %q, want %q", got.Text, want)
	}
	if len(got.Attachments) != 1 || got.Attachments[0].Color != notifiers.ColorClosed {
		t.Errorf("got attachments %s, want one with the closed colour", got.RawAttach)
	}
	if strings.Contains(got.RawAttach, notifiers.ActionSuppress) {
		t.Errorf("got a Suppress button on a closed alert")
	}

	err := s.sender.UpdateAlert(context.Background(), picket.MessageRef{}, a)
	if got := picket.ErrorCode(err); got != picket.EINVALID {
		t.Errorf("update of a zero ref: got code %q (%v), want %q", got, err, picket.EINVALID)
	}
}

func TestSlackRetries(t *testing.T) {
	tests := []struct {
		name        string
		script      []reply
		maxAttempts int
		wantCalls   int
		wantSleeps  []time.Duration
		wantRetries int64
		wantCode    string // "" for success
	}{
		{"rate limited then ok", []reply{rateLimitedReply}, 0, 2, []time.Duration{time.Second}, 1, ""},
		{"server error then ok", []reply{serverErrorReply}, 0, 2, []time.Duration{time.Second}, 1, ""},
		{"backoff doubles", []reply{serverErrorReply, serverErrorReply, serverErrorReply}, 0, 4,
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, 3, ""},
		{"gives up after max attempts", []reply{serverErrorReply, rateLimitedReply, serverErrorReply, serverErrorReply}, 3, 3,
			[]time.Duration{time.Second, time.Second}, 2, picket.EUNAVAILABLE},
		{"channel not found is not retried", []reply{slackErrorReply("channel_not_found")}, 0, 1, nil, 0, picket.ENOTFOUND},
		{"not in channel is not retried", []reply{slackErrorReply("not_in_channel")}, 0, 1, nil, 0, picket.EUNAUTHORIZED},
		{"invalid auth is not retried", []reply{slackErrorReply("invalid_auth")}, 0, 1, nil, 0, picket.EUNAUTHORIZED},
		{"other slack error is not retried", []reply{slackErrorReply("msg_too_long")}, 0, 1, nil, 0, picket.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, tt.script...)
			s := newSender(rec.client(), notifiers.SlackOptions{MaxAttempts: tt.maxAttempts})
			_, err := s.sender.PostAlert(context.Background(), sampleAlert("C0SEC"))
			if got := picket.ErrorCode(err); got != tt.wantCode {
				t.Errorf("got error code %q (%v), want %q", got, err, tt.wantCode)
			}
			if got := len(rec.Requests()); got != tt.wantCalls {
				t.Errorf("got %d calls, want %d", got, tt.wantCalls)
			}
			if got := s.clock.Sleeps(); !slices.Equal(got, tt.wantSleeps) {
				t.Errorf("got sleeps %v, want %v", got, tt.wantSleeps)
			}
			if got := s.retries.Value(); got != tt.wantRetries {
				t.Errorf("got %d retries counted, want %d", got, tt.wantRetries)
			}
		})
	}
}

func TestSlackPermanentErrorMessage(t *testing.T) {
	rec := newRecorder(t, slackErrorReply("channel_not_found"))
	s := newSender(rec.client(), notifiers.SlackOptions{})
	_, err := s.sender.PostAlert(context.Background(), sampleAlert("#nowhere"))
	if err == nil {
		t.Fatal("got no error, want channel_not_found")
	}
	if got := picket.ErrorMessage(err); !strings.Contains(got, "#nowhere") {
		t.Errorf("got message %q, want it to name the channel", got)
	}
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "channel_not_found" {
		t.Errorf("got %v, want the Slack error kept in the chain", err)
	}
}

func TestSlackNetworkErrorRetried(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/"
	dead.Close() // connections are now refused
	api := slack.New("xoxb-test", slack.OptionAPIURL(deadURL))
	s := newSender(api, notifiers.SlackOptions{MaxAttempts: 3})

	_, err := s.sender.PostAlert(context.Background(), sampleAlert("C0SEC"))
	if got := picket.ErrorCode(err); got != picket.EUNAVAILABLE {
		t.Errorf("got code %q (%v), want %q", got, err, picket.EUNAVAILABLE)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Errorf("got %v, want the network error kept in the chain", err)
	}
	if got, want := s.clock.Sleeps(), []time.Duration{time.Second, 2 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("got sleeps %v, want %v", got, want)
	}
	if got := s.retries.Value(); got != 2 {
		t.Errorf("got %d retries, want 2", got)
	}
}

func TestSlackPacing(t *testing.T) {
	tests := []struct {
		name     string
		channels []string
		want     []time.Duration
	}{
		{"same channel waits an interval", []string{"C1", "C1"}, []time.Duration{time.Second}},
		{"queue builds up", []string{"C1", "C1", "C1"}, []time.Duration{time.Second, 2 * time.Second}},
		{"different channels do not wait", []string{"C1", "C2", "C3"}, nil},
		{"only the busy channel waits", []string{"C1", "C2", "C1"}, []time.Duration{time.Second}},
		{"name and returned id share a pace", []string{"#sec", "CSEC"}, []time.Duration{time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t)
			s := newSender(rec.client(), notifiers.SlackOptions{})
			s.clock.advance = false // time stands still: every post is at once
			for _, ch := range tt.channels {
				if _, err := s.sender.PostAlert(context.Background(), sampleAlert(ch)); err != nil {
					t.Fatalf("PostAlert(%s): %v", ch, err)
				}
			}
			if got := s.clock.Sleeps(); !slices.Equal(got, tt.want) {
				t.Errorf("got sleeps %v, want %v", got, tt.want)
			}
			if got := len(rec.Requests()); got != len(tt.channels) {
				t.Errorf("got %d requests, want %d", got, len(tt.channels))
			}
		})
	}
}

func TestSlackPacingAfterInterval(t *testing.T) {
	rec := newRecorder(t)
	s := newSender(rec.client(), notifiers.SlackOptions{PerChannelInterval: 2 * time.Second})
	s.clock.advance = false
	ctx := context.Background()
	if _, err := s.sender.PostAlert(ctx, sampleAlert("C1")); err != nil {
		t.Fatal(err)
	}
	s.clock.mu.Lock()
	s.clock.now = s.clock.now.Add(1500 * time.Millisecond)
	s.clock.mu.Unlock()
	if _, err := s.sender.PostAlert(ctx, sampleAlert("C1")); err != nil {
		t.Fatal(err)
	}
	if got, want := s.clock.Sleeps(), []time.Duration{500 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("got sleeps %v, want %v", got, want)
	}
}

func TestSlackPacingConcurrent(t *testing.T) {
	rec := newRecorder(t)
	s := newSender(rec.client(), notifiers.SlackOptions{})
	s.clock.advance = false
	const perChannel = 5
	channels := []string{"C1", "C2", "C3"}
	var wg sync.WaitGroup
	for _, ch := range channels {
		for range perChannel {
			wg.Go(func() {
				if _, err := s.sender.PostAlert(context.Background(), sampleAlert(ch)); err != nil {
					t.Errorf("PostAlert(%s): %v", ch, err)
				}
			})
		}
	}
	wg.Wait()
	// Each channel hands out turns 0s, 1s, ... 4s from now, whatever the
	// order the goroutines ran in.
	got := s.clock.Sleeps()
	slices.Sort(got)
	var want []time.Duration
	for i := 1; i < perChannel; i++ {
		for range channels {
			want = append(want, time.Duration(i)*time.Second)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("got sleeps %v, want %v", got, want)
	}
	if n := len(rec.Requests()); n != perChannel*len(channels) {
		t.Errorf("got %d requests, want %d: a caller must wait, not be dropped", n, perChannel*len(channels))
	}
}

func TestSlackContextCancelledWhileWaiting(t *testing.T) {
	rec := newRecorder(t)
	s := newSender(rec.client(), notifiers.SlackOptions{})
	s.clock.advance = false
	if _, err := s.sender.PostAlert(context.Background(), sampleAlert("C1")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.sender.PostAlert(ctx, sampleAlert("C1"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if got := len(rec.Requests()); got != 1 {
		t.Errorf("got %d requests, want 1: a cancelled caller must not post", got)
	}
}

func TestSlackPostNeedsChannel(t *testing.T) {
	rec := newRecorder(t)
	s := newSender(rec.client(), notifiers.SlackOptions{})
	_, err := s.sender.PostAlert(context.Background(), sampleAlert(""))
	if got := picket.ErrorCode(err); got != picket.EINVALID {
		t.Errorf("got code %q (%v), want %q", got, err, picket.EINVALID)
	}
	if got := len(rec.Requests()); got != 0 {
		t.Errorf("got %d requests, want 0", got)
	}
}

func TestDialSlack(t *testing.T) {
	rec := newRecorder(t)
	s := notifiers.DialSlack("xoxb-test", rec.server.GetAPIURL(), notifiers.SlackOptions{})
	ref, err := s.PostAlert(context.Background(), sampleAlert("C0SEC"))
	if err != nil {
		t.Fatalf("PostAlert: %v", err)
	}
	if ref.Channel != "C0SEC" || ref.TS == "" {
		t.Errorf("got ref %+v, want channel C0SEC and a ts", ref)
	}
}

// Compile-time checks that the senders implement the domain interface and
// that the real client satisfies the narrow one.
var (
	_ picket.AlertSender = (*notifiers.Slack)(nil)
	_ picket.AlertSender = (*notifiers.Terminal)(nil)
	_ notifiers.SlackAPI = (*slack.Client)(nil)
)
