package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/bot"
	"github.com/picketsec/picket/metrics"
)

func TestNewRequiresServiceAndAPI(t *testing.T) {
	_, api := newSlack(t)
	tests := []struct {
		name string
		opts bot.Options
	}{
		{"no service", bot.Options{API: api}},
		{"no api", bot.Options{Service: &fakeService{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := bot.New(tt.opts); err == nil {
				t.Errorf("New: got nil error, want one")
			}
		})
	}
}

// TestButtonAcksThenPlans proves the click is answered while the plan is
// still being made, then the dialog is opened with the trigger id and
// updated with the plan.
func TestButtonAcksThenPlans(t *testing.T) {
	svc := &fakeService{prepareGate: make(chan struct{})}
	e := newEnv(t, svc, nil)

	resp := e.interact(t, buttonPayload(t, bot.ActionDisableUser, "gd-key-1"))
	// Prepare is blocked on the gate: the response was written before the
	// work finished.
	if resp.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200", resp.Code)
	}
	if resp.Body.Len() != 0 {
		t.Errorf("body: got %q, want empty", resp.Body.String())
	}
	close(svc.prepareGate)
	e.bot.Wait()

	prep := svc.Calls("Prepare")
	if len(prep) != 1 {
		t.Fatalf("Prepare calls: got %d, want 1", len(prep))
	}
	want := call{Method: "Prepare", Kind: picket.ActionDisableUser, FindingKey: "gd-key-1",
		Actor: picket.Actor{ID: buttonUser, Groups: []string{"S0SECOPS", "S0ONCALL"}}}
	// The corpus payload names the user by "username", which slack-go does
	// not decode, so Name is empty.
	if !reflect.DeepEqual(prep[0], want) {
		t.Errorf("Prepare: got %+v, want %+v", prep[0], want)
	}
	opens := e.slack.Opens()
	if len(opens) != 1 {
		t.Fatalf("views.open calls: got %d, want 1", len(opens))
	}
	if got := opens[0]["trigger_id"]; got != buttonTrigger {
		t.Errorf("views.open trigger_id: got %v, want %s", got, buttonTrigger)
	}
	golden(t, "planning_disable_user", opens[0]["view"])
	ups := e.slack.Updates()
	if len(ups) != 1 {
		t.Fatalf("views.update calls: got %d, want 1", len(ups))
	}
	if ups[0]["view_id"] != "V0PLAN" || ups[0]["hash"] != "1586.abcd" {
		t.Errorf("views.update: got view_id %v hash %v, want V0PLAN 1586.abcd", ups[0]["view_id"], ups[0]["hash"])
	}
	golden(t, "plan_disable_user", ups[0]["view"])
	text := viewText(t, ups[0])
	for _, bad := range []string{"<!channel>", "<picket-quarantine>", "& friends"} {
		if strings.Contains(text, bad) {
			t.Errorf("plan view contains unescaped %q", bad)
		}
	}
	for _, good := range []string{"&lt;!channel&gt;", "&amp; friends", "A second person must approve"} {
		if !strings.Contains(text, good) {
			t.Errorf("plan view lacks %q", good)
		}
	}
	if len(svc.Calls("Run")) != 0 {
		t.Errorf("Run called before confirmation")
	}
}

