package picket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Automatic response rules: a rule matches findings as they are committed
// at intake and responds with actions Picket already offers as buttons,
// through the same guardrails, claims, audit trail and thread replies as a
// click. What a rule decided for a finding is an AutoRun, stored before
// the queue message is deleted, so that a crash neither loses the response
// nor repeats it.

// AutoMode is what a rule does when it matches.
type AutoMode string

// Modes of a rule.
const (
	// AutoModeNotify posts the plan in the alert's thread with a Run
	// button; a person who may run the action clicks it.
	AutoModeNotify AutoMode = "notify"
	// AutoModeApprove asks for the action as a request awaiting approval
	// (the two-person flow): the rule is the requester, a person who may
	// run the action approves or rejects it.
	AutoModeApprove AutoMode = "approve"
	// AutoModeAuto runs the action at once, within the rule's budget and
	// unless automatic responses are switched off.
	AutoModeAuto AutoMode = "auto"
)

// AutoRule is one automatic response rule: which findings it matches, the
// actions it takes, in order, and how.
type AutoRule struct {
	Name    string
	Enabled bool
	// Match: every non-empty filter must hold. Types are finding-type
	// globs with Glob's semantics (those of routes).
	Sources     []Source
	Types       []string
	MinSeverity Severity
	Accounts    []string
	Regions     []string
	// Tags are resource tags a resource of the finding must carry, key to
	// value; the value "*" accepts any value.
	Tags    map[string]string
	Actions []ActionKind
	Mode    AutoMode
	// Budget is the most findings the rule responds to automatically in
	// any hour; beyond it the rule falls back to notify.
	Budget int
}

// Matches reports whether f matches the rule's filters. tags gives the
// tags of each resource of f (nil when the finding reports none); it is
// called only when the rule names tags and everything else matched.
func (r *AutoRule) Matches(f *Finding, tags func(*Finding) []map[string]string) bool {
	if f.Severity < r.MinSeverity {
		return false
	}
	if len(r.Sources) > 0 && !slices.Contains(r.Sources, f.Source) {
		return false
	}
	if len(r.Accounts) > 0 && !slices.Contains(r.Accounts, f.Account) {
		return false
	}
	if len(r.Regions) > 0 && !slices.Contains(r.Regions, f.Region) {
		return false
	}
	if len(r.Types) > 0 && !slices.ContainsFunc(r.Types, func(g string) bool { return Glob(g, f.Type) }) {
		return false
	}
	if len(r.Tags) == 0 {
		return true
	}
	if tags == nil {
		return false
	}
	for _, rt := range tags(f) {
		if tagsMatch(r.Tags, rt) {
			return true
		}
	}
	return false
}

// tagsMatch reports whether have carries every tag of want.
func tagsMatch(want, have map[string]string) bool {
	for k, v := range want {
		got, ok := have[k]
		if !ok || (v != "*" && got != v) {
			return false
		}
	}
	return true
}

// RuleActorPrefix starts the Actor.ID of an automatic response rule.
const RuleActorPrefix = "rule:"

// RuleActor is the actor an automatic response rule acts as: ID
// "rule:<name>", which no Slack user id can be, so the audit trail and
// Slack tell it from a person.
func RuleActor(rule string) Actor {
	return Actor{ID: RuleActorPrefix + rule, Name: "automatic rule " + rule}
}

// Rule returns the name of the automatic response rule a is, and whether
// it is one.
func (a Actor) Rule() (string, bool) {
	return strings.CutPrefix(a.ID, RuleActorPrefix)
}

// AutoRunID is the id of what rule decided for the finding findingKey:
// the same for every delivery and update of the finding, so that a rule
// responds to a finding once.
func AutoRunID(rule, findingKey string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + findingKey))
	return "auto-" + hex.EncodeToString(h[:10])
}

