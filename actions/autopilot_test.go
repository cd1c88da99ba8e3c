package actions_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
)

// noticeRecorder records the notices rules post.
type noticeRecorder struct {
	mu      sync.Mutex
	notices []picket.AutoNotice
}

func (n *noticeRecorder) AnnounceAuto(_ context.Context, _ picket.MessageRef, notice picket.AutoNotice) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notices = append(n.notices, notice)
	return nil
}

func (n *noticeRecorder) list() []picket.AutoNotice {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.notices)
}

// autoRule is an enabled auto rule on IAM user findings.
func autoRule(name string, budget int, kinds ...picket.ActionKind) picket.AutoRule {
	if len(kinds) == 0 {
		kinds = []picket.ActionKind{picket.ActionDisableUser}
	}
	return picket.AutoRule{Name: name, Enabled: true, Types: []string{"UnauthorizedAccess:IAMUser/*"},
		MinSeverity: picket.SeverityMedium, Actions: kinds, Mode: picket.AutoModeAuto, Budget: budget}
}

// userFindingRec stores a High finding about IAM user user, shown at ref
// (zero: not posted yet, but routed to a channel).
func (h *harness) userFindingRec(t *testing.T, key, user string, ref picket.MessageRef) picket.Finding {
	t.Helper()
	f := picket.Finding{Key: key, ID: "gd-" + key, Source: picket.SourceGuardDuty, Title: "Malicious IP caller",
		Account: "123456789012", Region: "us-east-1", Severity: picket.SeverityHigh,
		Type:      "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
		Resources: []picket.Resource{{Kind: picket.ResourceIAMUser, ID: user}}}
	if err := h.db.PutFinding(picket.FindingRecord{Finding: f, Ref: ref, Route: picket.Route{Channel: "C1"}}); err != nil {
		t.Fatal(err)
	}
	return f
}

func newPilot(t *testing.T, h *harness, paused bool, rules ...picket.AutoRule) (*actions.Autopilot, *noticeRecorder) {
	t.Helper()
	n := &noticeRecorder{}
	p, err := actions.NewAutopilot(actions.AutopilotOptions{Service: h.svc, Store: h.db, Rules: rules, Paused: paused,
		Announcer: n, Now: func() time.Time { return *h.now }})
	if err != nil {
		t.Fatal(err)
	}
	return p, n
}

func commit(t *testing.T, p *actions.Autopilot, fs ...picket.Finding) {
	t.Helper()
	if err := p.Committed(context.Background(), fs); err != nil {
		t.Fatal(err)
	}
}

var posted = picket.MessageRef{Channel: "C1", TS: "1.1"}

func TestAutopilotRunsOncePerFinding(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	ctx := context.Background()
	p, notices := newPilot(t, h, false, autoRule("malicious-ip", 10))
	f := h.userFindingRec(t, "f1", "mallory", posted)

	// Delivered twice, then updated: one run.
	commit(t, p, f)
	commit(t, p, f)
	p.Step(ctx)
	f.Count, f.UpdatedAt = 2, h.now.Add(time.Minute)
	commit(t, p, f)
	p.Step(ctx)
	p.Step(ctx)

	if got := h.responder.executes.Load(); got != 1 {
		t.Fatalf("executes = %d, want 1", got)
	}
	h.rec.mu.Lock()
	announced := slices.Clone(h.rec.announced)
	h.rec.mu.Unlock()
	if len(announced) != 1 {
		t.Fatalf("thread replies = %d, want 1", len(announced))
	}
	rec := announced[0]
	if rec.Request.Actor.ID != "rule:malicious-ip" || rec.Status != picket.OutcomeSucceeded {
		t.Errorf("announced actor %q status %s, want rule:malicious-ip succeeded", rec.Request.Actor.ID, rec.Status)
	}
	if name, ok := rec.Request.Actor.Rule(); !ok || name != "malicious-ip" {
		t.Errorf("Actor.Rule() = %q, %v; want malicious-ip, true", name, ok)
	}
	if len(notices.list()) != 0 {
		t.Errorf("notices = %v, want none in auto mode within budget", notices.list())
	}
	ev := h.auditEvents(t)
	want := []string{"requested:rule:malicious-ip", "executed:rule:malicious-ip"}
	if !slices.Equal(ev, want) {
		t.Errorf("audit = %v, want %v", ev, want)
	}
}