func TestButtonsPlanTheirAction(t *testing.T) {
	tests := []struct {
		name       string
		actionID   string
		value      string
		wantKind   picket.ActionKind
		wantKey    string
		wantUndoOf string
	}{
		{"quarantine", bot.ActionQuarantineInstance, "gd-key-2", picket.ActionQuarantineInstance, "gd-key-2", ""},
		{"suppress", bot.ActionSuppress, "sh-key-3", picket.ActionSuppress, "sh-key-3", ""},
		{"escalate", bot.ActionEscalate, "gd-key-4", picket.ActionEscalate, "gd-key-4", ""},
		{"undo", bot.ActionUndo, "req-9", picket.ActionUndo, "", "req-9"},
		{"patch", bot.ActionPatchInstance, "insp-key-5", picket.ActionPatchInstance, "insp-key-5", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			if resp := e.interact(t, buttonPayload(t, tt.actionID, tt.value)); resp.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.Code)
			}
			e.bot.Wait()
			prep := e.svc.Calls("Prepare")
			if len(prep) != 1 {
				t.Fatalf("Prepare calls: got %d, want 1", len(prep))
			}
			if prep[0].Kind != tt.wantKind || prep[0].FindingKey != tt.wantKey || prep[0].UndoOf != tt.wantUndoOf {
				t.Errorf("Prepare: got kind %s key %q undoOf %q, want %s %q %q",
					prep[0].Kind, prep[0].FindingKey, prep[0].UndoOf, tt.wantKind, tt.wantKey, tt.wantUndoOf)
			}
			ups := e.slack.Updates()
			if len(ups) != 1 {
				t.Fatalf("views.update calls: got %d, want 1", len(ups))
			}
			golden(t, "plan_"+tt.name, ups[0]["view"])
			var meta map[string]string
			v := ups[0]["view"].(map[string]any)
			if err := json.Unmarshal([]byte(v["private_metadata"].(string)), &meta); err != nil {
				t.Fatalf("private_metadata: %v", err)
			}
			want := map[string]string{"request_id": "req-1", "kind": string(tt.wantKind), "channel_id": buttonChannel, "message_ts": "1548261231.000200"}
			if !reflect.DeepEqual(meta, want) {
				t.Errorf("private_metadata: got %v, want %v", meta, want)
			}
		})
	}
}

func TestPrepareFailures(t *testing.T) {
	tests := []struct {
		name     string
		prepare  func(c call) (picket.Plan, error)
		wantText []string
	}{
		{
			name: "unauthorized",
			prepare: func(c call) (picket.Plan, error) {
				return picket.Plan{}, picket.Errorf(picket.EUNAUTHORIZED, "You are not allowed to run Disable user in account 123456789012.")
			},
			wantText: []string{"You may not do this.", "You are not allowed to run Disable user in account 123456789012."},
		},
		{
			name: "refused_root",
			prepare: func(c call) (picket.Plan, error) {
				p := planFor(c.Kind, c.FindingKey)
				p.Steps, p.Undo = nil, ""
				p.Request.Target = picket.Resource{Kind: picket.ResourceRoot, ID: "root"}
				p.Refusal = "The root user cannot be disabled."
				p.Alternative = picket.ActionEscalate
				return p, nil
			},
			wantText: []string{"The root user cannot be disabled.", "Escalate to Detective"},
		},
		{
			name: "not_found",
			prepare: func(c call) (picket.Plan, error) {
				return picket.Plan{}, picket.Errorf(picket.ENOTFOUND, "Picket does not know this finding any more.")
			},
			wantText: []string{"Picket cannot plan this.", "Picket does not know this finding any more."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, &fakeService{prepare: tt.prepare}, nil)
			e.interact(t, buttonPayload(t, bot.ActionDisableUser, "gd-key-1"))
			e.bot.Wait()
			ups := e.slack.Updates()
			if len(ups) != 1 {
				t.Fatalf("views.update calls: got %d, want 1", len(ups))
			}
			golden(t, "prepare_"+tt.name, ups[0]["view"])
			v := ups[0]["view"].(map[string]any)
			if _, ok := v["submit"]; ok {
				t.Errorf("view has a Run button: got submit %v, want none", v["submit"])
			}
			text := viewText(t, ups[0])
			for _, s := range tt.wantText {
				if !strings.Contains(text, s) {
					t.Errorf("view lacks %q:\n%s", s, text)
				}
			}
			if n := len(e.svc.Calls("Run")); n != 0 {
				t.Errorf("Run calls: got %d, want 0", n)
			}
		})
	}
}

