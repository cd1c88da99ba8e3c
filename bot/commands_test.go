package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/bot"
	"github.com/picketsec/picket/commands"
)

// More corpus slash-command bodies (copied from /work/shared/corpus/slack).
const (
	corpusCommandEmpty      = "slash_command_real_modified_empty_text.form.txt"
	corpusCommandEnterprise = "slash_command_org_level_enterprise_install.form.txt"
)

// responsePost is one message posted to a response_url.
type responsePost struct {
	Path        string
	ContentType string
	Msg         struct {
		ResponseType string           `json:"response_type"`
		Text         string           `json:"text"`
		Blocks       []map[string]any `json:"blocks"`
	}
}

// sectionTexts returns the text of the post's blocks in order, a header's
// prefixed "# " and a context note's prefixed "note: ".
func (p responsePost) sectionTexts() []string {
	var out []string
	for _, b := range p.Msg.Blocks {
		switch b["type"] {
		case "header", "section":
			txt, _ := b["text"].(map[string]any)
			s, _ := txt["text"].(string)
			if b["type"] == "header" {
				s = "# " + s
			}
			out = append(out, s)
		case "context":
			els, _ := b["elements"].([]any)
			for _, e := range els {
				m, _ := e.(map[string]any)
				s, _ := m["text"].(string)
				out = append(out, "note: "+s)
			}
		}
	}
	return out
}

// responseServer stands for Slack's response_url endpoint on 127.0.0.1.
type responseServer struct {
	srv   *httptest.Server
	mu    sync.Mutex
	posts []responsePost
	// status is what the server answers (200 when 0).
	status int
}

func newResponseServer(t *testing.T) *responseServer {
	t.Helper()
	rs := &responseServer{}
	rs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := responsePost{Path: r.URL.Path, ContentType: r.Header.Get("Content-Type")}
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost {
			t.Errorf("response_url: got method %s, want POST", r.Method)
		}
		if err := json.Unmarshal(b, &p.Msg); err != nil {
			t.Errorf("response_url: decode body: %v", err)
		}
		rs.mu.Lock()
		rs.posts = append(rs.posts, p)
		status := rs.status
		rs.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(rs.srv.Close)
	return rs
}

// URL is the response_url a test request carries.
func (rs *responseServer) URL() string { return rs.srv.URL + "/commands/1234/5678" }

func (rs *responseServer) Posts() []responsePost {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]responsePost(nil), rs.posts...)
}

