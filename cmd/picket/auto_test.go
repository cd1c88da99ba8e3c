package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/internal/fauxqs"
	"github.com/picketsec/picket/store"
)

// autoAccount is the account of the sample GuardDuty finding the test
// publishes, which the fake STS reports as Picket's own.
const autoAccount = "883606788610"

// threadSlack is a Slack test server that records posts with their
// thread and answers each with a distinct timestamp.
type threadSlack struct {
	srv   *slacktest.Server
	mu    sync.Mutex
	posts []threadPost
	n     int
}

type threadPost struct {
	Method, Channel, TS, ThreadTS, Text, Content string
}

func newThreadSlack(t *testing.T) *threadSlack {
	t.Helper()
	s := &threadSlack{}
	record := func(method string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			form, _ := url.ParseQuery(string(body))
			s.mu.Lock()
			s.n++
			ts := form.Get("ts")
			if method == "chat.postMessage" {
				ts = fmt.Sprintf("1700000000.%06d", s.n)
			}
			s.posts = append(s.posts, threadPost{method, form.Get("channel"), ts, form.Get("thread_ts"), form.Get("text"),
				form.Get("text") + form.Get("blocks") + form.Get("attachments")})
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": "C" + strings.TrimPrefix(form.Get("channel"), "#"), "ts": ts})
		}
	}
	s.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", record("chat.postMessage"))
		c.Handle("/chat.update", record("chat.update"))
	})
	s.srv.Start()
	t.Cleanup(s.srv.Stop)
	return s
}

// alert returns the alert posted about user, if any.
func (s *threadSlack) alert(user string) (threadPost, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.posts {
		if p.Method == "chat.postMessage" && p.ThreadTS == "" && strings.Contains(p.Content, user) {
			return p, true
		}
	}
	return threadPost{}, false
}

// replies returns the thread replies to the alert about user.
func (s *threadSlack) replies(user string) []threadPost {
	a, ok := s.alert(user)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []threadPost
	for _, p := range s.posts {
		if p.Method == "chat.postMessage" && p.ThreadTS == a.TS {
			out = append(out, p)
		}
	}
	return out
}

// iamFake answers the IAM, STS and Security Hub calls of Disable user for
// any user name, and can hold one call (operation and user) until the
// test is done with it.
type iamFake struct {
	srv     *awsfake.Server
	mu      sync.Mutex
	holdOp  string
	holdFor string
	held    chan struct{}
}

func newIAMFake(t *testing.T) *iamFake {
	t.Helper()
	f := &iamFake{srv: awsfake.New(t)}
	srv := f.srv
	srv.AllowUnexpected()
	q := func(op, inner string) awsfake.Handler { return awsfake.Reply(awsfake.QueryResult(op, inner)) }
	user := func(r *awsfake.Request) string { return r.Param("UserName") }
	hold := func(op string, h awsfake.Handler) awsfake.Handler {
		return func(r *awsfake.Request) awsfake.Response {
			f.mu.Lock()
			held := f.holdOp == op && f.holdFor == user(r)
			ch := f.held
			if held {
				f.holdOp = "" // hold once
			}
			f.mu.Unlock()
			if held {
				ch <- struct{}{}
				<-r.Context().Done() // until the process is killed
			}
			return h(r)
		}
	}
	srv.On("sts", "GetCallerIdentity", q("GetCallerIdentity",
		`<Arn>arn:aws:iam::`+autoAccount+`:user/picket</Arn><UserId>AIDAPICKET</UserId><Account>`+autoAccount+`</Account>`))
	srv.On("iam", "GetUser", hold("GetUser", func(r *awsfake.Request) awsfake.Response {
		return awsfake.QueryResult("GetUser", `<User><Path>/</Path><UserName>`+user(r)+`</UserName><UserId>AIDA`+strings.ToUpper(user(r))+`</UserId>
			<Arn>arn:aws:iam::`+autoAccount+`:user/`+user(r)+`</Arn><CreateDate>2024-05-06T07:08:09Z</CreateDate></User>`)
	}))
	srv.On("iam", "ListAccessKeys", func(r *awsfake.Request) awsfake.Response {
		return awsfake.QueryResult("ListAccessKeys", `<AccessKeyMetadata><member><UserName>`+user(r)+`</UserName><AccessKeyId>AKIA`+
			strings.ToUpper(strings.ReplaceAll(user(r), "-", ""))+`</AccessKeyId><Status>Active</Status><CreateDate>2025-01-02T03:04:05Z</CreateDate></member></AccessKeyMetadata><IsTruncated>false</IsTruncated>`)
	})
	for op, inner := range map[string]string{
		"ListAttachedUserPolicies": "<AttachedPolicies></AttachedPolicies><IsTruncated>false</IsTruncated>",
		"ListUserPolicies":         "<PolicyNames></PolicyNames><IsTruncated>false</IsTruncated>",
		"ListGroupsForUser":        "<Groups></Groups><IsTruncated>false</IsTruncated>",
		"ListMFADevices":           "<MFADevices></MFADevices><IsTruncated>false</IsTruncated>",
		"ListUserTags":             "<Tags></Tags><IsTruncated>false</IsTruncated>",
		"UpdateAccessKey":          "",
		"TagUser":                  "",
	} {
		srv.On("iam", op, q(op, inner))
	}
	srv.On("iam", "PutUserPolicy", hold("PutUserPolicy", q("PutUserPolicy", "")))
	srv.On("iam", "GetLoginProfile", awsfake.Reply(awsfake.QueryError("NoSuchEntity", "Login Profile cannot be found.")))
	srv.OnREST("securityhub", "BatchUpdateFindings", "PATCH", "/findings/batchupdate",
		awsfake.Reply(awsfake.JSONBody(map[string]any{"ProcessedFindings": []any{}, "UnprocessedFindings": []any{}})))
	return f
}