func TestAutopilotBudgetFallsBackToNotify(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	ctx := context.Background()
	p, notices := newPilot(t, h, false, autoRule("malicious-ip", 2))
	for i, user := range []string{"u1", "u2", "u3"} {
		commit(t, p, h.userFindingRec(t, "f"+string(rune('1'+i)), user, posted))
		p.Step(ctx)
	}
	if got := h.responder.executes.Load(); got != 2 {
		t.Fatalf("executes = %d, want 2 (the budget)", got)
	}
	ns := notices.list()
	if len(ns) != 1 {
		t.Fatalf("notices = %d, want 1 for the finding over budget", len(ns))
	}
	if n := ns[0]; n.FindingKey != "f3" || !strings.Contains(n.Why, "budget") || len(n.Plans) != 1 || n.Plans[0].Request.Target.ID != "u3" {
		t.Errorf("notice = %+v, want f3's plan on u3 with the budget as the reason", n)
	}
	st, err := p.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Rules[0].LastHour != 2 {
		t.Errorf("status last hour = %d, want 2", st.Rules[0].LastHour)
	}

	// An hour later the budget is back.
	*h.now = h.now.Add(61 * time.Minute)
	commit(t, p, h.userFindingRec(t, "f4", "u4", posted))
	p.Step(ctx)
	if got := h.responder.executes.Load(); got != 3 {
		t.Fatalf("executes after an hour = %d, want 3", got)
	}

	// A restarted autopilot counts the runs of the last hour from the store.
	p2, _ := newPilot(t, h, false, autoRule("malicious-ip", 2))
	st, err = p2.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Rules[0].LastHour != 1 {
		t.Errorf("after a restart, last hour = %d, want 1 (f4; f1 and f2 are over an hour old)", st.Rules[0].LastHour)
	}
}

func TestAutopilotKillSwitch(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	ctx := context.Background()
	p, notices := newPilot(t, h, false, autoRule("malicious-ip", 10))
	if _, err := p.SetSwitch(alice, false); err != nil {
		t.Fatal(err)
	}
	commit(t, p, h.userFindingRec(t, "f1", "u1", posted))
	p.Step(ctx)
	if got := h.responder.executes.Load(); got != 0 {
		t.Fatalf("executes while off = %d, want 0", got)
	}
	ns := notices.list()
	if len(ns) != 1 || !strings.Contains(ns[0].Why, "switched off") || !strings.Contains(ns[0].Why, "alice") {
		t.Fatalf("notices = %+v, want one saying alice switched automatic responses off", ns)
	}

	// The switch is stored: a restarted autopilot is still off.
	p2, _ := newPilot(t, h, false, autoRule("malicious-ip", 10))
	st, err := p2.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.On() || st.Switch.By.ID != alice.ID {
		t.Errorf("after restart: on=%v by %q, want off by %s", st.On(), st.Switch.By.ID, alice.ID)
	}
	if _, err := p2.SetSwitch(bob, true); err != nil {
		t.Fatal(err)
	}
	commit(t, p2, h.userFindingRec(t, "f2", "u2", posted))
	p2.Step(ctx)
	if got := h.responder.executes.Load(); got != 1 {
		t.Fatalf("executes after on = %d, want 1", got)
	}
	ev := h.auditEvents(t)
	for _, want := range []string{"auto_off:U0ALICE", "proposed:rule:malicious-ip", "auto_on:U0BOB", "executed:rule:malicious-ip"} {
		if !slices.Contains(ev, want) {
			t.Errorf("audit %v lacks %s", ev, want)
		}
	}

	// The configuration's switch holds everything off, whatever the command says.
	p3, n3 := newPilot(t, h, true, autoRule("malicious-ip", 10))
	commit(t, p3, h.userFindingRec(t, "f3", "u3", posted))
	p3.Step(ctx)
	if got := h.responder.executes.Load(); got != 1 {
		t.Fatalf("executes while paused by config = %d, want still 1", got)
	}
	if ns := n3.list(); len(ns) != 1 || !strings.Contains(ns[0].Why, "automation.paused") {
		t.Errorf("notices = %+v, want one naming automation.paused", ns)
	}
}

