package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/metrics"
)

// SQSAPI is the part of the SQS API the consumer uses. *sqs.Client
// implements it.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, params *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, params *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, params *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// DoneStore tells which queue messages were fully handled, so that a
// message redelivered after its outcome was committed is deleted without
// being decoded again (the handler marks messages done as it commits
// them). store.DB implements it.
type DoneStore interface {
	MessageDone(messageID string) (bool, error)
}

// Metrics are the consumer's counters. Every field may be nil.
type Metrics struct {
	// Received counts messages received, redeliveries included.
	Received *metrics.Counter
	// Decoded counts findings decoded from messages.
	Decoded *metrics.Counter
	// Undecodable counts receipts of messages that could not be decoded.
	Undecodable *metrics.Counter
	// Failed counts receipts of messages left for redelivery because
	// their commit failed.
	Failed *metrics.Counter
	// Deleted counts messages deleted from the queue.
	Deleted *metrics.Counter
	// Latency observes the seconds from a message's SQS SentTimestamp (or
	// its receipt, when SQS did not say) to its outcome being committed.
	Latency *metrics.Histogram
}

// Defaults for the zero values of Options.
const (
	DefaultWorkers           = 4
	DefaultMaxMessages       = 10
	DefaultWaitTime          = 20 * time.Second
	DefaultVisibilityTimeout = 60 * time.Second
	DefaultShutdownGrace     = 25 * time.Second
)

// pollers is how many ReceiveMessage calls a consumer keeps in flight.
const pollers = 2

// SQS limits the options are checked against.
const (
	maxWaitTime   = 20 * time.Second
	maxVisibility = 12 * time.Hour
)

// Options configure a Consumer. QueueURL, Decode, Handler and Done are
// required; zero values of the others take the defaults above. Durations are
// rounded up to whole seconds, the unit SQS counts in.
type Options struct {
	// QueueURL is the queue to consume.
	QueueURL string
	// Workers is how many messages are handled at once.
	Workers int
	// MaxMessages is the most messages one ReceiveMessage asks for (1-10).
	MaxMessages int32
	// WaitTime is the long-poll wait of each ReceiveMessage (up to 20s).
	WaitTime time.Duration
	// VisibilityTimeout is how long a received message stays hidden from
	// other consumers; it is extended every third of it while the message
	// is held.
	VisibilityTimeout time.Duration
	// RetryDelay, when positive, is the visibility set on a message that
	// could not be decoded or handled, so it is retried (or moved to the
	// DLQ) that much later. Zero leaves the last extension in place: the
	// message comes back at most VisibilityTimeout later.
	RetryDelay time.Duration
	// Decode turns a message body into findings; the wiring passes
	// event.Decode. Its errors should carry a picket error code. A body
	// that decodes to no finding and no error is done: it is deleted.
	Decode func(body []byte) ([]picket.Finding, error)
	// Handler commits each message's findings, and the message as done,
	// in one transaction; the message is deleted when it returns nil.
	Handler picket.MessageHandler
	// Done records fully handled messages.
	Done DoneStore
	// ShutdownGrace is how long messages already being handled may run
	// after Run's context is cancelled.
	ShutdownGrace time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives the consumer's logs; nothing is logged when nil.
	Logger *slog.Logger
	// Metrics are optional counters.
	Metrics Metrics
}

// Consumer long-polls one SQS queue and hands each decoded finding to a
// handler. Create it with New.
type Consumer struct {
	api  SQSAPI
	opts Options
	log  *slog.Logger
	now  func() time.Time

	waitSeconds       int32
	visibilitySeconds int32
	retrySeconds      int32
	heartbeat         time.Duration

	filling     sync.Mutex // held while a poll takes room for its receive
	running     atomic.Bool
	ready       atomic.Bool
	lastMessage atomic.Int64 // Unix nanoseconds; 0 before the first message
	oldestWait  atomic.Int64 // see OldestWait
	active      atomic.Int64 // messages being handled now
}

