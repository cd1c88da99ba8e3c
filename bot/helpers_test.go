package bot_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/bot"
	"github.com/picketsec/picket/commands"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const testSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// Corpus payloads (copied from /work/shared/corpus/slack).
const (
	corpusButton  = "block_actions_button_slack_docs_example__java-slack-sdk.json"
	corpusThread  = "block_actions_in_thread__java-slack-sdk.json"
	corpusSubmit  = "view_submission_response_urls__slack-go.json"
	corpusCommand = "slash_command_slack_docs_example.form.txt"

	// Who clicked in corpusButton, and where.
	buttonUser    = "UA8RXUSPL"
	buttonName    = "jtorrance"
	buttonChannel = "CBR2V3XEX"
	buttonTrigger = "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3"
)

// call is one recorded ResponseService call.
type call struct {
	Method     string
	Actor      picket.Actor
	Kind       picket.ActionKind
	FindingKey string
	TargetID   string
	UndoOf     string
	RequestID  string
	In         picket.RunInput
	Detail     string // RecordRejected detail, Reject reason
}

// fakeService records what the bot asks and answers with the functions set
// by the test.
type fakeService struct {
	mu    sync.Mutex
	calls []call

	// prepareGate, when set, is received from before Prepare answers.
	prepareGate chan struct{}
	prepare     func(c call) (picket.Plan, error)
	run         func(c call) (picket.ActionResult, error)
	approve     func(c call) (picket.ActionResult, error)
	reject      func(c call) (picket.ActionResult, error)
	// rejected is signalled on every RecordRejected, when set.
	rejected chan call
}

func (f *fakeService) record(c call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeService) Calls(method string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeService) Prepare(ctx context.Context, actor picket.Actor, kind picket.ActionKind, findingKey, targetID, undoOf string) (picket.Plan, error) {
	c := call{Method: "Prepare", Actor: actor, Kind: kind, FindingKey: findingKey, TargetID: targetID, UndoOf: undoOf}
	f.record(c)
	if f.prepareGate != nil {
		<-f.prepareGate
	}
	if f.prepare == nil {
		return planFor(kind, findingKey), nil
	}
	return f.prepare(c)
}

func (f *fakeService) Run(ctx context.Context, requestID string, actor picket.Actor, in picket.RunInput) (picket.ActionResult, error) {
	c := call{Method: "Run", RequestID: requestID, Actor: actor, In: in}
	f.record(c)
	if f.run == nil {
		return picket.ActionResult{Outcome: picket.OutcomeSucceeded, Summary: "Done."}, nil
	}
	return f.run(c)
}

func (f *fakeService) Approve(ctx context.Context, requestID string, approver picket.Actor) (picket.ActionResult, error) {
	c := call{Method: "Approve", RequestID: requestID, Actor: approver}
	f.record(c)
	if f.approve == nil {
		return picket.ActionResult{Outcome: picket.OutcomeSucceeded, Summary: "Approved and done."}, nil
	}
	return f.approve(c)
}

func (f *fakeService) Reject(ctx context.Context, requestID string, approver picket.Actor, reason string) (picket.ActionResult, error) {
	c := call{Method: "Reject", RequestID: requestID, Actor: approver, Detail: reason}
	f.record(c)
	if f.reject == nil {
		return picket.ActionResult{Outcome: picket.OutcomeRejected}, nil
	}
	return f.reject(c)
}

func (f *fakeService) RecordRejected(actor picket.Actor, detail string) {
	c := call{Method: "RecordRejected", Actor: actor, Detail: detail}
	f.record(c)
	if f.rejected != nil {
		f.rejected <- c
	}
}