// holdNext makes the next call op for user wait until the caller is
// killed; the returned channel receives when it arrives.
func (f *iamFake) holdNext(op, user string) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holdOp, f.holdFor, f.held = op, user, make(chan struct{}, 1)
	return f.held
}

// count returns how many op calls named user.
func (f *iamFake) count(op, user string) int {
	n := 0
	for _, c := range f.srv.Calls() {
		if c.Service == "iam" && c.Operation == op && c.Param("UserName") == user {
			n++
		}
	}
	return n
}

// maliciousIPEvent is the sample GuardDuty event turned into a
// MaliciousIPCaller.Custom finding about user, version count.
func maliciousIPEvent(t *testing.T, id, user string, count int) string {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal([]byte(readTestdata(t, "eb_UnauthorizedAccess_IAMUser_TorIPCaller__c7n.json")), &ev); err != nil {
		t.Fatal(err)
	}
	d := ev["detail"].(map[string]any)
	d["id"] = id
	d["arn"] = "arn:aws:guardduty:us-east-1:" + autoAccount + ":detector/c0b018e3eb2130078632d999e41d4f02/finding/" + id
	d["type"] = "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom"
	d["title"] = "API called by " + user + " from a known malicious IP address"
	d["updatedAt"] = fmt.Sprintf("2026-12-03T10:%02d:00.000Z", count)
	d["service"].(map[string]any)["count"] = count
	akd := d["resource"].(map[string]any)["accessKeyDetails"].(map[string]any)
	akd["userName"], akd["accessKeyId"], akd["principalId"] = user, "ASIA"+strings.ToUpper(strings.ReplaceAll(user, "-", "")), "AIDA"+user
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// autoRig is one emulator, fake AWS, Slack server and data directory that
// several runs of the binary share.
type autoRig struct {
	t        *testing.T
	emu      *fauxqs.Emulator
	queueURL string
	topic    string
	slack    *threadSlack
	aws      *iamFake
	dataDir  string
	config   string
	logs     *lockedLog
}

func (r *autoRig) start() *exec.Cmd {
	r.t.Helper()
	cmd := exec.Command(picketBinary(r.t), "run", "--config", r.config)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		// SQS is the emulator; the services actions call, the recording
		// fake (per-service endpoints: a global AWS_ENDPOINT_URL would win).
		"AWS_ENDPOINT_URL_SQS="+r.emu.URL(), "AWS_MAX_ATTEMPTS=1",
		"PICKET_QUEUE_URL="+r.queueURL, "SLACK_BOT_TOKEN=xoxb-auto", "SLACK_APP_TOKEN=xapp-auto",
		"PICKET_SLACK_API_URL="+r.slack.srv.GetAPIURL(), "PICKET_DATA_DIR="+r.dataDir,
		"PICKET_HTTP_ADDR=off", "PICKET_LOG_LEVEL=info", "PICKET_LOG_FORMAT=text")
	for _, svc := range []string{"IAM", "STS", "SECURITYHUB", "GUARDDUTY", "DETECTIVE", "SNS", "EC2", "AUTO_SCALING"} {
		cmd.Env = append(cmd.Env, "AWS_ENDPOINT_URL_"+svc+"="+r.aws.srv.URL())
	}
	cmd.Stdout, cmd.Stderr = io.Discard, r.logs
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

func (r *autoRig) kill(cmd *exec.Cmd) {
	r.t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
	cmd.Wait()
}

func (r *autoRig) stop(cmd *exec.Cmd) {
	r.t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		r.t.Fatal(err)
	}
	cmd.Wait()
}