// New checks opts, fills in defaults and returns a consumer of
// opts.QueueURL. Every problem with opts is reported at once, as an error
// with code picket.EINVALID.
func New(api SQSAPI, opts Options) (*Consumer, error) {
	var problems []string
	if api == nil {
		problems = append(problems, "an SQS client is required")
	}
	if opts.QueueURL == "" {
		problems = append(problems, "QueueURL is required")
	}
	if opts.Decode == nil {
		problems = append(problems, "Decode is required")
	}
	if opts.Handler == nil {
		problems = append(problems, "Handler is required")
	}
	if opts.Done == nil {
		problems = append(problems, "Done is required")
	}
	if opts.Workers == 0 {
		opts.Workers = DefaultWorkers
	} else if opts.Workers < 0 {
		problems = append(problems, fmt.Sprintf("Workers is %d, want at least 1", opts.Workers))
	}
	if opts.MaxMessages == 0 {
		opts.MaxMessages = DefaultMaxMessages
	} else if opts.MaxMessages < 1 || opts.MaxMessages > 10 {
		problems = append(problems, fmt.Sprintf("MaxMessages is %d, want 1 to 10", opts.MaxMessages))
	}
	if opts.WaitTime == 0 {
		opts.WaitTime = DefaultWaitTime
	} else if opts.WaitTime < 0 || opts.WaitTime > maxWaitTime {
		problems = append(problems, fmt.Sprintf("WaitTime is %s, want 1s to %s", opts.WaitTime, maxWaitTime))
	}
	if opts.VisibilityTimeout == 0 {
		opts.VisibilityTimeout = DefaultVisibilityTimeout
	} else if opts.VisibilityTimeout < 0 || opts.VisibilityTimeout > maxVisibility {
		problems = append(problems, fmt.Sprintf("VisibilityTimeout is %s, want 1s to %s", opts.VisibilityTimeout, maxVisibility))
	}
	if opts.RetryDelay < 0 || opts.RetryDelay > maxVisibility {
		problems = append(problems, fmt.Sprintf("RetryDelay is %s, want 0 to %s", opts.RetryDelay, maxVisibility))
	}
	if opts.ShutdownGrace == 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	} else if opts.ShutdownGrace < 0 {
		problems = append(problems, fmt.Sprintf("ShutdownGrace is %s, want a positive duration", opts.ShutdownGrace))
	}
	if len(problems) > 0 {
		return nil, picket.Errorf(picket.EINVALID, "invalid ingest options: %s", strings.Join(problems, "; "))
	}

	c := &Consumer{
		api:               api,
		opts:              opts,
		log:               opts.Logger,
		now:               opts.Now,
		waitSeconds:       seconds(opts.WaitTime),
		visibilitySeconds: seconds(opts.VisibilityTimeout),
		retrySeconds:      seconds(opts.RetryDelay),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	// A third of the timeout leaves two chances to extend before the
	// message would become visible, even if one call is slow or fails.
	c.heartbeat = time.Duration(c.visibilitySeconds) * time.Second / 3
	return c, nil
}

// Ready reports whether Run is running and its last ReceiveMessage
// succeeded; /readyz serves it.
func (c *Consumer) Ready() bool { return c.running.Load() && c.ready.Load() }

