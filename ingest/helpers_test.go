package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/ingest"
	"github.com/picketsec/picket/internal/fauxqs"
	"github.com/picketsec/picket/metrics"
)

// sampleEvent is a real EventBridge "GuardDuty Finding" event; tests derive
// distinct findings from it.
const sampleEvent = "eb_UnauthorizedAccess_IAMUser_TorIPCaller__c7n.json"

// guardDutyEvent returns the sample event with its event and finding ids
// replaced by ones derived from name, so every name is a distinct finding.
func guardDutyEvent(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", sampleEvent))
	if err != nil {
		t.Fatalf("read sample: %v", err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("parse sample: %v", err)
	}
	detail, ok := ev["detail"].(map[string]any)
	if !ok {
		t.Fatalf("sample has no detail object")
	}
	ev["id"] = "event-" + name
	detail["id"] = name
	detail["arn"] = "arn:aws:guardduty:us-east-1:883606788610:detector/883606788610/finding/" + name
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("encode event: %v", err)
	}
	return string(out)
}

// decode is the tests' stand-in for event.Decode: it unwraps an SNS
// envelope when there is one and reads a GuardDuty Finding event.
func decode(body []byte) ([]picket.Finding, error) {
	var env struct {
		Type    string
		Message string
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, &picket.Error{Code: picket.EINVALID, Message: "message body is not JSON", Err: err}
	}
	if env.Type == "Notification" {
		body = []byte(env.Message)
	}
	var ev struct {
		ID         string `json:"id"`
		DetailType string `json:"detail-type"`
		Account    string `json:"account"`
		Region     string `json:"region"`
		Detail     struct {
			ID       string  `json:"id"`
			ARN      string  `json:"arn"`
			Type     string  `json:"type"`
			Title    string  `json:"title"`
			Severity float64 `json:"severity"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, &picket.Error{Code: picket.EINVALID, Message: "event is not JSON", Err: err}
	}
	if ev.DetailType != "GuardDuty Finding" || ev.Detail.ID == "" {
		return nil, picket.Errorf(picket.ENOTFINDING, "event %q of type %q carries no GuardDuty finding", ev.ID, ev.DetailType)
	}
	return []picket.Finding{{
		Key:      picket.FindingKey(ev.Detail.ARN),
		ID:       ev.Detail.ID,
		Source:   picket.SourceGuardDuty,
		Type:     ev.Detail.Type,
		Title:    ev.Detail.Title,
		Severity: picket.SeverityFromGuardDuty(ev.Detail.Severity),
		Account:  ev.Account,
		Region:   ev.Region,
		Count:    1,
		EventID:  ev.ID,
	}}, nil
}

// eventLog records, in order, what the store and SQS were asked to do, so
// tests can check that a message is marked done before it is deleted.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

func (l *eventLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

func (l *eventLog) count(event string) int {
	n := 0
	for _, e := range l.all() {
		if e == event {
			n++
		}
	}
	return n
}

// checkMarkedBeforeDeleted fails t if any message was deleted before the
// store marked it done.
func checkMarkedBeforeDeleted(t *testing.T, l *eventLog) {
	t.Helper()
	marked := map[string]bool{}
	for _, e := range l.all() {
		if id, ok := strings.CutPrefix(e, "mark "); ok {
			marked[id] = true
		}
		if id, ok := strings.CutPrefix(e, "delete "); ok && !marked[id] {
			t.Errorf("message %s deleted before it was marked done; events: %v", id, l.all())
		}
	}
}

// recordingSQS forwards to the emulator's client and logs receives, deletes
// and visibility changes by message id.
type recordingSQS struct {
	api ingest.SQSAPI
	log *eventLog

	mu       sync.Mutex
	receipts map[string]string // receipt handle -> message id
}

func (r *recordingSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	out, err := r.api.ReceiveMessage(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range out.Messages {
		r.receipts[aws.ToString(m.ReceiptHandle)] = aws.ToString(m.MessageId)
		r.log.add("receive %s", aws.ToString(m.MessageId))
	}
	return out, nil
}

func (r *recordingSQS) id(receipt *string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.receipts[aws.ToString(receipt)]
}

func (r *recordingSQS) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	out, err := r.api.DeleteMessage(ctx, in, opts...)
	if err == nil {
		r.log.add("delete %s", r.id(in.ReceiptHandle))
	}
	return out, err
}

func (r *recordingSQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	out, err := r.api.ChangeMessageVisibility(ctx, in, opts...)
	if err == nil {
		r.log.add("visibility %s %d", r.id(in.ReceiptHandle), in.VisibilityTimeout)
	}
	return out, err
}

// fakeStore is an in-memory DoneStore.
type fakeStore struct {
	log *eventLog

	mu   sync.Mutex
	done map[string]time.Time
}

func (s *fakeStore) MessageDone(id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.done[id]
	return ok, nil
}

func (s *fakeStore) MarkMessageDone(id string, at time.Time) error {
	s.mu.Lock()
	s.done[id] = at
	s.mu.Unlock()
	s.log.add("mark %s", id)
	return nil
}

func (s *fakeStore) marked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.done)
}

// fakeHandler counts calls per finding id. hook, when set before the
// consumer starts, runs on every call with the call's number for that id.
type fakeHandler struct {
	hook func(ctx context.Context, f *picket.Finding, call int) error
	// done, when set, is marked as the commit of a message whose findings
	// all succeeded, as the real pipeline's transaction does.
	done *fakeStore

	mu    sync.Mutex
	calls map[string]int
}

// HandleMessage handles every finding (as a transaction would: all or
// nothing) and marks the message done when all succeeded.
func (h *fakeHandler) HandleMessage(ctx context.Context, id string, findings []picket.Finding) ([]picket.Outcome, error) {
	outs := make([]picket.Outcome, len(findings))
	var failed error
	for i := range findings {
		out, err := h.HandleFinding(ctx, &findings[i])
		if err != nil && failed == nil {
			failed = err
		}
		outs[i] = out
	}
	if failed != nil {
		return nil, failed
	}
	if h.done != nil && id != "" {
		if err := h.done.MarkMessageDone(id, time.Now()); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

func (h *fakeHandler) HandleFinding(ctx context.Context, f *picket.Finding) (picket.Outcome, error) {
	h.mu.Lock()
	h.calls[f.ID]++
	n := h.calls[f.ID]
	h.mu.Unlock()
	if h.hook != nil {
		if err := h.hook(ctx, f, n); err != nil {
			return "", err
		}
	}
	return picket.OutcomePosted, nil
}

func (h *fakeHandler) callsFor(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[id]
}

func (h *fakeHandler) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.calls {
		n += c
	}
	return n
}

// syncBuffer collects log output written by several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns every JSON log record written so far.
func (b *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	text := b.buf.String()
	b.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(text) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		out = append(out, rec)
	}
	return out
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// rigConfig sets up one queue and consumer. Zero fields take the rig's
// defaults.
type rigConfig struct {
	maxReceiveCount int           // default 5
	visibility      time.Duration // default 2s
	workers         int           // default 4
	retryDelay      time.Duration
	shutdownGrace   time.Duration
	now             func() time.Time
}

// rig is a queue with its DLQ in the emulator and a consumer of it with
// fake handler and store, all recording what happens.
type rig struct {
	t        *testing.T
	emu      *fauxqs.Emulator
	queueURL string
	dlqURL   string
	events   *eventLog
	handler  *fakeHandler
	store    *fakeStore
	metrics  ingest.Metrics
	logs     *syncBuffer
	consumer *ingest.Consumer

	cancel context.CancelFunc
	runErr chan error
}

func newRig(t *testing.T, emu *fauxqs.Emulator, name string, cfg rigConfig) *rig {
	t.Helper()
	if cfg.maxReceiveCount == 0 {
		cfg.maxReceiveCount = 5
	}
	if cfg.visibility == 0 {
		cfg.visibility = 2 * time.Second
	}
	if cfg.workers == 0 {
		cfg.workers = 4
	}
	r := &rig{t: t, emu: emu, events: &eventLog{}, logs: &syncBuffer{}}
	r.queueURL, r.dlqURL = emu.CreateQueueWithDLQ(context.Background(), name, cfg.maxReceiveCount, cfg.visibility)
	r.store = &fakeStore{log: r.events, done: map[string]time.Time{}}
	r.handler = &fakeHandler{calls: map[string]int{}, done: r.store}
	r.metrics = ingest.Metrics{
		Received:    &metrics.Counter{},
		Decoded:     &metrics.Counter{},
		Undecodable: &metrics.Counter{},
		Failed:      &metrics.Counter{},
		Deleted:     &metrics.Counter{},
		Latency:     metrics.NewHistogram(0.1, 1, 10),
	}
	api := &recordingSQS{api: emu.SQS(), log: r.events, receipts: map[string]string{}}
	c, err := ingest.New(api, ingest.Options{
		QueueURL:          r.queueURL,
		Workers:           cfg.workers,
		WaitTime:          time.Second,
		VisibilityTimeout: cfg.visibility,
		RetryDelay:        cfg.retryDelay,
		Decode:            decode,
		Handler:           r.handler,
		Done:              r.store,
		ShutdownGrace:     cfg.shutdownGrace,
		Now:               cfg.now,
		Logger:            newJSONLogger(r.logs),
		Metrics:           r.metrics,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r.consumer = c
	return r
}

// start runs the consumer until the test ends or stop is called.
func (r *rig) start() {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.runErr = make(chan error, 1)
	go func() { r.runErr <- r.consumer.Run(ctx) }()
	r.t.Cleanup(func() {
		cancel()
		select {
		case <-r.runErr:
		case <-time.After(30 * time.Second):
			r.t.Errorf("Run did not return within 30s of cancel")
		}
	})
}

// stop cancels Run and returns its result.
func (r *rig) stop() error {
	r.t.Helper()
	r.cancel()
	select {
	case err := <-r.runErr:
		r.runErr <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		r.t.Fatalf("Run did not return within 30s of cancel")
		return nil
	}
}

// count returns the queue's visible and in-flight counts.
func (r *rig) count() (visible, inFlight int) {
	r.t.Helper()
	return r.emu.Count(context.Background(), r.queueURL)
}

// eventually polls cond until it holds, failing t after timeout. The
// timeout is a deadline for something that must happen, never a measure of
// speed: it is generous so a busy machine does not fail the test.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor returns when ch is closed, failing t after timeout.
func waitFor(t *testing.T, ch <-chan struct{}, timeout time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(timeout):
		t.Fatalf("timed out after %s waiting until %s", timeout, what)
	}
}

func newJSONLogger(w *syncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
