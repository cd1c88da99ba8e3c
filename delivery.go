package picket

import (
	"context"
	"slices"
	"time"
)

// Intake and delivery are two halves joined by a durable outbox. Intake
// commits a queue message's findings (their new state and, for what must be
// shown, a Pending entry) in one store transaction and lets the message be
// deleted; it never waits on Slack. Delivery drains each channel's outbox at
// Slack's pace, most severe first, folding bursts of one kind into Group
// messages.

// Pending is a finding waiting in the outbox: a new alert to post, or a
// change to show on the message that already shows it.
type Pending struct {
	// Key is the finding's key; a finding has at most one Pending entry.
	Key string `json:"key"`
	// Channel is where the finding is (or will be) shown.
	Channel  string   `json:"channel"`
	Severity Severity `json:"severity"`
	// Seq orders entries: a later version of the finding replaces its
	// entry with a higher Seq, so delivery can tell whether what it sent
	// is still the newest.
	Seq uint64 `json:"seq"`
	// Enqueued is when the entry was first written (kept across
	// replacements, so age measures how long the finding has waited).
	Enqueued time.Time `json:"enqueued"`
	// Group is the group key (see GroupKey) the finding may be folded
	// under; empty when it must be shown on its own.
	Group string `json:"group,omitempty"`
}

// GroupKey is what findings must share to be folded into one group
// message: the channel, the finding type (with the control id for
// Security Hub control findings, whose ASFF type names only the standard)
// and the account. Findings of one type in one account are what a storm is
// made of (a port-probe wave, a newly enabled standard's control, a
// misconfigured detector), and a responder acts on them together.
func GroupKey(channel string, f *Finding) string {
	return channel + "\x00" + f.Type + "\x00" + f.ControlID + "\x00" + f.Account
}

// maxGroupRegions and maxGroupSample bound what a Group keeps about its
// members for the message; the thread lists every member.
const (
	maxGroupRegions = 20
	maxGroupSample  = 20
)

// Group is a set of findings of one kind shown as one Slack message (with
// every member listed in its thread). It keeps a running summary of its
// members so that showing it never needs to load them all.
type Group struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`
	// Key is the GroupKey the members share.
	Key     string `json:"key"`
	Type    string `json:"type"`
	Control string `json:"control,omitempty"`
	Account string `json:"account"`
	Source  Source `json:"source"`
	// Title is the first member's title.
	Title string `json:"title"`
	// First is the first member's key: the group's buttons act on it
	// (Suppress similar matches the whole group).
	First string `json:"first"`
	// Ref is the group message; zero until it is posted.
	Ref MessageRef `json:"ref,omitzero"`

	Opened    time.Time `json:"opened"`
	LastAdded time.Time `json:"last_added"`
	// Members counts the findings in the group; they are numbered from 0
	// in the order they joined.
	Members int `json:"members"`
	// Listed is how many members (from 0) the thread replies list.
	Listed int `json:"listed"`
	// Version grows with every change to the summary; Shown is the
	// Version the message shows, ShownAt when it was last posted or
	// updated.
	Version uint64    `json:"version"`
	Shown   uint64    `json:"shown"`
	ShownAt time.Time `json:"shown_at,omitzero"`

	// BySeverity counts members by current severity (index: Severity).
	BySeverity [SeverityCritical + 1]int `json:"by_severity"`
	// Closed counts members that are archived, resolved or suppressed.
	Closed int `json:"closed"`
	// Regions are the members' regions, sorted, at most maxGroupRegions
	// (MoreRegions counts the rest).
	Regions     []string `json:"regions,omitempty"`
	MoreRegions bool     `json:"more_regions,omitempty"`
	// Sample names the first members' resources, in joining order.
	Sample    []string  `json:"sample,omitempty"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
}

// MaxSeverity returns the highest severity among the members.
func (g *Group) MaxSeverity() Severity {
	for s := SeverityCritical; s > SeverityInformational; s-- {
		if g.BySeverity[s] > 0 {
			return s
		}
	}
	return SeverityInformational
}

