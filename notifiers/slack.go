package notifiers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/metrics"
	"github.com/slack-go/slack"
)

// SlackAPI is the part of the Slack Web API that Slack uses, with
// slack-go's exact method signatures so that *slack.Client satisfies it.
type SlackAPI interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
}

// SlackOptions configures a Slack sender. The zero value is usable.
type SlackOptions struct {
	Logger *slog.Logger
	// PerChannelInterval is the least time between two calls for the same
	// channel; Slack allows about one message per second per channel.
	// Default 1s; a negative value turns pacing off (for load tests
	// against a local server).
	PerChannelInterval time.Duration
	// MaxAttempts bounds the calls made for one post or update, the first
	// included. Default 5.
	MaxAttempts int
	// Sleep waits for d or until ctx is done, returning ctx.Err() then.
	// Default: a real timer. Tests inject one that does not wait.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock used for pacing. Default time.Now.
	Now func() time.Time
	// Retries counts every retried call (rate limits, server and network
	// errors). Nil counts nothing.
	Retries *metrics.Counter
	// Calls observes the seconds each Slack Web API call took (pacing
	// waits excluded), labelled method (chat.postMessage, chat.update,
	// files.upload) and outcome (ok, rate_limited, error). Nil observes
	// nothing.
	Calls *metrics.HistogramVec
}

// Backoff after a server or network error: 1s, 2s, 4s... at most 30s.
const (
	backoffBase = time.Second
	backoffMax  = 30 * time.Second
)

// Slack posts alerts to Slack and updates them in place, and tells people
// in Slack what responses did. It implements picket.AlertSender and
// picket.Announcer and is safe for concurrent use.
//
// Calls are paced per channel, about one per PerChannelInterval: a caller
// waits for its turn (or for its context to end) rather than being dropped,
// and callers for different channels do not wait on each other. A rate limit
// (HTTP 429) holds the channel for its Retry-After; server errors (5xx) and
// network errors are retried with exponential backoff; any other Slack error
// (channel_not_found, not_in_channel, invalid_auth...) fails at once. A
// retried post whose first attempt reached Slack but whose answer was lost
// can show twice: a duplicate is better than a lost alert.
//
// The message is sent as fallback text (shown as the message's first line;
// it carries the user-group mention, so the group is notified) and one
// attachment holding the colour bar and the Block Kit blocks from Render.
type Slack struct {
	api      SlackAPI
	log      *slog.Logger
	interval time.Duration
	attempts int
	sleep    func(context.Context, time.Duration) error
	now      func() time.Time
	retries  *metrics.Counter
	calls    *metrics.HistogramVec

	mu sync.Mutex
	// next is the earliest time the next call for a channel may start.
	next map[string]time.Time
	// ids maps a channel name a post was sent to ("#security") to the id
	// Slack answered with, so that posts and updates share one pace.
	ids map[string]string
}