func TestAutopilotWaitsForTheAlert(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	ctx := context.Background()
	p, _ := newPilot(t, h, false, autoRule("malicious-ip", 10))
	f := h.userFindingRec(t, "f1", "u1", picket.MessageRef{})
	commit(t, p, f)
	p.Step(ctx)
	if got := h.responder.executes.Load(); got != 1 {
		t.Fatalf("executes = %d, want 1: containment does not wait for Slack", got)
	}
	if n := len(h.rec.announced); n != 0 {
		t.Fatalf("thread replies before the alert exists = %d, want 0", n)
	}
	runs, err := h.db.OpenAutoRuns()
	if err != nil || len(runs) != 1 {
		t.Fatalf("open runs = %v, %v; want the run waiting to be announced", runs, err)
	}
	// The dispatcher posts the alert.
	if err := h.db.PutFinding(picket.FindingRecord{Finding: f, Ref: posted, Route: picket.Route{Channel: "C1"}}); err != nil {
		t.Fatal(err)
	}
	p.Step(ctx)
	p.Step(ctx)
	if n := len(h.rec.announced); n != 1 || h.rec.refs[0] != posted {
		t.Fatalf("thread replies = %d (%v), want 1 in the alert's thread", n, h.rec.refs)
	}
	if runs, _ := h.db.OpenAutoRuns(); len(runs) != 0 {
		t.Errorf("open runs after the announcement = %d, want 0", len(runs))
	}
}

func TestAutopilotRestartDoesNotRepeat(t *testing.T) {
	ctx := context.Background()
	t.Run("between intake and run", func(t *testing.T) {
		h := newHarness(t, actions.Policy{})
		p, _ := newPilot(t, h, false, autoRule("malicious-ip", 10))
		commit(t, p, h.userFindingRec(t, "f1", "u1", posted))
		// Stopped before Step: the run is in the store; a new process runs it once.
		p2, _ := newPilot(t, h, false, autoRule("malicious-ip", 10))
		p2.Step(ctx)
		p2.Step(ctx)
		if got := h.responder.executes.Load(); got != 1 {
			t.Fatalf("executes = %d, want 1", got)
		}
	})
	t.Run("between claim and completion", func(t *testing.T) {
		h := newHarness(t, actions.Policy{})
		p, _ := newPilot(t, h, false, autoRule("malicious-ip", 10))
		f := h.userFindingRec(t, "f1", "u1", posted)
		commit(t, p, f)
		// What the store holds when the process dies while the action
		// runs: the run started, its request claimed and running.
		runs, err := h.db.OpenAutoRuns()
		if err != nil || len(runs) != 1 {
			t.Fatalf("open runs = %v, %v", runs, err)
		}
		run := runs[0]
		run.Mode, run.Started = picket.AutoModeAuto, *h.now
		if err := h.db.PutAutoRun(run); err != nil {
			t.Fatal(err)
		}
		req := picket.ActionRequest{ID: run.RequestID(0), Kind: picket.ActionDisableUser, FindingKey: f.Key,
			Target: f.Resources[0], Account: f.Account, Region: f.Region, Actor: picket.RuleActor("malicious-ip"), At: *h.now}
		if _, ok, err := h.db.ClaimAction(picket.ActionRecord{Request: req, Status: picket.StatusRunning, Updated: *h.now}); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		// The new process closes the interrupted action, then resumes.
		if n := h.svc.Recover(ctx); n != 1 {
			t.Fatalf("Recover closed %d actions, want 1", n)
		}
		p2, _ := newPilot(t, h, false, autoRule("malicious-ip", 10))
		p2.Step(ctx)
		p2.Step(ctx)
		if got := h.responder.executes.Load(); got != 0 {
			t.Fatalf("executes = %d, want 0: the interrupted action is not run again", got)
		}
		rec, _, _ := h.db.Action(req.ID)
		if rec.Status != picket.OutcomeFailed {
			t.Errorf("record status %s, want failed (closed by Recover, announced for a person to check)", rec.Status)
		}
		if runs, _ := h.db.OpenAutoRuns(); len(runs) != 0 {
			t.Errorf("open runs = %d, want 0", len(runs))
		}
	})
}

