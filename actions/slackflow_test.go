package actions_test

// The tests in this file drive responses the way a person does: a signed
// Slack request (or a Socket Mode envelope) reaches package bot, which asks
// the Service, which runs the real responders against the recording AWS
// fake, writes the audit trail in the real store, and answers in Slack
// (a test server) through package notifiers.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
	"github.com/picketsec/picket/bot"
	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/notifiers"
	"github.com/picketsec/picket/store"
)

const flowSecret = "flow-signing-secret-0123456789"

// slackLog records what Picket sent to the Slack test server.
type slackLog struct {
	mu         sync.Mutex
	srv        *slacktest.Server
	opens      []map[string]any
	updates    []map[string]any // views.update
	ephemerals []url.Values
	posts      []url.Values // chat.postMessage
	edits      []url.Values // chat.update
}

func (l *slackLog) add(dst *[]url.Values, v url.Values) {
	l.mu.Lock()
	*dst = append(*dst, v)
	l.mu.Unlock()
}

func (l *slackLog) snapshot() (opens, updates []map[string]any, eph, posts, edits []url.Values) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.opens), slices.Clone(l.updates), slices.Clone(l.ephemerals), slices.Clone(l.posts), slices.Clone(l.edits)
}

func newSlackLog(t *testing.T) *slackLog {
	t.Helper()
	l := &slackLog{}
	viewOK := `{"ok":true,"view":{"id":"V0PLAN","hash":"1.a","type":"modal"}}`
	jsonBody := func(r *http.Request) map[string]any {
		var m map[string]any
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &m)
		return m
	}
	n := 0
	l.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/views.open", func(w http.ResponseWriter, r *http.Request) {
			m := jsonBody(r)
			l.mu.Lock()
			l.opens = append(l.opens, m)
			l.mu.Unlock()
			io.WriteString(w, viewOK)
		})
		c.Handle("/views.update", func(w http.ResponseWriter, r *http.Request) {
			m := jsonBody(r)
			l.mu.Lock()
			l.updates = append(l.updates, m)
			l.mu.Unlock()
			io.WriteString(w, viewOK)
		})
		c.Handle("/chat.postEphemeral", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			l.add(&l.ephemerals, r.PostForm)
			io.WriteString(w, `{"ok":true,"message_ts":"1.2"}`)
		})
		c.Handle("/usergroups.list", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"ok":true,"usergroups":[{"id":"S0SEC","handle":"sec","users":["U0BOB"]}]}`)
		})
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			l.mu.Lock()
			n++
			ts := fmt.Sprintf("1700000001.%06d", n)
			l.posts = append(l.posts, r.PostForm)
			l.mu.Unlock()
			fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":%q}`, r.PostForm.Get("channel"), ts)
		})
		c.Handle("/chat.update", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			l.add(&l.edits, r.PostForm)
			fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":%q}`, r.PostForm.Get("channel"), r.PostForm.Get("ts"))
		})
	})
	l.srv.Start()
	t.Cleanup(l.srv.Stop)
	return l
}

// flow is one wired Picket: store, service, Slack sender, bot.
type flow struct {
	t     *testing.T
	db    *store.DB
	aws   *awsfake.Server
	slack *slackLog
	bot   *bot.Bot
	http  *httptest.Server
}