// NewSlack returns a sender that calls api, typically a *slack.Client.
func NewSlack(api SlackAPI, opts SlackOptions) *Slack {
	s := &Slack{
		api:      api,
		log:      opts.Logger,
		interval: opts.PerChannelInterval,
		attempts: opts.MaxAttempts,
		sleep:    opts.Sleep,
		now:      opts.Now,
		retries:  opts.Retries,
		calls:    opts.Calls,
		next:     map[string]time.Time{},
		ids:      map[string]string{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.interval == 0 {
		s.interval = time.Second
	}
	if s.attempts <= 0 {
		s.attempts = 5
	}
	if s.sleep == nil {
		s.sleep = sleep
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// DialSlack returns a sender using the bot token; apiURL, when not empty,
// points the client at another Slack Web API (a test server) and must end
// with a slash. The client itself does not retry (Slack does) and gives up
// on a call after 30 seconds.
func DialSlack(token, apiURL string, opts SlackOptions) *Slack {
	copts := []slack.Option{slack.OptionHTTPClient(&http.Client{Timeout: 30 * time.Second})}
	if apiURL != "" {
		copts = append(copts, slack.OptionAPIURL(apiURL))
	}
	return NewSlack(slack.New(token, copts...), opts)
}

// PostAlert renders the alert and posts it to a.Channel.
func (s *Slack) PostAlert(ctx context.Context, a picket.Alert) (picket.MessageRef, error) {
	if a.Channel == "" {
		return picket.MessageRef{}, picket.Errorf(picket.EINVALID, "post alert: the alert has no channel")
	}
	opts := Render(a).msgOptions()
	if a.PostID != "" {
		opts = append(opts, postMetadata(a.PostID))
	}
	var ref picket.MessageRef
	err := s.call(ctx, "post alert to", a.Channel, func(ctx context.Context) error {
		ch, ts, err := s.api.PostMessageContext(ctx, a.Channel, opts...)
		if err != nil {
			return err
		}
		if ch == "" {
			ch = a.Channel
		}
		ref = picket.MessageRef{Channel: ch, TS: ts}
		return nil
	})
	if err != nil {
		return picket.MessageRef{}, err
	}
	if ref.Channel != a.Channel {
		s.learnID(a.Channel, ref.Channel)
	}
	return ref, nil
}

// UpdateAlert renders the alert again and replaces the message at ref.
func (s *Slack) UpdateAlert(ctx context.Context, ref picket.MessageRef, a picket.Alert) error {
	if ref.Zero() {
		return picket.Errorf(picket.EINVALID, "update alert: no message to update (channel %q, ts %q)", ref.Channel, ref.TS)
	}
	opts := Render(a).msgOptions()
	return s.call(ctx, "update alert in", ref.Channel, func(ctx context.Context) error {
		_, _, _, err := s.api.UpdateMessageContext(ctx, ref.Channel, ref.TS, opts...)
		return err
	})
}

// PostGroup posts a group message (see RenderGroup) to g.Channel, paced
// and retried like PostAlert; postID travels in its metadata.
func (s *Slack) PostGroup(ctx context.Context, g picket.Group, postID string) (picket.MessageRef, error) {
	if g.Channel == "" {
		return picket.MessageRef{}, picket.Errorf(picket.EINVALID, "post group %s: the group has no channel", g.ID)
	}
	opts := append(RenderGroup(g).msgOptions(), postMetadata(postID))
	var ref picket.MessageRef
	err := s.call(ctx, "post group to", g.Channel, func(ctx context.Context) error {
		ch, ts, err := s.api.PostMessageContext(ctx, g.Channel, opts...)
		if err != nil {
			return err
		}
		ref = picket.MessageRef{Channel: cmpOr(ch, g.Channel), TS: ts}
		return nil
	})
	if err != nil {
		return picket.MessageRef{}, err
	}
	if ref.Channel != g.Channel {
		s.learnID(g.Channel, ref.Channel)
	}
	return ref, nil
}

// UpdateGroup shows g's summary on its message.
func (s *Slack) UpdateGroup(ctx context.Context, g picket.Group) error {
	if g.Ref.Zero() {
		return picket.Errorf(picket.EINVALID, "update group %s: it has no message yet", g.ID)
	}
	opts := RenderGroup(g).msgOptions()
	return s.call(ctx, "update group in", g.Ref.Channel, func(ctx context.Context) error {
		_, _, _, err := s.api.UpdateMessageContext(ctx, g.Ref.Channel, g.Ref.TS, opts...)
		return err
	})
}

// PostGroupList replies in the group's thread listing members (see
// RenderGroupList); postID travels in its metadata.
func (s *Slack) PostGroupList(ctx context.Context, g picket.Group, from int, members []picket.FindingRecord, postID string) error {
	if g.Ref.Zero() {
		return picket.Errorf(picket.EINVALID, "list group %s: it has no message yet", g.ID)
	}
	opts := append(RenderGroupList(g, from, members).msgOptions(), slack.MsgOptionTS(g.Ref.TS), postMetadata(postID))
	return s.call(ctx, "list group members in", g.Ref.Channel, func(ctx context.Context) error {
		_, _, err := s.api.PostMessageContext(ctx, g.Ref.Channel, opts...)
		return err
	})
}

// postEventType is the metadata event type of every message Picket posts
// for delivery; its payload's "id" is the picket.Post id.
const postEventType = "picket_post"

func postMetadata(id string) slack.MsgOption {
	return slack.MsgOptionMetadata(slack.SlackMetadata{EventType: postEventType, EventPayload: map[string]any{"id": id}})
}

// slackHistory is the part of the Web API that FindPost reads;
// *slack.Client implements it.
type slackHistory interface {
	GetConversationHistoryContext(ctx context.Context, params *slack.GetConversationHistoryParameters) (*slack.GetConversationHistoryResponse, error)
	GetConversationRepliesContext(ctx context.Context, params *slack.GetConversationRepliesParameters) ([]slack.Message, bool, string, error)
}

// findPages bounds how many pages of history FindPost reads.
const findPages = 5

// FindPost looks through channel's history since since (or the replies
// of the thread at thread) for a message whose metadata carries postID.
// It needs the channels:history (groups:history for private channels)
// scope; without it, it returns an error and the caller posts again.
func (s *Slack) FindPost(ctx context.Context, channel, thread, postID string, since time.Time) (picket.MessageRef, bool, error) {
	h, ok := s.api.(slackHistory)
	if !ok {
		return picket.MessageRef{}, false, picket.Errorf(picket.EUNSUPPORTED, "this Slack client cannot read history")
	}
	ch := channel
	s.mu.Lock()
	if id, ok := s.ids[channel]; ok {
		ch = id
	}
	s.mu.Unlock()
	oldest := fmt.Sprintf("%d.%06d", since.Unix(), since.Nanosecond()/1000)
	cursor := ""
	for range findPages {
		var msgs []slack.Message
		var more bool
		var err error
		if thread != "" {
			msgs, more, cursor, err = h.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
				ChannelID: ch, Timestamp: thread, Oldest: oldest, Cursor: cursor, Limit: 200, IncludeAllMetadata: true})
		} else {
			var resp *slack.GetConversationHistoryResponse
			resp, err = h.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
				ChannelID: ch, Oldest: oldest, Cursor: cursor, Limit: 200, IncludeAllMetadata: true})
			if resp != nil {
				msgs, more, cursor = resp.Messages, resp.HasMore, resp.ResponseMetaData.NextCursor
			}
		}
		if err != nil {
			return picket.MessageRef{}, false, fmt.Errorf("look for post %s in %s: %w", postID, channel, err)
		}
		for _, m := range msgs {
			if m.Metadata.EventType == postEventType {
				if id, _ := m.Metadata.EventPayload["id"].(string); id == postID {
					return picket.MessageRef{Channel: ch, TS: m.Timestamp}, true, nil
				}
			}
		}
		if !more || cursor == "" {
			break
		}
	}
	return picket.MessageRef{}, false, nil
}

