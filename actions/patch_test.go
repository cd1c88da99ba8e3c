package actions_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
	"github.com/picketsec/picket/bot"
	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/notifiers"
	"github.com/picketsec/picket/store"
)

// patchFinding is an Amazon Inspector package vulnerability on instance
// i-0abc, in an OS package with a fix, with hostile package text.
func patchFinding() *picket.Finding {
	return &picket.Finding{
		Key: "fk-p", ID: "arn:aws:inspector2:us-east-1:123456789012:finding/f1", Source: picket.SourceInspector,
		Type: "PACKAGE_VULNERABILITY", Title: "CVE-2023-38545 - curl", Account: qAccount, Region: "us-east-1",
		Resources: []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: qInstance}},
		Vulnerabilities: []picket.Vulnerability{{ID: "CVE-2023-38545", FixAvailable: "YES", Packages: []picket.Package{
			{Name: "curl <!channel>", Version: "7.88.1", FixedIn: "8.3.0 & later", Manager: "OS"},
			{Name: "requests", Version: "2.25.0", FixedIn: "2.31.0", Manager: "PYTHONPKG"},
		}}},
	}
}

// patchScenario is what the fake AWS answers for a patch.
type patchScenario struct {
	tags        string // extra tag <item>s of the instance
	notManaged  bool
	ping        string             // default Online
	invocations []awsfake.Response // GetCommandInvocation answers in order; default InProgress then Success
}

func invocation(status, out string) awsfake.Response {
	return awsfake.JSONBody(map[string]any{"CommandId": "cmd-1", "InstanceId": qInstance, "Status": status,
		"StatusDetails": status, "StandardOutputContent": out, "StandardErrorContent": ""})
}

func newPatchFake(t *testing.T, sc patchScenario) *awsfake.Server {
	t.Helper()
	srv := awsfake.New(t)
	srv.On("ec2", "DescribeInstances", awsfake.Reply(awsfake.EC2Result("DescribeInstances", fmt.Sprintf(`
<reservationSet><item><reservationId>r-1</reservationId><instancesSet><item>
  <instanceId>%s</instanceId><instanceState><code>16</code><name>running</name></instanceState>
  <tagSet><item><key>Name</key><value>web-1</value></item>%s</tagSet>
</item></instancesSet></item></reservationSet>`, qInstance, sc.tags))))
	info := []any{}
	if !sc.notManaged {
		ping := sc.ping
		if ping == "" {
			ping = "Online"
		}
		info = append(info, map[string]any{"InstanceId": qInstance, "PingStatus": ping, "PlatformName": "Amazon Linux", "PlatformVersion": "2023", "AgentVersion": "3.2.0"})
	}
	srv.On("ssm", "DescribeInstanceInformation", awsfake.Reply(awsfake.JSONBody(map[string]any{"InstanceInformationList": info})))
	srv.On("ssm", "SendCommand", awsfake.Reply(awsfake.JSONBody(map[string]any{"Command": map[string]any{"CommandId": "cmd-1", "Status": "Pending"}})))
	inv := sc.invocations
	if inv == nil {
		inv = []awsfake.Response{
			awsfake.JSONError("InvocationDoesNotExist", "no invocation yet"),
			invocation("InProgress", "Installing..."),
			invocation("Success", "Installed curl-8.3.0 <@U0EVIL> & done\nNo reboot needed"),
		}
	}
	srv.On("ssm", "GetCommandInvocation", awsfake.Sequence(inv...))
	return srv
}

// testClock is a clock that Patch's Sleep moves forward.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	time.Sleep(time.Millisecond) // let a cancellation in
	return ctx.Err()
}

func newTestPatch(srv *awsfake.Server, clk *testClock) *actions.Patch {
	cfg := srv.Config()
	c := actions.Clients{EC2: ec2.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg)}
	return &actions.Patch{
		Clients: func(context.Context, string, string) (actions.Clients, error) { return c, nil },
		Now:     clk.now, Sleep: clk.sleep, FollowFor: time.Hour, PollMin: 5 * time.Second, PollMax: 30 * time.Second,
	}
}