// LastMessageAt returns when the last message was received, by the
// consumer's clock; the zero time before the first.
func (c *Consumer) LastMessageAt() time.Time {
	n := c.lastMessage.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// OldestWait returns how long the oldest message of the last receive had
// waited in the queue (from its SentTimestamp) when Picket received it:
// the queue's lag as Picket sees it. A receive that returned no message
// (the queue is drained) sets it to zero.
func (c *Consumer) OldestWait() time.Duration { return time.Duration(c.oldestWait.Load()) }

// sentAt is a message's SentTimestamp; zero when it has none.
func sentAt(m types.Message) time.Time {
	v, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// Run polls the queue until ctx is cancelled. Then it stops receiving,
// returns messages not yet started to the queue, lets those being handled
// finish within ShutdownGrace (their context is detached from ctx), and
// returns nil. If the grace expires first, the remaining work is cancelled
// and Run returns an error once it has stopped.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("ingest: Run called while the consumer is already running")
	}
	defer c.running.Store(false)
	defer c.ready.Store(false)

	// A finding half-way to Slack when shutdown starts is better finished
	// and committed than abandoned and posted again after redelivery.
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()

	// held bounds the messages received but not finished: what is being
	// handled plus at most one batch waiting for a worker.
	held := make(chan struct{}, c.opts.Workers+int(c.opts.MaxMessages))
	queue := make(chan *message, cap(held))
	var wg sync.WaitGroup
	for range c.opts.Workers {
		wg.Go(func() {
			for m := range queue {
				if ctx.Err() != nil {
					c.release(work, m)
				} else {
					c.process(work, m)
				}
				<-held
			}
		})
	}

	c.log.Info("ingest started", "queue", c.opts.QueueURL, "workers", c.opts.Workers)
	// Two long polls in flight keep the workers fed during a storm (one
	// receive's round trip no longer paces intake); both stop receiving
	// when held is full.
	var polls sync.WaitGroup
	for range pollers {
		polls.Go(func() { c.poll(ctx, work, held, queue) })
	}
	polls.Wait()
	close(queue)

	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	grace := time.NewTimer(c.opts.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-finished:
		c.log.Info("ingest stopped", "queue", c.opts.QueueURL)
		return nil
	case <-grace.C:
	}
	n := c.active.Load()
	c.log.Warn("ingest shutdown grace expired; cancelling messages in progress",
		"queue", c.opts.QueueURL, "grace", c.opts.ShutdownGrace, "in_progress", n)
	stopWork()
	<-finished
	return fmt.Errorf("ingest: shutdown grace %s expired with %d messages in progress", c.opts.ShutdownGrace, n)
}

// poll receives messages while there is room to hold them, until ctx is
// cancelled.
func (c *Consumer) poll(ctx, work context.Context, held chan struct{}, queue chan<- *message) {
	failures := 0
	for {
		// Receive only what can be held: every message received is one
		// whose visibility must be kept extended until it is handled.
		select {
		case held <- struct{}{}:
		case <-ctx.Done():
			return
		}
		// One poll fills at a time, so two polls do not split the room
		// into two small receives.
		c.filling.Lock()
		n := 1
	fill:
		for n < int(c.opts.MaxMessages) {
			select {
			case held <- struct{}{}:
				n++
			default:
				break fill
			}
		}
		c.filling.Unlock()

		out, err := c.api.ReceiveMessage(ctx, c.receiveInput(n))
		var msgs []types.Message
		if err == nil {
			msgs = out.Messages
		}
		for i := len(msgs); i < n; i++ {
			<-held
		}
		for i := n; i < len(msgs); i++ {
			held <- struct{}{} // SQS never returns more than asked; stay bounded if it does
		}

		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			c.ready.Store(false)
			d := backoff(failures)
			c.log.Error("receive from SQS failed", "queue", c.opts.QueueURL,
				"code", apiCode(err), "error", err, "failures", failures, "retry_in", d)
			if !sleep(ctx, d) {
				return
			}
			continue
		}
		if failures > 0 {
			c.log.Info("receive from SQS recovered", "queue", c.opts.QueueURL, "failures", failures)
			failures = 0
		}
		c.ready.Store(true)

		now := c.now()
		var oldest time.Duration
		for _, m := range msgs {
			if sent := sentAt(m); !sent.IsZero() && now.Sub(sent) > oldest {
				oldest = now.Sub(sent)
			}
		}
		c.oldestWait.Store(int64(oldest))
		for _, m := range msgs {
			c.lastMessage.Store(now.UnixNano())
			c.opts.Metrics.Received.Inc()
			queue <- c.hold(work, m, now)
		}
	}
}