// AnnounceAction replies in the thread of the alert at ref with the state
// of rec (see RenderActionReply). The reply is paced and retried like
// PostAlert and counts against the channel's pace. A zero ref is
// ENOTFOUND: there is no thread to reply in.
func (s *Slack) AnnounceAction(ctx context.Context, ref picket.MessageRef, rec picket.ActionRecord) error {
	if ref.Zero() {
		return picket.Errorf(picket.ENOTFOUND, "announce %s: the alert message is unknown", rec.Request.ID)
	}
	opts := append(RenderActionReply(rec).msgOptions(), slack.MsgOptionTS(ref.TS))
	return s.call(ctx, "reply in thread in", ref.Channel, func(ctx context.Context) error {
		_, _, err := s.api.PostMessageContext(ctx, ref.Channel, opts...)
		return err
	})
}

// PostEscalation posts a notice of an escalation to channel (see
// RenderEscalation), paced and retried like PostAlert.
func (s *Slack) PostEscalation(ctx context.Context, channel string, ref picket.MessageRef, f *picket.Finding, rec picket.ActionRecord) error {
	if channel == "" {
		return picket.Errorf(picket.EINVALID, "post escalation: no escalation channel is configured")
	}
	opts := RenderEscalation(ref, f, rec).msgOptions()
	var got string
	err := s.call(ctx, "post escalation to", channel, func(ctx context.Context) error {
		ch, _, err := s.api.PostMessageContext(ctx, channel, opts...)
		got = ch
		return err
	})
	if err == nil && got != "" && got != channel {
		s.learnID(channel, got)
	}
	return err
}

// msgOptions sends the message as fallback text plus one attachment with
// the colour bar and the blocks. The text is escaped already.
func (m Message) msgOptions() []slack.MsgOption {
	return []slack.MsgOption{
		slack.MsgOptionText(m.Text, false),
		slack.MsgOptionAttachments(slack.Attachment{
			Color:    m.Color,
			Fallback: m.Text,
			Blocks:   slack.Blocks{BlockSet: m.Blocks},
		}),
	}
}

