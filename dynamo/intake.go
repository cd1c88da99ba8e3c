package dynamo

import (
	"errors"
	"fmt"
	"time"

	"github.com/picketsec/picket"
)

// Intake commits a queue message's findings without a transaction, in an
// order of single-item writes that is safe to cut anywhere:
//
//  1. The message's processed mark is read: a message marked done changes
//     nothing (AlreadyDone).
//  2. For each finding: its item is read and decide runs against the
//     stored record. When the finding must be shown on its own, its outbox
//     index entry (o#NN, carrying the new entry's Seq) is written first;
//     then the finding's item is written with the new record and its
//     Pending entry in the same item, on condition that its version is
//     unchanged (another writer in between: read again and decide again).
//     A finding shown by a group changes the group's summary after its
//     item is written.
//  3. The message is marked done. The caller deletes it from SQS only
//     after Intake returns, so by then every outbox entry is durable.
//
// A crash before step 3 leaves the message in SQS; it is delivered again
// and intake runs again. A finding whose item was written already is then
// a duplicate (decide compares versions) and its Pending entry, written in
// the same item as the record, is still there: nothing is lost and nothing
// is queued twice. An index entry written before a crash that kept its
// record from being written is harmless: Outbox reads the Pending entry
// from the finding item, and ignores index entries without one. Delivery
// removes an entry by Seq (see dequeue), so an entry rewritten by a newer
// version in between stays.
//
// The one thing a crash can leave behind is a group summary one change
// short (the finding item is written, its group's counts not yet); the
// group's members are still listed correctly.
func (s *Store) Intake(messageID string, at time.Time, findings []picket.Finding, decide picket.Decide) (picket.IntakeResult, error) {
	if at.IsZero() {
		at = s.now()
	}
	at = at.UTC()
	res, err := s.intake(messageID, at, findings, decide)
	if err != nil {
		if messageID != "" {
			return picket.IntakeResult{}, fmt.Errorf("commit message %s: %w", messageID, err)
		}
		return picket.IntakeResult{}, fmt.Errorf("commit findings: %w", err)
	}
	return res, nil
}

func (s *Store) intake(messageID string, at time.Time, findings []picket.Finding, decide picket.Decide) (picket.IntakeResult, error) {
	var res picket.IntakeResult
	if messageID != "" {
		done, err := s.MessageDone(messageID)
		if err != nil {
			return res, err
		}
		if done {
			res.AlreadyDone = true
			return res, nil
		}
	}
	res.Outcomes = make([]picket.Outcome, len(findings))
	for i := range findings {
		f := &findings[i]
		if err := s.intakeOne(f, at, decide, &res, i); err != nil {
			return picket.IntakeResult{}, fmt.Errorf("finding %s: %w", f.Key, err)
		}
	}
	if messageID != "" {
		return res, s.markMessage(messageID, at)
	}
	return res, nil
}

func (s *Store) intakeOne(f *picket.Finding, at time.Time, decide picket.Decide, res *picket.IntakeResult, i int) error {
	for range maxRetries {
		fi, found, err := s.getFinding(f.Key)
		if err != nil {
			return err
		}
		prev := fi.rec
		rec, out, show := decide(f, prev, found)
		if rec.Finding.Key == "" {
			return picket.Errorf(picket.EINVALID, "finding %q has no key", rec.Finding.ID)
		}
		next := findingItem{rec: rec, ver: fi.ver, pending: fi.pending}
		var p picket.Pending
		queued := show && rec.Group == ""
		if queued {
			if p, err = s.newPending(&rec, fi.pending, at); err != nil {
				return err
			}
			if err := s.putIndex(p); err != nil {
				return err
			}
			next.pending = &p
		}
		if rec.Finding.ID != "" && (!found || prev.Finding.ID != rec.Finding.ID) {
			if err := s.indexID(&rec); err != nil {
				return err
			}
		}
		switch err := s.putFindingItem(next, found); {
		case errors.Is(err, errConflict):
			continue
		case err != nil:
			return err
		}
		res.Outcomes[i] = out
		if found && prev.Group != "" && rec.Group == "" {
			// It left its group (it turned Critical): the group's counts
			// show its new state; it is still listed there.
			if g, ok, err := s.changeMember(prev.Group, &prev.Finding, &rec.Finding); err != nil {
				return err
			} else if ok {
				res.Groups = append(res.Groups, g)
			}
		}
		if show && rec.Group != "" {
			if g, ok, err := s.changeMember(rec.Group, &prev.Finding, &rec.Finding); err != nil {
				return err
			} else if ok {
				res.Groups = append(res.Groups, g)
			}
		}
		if queued {
			res.Pending = append(res.Pending, p)
		}
		return nil
	}
	return fmt.Errorf("too many concurrent writers")
}

// newPending is rec's outbox entry, replacing old (whose Enqueued time it
// keeps) with a higher Seq.
func (s *Store) newPending(rec *picket.FindingRecord, old *picket.Pending, at time.Time) (picket.Pending, error) {
	f := &rec.Finding
	var prevSeq uint64
	p := picket.Pending{Key: f.Key, Channel: rec.Route.Channel, Severity: f.Severity, Enqueued: at}
	if old != nil {
		prevSeq = old.Seq
		if !old.Enqueued.IsZero() {
			p.Enqueued = old.Enqueued
		}
	}
	p.Seq = s.nextSeq(prevSeq)
	if p.Channel == "" {
		p.Channel = rec.Ref.Channel
	}
	if rec.Ref.Zero() {
		p.Group = picket.GroupKey(p.Channel, f)
	}
	if p.Channel == "" {
		return picket.Pending{}, picket.Errorf(picket.EINVALID, "finding %s is to be shown but has no channel", f.Key)
	}
	return p, nil
}

// putIndex writes the outbox index entry of p: its finding, Seq and
// channel (see OutboxRefs).
func (s *Store) putIndex(p picket.Pending) error {
	it := item{"pk": attrS(shard("o", p.Key)), "sk": attrS(p.Key), "seq": attrN(int64(p.Seq)), "ch": attrS(p.Channel)}
	if !p.Enqueued.IsZero() {
		it["enq"] = attrN(p.Enqueued.UnixMilli())
	}
	return s.put(it, nil)
}

// dropIndex deletes the outbox index entry of k if it is still the one for
// seq: an intake that queued a newer version has rewritten it.
func (s *Store) dropIndex(k string, seq uint64) error {
	err := s.del(shard("o", k), k, &cond{expr: "seq = :seq", values: item{":seq": attrN(int64(seq))}})
	if errors.Is(err, errConflict) {
		return nil
	}
	return err
}