func TestAutopilotResumedRunHonoursKillSwitch(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, actions.Policy{})
	p, notices := newPilot(t, h, false, autoRule("malicious-ip", 10, picket.ActionDisableUser, picket.ActionEscalate))
	commit(t, p, h.userFindingRec(t, "f1", "u1", posted))
	// The process stopped after the run started and its first action
	// was done; automatic responses were switched off meanwhile.
	runs, _ := h.db.OpenAutoRuns()
	run := runs[0]
	run.Mode, run.Started = picket.AutoModeAuto, *h.now
	if err := h.db.PutAutoRun(run); err != nil {
		t.Fatal(err)
	}
	rec, err := h.svc.Automatic(ctx, actions.AutoRequest{RequestID: run.RequestID(0), Rule: "malicious-ip", Kind: picket.ActionDisableUser, FindingKey: "f1"})
	if err != nil || rec.Status != picket.OutcomeSucceeded {
		t.Fatalf("first action: %v %v", rec.Status, err)
	}
	if _, err := p.SetSwitch(alice, false); err != nil {
		t.Fatal(err)
	}
	p2, n2 := newPilot(t, h, false, autoRule("malicious-ip", 10, picket.ActionDisableUser, picket.ActionEscalate))
	p2.Step(ctx)
	if got := h.responder.executes.Load(); got != 1 {
		t.Fatalf("executes = %d, want 1: the escalation does not start once switched off", got)
	}
	ns := n2.list()
	if len(ns) != 1 || len(ns[0].Notes) != 1 || !strings.Contains(ns[0].Notes[0], "Escalate to Detective: not run, automatic responses were switched off") {
		t.Fatalf("notices = %+v, want one noting the escalation was not run", ns)
	}
	if len(notices.list()) != 0 {
		t.Errorf("the first autopilot posted %v", notices.list())
	}
}