func TestRejectedRequests(t *testing.T) {
	click := form(buttonPayload(t, bot.ActionDisableUser, "gd-key-1"))
	tests := []struct {
		name       string
		req        func(e *env) *http.Request
		wantStatus int
		wantReason string
	}{
		{
			name:       "bad signature",
			req:        func(e *env) *http.Request { return sign(t, "/slack/interactions", click, "wrong-secret", e.sent) },
			wantStatus: http.StatusUnauthorized, wantReason: "bad signature",
		},
		{
			name: "tampered body",
			req: func(e *env) *http.Request {
				r := sign(t, "/slack/interactions", click, testSecret, e.sent)
				tampered := sign(t, "/slack/interactions", strings.Replace(click, "gd-key-1", "gd-key-2", 1), "x", e.sent)
				tampered.Header = r.Header
				return tampered
			},
			wantStatus: http.StatusUnauthorized, wantReason: "bad signature",
		},
		{
			name: "stale timestamp",
			req: func(e *env) *http.Request {
				// The request is signed now, but Picket's clock says six
				// minutes later: slack-go alone would accept it.
				e.clock.Set(e.sent.Add(6 * time.Minute))
				return sign(t, "/slack/interactions", click, testSecret, e.sent)
			},
			wantStatus: http.StatusUnauthorized, wantReason: "stale timestamp",
		},
		{
			name: "timestamp from the future",
			req: func(e *env) *http.Request {
				e.clock.Set(e.sent.Add(-6 * time.Minute))
				return sign(t, "/slack/interactions", click, testSecret, e.sent)
			},
			wantStatus: http.StatusUnauthorized, wantReason: "stale timestamp",
		},
		{
			name: "missing signature",
			req: func(e *env) *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(click))
				return r
			},
			wantStatus: http.StatusUnauthorized, wantReason: "missing signature headers",
		},
		{
			name: "malformed signature",
			req: func(e *env) *http.Request {
				r := sign(t, "/slack/interactions", click, testSecret, e.sent)
				r.Header.Set("X-Slack-Signature", "v1=zz")
				return r
			},
			wantStatus: http.StatusUnauthorized, wantReason: "bad signature",
		},
		{
			name: "unparsable payload",
			req: func(e *env) *http.Request {
				return sign(t, "/slack/interactions", "payload=%7Bnot-json", "wrong-secret", e.sent)
			},
			wantStatus: http.StatusUnauthorized, wantReason: "bad signature",
		},
		{
			name: "body over 1 MiB",
			req: func(e *env) *http.Request {
				return sign(t, "/slack/interactions", click+"&pad="+strings.Repeat("a", 1<<20), testSecret, e.sent)
			},
			wantStatus: http.StatusRequestEntityTooLarge, wantReason: "larger than 1 MiB",
		},
		{
			name: "signed but not a form",
			req: func(e *env) *http.Request {
				return sign(t, "/slack/interactions", "payload=%zz", testSecret, e.sent)
			},
			wantStatus: http.StatusBadRequest, wantReason: "malformed signed request",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refused := &metrics.Counter{}
			e := newEnv(t, nil, nil, func(o *bot.Options) { o.Refused = refused })
			resp := e.serve(tt.req(e))
			if resp.Code != tt.wantStatus {
				t.Errorf("status: got %d, want %d", resp.Code, tt.wantStatus)
			}
			if n := refused.Value(); n != 1 {
				t.Errorf("refused counter: got %d, want 1", n)
			}
			if n := len(e.svc.Calls("RecordRejected")); n != 0 {
				t.Errorf("RecordRejected calls before the summary: got %d, want 0", n)
			}
			e.bot.Wait() // writes the summary
			rej := e.svc.Calls("RecordRejected")
			if len(rej) != 1 {
				t.Fatalf("RecordRejected calls: got %d, want 1", len(rej))
			}
			if !strings.Contains(rej[0].Detail, tt.wantReason+" 1") || rej[0].Actor.ID != "picket" {
				t.Errorf("RecordRejected: got actor %q detail %q, want picket and %q", rej[0].Actor.ID, rej[0].Detail, tt.wantReason+" 1")
			}
			if strings.Contains(rej[0].Detail, buttonUser) || strings.Contains(rej[0].Detail, buttonName) {
				t.Errorf("RecordRejected detail %q names the user of an unverified body", rej[0].Detail)
			}
			if n := len(e.svc.Calls("Prepare")); n != 0 {
				t.Errorf("Prepare calls: got %d, want 0", n)
			}
			if n := len(e.slack.Opens()); n != 0 {
				t.Errorf("views.open calls: got %d, want 0", n)
			}
		})
	}
}

