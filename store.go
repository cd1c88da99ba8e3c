package picket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Store is everything Picket keeps: the finding index and its message refs,
// processed queue messages, the outbox and groups, action claims and
// records, suppression rules, digest claims and snapshots, and the audit
// chain. It is the one contract that cmd/picket wires, implemented by
// store.DB (bbolt, one process) and dynamo.Store (DynamoDB, shared by
// several processes). internal/storetest checks both against the same
// guarantees.
type Store interface {
	FindingStore
	IntakeStore
	OutboxStore
	ActionStore
	SuppressionStore
	Auditor
	DigestStore
	Porter
	AutoStore
	LeaseStore
	PlanStore

	// FindingByID returns the record whose source id (GuardDuty id or
	// ASFF Id) is id.
	FindingByID(id string) (FindingRecord, bool, error)
	// Findings calls fn for every stored finding, stopping at the first
	// error fn returns. fn must not write to the store.
	Findings(fn func(FindingRecord) error) error
	// FindingSummaries is Findings with Finding.Raw left empty where the
	// store can skip it (control findings keep it).
	FindingSummaries(fn func(FindingRecord) error) error
	// PutFindings saves many records, each as PutFinding would.
	PutFindings(recs []FindingRecord) error
	// CountFindings returns how many findings are stored.
	CountFindings() (int, error)
	// PruneMessages forgets processed message ids marked before before.
	PruneMessages(before time.Time) (int, error)

	// PendingActions returns the records awaiting approval, soonest to
	// expire first.
	PendingActions() ([]ActionRecord, error)
	// RunningActions returns the records whose execution was under way.
	RunningActions() ([]ActionRecord, error)
	// AllActions returns every action record, in request id order.
	AllActions() ([]ActionRecord, error)

	// RecentAudit returns the newest n audit entries, oldest first.
	RecentAudit(n int) ([]AuditEntry, error)
	// KeyAudit appends an "audit_keyed" entry when an audit key is
	// configured and the newest entry is not sealed with it.
	KeyAudit() (AuditEntry, bool, error)
	// AuditHead returns the newest audit entry as a ChainHead.
	AuditHead() (ChainHead, error)
	// AuditAt returns the audit entry with sequence number seq as stored.
	AuditAt(seq uint64) (AuditEntry, bool, error)
	// VerifyAuditChain walks the audit chain and checks every link; the
	// error wraps an *AuditError (errors.Is ErrAuditBroken) naming the
	// entry at fault.
	VerifyAuditChain() (AuditChain, error)
	// ExportAudit writes the entries at or after since to w as JSON
	// lines, exactly as stored, in sequence order.
	ExportAudit(w io.Writer, since time.Time) (int, error)

	// Ping checks that the store can be read (the /readyz check).
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}

// DigestStore keeps the digest schedules' claims and daily snapshots.
type DigestStore interface {
	// PutDigestSnapshot saves the snapshot of schedule name for s.Day.
	PutDigestSnapshot(name string, s DigestSnapshot) error
	// DigestSnapshots returns the snapshots of name with day in [from,
	// to), oldest first.
	DigestSnapshots(name string, from, to time.Time) ([]DigestSnapshot, error)
	// PreviousDigestSnapshot returns the newest snapshot of name from a
	// day before before's UTC date.
	PreviousDigestSnapshot(name string, before time.Time) (DigestSnapshot, bool, error)
	// LastDigestRun returns the last slot claimed for name.
	LastDigestRun(name string) (time.Time, bool, error)
	// ClaimDigestRun claims slot for name unless a run at or after it
	// was claimed: of concurrent claims exactly one gets true.
	ClaimDigestRun(name string, slot time.Time) (bool, error)
	// ReleaseDigestRun gives the claim on slot back (the last run
	// becomes previous) unless a later slot was claimed since.
	ReleaseDigestRun(name string, slot, previous time.Time) error
}

// ChainHead is the newest entry of the audit trail, as exported to logs so
// that a later check can tell whether the trail was cut back or rewritten.
type ChainHead struct {
	// Seq is the newest entry's sequence number; 0 for an empty trail.
	Seq uint64
	// Hash is its hash (an HMAC when KeyID is set).
	Hash string
	// KeyID names the key that sealed it; empty for plain SHA-256.
	KeyID string
	// Time is when it was written.
	Time time.Time
}

// AuditChain is what VerifyAuditChain found in an intact trail.
type AuditChain struct {
	// Entries is how many entries verified.
	Entries int
	// Keyed is how many of them are sealed with the audit key; they are
	// the newest ones, from FirstKeyed on (0 when none is).
	Keyed      int
	FirstKeyed uint64
	// Head is the newest entry.
	Head ChainHead
}

// ErrAuditBroken is matched (errors.Is) by the error VerifyAuditChain
// returns when the audit chain is broken, as opposed to the store being
// unreadable.
var ErrAuditBroken = errors.New("audit trail broken")

// AuditError says which audit entry breaks the chain and how.
type AuditError struct {
	// Seq is the sequence number of the entry at fault (the missing one,
	// for a gap).
	Seq uint64
	// Msg names the entry and the problem: "entry 7: content changed
	// (hash mismatch)".
	Msg string
}

// Error returns Msg.
func (e *AuditError) Error() string { return e.Msg }

// Is reports whether target is ErrAuditBroken.
func (e *AuditError) Is(target error) bool { return target == ErrAuditBroken }

// AuditErrorf returns an *AuditError for entry seq.
func AuditErrorf(seq uint64, format string, args ...any) *AuditError {
	return &AuditError{Seq: seq, Msg: fmt.Sprintf(format, args...)}
}
