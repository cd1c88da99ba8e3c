package picket

import (
	"strings"
	"time"
)

// SeverityCounts counts findings by severity, indexed by Severity
// (Informational first, Critical last).
type SeverityCounts [SeverityCritical + 1]int

// Total returns the sum over every severity.
func (c SeverityCounts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// DigestSnapshot is what one day's digest saw, kept in the store so the
// next digest can say what changed and the chart can draw a trend.
type DigestSnapshot struct {
	// Day is the UTC date the snapshot is for (midnight UTC).
	Day time.Time `json:"day"`
	// Open counts the open findings in scope by severity.
	Open SeverityCounts `json:"open"`
	// PostureScore is the posture checks' score (0-100), when HasPosture.
	PostureScore float64 `json:"posture_score,omitempty"`
	HasPosture   bool    `json:"has_posture,omitempty"`
	// Standards maps a Security Hub standard's name to its score (0-100):
	// the share of its controls whose latest finding passed.
	Standards map[string]float64 `json:"standards,omitempty"`
}

// NamedCount is a label with how many times it was seen.
type NamedCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// DigestActivity counts the findings new, updated and resolved in a
// digest's window, by severity and by source.
type DigestActivity struct {
	New      SeverityCounts `json:"new"`
	Updated  SeverityCounts `json:"updated"`
	Resolved SeverityCounts `json:"resolved"`
	// NewBySource, UpdatedBySource and ResolvedBySource are keyed by
	// Source ("guardduty", "securityhub").
	NewBySource      map[Source]int `json:"new_by_source,omitempty"`
	UpdatedBySource  map[Source]int `json:"updated_by_source,omitempty"`
	ResolvedBySource map[Source]int `json:"resolved_by_source,omitempty"`
	// NewByProduct counts the new findings by product ("Inspector",
	// "Macie", "GuardDuty", ...), however they arrived: an Inspector
	// finding imported into Security Hub counts as Inspector.
	NewByProduct map[string]int `json:"new_by_product,omitempty"`
}

// OpenFinding is one open Critical or High finding listed in a digest.
type OpenFinding struct {
	Key      string        `json:"key"`
	Title    string        `json:"title"`
	Type     string        `json:"type"`
	Severity Severity      `json:"severity"`
	Account  string        `json:"account"`
	Region   string        `json:"region"`
	Since    time.Time     `json:"since"`
	Age      time.Duration `json:"age_ns"`
	// Ref is the finding's alert, zero when it was never posted.
	Ref MessageRef `json:"ref,omitzero"`
}

// DigestAction is one response taken in a digest's window.
type DigestAction struct {
	Time       time.Time     `json:"time"`
	Kind       ActionKind    `json:"kind"`
	Actor      Actor         `json:"actor"`
	Target     string        `json:"target"`
	Outcome    ActionOutcome `json:"outcome"`
	FindingKey string        `json:"finding_key,omitempty"`
	// Undid is the kind of action an Undo reversed ("suppress"), when
	// known.
	Undid ActionKind `json:"undid,omitempty"`
}

// Label names the action as a digest lists it: "Patch instance", or for
// an Undo what it reversed ("Undo suppress").
func (a DigestAction) Label() string {
	if a.Kind == ActionUndo && a.Undid != "" {
		return "Undo " + strings.ToLower(a.Undid.Label())
	}
	return a.Kind.Label()
}

// RuleActivity is what one automatic response rule did in a digest's
// window.
type RuleActivity struct {
	Rule string `json:"rule"`
	// Ran counts actions it ran (done, partly done or failed); DryRuns
	// those it only dry-ran; Refused those a guardrail refused; Pending
	// those it asked approval for.
	Ran     int `json:"ran,omitempty"`
	DryRuns int `json:"dry_runs,omitempty"`
	Refused int `json:"refused,omitempty"`
	Pending int `json:"pending,omitempty"`
	// Offered counts findings it only offered with Run buttons (mode
	// notify, or a fall-back: budget spent, switched off).
	Offered int `json:"offered,omitempty"`
}

// DurationStats summarises durations: how many, the median and the 90th
// percentile (nearest rank).
type DurationStats struct {
	Count  int           `json:"count"`
	Median time.Duration `json:"median_ns"`
	P90    time.Duration `json:"p90_ns"`
}

// ScoreChange is a score now and in the previous snapshot.
type ScoreChange struct {
	Name     string  `json:"name"`
	Score    float64 `json:"score"`
	Previous float64 `json:"previous,omitempty"`
	// HasPrevious is false when the previous snapshot had no such score.
	HasPrevious bool `json:"has_previous,omitempty"`
}

// Delta returns Score minus Previous, 0 without a previous score.
func (c ScoreChange) Delta() float64 {
	if !c.HasPrevious {
		return 0
	}
	return c.Score - c.Previous
}

// Digest is the periodic summary posted to a security channel: what changed
// in the window, what is still open and how fast the team responds.
type Digest struct {
	// Name is the digest schedule's name ("daily").
	Name string `json:"name"`
	// From and To bound the window [From, To).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Accounts and MinSeverity are the scope; no accounts means all.
	Accounts    []string `json:"accounts,omitempty"`
	MinSeverity Severity `json:"min_severity"`

	Activity    DigestActivity `json:"activity"`
	TopTypes    []NamedCount   `json:"top_types,omitempty"`
	TopAccounts []NamedCount   `json:"top_accounts,omitempty"`
	// Open counts the open findings in scope by severity now; Urgent lists
	// the open Critical and High ones, oldest first, at most a few dozen
	// (UrgentMore says how many more there are).
	Open       SeverityCounts `json:"open"`
	Urgent     []OpenFinding  `json:"urgent,omitempty"`
	UrgentMore int            `json:"urgent_more,omitempty"`
	// OpenChange is Open minus the previous snapshot's, when HasPrevious.
	OpenChange [SeverityCritical + 1]int `json:"open_change"`

	Actions     []DigestAction `json:"actions,omitempty"`
	ActionsMore int            `json:"actions_more,omitempty"`
	// Actors counts the actions in the window by who took them.
	Actors []NamedCount `json:"actors,omitempty"`
	// Rules sums up what automatic response rules did in the window, one
	// entry per rule that did anything, by name.
	Rules []RuleActivity `json:"rules,omitempty"`
	// FirstAction is the time from a finding's first sight to its first
	// response, over findings first acted on in the window; Resolve is the
	// time from first sight to closing, over findings resolved in the
	// window.
	FirstAction DurationStats `json:"first_action"`
	Resolve     DurationStats `json:"resolve"`

	// Expiring lists suppressions in force that expire within the
	// look-ahead, soonest first.
	Expiring []Suppression `json:"expiring,omitempty"`

	// Posture is the posture checks' score, when a report was given;
	// Standards are Security Hub standards' scores, when known.
	Posture   *ScoreChange  `json:"posture,omitempty"`
	Standards []ScoreChange `json:"standards,omitempty"`

	// HasPrevious reports whether a previous snapshot was compared
	// against; Previous is its day.
	HasPrevious bool      `json:"has_previous,omitempty"`
	Previous    time.Time `json:"previous,omitzero"`
	// Snapshot is what this digest saw, to be stored for the next one.
	Snapshot DigestSnapshot `json:"snapshot"`
}