// TestUnsignedFloodIsBounded sends many unsigned requests, as an attacker
// who can reach the listener would: none is audited on its own, all are
// counted, the log gets one line per period, and one audit entry sums
// them up.
func TestUnsignedFloodIsBounded(t *testing.T) {
	logs := &logBuffer{}
	refused := &metrics.Counter{}
	e := newEnv(t, nil, nil, func(o *bot.Options) {
		o.Refused = refused
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	const n = 2000
	for i := range n {
		body := form(buttonPayload(t, bot.ActionDisableUser, "gd-key-1"))
		body = strings.Replace(body, buttonUser, fmt.Sprintf("UFORGED%d", i), 1)
		r := sign(t, "/slack/interactions", body, "not-the-secret", e.sent)
		if i%2 == 1 {
			r.Header.Del("X-Slack-Signature")
		}
		if resp := e.serve(r); resp.Code != http.StatusUnauthorized {
			t.Fatalf("request %d: status %d, want 401", i, resp.Code)
		}
	}
	if got := len(e.svc.Calls("RecordRejected")); got != 0 {
		t.Errorf("RecordRejected calls during the flood: got %d, want 0", got)
	}
	if got := refused.Value(); got != n {
		t.Errorf("refused counter: got %d, want %d", got, n)
	}
	if got := strings.Count(logs.String(), "refused Slack request"); got != 1 {
		t.Errorf("log lines: got %d, want 1 (the clock did not move)", got)
	}
	e.clock.Set(e.sent.Add(11 * time.Second))
	e.serve(sign(t, "/slack/interactions", "x", "not-the-secret", e.sent))
	if got := strings.Count(logs.String(), "refused_unlogged_before=1999"); got != 1 {
		t.Errorf("second log line: got %q, want one counting the 1999 refusals not logged", logs.String())
	}
	e.bot.Wait()
	rej := e.svc.Calls("RecordRejected")
	if len(rej) != 1 {
		t.Fatalf("RecordRejected calls: got %d, want 1 summary", len(rej))
	}
	want := "refused 2001 Slack requests between "
	if !strings.HasPrefix(rej[0].Detail, want) || !strings.HasSuffix(rej[0].Detail, ": bad signature 1001, missing signature headers 1000") {
		t.Errorf("summary: got %q, want %q... bad signature 1001, missing signature headers 1000", rej[0].Detail, want)
	}
	if strings.Contains(rej[0].Detail, "UFORGED") || strings.Contains(logs.String(), "UFORGED") {
		t.Errorf("a user id from an unsigned body reached the audit trail or the log")
	}
}

// TestRefusalSummaryPeriodic proves a summary is written once per period
// without waiting for shutdown.
func TestRefusalSummaryPeriodic(t *testing.T) {
	svc := &fakeService{rejected: make(chan call, 4)}
	e := newEnv(t, svc, nil, func(o *bot.Options) { o.RefusalAuditEvery = 20 * time.Millisecond })
	for range 3 {
		e.serve(sign(t, "/slack/interactions", "x", "not-the-secret", e.sent))
	}
	select {
	case c := <-svc.rejected:
		if !strings.Contains(c.Detail, "refused 3 Slack requests") {
			t.Errorf("summary: got %q, want 3 refused requests", c.Detail)
		}
	case <-time.After(waitFor):
		t.Fatal("no summary written")
	}
}

func TestReplayedRequestRejected(t *testing.T) {
	tests := []struct {
		name  string
		again func(sig string) string
	}{
		{"same signature", func(sig string) string { return sig }},
		{"upper-case hex", func(sig string) string { return "v0=" + strings.ToUpper(strings.TrimPrefix(sig, "v0=")) }},
		{"mixed-case hex", func(sig string) string {
			h := []byte(strings.TrimPrefix(sig, "v0="))
			for i := 0; i < len(h); i += 2 {
				h[i] = strings.ToUpper(string(h[i]))[0]
			}
			return "v0=" + string(h)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			body := form(buttonPayload(t, bot.ActionDisableUser, "gd-key-1"))
			first := sign(t, "/slack/interactions", body, testSecret, e.sent)
			again := sign(t, "/slack/interactions", body, testSecret, e.sent)
			again.Header.Set("X-Slack-Signature", tt.again(first.Header.Get("X-Slack-Signature")))
			if resp := e.serve(first); resp.Code != http.StatusOK {
				t.Fatalf("first request: got %d, want 200", resp.Code)
			}
			e.clock.Set(e.sent.Add(4 * time.Minute)) // still inside the window
			if resp := e.serve(again); resp.Code != http.StatusUnauthorized {
				t.Errorf("replayed request: got %d, want 401", resp.Code)
			}
			e.bot.Wait()
			if n := len(e.svc.Calls("Prepare")); n != 1 {
				t.Errorf("Prepare calls: got %d, want 1", n)
			}
			rej := e.svc.Calls("RecordRejected")
			if len(rej) != 1 || !strings.Contains(rej[0].Detail, "replayed request 1") {
				t.Errorf("RecordRejected: got %+v, want a summary with one replayed request", rej)
			}
		})
	}
}

func TestUnknownActionID(t *testing.T) {
	e := newEnv(t, nil, nil)
	resp := e.interact(t, buttonPayload(t, "picket.delete_everything", "gd-key-1"))
	if resp.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200", resp.Code)
	}
	e.bot.Wait()
	rej := e.svc.Calls("RecordRejected")
	if len(rej) != 1 || !strings.Contains(rej[0].Detail, `unknown action id "picket.delete_everything"`) || rej[0].Actor.ID != buttonUser {
		t.Errorf("RecordRejected: got %+v, want unknown action id by %s", rej, buttonUser)
	}
	eph := e.slack.Ephemerals()
	if len(eph) != 1 {
		t.Fatalf("ephemeral messages: got %d, want 1", len(eph))
	}
	if eph[0].Get("channel") != buttonChannel || eph[0].Get("user") != buttonUser || eph[0].Get("text") != "Picket does not know that button." {
		t.Errorf("ephemeral: got %v, want the unknown-button notice to %s in %s", eph[0], buttonUser, buttonChannel)
	}
	if n := len(e.svc.Calls("Prepare")) + len(e.slack.Opens()); n != 0 {
		t.Errorf("Prepare and views.open calls: got %d, want 0", n)
	}
}

func TestViewSubmission(t *testing.T) {
	suppressMeta := map[string]string{"request_id": "req-7", "kind": "suppress", "channel_id": buttonChannel, "message_ts": "1548261231.000200"}
	disableMeta := map[string]string{"request_id": "req-8", "kind": "disable_user", "channel_id": buttonChannel}
	checkbox := func(block string) map[string]any {
		return map[string]any{block: map[string]any{"type": "checkboxes", "selected_options": []any{map[string]any{"value": block}}}}
	}
	tests := []struct {
		name       string
		meta       map[string]string
		values     map[string]any
		run        func(c call) (picket.ActionResult, error)
		wantBody   string
		wantRun    *call
		wantEphem  string
		wantUntilD time.Duration
	}{
		{
			name: "suppress without reason",
			meta: suppressMeta,
			values: map[string]any{
				"reason": map[string]any{"reason": map[string]any{"type": "plain_text_input", "value": "   "}},
			},
			wantBody: `{"response_action":"errors","errors":{"reason":"Say why: the reason goes into the audit trail and the finding's note."}}`,
		},
		{
			name: "suppress with reason",
			meta: suppressMeta,
			values: map[string]any{
				"reason":  map[string]any{"reason": map[string]any{"type": "plain_text_input", "value": " Known scanner <ours> "}},
				"expiry":  map[string]any{"expiry": map[string]any{"type": "static_select", "selected_option": map[string]any{"value": "30d"}}},
				"similar": checkbox("similar"),
			},
			wantRun:    &call{Method: "Run", RequestID: "req-7", In: picket.RunInput{Reason: "Known scanner <ours>", Similar: true}},
			wantUntilD: 30 * 24 * time.Hour,
			wantEphem:  "Done.",
		},
		{
			name:      "patch without reboot",
			meta:      map[string]string{"request_id": "req-9", "kind": "patch_instance", "channel_id": buttonChannel},
			values:    map[string]any{"reboot": map[string]any{"reboot": map[string]any{"type": "static_select", "selected_option": map[string]any{"value": "NoReboot"}}}},
			wantRun:   &call{Method: "Run", RequestID: "req-9", In: picket.RunInput{NoReboot: true}},
			wantEphem: "Done.",
		},
		{
			name:      "patch rebooting if needed (the default)",
			meta:      map[string]string{"request_id": "req-9", "kind": "patch_instance", "channel_id": buttonChannel},
			values:    map[string]any{},
			wantRun:   &call{Method: "Run", RequestID: "req-9"},
			wantEphem: "Done.",
		},
		{
			name:     "patch with a forged reboot option",
			meta:     map[string]string{"request_id": "req-9", "kind": "patch_instance", "channel_id": buttonChannel},
			values:   map[string]any{"reboot": map[string]any{"reboot": map[string]any{"type": "static_select", "selected_option": map[string]any{"value": "RebootAlways"}}}},
			wantBody: `{"response_action":"errors","errors":{"reboot":"Choose one of the offered reboot options."}}`,
		},
		{
			name: "disable as dry run",
			meta: disableMeta,
			values: map[string]any{
				"dry_run": checkbox("dry_run"),
			},
			run: func(c call) (picket.ActionResult, error) {
				return picket.ActionResult{Outcome: picket.OutcomeDryRunned, Request: picket.ActionRequest{Kind: picket.ActionDisableUser}}, nil
			},
			wantRun:   &call{Method: "Run", RequestID: "req-8", In: picket.RunInput{DryRun: true}},
			wantEphem: "Disable user ran as a dry run; nothing was changed.",
		},
		{
			name:   "conflict names the holder",
			meta:   disableMeta,
			values: map[string]any{},
			run: func(c call) (picket.ActionResult, error) {
				return picket.ActionResult{}, picket.Errorf(picket.ECONFLICT, "Dana (U0DANA) is already disabling user alice (started 10:04:05 UTC).")
			},
			wantRun:   &call{Method: "Run", RequestID: "req-8"},
			wantEphem: "Dana (U0DANA) is already disabling user alice (started 10:04:05 UTC).",
		},
		{
			name:   "internal error stays in the logs",
			meta:   disableMeta,
			values: map[string]any{},
			run: func(c call) (picket.ActionResult, error) {
				return picket.ActionResult{}, context.DeadlineExceeded
			},
			wantRun:   &call{Method: "Run", RequestID: "req-8"},
			wantEphem: picket.ErrorMessage(context.DeadlineExceeded),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, &fakeService{run: tt.run}, nil)
			resp := e.interact(t, submitPayload(t, tt.meta, tt.values))
			e.bot.Wait()
			if resp.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.Code)
			}
			if got := strings.TrimSpace(resp.Body.String()); got != tt.wantBody {
				t.Errorf("body: got %s, want %s", got, tt.wantBody)
			}
			runs := e.svc.Calls("Run")
			if tt.wantRun == nil {
				if len(runs) != 0 {
					t.Errorf("Run calls: got %d, want 0", len(runs))
				}
				return
			}
			if len(runs) != 1 {
				t.Fatalf("Run calls: got %d, want 1", len(runs))
			}
			want := *tt.wantRun
			want.Actor = picket.Actor{ID: buttonUser, Name: buttonName, Groups: []string{"S0SECOPS", "S0ONCALL"}}
			if tt.wantUntilD > 0 {
				want.In.Until = e.sent.Add(tt.wantUntilD).UTC()
			}
			if !reflect.DeepEqual(runs[0], want) {
				t.Errorf("Run: got %+v, want %+v", runs[0], want)
			}
			eph := e.slack.Ephemerals()
			if len(eph) != 1 || eph[0].Get("text") != tt.wantEphem || eph[0].Get("user") != buttonUser || eph[0].Get("channel") != buttonChannel {
				t.Errorf("ephemeral: got %v, want %q to %s in %s", eph, tt.wantEphem, buttonUser, buttonChannel)
			}
		})
	}
}