// newFlow wires everything over srv with the given policy. The finding
// seeded in the store is testInstanceFinding, posted in C0ALERTS.
func newFlow(t *testing.T, srv *awsfake.Server, policy actions.Policy, responders map[picket.ActionKind]picket.Responder, undoers map[picket.ActionKind]actions.Undoer, f *picket.Finding) *flow {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "picket.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.PutFinding(picket.FindingRecord{Finding: *f, Ref: picket.MessageRef{Channel: "C0ALERTS", TS: "1700000000.000001"}}); err != nil {
		t.Fatal(err)
	}
	sl := newSlackLog(t)
	sender := notifiers.DialSlack("xoxb-test", sl.srv.GetAPIURL(), notifiers.SlackOptions{PerChannelInterval: -1})
	if policy.Roles == nil {
		policy.Roles = []actions.Role{{Name: "responders", Users: []string{"U0ALICE"}, Groups: []string{"S0SEC"}, Actions: []string{"*"}}}
	}
	svc, err := actions.NewService(actions.ServiceOptions{
		Policy: policy, Responders: responders, Undoers: undoers,
		Findings: db, Actions: db, Suppressions: db, Audit: db, Announcer: sender, Alerts: sender,
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bot.New(bot.Options{Service: svc, SigningSecret: flowSecret, API: bot.Client("xoxb-test", "xapp-test", sl.srv.GetAPIURL())})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(b.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(b.Wait)
	return &flow{t: t, db: db, aws: srv, slack: sl, bot: b, http: hs}
}

// post sends a signed form body to path and returns the status.
func (fl *flow) post(path, body string, ts time.Time) int {
	fl.t.Helper()
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(flowSecret))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	req, _ := http.NewRequest(http.MethodPost, fl.http.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fl.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func payloadForm(v any) string {
	b, _ := json.Marshal(v)
	return url.Values{"payload": {string(b)}}.Encode()
}

// click is a block_actions payload: user pressed the button on the alert.
func click(user, actionID, value string) map[string]any {
	return map[string]any{
		"type": "block_actions", "trigger_id": "trig-" + user, "api_app_id": "A0PICKET",
		"user":      map[string]any{"id": user, "username": strings.ToLower(strings.TrimPrefix(user, "U0")), "name": strings.ToLower(strings.TrimPrefix(user, "U0"))},
		"team":      map[string]any{"id": "T0TEAM"},
		"channel":   map[string]any{"id": "C0ALERTS"},
		"container": map[string]any{"type": "message_attachment", "channel_id": "C0ALERTS", "message_ts": "1700000000.000001"},
		"message":   map[string]any{"ts": "1700000000.000001"},
		"actions":   []any{map[string]any{"action_id": actionID, "block_id": "picket.actions", "value": value, "type": "button", "action_ts": "1700000002.1"}},
	}
}

// submit is the plan dialog's view_submission with the metadata the bot
// put in the dialog and the given state values.
func submit(user, privateMetadata string, values map[string]any) map[string]any {
	return map[string]any{
		"type": "view_submission", "api_app_id": "A0PICKET",
		"user": map[string]any{"id": user, "username": strings.ToLower(strings.TrimPrefix(user, "U0"))},
		"team": map[string]any{"id": "T0TEAM"},
		"view": map[string]any{"id": "V0PLAN", "callback_id": bot.CallbackConfirm, "private_metadata": privateMetadata,
			"state": map[string]any{"values": values}},
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// plan clicks the button and returns the plan dialog's metadata and text
// once the bot has updated the dialog with the plan.
func (fl *flow) plan(user, actionID, value string) (meta, text string) {
	fl.t.Helper()
	_, before, _, _, _ := fl.slack.snapshot()
	if code := fl.post("/slack/interactions", payloadForm(click(user, actionID, value)), time.Now()); code != http.StatusOK {
		fl.t.Fatalf("click: HTTP %d", code)
	}
	var view map[string]any
	waitUntil(fl.t, "the plan dialog", func() bool {
		_, ups, _, _, _ := fl.slack.snapshot()
		if len(ups) > len(before) {
			view = ups[len(ups)-1]["view"].(map[string]any)
			return true
		}
		return false
	})
	b, _ := json.Marshal(view["blocks"])
	md, _ := view["private_metadata"].(string)
	return md, string(b)
}

// confirm submits the plan dialog and waits for the thread reply with the
// outcome (or the ephemeral reply when nothing runs).
func (fl *flow) confirm(user, meta string, values map[string]any, wantThread bool) (thread url.Values, ephemeral url.Values) {
	fl.t.Helper()
	_, _, eph0, posts0, _ := fl.slack.snapshot()
	if code := fl.post("/slack/interactions", payloadForm(submit(user, meta, values)), time.Now()); code != http.StatusOK {
		fl.t.Fatalf("submit: HTTP %d", code)
	}
	waitUntil(fl.t, "the answer to the submission", func() bool {
		_, _, eph, posts, _ := fl.slack.snapshot()
		if len(eph) > len(eph0) {
			ephemeral = eph[len(eph)-1]
		}
		if len(posts) > len(posts0) {
			thread = posts[len(posts)-1]
		}
		return ephemeral != nil && (!wantThread || thread != nil)
	})
	return thread, ephemeral
}

func (fl *flow) auditEvents() []string {
	fl.t.Helper()
	es, err := fl.db.RecentAudit(100)
	if err != nil {
		fl.t.Fatal(err)
	}
	if _, err := fl.db.VerifyAudit(); err != nil {
		fl.t.Errorf("audit chain: %v", err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Event+":"+e.Actor.ID+":"+e.Outcome)
	}
	return out
}

func quarantineFlow(t *testing.T, sc instanceScenario, policy actions.Policy) *flow {
	t.Helper()
	srv := newQuarantineFake(t, sc)
	q := newTestQuarantine(srv)
	return newFlow(t, srv, policy, map[picket.ActionKind]picket.Responder{picket.ActionQuarantineInstance: q},
		map[picket.ActionKind]actions.Undoer{picket.ActionQuarantineInstance: q}, testInstanceFinding())
}

func writes(ops []string) []string {
	var w []string
	for _, op := range ops {
		name := op[strings.Index(op, ":")+1:]
		if !strings.HasPrefix(name, "Describe") && !strings.HasPrefix(name, "List") && !strings.HasPrefix(name, "Get") {
			w = append(w, op)
		}
	}
	return w
}

func TestSlackQuarantineAndUndo(t *testing.T) {
	fl := quarantineFlow(t, instanceScenario{asg: "web-asg"}, actions.Policy{})
	meta, text := fl.plan("U0ALICE", bot.ActionQuarantineInstance, "fk-q")
	for _, want := range []string{"ec2:ModifyNetworkInterfaceAttribute", "i-0abc", "123456789012", "us-east-1"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan dialog does not mention %q", want)
		}
	}
	if got := writes(fl.aws.Operations()); len(got) != 0 {
		t.Fatalf("planning made write calls: %v", got)
	}
	fl.aws.Reset()
	thread, eph := fl.confirm("U0ALICE", meta, nil, true)
	want := append(slices.Clone(quarantineReads),
		"ec2:ModifyInstanceAttribute", "autoscaling:DetachInstances",
		"ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
		"ec2:CreateSecurityGroup", "ec2:RevokeSecurityGroupEgress",
		"ec2:ModifyNetworkInterfaceAttribute", "ec2:ModifyNetworkInterfaceAttribute",
		"ec2:ModifyNetworkInterfaceAttribute", "ec2:ModifyNetworkInterfaceAttribute",
		"ec2:CreateSnapshot", "ec2:CreateSnapshot", "ec2:CreateTags", "securityhub:BatchUpdateFindings")
	if got := fl.aws.Operations(); !slices.Equal(got, want) {
		t.Fatalf("AWS calls after confirming:\n got %v\nwant %v", got, want)
	}
	if thread.Get("thread_ts") != "1700000000.000001" || thread.Get("channel") != "C0ALERTS" {
		t.Errorf("outcome posted to %s/%s, want the alert's thread C0ALERTS/1700000000.000001", thread.Get("channel"), thread.Get("thread_ts"))
	}
	if eph.Get("user") != "U0ALICE" {
		t.Errorf("ephemeral summary went to %q, want U0ALICE", eph.Get("user"))
	}
	_, _, _, _, edits := fl.slack.snapshot()
	if len(edits) == 0 || !strings.Contains(edits[len(edits)-1].Get("attachments")+edits[len(edits)-1].Get("blocks"), notifiers.ActionUndo) {
		t.Fatal("the alert was not updated with an Undo button")
	}
	recs, _ := fl.db.ActionsForFinding("fk-q")
	if len(recs) != 1 || recs[0].Status != picket.OutcomeSucceeded {
		t.Fatalf("action records = %+v, want one succeeded", recs)
	}

	// A second click on Quarantine is told it is done; nothing runs.
	fl.aws.Reset()
	meta2, _ := fl.plan("U0BOB", bot.ActionQuarantineInstance, "fk-q")
	fl.aws.Reset()
	_, eph = fl.confirm("U0BOB", meta2, nil, false)
	if !strings.Contains(eph.Get("text")+eph.Get("blocks"), "alice") || len(writes(fl.aws.Operations())) != 0 {
		t.Fatalf("second quarantine: ephemeral %q, writes %v; want it to name alice and change nothing", eph.Get("text"), writes(fl.aws.Operations()))
	}

	// Undo restores the recorded state.
	metaU, textU := fl.plan("U0BOB", bot.ActionUndo, recs[0].Request.ID)
	if !strings.Contains(textU, "sg-web") {
		t.Errorf("undo plan does not name the original security groups:\n%s", textU)
	}
	fl.aws.Reset()
	fl.confirm("U0BOB", metaU, nil, true)
	gotW := writes(fl.aws.Operations())
	wantW := []string{"ec2:ModifyNetworkInterfaceAttribute", "ec2:ModifyNetworkInterfaceAttribute", "autoscaling:AttachInstances", "ec2:ModifyInstanceAttribute", "ec2:DeleteTags"}
	if !slices.Equal(gotW, wantW) {
		t.Errorf("undo writes:\n got %v\nwant %v", gotW, wantW)
	}
	orig, _, _ := fl.db.Action(recs[0].Request.ID)
	if orig.UndoneBy == "" {
		t.Error("original action not marked undone")
	}
	want = []string{"requested:U0ALICE:", "executed:U0ALICE:succeeded", "duplicate:U0BOB:conflict", "requested:U0BOB:", "executed:U0BOB:succeeded"}
	if got := fl.auditEvents(); !slices.Equal(got, want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
}

func TestSlackQuarantineGuardrails(t *testing.T) {
	t.Run("denied", func(t *testing.T) {
		fl := quarantineFlow(t, instanceScenario{}, actions.Policy{})
		_, text := fl.plan("U0EVE", bot.ActionQuarantineInstance, "fk-q")
		if !strings.Contains(text, "not allowed") {
			t.Errorf("dialog for an unauthorized user does not say so:\n%s", text)
		}
		if ops := fl.aws.Operations(); len(ops) != 0 {
			t.Errorf("AWS calls for an unauthorized click: %v", ops)
		}
		if got := fl.auditEvents(); !slices.Equal(got, []string{"denied:U0EVE:denied"}) {
			t.Errorf("audit = %v, want one denied entry", got)
		}
	})
	t.Run("dry run from the dialog", func(t *testing.T) {
		fl := quarantineFlow(t, instanceScenario{}, actions.Policy{})
		meta, _ := fl.plan("U0ALICE", bot.ActionQuarantineInstance, "fk-q")
		fl.aws.Reset()
		fl.confirm("U0ALICE", meta, map[string]any{"dry_run": map[string]any{"dry_run": map[string]any{
			"type": "checkboxes", "selected_options": []any{map[string]any{"value": "dry_run"}}}}}, true)
		if w := writes(fl.aws.Operations()); len(w) != 0 {
			t.Errorf("dry run made write calls: %v", w)
		}
		recs, _ := fl.db.ActionsForFinding("fk-q")
		if len(recs) != 1 || recs[0].Status != picket.OutcomeDryRunned {
			t.Errorf("records = %+v, want one dry_run", recs)
		}
	})
	t.Run("protected instance", func(t *testing.T) {
		fl := quarantineFlow(t, instanceScenario{tags: `<item><key>picket:protected</key><value>true</value></item>`}, actions.Policy{})
		_, text := fl.plan("U0ALICE", bot.ActionQuarantineInstance, "fk-q")
		if !strings.Contains(text, "protected") {
			t.Errorf("dialog does not explain the refusal:\n%s", text)
		}
		if w := writes(fl.aws.Operations()); len(w) != 0 {
			t.Errorf("write calls for a protected instance: %v", w)
		}
		if got := fl.auditEvents(); len(got) != 1 || !strings.HasPrefix(got[0], "refused:U0ALICE") {
			t.Errorf("audit = %v, want one refused entry", got)
		}
	})
	t.Run("partial failure tells the truth", func(t *testing.T) {
		fl := quarantineFlow(t, instanceScenario{}, actions.Policy{})
		fl.aws.On("ec2", "CreateSnapshot", awsfake.Reply(awsfake.EC2Error("UnauthorizedOperation", "You are not authorized to perform this operation.")))
		meta, _ := fl.plan("U0ALICE", bot.ActionQuarantineInstance, "fk-q")
		thread, _ := fl.confirm("U0ALICE", meta, nil, true)
		reply := thread.Get("attachments") + thread.Get("blocks") + thread.Get("text")
		if !strings.Contains(reply, "UnauthorizedOperation") {
			t.Errorf("thread reply does not name the failure:\n%s", reply)
		}
		recs, _ := fl.db.ActionsForFinding("fk-q")
		if len(recs) != 1 || recs[0].Status != picket.OutcomePartial {
			t.Fatalf("records = %+v, want one partial", recs)
		}
		es, _ := fl.db.RecentAudit(10)
		last := es[len(es)-1]
		if last.Outcome != string(picket.OutcomePartial) || !slices.ContainsFunc(last.Calls, func(s picket.StepResult) bool {
			return s.Status == picket.StepFailed && s.ErrorCode == "UnauthorizedOperation"
		}) {
			t.Errorf("audit entry %+v does not record the failed call", last)
		}
	})
	t.Run("two people confirm at once: one runs", func(t *testing.T) {
		fl := quarantineFlow(t, instanceScenario{}, actions.Policy{})
		metaA, _ := fl.plan("U0ALICE", bot.ActionQuarantineInstance, "fk-q")
		metaB, _ := fl.plan("U0BOB", bot.ActionQuarantineInstance, "fk-q")
		fl.aws.Reset()
		var wg sync.WaitGroup
		for _, s := range []struct{ user, meta string }{{"U0ALICE", metaA}, {"U0BOB", metaB}} {
			wg.Go(func() { fl.post("/slack/interactions", payloadForm(submit(s.user, s.meta, nil)), time.Now()) })
		}
		wg.Wait()
		waitUntil(t, "both answers", func() bool { _, _, eph, _, _ := fl.slack.snapshot(); return len(eph) >= 2 })
		fl.bot.Wait()
		n := 0
		for _, op := range fl.aws.Operations() {
			if op == "ec2:ModifyInstanceAttribute" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("termination protection set %d times, want the quarantine to run once", n)
		}
	})
}

func TestSlackRejectsBadRequestsAndAuditsThem(t *testing.T) {
	fl := quarantineFlow(t, instanceScenario{}, actions.Policy{})
	body := payloadForm(click("U0ALICE", bot.ActionQuarantineInstance, "fk-q"))
	// Stale timestamp.
	if code := fl.post("/slack/interactions", body, time.Now().Add(-6*time.Minute)); code != http.StatusUnauthorized {
		t.Errorf("stale request: HTTP %d, want 401", code)
	}
	// Bad signature.
	req, _ := http.NewRequest(http.MethodPost, fl.http.URL+"/slack/interactions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	req.Header.Set("X-Slack-Signature", "v0=00ff")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("bad signature: %v %v, want 401", resp, err)
	}
	// Replay of a valid request.
	ts := time.Now()
	unknown := payloadForm(click("U0ALICE", "picket.reboot", "fk-q"))
	if code := fl.post("/slack/interactions", unknown, ts); code != http.StatusOK {
		t.Errorf("unknown action id: HTTP %d, want 200 (acknowledged, then refused)", code)
	}
	if code := fl.post("/slack/interactions", unknown, ts); code != http.StatusUnauthorized {
		t.Errorf("replayed request: HTTP %d, want 401", code)
	}
	fl.bot.Wait() // writes the summary of the refused requests
	// The signed request with an unknown action id is audited on its own,
	// under its (verified) user; the three refused before verification
	// are summed up in one entry by picket, whatever user their bodies
	// name.
	got := fl.auditEvents()
	want := []string{"rejected_request:U0ALICE:rejected", "rejected_request:picket:rejected"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("audit = %v, want %v", got, want)
	}
	es, _ := fl.db.RecentAudit(1)
	if d := es[0].Detail; !strings.Contains(d, "refused 3 Slack requests") || !strings.Contains(d, "bad signature 1, replayed request 1, stale timestamp 1") {
		t.Errorf("summary: got %q, want the three refusals by reason", d)
	}
	if ops := fl.aws.Operations(); len(ops) != 0 {
		t.Errorf("AWS calls for rejected requests: %v", ops)
	}
}

// socketSession connects the flow's bot over Socket Mode to the Slack test
// server's websocket and returns a function that delivers an envelope and
// waits for its acknowledgement.
func socketSession(t *testing.T, fl *flow) (send func(id, typ string, payload any)) {
	t.Helper()
	acks := make(chan string, 16)
	go func() {
		for m := range fl.slack.srv.SeenFeed {
			var v map[string]any
			if json.Unmarshal([]byte(m), &v) == nil {
				if id, ok := v["envelope_id"].(string); ok {
					acks <- id
				}
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fl.bot.ServeSocketMode(ctx, "xoxb-test", "xapp-test", fl.slack.srv.GetAPIURL()) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("socket mode did not stop")
		}
	})
	return func(id, typ string, payload any) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"envelope_id": id, "type": typ, "payload": payload, "accepts_response_payload": true})
		fl.slack.srv.SendToWebsocket(string(b))
		select {
		case got := <-acks:
			if got != id {
				t.Fatalf("acknowledged %q, want %q", got, id)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("envelope %s not acknowledged", id)
		}
	}
}

// TestSlackActionsOverSocketMode runs each response with the click and the
// confirmation arriving as Socket Mode envelopes on a real socketmode
// client connected to the Slack test server's websocket.
func TestSlackActionsOverSocketMode(t *testing.T) {
	reason := map[string]any{"reason": map[string]any{"reason": map[string]any{"type": "plain_text_input", "value": "known scanner"}}}
	tests := []struct {
		name      string
		flow      func(t *testing.T) *flow
		actionID  string
		key       string
		values    map[string]any
		wantWrite string
	}{
		{"quarantine", func(t *testing.T) *flow { return quarantineFlow(t, instanceScenario{}, actions.Policy{}) },
			bot.ActionQuarantineInstance, "fk-q", nil, "ec2:ModifyNetworkInterfaceAttribute"},
		{"disable user", func(t *testing.T) *flow {
			return disableFlow(t, userScenario{keys: keyXML("AKIA1", "Active")}, actions.Policy{}, userFinding())
		}, bot.ActionDisableUser, "fk-d", nil, "iam:PutUserPolicy"},
		{"suppress", func(t *testing.T) *flow {
			srv := newSuppressFake(t)
			return newFlow(t, srv, actions.Policy{}, map[picket.ActionKind]picket.Responder{
				picket.ActionSuppress: &actions.Suppress{Clients: realClientsAt(srv)}}, nil, testSecurityHubFinding())
		}, bot.ActionSuppress, "fk-sh", reason, "securityhub:BatchUpdateFindings"},
		{"escalate", func(t *testing.T) *flow {
			srv := newEscalateFake(t, true)
			return newFlow(t, srv, actions.Policy{}, map[picket.ActionKind]picket.Responder{
				picket.ActionEscalate: newEscalate(srv, "")}, nil, instanceFinding())
		}, bot.ActionEscalate, "fk-d", nil, "detective:StartInvestigation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fl := tt.flow(t)
			send := socketSession(t, fl)
			send("env-click", "interactive", click("U0ALICE", tt.actionID, tt.key))
			var meta string
			waitUntil(t, "the plan dialog", func() bool {
				_, ups, _, _, _ := fl.slack.snapshot()
				if len(ups) == 0 {
					return false
				}
				meta, _ = ups[0]["view"].(map[string]any)["private_metadata"].(string)
				return true
			})
			fl.aws.Reset()
			send("env-submit", "interactive", submit("U0ALICE", meta, tt.values))
			waitUntil(t, "the thread reply", func() bool { _, _, _, posts, _ := fl.slack.snapshot(); return len(posts) >= 1 })
			if ops := fl.aws.Operations(); !slices.Contains(ops, tt.wantWrite) {
				t.Fatalf("calls over Socket Mode = %v, want %s", ops, tt.wantWrite)
			}
			recs, _ := fl.db.ActionsForFinding(tt.key)
			if len(recs) != 1 || recs[0].Status != picket.OutcomeSucceeded || recs[0].Request.Actor.ID != "U0ALICE" {
				t.Fatalf("records = %+v, want one succeeded by U0ALICE", recs)
			}
		})
	}
}

func disableFlow(t *testing.T, sc userScenario, policy actions.Policy, f *picket.Finding) *flow {
	t.Helper()
	srv := newUserFake(t, sc)
	d := newDisable(srv)
	return newFlow(t, srv, policy, map[picket.ActionKind]picket.Responder{picket.ActionDisableUser: d},
		map[picket.ActionKind]actions.Undoer{picket.ActionDisableUser: d}, f)
}

// TestSlackDisableUserWithApprovalAndUndo: alice asks, the two-person rule
// holds the request, alice cannot approve her own, bob (through his user
// group) approves from the thread, the user is disabled; then undone.
func TestSlackDisableUserWithApprovalAndUndo(t *testing.T) {
	fl := disableFlow(t, userScenario{keys: keyXML("AKIA1", "Active") + keyXML("AKIA2", "Inactive")},
		actions.Policy{Approvals: []picket.ActionKind{picket.ActionDisableUser}}, userFinding())
	meta, text := fl.plan("U0ALICE", bot.ActionDisableUser, "fk-d")
	if !strings.Contains(text, "AKIA1") || !strings.Contains(text, "second person") {
		t.Errorf("plan dialog should name the key and the approval:\n%s", text)
	}
	fl.aws.Reset()
	thread, _ := fl.confirm("U0ALICE", meta, nil, true)
	reply := thread.Get("attachments") + thread.Get("blocks")
	if !strings.Contains(reply, notifiers.ActionApprove) {
		t.Fatalf("thread reply has no Approve button:\n%s", reply)
	}
	if w := writes(fl.aws.Operations()); len(w) != 0 {
		t.Fatalf("writes before approval: %v", w)
	}
	recs, _ := fl.db.ActionsForFinding("fk-d")
	id := recs[0].Request.ID

	// Alice approving her own request is refused.
	fl.post("/slack/interactions", payloadForm(click("U0ALICE", bot.ActionApprove, id)), time.Now())
	waitUntil(t, "the refusal", func() bool { _, _, eph, _, _ := fl.slack.snapshot(); return len(eph) >= 2 })
	fl.bot.Wait()
	if w := writes(fl.aws.Operations()); len(w) != 0 {
		t.Fatalf("self-approval changed something: %v", w)
	}
	// Bob approves.
	fl.aws.Reset()
	fl.post("/slack/interactions", payloadForm(click("U0BOB", bot.ActionApprove, id)), time.Now())
	waitUntil(t, "the disable to finish", func() bool {
		r, _, _ := fl.db.Action(id)
		return r.Status == picket.OutcomeSucceeded
	})
	fl.bot.Wait()
	want := append(slices.Clone(userReads), "iam:UpdateAccessKey", "iam:PutUserPolicy", "iam:TagUser", "securityhub:BatchUpdateFindings")
	if got := fl.aws.Operations(); !slices.Equal(got, want) {
		t.Fatalf("AWS calls after approval:\n got %v\nwant %v", got, want)
	}
	if got := fl.aws.Calls()[len(userReads)].Param("AccessKeyId"); got != "AKIA1" {
		t.Errorf("deactivated key %q, want only the active AKIA1", got)
	}

	// Undo.
	metaU, _ := fl.plan("U0BOB", bot.ActionUndo, id)
	fl.aws.Reset()
	fl.confirm("U0BOB", metaU, nil, true)
	gotW := writes(fl.aws.Operations())
	if !slices.Equal(gotW, []string{"iam:UpdateAccessKey", "iam:DeleteUserPolicy", "iam:UntagUser", "securityhub:BatchUpdateFindings"}) &&
		!slices.Equal(gotW, []string{"iam:UpdateAccessKey", "iam:DeleteUserPolicy", "iam:UntagUser"}) {
		t.Errorf("undo writes = %v, want re-activate AKIA1, delete the deny policy, untag", gotW)
	}
	events := fl.auditEvents()
	for _, want := range []string{"requested:U0ALICE:", "denied:U0ALICE:denied", "approved:U0BOB:", "executed:U0ALICE:succeeded", "executed:U0BOB:succeeded"} {
		if !slices.Contains(events, want) {
			t.Errorf("audit %v lacks %q", events, want)
		}
	}
}

func TestSlackDisableRootIsRefused(t *testing.T) {
	f := userFinding()
	f.Resources = []picket.Resource{{Kind: picket.ResourceRoot, ID: "root", ARN: "arn:aws:iam::123456789012:root"}}
	fl := disableFlow(t, userScenario{}, actions.Policy{}, f)
	_, text := fl.plan("U0ALICE", bot.ActionDisableUser, "fk-d")
	if !strings.Contains(text, "root") || !strings.Contains(strings.ToLower(text), "escalate") {
		t.Errorf("root refusal should explain and offer escalation:\n%s", text)
	}
	if ops := fl.aws.Operations(); len(writes(ops)) != 0 {
		t.Errorf("writes for root: %v", ops)
	}
}

func TestSlackSuppressSimilarAndEscalate(t *testing.T) {
	t.Run("suppress needs a reason, then suppresses similar findings", func(t *testing.T) {
		srv := newSuppressFake(t)
		s := &actions.Suppress{Clients: realClientsAt(srv)}
		fl := newFlow(t, srv, actions.Policy{}, map[picket.ActionKind]picket.Responder{picket.ActionSuppress: s}, nil, testSecurityHubFinding())
		meta, text := fl.plan("U0ALICE", bot.ActionSuppress, "fk-sh")
		if !strings.Contains(text, "Reason") {
			t.Fatalf("suppress dialog has no reason input:\n%s", text)
		}
		// Without a reason the dialog stays open with an error; nothing runs.
		fl.aws.Reset()
		if code := fl.post("/slack/interactions", payloadForm(submit("U0ALICE", meta, nil)), time.Now()); code != http.StatusOK {
			t.Fatalf("submit without reason: HTTP %d", code)
		}
		fl.bot.Wait()
		if ops := fl.aws.Operations(); len(ops) != 0 {
			t.Fatalf("calls without a reason: %v", ops)
		}
		values := map[string]any{
			"reason":  map[string]any{"reason": map[string]any{"type": "plain_text_input", "value": "scheduled pen test <!channel>"}},
			"expiry":  map[string]any{"expiry": map[string]any{"type": "static_select", "selected_option": map[string]any{"value": "7d"}}},
			"similar": map[string]any{"similar": map[string]any{"type": "checkboxes", "selected_options": []any{map[string]any{"value": "similar"}}}},
		}
		thread, _ := fl.confirm("U0ALICE", meta, values, true)
		if got := writes(fl.aws.Operations()); !slices.Equal(got, []string{"securityhub:BatchUpdateFindings", "securityhub:CreateAutomationRule"}) {
			t.Fatalf("suppress writes = %v", got)
		}
		if upd := fl.aws.Calls()[0]; fmt.Sprint(jsonAt(upd.JSON, "Workflow", "Status")) != "SUPPRESSED" {
			t.Errorf("BatchUpdateFindings workflow = %v, want SUPPRESSED", jsonAt(upd.JSON, "Workflow", "Status"))
		}
		if r := thread.Get("attachments") + thread.Get("blocks"); strings.Contains(r, "<!channel>") {
			t.Error("the reason reached Slack unescaped")
		}
		sups, _ := fl.db.Suppressions()
		if len(sups) != 1 || sups[0].Reason != "scheduled pen test <!channel>" || len(sups[0].Remote) != 1 {
			t.Fatalf("suppressions = %+v, want the local rule with the automation rule it created", sups)
		}
	})
	t.Run("escalate an instance through its role", func(t *testing.T) {
		srv := newEscalateFake(t, true)
		e := newEscalate(srv, "")
		fl := newFlow(t, srv, actions.Policy{EscalationChannel: "C0ESCAL"}, map[picket.ActionKind]picket.Responder{picket.ActionEscalate: e}, nil, instanceFinding())
		meta, _ := fl.plan("U0ALICE", bot.ActionEscalate, "fk-d")
		fl.aws.Reset()
		fl.confirm("U0ALICE", meta, nil, true)
		waitUntil(t, "the escalation notice", func() bool {
			_, _, _, posts, _ := fl.slack.snapshot()
			return slices.ContainsFunc(posts, func(v url.Values) bool { return v.Get("channel") == "C0ESCAL" })
		})
		if !slices.Contains(fl.aws.Operations(), "detective:StartInvestigation") {
			t.Fatalf("calls = %v, want a Detective investigation", fl.aws.Operations())
		}
		for _, c := range fl.aws.Calls() {
			if c.Operation == "StartInvestigation" && c.Param("EntityArn") != "arn:aws:iam::123456789012:role/web-role" {
				t.Errorf("investigated %q, want the instance's role", c.Param("EntityArn"))
			}
		}
	})
}
