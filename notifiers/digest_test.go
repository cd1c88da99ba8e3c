package notifiers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/digest"
	"github.com/picketsec/picket/notifiers"
	"github.com/picketsec/picket/store"
	"github.com/slack-go/slack"
)

var digestNow = time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)

// seededDigest seeds a store in a temporary directory with a small, varied
// day of findings, actions and suppressions, and builds its digest the way
// the scheduler does.
func seededDigest(t *testing.T) picket.Digest {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "picket.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	h := time.Hour
	mk := func(key string, sev picket.Severity, src picket.Source, typ, title, acct string, seen, changed time.Time, status string) picket.FindingRecord {
		return picket.FindingRecord{
			Finding: picket.Finding{Key: key, ID: "id-" + key, Source: src, Type: typ, Title: title, Severity: sev,
				Account: acct, Region: "eu-west-3", CreatedAt: seen, UpdatedAt: changed, WorkflowStatus: status,
				RecordState: picket.RecordActive, Count: 1},
			FirstReceived: seen, LastReceived: changed, Deliveries: 1,
		}
	}
	gd, sh := picket.SourceGuardDuty, picket.SourceSecurityHub
	recs := []picket.FindingRecord{
		mk("k01", picket.SeverityCritical, gd, "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", "Credentials for <!channel> used outside AWS", "111111111111", digestNow.Add(-3*h), digestNow.Add(-3*h), ""),
		mk("k02", picket.SeverityHigh, gd, "CryptoCurrency:EC2/BitcoinTool.B!DNS", "EC2 instance i-0abc querying a bitcoin domain", "111111111111", digestNow.Add(-50*h), digestNow.Add(-2*h), ""),
		mk("k03", picket.SeverityHigh, sh, "Software and Configuration Checks/Vulnerabilities/CVE", "CVE-2024-3094 in xz & liblzma", "222222222222", digestNow.Add(-20*h), digestNow.Add(-20*h), ""),
		mk("k04", picket.SeverityMedium, gd, "Recon:EC2/PortProbeUnprotectedPort", "Unprotected port on EC2 instance i-0def is being probed", "222222222222", digestNow.Add(-30*h), digestNow.Add(-5*h), picket.WorkflowResolved),
		mk("k05", picket.SeverityLow, gd, "Recon:EC2/PortProbeUnprotectedPort", "Unprotected port probed", "111111111111", digestNow.Add(-4*h), digestNow.Add(-4*h), ""),
		mk("k06", picket.SeverityCritical, gd, "Backdoor:EC2/C&CActivity.B!DNS", "Instance talking to a command & control server", "111111111111", digestNow.Add(-200*h), digestNow.Add(-200*h), ""),
	}
	if err := db.PutFindings(recs); err != nil {
		t.Fatal(err)
	}
	act := func(id, key, actor, name string, kind picket.ActionKind, target string, at time.Time, st picket.ActionOutcome) picket.ActionRecord {
		req := picket.ActionRequest{ID: id, Kind: kind, FindingKey: key, Target: picket.Resource{ID: target},
			Actor: picket.Actor{ID: actor, Name: name}, At: at}
		return picket.ActionRecord{Request: req, Status: st, Updated: at,
			Result: &picket.ActionResult{Request: req, Outcome: st, Started: at, Finished: at}}
	}
	for _, r := range []picket.ActionRecord{
		act("r1", "k01", "U0ALICE", "alice", picket.ActionDisableUser, "build-bot", digestNow.Add(-150*time.Minute), picket.OutcomeSucceeded),
		act("r2", "k02", "U0BOB", "bob", picket.ActionQuarantineInstance, "i-0abc", digestNow.Add(-90*time.Minute), picket.OutcomePartial),
		act("r3", "k04", "not a slack id <@U1>", "", picket.ActionSuppress, "i-0def", digestNow.Add(-6*h), picket.OutcomeSucceeded),
	} {
		if _, _, err := db.ClaimAction(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutSuppression(picket.Suppression{ID: "s1", Type: "Recon:EC2/PortProbeUnprotectedPort", Account: "222222222222",
		Reason: "pentest <!here> this week", Actor: picket.Actor{ID: "U0ALICE", Name: "alice"},
		Created: digestNow.Add(-6 * h), Until: digestNow.Add(30 * h)}); err != nil {
		t.Fatal(err)
	}
	prev := picket.DigestSnapshot{Day: digest.Day(digestNow.AddDate(0, 0, -1)), PostureScore: 70, HasPosture: true}
	prev.Open[picket.SeverityCritical], prev.Open[picket.SeverityHigh] = 1, 3
	if err := db.PutDigestSnapshot("daily", prev); err != nil {
		t.Fatal(err)
	}

	// What the scheduler does.
	acts, err := db.AllActions()
	if err != nil {
		t.Fatal(err)
	}
	supps, err := db.Suppressions()
	if err != nil {
		t.Fatal(err)
	}
	snap, ok, err := db.PreviousDigestSnapshot("daily", digestNow)
	if err != nil || !ok {
		t.Fatalf("previous snapshot: %v %v", ok, err)
	}
	var iterErr error
	d := digest.Build(digest.Input{
		Name: "daily", Now: digestNow, Actions: acts, Suppressions: supps, Previous: &snap,
		Posture: &picket.PostureReport{Results: []picket.CheckResult{{Status: picket.CheckPass}, {Status: picket.CheckPass}, {Status: picket.CheckPass}, {Status: picket.CheckFail}}},
		Findings: func(yield func(picket.FindingRecord) bool) {
			iterErr = db.FindingSummaries(func(r picket.FindingRecord) error {
				if !yield(r) {
					return io.EOF
				}
				return nil
			})
		},
	})
	if iterErr != nil {
		t.Fatal(iterErr)
	}
	return d
}

func hostileDigest() picket.Digest {
	long := strings.Repeat("<!channel> & x ", 400)
	d := picket.Digest{Name: "night <!here>", From: digestNow.Add(-24 * time.Hour), To: digestNow,
		Accounts: []string{"<@U123>", "111111111111"}, MinSeverity: picket.SeverityHigh}
	d.Open[picket.SeverityCritical] = 80
	for i := range 80 {
		d.Urgent = append(d.Urgent, picket.OpenFinding{Key: fmt.Sprint(i), Title: long, Type: "<b>" + long,
			Severity: picket.SeverityCritical, Account: "<!everyone>", Region: "r", Age: time.Duration(i) * time.Hour})
	}
	d.TopTypes = []picket.NamedCount{{Name: long, Count: 3}}
	d.Actions = []picket.DigestAction{{Time: digestNow, Kind: picket.ActionDisableUser, Actor: picket.Actor{Name: "<!subteam^S1>"}, Target: long, Outcome: "succeeded"}}
	d.Actors = []picket.NamedCount{{Name: "<!subteam^S1>", Count: 1}}
	d.Expiring = []picket.Suppression{{ID: "s", Type: long, Reason: long, Until: digestNow.Add(time.Hour)}}
	d.Standards = []picket.ScoreChange{{Name: "<https://evil|click>", Score: 10}}
	return d
}

func TestRenderDigestGolden(t *testing.T) {
	cases := []struct {
		name string
		d    picket.Digest
	}{
		{"seeded_store", seededDigest(t)},
		{"empty", picket.Digest{Name: "daily", From: digestNow.Add(-24 * time.Hour), To: digestNow}},
		{"hostile", hostileDigest()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := notifiers.RenderDigest(tc.d)
			checkGolden(t, filepath.Join("testdata", "golden_digest", tc.name+".json"), m)
			checkDigestLimits(t, m)
		})
	}
}

// checkDigestLimits checks Slack's limits and that no mention or link
// survived from the data.
func checkDigestLimits(t *testing.T, m notifiers.Message) {
	t.Helper()
	if len(m.Blocks) > notifiers.MaxBlocks {
		t.Errorf("blocks: got %d, want at most %d", len(m.Blocks), notifiers.MaxBlocks)
	}
	var texts []string
	for _, b := range m.Blocks {
		switch v := b.(type) {
		case *slack.HeaderBlock:
			if n := utf8.RuneCountInString(v.Text.Text); n > notifiers.MaxHeaderText {
				t.Errorf("header: got %d runes, want at most %d", n, notifiers.MaxHeaderText)
			}
			texts = append(texts, v.Text.Text)
		case *slack.SectionBlock:
			if v.Text != nil {
				if n := utf8.RuneCountInString(v.Text.Text); n > notifiers.MaxSectionText {
					t.Errorf("section %s: got %d runes, want at most %d", v.BlockID, n, notifiers.MaxSectionText)
				}
				texts = append(texts, v.Text.Text)
			}
			for _, f := range v.Fields {
				if n := utf8.RuneCountInString(f.Text); n > notifiers.MaxFieldText {
					t.Errorf("field in %s: got %d runes, want at most %d", v.BlockID, n, notifiers.MaxFieldText)
				}
				texts = append(texts, f.Text)
			}
		case *notifiers.ContextBlock:
			for _, e := range v.Elements {
				texts = append(texts, e.Text)
			}
		}
	}
	texts = append(texts, m.Text)
	for _, s := range texts {
		for _, bad := range []string{"<!", "<https", "<b>", "<@U123>", "<@U1>"} {
			if strings.Contains(s, bad) {
				t.Errorf("text holds unescaped %q: %.200s", bad, s)
			}
		}
	}
}

func TestRenderDigestText(t *testing.T) {
	got := notifiers.RenderDigestText(seededDigest(t))
	for _, want := range []string{"Security digest: daily", "Open now", "Critical 2 (+1)", "Credentials for <!channel> used outside AWS", "Posture checks: 75% (+5)"} {
		if !strings.Contains(got, want) {
			t.Errorf("text digest lacks %q:\n%s", want, got)
		}
	}
}

// uploadRecorder is a Slack Web API that records chat.postMessage and the
// external file upload flow.
type uploadRecorder struct {
	mu    sync.Mutex
	calls []string
	forms map[string]map[string][]string
	body  []byte
}

func (r *uploadRecorder) handler(srvURL *string) http.Handler {
	mux := http.NewServeMux()
	record := func(name string, req *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls = append(r.calls, name)
		if r.forms == nil {
			r.forms = map[string]map[string][]string{}
		}
		r.forms[name] = req.PostForm
	}
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("/api/chat.postMessage", func(w http.ResponseWriter, req *http.Request) {
		req.ParseForm()
		record("chat.postMessage", req)
		reply(w, map[string]any{"ok": true, "channel": "C0SEC", "ts": "1700000000.000100"})
	})
	mux.HandleFunc("/api/files.getUploadURLExternal", func(w http.ResponseWriter, req *http.Request) {
		req.ParseForm()
		record("files.getUploadURLExternal", req)
		reply(w, map[string]any{"ok": true, "upload_url": *srvURL + "/upload/F0CHART", "file_id": "F0CHART"})
	})
	mux.HandleFunc("/upload/F0CHART", func(w http.ResponseWriter, req *http.Request) {
		f, _, err := req.FormFile("file")
		if err == nil {
			b, _ := io.ReadAll(f)
			r.mu.Lock()
			r.body = b
			r.mu.Unlock()
		}
		record("upload", req)
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("/api/files.completeUploadExternal", func(w http.ResponseWriter, req *http.Request) {
		req.ParseForm()
		record("files.completeUploadExternal", req)
		reply(w, map[string]any{"ok": true, "files": []map[string]any{{"id": "F0CHART", "title": "chart"}}})
	})
	return mux
}

func TestPostDigestUploadsChart(t *testing.T) {
	rec := &uploadRecorder{}
	var srvURL string
	srv := httptest.NewServer(rec.handler(&srvURL))
	t.Cleanup(srv.Close)
	srvURL = srv.URL
	api := slack.New("xoxb-test", slack.OptionAPIURL(srv.URL+"/api/"))
	s := notifiers.NewSlack(api, notifiers.SlackOptions{PerChannelInterval: -1})

	png := []byte("\x89PNG\r\n\x1a\nnot really a chart")
	d := seededDigest(t)
	if err := s.PostDigest(context.Background(), "#security", d, png); err != nil {
		t.Fatalf("PostDigest: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := []string{"chat.postMessage", "files.getUploadURLExternal", "upload", "files.completeUploadExternal"}
	if !slices.Equal(rec.calls, want) {
		t.Fatalf("calls: got %v, want %v", rec.calls, want)
	}
	if got := string(rec.body); got != string(png) {
		t.Errorf("uploaded bytes: got %q, want %q", got, png)
	}
	checks := []struct{ call, field, want string }{
		{"chat.postMessage", "channel", "#security"},
		{"files.getUploadURLExternal", "filename", "picket-digest.png"},
		{"files.getUploadURLExternal", "length", fmt.Sprint(len(png))},
		{"files.completeUploadExternal", "channel_id", "C0SEC"},
		{"files.completeUploadExternal", "initial_comment", "Open findings by severity, last 30 days (daily)"},
	}
	for _, c := range checks {
		if got := strings.Join(rec.forms[c.call][c.field], ","); got != c.want {
			t.Errorf("%s %s: got %q, want %q", c.call, c.field, got, c.want)
		}
	}
	var attach []slack.Attachment
	if err := json.Unmarshal([]byte(rec.forms["chat.postMessage"]["attachments"][0]), &attach); err != nil || len(attach) != 1 {
		t.Fatalf("attachments: %v", err)
	}
	if n := len(attach[0].Blocks.BlockSet); n < 5 {
		t.Errorf("posted blocks: got %d, want the rendered digest", n)
	}
}

// TestPostDigestChartRefused: when Slack refuses the chart (the app lacks
// files:write), the digest's message is posted once and the error says
// so (ErrDigestChart), so that the caller does not post it again.
func TestPostDigestChartRefused(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", func(w http.ResponseWriter, req *http.Request) {
		method := strings.TrimPrefix(req.URL.Path, "/api/")
		mu.Lock()
		calls = append(calls, method)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if method == "chat.postMessage" {
			io.WriteString(w, `{"ok":true,"channel":"C0SEC","ts":"1700000000.000100"}`)
			return
		}
		io.WriteString(w, `{"ok":false,"error":"missing_scope"}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := notifiers.NewSlack(slack.New("xoxb-test", slack.OptionAPIURL(srv.URL+"/api/")), notifiers.SlackOptions{PerChannelInterval: -1})
	err := s.PostDigest(context.Background(), "#security", seededDigest(t), []byte("\x89PNG"))
	if !errors.Is(err, notifiers.ErrDigestChart) {
		t.Fatalf("PostDigest with the upload refused: got %v, want ErrDigestChart", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(strings.Join(calls, " "), "chat.postMessage"); n != 1 {
		t.Errorf("chat.postMessage calls: got %d (%v), want 1", n, calls)
	}
}

func TestPostDigestNoChart(t *testing.T) {
	rec := &uploadRecorder{}
	var srvURL string
	srv := httptest.NewServer(rec.handler(&srvURL))
	t.Cleanup(srv.Close)
	srvURL = srv.URL
	s := notifiers.NewSlack(slack.New("xoxb-test", slack.OptionAPIURL(srv.URL+"/api/")), notifiers.SlackOptions{PerChannelInterval: -1})
	if err := s.PostDigest(context.Background(), "C0SEC", picket.Digest{To: digestNow}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PostDigest(context.Background(), "", picket.Digest{}, nil); picket.ErrorCode(err) != picket.EINVALID {
		t.Errorf("no channel: got %v, want EINVALID", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if want := []string{"chat.postMessage"}; !slices.Equal(rec.calls, want) {
		t.Errorf("calls: got %v, want %v", rec.calls, want)
	}
}

// TestRenderDigestNamesNewSources: the digest names Inspector, Macie and
// IAM Access Analyzer findings that arrived natively as people know them.
func TestRenderDigestNamesNewSources(t *testing.T) {
	d := picket.Digest{Name: "daily"}
	d.Activity.New[picket.SeverityHigh] = 6
	d.Activity.NewBySource = map[picket.Source]int{picket.SourceGuardDuty: 1, picket.SourceInspector: 2,
		picket.SourceMacie: 1, picket.SourceAccessAnalyzer: 1, "<!channel>": 1}
	d.Activity.NewByProduct = map[string]int{"GuardDuty": 1, "Inspector": 3, "Macie": 1, "<!here>": 1}
	got := notifiers.RenderDigestText(d)
	for _, want := range []string{"GuardDuty 1", "IAM Access Analyzer 1", "Inspector 2", "Macie 1", "New by product: Inspector 3, "} {
		if !strings.Contains(got, want) {
			t.Errorf("digest lacks %q:\n%s", want, got)
		}
	}
	b, _ := json.Marshal(notifiers.RenderDigest(d))
	if strings.Contains(string(b), "<!channel>") || strings.Contains(string(b), "<!here>") {
		t.Errorf("digest has an unescaped source name: %s", b)
	}
}

func TestRenderDigestRules(t *testing.T) {
	d := picket.Digest{Name: "daily", Rules: []picket.RuleActivity{
		{Rule: "malicious-ip-caller", Ran: 3, Refused: 1, Offered: 2},
		{Rule: "<!here>", Pending: 1},
		{Rule: "idle"},
	}}
	got := string(marshalMessage(t, notifiers.RenderDigest(d)))
	for _, want := range []string{"Automatic rules: `malicious-ip-caller` 3 run, 1 refused, 2 offered; `&lt;!here&gt;` 1 asked for approval"} {
		if !strings.Contains(got, want) {
			t.Errorf("digest lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "idle") || strings.Contains(got, "<!here>") {
		t.Errorf("digest shows an idle rule or an unescaped name:\n%s", got)
	}
	if text := notifiers.RenderDigestText(d); !strings.Contains(text, "Automatic rules: malicious-ip-caller 3 run") {
		t.Errorf("text digest lacks the rules:\n%s", text)
	}
}