// planFor is the plan the fake service makes by default. Its text holds
// markup that must arrive escaped.
func planFor(kind picket.ActionKind, key string) picket.Plan {
	req := picket.ActionRequest{
		ID: "req-1", Kind: kind, FindingKey: key, Account: "123456789012", Region: "us-east-1",
		Target: picket.Resource{Kind: picket.ResourceIAMUser, ID: "alice<!channel>", ARN: "arn:aws:iam::123456789012:user/alice"},
	}
	p := picket.Plan{Request: req}
	switch kind {
	case picket.ActionDisableUser:
		p.Steps = []picket.PlanStep{
			{Operation: "iam:UpdateAccessKey", Description: "Deactivate access key AKIAEXAMPLE & friends"},
			{Operation: "iam:PutUserPolicy", Description: "Attach deny-all policy <picket-quarantine>"},
		}
		p.Undo = "Reactivates the access keys and removes the deny-all policy."
		p.Approvals = 1
	case picket.ActionQuarantineInstance:
		p.Request.Target = picket.Resource{Kind: picket.ResourceEC2Instance, ID: "i-0123456789abcdef0"}
		p.Steps = []picket.PlanStep{{Operation: "ec2:ModifyNetworkInterfaceAttribute", Description: "Move eni-1 to the isolation group"}}
		p.Undo = "Restores the security groups."
	case picket.ActionSuppress:
		p.Steps = []picket.PlanStep{{Operation: "guardduty:ArchiveFindings", Description: "Archive the finding"}}
	case picket.ActionEscalate:
		p.Steps = []picket.PlanStep{{Operation: "detective:StartInvestigation", Description: "Start a Detective investigation"}}
	case picket.ActionUndo:
		p.Steps = []picket.PlanStep{{Operation: "iam:UpdateAccessKey", Description: "Reactivate access key AKIAEXAMPLE"}}
		p.Request.DryRun = true
	case picket.ActionPatchInstance:
		p.Request.Target = picket.Resource{Kind: picket.ResourceEC2Instance, ID: "i-0123456789abcdef0"}
		p.Steps = []picket.PlanStep{
			{Operation: "ssm:SendCommand", Description: "Run AWS-RunPatchBaseline on instance i-0123456789abcdef0 with Operation=Install and RebootOption=RebootIfNeeded (your choice below)."},
			{Operation: "ssm:GetCommandInvocation", Description: "Follow the command to its end and report its outcome and output in the alert's thread."},
		}
		// Package names come from the finding: hostile text must stay inert.
		p.Details = []string{
			"Package curl <!channel> 7.88.1 installed, fixed in 8.3.0 & later (CVE-2023-38545, <@U0EVIL>)",
			"Systems Manager: instance i-0123456789abcdef0 is managed, agent Online, Amazon Linux 2023",
			"Reboot: only if a patch needs it (RebootIfNeeded); choose \"Do not reboot\" below to avoid one.",
		}
	}
	return p
}

// slackRecorder is a Slack test server that records the calls the bot makes.
type slackRecorder struct {
	srv *slacktest.Server

	mu         sync.Mutex
	opens      []map[string]any
	updates    []map[string]any
	ephemerals []url.Values
	groupCalls []url.Values
	// groupsFail makes usergroups.list answer with an error.
	groupsFail bool
}

func newSlack(t *testing.T) (*slackRecorder, *slack.Client) {
	t.Helper()
	rec := &slackRecorder{}
	jsonBody := func(r *http.Request) map[string]any {
		var m map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("%s: decode JSON body: %v", r.URL.Path, err)
		}
		return m
	}
	formBody := func(r *http.Request) url.Values {
		if err := r.ParseForm(); err != nil {
			t.Errorf("%s: parse form: %v", r.URL.Path, err)
		}
		return r.PostForm
	}
	viewOK := `{"ok":true,"view":{"id":"V0PLAN","hash":"1586.abcd","type":"modal"}}`
	rec.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/views.open", func(w http.ResponseWriter, r *http.Request) {
			m := jsonBody(r)
			rec.mu.Lock()
			rec.opens = append(rec.opens, m)
			rec.mu.Unlock()
			_, _ = io.WriteString(w, viewOK)
		})
		c.Handle("/views.update", func(w http.ResponseWriter, r *http.Request) {
			m := jsonBody(r)
			rec.mu.Lock()
			rec.updates = append(rec.updates, m)
			rec.mu.Unlock()
			_, _ = io.WriteString(w, viewOK)
		})
		c.Handle("/chat.postEphemeral", func(w http.ResponseWriter, r *http.Request) {
			v := formBody(r)
			rec.mu.Lock()
			rec.ephemerals = append(rec.ephemerals, v)
			rec.mu.Unlock()
			_, _ = io.WriteString(w, `{"ok":true,"message_ts":"1700000000.000100"}`)
		})
		c.Handle("/usergroups.list", func(w http.ResponseWriter, r *http.Request) {
			v := formBody(r)
			rec.mu.Lock()
			rec.groupCalls = append(rec.groupCalls, v)
			fail := rec.groupsFail
			rec.mu.Unlock()
			if fail {
				_, _ = io.WriteString(w, `{"ok":false,"error":"missing_scope"}`)
				return
			}
			_, _ = fmt.Fprintf(w, `{"ok":true,"usergroups":[
				{"id":"S0SECOPS","handle":"secops","users":["%s","U111"]},
				{"id":"S0ONCALL","handle":"oncall","users":["%s"]},
				{"id":"S0OTHER","handle":"other","users":["U999"]}]}`, buttonUser, buttonUser)
		})
	})
	rec.srv.Start()
	t.Cleanup(rec.srv.Stop)
	api := slack.New("xoxb-test", slack.OptionAPIURL(rec.srv.GetAPIURL()), slack.OptionAppLevelToken("xapp-test"))
	return rec, api
}

