package bot_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/bot"
	"github.com/picketsec/picket/commands"
	"github.com/slack-go/slack/socketmode"
)

// waitFor is how long a Socket Mode test waits for something that should
// happen promptly before it fails; it bounds a broken test, it does not
// measure speed.
const waitFor = 20 * time.Second

// TestSocketMode drives RunSocketMode with a real socketmode client
// connected to slacktest's websocket: an interactive envelope built from the
// corpus button click is acknowledged with its envelope id and leads to
// Prepare, views.open and views.update; a slash command envelope is
// acknowledged at once and answered through its response_url.
func TestSocketMode(t *testing.T) {
	e := newEnv(t, nil, func(_ context.Context, a picket.Actor, text string) commands.Reply {
		return commands.Reply{Title: "Hello", Sections: []string{"hello " + a.ID + ": " + text}}
	})
	responses := newResponseServer(t)

	// slacktest forwards everything the client writes to SeenFeed, an
	// unbuffered channel: drain it, keeping the acknowledgements.
	acks := make(chan map[string]any, 16)
	go func() {
		for m := range e.slack.srv.SeenFeed {
			var v map[string]any
			if json.Unmarshal([]byte(m), &v) == nil && v["envelope_id"] != nil {
				acks <- v
			}
		}
	}()

	client := socketmode.New(e.api)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.bot.RunSocketMode(ctx, client) }()
	stopped := false
	t.Cleanup(func() {
		if stopped {
			return
		}
		cancel()
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Errorf("RunSocketMode did not return after cancel")
		}
	})

	envelope := func(id, typ string, payload any) string {
		b, err := json.Marshal(map[string]any{"envelope_id": id, "type": typ, "payload": payload, "accepts_response_payload": true})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var click map[string]any
	if err := json.Unmarshal(buttonPayload(t, bot.ActionQuarantineInstance, "gd-key-9"), &click); err != nil {
		t.Fatal(err)
	}
	// Delivered once the client has connected.
	e.slack.srv.SendToWebsocket(envelope("env-click", "interactive", click))

	ack := waitAck(t, acks)
	if ack["envelope_id"] != "env-click" || ack["payload"] != nil {
		t.Errorf("ack: got %v, want envelope env-click without payload", ack)
	}

	e.slack.srv.SendToWebsocket(envelope("env-cmd", "slash_commands", map[string]any{
		"command": "/picket", "text": "status", "user_id": "U2147483697", "user_name": "Steve", "channel_id": "C1",
		"response_url": responses.URL(),
	}))
	ack = waitAck(t, acks)
	wantPayload := map[string]any{"response_type": "ephemeral", "text": "Working on it…"}
	if ack["envelope_id"] != "env-cmd" || !equalJSON(ack["payload"], wantPayload) {
		t.Errorf("ack: got %v, want envelope env-cmd with payload %v", ack, wantPayload)
	}

	cancel()
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Errorf("RunSocketMode: got %v, want nil after cancel", err)
		}
	case <-time.After(waitFor):
		t.Fatalf("RunSocketMode did not return after cancel")
	}
	e.bot.Wait()

	posts := responses.Posts()
	if len(posts) != 1 || !equalJSON(posts[0].sectionTexts(), []string{"# Hello", "hello U2147483697: status"}) {
		t.Errorf("response_url posts: got %+v, want one answer to the slash command", posts)
	}
	prep := e.svc.Calls("Prepare")
	if len(prep) != 1 || prep[0].Kind != picket.ActionQuarantineInstance || prep[0].FindingKey != "gd-key-9" || prep[0].Actor.ID != buttonUser {
		t.Errorf("Prepare: got %+v, want quarantine_instance gd-key-9 by %s", prep, buttonUser)
	}
	if n := len(e.slack.Opens()); n != 1 {
		t.Errorf("views.open calls: got %d, want 1", n)
	}
	ups := e.slack.Updates()
	if len(ups) != 1 || !strings.Contains(viewText(t, ups[0]), "ec2:ModifyNetworkInterfaceAttribute") {
		t.Errorf("views.update: got %d calls, want 1 with the quarantine plan", len(ups))
	}
}

func waitAck(t *testing.T, acks <-chan map[string]any) map[string]any {
	t.Helper()
	select {
	case a := <-acks:
		return a
	case <-time.After(waitFor):
		t.Fatalf("no acknowledgement within %s", waitFor)
	}
	return nil
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
