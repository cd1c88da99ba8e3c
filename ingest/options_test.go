package ingest_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/ingest"
	"github.com/picketsec/picket/metrics"
)

// scriptedSQS answers ReceiveMessage with receive and records every input.
// DeleteMessage and ChangeMessageVisibility succeed.
type scriptedSQS struct {
	receive func(ctx context.Context) (*sqs.ReceiveMessageOutput, error)

	mu      sync.Mutex
	calls   []*sqs.ReceiveMessageInput
	deletes int
}

func (s *scriptedSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	s.mu.Lock()
	s.calls = append(s.calls, in)
	s.mu.Unlock()
	return s.receive(ctx)
}

func (s *scriptedSQS) DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	s.mu.Lock()
	s.deletes++
	s.mu.Unlock()
	return &sqs.DeleteMessageOutput{}, nil
}

func (s *scriptedSQS) ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (s *scriptedSQS) received() []*sqs.ReceiveMessageInput {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// validOptions returns options New accepts.
func validOptions() ingest.Options {
	return ingest.Options{
		QueueURL: "http://127.0.0.1:1/000000000000/findings",
		Decode:   decode,
		Handler:  &fakeHandler{calls: map[string]int{}},
		Done:     &fakeStore{log: &eventLog{}, done: map[string]time.Time{}},
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name   string
		change func(*ingest.Options)
		want   []string // every problem the error must name
	}{
		{"missing queue", func(o *ingest.Options) { o.QueueURL = "" }, []string{"QueueURL"}},
		{"missing decode", func(o *ingest.Options) { o.Decode = nil }, []string{"Decode"}},
		{"missing handler", func(o *ingest.Options) { o.Handler = nil }, []string{"Handler"}},
		{"missing store", func(o *ingest.Options) { o.Done = nil }, []string{"Done"}},
		{"negative workers", func(o *ingest.Options) { o.Workers = -1 }, []string{"Workers"}},
		{"too many messages", func(o *ingest.Options) { o.MaxMessages = 11 }, []string{"MaxMessages"}},
		{"wait above 20s", func(o *ingest.Options) { o.WaitTime = 21 * time.Second }, []string{"WaitTime"}},
		{"negative visibility", func(o *ingest.Options) { o.VisibilityTimeout = -time.Second }, []string{"VisibilityTimeout"}},
		{"retry delay above 12h", func(o *ingest.Options) { o.RetryDelay = 13 * time.Hour }, []string{"RetryDelay"}},
		{"negative grace", func(o *ingest.Options) { o.ShutdownGrace = -time.Second }, []string{"ShutdownGrace"}},
		{"every problem at once", func(o *ingest.Options) {
			o.QueueURL = ""
			o.Handler = nil
			o.MaxMessages = -2
		}, []string{"QueueURL", "Handler", "MaxMessages"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := validOptions()
			tt.change(&opts)
			_, err := ingest.New(&scriptedSQS{}, opts)
			if err == nil {
				t.Fatalf("New returned no error, want one naming %v", tt.want)
			}
			if got := picket.ErrorCode(err); got != picket.EINVALID {
				t.Errorf("error code: got %q, want %q", got, picket.EINVALID)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to name %s", err, w)
				}
			}
		})
	}
}

func TestNewAcceptsRequiredOptionsOnly(t *testing.T) {
	c, err := ingest.New(&scriptedSQS{}, validOptions())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if c.Ready() {
		t.Errorf("Ready() before Run = true, want false")
	}
	if got := c.LastMessageAt(); !got.IsZero() {
		t.Errorf("LastMessageAt() before any message = %v, want the zero time", got)
	}
}

