package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/commands"
	"github.com/slack-go/slack"
)

// Limits of slash-command answers.
const (
	// commandTimeout bounds the work of one slash command, from the
	// acknowledgement to the last response_url post.
	commandTimeout = 60 * time.Second
	// maxResponses is how many times Slack accepts a command's
	// response_url.
	maxResponses = 5
	// maxMessageChars is the most section text one answer message holds.
	maxMessageChars = 12000
	// maxHeader is the most characters a header block holds.
	maxHeader = 150
	// responseTimeout bounds one response_url post.
	responseTimeout = 15 * time.Second
)

// workingText is the acknowledgement of a slash command: the answer
// follows through the response_url.
const workingText = "Working on it…"

// AllowSlackResponseURL is the default Options.AllowResponseURL: only
// https URLs on hooks.slack.com, where Slack's response URLs live.
func AllowSlackResponseURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "https" && u.Host == "hooks.slack.com" && u.User == nil
}

// commandReply is the acknowledgement of a slash command.
type commandReply struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

// responseMessage is one answer posted to a response_url.
type responseMessage struct {
	ResponseType string        `json:"response_type"`
	Text         string        `json:"text"`
	Blocks       []slack.Block `json:"blocks,omitempty"`
}

// slashCommand acknowledges a slash command at once and returns the work
// that answers it through its response_url. A response_url that is not
// allowed is refused: the command does not run, and the acknowledgement
// says why.
func (b *Bot) slashCommand(cmd slack.SlashCommand) (commandReply, func(ctx context.Context)) {
	user, name, text, responseURL := cmd.UserID, cmd.UserName, cmd.Text, cmd.ResponseURL
	if reason, detail := b.foreign(cmd.TeamID, cmd.EnterpriseID, cmd.APIAppID); reason != "" {
		b.refused.add(reason, detail, "")
		return commandReply{ResponseType: "ephemeral", Text: "This Picket does not answer commands from here."}, nil
	}
	if !b.allowResponseURL(responseURL) {
		detail := "slash command with a response_url Picket does not post to"
		if responseURL == "" {
			detail = "slash command without a response_url"
		}
		b.log.Warn("refused slash command", "user", clip(user, 32), "reason", detail)
		b.svc.RecordRejected(picket.Actor{ID: clip(user, 32), Name: clip(name, 64)}, detail)
		return commandReply{ResponseType: "ephemeral", Text: "Picket cannot answer this command: Slack did not give it a reply address it trusts."}, nil
	}
	return commandReply{ResponseType: "ephemeral", Text: workingText}, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, commandTimeout)
		defer cancel()
		reply := b.runCommand(ctx, user, name, text)
		b.respond(ctx, responseURL, user, reply)
	}
}

// runCommand runs the command handler for the person, bounded by ctx. A
// handler that panics or outlives ctx gets a sentence instead of its
// answer.
func (b *Bot) runCommand(ctx context.Context, user, name, text string) commands.Reply {
	done := make(chan commands.Reply, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				b.log.Error("slash command panicked", "user", user, "panic", fmt.Sprint(r))
				done <- failure("Picket failed to answer that command; the details are in its logs.")
			}
		}()
		done <- b.commands(ctx, b.actor(ctx, user, name), text)
	}()
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		b.log.Warn("slash command timed out", "user", user, "after", commandTimeout)
		return failure("Picket could not answer within " + strconv.Itoa(int(commandTimeout/time.Second)) + " seconds; try again in a moment.")
	}
}

// failure is a private reply of one sentence (plain text, escaped here).
func failure(text string) commands.Reply {
	return commands.Reply{Sections: []string{escape(text)}}
}

// respond posts reply to responseURL, split within Slack's limits, at most
// maxResponses messages; when the answer needs more, the last one says it
// was cut.
func (b *Bot) respond(ctx context.Context, responseURL, user string, reply commands.Reply) {
	parts := commands.Split(reply, maxMessageChars)
	n := min(len(parts), maxResponses)
	for i, part := range parts[:n] {
		title := part.Title
		if len(parts) > 1 && title != "" {
			title = fmt.Sprintf("%s (%d of %d)", title, i+1, len(parts))
		}
		note := ""
		if i == n-1 && len(parts) > n {
			note = fmt.Sprintf("The answer was cut: Slack takes at most %d replies to a command, and %d more were not sent. Ask for less, e.g. one check or a smaller audit.", maxResponses, len(parts)-n)
		}
		msg := renderReply(part, title, note)
		if err := b.post(ctx, responseURL, msg); err != nil {
			b.log.Warn("answer slash command", "user", user, "part", i+1, "of", len(parts), "err", err)
			return
		}
	}
}

// renderReply turns one part of a reply into a message: a header with the
// title, a section per reply section (already escaped by commands), and a
// context note when one is given.
func renderReply(r commands.Reply, title, note string) responseMessage {
	msg := responseMessage{ResponseType: "ephemeral"}
	if r.Public {
		msg.ResponseType = "in_channel"
	}
	if title != "" {
		// Header text is plain text: Slack parses no mentions or links
		// in it, so it needs no escaping, only the length limit.
		msg.Blocks = append(msg.Blocks, slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, clip(title, maxHeader), false, false)))
		msg.Text = escape(clip(title, maxHeader))
	}
	for _, s := range r.Sections {
		msg.Blocks = append(msg.Blocks, slack.NewSectionBlock(mrkdwn(s), nil, nil))
	}
	if note != "" {
		msg.Blocks = append(msg.Blocks, slack.NewContextBlock("", mrkdwn(escape(note))))
	}
	if msg.Text == "" && len(r.Sections) > 0 {
		// The fallback (notifications, screen readers) is the start of
		// the first section, which is mrkdwn and already escaped.
		msg.Text = clipEscaped(r.Sections[0], 300)
	}
	return msg
}

// clipEscaped shortens escaped text to at most n runes without cutting an
// entity such as "&amp;" in half.
func clipEscaped(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := make([]rune, 0, n)
	for _, c := range s {
		if len(r) == n-1 {
			break
		}
		r = append(r, c)
	}
	for i := len(r) - 1; i >= 0 && i >= len(r)-5; i-- {
		if r[i] == ';' {
			break
		}
		if r[i] == '&' {
			r = r[:i]
			break
		}
	}
	return string(r) + "…"
}

// post sends one message to a response_url. Errors never include the URL,
// which is a credential for posting into the conversation.
func (b *Bot) post(ctx context.Context, responseURL string, msg responseMessage) error {
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode command answer: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, responseTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
	if err != nil {
		return errors.New("build response_url request: malformed URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("post to response_url: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post to response_url: Slack answered %s", resp.Status)
	}
	return nil
}

// allowResponseURL applies Options.AllowResponseURL.
func (b *Bot) allowResponseURL(raw string) bool {
	return raw != "" && b.allowURL(raw)
}

// responseClient is the default client for response_url posts. It does
// not follow redirects, so an allowed URL cannot lead elsewhere.
func responseClient() *http.Client {
	return &http.Client{
		Timeout:       responseTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