func (r *autoRig) publish(events ...string) {
	for _, e := range events {
		r.emu.Publish(context.Background(), r.topic, e)
	}
}

// setSwitch stores the kill switch as /picket auto off|on leaves it,
// while Picket is stopped.
func (r *autoRig) setSwitch(off bool) {
	r.t.Helper()
	db, err := store.Open(storePath(r.dataDir), store.Options{})
	if err != nil {
		r.t.Fatal(err)
	}
	defer db.Close()
	if err := db.PutAutoSwitch(picket.AutoSwitch{Off: off, By: picket.Actor{ID: "U0ADMIN", Name: "admin"}, At: time.Now().UTC()}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *autoRig) drained() bool {
	v, f := r.emu.Count(context.Background(), r.queueURL)
	return v == 0 && f == 0
}

// TestAutomaticRulesEndToEnd publishes MaliciousIPCaller findings through
// the SNS/SQS emulator to the picket binary, with an auto rule that
// disables the user (budget 5 an hour), and checks: exactly one disable
// per finding through duplicates and an update, announced in the alert's
// thread with Undo; a kill between intake and the run, and another
// between the claim and the end of the action, run nothing twice after
// the restart; the kill switch, stored as /picket auto off leaves it,
// stops runs and survives a restart; past the budget the rule falls back
// to a notice with Run buttons.
func TestAutomaticRulesEndToEnd(t *testing.T) {
	stormPreflight(t)
	t.Parallel()
	r := &autoRig{t: t, emu: fauxqs.Start(t), slack: newThreadSlack(t), aws: newIAMFake(t), dataDir: t.TempDir(), logs: &lockedLog{}}
	ctx := context.Background()
	r.queueURL, _ = r.emu.CreateQueueWithDLQ(ctx, "picket-auto", 5, 5*time.Second)
	r.topic = r.emu.CreateTopicSubscribedTo(ctx, "picket-auto", r.queueURL, false)
	r.config = filepath.Join(t.TempDir(), "picket.yaml")
	cfg := `slack:
  default_channel: "#security-alerts"
  default_min_severity: low
ingest:
  wait_time: 1s
  visibility_timeout: 5s
  reconcile_interval: 0s
delivery:
  grouping: false
enrich:
  enabled: false
roles:
  - name: admins
    users: ["U0ADMIN"]
    actions: ["*"]
    commands: ["*"]
automation:
  rules:
    - name: malicious-ip-caller
      enabled: true
      match:
        sources: ["guardduty"]
        types: ["UnauthorizedAccess:IAMUser/MaliciousIPCaller*"]
        min_severity: medium
      actions: ["disable_user"]
      mode: auto
      budget: 5
`
	if err := os.WriteFile(r.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("picket logs:\n%s", tail(r.logs.String(), 80))
		}
	})
	ran := func(user string) int { return r.aws.count("PutUserPolicy", user) }
	waitRan := func(user string) {
		t.Helper()
		waitFor(t, user+" disabled", 60*time.Second, func() bool { return ran(user) >= 1 })
	}
	ruleReplies := func(user, want string) int {
		n := 0
		for _, p := range r.slack.replies(user) {
			if strings.Contains(p.Content, "automatic rule malicious-ip-caller") || strings.Contains(p.Content, "Automatic rule") {
				if want == "" || strings.Contains(p.Content, want) {
					n++
				}
			}
		}
		return n
	}

	// Run A: a finding delivered twice and then updated is disabled once,
	// and the alert's thread says so with Undo.
	a := r.start()
	r.publish(maliciousIPEvent(t, "auto-f1", "auto-user-1", 1), maliciousIPEvent(t, "auto-f1", "auto-user-1", 1))
	waitRan("auto-user-1")
	r.publish(maliciousIPEvent(t, "auto-f1", "auto-user-1", 2))
	r.publish(maliciousIPEvent(t, "auto-f2", "auto-user-2", 1))
	waitRan("auto-user-2")
	waitFor(t, "the thread reply for user 1", 30*time.Second, func() bool { return ruleReplies("auto-user-1", "") >= 1 })
	waitFor(t, "the queue drained", 30*time.Second, r.drained)

	// Killed between intake and the run: the plan's first read is held.
	held := r.aws.holdNext("GetUser", "auto-user-3")
	r.publish(maliciousIPEvent(t, "auto-f3", "auto-user-3", 1))
	select {
	case <-held:
	case <-time.After(60 * time.Second):
		t.Fatal("the run for user 3 never planned")
	}
	r.kill(a)
	if n := ran("auto-user-3"); n != 0 {
		t.Fatalf("user 3 disabled %d times before the kill, want 0", n)
	}

	// Run B: the run is resumed from the store (its queue message was
	// deleted after intake) and done once.
	b := r.start()
	waitRan("auto-user-3")

	// Killed between the claim and the end of the action: the deny
	// policy is held (the access key is already deactivated).
	held = r.aws.holdNext("PutUserPolicy", "auto-user-4")
	r.publish(maliciousIPEvent(t, "auto-f4", "auto-user-4", 1))
	select {
	case <-held:
	case <-time.After(60 * time.Second):
		t.Fatal("the action for user 4 never reached PutUserPolicy")
	}
	r.kill(b)

	// Run C, with automatic responses switched off while stopped: the
	// interrupted action is closed, not run again, and a new finding is
	// only offered (budget left: 1).
	r.setSwitch(true)
	c := r.start()
	r.publish(maliciousIPEvent(t, "auto-f5", "auto-user-5", 1))
	waitFor(t, "the notice for user 5", 60*time.Second, func() bool { return ruleReplies("auto-user-5", "switched off") >= 1 })
	waitFor(t, "the reply for user 4", 60*time.Second, func() bool { return len(r.slack.replies("auto-user-4")) >= 1 })
	time.Sleep(2 * time.Second) // a repeat of user 4's action would come now
	r.stop(c)

	// Run D, switched on again: the budget's last run, then a fall-back.
	r.setSwitch(false)
	d := r.start()
	r.publish(maliciousIPEvent(t, "auto-f6", "auto-user-6", 1))
	waitRan("auto-user-6")
	r.publish(maliciousIPEvent(t, "auto-f7", "auto-user-7", 1))
	waitFor(t, "the budget notice for user 7", 60*time.Second, func() bool { return ruleReplies("auto-user-7", "budget") >= 1 })
	waitFor(t, "the queue drained", 30*time.Second, r.drained)
	time.Sleep(2 * time.Second) // a late extra run would come now

	for user, want := range map[string]int{
		"auto-user-1": 1, "auto-user-2": 1, "auto-user-3": 1, "auto-user-4": 1,
		"auto-user-5": 0, "auto-user-6": 1, "auto-user-7": 0,
	} {
		if got := ran(user); got != want {
			t.Errorf("%s: PutUserPolicy calls = %d, want %d", user, got, want)
		}
		if got, w := r.aws.count("UpdateAccessKey", user), min(want, 1); got != w {
			t.Errorf("%s: UpdateAccessKey calls = %d, want %d", user, got, w)
		}
	}
	// One reply from the rule per finding acted on, with Undo; user 4's
	// says the action was interrupted.
	for _, user := range []string{"auto-user-1", "auto-user-2", "auto-user-3", "auto-user-6"} {
		if n := ruleReplies(user, "picket.undo"); n != 1 {
			t.Errorf("%s: rule replies with Undo = %d, want 1; replies: %+v", user, n, r.slack.replies(user))
		}
	}
	if n := ruleReplies("auto-user-4", "stopped while this action was running"); n < 1 {
		t.Errorf("auto-user-4: no reply says the action was interrupted; replies: %+v", r.slack.replies("auto-user-4"))
	}
	for _, user := range []string{"auto-user-5", "auto-user-7"} {
		if n := ruleReplies(user, "picket.disable_user"); n != 1 {
			t.Errorf("%s: notices with a Run button = %d, want 1; replies: %+v", user, n, r.slack.replies(user))
		}
	}

	// picket audit export shows every automatic action with the rule as
	// the actor, and the trail verifies.
	r.stop(d)
	env := map[string]string{"PICKET_DATA_DIR": r.dataDir}
	code, out, errOut := runCLI(t, env, "audit", "export")
	if code != exitOK {
		t.Fatalf("audit export: exit %d: %s", code, errOut)
	}
	events := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e picket.AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		events[e.Event+" "+e.Actor.ID]++
	}
	for ev, want := range map[string]int{
		"requested rule:malicious-ip-caller": 5, // users 1, 2, 3, 4, 6
		"executed rule:malicious-ip-caller":  4, // user 4's was interrupted
		"interrupted picket":                 1,
		"proposed rule:malicious-ip-caller":  2, // users 5 (switched off) and 7 (budget)
	} {
		if events[ev] != want {
			t.Errorf("audit export: %d %q entries, want %d; all: %v", events[ev], ev, want, events)
		}
	}
	if code, out, errOut := runCLI(t, env, "audit", "verify"); code != exitOK {
		t.Errorf("audit verify: exit %d: %s %s", code, out, errOut)
	}
}
