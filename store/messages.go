package store

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
)

// MessageDone reports whether the queue message messageID was marked as
// fully handled (and not yet pruned).
func (db *DB) MessageDone(messageID string) (bool, error) {
	var done bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		done = tx.Bucket(bucketMessages).Get([]byte(messageID)) != nil
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("check message %s: %w", messageID, err)
	}
	return done, nil
}

// MarkMessageDone records that the queue message messageID was fully handled
// at at (the store's clock when at is zero). Marking it again moves the time.
// It returns once the write is on disk.
//
// It uses a plain read-write transaction rather than bbolt's Batch: Batch
// coalesces concurrent writers but makes a lone caller wait for the batch
// delay, and the ingest loop marks messages one at a time.
func (db *DB) MarkMessageDone(messageID string, at time.Time) error {
	if at.IsZero() {
		at = db.now()
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		return markMessage(tx, messageID, at)
	})
	if err != nil {
		return fmt.Errorf("mark message %s done: %w", messageID, err)
	}
	return nil
}

// PruneMessages forgets the handled message ids marked before before and
// returns how many it forgot. A message redelivered after its id was pruned
// is handled again, which the finding dedup makes harmless; keep at least
// the queue's retention period.
func (db *DB) PruneMessages(before time.Time) (int, error) {
	cutoff := before.UnixNano()
	var n int
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMessages)
		// Message ids are not ordered by time, so every entry is read.
		// Keys are collected first because deleting under a cursor can
		// skip the next key.
		var old [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("message %s: stored time has %d bytes, want 8", k, len(v))
			}
			if int64(binary.BigEndian.Uint64(v)) < cutoff {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("delete message %s: %w", k, err)
			}
		}
		n = len(old)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune messages before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	if n > 0 {
		db.log.Info("pruned handled message ids", "count", n, "before", before.UTC())
	}
	return n, nil
}

// markMessage stores the time as big-endian Unix nanoseconds: fixed width,
// UTC by definition, and ordered as bytes.
func markMessage(tx *bolt.Tx, messageID string, at time.Time) error {
	if messageID == "" {
		return picket.Errorf(picket.EINVALID, "message id is empty")
	}
	return tx.Bucket(bucketMessages).Put([]byte(messageID), binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano())))
}
