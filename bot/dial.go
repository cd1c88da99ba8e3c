package bot

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Client returns a Slack Web API client for the bot token, carrying the
// app-level token Socket Mode needs. apiURL, when not empty, points it at
// another server (tests); it must end with "/".
func Client(botToken, appToken, apiURL string) SlackAPI {
	return newClient(botToken, appToken, apiURL)
}

func newClient(botToken, appToken, apiURL string) *slack.Client {
	opts := []slack.Option{slack.OptionHTTPClient(&http.Client{Timeout: 30 * time.Second})}
	if appToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(appToken))
	}
	if apiURL != "" {
		opts = append(opts, slack.OptionAPIURL(apiURL))
	}
	return slack.New(botToken, opts...)
}

// ServeSocketMode connects to Slack over Socket Mode with the app-level
// token and handles interactions and slash commands until ctx is done.
func (b *Bot) ServeSocketMode(ctx context.Context, botToken, appToken, apiURL string) error {
	return b.RunSocketMode(ctx, socketmode.New(newClient(botToken, appToken, apiURL)))
}

// Ping checks that Slack answers and accepts the bot token (auth.test).
func Ping(ctx context.Context, botToken, apiURL string) error {
	if _, err := newClient(botToken, "", apiURL).AuthTestContext(ctx); err != nil {
		return fmt.Errorf("slack auth.test: %w", err)
	}
	return nil
}