// patchFlow wires a Patch through Slack like newFlow, with the Service's
// background context under the test's control.
func patchFlow(t *testing.T, srv *awsfake.Server, policy actions.Policy, db *store.DB, ctx context.Context) (*flow, *actions.Service) {
	t.Helper()
	if db == nil {
		var err error
		db, err = store.Open(filepath.Join(t.TempDir(), "picket.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.PutFinding(picket.FindingRecord{Finding: *patchFinding(), Ref: picket.MessageRef{Channel: "C0ALERTS", TS: "1700000000.000001"}}); err != nil {
			t.Fatal(err)
		}
	}
	sl := newSlackLog(t)
	sender := notifiers.DialSlack("xoxb-test", sl.srv.GetAPIURL(), notifiers.SlackOptions{PerChannelInterval: -1})
	if policy.Roles == nil {
		policy.Roles = []actions.Role{{Name: "responders", Users: []string{"U0ALICE"}, Actions: []string{"*"}}}
	}
	p := newTestPatch(srv, &testClock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)})
	svc, err := actions.NewService(actions.ServiceOptions{
		Policy: policy, Responders: map[picket.ActionKind]picket.Responder{picket.ActionPatchInstance: p},
		Findings: db, Actions: db, Suppressions: db, Audit: db, Announcer: sender, Alerts: sender, Context: ctx,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Wait)
	b, err := bot.New(bot.Options{Service: svc, SigningSecret: flowSecret, API: bot.Client("xoxb-test", "xapp-test", sl.srv.GetAPIURL())})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(b.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(b.Wait)
	return &flow{t: t, db: db, aws: srv, slack: sl, bot: b, http: hs}, svc
}

// waitPatch waits until the patch record leaves running and returns it.
func waitPatch(t *testing.T, fl *flow) picket.ActionRecord {
	t.Helper()
	var rec picket.ActionRecord
	waitUntil(t, "the patch to end", func() bool {
		recs, _ := fl.db.ActionsForFinding("fk-p")
		if len(recs) == 0 {
			return false
		}
		rec = recs[len(recs)-1]
		return rec.Status != picket.StatusRunning
	})
	return rec
}

var patchReads = []string{"ec2:DescribeInstances", "ssm:DescribeInstanceInformation"}

func rebootChoice(v string) map[string]any {
	return map[string]any{"reboot": map[string]any{"reboot": map[string]any{"type": "static_select", "selected_option": map[string]any{"value": v}}}}
}

func TestSlackPatchInstance(t *testing.T) {
	fl, _ := patchFlow(t, newPatchFake(t, patchScenario{}), actions.Policy{}, nil, context.Background())
	meta, text := fl.plan("U0ALICE", bot.ActionPatchInstance, "fk-p")
	for _, want := range []string{"AWS-RunPatchBaseline", "CVE-2023-38545", "7.88.1", `8.3.0 \u0026amp; later`, "managed, agent Online", "RebootIfNeeded", "no undo", "NoReboot"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan dialog does not mention %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "<!channel>") {
		t.Error("a package name reached the dialog unescaped")
	}
	if strings.Contains(text, "requests") {
		t.Error("the plan offers to patch a language package Patch Manager does not update")
	}
	if got := fl.aws.Operations(); !slices.Equal(got, patchReads) {
		t.Fatalf("planning calls = %v, want %v", got, patchReads)
	}
	fl.aws.Reset()
	fl.confirm("U0ALICE", meta, rebootChoice("NoReboot"), true)
	rec := waitPatch(t, fl)
	fl.bot.Wait()
	want := append(slices.Clone(patchReads), "ssm:SendCommand", "ssm:GetCommandInvocation", "ssm:GetCommandInvocation", "ssm:GetCommandInvocation")
	if got := fl.aws.Operations(); !slices.Equal(got, want) {
		t.Fatalf("AWS calls:\n got %v\nwant %v", got, want)
	}
	send := fl.aws.Calls()[2]
	if send.Param("DocumentName") != "AWS-RunPatchBaseline" || send.Param("InstanceIds") != `["i-0abc"]` ||
		send.Param("Parameters") != `{"Operation":["Install"],"RebootOption":["NoReboot"]}` {
		t.Errorf("SendCommand document %q instances %s parameters %s", send.Param("DocumentName"), send.Param("InstanceIds"), send.Param("Parameters"))
	}
	if rec.Status != picket.OutcomeSucceeded || !strings.Contains(rec.Result.Output, "Installed curl-8.3.0") {
		t.Fatalf("record %s, output %q; want succeeded with the output", rec.Status, rec.Result.Output)
	}
	// The thread: first "running", then the outcome with the output,
	// escaped.
	waitUntil(t, "two thread replies", func() bool { _, _, _, posts, _ := fl.slack.snapshot(); return len(posts) >= 2 })
	_, _, _, posts, edits := fl.slack.snapshot()
	last := posts[len(posts)-1].Get("attachments") + posts[len(posts)-1].Get("blocks")
	if !strings.Contains(last, "Installed curl-8.3.0") || strings.Contains(last, "<@U0EVIL>") {
		t.Errorf("final thread reply should carry the escaped output:\n%s", last)
	}
	if len(edits) == 0 || strings.Contains(edits[len(edits)-1].Get("attachments")+edits[len(edits)-1].Get("blocks"), notifiers.ActionUndo) {
		t.Error("the alert was not updated, or offers Undo for a patch")
	}
	events := fl.auditEvents()
	wantEvents := []string{"requested:U0ALICE:", "started:U0ALICE:running", "executed:U0ALICE:succeeded"}
	if !slices.Equal(events, wantEvents) {
		t.Errorf("audit = %v, want %v", events, wantEvents)
	}
	// picket audit export carries the patch.
	var b strings.Builder
	if _, err := fl.db.ExportAudit(&b, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"action":"patch_instance"`) || !strings.Contains(b.String(), "ssm:SendCommand") {
		t.Errorf("audit export lacks the patch:\n%s", b.String())
	}
	// Patch has no undo.
	_, textU := fl.plan("U0ALICE", bot.ActionUndo, rec.Request.ID)
	if !strings.Contains(textU, "cannot be undone") {
		t.Errorf("undo of a patch should be refused:\n%s", textU)
	}
}

func TestSlackPatchGuardrails(t *testing.T) {
	t.Run("dry run", func(t *testing.T) {
		fl, _ := patchFlow(t, newPatchFake(t, patchScenario{}), actions.Policy{DryRunActions: []picket.ActionKind{picket.ActionPatchInstance}}, nil, context.Background())
		meta, _ := fl.plan("U0ALICE", bot.ActionPatchInstance, "fk-p")
		fl.aws.Reset()
		fl.confirm("U0ALICE", meta, nil, true)
		rec := waitPatch(t, fl)
		if got := fl.aws.Operations(); !slices.Equal(got, patchReads) {
			t.Errorf("dry run calls = %v, want only the reads %v", got, patchReads)
		}
		if rec.Status != picket.OutcomeDryRunned {
			t.Errorf("status %s, want dry_run", rec.Status)
		}
	})
	t.Run("denied", func(t *testing.T) {
		fl, _ := patchFlow(t, newPatchFake(t, patchScenario{}), actions.Policy{}, nil, context.Background())
		_, text := fl.plan("U0EVE", bot.ActionPatchInstance, "fk-p")
		if !strings.Contains(text, "not allowed") || len(fl.aws.Operations()) != 0 {
			t.Errorf("denied: dialog %q, calls %v", text, fl.aws.Operations())
		}
		if got := fl.auditEvents(); !slices.Equal(got, []string{"denied:U0EVE:denied"}) {
			t.Errorf("audit = %v", got)
		}
	})
	for _, tc := range []struct {
		name, want string
		sc         patchScenario
		calls      []string
	}{
		{"not managed by Systems Manager", "Patch unavailable: instance i-0abc is not managed by Systems Manager", patchScenario{notManaged: true}, patchReads},
		{"agent offline", "is ConnectionLost, not Online", patchScenario{ping: "ConnectionLost"}, patchReads},
		{"protected instance", "protected", patchScenario{tags: `<item><key>picket:protected</key><value>true</value></item>`}, []string{"ec2:DescribeInstances"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fl, _ := patchFlow(t, newPatchFake(t, tc.sc), actions.Policy{}, nil, context.Background())
			_, text := fl.plan("U0ALICE", bot.ActionPatchInstance, "fk-p")
			if !strings.Contains(text, tc.want) {
				t.Errorf("refusal dialog lacks %q:\n%s", tc.want, text)
			}
			if got := fl.aws.Operations(); !slices.Equal(got, tc.calls) {
				t.Errorf("calls = %v, want %v", got, tc.calls)
			}
			if got := fl.auditEvents(); len(got) != 1 || !strings.HasPrefix(got[0], "refused:U0ALICE") {
				t.Errorf("audit = %v, want one refusal", got)
			}
		})
	}
	for _, tc := range []struct {
		name     string
		inv      []awsfake.Response
		want     string // error code of the follow step
		wantText string
	}{
		{"command failed", []awsfake.Response{invocation("Failed", "Error: Cannot find a valid baseurl <!here>")}, "Failed", "ended in Failed"},
		{"command timed out in SSM", []awsfake.Response{invocation("InProgress", ""), invocation("TimedOut", "partial output")}, "TimedOut", "ended in TimedOut"},
		{"Picket stops following at its deadline", []awsfake.Response{invocation("InProgress", "still running")}, "PicketFollowTimeout", "stopped following it"},
		{"following denied", []awsfake.Response{awsfake.JSONError("AccessDeniedException", "not authorized to perform ssm:GetCommandInvocation")}, "AccessDeniedException", "could not follow it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fl, _ := patchFlow(t, newPatchFake(t, patchScenario{invocations: tc.inv}), actions.Policy{}, nil, context.Background())
			meta, _ := fl.plan("U0ALICE", bot.ActionPatchInstance, "fk-p")
			fl.confirm("U0ALICE", meta, nil, true)
			rec := waitPatch(t, fl)
			if rec.Status != picket.OutcomePartial {
				t.Fatalf("status %s, want partial (the command was sent)", rec.Status)
			}
			steps := rec.Result.Steps
			if len(steps) != 2 || steps[0].Status != picket.StepDone || steps[1].Status != picket.StepFailed || steps[1].ErrorCode != tc.want {
				t.Fatalf("steps %+v, want SendCommand done and the follow failed with %s", steps, tc.want)
			}
			if !strings.Contains(rec.Result.Summary, tc.wantText) {
				t.Errorf("summary %q lacks %q", rec.Result.Summary, tc.wantText)
			}
			// Exact order: the plan's reads, the execution's reads, one
			// SendCommand, then only polls (one per answer given, or
			// repeated until the deadline).
			ops := fl.aws.Operations()
			head := append(append(slices.Clone(patchReads), patchReads...), "ssm:SendCommand")
			if len(ops) <= len(head) || !slices.Equal(ops[:len(head)], head) {
				t.Fatalf("calls = %v, want %v then polls", ops, head)
			}
			polls := ops[len(head):]
			for _, op := range polls {
				if op != "ssm:GetCommandInvocation" {
					t.Fatalf("calls after SendCommand = %v, want only ssm:GetCommandInvocation", polls)
				}
			}
			if tc.want != "PicketFollowTimeout" && len(polls) != len(tc.inv) {
				t.Errorf("polled %d times, want %d", len(polls), len(tc.inv))
			}
			if tc.want == "PicketFollowTimeout" && len(polls) < 3 {
				t.Errorf("polled %d times before the deadline, want several", len(polls))
			}
			waitUntil(t, "the outcome in the thread", func() bool { _, _, _, posts, _ := fl.slack.snapshot(); return len(posts) >= 2 })
			_, _, _, posts, _ := fl.slack.snapshot()
			if r := posts[len(posts)-1].Get("blocks") + posts[len(posts)-1].Get("attachments"); strings.Contains(r, "<!here>") {
				t.Error("command output reached Slack unescaped")
			}
		})
	}
}

// TestPatchResumesAfterRestart: Picket stops while following a command;
// the next start follows the same command to its end and never sends it
// again.
func TestPatchResumesAfterRestart(t *testing.T) {
	release := make(chan struct{})
	srv := newPatchFake(t, patchScenario{})
	var mu sync.Mutex
	done := false
	srv.On("ssm", "GetCommandInvocation", func(r *awsfake.Request) awsfake.Response {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			return invocation("InProgress", "Installing...")
		}
		return invocation("Success", "Installed after the restart")
	})
	ctx, cancel := context.WithCancel(context.Background())
	fl, svc := patchFlow(t, srv, actions.Policy{}, nil, ctx)
	meta, _ := fl.plan("U0ALICE", bot.ActionPatchInstance, "fk-p")
	fl.confirm("U0ALICE", meta, nil, true)
	waitUntil(t, "following", func() bool {
		return slices.Contains(srv.Operations(), "ssm:GetCommandInvocation")
	})
	cancel() // the process stops
	svc.Wait()
	close(release)
	recs, _ := fl.db.ActionsForFinding("fk-p")
	if len(recs) != 1 || recs[0].Status != picket.StatusRunning || !strings.Contains(string(recs[0].Evidence), `"command_id":"cmd-1"`) {
		t.Fatalf("after the stop: records %+v, want one running with the command id saved", recs)
	}

	mu.Lock()
	done = true
	mu.Unlock()
	fl2, svc2 := patchFlow(t, srv, actions.Policy{}, fl.db, context.Background())
	if n := svc2.Recover(context.Background()); n != 0 {
		t.Errorf("Recover closed %d actions, want 0 (the patch is resumed, not closed)", n)
	}
	rec := waitPatch(t, fl2)
	svc2.Wait()
	if rec.Status != picket.OutcomeSucceeded || rec.Result.Output != "Installed after the restart" {
		t.Fatalf("resumed patch: %s %q, want succeeded with the output", rec.Status, rec.Result.Output)
	}
	n := 0
	for _, op := range srv.Operations() {
		if op == "ssm:SendCommand" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("SendCommand sent %d times across the restart, want 1", n)
	}
	events := fl2.auditEvents()
	if want := []string{"requested:U0ALICE:", "started:U0ALICE:running", "resumed:picket:running", "executed:U0ALICE:succeeded"}; !slices.Equal(events, want) {
		t.Errorf("audit = %v, want %v", events, want)
	}
}

// TestSlackPatchAgainAfterFailure: a patch whose command failed releases
// its claim, so the alert offers Patch again and it runs; once one
// succeeded, the alert offers it no more.
func TestSlackPatchAgainAfterFailure(t *testing.T) {
	srv := newPatchFake(t, patchScenario{invocations: []awsfake.Response{invocation("Failed", "disk full")}})
	fl, _ := patchFlow(t, srv, actions.Policy{Roles: []actions.Role{{Name: "r", Users: []string{"U0ALICE", "U0BOB", "U0CAROL"}, Actions: []string{"*"}}}},
		nil, context.Background())
	meta, _ := fl.plan("U0ALICE", bot.ActionPatchInstance, "fk-p")
	fl.confirm("U0ALICE", meta, nil, true)
	if rec := waitPatch(t, fl); rec.Status != picket.OutcomePartial {
		t.Fatalf("first patch %s, want partial", rec.Status)
	}
	waitUntil(t, "the alert redrawn", func() bool {
		_, _, _, _, edits := fl.slack.snapshot()
		return len(edits) >= 2
	})
	_, _, _, _, edits := fl.slack.snapshot()
	if a := edits[len(edits)-1].Get("attachments") + edits[len(edits)-1].Get("blocks"); !strings.Contains(a, notifiers.ActionPatchInstance) {
		t.Errorf("after a failed patch the alert offers no Patch button:\n%s", a)
	}
	srv.On("ssm", "GetCommandInvocation", awsfake.Reply(invocation("Success", "ok")))
	meta, _ = fl.plan("U0BOB", bot.ActionPatchInstance, "fk-p")
	fl.confirm("U0BOB", meta, nil, true)
	waitUntil(t, "the second patch", func() bool {
		recs, _ := fl.db.ActionsForFinding("fk-p")
		return len(recs) == 2 && recs[1].Status == picket.OutcomeSucceeded
	})
	n := 0
	for _, op := range srv.Operations() {
		if op == "ssm:SendCommand" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("SendCommand sent %d times, want 2 (the failed one and the retry)", n)
	}
	// Succeeded, the alert offers Patch no more.
	waitUntil(t, "the alert redrawn after the success", func() bool {
		_, _, _, _, edits := fl.slack.snapshot()
		a := edits[len(edits)-1].Get("attachments") + edits[len(edits)-1].Get("blocks")
		return strings.Contains(a, "patched instance") && !strings.Contains(a, notifiers.ActionPatchInstance)
	})
}

// TestSlackPatchOneAtATimePerInstance: while a patch runs on an instance,
// a patch asked from another finding on the same instance is refused with
// who is patching; afterwards it may run.
func TestSlackPatchOneAtATimePerInstance(t *testing.T) {
	srv := newPatchFake(t, patchScenario{})
	var mu sync.Mutex
	finished := false
	srv.On("ssm", "GetCommandInvocation", func(*awsfake.Request) awsfake.Response {
		mu.Lock()
		defer mu.Unlock()
		if finished {
			return invocation("Success", "ok")
		}
		return invocation("InProgress", "")
	})
	fl, _ := patchFlow(t, srv, actions.Policy{Roles: []actions.Role{{Name: "r", Users: []string{"U0ALICE", "U0BOB", "U0CAROL"}, Actions: []string{"*"}}}},
		nil, context.Background())
	other := patchFinding()
	other.Key, other.ID = "fk-p2", "arn:aws:inspector2:us-east-1:123456789012:finding/f2"
	if err := fl.db.PutFinding(picket.FindingRecord{Finding: *other, Ref: picket.MessageRef{Channel: "C0ALERTS", TS: "1700000000.000002"}}); err != nil {
		t.Fatal(err)
	}
	meta, _ := fl.plan("U0ALICE", bot.ActionPatchInstance, "fk-p")
	fl.confirm("U0ALICE", meta, nil, true)
	meta2, _ := fl.plan("U0BOB", bot.ActionPatchInstance, "fk-p2")
	_, eph := fl.confirm("U0BOB", meta2, nil, false)
	if txt := eph.Get("text"); !strings.Contains(txt, "already patching i-0abc") || !strings.Contains(txt, "alice") {
		t.Errorf("second patch of the instance: got %q, want told alice is already patching it", txt)
	}
	mu.Lock()
	finished = true
	mu.Unlock()
	waitPatch(t, fl)
	meta3, _ := fl.plan("U0CAROL", bot.ActionPatchInstance, "fk-p2")
	fl.confirm("U0CAROL", meta3, nil, true)
	waitUntil(t, "the second finding's patch", func() bool {
		recs, _ := fl.db.ActionsForFinding("fk-p2")
		return len(recs) == 1 && recs[0].Status == picket.OutcomeSucceeded
	})
	n := 0
	for _, op := range srv.Operations() {
		if op == "ssm:SendCommand" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("SendCommand sent %d times, want 2 (one per patch that ran)", n)
	}
}

// TestSlackPatchWithApproval: with the two-person rule nothing is sent
// until a second person approves in the thread; then the command runs and
// is followed as usual.
func TestSlackPatchWithApproval(t *testing.T) {
	srv := newPatchFake(t, patchScenario{})
	fl, _ := patchFlow(t, srv, actions.Policy{Approvals: []picket.ActionKind{picket.ActionPatchInstance},
		Roles: []actions.Role{{Name: "r", Users: []string{"U0ALICE", "U0BOB"}, Actions: []string{"*"}}}}, nil, context.Background())
	meta, _ := fl.plan("U0ALICE", bot.ActionPatchInstance, "fk-p")
	fl.aws.Reset()
	thread, _ := fl.confirm("U0ALICE", meta, rebootChoice("NoReboot"), true)
	if r := thread.Get("attachments") + thread.Get("blocks"); !strings.Contains(r, notifiers.ActionApprove) || !strings.Contains(r, "CVE-2023-38545") {
		t.Fatalf("the approval request should offer Approve and name the CVE:\n%s", r)
	}
	if len(fl.aws.Operations()) != 0 {
		t.Fatalf("calls before approval: %v", fl.aws.Operations())
	}
	recs, _ := fl.db.ActionsForFinding("fk-p")
	fl.post("/slack/interactions", payloadForm(click("U0BOB", bot.ActionApprove, recs[0].Request.ID)), time.Now())
	var rec picket.ActionRecord
	waitUntil(t, "the approved patch to end", func() bool {
		rec, _, _ = fl.db.Action(recs[0].Request.ID)
		return rec.Status != picket.OutcomePending && rec.Status != picket.StatusRunning
	})
	if rec.Status != picket.OutcomeSucceeded || rec.Approver == nil || rec.Approver.ID != "U0BOB" {
		t.Fatalf("record %s approved by %+v, want succeeded approved by U0BOB", rec.Status, rec.Approver)
	}
	want := append(slices.Clone(patchReads), "ssm:SendCommand", "ssm:GetCommandInvocation", "ssm:GetCommandInvocation", "ssm:GetCommandInvocation")
	if got := fl.aws.Operations(); !slices.Equal(got, want) {
		t.Errorf("calls after approval:\n got %v\nwant %v", got, want)
	}
	if p := fl.aws.Calls()[2].Param("Parameters"); !strings.Contains(p, `"RebootOption":["NoReboot"]`) {
		t.Errorf("parameters %s, want the requester's NoReboot", p)
	}
}

// TestPatchRecoverBeforeCommandID: a patch stopped after saving its record
// but before saving the command id is closed as partial, telling how to
// find the command; nothing is sent or followed.
func TestPatchRecoverBeforeCommandID(t *testing.T) {
	srv := newPatchFake(t, patchScenario{})
	fl, _ := patchFlow(t, srv, actions.Policy{}, nil, context.Background())
	req := picket.ActionRequest{ID: "act-p9", Kind: picket.ActionPatchInstance, FindingKey: "fk-p", Account: qAccount, Region: "us-east-1",
		Target: picket.Resource{Kind: picket.ResourceEC2Instance, ID: qInstance}, Actor: picket.Actor{ID: "U0ALICE"}, At: time.Now().UTC()}
	rec := picket.ActionRecord{Request: req, Status: picket.StatusRunning, Evidence: []byte(`{"instance_id":"i-0abc","reboot_option":"RebootIfNeeded"}`)}
	if _, ok, err := fl.db.ClaimAction(rec); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	_, svc2 := patchFlow(t, srv, actions.Policy{}, fl.db, context.Background())
	if n := svc2.Recover(context.Background()); n != 1 {
		t.Fatalf("Recover closed %d, want 1", n)
	}
	got, _, _ := fl.db.Action("act-p9")
	if got.Status != picket.OutcomePartial || !strings.Contains(got.Result.NextStep, `"Picket act-p9"`) {
		t.Errorf("recovered record %s, next step %q; want partial, pointing at the command's comment", got.Status, got.Result.NextStep)
	}
	if ops := srv.Operations(); len(ops) != 0 {
		t.Errorf("calls on recovery: %v, want none", ops)
	}
}
