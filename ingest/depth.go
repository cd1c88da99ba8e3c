package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// DepthAPI is the part of the SQS client a DepthWatcher uses.
type DepthAPI interface {
	GetQueueAttributes(ctx context.Context, params *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// DefaultDepthInterval is how often a DepthWatcher polls when its interval
// is zero: SQS's approximate counts settle over about a minute, so polling
// more often shows nothing new.
const DefaultDepthInterval = 30 * time.Second

// Depth is what SQS last said about the queue and its dead-letter queue.
type Depth struct {
	// Visible and InFlight are the queue's ApproximateNumberOfMessages
	// and ApproximateNumberOfMessagesNotVisible.
	Visible, InFlight int
	// DLQURL is the dead-letter queue polled; empty when none is
	// configured or named by the queue's redrive policy.
	DLQURL string
	// DLQVisible and DLQInFlight are the dead-letter queue's counts.
	DLQVisible, DLQInFlight int
	// At is when the counts were read; zero before the first poll.
	At time.Time
}

// DepthWatcher polls a queue's (and its dead-letter queue's) message
// counts. Create it with NewDepthWatcher.
type DepthWatcher struct {
	api      DepthAPI
	queueURL string
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu     sync.Mutex
	dlqURL string
	found  bool // whether the redrive policy was read
	last   Depth
}

// DepthOptions configure a DepthWatcher. QueueURL is required.
type DepthOptions struct {
	QueueURL string
	// DLQURL is the dead-letter queue; when empty it is found from the
	// queue's RedrivePolicy.
	DLQURL string
	// Interval between polls; DefaultDepthInterval when zero.
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

// NewDepthWatcher returns a watcher of opts.QueueURL.
func NewDepthWatcher(api DepthAPI, opts DepthOptions) *DepthWatcher {
	w := &DepthWatcher{api: api, queueURL: opts.QueueURL, interval: opts.Interval, now: opts.Now, log: opts.Logger,
		dlqURL: opts.DLQURL, found: opts.DLQURL != ""}
	if w.interval <= 0 {
		w.interval = DefaultDepthInterval
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	return w
}

// Last returns the counts of the last successful poll.
func (w *DepthWatcher) Last() Depth {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// Run polls now and then every interval until ctx is cancelled. Failures
// are logged and the last counts kept.
func (w *DepthWatcher) Run(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		if _, err := w.Poll(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("read queue depth", "queue", w.queueURL, "code", apiCode(err), "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll reads the counts once, finding the dead-letter queue from the
// redrive policy on the first call.
func (w *DepthWatcher) Poll(ctx context.Context) (Depth, error) {
	names := []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	}
	w.mu.Lock()
	found, dlq := w.found, w.dlqURL
	w.mu.Unlock()
	if !found {
		names = append(names, types.QueueAttributeNameRedrivePolicy)
	}
	visible, inFlight, attrs, err := w.counts(ctx, w.queueURL, names)
	if err != nil {
		return Depth{}, fmt.Errorf("queue attributes: %w", err)
	}
	if !found {
		dlq, err = w.deadLetterURL(attrs[string(types.QueueAttributeNameRedrivePolicy)])
		if err != nil {
			return Depth{}, err
		}
		w.mu.Lock()
		w.found, w.dlqURL = true, dlq
		w.mu.Unlock()
	}
	d := Depth{Visible: visible, InFlight: inFlight, DLQURL: dlq, At: w.now()}
	if dlq != "" {
		d.DLQVisible, d.DLQInFlight, _, err = w.counts(ctx, dlq, names[:2])
		if err != nil {
			return Depth{}, fmt.Errorf("dead-letter queue attributes: %w", err)
		}
	}
	w.mu.Lock()
	w.last = d
	w.mu.Unlock()
	return d, nil
}

func (w *DepthWatcher) counts(ctx context.Context, url string, names []types.QueueAttributeName) (visible, inFlight int, attrs map[string]string, err error) {
	out, err := w.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
	if err != nil {
		return 0, 0, nil, err
	}
	visible, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight, out.Attributes, nil
}

// deadLetterURL turns the deadLetterTargetArn of a redrive policy
// (arn:aws:sqs:REGION:ACCOUNT:NAME) into a queue URL; empty without one. A
// dead-letter queue is in its queue's account and region, so its URL is
// the queue's with the last path segment replaced by its name (no
// GetQueueUrl call, and so no permission for it).
func (w *DepthWatcher) deadLetterURL(policy string) (string, error) {
	if policy == "" {
		return "", nil
	}
	var p struct {
		Target string `json:"deadLetterTargetArn"`
	}
	if err := json.Unmarshal([]byte(policy), &p); err != nil {
		return "", fmt.Errorf("read redrive policy: %w", err)
	}
	parts := strings.Split(p.Target, ":")
	if len(parts) != 6 || parts[2] != "sqs" || parts[5] == "" {
		return "", fmt.Errorf("redrive policy names %q, not an SQS queue ARN", p.Target)
	}
	i := strings.LastIndex(w.queueURL, "/")
	if i < 0 {
		return "", fmt.Errorf("queue URL %q has no path", w.queueURL)
	}
	return w.queueURL[:i+1] + parts[5], nil
}
