package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/commands"
	"github.com/picketsec/picket/metrics"
	"github.com/slack-go/slack"
)

// Action ids of the buttons the bot answers. The four responses carry the
// finding key as their value; Undo carries the id of the request to undo;
// Approve and Reject carry the id of a pending request.
const (
	ActionDisableUser        = "picket.disable_user"
	ActionQuarantineInstance = "picket.quarantine_instance"
	ActionSuppress           = "picket.suppress"
	ActionEscalate           = "picket.escalate"
	ActionUndo               = "picket.undo"
	// ActionPatchInstance is Patch instance (Amazon Inspector findings on
	// an EC2 instance); its dialog offers the reboot option.
	ActionPatchInstance = "picket.patch_instance"
	ActionApprove       = "picket.approve"
	ActionReject        = "picket.reject"
	// ActionRespond is the menu beside each finding listed in a group's
	// thread: its chosen option's value is a response button's action id,
	// a space and the finding key, handled like that button's click.
	ActionRespond = "picket.respond"
	// ActionSuppressSimilar is a group message's Suppress similar button:
	// Suppress, with "suppress similar" already chosen in the dialog.
	ActionSuppressSimilar = "picket.suppress_similar"
)

// CallbackConfirm is the callback id of the plan dialog; its submission
// runs the planned request.
const CallbackConfirm = "picket.confirm"

// Timing limits.
const (
	// signatureWindow is how far a request timestamp may be from Picket's
	// clock, in either direction (Slack's documented window).
	signatureWindow = 5 * time.Minute
	// maxBody is the largest request body read.
	maxBody = 1 << 20
	// workTimeout bounds the background work of one interaction.
	workTimeout = 2 * time.Minute
	// groupsTTL is how long the user-group membership list is reused.
	groupsTTL = 5 * time.Minute
)

// SlackAPI is the part of the Slack Web API the bot calls, with
// slack-go's signatures so *slack.Client satisfies it.
type SlackAPI interface {
	OpenViewContext(ctx context.Context, triggerID string, view slack.ModalViewRequest) (*slack.ViewResponse, error)
	UpdateViewContext(ctx context.Context, view slack.ModalViewRequest, externalID, hash, viewID string) (*slack.ViewResponse, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error)
	GetUserGroupsContext(ctx context.Context, options ...slack.GetUserGroupsOption) ([]slack.UserGroup, error)
}

// *slack.Client is the SlackAPI used in production.
var _ SlackAPI = (*slack.Client)(nil)

// Records is what the bot reads from the store to check that a button was
// clicked on its finding's alert; *store.DB satisfies it.
type Records interface {
	Finding(key string) (picket.FindingRecord, bool, error)
	Action(requestID string) (picket.ActionRecord, bool, error)
}

// Options configure a Bot.
type Options struct {
	// Service authorizes, plans, runs and audits; required.
	Service picket.ResponseService
	// API is the Slack Web API (a *slack.Client); required.
	API SlackAPI
	// SigningSecret verifies HTTP requests; required for Handler, unused
	// in Socket Mode.
	SigningSecret string
	Logger        *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Commands answers a slash command's text for actor; production passes
	// commands.Run with its Deps. It runs after the acknowledgement, on a
	// context bounded to 60 seconds, and its reply is posted to the
	// command's response_url. Nil answers that slash commands are not
	// available yet.
	Commands func(ctx context.Context, actor picket.Actor, text string) commands.Reply
	// AllowResponseURL reports whether Picket may post a command's answer
	// to a response_url; AllowSlackResponseURL (https://hooks.slack.com/
	// only) when nil. A request naming any other URL is refused, so a
	// forged response_url cannot make Picket post elsewhere.
	AllowResponseURL func(rawURL string) bool
	// HTTPClient posts to response URLs; when nil, a client with a 15 s
	// timeout that follows no redirects.
	HTTPClient *http.Client
	// Records, when set, lets the bot check that a button was clicked on
	// its finding's alert (the message at the finding's Ref) or on a
	// message in that alert's thread, and refuse it otherwise. Production
	// passes the store.
	Records Records
	// TeamID and AppID, when set, are the only Slack workspace (or
	// Enterprise Grid organization) and app whose interactions and
	// commands are answered; others are refused.
	TeamID, AppID string
	// Refused counts refused requests (bad signature, stale, replayed,
	// other workspace or app, button not on its alert...); nil counts
	// nothing.
	Refused *metrics.Counter
	// RefusalAuditEvery is how often, at most, refused requests are summed
	// up in one audit entry (picket.ResponseService.RecordRejected); 10
	// minutes when zero. Wait writes the pending summary.
	RefusalAuditEvery time.Duration
	// Replays, when set, extends the replay guard of HTTP requests to
	// every replica sharing it: a verified signature is taken as a lease
	// (by a fresh owner) until it leaves the signature window, so a
	// request replayed to another replica is refused there too. Nil: the
	// guard is this process's own.
	Replays picket.LeaseStore
}