func TestAutopilotGuardrails(t *testing.T) {
	ctx := context.Background()
	t.Run("allow-list", func(t *testing.T) {
		h := newHarness(t, actions.Policy{AllowedAccounts: []string{"999999999999"}})
		p, _ := newPilot(t, h, false, autoRule("malicious-ip", 10))
		commit(t, p, h.userFindingRec(t, "f1", "u1", posted))
		p.Step(ctx)
		if got := h.responder.executes.Load(); got != 0 {
			t.Fatalf("executes = %d, want 0 outside the allow-list", got)
		}
		if len(h.rec.announced) != 1 || h.rec.announced[0].Status != picket.OutcomeRefused {
			t.Fatalf("announced %+v, want one refusal", h.rec.announced)
		}
		if ev := h.auditEvents(t); !slices.Equal(ev, []string{"refused:rule:malicious-ip"}) {
			t.Errorf("audit = %v, want [refused:rule:malicious-ip]", ev)
		}
	})
	t.Run("dry run", func(t *testing.T) {
		h := newHarness(t, actions.Policy{DryRun: true})
		p, _ := newPilot(t, h, false, autoRule("malicious-ip", 10))
		commit(t, p, h.userFindingRec(t, "f1", "u1", posted))
		p.Step(ctx)
		if len(h.rec.announced) != 1 || h.rec.announced[0].Status != picket.OutcomeDryRunned || !h.rec.announced[0].Request.DryRun {
			t.Fatalf("announced %+v, want one dry run", h.rec.announced)
		}
	})
	t.Run("two-person rule", func(t *testing.T) {
		h := newHarness(t, actions.Policy{Approvals: []picket.ActionKind{picket.ActionDisableUser}})
		p, _ := newPilot(t, h, false, autoRule("malicious-ip", 10))
		commit(t, p, h.userFindingRec(t, "f1", "u1", posted))
		p.Step(ctx)
		if got := h.responder.executes.Load(); got != 0 {
			t.Fatalf("executes = %d, want 0 before approval", got)
		}
		if len(h.rec.announced) != 1 || h.rec.announced[0].Status != picket.OutcomePending {
			t.Fatalf("announced %+v, want one request awaiting approval", h.rec.announced)
		}
		if _, err := h.svc.Approve(ctx, h.rec.announced[0].Request.ID, eve); picket.ErrorCode(err) != picket.EUNAUTHORIZED {
			t.Errorf("approval by eve (no role): %v, want %s", err, picket.EUNAUTHORIZED)
		}
		res, err := h.svc.Approve(ctx, h.rec.announced[0].Request.ID, alice)
		if err != nil || res.Outcome != picket.OutcomeSucceeded || h.responder.executes.Load() != 1 {
			t.Fatalf("approval by alice: %v %v, executes %d; want it to run once", res.Outcome, err, h.responder.executes.Load())
		}
	})
	t.Run("another request holds the claim", func(t *testing.T) {
		h := newHarness(t, actions.Policy{})
		p, notices := newPilot(t, h, false, autoRule("malicious-ip", 10))
		// Two findings about one user: one disable.
		commit(t, p, h.userFindingRec(t, "f1", "u1", posted), h.userFindingRec(t, "f2", "u1", posted))
		p.Step(ctx)
		if got := h.responder.executes.Load(); got != 1 {
			t.Fatalf("executes = %d, want 1 for one user", got)
		}
		ns := notices.list()
		if len(ns) != 1 || len(ns[0].Notes) != 1 || !strings.Contains(ns[0].Notes[0], "already") {
			t.Fatalf("notices = %+v, want one saying the user is already handled", ns)
		}
	})
}

func TestAutopilotModes(t *testing.T) {
	ctx := context.Background()
	t.Run("notify", func(t *testing.T) {
		h := newHarness(t, actions.Policy{})
		r := autoRule("malicious-ip", 0, picket.ActionDisableUser, picket.ActionEscalate)
		r.Mode = picket.AutoModeNotify
		p, notices := newPilot(t, h, false, r)
		commit(t, p, h.userFindingRec(t, "f1", "u1", posted))
		p.Step(ctx)
		if got := h.responder.executes.Load(); got != 0 {
			t.Fatalf("executes = %d, want 0 in notify mode", got)
		}
		ns := notices.list()
		if len(ns) != 1 || len(ns[0].Plans) != 2 || ns[0].Why != "" || ns[0].Plans[0].Request.Kind != picket.ActionDisableUser {
			t.Fatalf("notices = %+v, want one with both plans and no fall-back reason", ns)
		}
		// Nothing was claimed: a person can run it.
		plan, err := h.svc.Prepare(ctx, alice, picket.ActionDisableUser, "f1", "", "")
		if err != nil || plan.Refusal != "" {
			t.Fatalf("Prepare by alice after the notice: %v %q", err, plan.Refusal)
		}
	})
	t.Run("approve", func(t *testing.T) {
		h := newHarness(t, actions.Policy{})
		r := autoRule("malicious-ip", 0)
		r.Mode = picket.AutoModeApprove
		p, _ := newPilot(t, h, false, r)
		commit(t, p, h.userFindingRec(t, "f1", "u1", posted))
		p.Step(ctx)
		if len(h.rec.announced) != 1 || h.rec.announced[0].Status != picket.OutcomePending {
			t.Fatalf("announced %+v, want one pending request", h.rec.announced)
		}
		if got := h.responder.executes.Load(); got != 0 {
			t.Fatalf("executes = %d, want 0 before approval", got)
		}
	})
	t.Run("disabled rule, closed finding, finding not shown", func(t *testing.T) {
		h := newHarness(t, actions.Policy{})
		off := autoRule("off", 10)
		off.Enabled = false
		p, _ := newPilot(t, h, false, off, autoRule("on", 10))
		f := h.userFindingRec(t, "f1", "u1", posted)
		f.RecordState = picket.RecordArchived
		if err := h.db.PutFinding(picket.FindingRecord{Finding: f, Ref: posted}); err != nil {
			t.Fatal(err)
		}
		commit(t, p, f)
		// Below every route: recorded, never shown, so never acted on.
		quiet := h.userFindingRec(t, "f2", "u2", picket.MessageRef{})
		if err := h.db.PutFinding(picket.FindingRecord{Finding: quiet, Route: picket.Route{Rule: ""}}); err != nil {
			t.Fatal(err)
		}
		commit(t, p, quiet)
		p.Step(ctx)
		if got := h.responder.executes.Load(); got != 0 {
			t.Fatalf("executes = %d, want 0", got)
		}
		if runs, _ := h.db.AutoRunsSince(time.Time{}); len(runs) != 0 {
			t.Errorf("runs = %v, want none", runs)
		}
	})
}