func (r *slackRecorder) Opens() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.opens...)
}

func (r *slackRecorder) Updates() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.updates...)
}

func (r *slackRecorder) Ephemerals() []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]url.Values(nil), r.ephemerals...)
}

func (r *slackRecorder) GroupCalls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.groupCalls)
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env is a bot wired to a fake service and a recording Slack server.
type env struct {
	bot   *bot.Bot
	svc   *fakeService
	slack *slackRecorder
	api   *slack.Client
	clock *clock
	// sent is the timestamp signed requests carry. The clock starts at
	// the real time because slack-go's verifier also checks the host clock.
	sent time.Time
}

func newEnv(t *testing.T, svc *fakeService, cmds func(context.Context, picket.Actor, string) commands.Reply, edits ...func(*bot.Options)) *env {
	t.Helper()
	if svc == nil {
		svc = &fakeService{}
	}
	rec, api := newSlack(t)
	now := time.Now().Truncate(time.Second)
	clk := &clock{t: now}
	opts := bot.Options{
		Service: svc, API: api, SigningSecret: testSecret, Now: clk.Now, Commands: cmds,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// Answers go to the test's response server on the loopback.
		AllowResponseURL: func(u string) bool { return strings.HasPrefix(u, "http://127.0.0.1:") },
	}
	for _, edit := range edits {
		edit(&opts)
	}
	b, err := bot.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(b.Wait)
	return &env{bot: b, svc: svc, slack: rec, api: api, clock: clk, sent: now}
}

// sign returns a request carrying Slack's v0 signature of body made with
// secret at time ts.
func sign(t *testing.T, path, body, secret string, ts time.Time) *http.Request {
	t.Helper()
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return req
}

// serve sends req to the bot's HTTP handler and returns the response.
func (e *env) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.bot.Handler().ServeHTTP(rec, req)
	return rec
}

// interact sends a signed interaction payload and returns the response.
func (e *env) interact(t *testing.T, payload []byte) *httptest.ResponseRecorder {
	t.Helper()
	return e.serve(sign(t, "/slack/interactions", form(payload), testSecret, e.sent))
}

func form(payload []byte) string {
	return url.Values{"payload": {string(payload)}}.Encode()
}

// readCorpus returns a testdata file decoded as a JSON object.
func readCorpus(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return m
}

// buttonPayload is the corpus button click with its action id and value
// replaced.
func buttonPayload(t *testing.T, actionID, value string) []byte {
	t.Helper()
	m := readCorpus(t, corpusButton)
	act := m["actions"].([]any)[0].(map[string]any)
	act["action_id"], act["value"], act["block_id"] = actionID, value, "picket.actions"
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// submitPayload is the corpus view submission turned into a submission of
// Picket's plan dialog with the given metadata and state values.
func submitPayload(t *testing.T, meta map[string]string, values map[string]any) []byte {
	t.Helper()
	m := readCorpus(t, corpusSubmit)
	m["user"] = map[string]any{"id": buttonUser, "name": buttonName}
	view := m["view"].(map[string]any)
	view["callback_id"] = bot.CallbackConfirm
	md, _ := json.Marshal(meta)
	view["private_metadata"] = string(md)
	view["state"] = map[string]any{"values": values}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got, indented, with testdata/golden/name.json, or
// rewrites the file under -update.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	// Without HTML escaping, so the file shows the text as Slack gets it.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update): %v", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, b, want)
	}
}

// viewText returns all text of a recorded view, for substring checks.
func viewText(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m["view"])
	if err != nil {
		t.Fatal(err)
	}
	// Undo encoding/json's HTML escaping so the text reads as Slack gets it.
	var s strings.Builder
	s.Write(b)
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(s.String())
}

// logBuffer collects log output from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// slogTo returns a text logger at debug level writing to w.
func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