func TestApproveReject(t *testing.T) {
	payload := func(t *testing.T, actionID string) []byte {
		m := readCorpus(t, corpusThread)
		act := m["actions"].([]any)[0].(map[string]any)
		act["action_id"], act["value"] = actionID, "req-5"
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name      string
		actionID  string
		svc       *fakeService
		wantCall  call
		wantEphem string
	}{
		{"approve", bot.ActionApprove, &fakeService{},
			call{Method: "Approve", RequestID: "req-5", Actor: picket.Actor{ID: "U111", Name: "seratch", Groups: []string{"S0SECOPS"}}},
			"Approved and done."},
		{"reject", bot.ActionReject, &fakeService{},
			call{Method: "Reject", RequestID: "req-5", Actor: picket.Actor{ID: "U111", Name: "seratch", Groups: []string{"S0SECOPS"}}, Detail: "rejected in Slack"},
			"Undo was rejected; nothing was changed."},
		{"own request", bot.ActionApprove, &fakeService{approve: func(call) (picket.ActionResult, error) {
			return picket.ActionResult{}, picket.Errorf(picket.EUNAUTHORIZED, "You asked for this; a second person must approve it.")
		}},
			call{Method: "Approve", RequestID: "req-5", Actor: picket.Actor{ID: "U111", Name: "seratch", Groups: []string{"S0SECOPS"}}},
			"You asked for this; a second person must approve it."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "reject" {
				tt.svc.reject = func(call) (picket.ActionResult, error) {
					return picket.ActionResult{Outcome: picket.OutcomeRejected, Request: picket.ActionRequest{Kind: picket.ActionUndo}}, nil
				}
			}
			e := newEnv(t, tt.svc, nil)
			if resp := e.interact(t, payload(t, tt.actionID)); resp.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.Code)
			}
			e.bot.Wait()
			calls := e.svc.Calls(tt.wantCall.Method)
			if len(calls) != 1 || !reflect.DeepEqual(calls[0], tt.wantCall) {
				t.Errorf("%s: got %+v, want %+v", tt.wantCall.Method, calls, tt.wantCall)
			}
			eph := e.slack.Ephemerals()
			if len(eph) != 1 || eph[0].Get("text") != tt.wantEphem || eph[0].Get("channel") != "C111" {
				t.Errorf("ephemeral: got %v, want %q in C111", eph, tt.wantEphem)
			}
		})
	}
}