// commandBody is a corpus slash-command body with its text and
// response_url replaced.
func commandBody(t *testing.T, name, text, responseURL string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	form, err := url.ParseQuery(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	form.Set("text", text)
	form.Set("response_url", responseURL)
	return form.Encode()
}

// command sends a signed slash command and returns the acknowledgement.
func (e *env) command(t *testing.T, body string) *httptest.ResponseRecorder {
	t.Helper()
	return e.serve(sign(t, "/slack/commands", body, testSecret, e.sent))
}

const workingAck = `{"response_type":"ephemeral","text":"Working on it…"}`

func TestSlashCommandHTTP(t *testing.T) {
	type seen struct {
		actor picket.Actor
		text  string
	}
	tests := []struct {
		name      string
		corpus    string
		text      string
		reply     commands.Reply
		nilCmds   bool
		panics    bool
		wantSeen  seen
		wantType  string
		wantTexts []string
	}{
		{
			name: "private answer", corpus: corpusCommand, text: "posture 123456789012",
			reply:     commands.Reply{Title: "Posture <score>", Sections: []string{"*Score* &lt;50%&gt;", "second"}},
			wantSeen:  seen{picket.Actor{ID: "U2147483697", Name: "Steve"}, "posture 123456789012"},
			wantType:  "ephemeral",
			wantTexts: []string{"# Posture <score>", "*Score* &lt;50%&gt;", "second"},
		},
		{
			name: "public answer", corpus: corpusCommand, text: "status public",
			reply:     commands.Reply{Public: true, Title: "Status", Sections: []string{"ok"}},
			wantSeen:  seen{picket.Actor{ID: "U2147483697", Name: "Steve"}, "status public"},
			wantType:  "in_channel",
			wantTexts: []string{"# Status", "ok"},
		},
		{
			name: "enterprise install", corpus: corpusCommandEnterprise, text: "audit 5",
			reply:     commands.Reply{Title: "Audit", Sections: []string{"entries"}},
			wantSeen:  seen{picket.Actor{ID: "W111", Name: "primary-owner"}, "audit 5"},
			wantType:  "ephemeral",
			wantTexts: []string{"# Audit", "entries"},
		},
		{
			name: "no handler", corpus: corpusCommand, text: "help", nilCmds: true,
			wantType: "ephemeral", wantTexts: []string{"Slash commands are not available yet."},
		},
		{
			name: "handler panics", corpus: corpusCommand, text: "boom", panics: true,
			wantSeen: seen{picket.Actor{ID: "U2147483697", Name: "Steve"}, "boom"},
			wantType: "ephemeral", wantTexts: []string{"Picket failed to answer that command; the details are in its logs."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got seen
			var deadline time.Time
			cmds := func(ctx context.Context, a picket.Actor, text string) commands.Reply {
				got = seen{a, text}
				deadline, _ = ctx.Deadline()
				if tt.panics {
					panic("handler bug")
				}
				return tt.reply
			}
			if tt.nilCmds {
				cmds = nil
			}
			e := newEnv(t, nil, cmds)
			rs := newResponseServer(t)
			resp := e.command(t, commandBody(t, tt.corpus, tt.text, rs.URL()))
			if resp.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.Code)
			}
			if b := strings.TrimSpace(resp.Body.String()); b != workingAck {
				t.Errorf("acknowledgement: got %s, want %s", b, workingAck)
			}
			e.bot.Wait()
			if !tt.nilCmds {
				if got.actor.ID != tt.wantSeen.actor.ID || got.actor.Name != tt.wantSeen.actor.Name || got.text != tt.wantSeen.text {
					t.Errorf("handler: got %+v %q, want %+v %q", got.actor, got.text, tt.wantSeen.actor, tt.wantSeen.text)
				}
				if deadline.IsZero() {
					t.Errorf("handler context: got no deadline, want one (60 s)")
				}
			}
			posts := rs.Posts()
			if len(posts) != 1 {
				t.Fatalf("response_url posts: got %d, want 1", len(posts))
			}
			p := posts[0]
			if p.Path != "/commands/1234/5678" || p.ContentType != "application/json" {
				t.Errorf("post: got %s %s, want /commands/1234/5678 application/json", p.Path, p.ContentType)
			}
			if p.Msg.ResponseType != tt.wantType {
				t.Errorf("response_type: got %q, want %q", p.Msg.ResponseType, tt.wantType)
			}
			if got := p.sectionTexts(); !equalJSON(got, tt.wantTexts) {
				t.Errorf("blocks: got %q, want %q", got, tt.wantTexts)
			}
			if p.Msg.Text == "" || strings.Contains(p.Msg.Text, "<") {
				t.Errorf("fallback text: got %q, want non-empty escaped text", p.Msg.Text)
			}
		})
	}
}

// TestSlashCommandAcknowledgesBeforeWork shows the acknowledgement does
// not wait for the command: the handler is still blocked when the HTTP
// response is complete.
func TestSlashCommandAcknowledgesBeforeWork(t *testing.T) {
	gate := make(chan struct{})
	started := make(chan struct{})
	e := newEnv(t, nil, func(ctx context.Context, _ picket.Actor, text string) commands.Reply {
		close(started)
		<-gate
		return commands.Reply{Title: "Done", Sections: []string{"answered " + text}}
	})
	rs := newResponseServer(t)
	begin := time.Now()
	resp := e.command(t, commandBody(t, corpusCommand, "posture", rs.URL()))
	took := time.Since(begin)
	if resp.Code != http.StatusOK || strings.TrimSpace(resp.Body.String()) != workingAck {
		t.Errorf("acknowledgement: got %d %s, want 200 %s", resp.Code, resp.Body, workingAck)
	}
	t.Logf("acknowledged in %s with the command still running", took)
	if n := len(rs.Posts()); n != 0 {
		t.Errorf("posts before the command finished: got %d, want 0", n)
	}
	<-started // the work did start in the background
	close(gate)
	e.bot.Wait()
	posts := rs.Posts()
	if len(posts) != 1 || !equalJSON(posts[0].sectionTexts(), []string{"# Done", "answered posture"}) {
		t.Errorf("posts: got %+v, want one answer", posts)
	}
}

