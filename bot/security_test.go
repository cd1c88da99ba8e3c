package bot_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/bot"
	"github.com/picketsec/picket/commands"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// mrkdwnObjects returns every text object of type mrkdwn under v.
func mrkdwnObjects(v any) []map[string]any {
	var out []map[string]any
	switch x := v.(type) {
	case map[string]any:
		if x["type"] == "mrkdwn" {
			out = append(out, x)
		}
		for _, c := range x {
			out = append(out, mrkdwnObjects(c)...)
		}
	case []any:
		for _, c := range x {
			out = append(out, mrkdwnObjects(c)...)
		}
	}
	return out
}

// TestMrkdwnIsVerbatim proves that slash-command answers and plan dialogs
// use verbatim mrkdwn, as alerts do, so Slack links no bare URL, #channel
// or @name that came from a finding or a command's input.
func TestMrkdwnIsVerbatim(t *testing.T) {
	t.Run("plan dialog", func(t *testing.T) {
		e := newEnv(t, nil, nil)
		e.interact(t, buttonPayload(t, bot.ActionSuppress, "gd-key-1"))
		e.bot.Wait()
		views := append(e.slack.Opens(), e.slack.Updates()...)
		if len(views) != 2 {
			t.Fatalf("views: got %d, want the planning and the plan dialog", len(views))
		}
		for i, v := range views {
			objs := mrkdwnObjects(v["view"])
			if len(objs) == 0 {
				t.Errorf("view %d: no mrkdwn text to check", i)
			}
			for _, o := range objs {
				if o["verbatim"] != true {
					t.Errorf("view %d: mrkdwn %q: got verbatim %v, want true", i, o["text"], o["verbatim"])
				}
			}
		}
	})
	t.Run("slash command answer", func(t *testing.T) {
		e := newEnv(t, nil, func(context.Context, picket.Actor, string) commands.Reply {
			sections := []string{"see https://example.com and #general"}
			for range 6 {
				sections = append(sections, strings.Repeat("x", 11000))
			}
			return commands.Reply{Title: "Report", Sections: sections}
		})
		rs := newResponseServer(t)
		e.command(t, commandBody(t, corpusCommand, "posture", rs.URL()))
		e.bot.Wait()
		posts := rs.Posts()
		if len(posts) == 0 {
			t.Fatal("no answer posted")
		}
		n := 0
		for i, p := range posts {
			b, _ := json.Marshal(p.Msg.Blocks)
			var blocks any
			_ = json.Unmarshal(b, &blocks)
			for _, o := range mrkdwnObjects(blocks) {
				n++
				if o["verbatim"] != true {
					t.Errorf("post %d: mrkdwn %.40q: got verbatim %v, want true", i, o["text"], o["verbatim"])
				}
			}
		}
		if n < 2 {
			t.Errorf("mrkdwn objects checked: got %d, want sections and the cut note", n)
		}
	})
}

// TestForeignWorkspaceOrApp proves that, when the workspace and app are
// configured, a request signed with the right secret but naming another
// workspace or app does nothing.
func TestForeignWorkspaceOrApp(t *testing.T) {
	// The corpus click comes from team T9TK3CUKW, app AABA1ABCD; the
	// corpus command from team T0001 (enterprise E0001), app A123456.
	tests := []struct {
		name       string
		team, app  string
		wantAction bool
		wantReason string
	}{
		{"none configured", "", "", true, ""},
		{"same team and app", "T9TK3CUKW", "AABA1ABCD", true, ""},
		{"other team", "T0OTHER", "", false, "other Slack workspace 1"},
		{"other app", "", "A0OTHER", false, "other Slack app 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, nil, func(o *bot.Options) { o.TeamID, o.AppID = tt.team, tt.app })
			if resp := e.interact(t, buttonPayload(t, bot.ActionDisableUser, "gd-key-1")); resp.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.Code)
			}
			e.bot.Wait()
			if got := len(e.svc.Calls("Prepare")) == 1; got != tt.wantAction {
				t.Errorf("planned: got %v, want %v", got, tt.wantAction)
			}
			rej := e.svc.Calls("RecordRejected")
			if tt.wantReason == "" {
				if len(rej) != 0 {
					t.Errorf("RecordRejected: got %+v, want none", rej)
				}
				return
			}
			if len(rej) != 1 || !strings.Contains(rej[0].Detail, tt.wantReason) {
				t.Errorf("RecordRejected: got %+v, want a summary with %q", rej, tt.wantReason)
			}
			if n := len(e.slack.Opens()); n != 0 {
				t.Errorf("views.open calls: got %d, want 0", n)
			}
		})
	}
	t.Run("slash command from another workspace", func(t *testing.T) {
		ran := false
		e := newEnv(t, nil, func(context.Context, picket.Actor, string) commands.Reply { ran = true; return commands.Reply{} },
			func(o *bot.Options) { o.TeamID = "T9TK3CUKW" })
		rs := newResponseServer(t)
		resp := e.command(t, commandBody(t, corpusCommand, "posture", rs.URL()))
		e.bot.Wait()
		if ran || len(rs.Posts()) != 0 || !strings.Contains(resp.Body.String(), "does not answer commands from here") {
			t.Errorf("command from T0001: ran %v, %d posts, ack %s; want refused", ran, len(rs.Posts()), resp.Body.String())
		}
	})
	t.Run("slash command from the configured organization", func(t *testing.T) {
		e := newEnv(t, nil, func(context.Context, picket.Actor, string) commands.Reply {
			return commands.Reply{Sections: []string{"ok"}}
		},
			func(o *bot.Options) { o.TeamID, o.AppID = "E0001", "A123456" })
		rs := newResponseServer(t)
		e.command(t, commandBody(t, corpusCommand, "posture", rs.URL()))
		e.bot.Wait()
		if len(rs.Posts()) != 1 {
			t.Errorf("posts: got %d, want the answer", len(rs.Posts()))
		}
	})
}

