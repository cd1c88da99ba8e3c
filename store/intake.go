package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
)

var _ picket.IntakeStore = (*DB)(nil)

// maxCommitBatch bounds how many intake calls share one transaction.
const maxCommitBatch = 256

// commitCall is one caller's share of a group commit.
type commitCall struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// committer runs group commits: every intake call that arrives while a
// transaction is being written and synced joins the next transaction, so
// many concurrent callers share one fsync without any added delay (bbolt's
// Batch would wait MaxBatchDelay for company). A call whose function fails
// is taken out and the others are run again without it, so a function may
// run more than once and must depend only on what it reads in the
// transaction.
func (db *DB) committer() {
	defer close(db.commitDone)
	for first := range db.commits {
		calls := []*commitCall{first}
	fill:
		for len(calls) < maxCommitBatch {
			select {
			case c, ok := <-db.commits:
				if !ok {
					break fill
				}
				calls = append(calls, c)
			default:
				break fill
			}
		}
		db.runCommit(calls)
	}
}

func (db *DB) runCommit(calls []*commitCall) {
	for len(calls) > 0 {
		failed := -1
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for i, c := range calls {
				if err := c.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			// Committed (err nil) or the commit itself failed: either way
			// every call shares the result.
			for _, c := range calls {
				c.done <- err
			}
			return
		}
		calls[failed].done <- err
		calls = append(calls[:failed:failed], calls[failed+1:]...)
	}
}

// groupUpdate runs fn in a read-write transaction shared with concurrent
// callers and returns once that transaction is on disk.
func (db *DB) groupUpdate(fn func(*bolt.Tx) error) error {
	return db.startUpdate(fn)()
}

// startUpdate queues fn for the group committer and returns at once; wait
// returns its result once its transaction is on disk. Calls queued by one
// goroutine are committed in the order they were queued (in the same
// transaction or an earlier one), so a later write sees an earlier one.
func (db *DB) startUpdate(fn func(*bolt.Tx) error) (wait func() error) {
	c := &commitCall{fn: fn, done: make(chan error, 1)}
	if err := db.queueCommit(c); err != nil {
		return func() error { return err }
	}
	return sync.OnceValue(func() error { return <-c.done })
}

func (db *DB) queueCommit(c *commitCall) (err error) {
	defer func() {
		// Sending on the closed channel after Close panics; report it as
		// the error bbolt gives for a closed database.
		if recover() != nil {
			err = bolt.ErrDatabaseNotOpen
		}
	}()
	db.commits <- c
	return nil
}

// Intake runs decide for every finding against its stored record and
// stores, in one transaction shared with concurrent intakes: each new
// record, an outbox entry for every finding decide says must be shown (or
// a change to the group that shows it), and, when messageID is not empty,
// the queue message as done. A message already marked done changes
// nothing and is reported as AlreadyDone. It returns once the transaction
// is on disk.
func (db *DB) Intake(messageID string, at time.Time, findings []picket.Finding, decide picket.Decide) (picket.IntakeResult, error) {
	if at.IsZero() {
		at = db.now()
	}
	at = at.UTC()
	var res picket.IntakeResult
	err := db.groupUpdate(func(tx *bolt.Tx) error {
		res = picket.IntakeResult{} // the function may run twice
		if messageID != "" && tx.Bucket(bucketMessages).Get([]byte(messageID)) != nil {
			res.AlreadyDone = true
			return nil
		}
		res.Outcomes = make([]picket.Outcome, len(findings))
		for i := range findings {
			f := &findings[i]
			prev, found, err := getFinding(tx, f.Key)
			if err != nil {
				return fmt.Errorf("finding %s: %w", f.Key, err)
			}
			rec, out, show := decide(f, prev, found)
			res.Outcomes[i] = out
			if err := putFinding(tx, rec); err != nil {
				return fmt.Errorf("finding %s: %w", f.Key, err)
			}
			if prev.Group != "" && rec.Group == "" && found {
				// It left its group (it turned Critical): the group's
				// counts show its new state; it is still listed there.
				g, err := changeMember(tx, prev.Group, &prev.Finding, &rec.Finding)
				if err != nil {
					return fmt.Errorf("finding %s: %w", f.Key, err)
				}
				res.Groups = append(res.Groups, g)
			}
			if !show {
				continue
			}
			if rec.Group != "" {
				g, err := changeMember(tx, rec.Group, &prev.Finding, &rec.Finding)
				if err != nil {
					return fmt.Errorf("finding %s: %w", f.Key, err)
				}
				res.Groups = append(res.Groups, g)
				continue
			}
			p, err := enqueue(tx, &rec, at)
			if err != nil {
				return fmt.Errorf("finding %s: %w", f.Key, err)
			}
			res.Pending = append(res.Pending, p)
		}
		if messageID != "" {
			return markMessage(tx, messageID, at)
		}
		return nil
	})
	if err != nil {
		if messageID != "" {
			return picket.IntakeResult{}, fmt.Errorf("commit message %s: %w", messageID, err)
		}
		return picket.IntakeResult{}, fmt.Errorf("commit findings: %w", err)
	}
	return res, nil
}

// enqueue writes rec's outbox entry, replacing an older one (whose
// Enqueued time it keeps).
func enqueue(tx *bolt.Tx, rec *picket.FindingRecord, at time.Time) (picket.Pending, error) {
	b := tx.Bucket(bucketOutbox)
	seq, err := b.NextSequence()
	if err != nil {
		return picket.Pending{}, fmt.Errorf("outbox sequence: %w", err)
	}
	f := &rec.Finding
	// The lane is the routed channel as configured, so posts and updates
	// of one channel share one lane (Slack answers with the channel's id,
	// which the Ref keeps).
	p := picket.Pending{Key: f.Key, Channel: rec.Route.Channel, Severity: f.Severity, Seq: seq, Enqueued: at}
	if p.Channel == "" {
		p.Channel = rec.Ref.Channel
	}
	if rec.Ref.Zero() {
		// Not shown yet: it may be folded into a group. Critical
		// findings never are; the dispatcher applies the configured
		// limit.
		p.Group = picket.GroupKey(p.Channel, f)
	}
	if old := b.Get([]byte(f.Key)); old != nil {
		var prev picket.Pending
		if err := json.Unmarshal(old, &prev); err == nil && !prev.Enqueued.IsZero() {
			p.Enqueued = prev.Enqueued
		}
	}
	if p.Channel == "" {
		return picket.Pending{}, picket.Errorf(picket.EINVALID, "finding %s is to be shown but has no channel", f.Key)
	}
	v, err := json.Marshal(p)
	if err != nil {
		return picket.Pending{}, err
	}
	return p, b.Put([]byte(f.Key), v)
}

// changeMember applies a member's new version to its group's summary and
// keeps the group open until the message shows it.
func changeMember(tx *bolt.Tx, id string, old, f *picket.Finding) (picket.Group, error) {
	g, ok, err := getGroup(tx, id)
	if err != nil {
		return picket.Group{}, err
	}
	if !ok {
		return picket.Group{}, fmt.Errorf("group %s: %w", id, errNoGroup)
	}
	g.Change(old, f)
	return g, putGroup(tx, g)
}

var errNoGroup = errors.New("no such group")