func TestOtherRoutesNotFound(t *testing.T) {
	e := newEnv(t, nil, nil)
	tests := []struct{ method, path string }{
		{http.MethodGet, "/slack/interactions"},
		{http.MethodPost, "/slack/events"},
		{http.MethodPost, "/"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req := sign(t, tt.path, "", testSecret, e.sent)
			req.Method = tt.method
			resp := e.serve(req)
			if resp.Code != http.StatusNotFound {
				t.Errorf("status: got %d, want 404", resp.Code)
			}
		})
	}
}

func TestUserGroupsCached(t *testing.T) {
	e := newEnv(t, nil, nil)
	// Requests carry the real time (slack-go checks the host clock too);
	// Picket's clock moves within the signature window around it.
	steps := []struct {
		clock     time.Duration
		wantCalls int
	}{
		{-4 * time.Minute, 1},
		{-3 * time.Minute, 1},
		{0, 1},               // 4 minutes after the first lookup: cached
		{2 * time.Minute, 2}, // 6 minutes after: refreshed
	}
	for i, s := range steps {
		e.clock.Set(e.sent.Add(s.clock))
		e.interact(t, buttonPayload(t, bot.ActionEscalate, "gd-key-"+strconv.Itoa(i)))
		e.bot.Wait()
		if n := e.slack.GroupCalls(); n != s.wantCalls {
			t.Errorf("click %d: usergroups.list calls: got %d, want %d", i+1, n, s.wantCalls)
		}
	}
	if n := len(e.svc.Calls("Prepare")); n != len(steps) {
		t.Errorf("Prepare calls: got %d, want %d", n, len(steps))
	}
}

