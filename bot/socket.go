package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// socketShutdown bounds how long RunSocketMode waits for the client to
// close its connection after ctx is done.
const socketShutdown = 5 * time.Second

// RunSocketMode connects client to Slack and answers interactions and
// slash commands until ctx is done; it then returns nil. It returns an
// error when the client gives up connecting.
func (b *Bot) RunSocketMode(ctx context.Context, client *socketmode.Client) error {
	errc := make(chan error, 1)
	go func() { errc <- client.RunContext(ctx) }()
	for {
		select {
		case <-ctx.Done():
			select {
			case <-errc:
			case <-time.After(socketShutdown):
				b.log.Warn("socket mode client did not stop in time")
			}
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("socket mode: %w", err)
		case evt := <-client.Events:
			b.socketEvent(ctx, client, evt)
		}
	}
}

// socketEvent handles one Socket Mode event. Envelopes are acknowledged
// before any work starts.
func (b *Bot) socketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			b.log.Warn("socket mode interaction without a payload")
			return
		}
		ack, work := b.interaction(cb)
		if err := client.Ack(*evt.Request, ack); err != nil {
			b.log.Warn("acknowledge interaction", "err", err)
		}
		b.goWork(ctx, string(cb.Type), work)
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			b.log.Warn("socket mode slash command without a payload")
			return
		}
		ack, work := b.slashCommand(cmd)
		if err := client.Ack(*evt.Request, ack); err != nil {
			b.log.Warn("acknowledge slash command", "err", err)
		}
		b.goWork(ctx, "slash_command", work)
	case socketmode.EventTypeEventsAPI:
		if evt.Request != nil {
			if err := client.Ack(*evt.Request); err != nil {
				b.log.Warn("acknowledge event", "err", err)
			}
		}
	case socketmode.EventTypeConnecting:
		b.log.Debug("socket mode connecting")
	case socketmode.EventTypeConnected:
		b.log.Info("socket mode connected")
	case socketmode.EventTypeConnectionError:
		// Say why, so a mis-keyed token or a blocked proxy is found at
		// info level; the URL in the error (it carries the connection
		// ticket) is cut out.
		b.log.Warn("socket mode connection failed; retrying", connectionErrorAttrs(evt)...)
	case socketmode.EventTypeInvalidAuth:
		b.log.Error("socket mode: Slack refused the app token")
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		// The event's data can hold the raw envelope, whose payload
		// carries a response_url (a credential for posting into the
		// conversation) and whatever people typed: log only its kind and
		// ids.
		b.log.Warn("socket mode error", socketErrorAttrs(evt)...)
	default:
		b.log.Debug("socket mode event", "type", evt.Type)
	}
}

// urlPattern matches URLs in error text: a Socket Mode connection URL
// carries a ticket that must not reach the logs.
var urlPattern = regexp.MustCompile(`(?i)\b(?:wss?|https?)://[^\s"']+`)

// connectionErrorAttrs says why a Socket Mode connection failed: the
// attempt, the wait before the next, the error's Go type and its text with
// every URL replaced by "[url]".
func connectionErrorAttrs(evt socketmode.Event) []any {
	var err error
	attrs := []any{}
	switch d := evt.Data.(type) {
	case *slack.ConnectionErrorEvent:
		attrs = append(attrs, "attempt", d.Attempt, "retry_in", d.Backoff)
		err = d.ErrorObj
	case error:
		err = d
	}
	if err == nil {
		return append(attrs, "reason", "unknown")
	}
	return append(attrs, "cause", fmt.Sprintf("%T", err), "reason", clip(urlPattern.ReplaceAllString(err.Error(), "[url]"), 300))
}

// socketErrorAttrs describes a Socket Mode error event by its type, the
// Go type of its cause, and the type and envelope id of the message
// concerned, never its content.
func socketErrorAttrs(evt socketmode.Event) []any {
	attrs := []any{"type", string(evt.Type)}
	switch d := evt.Data.(type) {
	case *socketmode.ErrorBadMessage:
		attrs = append(attrs, "cause", fmt.Sprintf("%T", d.Cause))
		var head struct {
			Type       string `json:"type"`
			EnvelopeID string `json:"envelope_id"`
		}
		if json.Unmarshal(d.Message, &head) == nil {
			attrs = append(attrs, "envelope_type", clip(head.Type, 64), "envelope_id", clip(head.EnvelopeID, 64))
		}
	case *socketmode.ErrorWriteFailed:
		attrs = append(attrs, "cause", fmt.Sprintf("%T", d.Cause))
		if d.Response != nil {
			attrs = append(attrs, "envelope_id", clip(d.Response.EnvelopeID, 64))
		}
	case *slack.IncomingEventError:
		attrs = append(attrs, "cause", fmt.Sprintf("%T", d.ErrorObj))
	default:
		attrs = append(attrs, "data", fmt.Sprintf("%T", evt.Data))
	}
	if evt.Request != nil {
		attrs = append(attrs, "envelope_type", clip(evt.Request.Type, 64), "envelope_id", clip(evt.Request.EnvelopeID, 64))
	}
	return attrs
}