func TestNewAutopilotChecksActions(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	bad := autoRule("q", 10, picket.ActionQuarantineInstance)
	noBudget := autoRule("b", 0)
	_, err := actions.NewAutopilot(actions.AutopilotOptions{Service: h.svc, Store: h.db, Rules: []picket.AutoRule{bad, noBudget}})
	if err == nil {
		t.Fatal("NewAutopilot accepted an action the service does not offer")
	}
	for _, want := range []string{`rule "q": Picket has no "quarantine_instance" action`, `rule "b": an automatic rule needs a budget`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// brokenSwitch is an automatic-run store whose kill switch cannot be
// saved.
type brokenSwitch struct{ picket.AutoStore }

func (brokenSwitch) PutAutoSwitch(picket.AutoSwitch) error { return errors.New("disk full") }

// TestAutopilotSwitchNotSavedIsAudited: when the kill switch cannot be
// saved, the command fails and the audit trail, which already said it was
// switched, says that it was not.
func TestAutopilotSwitchNotSavedIsAudited(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	p, err := actions.NewAutopilot(actions.AutopilotOptions{Service: h.svc, Store: brokenSwitch{h.db},
		Rules: []picket.AutoRule{autoRule("malicious-ip", 10)}, Announcer: &noticeRecorder{}, Now: func() time.Time { return *h.now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetSwitch(alice, false); err == nil {
		t.Fatal("SetSwitch succeeded with a store that cannot save it")
	}
	if st, _ := p.Status(); !st.On() {
		t.Error("the switch reads off although it was not saved")
	}
	ev := h.auditEvents(t)
	if !slices.Contains(ev, "auto_off:U0ALICE") || !slices.Contains(ev, "auto_off_failed:U0ALICE") {
		t.Errorf("audit = %v, want the switch and its failure", ev)
	}
}

// TestAutopilotSuppressExpires: a rule's Suppress carries an expiry
// (AutoSuppressFor), since nobody chose one.
func TestAutopilotSuppressExpires(t *testing.T) {
	h := newHarness(t, actions.Policy{})
	p, _ := newPilot(t, h, false, autoRule("quiet", 10, picket.ActionSuppress))
	commit(t, p, h.userFindingRec(t, "f1", "u1", posted))
	p.Step(context.Background())
	recs, err := h.db.ActionsForFinding("f1")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Request.Kind != picket.ActionSuppress {
		t.Fatalf("records = %+v, want the rule's Suppress", recs)
	}
	if got, want := recs[0].Request.Until, h.now.Add(actions.AutoSuppressFor); !got.Equal(want) {
		t.Errorf("Until = %s, want %s", got, want)
	}
}