// Add counts f as a new member.
func (g *Group) Add(f *Finding) {
	if g.Members == 0 {
		g.Type, g.Control, g.Account, g.Source, g.Title, g.First = f.Type, f.ControlID, f.Account, f.Source, f.Title, f.Key
	}
	g.Members++
	g.count(f, 1)
	if len(g.Sample) < maxGroupSample {
		if id := sampleName(f); id != "" {
			g.Sample = append(g.Sample, id)
		}
	}
	if f.Region != "" {
		if i, found := slices.BinarySearch(g.Regions, f.Region); !found {
			if len(g.Regions) < maxGroupRegions {
				g.Regions = slices.Insert(g.Regions, i, f.Region)
			} else {
				g.MoreRegions = true
			}
		}
	}
	seen := f.LastSeen
	if seen.IsZero() {
		seen = f.UpdatedAt
	}
	if !seen.IsZero() && seen.After(g.LastSeen) {
		g.LastSeen = seen.UTC()
	}
	first := f.FirstSeen
	if first.IsZero() {
		first = f.CreatedAt
	}
	if !first.IsZero() && (g.FirstSeen.IsZero() || first.Before(g.FirstSeen)) {
		g.FirstSeen = first.UTC()
	}
	g.Version++
}

// Change replaces a member's old version with its new one in the summary.
func (g *Group) Change(old, f *Finding) {
	g.count(old, -1)
	g.count(f, 1)
	if seen := f.LastSeen; !seen.IsZero() && seen.After(g.LastSeen) {
		g.LastSeen = seen.UTC()
	}
	g.Version++
}

func (g *Group) count(f *Finding, n int) {
	if s := f.Severity; s >= SeverityInformational && s <= SeverityCritical {
		g.BySeverity[s] += n
	}
	if f.Closed() {
		g.Closed += n
	}
}

// Work reports whether the group's message is behind its members: not
// posted, showing an older summary, or not listing every member.
func (g *Group) Work() bool {
	return g.Ref.Zero() || g.Shown < g.Version || g.Listed < g.Members
}

// sampleName is how a group names a member in its summary: the first
// resource's id, else the finding id.
func sampleName(f *Finding) string {
	for _, r := range f.Resources {
		if r.ID != "" {
			return r.ID
		}
	}
	return f.ID
}

// Post kinds: what an in-flight post was for.
const (
	PostAlert     = "alert"      // a finding's own alert
	PostGroup     = "group"      // a group message
	PostGroupList = "group_list" // a thread reply listing group members
)

// Post marks a chat.postMessage in flight. It is written before the call
// and removed in the transaction that records the call's result, so that
// after a crash in between Picket can look for the message (by ID, carried
// in the message's metadata) instead of posting it twice.
type Post struct {
	// ID is unique per post and carried in the message metadata.
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Channel string    `json:"channel"`
	Thread  string    `json:"thread,omitempty"` // thread ts for replies
	Started time.Time `json:"started"`
	// Key and Seq are the finding and outbox entry of a PostAlert.
	Key string `json:"key,omitempty"`
	Seq uint64 `json:"seq,omitempty"`
	// Group, and for PostGroupList the members From (inclusive) and To
	// (exclusive) it lists.
	Group string `json:"group,omitempty"`
	From  int    `json:"from,omitempty"`
	To    int    `json:"to,omitempty"`
}

// Decide is triage's half of intake: given a finding and its stored record
// (found false: none), it returns the record to store, the outcome, and
// whether the finding must be (re)shown: then the store enqueues a Pending
// for it, or marks its group changed. It runs inside a store transaction,
// possibly more than once for one finding, so it must not have side
// effects.
type Decide func(f *Finding, prev FindingRecord, found bool) (rec FindingRecord, out Outcome, show bool)

// IntakeResult says what one committed queue message did.
type IntakeResult struct {
	// AlreadyDone is true when the message had been committed before (a
	// redelivery): nothing was changed.
	AlreadyDone bool
	// Outcomes has one entry per finding, in order.
	Outcomes []Outcome
	// Pending are the outbox entries written.
	Pending []Pending
	// Groups are the ids of groups whose summary changed.
	Groups []Group
}

// IntakeStore commits what intake decided. store.DB implements it.
type IntakeStore interface {
	// Intake runs decide for every finding and stores the results, the
	// outbox entries and (when messageID is not empty) the message as
	// done, in one transaction, at time at.
	Intake(messageID string, at time.Time, findings []Finding, decide Decide) (IntakeResult, error)
}

// MessageHandler commits one queue message's findings. triage.Pipeline
// implements it; ingest calls it and deletes the message when it returns
// nil.
type MessageHandler interface {
	HandleMessage(ctx context.Context, messageID string, findings []Finding) ([]Outcome, error)
}