func TestRunLongPollsWithDefaults(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	polled := make(chan struct{})
	var once sync.Once
	api := &scriptedSQS{receive: func(ctx context.Context) (*sqs.ReceiveMessageOutput, error) {
		once.Do(func() { close(polled) })
		// A long poll that only the context ends, as with a 20s wait.
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	opts := validOptions()
	c, err := ingest.New(api, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	waitFor(t, polled, waitLong, "Run polls")
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(waitLong):
		t.Fatalf("cancel did not interrupt the long poll")
	}

	// Two polls share the room for held messages: the one that got the
	// most asks for the default ten.
	in := api.received()[0]
	for _, r := range api.received() {
		if r.MaxNumberOfMessages > in.MaxNumberOfMessages {
			in = r
		}
	}
	if got := aws.ToString(in.QueueUrl); got != opts.QueueURL {
		t.Errorf("QueueUrl: got %q, want %q", got, opts.QueueURL)
	}
	if in.WaitTimeSeconds != 20 {
		t.Errorf("WaitTimeSeconds: got %d, want 20", in.WaitTimeSeconds)
	}
	if in.MaxNumberOfMessages != 10 {
		t.Errorf("MaxNumberOfMessages: got %d, want 10", in.MaxNumberOfMessages)
	}
	if in.VisibilityTimeout != 60 {
		t.Errorf("VisibilityTimeout: got %d, want 60", in.VisibilityTimeout)
	}
	for _, want := range []types.MessageSystemAttributeName{
		types.MessageSystemAttributeNameSentTimestamp,
		types.MessageSystemAttributeNameApproximateReceiveCount,
	} {
		if !slices.Contains(in.MessageSystemAttributeNames, want) {
			t.Errorf("MessageSystemAttributeNames %v lack %s", in.MessageSystemAttributeNames, want)
		}
	}
}

func TestRunBacksOffAfterReceiveErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api := &scriptedSQS{receive: func(context.Context) (*sqs.ReceiveMessageOutput, error) {
		return nil, &smithy.GenericAPIError{Code: "AWS.SimpleQueueService.NonExistentQueue", Message: "no such queue"}
	}}
	logs := &syncBuffer{}
	opts := validOptions()
	opts.Logger = newJSONLogger(logs)
	c, err := ingest.New(api, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	eventually(t, waitLong, "Run retries the receive", func() bool { return len(api.received()) >= 2 })
	// Waits double from at least 125ms: within 2s no more than 5 receives
	// fit per poller (the consumer keeps two polls), however fast the
	// machine.
	time.Sleep(2 * time.Second)
	if c.Ready() {
		t.Errorf("Ready() while every receive fails = true, want false")
	}
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(waitLong):
		t.Fatalf("cancel did not interrupt the backoff")
	}
	if got := len(api.received()); got > 12 {
		t.Errorf("got %d receives in about 2s of failures, want at most 12 (backoff in each of 2 polls)", got)
	}
	found := false
	for _, rec := range logs.records(t) {
		if rec["code"] == "AWS.SimpleQueueService.NonExistentQueue" {
			found = true
		}
	}
	if !found {
		t.Errorf("no log record carries the AWS error code; logs:\n%s", logs.String())
	}
}

func TestReadyAfterSuccessfulReceive(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api := &scriptedSQS{receive: func(ctx context.Context) (*sqs.ReceiveMessageOutput, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
			return &sqs.ReceiveMessageOutput{}, nil
		}
	}}
	c, err := ingest.New(api, validOptions())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	eventually(t, waitLong, "the consumer is ready", c.Ready)
	if err := c.Run(ctx); err == nil {
		t.Errorf("second concurrent Run returned nil, want an error")
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
	if c.Ready() {
		t.Errorf("Ready() after Run returned = true, want false")
	}
}

func TestHandlerPanicLeavesMessageForRedelivery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	body := guardDutyEvent(t, "panics")
	var once sync.Once
	api := &scriptedSQS{receive: func(ctx context.Context) (*sqs.ReceiveMessageOutput, error) {
		out := &sqs.ReceiveMessageOutput{}
		once.Do(func() {
			out.Messages = []types.Message{{MessageId: aws.String("m-1"), ReceiptHandle: aws.String("r-1"), Body: aws.String(body)}}
		})
		if len(out.Messages) == 0 {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return out, nil
	}}
	handler := &fakeHandler{calls: map[string]int{}, hook: func(context.Context, *picket.Finding, int) error {
		panic("bug in triage")
	}}
	failed := &metrics.Counter{}
	opts := validOptions()
	opts.Handler = handler
	opts.Metrics.Failed = failed
	c, err := ingest.New(api, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	eventually(t, waitLong, "the failure is counted", func() bool { return failed.Value() == 1 })
	cancel()
	if err := <-runErr; err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
	api.mu.Lock()
	deletes := api.deletes
	api.mu.Unlock()
	if deletes != 0 {
		t.Errorf("got %d deletes after a handler panic, want 0", deletes)
	}
}