// records is a fake store of findings and action requests.
type records struct {
	findings map[string]picket.FindingRecord
	actions  map[string]picket.ActionRecord
	err      error
}

func (r records) Finding(key string) (picket.FindingRecord, bool, error) {
	f, ok := r.findings[key]
	return f, ok, r.err
}

func (r records) Action(id string) (picket.ActionRecord, bool, error) {
	a, ok := r.actions[id]
	return a, ok, r.err
}

// TestButtonMustBeOnItsAlert proves that a response button acts only when
// clicked on its finding's alert or in that alert's thread (where the
// approvals, results and, for a group message, the per-finding replies
// are), never from a message elsewhere that carries a copied button.
func TestButtonMustBeOnItsAlert(t *testing.T) {
	// The corpus button is on message 1548261231.000200 in CBR2V3XEX; the
	// corpus thread click is on 1693635296.000500 in thread
	// 1693616242.466609 of C111.
	const buttonTS, threadTS = "1548261231.000200", "1693616242.466609"
	find := func(ch, ts string) map[string]picket.FindingRecord {
		return map[string]picket.FindingRecord{"gd-key-1": {Finding: picket.Finding{Key: "gd-key-1"}, Ref: picket.MessageRef{Channel: ch, TS: ts}}}
	}
	req5 := map[string]picket.ActionRecord{"req-5": {Request: picket.ActionRequest{ID: "req-5", FindingKey: "gd-key-1"}}}
	threadClick := func(t *testing.T, actionID, value string) []byte {
		m := readCorpus(t, corpusThread)
		act := m["actions"].([]any)[0].(map[string]any)
		act["action_id"], act["value"] = actionID, value
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name    string
		recs    records
		payload func(t *testing.T) []byte
		method  string // the service call a passing click makes
		wantOK  bool
	}{
		{"on the alert", records{findings: find(buttonChannel, buttonTS)},
			func(t *testing.T) []byte { return buttonPayload(t, bot.ActionDisableUser, "gd-key-1") }, "Prepare", true},
		{"other message in the channel", records{findings: find(buttonChannel, "1548261231.000999")},
			func(t *testing.T) []byte { return buttonPayload(t, bot.ActionDisableUser, "gd-key-1") }, "Prepare", false},
		{"same ts in another channel", records{findings: find("C0OTHER", buttonTS)},
			func(t *testing.T) []byte { return buttonPayload(t, bot.ActionDisableUser, "gd-key-1") }, "Prepare", false},
		{"finding never posted", records{findings: find("", "")},
			func(t *testing.T) []byte { return buttonPayload(t, bot.ActionDisableUser, "gd-key-1") }, "Prepare", false},
		{"unknown finding", records{},
			func(t *testing.T) []byte { return buttonPayload(t, bot.ActionDisableUser, "gd-key-1") }, "Prepare", false},
		{"store fails", records{findings: find(buttonChannel, buttonTS), err: errors.New("disk on fire")},
			func(t *testing.T) []byte { return buttonPayload(t, bot.ActionDisableUser, "gd-key-1") }, "Prepare", false},
		{"reply in the alert's thread (group message)", records{findings: find("C111", threadTS)},
			func(t *testing.T) []byte { return threadClick(t, bot.ActionEscalate, "gd-key-1") }, "Prepare", true},
		{"reply in another thread", records{findings: find("C111", "1693616242.000001")},
			func(t *testing.T) []byte { return threadClick(t, bot.ActionEscalate, "gd-key-1") }, "Prepare", false},
		{"approve in the alert's thread", records{findings: find("C111", threadTS), actions: req5},
			func(t *testing.T) []byte { return threadClick(t, bot.ActionApprove, "req-5") }, "Approve", true},
		{"approve elsewhere", records{findings: find("C222", threadTS), actions: req5},
			func(t *testing.T) []byte { return threadClick(t, bot.ActionApprove, "req-5") }, "Approve", false},
		{"reject of an unknown request", records{findings: find("C111", threadTS)},
			func(t *testing.T) []byte { return threadClick(t, bot.ActionReject, "req-5") }, "Reject", false},
		{"undo on the alert", records{findings: find(buttonChannel, buttonTS), actions: map[string]picket.ActionRecord{"req-9": req5["req-5"]}},
			func(t *testing.T) []byte { return buttonPayload(t, bot.ActionUndo, "req-9") }, "Prepare", true},
		{"undo elsewhere", records{findings: find(buttonChannel, "1.2"), actions: map[string]picket.ActionRecord{"req-9": req5["req-5"]}},
			func(t *testing.T) []byte { return buttonPayload(t, bot.ActionUndo, "req-9") }, "Prepare", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, nil, func(o *bot.Options) { o.Records = tt.recs })
			if resp := e.interact(t, tt.payload(t)); resp.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.Code)
			}
			e.bot.Wait()
			if got := len(e.svc.Calls(tt.method)) == 1; got != tt.wantOK {
				t.Fatalf("%s called: got %v, want %v", tt.method, got, tt.wantOK)
			}
			rej := e.svc.Calls("RecordRejected")
			if tt.wantOK {
				if len(rej) != 0 {
					t.Errorf("RecordRejected: got %+v, want none", rej)
				}
				return
			}
			if len(rej) != 1 || !strings.Contains(rej[0].Detail, "button not on the finding's alert 1") {
				t.Errorf("RecordRejected: got %+v, want a summary with the refused click", rej)
			}
			if n := len(e.slack.Opens()); n != 0 {
				t.Errorf("views.open calls: got %d, want 0", n)
			}
			eph := e.slack.Ephemerals()
			if len(eph) != 1 || !strings.Contains(eph[0].Get("text"), "not on the finding") {
				t.Errorf("ephemeral: got %v, want the refusal", eph)
			}
		})
	}
}