func TestUserGroupsFailureLeavesGroupsEmpty(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.slack.mu.Lock()
	e.slack.groupsFail = true
	e.slack.mu.Unlock()
	e.interact(t, buttonPayload(t, bot.ActionEscalate, "gd-key-1"))
	e.bot.Wait()
	prep := e.svc.Calls("Prepare")
	if len(prep) != 1 {
		t.Fatalf("Prepare calls: got %d, want 1", len(prep))
	}
	if prep[0].Actor.ID != buttonUser || len(prep[0].Actor.Groups) != 0 {
		t.Errorf("actor: got %+v, want %s without groups", prep[0].Actor, buttonUser)
	}
}

// overflowPayload is the corpus click turned into a choice in the menu
// beside a finding listed in a group's thread.
func overflowPayload(t *testing.T, value string) []byte {
	t.Helper()
	m := readCorpus(t, corpusButton)
	act := m["actions"].([]any)[0].(map[string]any)
	delete(act, "value")
	act["type"], act["action_id"], act["block_id"] = "overflow", bot.ActionRespond, "member"
	act["selected_option"] = map[string]any{"text": map[string]any{"type": "plain_text", "text": "x"}, "value": value}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGroupMemberMenuPlansLikeTheButton(t *testing.T) {
	tests := []struct {
		name     string
		value    string
		wantKind picket.ActionKind
		wantKey  string
	}{
		{"quarantine", bot.ActionQuarantineInstance + " gd-key-7", picket.ActionQuarantineInstance, "gd-key-7"},
		{"disable", bot.ActionDisableUser + " gd-key-8", picket.ActionDisableUser, "gd-key-8"},
		{"undo is never a menu choice", bot.ActionUndo + " req-1", "", ""},
		{"unknown action", "picket.delete_everything gd-key-1", "", ""},
		{"no key", bot.ActionSuppress + " ", "", ""},
		{"no separator", bot.ActionSuppress, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			if resp := e.interact(t, overflowPayload(t, tt.value)); resp.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.Code)
			}
			e.bot.Wait()
			prep := e.svc.Calls("Prepare")
			if tt.wantKind == "" {
				if len(prep) != 0 || len(e.svc.Calls("RecordRejected")) != 1 {
					t.Errorf("forged menu value %q: Prepare calls %d, rejections %d; want 0 and 1", tt.value, len(prep), len(e.svc.Calls("RecordRejected")))
				}
				return
			}
			if len(prep) != 1 || prep[0].Kind != tt.wantKind || prep[0].FindingKey != tt.wantKey {
				t.Fatalf("Prepare calls %+v, want one %s of %s", prep, tt.wantKind, tt.wantKey)
			}
		})
	}
}

