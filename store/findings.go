package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
)

var _ picket.FindingStore = (*DB)(nil)

// Finding returns the record stored under key; ok is false when there is
// none.
func (db *DB) Finding(key string) (rec picket.FindingRecord, ok bool, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		rec, ok, err = getFinding(tx, key)
		return err
	})
	if err != nil {
		return picket.FindingRecord{}, false, fmt.Errorf("get finding %s: %w", key, err)
	}
	return rec, ok, nil
}

// FindingByID returns the record of the finding whose source id (GuardDuty
// id or ASFF Id) is id. A finding seen through both sources is found by
// either id.
func (db *DB) FindingByID(id string) (rec picket.FindingRecord, ok bool, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		key := tx.Bucket(bucketFindingIDs).Get([]byte(id))
		if key == nil {
			return nil
		}
		rec, ok, err = getFinding(tx, string(key))
		return err
	})
	if err != nil {
		return picket.FindingRecord{}, false, fmt.Errorf("get finding by id %s: %w", id, err)
	}
	return rec, ok, nil
}

// PutFinding saves rec under rec.Finding.Key, replacing what was there, and
// indexes it by rec.Finding.ID. Times are stored in UTC. It returns once the
// write is on disk.
func (db *DB) PutFinding(rec picket.FindingRecord) error {
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		return putFinding(tx, rec)
	})
	if err != nil {
		return fmt.Errorf("put finding %s: %w", rec.Finding.Key, err)
	}
	return nil
}

// Commit saves rec and marks the queue message messageID as handled at at,
// in one transaction: after a crash either both are visible or neither is.
// It is for a message that carried a single finding.
func (db *DB) Commit(rec picket.FindingRecord, messageID string, at time.Time) error {
	if at.IsZero() {
		at = db.now()
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		if err := markMessage(tx, messageID, at); err != nil {
			return err
		}
		return putFinding(tx, rec)
	})
	if err != nil {
		return fmt.Errorf("commit finding %s with message %s: %w", rec.Finding.Key, messageID, err)
	}
	return nil
}

// Findings calls fn for every stored finding in key order, stopping at the
// first error fn returns. fn runs inside a read transaction: it must not
// write to db, or it may deadlock.
func (db *DB) Findings(fn func(picket.FindingRecord) error) error {
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFindings).ForEach(func(k, v []byte) error {
			rec, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("decode finding %s: %w", k, err)
			}
			return fn(rec)
		})
	})
	if err != nil {
		return fmt.Errorf("list findings: %w", err)
	}
	return nil
}

// CountFindings returns how many findings are stored.
func (db *DB) CountFindings() (int, error) {
	var n int
	err := db.bolt.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketFindings).Stats().KeyN
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count findings: %w", err)
	}
	return n, nil
}

func getFinding(tx *bolt.Tx, key string) (picket.FindingRecord, bool, error) {
	v := tx.Bucket(bucketFindings).Get([]byte(key))
	if v == nil {
		return picket.FindingRecord{}, false, nil
	}
	rec, err := decodeRecord(v)
	if err != nil {
		return picket.FindingRecord{}, false, fmt.Errorf("decode: %w", err)
	}
	return rec, true, nil
}

func putFinding(tx *bolt.Tx, rec picket.FindingRecord) error {
	key := rec.Finding.Key
	if key == "" {
		return picket.Errorf(picket.EINVALID, "finding %q has no key", rec.Finding.ID)
	}
	v, err := encodeRecord(rec)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if err := tx.Bucket(bucketFindings).Put([]byte(key), v); err != nil {
		return err
	}
	// Old ids are kept: the same finding arrives with a GuardDuty id and,
	// through Security Hub, with an ASFF Id, and both should find it.
	if id := rec.Finding.ID; id != "" {
		ids := tx.Bucket(bucketFindingIDs)
		if old := ids.Get([]byte(id)); string(old) != key {
			if err := ids.Put([]byte(id), []byte(key)); err != nil {
				return fmt.Errorf("index id %s: %w", id, err)
			}
		}
	}
	return nil
}

// encodeRecord writes rec as JSON with every time in UTC. HTML escaping is
// off so that Raw keeps its bytes: json compacts a RawMessage, which changes
// nothing in the compact JSON AWS delivers.
func encodeRecord(rec picket.FindingRecord) ([]byte, error) {
	f := &rec.Finding // rec is a copy: normalising it leaves the caller's value alone
	f.CreatedAt = utc(f.CreatedAt)
	f.UpdatedAt = utc(f.UpdatedAt)
	f.FirstSeen = utc(f.FirstSeen)
	f.LastSeen = utc(f.LastSeen)
	rec.FirstReceived = utc(rec.FirstReceived)
	rec.LastReceived = utc(rec.LastReceived)

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&rec); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeRecord reads a record. v belongs to bbolt and is valid only inside
// the transaction; json.Unmarshal copies what it keeps, including Raw.
func decodeRecord(v []byte) (picket.FindingRecord, error) {
	var rec picket.FindingRecord
	err := json.Unmarshal(v, &rec)
	return rec, err
}

// utc drops the location and monotonic reading, keeping the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