// TestSocketModeErrorsDoNotLogEnvelope proves that a Socket Mode envelope
// Picket cannot parse is logged by its type and id only: its payload holds
// a response_url, which lets anyone post into the conversation.
func TestSocketModeErrorsDoNotLogEnvelope(t *testing.T) {
	logs := &logBuffer{}
	e := newEnv(t, nil, nil, func(o *bot.Options) { o.Logger = slogTo(logs) })
	go func() {
		for range e.slack.srv.SeenFeed {
		}
	}()
	client := socketmode.New(e.api)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.bot.RunSocketMode(ctx, client) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Errorf("RunSocketMode did not return after cancel")
		}
	}()
	const secretURL = "https://hooks.slack.com/actions/T0001/123/SECRETTOKEN"
	// "user" must be an object: the payload does not decode, and slack-go
	// reports the whole raw message as a bad message.
	e.slack.srv.SendToWebsocket(`{"envelope_id":"env-bad-1","type":"interactive","accepts_response_payload":true,` +
		`"payload":{"type":"block_actions","user":"U1","response_url":"` + secretURL + `","text":"private words"}}`)
	deadline := time.Now().Add(waitFor)
	for !strings.Contains(logs.String(), "socket mode error") {
		if time.Now().After(deadline) {
			t.Fatalf("no socket mode error logged; logs:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	for _, bad := range []string{"SECRETTOKEN", "hooks.slack.com", "private words"} {
		// fmt prints a json.RawMessage as a list of byte values: check
		// that form too.
		asBytes := strings.Trim(fmt.Sprint([]byte(bad)), "[]")
		if strings.Contains(out, bad) || strings.Contains(out, asBytes) {
			t.Errorf("log holds %q:\n%s", bad, out)
		}
	}
	for _, good := range []string{"type=error_bad_message", "envelope_id=env-bad-1", "envelope_type=interactive"} {
		if !strings.Contains(out, good) {
			t.Errorf("log lacks %q:\n%s", good, out)
		}
	}
}

// TestSocketModeConnectionFailureSaysWhy: a failed connection is logged at
// warn level with its cause, and without the connection URL's ticket.
func TestSocketModeConnectionFailureSaysWhy(t *testing.T) {
	cause := fmt.Errorf("dial wss://wss-primary.slack.com/link/?ticket=SECRETTICKET&app_id=A1: %w", errors.New("connect: connection refused"))
	evt := socketmode.Event{Type: socketmode.EventTypeConnectionError,
		Data: &slack.ConnectionErrorEvent{Attempt: 3, Backoff: 4 * time.Second, ErrorObj: cause}}
	logs := &logBuffer{}
	slogTo(logs).Warn("socket mode connection failed; retrying", bot.ConnectionErrorAttrs(evt)...)
	out := logs.String()
	for _, want := range []string{"connection refused", "attempt=3", "retry_in=4s", "[url]"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SECRETTICKET") || strings.Contains(out, "wss-primary") {
		t.Errorf("log holds the connection URL:\n%s", out)
	}
}