// call runs fn, paced for channel, retrying what can be retried.
func (s *Slack) call(ctx context.Context, op, channel string, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		if err := s.pace(ctx, channel); err != nil {
			return fmt.Errorf("%s %s: %w", op, channel, err)
		}
		start := s.now()
		err := fn(ctx)
		var rl *slack.RateLimitedError
		s.calls.Observe(s.now().Sub(start).Seconds(), slackMethod(op), callOutcome(err, &rl))
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", op, channel, ctx.Err())
		}
		var wait time.Duration
		switch {
		case errors.As(err, &rl):
			wait = rl.RetryAfter
			if wait <= 0 {
				wait = backoff(attempt)
			}
		case transient(err):
			wait = backoff(attempt)
		default:
			return fmt.Errorf("%s %s: %w", op, channel, permanent(channel, err))
		}
		if attempt >= s.attempts {
			return fmt.Errorf("%s %s: %w", op, channel, &picket.Error{
				Code:    picket.EUNAVAILABLE,
				Message: fmt.Sprintf("Slack did not accept the message after %d attempts.", attempt),
				Err:     err,
			})
		}
		s.retries.Inc()
		s.log.Warn("slack call failed, retrying", "op", op, "channel", channel,
			"attempt", attempt, "wait", wait, "err", err)
		if rl != nil {
			// Everyone sending to this channel waits out the limit; pace
			// does the waiting.
			s.hold(channel, s.now().Add(wait))
			continue
		}
		if err := s.sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s %s: %w", op, channel, err)
		}
	}
}

// slackMethod names the Web API method behind one of call's operations.
func slackMethod(op string) string {
	switch {
	case strings.HasPrefix(op, "update "):
		return "chat.update"
	case strings.HasPrefix(op, "upload "):
		return "files.upload"
	default:
		return "chat.postMessage"
	}
}

// callOutcome labels a call's result for the Calls histogram; rl receives
// the rate-limit error when there is one.
func callOutcome(err error, rl **slack.RateLimitedError) string {
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, rl):
		return "rate_limited"
	default:
		return "error"
	}
}

// pace waits for the channel's next turn. Turns are handed out in call
// order, one per interval, so waiting callers are served first come, first
// served and none is dropped.
func (s *Slack) pace(ctx context.Context, channel string) error {
	s.mu.Lock()
	key := s.key(channel)
	now := s.now()
	slot := s.next[key]
	if slot.Before(now) {
		slot = now
	}
	s.next[key] = slot.Add(s.interval)
	s.mu.Unlock()
	if wait := slot.Sub(now); wait > 0 {
		return s.sleep(ctx, wait)
	}
	return ctx.Err()
}

// hold keeps the channel's next turn at until or later.
func (s *Slack) hold(channel string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := s.key(channel)
	if s.next[key].Before(until) {
		s.next[key] = until
	}
}

// learnID records that name is the channel Slack calls id, carrying the
// name's pace over to the id.
func (s *Slack) learnID(name, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[name]; ok {
		return
	}
	s.ids[name] = id
	if s.next[id].Before(s.next[name]) {
		s.next[id] = s.next[name]
	}
	delete(s.next, name)
}

// key is the pacing key of a channel; the caller holds s.mu.
func (s *Slack) key(channel string) string {
	if id, ok := s.ids[channel]; ok {
		return id
	}
	return channel
}

func backoff(attempt int) time.Duration {
	d := backoffBase
	for i := 1; i < attempt && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}

// transient reports whether err is worth retrying: a Slack server error, a
// 429 without Retry-After, or a network failure.
func transient(err error) bool {
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return sc.Code >= 500 || sc.Code == 429
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// permanent turns an error Slack will give again into a picket.Error whose
// message says what to do.
func permanent(channel string, err error) error {
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		var sc slack.StatusCodeError
		if errors.As(err, &sc) {
			return &picket.Error{Code: picket.EINVALID,
				Message: fmt.Sprintf("Slack answered HTTP %d.", sc.Code), Err: err}
		}
		return &picket.Error{Code: picket.EINTERNAL, Message: "Sending to Slack failed.", Err: err}
	}
	e := &picket.Error{Code: picket.EINVALID, Err: err,
		Message: fmt.Sprintf("Slack refused the message (%s).", se.Err)}
	switch se.Err {
	case "channel_not_found":
		e.Code = picket.ENOTFOUND
		e.Message = fmt.Sprintf("Slack channel %s was not found: check the routing configuration.", channel)
	case "not_in_channel", "is_archived", "channel_is_archived", "restricted_action":
		e.Code = picket.EUNAUTHORIZED
		e.Message = fmt.Sprintf("Picket cannot post in channel %s (%s): invite the bot or pick another channel.", channel, se.Err)
	case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "missing_scope":
		e.Code = picket.EUNAUTHORIZED
		e.Message = fmt.Sprintf("Slack rejected Picket's token (%s): check SLACK_BOT_TOKEN and the app's scopes.", se.Err)
	case "message_not_found", "cant_update_message", "edit_window_closed":
		e.Code = picket.ENOTFOUND
		e.Message = fmt.Sprintf("The Slack message to update is gone or cannot be edited (%s).", se.Err)
	}
	return e
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