// TestSuppressSimilarButtonStartsWithSimilarChosen: the group message's
// Suppress similar button plans a Suppress whose dialog has "suppress
// similar" already ticked; the plain Suppress button does not.
func TestSuppressSimilarButtonStartsWithSimilarChosen(t *testing.T) {
	for _, tt := range []struct {
		actionID string
		want     bool
	}{{bot.ActionSuppressSimilar, true}, {bot.ActionSuppress, false}} {
		t.Run(tt.actionID, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			if resp := e.interact(t, buttonPayload(t, tt.actionID, "gd-key-5")); resp.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.Code)
			}
			e.bot.Wait()
			prep := e.svc.Calls("Prepare")
			if len(prep) != 1 || prep[0].Kind != picket.ActionSuppress {
				t.Fatalf("Prepare calls %+v, want one Suppress", prep)
			}
			ups := e.slack.Updates()
			if len(ups) != 1 {
				t.Fatalf("views.update calls: got %d, want 1", len(ups))
			}
			b, _ := json.Marshal(ups[0]["view"])
			got := strings.Contains(string(b), `"initial_options":[{"text":{"emoji":false,"text":"Suppress similar findings until then"`)
			if got != tt.want {
				t.Errorf("similar initially chosen = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSuppressSimilarButtonTargetsTheKind: the group message's Suppress
// similar plans a Suppress of the group's kind (the first finding's
// account, picket.TargetAccount), not of the first finding's resource,
// whose rule would leave the rest of the storm unsuppressed; the plain
// Suppress button keeps the finding's own resource.
func TestSuppressSimilarButtonTargetsTheKind(t *testing.T) {
	for _, tt := range []struct {
		actionID, want string
	}{{bot.ActionSuppressSimilar, picket.TargetAccount}, {bot.ActionSuppress, ""}} {
		t.Run(tt.actionID, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			if resp := e.interact(t, buttonPayload(t, tt.actionID, "gd-key-5")); resp.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.Code)
			}
			e.bot.Wait()
			prep := e.svc.Calls("Prepare")
			if len(prep) != 1 || prep[0].TargetID != tt.want {
				t.Fatalf("Prepare calls %+v, want one with target %q", prep, tt.want)
			}
		})
	}
}
