package actions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/picketsec/picket"
)

// AutopilotOptions wires an Autopilot. Service and Store are required.
type AutopilotOptions struct {
	Service *Service
	Store   picket.AutoStore
	Rules   []picket.AutoRule
	// Paused is the configuration's kill switch: no rule runs anything
	// automatically, whatever /picket auto says.
	Paused bool
	// Announcer posts the notices of rules that did not run their actions
	// themselves (notify, fall-backs); without it those are only audited.
	Announcer picket.AutoAnnouncer
	// Tags gives the tags of a finding's resources, for rules that match
	// on tags; nil matches no such rule.
	Tags func(*picket.Finding) []map[string]string
	// Interval is how often runs waiting for their alert are looked at
	// (default 2s); intake also wakes the autopilot at once.
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

// Autopilot carries out automatic response rules. Intake tells it which
// findings it committed (Committed); it queues one picket.AutoRun per rule
// and finding in the store before the queue message is deleted, then runs
// each (Run) through the Service, and replies in the alert's thread once
// the alert is posted. It holds each rule's budget and the kill switch.
type Autopilot struct {
	o     AutopilotOptions
	svc   *Service
	rules map[string]picket.AutoRule
	order []string
	wake  chan struct{}

	mu     sync.Mutex
	budget map[string][]time.Time // rule -> start of its automatic runs in the last hour
	loaded bool
	tries  map[string]int // request id -> failed attempts
	// queued remembers run ids known to be stored, so that the repeats
	// and updates of a finding cost no store write; bounded by maxQueued.
	queued map[string]struct{}
}

// maxQueued bounds Autopilot.queued; it is emptied when full.
const maxQueued = 10000

// maxTries is how many times an action that failed for a reason that may
// pass (AWS or the store unavailable) is tried before the run gives up on
// it and says why in the thread.
const maxTries = 5

// retry counts a failed attempt at request id and reports whether to try
// again later.
func (a *Autopilot) retry(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tries[id]++
	return a.tries[id] < maxTries
}

// NewAutopilot checks the rules against the actions the service offers
// and returns an Autopilot, or an error listing every problem.
func NewAutopilot(o AutopilotOptions) (*Autopilot, error) {
	if o.Service == nil || o.Store == nil {
		return nil, errors.New("autopilot: a service and a store are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	kinds := o.Service.Kinds()
	var problems []string
	a := &Autopilot{o: o, svc: o.Service, rules: map[string]picket.AutoRule{}, wake: make(chan struct{}, 1), budget: map[string][]time.Time{}, tries: map[string]int{}, queued: map[string]struct{}{}}
	for _, r := range o.Rules {
		if _, dup := a.rules[r.Name]; dup || r.Name == "" {
			problems = append(problems, fmt.Sprintf("rule %q: the name is empty or used twice", r.Name))
			continue
		}
		for _, k := range r.Actions {
			if !slices.Contains(kinds, k) {
				problems = append(problems, fmt.Sprintf("rule %q: Picket has no %q action here (it offers %v)", r.Name, k, kinds))
			}
		}
		if r.Mode == picket.AutoModeAuto && r.Budget <= 0 {
			problems = append(problems, fmt.Sprintf("rule %q: an automatic rule needs a budget of at least 1 per hour", r.Name))
		}
		a.rules[r.Name] = r
		a.order = append(a.order, r.Name)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("automatic response rules: %s", strings.Join(problems, "; "))
	}
	return a, nil
}

// Active reports whether any rule is enabled.
func (a *Autopilot) Active() bool {
	for _, r := range a.rules {
		if r.Enabled {
			return true
		}
	}
	return false
}

// Committed is told about findings intake committed (whatever their
// outcome, redeliveries included) before their queue message is deleted.
// For every enabled rule that matches the stored (newest) state of a
// finding that is shown in Slack (or waits to be) and is neither closed nor
// suppressed, it stores a run unless
// the rule already has one for the finding. An error means nothing may be
// lost: the caller keeps the message so it is delivered again.
func (a *Autopilot) Committed(_ context.Context, findings []picket.Finding) error {
	if !a.Active() {
		return nil
	}
	added := false
	for i := range findings {
		f := &findings[i]
		var matched []string
		for _, name := range a.order {
			r := a.rules[name]
			if r.Enabled && r.Matches(f, a.o.Tags) {
				matched = append(matched, name)
			}
		}
		if len(matched) == 0 {
			continue
		}
		frec, ok, err := a.svc.o.Findings.Finding(f.Key)
		if err != nil {
			return fmt.Errorf("automatic rules: load finding %s: %w", f.Key, err)
		}
		if !ok {
			continue
		}
		cur := &frec.Finding
		if cur.Closed() || strings.HasPrefix(frec.Route.Rule, "suppressed:") {
			continue
		}
		if frec.Ref.Zero() && frec.Group == "" && frec.Route.Channel == "" {
			// Not shown in Slack (below every route): nobody would see
			// the response or be offered its Undo, so no rule acts.
			continue
		}
		for _, name := range matched {
			r := a.rules[name]
			if !r.Matches(cur, a.o.Tags) {
				continue
			}
			run := picket.AutoRun{ID: picket.AutoRunID(name, cur.Key), Rule: name, FindingKey: cur.Key, Queued: a.o.Now().UTC()}
			if a.known(run.ID) {
				continue
			}
			ok, err := a.o.Store.AddAutoRun(run)
			if err != nil {
				return fmt.Errorf("automatic rules: queue %s: %w", run.ID, err)
			}
			a.remember(run.ID)
			if ok {
				added = true
				a.o.Logger.Info("automatic rule matched", "rule", name, "finding", cur.Key, "run", run.ID)
			}
		}
	}
	if added {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// known reports whether run id is known to be stored.
func (a *Autopilot) known(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.queued[id]
	return ok
}

// remember notes that run id is stored.
func (a *Autopilot) remember(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.queued) >= maxQueued {
		clear(a.queued)
	}
	a.queued[id] = struct{}{}
}

// Run carries out queued runs until ctx is done: at once when intake
// queues one, and every Interval for runs waiting for their alert. With
// replicas it runs in one of them at a time (the holder of its lease).
func (a *Autopilot) Run(ctx context.Context) {
	// Budgets are read from the store again at each start: with replicas
	// another may have carried out runs since this one last did.
	a.mu.Lock()
	a.loaded = false
	clear(a.budget)
	a.mu.Unlock()
	t := time.NewTicker(a.o.Interval)
	defer t.Stop()
	for {
		a.Step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-t.C:
		}
	}
}

// Step carries out every open run once: decides and acts on new ones,
// and replies in the thread of those whose alert is posted. Runs are
// handled one at a time, so a rule's budget is never overspent.
func (a *Autopilot) Step(ctx context.Context) {
	if err := a.loadBudgets(); err != nil {
		a.o.Logger.Warn("automatic rules: load budgets", "err", err)
		return
	}
	runs, err := a.o.Store.OpenAutoRuns()
	if err != nil {
		a.o.Logger.Warn("automatic rules: list open runs", "err", err)
		return
	}
	for _, run := range runs {
		if ctx.Err() != nil {
			return
		}
		if run.Decided.IsZero() {
			if run, err = a.decide(ctx, run); err != nil {
				a.o.Logger.Warn("automatic rule: will try again", "run", run.ID, "rule", run.Rule, "err", err)
				continue
			}
		}
		if run.Announced.IsZero() {
			if err := a.announce(ctx, run); err != nil {
				a.o.Logger.Warn("automatic rule: announce in thread", "run", run.ID, "rule", run.Rule, "err", err)
			}
		}
	}
}

// loadBudgets fills the budgets from the runs of the last hour, once.
func (a *Autopilot) loadBudgets() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.loaded {
		return nil
	}
	runs, err := a.o.Store.AutoRunsSince(a.o.Now().Add(-2 * time.Hour))
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Mode == picket.AutoModeAuto && !r.Started.IsZero() {
			a.budget[r.Rule] = append(a.budget[r.Rule], r.Started)
		}
	}
	a.loaded = true
	return nil
}

// spent prunes rule's budget window at now and returns its runs in the
// last hour. Callers hold a.mu.
func (a *Autopilot) spent(rule string, now time.Time) int {
	list := a.budget[rule]
	keep := list[:0]
	for _, t := range list {
		if now.Sub(t) < time.Hour {
			keep = append(keep, t)
		}
	}
	a.budget[rule] = keep
	return len(keep)
}

// takeBudget counts one automatic run of rule at now, unless the rule has
// spent its budget for the hour.
func (a *Autopilot) takeBudget(r picket.AutoRule, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.spent(r.Name, now) >= r.Budget {
		return false
	}
	a.budget[r.Name] = append(a.budget[r.Name], now)
	return true
}

// offReason says why automatic runs are off, or "" when they are on.
func (a *Autopilot) offReason() (string, error) {
	if a.o.Paused {
		return "automatic responses are switched off in the configuration (automation.paused)", nil
	}
	sw, err := a.o.Store.AutoSwitch()
	if err != nil {
		return "", err
	}
	if sw.Off {
		return fmt.Sprintf("automatic responses were switched off with /picket auto off by %s at %s",
			nameOf(sw.By), sw.At.UTC().Format("2006-01-02 15:04 UTC")), nil
	}
	return "", nil
}

// decide carries out a run's response: in auto mode, within the budget
// and while switched on, it runs the rule's actions; in approve mode it
// asks for them; otherwise (notify, or a fall-back) it only audits the
// proposal, which the thread reply offers. The mode is stored before any
// action, and each action has a fixed request id, so a run a restart
// interrupts resumes without repeating an action.
func (a *Autopilot) decide(ctx context.Context, run picket.AutoRun) (picket.AutoRun, error) {
	now := a.o.Now().UTC()
	rule, ok := a.rules[run.Rule]
	if !ok || !rule.Enabled {
		// The rule was removed or disabled since: nothing to do or say.
		run.Why, run.Decided, run.Announced = "the rule is no longer configured or enabled", now, now
		return run, a.o.Store.PutAutoRun(run)
	}
	if run.Started.IsZero() {
		mode, why := rule.Mode, ""
		if mode == picket.AutoModeAuto {
			off, err := a.offReason()
			if err != nil {
				return run, err
			}
			switch {
			case off != "":
				why = off
			case !a.takeBudget(rule, now):
				why = fmt.Sprintf("rule %s already responded automatically to %d findings in the last hour, its budget", rule.Name, rule.Budget)
			}
			if why != "" {
				mode = picket.AutoModeNotify
			}
		}
		run.Mode, run.Why = mode, why
		if mode != picket.AutoModeNotify {
			run.Started = now
			if err := a.o.Store.PutAutoRun(run); err != nil {
				return run, err
			}
		}
	}
	switch run.Mode {
	case picket.AutoModeAuto, picket.AutoModeApprove:
		run.Requests, run.Notes = nil, nil
		off := ""
		for i, kind := range rule.Actions {
			if run.Mode == picket.AutoModeAuto && off == "" {
				// Switched off since the run started (while an earlier
				// action ran, or before a restart resumed the run): what
				// has not started yet does not start.
				var err error
				if off, err = a.offReason(); err != nil {
					return run, err
				}
			}
			if off != "" {
				_, exists, err := a.svc.o.Actions.Action(run.RequestID(i))
				if err != nil {
					return run, err
				}
				if !exists {
					run.Notes = append(run.Notes, kind.Label()+": not run, "+off+".")
					continue
				}
			}
			rec, err := a.svc.Automatic(ctx, AutoRequest{
				RequestID: run.RequestID(i), Rule: rule.Name, Kind: kind, FindingKey: run.FindingKey,
				Approve: run.Mode == picket.AutoModeApprove,
			})
			if err != nil {
				if code := picket.ErrorCode(err); (code == picket.EUNAVAILABLE || code == picket.EINTERNAL) && a.retry(run.RequestID(i)) {
					return run, err
				}
				run.Notes = append(run.Notes, kind.Label()+": "+picket.ErrorMessage(err))
				continue
			}
			run.Requests = append(run.Requests, rec.Request.ID)
		}
	default:
		e := picket.AuditEntry{Event: "proposed", Actor: picket.RuleActor(rule.Name), FindingKey: run.FindingKey,
			Outcome: string(picket.AutoModeNotify), Detail: "automatic response rule " + rule.Name + " proposes " + autoLabel(rule.Actions)}
		if len(rule.Actions) > 0 {
			e.Action = rule.Actions[0]
		}
		if frec, ok, err := a.svc.o.Findings.Finding(run.FindingKey); err == nil && ok {
			e.Account, e.Region = frec.Finding.Account, frec.Finding.Region
		}
		if run.Why != "" {
			e.Detail += "; not run automatically: " + run.Why
		}
		if err := a.svc.AuditAutomatic(e); err != nil {
			return run, err
		}
	}
	run.Decided = a.o.Now().UTC()
	if err := a.o.Store.PutAutoRun(run); err != nil {
		return run, err
	}
	a.o.Logger.Info("automatic rule decided", "rule", rule.Name, "finding", run.FindingKey, "mode", run.Mode,
		"why", run.Why, "requests", run.Requests, "notes", run.Notes)
	return run, nil
}

// announce replies in the alert's thread once the alert is posted: each
// action's record (the result with Undo, or the request awaiting
// approval), or the notice with the plans and Run buttons. A finding that
// will never be shown (below every route) has no thread: the audit trail
// is its record.
func (a *Autopilot) announce(ctx context.Context, run picket.AutoRun) error {
	frec, ok, err := a.svc.o.Findings.Finding(run.FindingKey)
	if err != nil {
		return err
	}
	if ok && frec.Ref.Zero() && (frec.Route.Channel != "" || frec.Group != "") {
		return nil // the alert is still in the outbox
	}
	if ok && !frec.Ref.Zero() {
		notice := picket.AutoNotice{Rule: run.Rule, FindingKey: run.FindingKey, Mode: run.Mode, Why: run.Why, Notes: run.Notes}
		if rule, known := a.rules[run.Rule]; known {
			notice.Mode = rule.Mode
		}
		switch run.Mode {
		case picket.AutoModeAuto, picket.AutoModeApprove:
			for _, id := range run.Requests {
				rec, found, err := a.svc.o.Actions.Action(id)
				if err != nil {
					return err
				}
				if found {
					a.svc.Announce(ctx, frec, rec)
				}
			}
			if len(run.Notes) > 0 && a.o.Announcer != nil {
				if err := a.o.Announcer.AnnounceAuto(ctx, frec.Ref, notice); err != nil {
					return err
				}
			}
		case picket.AutoModeNotify:
			rule := a.rules[run.Rule]
			for i, kind := range rule.Actions {
				plan, err := a.svc.ProposeAutomatic(ctx, AutoRequest{RequestID: run.RequestID(i), Rule: run.Rule, Kind: kind, FindingKey: run.FindingKey})
				if err != nil {
					notice.Notes = append(notice.Notes, kind.Label()+": "+picket.ErrorMessage(err))
					continue
				}
				notice.Plans = append(notice.Plans, plan)
			}
			if a.o.Announcer != nil {
				if err := a.o.Announcer.AnnounceAuto(ctx, frec.Ref, notice); err != nil {
					return err
				}
			}
		}
	}
	run.Announced = a.o.Now().UTC()
	return a.o.Store.PutAutoRun(run)
}

// Status returns the kill switch and every rule with its use of its
// budget. It implements the state /picket auto status shows.
func (a *Autopilot) Status() (picket.AutoStatus, error) {
	sw, err := a.o.Store.AutoSwitch()
	if err != nil {
		return picket.AutoStatus{}, err
	}
	if err := a.loadBudgets(); err != nil {
		return picket.AutoStatus{}, err
	}
	st := picket.AutoStatus{ConfigOff: a.o.Paused, Switch: sw}
	now := a.o.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, name := range a.order {
		r := a.rules[name]
		st.Rules = append(st.Rules, picket.AutoRuleStatus{Name: r.Name, Enabled: r.Enabled, Mode: r.Mode,
			Actions: r.Actions, Budget: r.Budget, LastHour: a.spent(name, now)})
	}
	return st, nil
}

// SetSwitch turns automatic runs on or off on behalf of actor, durably,
// and audits who did it. It returns the new state.
func (a *Autopilot) SetSwitch(actor picket.Actor, on bool) (picket.AutoStatus, error) {
	sw := picket.AutoSwitch{Off: !on, By: actor, At: a.o.Now().UTC()}
	event, detail := "auto_off", "automatic responses switched off: matching findings get a notice with Run buttons instead"
	if on {
		event, detail = "auto_on", "automatic responses switched on"
		if a.o.Paused {
			detail += " (the configuration still holds them off: automation.paused)"
		}
	}
	if err := a.svc.AuditAutomatic(picket.AuditEntry{Event: event, Actor: actor, Outcome: event, Detail: detail}); err != nil {
		return picket.AutoStatus{}, err
	}
	if err := a.o.Store.PutAutoSwitch(sw); err != nil {
		// The entry above said it was switched: say that it was not.
		if aerr := a.svc.AuditAutomatic(picket.AuditEntry{Event: event + "_failed", Actor: actor, Outcome: "failed",
			Detail: "the switch could not be saved, so it did not change: " + err.Error()}); aerr != nil {
			a.o.Logger.Error("audit a failed switch", "err", aerr)
		}
		return picket.AutoStatus{}, err
	}
	return a.Status()
}