func TestSlashCommandSplitsLongAnswers(t *testing.T) {
	section := strings.Repeat("x", 2500)
	tests := []struct {
		name       string
		sections   int
		wantPosts  int
		wantTitles []string
		wantNote   bool
	}{
		// 12,000 characters per message: four 2,500-character sections.
		{"one message", 4, 1, []string{"# Report"}, false},
		{"three messages", 12, 3, []string{"# Report (1 of 3)", "# Report (2 of 3)", "# Report (3 of 3)"}, false},
		{"cut at five", 30, 5, []string{"# Report (1 of 8)", "# Report (2 of 8)", "# Report (3 of 8)", "# Report (4 of 8)", "# Report (5 of 8)"}, true},
		{"many small sections", 200, 5, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := commands.Reply{Title: "Report"}
			for i := range tt.sections {
				if tt.name == "many small sections" {
					r.Sections = append(r.Sections, fmt.Sprintf("line %d", i))
				} else {
					r.Sections = append(r.Sections, section)
				}
			}
			e := newEnv(t, nil, func(context.Context, picket.Actor, string) commands.Reply { return r })
			rs := newResponseServer(t)
			e.command(t, commandBody(t, corpusCommand, "check all", rs.URL()))
			e.bot.Wait()
			posts := rs.Posts()
			if len(posts) != tt.wantPosts {
				t.Fatalf("posts: got %d, want %d", len(posts), tt.wantPosts)
			}
			sent := 0
			for i, p := range posts {
				texts := p.sectionTexts()
				if n := len(p.Msg.Blocks); n > 50 {
					t.Errorf("post %d: got %d blocks, want at most 50", i+1, n)
				}
				for _, s := range texts {
					if len([]rune(s)) > 3000 {
						t.Errorf("post %d: block of %d characters, want at most 3000", i+1, len([]rune(s)))
					}
					if strings.HasPrefix(s, "x") || strings.HasPrefix(s, "line ") {
						sent++
					}
				}
				if tt.wantTitles != nil && texts[0] != tt.wantTitles[i] {
					t.Errorf("post %d: got header %q, want %q", i+1, texts[0], tt.wantTitles[i])
				}
				note := strings.HasPrefix(texts[len(texts)-1], "note: The answer was cut")
				if wantNote := tt.wantNote && i == len(posts)-1; note != wantNote {
					t.Errorf("post %d: cut note %v, want %v", i+1, note, wantNote)
				}
			}
			if !tt.wantNote && tt.name != "many small sections" && sent != tt.sections {
				t.Errorf("sections sent: got %d, want %d", sent, tt.sections)
			}
			if tt.name == "many small sections" && sent != 200 {
				t.Errorf("sections sent: got %d, want all 200 (48 per message)", sent)
			}
		})
	}
}