// AutoRun is what one rule decided and did for one finding, from intake
// to the reply in the alert's thread.
type AutoRun struct {
	// ID is AutoRunID(Rule, FindingKey); request ids of its actions are
	// ID + "-" + their index in the rule's actions.
	ID         string    `json:"id"`
	Rule       string    `json:"rule"`
	FindingKey string    `json:"finding_key"`
	Queued     time.Time `json:"queued"`
	// Mode is what the run does: the rule's mode, or notify when it fell
	// back (Why says why). Empty until decided.
	Mode AutoMode `json:"mode,omitempty"`
	Why  string   `json:"why,omitempty"`
	// Started is when an automatic (or approve) run started acting; it
	// counts against the rule's budget from then.
	Started time.Time `json:"started,omitzero"`
	// Decided is when the run finished deciding and acting.
	Decided time.Time `json:"decided,omitzero"`
	// Requests are the request ids of the actions run or asked for.
	Requests []string `json:"requests,omitempty"`
	// Notes are what prevented an action (another request holds its
	// claim, no resource it applies to), one sentence each.
	Notes []string `json:"notes,omitempty"`
	// Announced is when the alert's thread was told; zero while it waits
	// for the alert to be posted.
	Announced time.Time `json:"announced,omitzero"`
}

// RequestID is the request id of the run's i-th action.
func (r *AutoRun) RequestID(i int) string {
	return r.ID + "-" + strconv.Itoa(i)
}

// AutoSwitch is the kill switch of automatic responses, as /picket auto
// last set it.
type AutoSwitch struct {
	Off bool      `json:"off"`
	By  Actor     `json:"by"`
	At  time.Time `json:"at,omitzero"`
}

// AutoStore keeps what rules decided and the kill switch. store.DB
// implements it.
type AutoStore interface {
	// AddAutoRun stores run unless a run with its ID exists, atomically;
	// it reports whether it stored it.
	AddAutoRun(run AutoRun) (added bool, err error)
	// PutAutoRun replaces the run with the same ID.
	PutAutoRun(run AutoRun) error
	// OpenAutoRuns returns the runs not yet announced, oldest first.
	OpenAutoRuns() ([]AutoRun, error)
	// AutoRunsSince returns the runs queued at or after t.
	AutoRunsSince(t time.Time) ([]AutoRun, error)
	// AutoSwitch returns the kill switch (zero: on, never set).
	AutoSwitch() (AutoSwitch, error)
	// PutAutoSwitch stores the kill switch.
	PutAutoSwitch(s AutoSwitch) error
}

// AutoNotice is a reply in an alert's thread from a rule that did not run
// its actions itself: the plans, each with a Run button for a person, and
// why the rule did not run them.
type AutoNotice struct {
	Rule       string
	FindingKey string
	// Mode is the rule's configured mode; Why, when set, why it fell back
	// to notify.
	Mode AutoMode
	Why  string
	// Plans are the rule's actions planned now; a refused plan has no
	// button.
	Plans []Plan
	// Notes say what prevented other actions.
	Notes []string
}

// AutoAnnouncer posts a rule's notice in an alert's thread.
// notifiers.Slack implements it.
type AutoAnnouncer interface {
	AnnounceAuto(ctx context.Context, ref MessageRef, n AutoNotice) error
}

// AutoRuleStatus is one rule as /picket auto status shows it.
type AutoRuleStatus struct {
	Name    string
	Enabled bool
	Mode    AutoMode
	Actions []ActionKind
	Budget  int
	// LastHour counts the findings it responded to automatically in the
	// last hour.
	LastHour int
}

// AutoStatus is the state of automatic responses.
type AutoStatus struct {
	// ConfigOff is true when the configuration switches automatic
	// responses off (automation.paused); /picket auto on cannot override
	// it.
	ConfigOff bool
	Switch    AutoSwitch
	Rules     []AutoRuleStatus
}

// On reports whether rules in auto mode run their actions.
func (s AutoStatus) On() bool { return !s.ConfigOff && !s.Switch.Off }

// SortAutoRuns orders runs by when they were queued, then by id: the
// order the stores list them in.
func SortAutoRuns(runs []AutoRun) {
	slices.SortStableFunc(runs, func(a, b AutoRun) int {
		if c := a.Queued.Compare(b.Queued); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