func (c *Consumer) receiveInput(n int) *sqs.ReceiveMessageInput {
	return &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(c.opts.QueueURL),
		MaxNumberOfMessages: int32(n),
		WaitTimeSeconds:     c.waitSeconds,
		VisibilityTimeout:   c.visibilitySeconds,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameSentTimestamp,
			types.MessageSystemAttributeNameApproximateReceiveCount,
		},
	}
}

// message is one received message held by the consumer.
type message struct {
	id           string
	receipt      string
	body         string
	receiveCount int
	sent         time.Time // zero when SQS did not say
	received     time.Time
	// stopHeartbeat stops extending the message's visibility and waits
	// until no extension is in progress.
	stopHeartbeat func()
}

// hold wraps a received message and starts extending its visibility.
func (c *Consumer) hold(ctx context.Context, m types.Message, now time.Time) *message {
	msg := &message{
		id:       aws.ToString(m.MessageId),
		receipt:  aws.ToString(m.ReceiptHandle),
		body:     aws.ToString(m.Body),
		received: now,
	}
	if v, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]); err == nil {
		msg.receiveCount = v
	}
	msg.sent = sentAt(m)
	msg.stopHeartbeat = c.keepHidden(ctx, msg)
	return msg
}

// keepHidden extends msg's visibility every heartbeat until the returned
// function is called.
func (c *Consumer) keepHidden(ctx context.Context, msg *message) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(c.heartbeat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := c.setVisibility(ctx, msg, c.visibilitySeconds)
			switch {
			case err == nil:
			case ctx.Err() != nil:
				return
			case notHeld(err):
				// Another consumer may have it now: extending further is
				// pointless, and its handler's outcome is still
				// committed before any delete.
				c.log.Warn("message no longer held; stopped extending its visibility",
					"message_id", msg.id, "code", apiCode(err), "error", err)
				return
			default:
				c.log.Warn("extend message visibility failed", "message_id", msg.id, "code", apiCode(err), "error", err)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// process handles one message to its end: deleted, or left for redelivery.
func (c *Consumer) process(ctx context.Context, msg *message) {
	c.active.Add(1)
	defer c.active.Add(-1)
	defer msg.stopHeartbeat()
	log := c.log.With("message_id", msg.id, "receive_count", msg.receiveCount)

	done, err := c.opts.Done.MessageDone(msg.id)
	if err != nil {
		c.opts.Metrics.Failed.Inc()
		log.Error("check whether message was handled failed; leaving it for redelivery", "error", err)
		c.retryLater(ctx, msg, log)
		return
	}
	if done {
		log.Info("message already handled; deleting redelivery")
		c.delete(ctx, msg, log)
		return
	}

	var findings []picket.Finding
	err = guard(func() (err error) {
		findings, err = c.opts.Decode([]byte(msg.body))
		return err
	})
	if err != nil {
		c.opts.Metrics.Undecodable.Inc()
		// The body may be large and is not ours to spread at info level;
		// the reason says what was wrong and the DLQ keeps the body.
		log.Warn("message cannot be decoded; leaving it for the dead-letter queue",
			"code", picket.ErrorCode(err), "reason", err.Error(), "body_bytes", len(msg.body))
		log.Debug("undecodable message body", "body_prefix", prefix(msg.body, 512))
		c.retryLater(ctx, msg, log)
		return
	}
	c.opts.Metrics.Decoded.Add(int64(len(findings)))

	// The handler commits every finding and the message as done in one
	// transaction: after it returns nil the message can go.
	var outcomes []picket.Outcome
	err = guard(func() (err error) {
		outcomes, err = c.opts.Handler.HandleMessage(ctx, msg.id, findings)
		return err
	})
	if err != nil {
		c.opts.Metrics.Failed.Inc()
		log.Error("commit message failed; leaving it for redelivery", "findings", len(findings),
			"code", picket.ErrorCode(err), "error", err)
		c.retryLater(ctx, msg, log)
		return
	}
	for i, out := range outcomes {
		if i < len(findings) {
			log.Debug("finding committed", "finding_key", findings[i].Key, "outcome", string(out))
		}
	}
	committed := c.now()
	start := msg.sent
	if start.IsZero() {
		start = msg.received
	}
	c.opts.Metrics.Latency.Observe(committed.Sub(start).Seconds())
	c.delete(ctx, msg, log)
}

// delete removes a message whose outcome is committed. If the delete fails
// the message is redelivered and then deleted as already done.
func (c *Consumer) delete(ctx context.Context, msg *message, log *slog.Logger) {
	msg.stopHeartbeat()
	_, err := c.api.DeleteMessage(ctx, &sqs.DeleteMessageInput{
		QueueUrl:      aws.String(c.opts.QueueURL),
		ReceiptHandle: aws.String(msg.receipt),
	})
	if err != nil {
		log.Warn("delete message failed; it will be redelivered and deleted then",
			"code", apiCode(err), "error", err)
		return
	}
	c.opts.Metrics.Deleted.Inc()
}

// retryLater leaves a message for redelivery: when RetryDelay is set, it
// becomes visible again after that delay.
func (c *Consumer) retryLater(ctx context.Context, msg *message, log *slog.Logger) {
	msg.stopHeartbeat()
	if c.retrySeconds == 0 {
		return
	}
	if err := c.setVisibility(ctx, msg, c.retrySeconds); err != nil && !notHeld(err) {
		log.Warn("set retry delay failed", "code", apiCode(err), "error", err)
	}
}

// release returns a message that was never started to the queue at once, so
// another consumer can take it while this one shuts down.
func (c *Consumer) release(ctx context.Context, msg *message) {
	msg.stopHeartbeat()
	if err := c.setVisibility(ctx, msg, 0); err != nil && !notHeld(err) {
		c.log.Warn("return message to queue failed", "message_id", msg.id, "code", apiCode(err), "error", err)
	}
}

func (c *Consumer) setVisibility(ctx context.Context, msg *message, secs int32) error {
	_, err := c.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(c.opts.QueueURL),
		ReceiptHandle:     aws.String(msg.receipt),
		VisibilityTimeout: secs,
	})
	if err != nil {
		return fmt.Errorf("change visibility of message %s to %ds: %w", msg.id, secs, err)
	}
	return nil
}

