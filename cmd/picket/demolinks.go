package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/notifiers"
)

// blockKitBuilder is Slack's Block Kit Builder; a message in the URL's
// fragment opens in it, drawn by Slack's own renderer.
const blockKitBuilder = "https://app.slack.com/block-kit-builder/#"

// builderURL returns a link that opens m in the Block Kit Builder as Picket
// posts it: the fallback text and one attachment with the colour bar and
// the blocks.
func builderURL(m notifiers.Message) (string, error) {
	payload := map[string]any{
		"attachments": []map[string]any{{"color": m.Color, "blocks": m.Blocks}},
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("encode blocks for the Block Kit Builder: %w", err)
	}
	return blockKitBuilder + url.PathEscape(string(b)), nil
}

// builderLinks is the demo's printer: after each alert, group message or
// thread listing the terminal shows, it prints a link that opens the same
// message in Slack's Block Kit Builder, so the demo shows what Slack would
// show without a workspace.
type builderLinks struct {
	*notifiers.Terminal
	w  io.Writer
	mu sync.Mutex // one message and its link together
}

func (b *builderLinks) link(m notifiers.Message) error {
	u, err := builderURL(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(b.w, "  ↗ in Slack (Block Kit Builder): %s\n\n", u)
	return err
}

// PostAlert prints the alert and its link.
func (b *builderLinks) PostAlert(ctx context.Context, a picket.Alert) (picket.MessageRef, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ref, err := b.Terminal.PostAlert(ctx, a)
	if err != nil {
		return ref, err
	}
	return ref, b.link(notifiers.Render(a))
}

// UpdateAlert prints the updated alert and its link.
func (b *builderLinks) UpdateAlert(ctx context.Context, ref picket.MessageRef, a picket.Alert) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.Terminal.UpdateAlert(ctx, ref, a); err != nil {
		return err
	}
	return b.link(notifiers.Render(a))
}

// PostGroup prints the group message and its link.
func (b *builderLinks) PostGroup(ctx context.Context, g picket.Group, postID string) (picket.MessageRef, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ref, err := b.Terminal.PostGroup(ctx, g, postID)
	if err != nil {
		return ref, err
	}
	return ref, b.link(notifiers.RenderGroup(g))
}

// UpdateGroup prints the updated group message and its link.
func (b *builderLinks) UpdateGroup(ctx context.Context, g picket.Group) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.Terminal.UpdateGroup(ctx, g); err != nil {
		return err
	}
	return b.link(notifiers.RenderGroup(g))
}

// PostGroupList prints the thread listing and its link.
func (b *builderLinks) PostGroupList(ctx context.Context, g picket.Group, from int, members []picket.FindingRecord, postID string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.Terminal.PostGroupList(ctx, g, from, members, postID); err != nil {
		return err
	}
	return b.link(notifiers.RenderGroupList(g, from, members))
}

// describeRouting says in words where cfg sends findings: the demo's
// built-in routing, printed before its alerts.
func describeRouting(cfg config.Config) string {
	var b strings.Builder
	b.WriteString("Routing (built in: the demo reads no configuration file):\n")
	for _, r := range cfg.Routes {
		fmt.Fprintf(&b, "  route %q: findings of %s and above → %s", r.Name, r.Severity(), r.Channel)
		if r.MentionCritical != "" {
			fmt.Fprintf(&b, ", Critical ones mentioning the user group %s", r.MentionCritical)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "  every other finding of %s and above → %s (the default channel); below that, recorded and not posted\n",
		cfg.Slack.DefaultMinSeverityLevel(), cfg.Slack.DefaultChannel)
	if cfg.Delivery.Grouping {
		fmt.Fprintf(&b, "  %d or more findings of one type and account waiting at once (up to %s) → one group message, members listed in its thread\n",
			cfg.Delivery.GroupMin, cfg.Delivery.GroupMaxSeverity)
	}
	return b.String()
}