// Bot answers Slack interactions and slash commands.
type Bot struct {
	svc      picket.ResponseService
	api      SlackAPI
	secret   string
	log      *slog.Logger
	now      func() time.Time
	commands func(ctx context.Context, actor picket.Actor, text string) commands.Reply
	allowURL func(string) bool
	http     *http.Client
	records  Records
	teamID   string
	appID    string

	replays *replaySet
	shared  picket.LeaseStore // Options.Replays
	refused *refusals
	groups  *groupCache
	work    sync.WaitGroup
}

// New returns a Bot. Service and API are required.
func New(opts Options) (*Bot, error) {
	if opts.Service == nil {
		return nil, errors.New("new bot: a response service is required")
	}
	if opts.API == nil {
		return nil, errors.New("new bot: a Slack API client is required")
	}
	b := &Bot{
		svc:      opts.Service,
		api:      opts.API,
		secret:   opts.SigningSecret,
		log:      opts.Logger,
		now:      opts.Now,
		commands: opts.Commands,
		allowURL: opts.AllowResponseURL,
		http:     opts.HTTPClient,
		records:  opts.Records,
		teamID:   opts.TeamID,
		appID:    opts.AppID,
		replays:  newReplaySet(),
		shared:   opts.Replays,
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.commands == nil {
		b.commands = func(context.Context, picket.Actor, string) commands.Reply {
			return commands.Reply{Sections: []string{"Slash commands are not available yet."}}
		}
	}
	if b.allowURL == nil {
		b.allowURL = AllowSlackResponseURL
	}
	if b.http == nil {
		b.http = responseClient()
	}
	b.groups = &groupCache{api: opts.API, ttl: groupsTTL, now: b.now, log: b.log}
	every := opts.RefusalAuditEvery
	if every <= 0 {
		every = defaultRefusalAuditEvery
	}
	b.refused = &refusals{now: b.now, every: every, record: b.svc.RecordRejected, counter: opts.Refused, log: b.log}
	return b, nil
}

// Wait blocks until the background work of every interaction received so
// far has finished, then writes the audit entry summing up the requests
// refused since the last one. Call it after the server or Socket Mode loop
// stopped, for a graceful shutdown.
func (b *Bot) Wait() {
	b.work.Wait()
	b.refused.flush()
}

// goWork runs work in the background on a context that outlives the
// request that started it, bounded by workTimeout. The WaitGroup is
// incremented before goWork returns, so Wait called afterwards waits for it.
func (b *Bot) goWork(parent context.Context, what string, work func(ctx context.Context)) {
	if work == nil {
		return
	}
	b.work.Add(1)
	go func() {
		defer b.work.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), workTimeout)
		defer cancel()
		defer func() {
			if r := recover(); r != nil {
				b.log.Error("interaction work panicked", "work", what, "panic", fmt.Sprint(r))
			}
		}()
		work(ctx)
	}()
}

// actor returns the person behind an interaction with their user groups.
// A failed group lookup leaves Groups empty: role checks then rely on the
// user id alone.
func (b *Bot) actor(ctx context.Context, id, name string) picket.Actor {
	a := picket.Actor{ID: id, Name: name}
	groups, err := b.groups.of(ctx, id)
	if err != nil {
		b.log.Warn("look up Slack user groups", "user", id, "err", err)
		return a
	}
	a.Groups = groups
	return a
}

// ephemeral tells one person something only they see. text is plain text
// and is escaped here.
func (b *Bot) ephemeral(ctx context.Context, channelID, userID, text string) {
	if channelID == "" || userID == "" {
		b.log.Warn("no channel for an ephemeral reply", "user", userID)
		return
	}
	if _, err := b.api.PostEphemeralContext(ctx, channelID, userID, slack.MsgOptionText(escape(text), false)); err != nil {
		b.log.Warn("post ephemeral reply", "channel", channelID, "user", userID, "err", err)
	}
}

// Handler serves Slack's HTTP requests: POST /slack/interactions and POST
// /slack/commands. Everything else is 404.
func (b *Bot) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		switch r.URL.Path {
		case "/slack/interactions":
			b.serveInteraction(w, r)
		case "/slack/commands":
			b.serveCommand(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}