func TestSlashCommandRefusesForeignResponseURL(t *testing.T) {
	rs := newResponseServer(t)
	tests := []struct {
		name        string
		responseURL string
		allow       func(string) bool // nil: the default, hooks.slack.com only
	}{
		{"loopback under the default check", rs.URL(), nil},
		{"plain http slack", "http://hooks.slack.com/commands/1/2", nil},
		{"look-alike host", "https://hooks.slack.com.evil.example/commands/1/2", nil},
		{"other host", "https://evil.example/hooks.slack.com/commands", nil},
		{"user info", "https://hooks.slack.com@evil.example/commands/1/2", nil},
		{"missing", "", nil},
		{"custom check refuses", rs.URL(), func(u string) bool { return strings.HasPrefix(u, "https://") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &fakeService{}
			_, api := newSlack(t)
			ran := false
			b, err := bot.New(bot.Options{
				Service: svc, API: api, SigningSecret: testSecret, AllowResponseURL: tt.allow,
				Logger: slog.New(slog.DiscardHandler),
				Commands: func(context.Context, picket.Actor, string) commands.Reply {
					ran = true
					return commands.Reply{Sections: []string{"secret posture"}}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			e := &env{bot: b, svc: svc, sent: time.Now()}
			resp := e.command(t, commandBody(t, corpusCommand, "posture", tt.responseURL))
			b.Wait()
			if resp.Code != http.StatusOK || !strings.Contains(resp.Body.String(), "Picket cannot answer this command") {
				t.Errorf("acknowledgement: got %d %s, want 200 with a refusal", resp.Code, resp.Body)
			}
			if ran {
				t.Errorf("the command ran; want it refused before running")
			}
			if n := len(rs.Posts()); n != 0 {
				t.Errorf("posts: got %d, want 0", n)
			}
			rej := svc.Calls("RecordRejected")
			if len(rej) != 1 || rej[0].Actor.ID != "U2147483697" || !strings.Contains(rej[0].Detail, "response_url") {
				t.Errorf("RecordRejected: got %+v, want one for U2147483697 naming the response_url", rej)
			}
		})
	}
}

func TestSlashCommandBadSignature(t *testing.T) {
	ran := false
	e := newEnv(t, nil, func(context.Context, picket.Actor, string) commands.Reply {
		ran = true
		return commands.Reply{}
	})
	rs := newResponseServer(t)
	resp := e.serve(sign(t, "/slack/commands", commandBody(t, corpusCommand, "posture", rs.URL()), "wrong", e.sent))
	e.bot.Wait()
	if resp.Code != http.StatusUnauthorized {
		t.Errorf("status: got %d, want 401", resp.Code)
	}
	// The user id in an unsigned body is whatever its sender wrote: it is
	// not recorded.
	rej := e.svc.Calls("RecordRejected")
	if len(rej) != 1 || rej[0].Actor.ID != "picket" || !strings.Contains(rej[0].Detail, "bad signature 1") || strings.Contains(rej[0].Detail, "U2147483697") {
		t.Errorf("RecordRejected: got %+v, want one summary by picket counting a bad signature, without the body's user", rej)
	}
	if ran || len(rs.Posts()) != 0 {
		t.Errorf("a request with a bad signature ran (%v) or was answered (%d posts)", ran, len(rs.Posts()))
	}
}

func TestSlashCommandResponseURLFailure(t *testing.T) {
	e := newEnv(t, nil, func(context.Context, picket.Actor, string) commands.Reply {
		return commands.Reply{Title: "Report", Sections: []string{strings.Repeat("a", 2900), strings.Repeat("b", 2900), strings.Repeat("c", 2900), strings.Repeat("d", 2900), strings.Repeat("e", 2900)}}
	})
	rs := newResponseServer(t)
	rs.status = http.StatusNotFound // an expired response_url
	e.command(t, commandBody(t, corpusCommand, "check all", rs.URL()))
	e.bot.Wait()
	if n := len(rs.Posts()); n != 1 {
		t.Errorf("posts: got %d, want 1 (no more after Slack refused the first)", n)
	}
}

// TestEveryCommandOverHTTP runs every command of the real table through a
// signed request and commands.Run, with no dependencies wired: each one
// is answered through the response_url.
func TestEveryCommandOverHTTP(t *testing.T) {
	deps := commands.Deps{Authorize: func(picket.Actor, string) bool { return true }}
	run := func(ctx context.Context, a picket.Actor, text string) commands.Reply {
		return commands.Run(ctx, deps, a, text)
	}
	texts := []string{""} // the corpus body with empty text
	for _, def := range commands.Definitions() {
		texts = append(texts, strings.TrimPrefix(def.Examples[0], commands.Slash+" "))
	}
	for _, text := range texts {
		t.Run("/picket "+text, func(t *testing.T) {
			e := newEnv(t, nil, run)
			rs := newResponseServer(t)
			body := commandBody(t, corpusCommandEmpty, text, rs.URL())
			if resp := e.command(t, body); resp.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.Code)
			}
			e.bot.Wait()
			posts := rs.Posts()
			if len(posts) == 0 || len(posts[0].Msg.Blocks) < 2 || posts[0].Msg.ResponseType != "ephemeral" {
				t.Fatalf("posts: got %+v, want an ephemeral answer with a header and a section", posts)
			}
			if text == "" && posts[0].sectionTexts()[0] != "# Picket commands" {
				t.Errorf("empty text: got header %q, want the help", posts[0].sectionTexts()[0])
			}
		})
	}
}

func TestAllowSlackResponseURL(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"https://hooks.slack.com/commands/1234/5678", true},
		{"https://hooks.slack.com/actions/T1/2/x", true},
		{"http://hooks.slack.com/commands/1234/5678", false},
		{"https://hooks.slack.com:8443/commands/1", false},
		{"https://hooks.slack.com.evil.example/commands/1", false},
		{"https://evil.example/https://hooks.slack.com/", false},
		{"https://x@hooks.slack.com/commands/1", false},
		{"http://127.0.0.1:8080/commands/1", false},
		{"", false},
		{"::not a url", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			if got := bot.AllowSlackResponseURL(tt.url); got != tt.want {
				t.Errorf("AllowSlackResponseURL(%q): got %v, want %v", tt.url, got, tt.want)
			}
		})
	}
}