// guard runs fn and turns a panic into an EINTERNAL error, so one finding
// that trips a bug is retried and then dead-lettered instead of crashing
// Picket on every redelivery.
func guard(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &picket.Error{
				Code:    picket.EINTERNAL,
				Message: "panic while processing message",
				Err:     fmt.Errorf("%v\n%s", p, debug.Stack()),
			}
		}
	}()
	return fn()
}

// apiCode returns the AWS error code in err's chain, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// notHeld reports whether err says the receipt handle no longer holds the
// message: it was deleted, or its visibility expired and it was received
// again. SQS's JSON protocol reports the codes with their query-protocol
// prefix.
func notHeld(err error) bool {
	switch strings.TrimPrefix(apiCode(err), "AWS.SimpleQueueService.") {
	case "MessageNotInflight", "ReceiptHandleIsInvalid":
		return true
	}
	return false
}

// backoff returns the wait after the given number of consecutive receive
// failures: doubling from 250ms to at most 30s, with half of it random so
// that many consumers do not retry in step.
func backoff(failures int) time.Duration {
	const (
		base    = 250 * time.Millisecond
		ceiling = 30 * time.Second
	)
	d := ceiling
	if failures < 16 {
		d = min(base<<(failures-1), ceiling)
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or until ctx is done, reporting whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int32 {
	return int32(math.Ceil(d.Seconds()))
}

// prefix returns at most n bytes of s, cut at a rune boundary.
func prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