// OutboxStore is what delivery needs from the store. store.DB implements
// it.
type OutboxStore interface {
	Finding(key string) (FindingRecord, bool, error)
	// Outbox returns every Pending entry.
	Outbox() ([]Pending, error)
	// OpenGroups returns the groups that still have work or may still
	// take members.
	OpenGroups() ([]Group, error)
	// Posts returns the posts that were in flight when Picket stopped.
	Posts() ([]Post, error)
	// BeginPost records p as in flight.
	BeginPost(p Post) error
	// AbandonPost forgets p: its message was not posted.
	AbandonPost(id string) error
	// AlertPosted records that key's alert is ref and ends post (when
	// not empty); the outbox entry is removed when its Seq is still seq.
	AlertPosted(post, key string, seq uint64, ref MessageRef) error
	// StartAlertPosted queues AlertPosted's write and returns at once;
	// wait returns its result. Writes queued later by the same goroutine
	// are committed with it or after it.
	StartAlertPosted(post, key string, seq uint64, ref MessageRef) (wait func() error)
	// AlertUpdated removes key's outbox entry when its Seq is still seq.
	AlertUpdated(key string, seq uint64) error
	// FormGroup stores g (a new group when g.ID is empty; the id is
	// assigned) with members joining it: each member's record is marked
	// as in the group (and given its Ref) and its outbox entry removed. It
	// returns the group and the keys that joined (a finding already shown
	// does not).
	FormGroup(g Group, members []Pending, at time.Time) (Group, []string, error)
	// Group returns the group with id.
	Group(id string) (Group, bool, error)
	// GroupPosted records the group's message and ends post.
	GroupPosted(post, id string, ref MessageRef, shown uint64, at time.Time) (Group, error)
	// GroupShown records that the message shows version shown.
	GroupShown(id string, shown uint64, at time.Time) (Group, error)
	// GroupListed records that members before to are listed and ends
	// post.
	GroupListed(post, id string, to int) (Group, error)
	// GroupMembers returns up to n members of the group from index from.
	GroupMembers(id string, from, n int) ([]FindingRecord, error)
	// CloseGroup marks a group that has no work left as taking no more
	// members.
	CloseGroup(id string) error
	// ChannelID returns the id Slack gave a channel configured by name,
	// once learnt from a post; the name otherwise.
	ChannelID(name string) (string, error)
}

// GroupSender shows groups in Slack. notifiers.Slack and
// notifiers.Terminal implement it beside picket.AlertSender.
type GroupSender interface {
	// PostGroup posts the group message; postID travels in its metadata.
	PostGroup(ctx context.Context, g Group, postID string) (MessageRef, error)
	// UpdateGroup shows g's summary on its message.
	UpdateGroup(ctx context.Context, g Group) error
	// PostGroupList replies in the group's thread listing members, the
	// first being member number from (0-based), each with its own
	// actions; postID travels in its metadata.
	PostGroupList(ctx context.Context, g Group, from int, members []FindingRecord, postID string) error
	// FindPost looks for a message carrying postID posted since since in
	// channel (or in the thread at thread), for a post whose outcome was
	// lost in a crash.
	FindPost(ctx context.Context, channel, thread, postID string, since time.Time) (MessageRef, bool, error)
}

// LeaseStore grants named, expiring leases: at any time at most one owner
// holds a lease. Replicas sharing one store use it so that each channel is
// delivered by one of them at a time (which keeps Slack's per-channel pace
// and the channel's groups in one place); a replica that stops renewing
// loses its leases when they expire. store.DB implements it.
type LeaseStore interface {
	// TakeLease gives name to owner until until when it is free, expired
	// at now, or owner's already (a renewal); ok is false, and nothing
	// changes, while another owner holds it.
	TakeLease(name, owner string, now, until time.Time) (ok bool, err error)
	// ReleaseLease frees name when owner holds it, so that another
	// replica may take it at once; otherwise it does nothing.
	ReleaseLease(name, owner string) error
}

// OutboxRef is an outbox entry as the outbox's index names it: enough for
// a replica to tell whose channel it is and whether it has taken it.
// Channel is empty for an index written before it carried one.
type OutboxRef struct {
	Key     string
	Channel string
	Seq     uint64
	// Enqueued is when the finding first waited (Pending.Enqueued); zero
	// for an index written before it carried one.
	Enqueued time.Time
}

// OutboxIndex is implemented by a store whose whole outbox is costly to
// read (DynamoDB: one read per entry). A replica's poll then reads the
// index and fetches only the entries it has not taken yet.
type OutboxIndex interface {
	// OutboxRefs returns the index of the outbox.
	OutboxRefs() ([]OutboxRef, error)
	// PendingOf returns finding key's outbox entry, if it has one.
	PendingOf(key string) (Pending, bool, error)
}
