package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
)

// Keys in the digests bucket:
//
//	"snap" NUL name NUL "YYYYMMDD"  -> JSON picket.DigestSnapshot (one per UTC day)
//	"run"  NUL name                 -> 8-byte big-endian Unix nanoseconds of the last slot claimed
//
// The date is fixed-width UTC, so a cursor walks a schedule's snapshots in
// day order.
const dayLayout = "20060102"

func snapPrefix(name string) []byte {
	return []byte("snap\x00" + name + "\x00")
}

func snapKey(name string, day time.Time) []byte {
	return append(snapPrefix(name), day.UTC().Format(dayLayout)...)
}

func runKey(name string) []byte { return []byte("run\x00" + name) }

// utcDay is t's UTC date at midnight.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// PutDigestSnapshot saves the snapshot of the digest schedule name for
// s.Day (its UTC date), replacing that day's snapshot.
func (db *DB) PutDigestSnapshot(name string, s picket.DigestSnapshot) error {
	if s.Day.IsZero() {
		return picket.Errorf(picket.EINVALID, "digest snapshot for %q has no day", name)
	}
	s.Day = utcDay(s.Day)
	v, err := encodeJSON(&s)
	if err != nil {
		return fmt.Errorf("put digest snapshot %s %s: encode: %w", name, s.Day.Format(time.DateOnly), err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDigests).Put(snapKey(name, s.Day), v)
	})
	if err != nil {
		return fmt.Errorf("put digest snapshot %s %s: %w", name, s.Day.Format(time.DateOnly), err)
	}
	return nil
}

// DigestSnapshots returns the snapshots of name whose day is in
// [from, to) (UTC dates), oldest first.
func (db *DB) DigestSnapshots(name string, from, to time.Time) ([]picket.DigestSnapshot, error) {
	var out []picket.DigestSnapshot
	lo, hi := snapKey(name, utcDay(from)), snapKey(name, utcDay(to))
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDigests).Cursor()
		for k, v := c.Seek(lo); k != nil && bytes.Compare(k, hi) < 0; k, v = c.Next() {
			var s picket.DigestSnapshot
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("decode %q: %w", k, err)
			}
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list digest snapshots %s: %w", name, err)
	}
	return out, nil
}

// PreviousDigestSnapshot returns the newest snapshot of name from a day
// before before's UTC date; ok is false when there is none.
func (db *DB) PreviousDigestSnapshot(name string, before time.Time) (s picket.DigestSnapshot, ok bool, err error) {
	prefix := snapPrefix(name)
	err = db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDigests).Cursor()
		k, v := c.Seek(snapKey(name, utcDay(before)))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		// A key sorting before the day but after the prefix is this
		// schedule's; fixed-width dates keep names like "a" and "a\x00b"
		// apart by length.
		if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+len(dayLayout) {
			return nil
		}
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("decode %q: %w", k, err)
		}
		ok = true
		return nil
	})
	if err != nil {
		return picket.DigestSnapshot{}, false, fmt.Errorf("get previous digest snapshot %s: %w", name, err)
	}
	return s, ok, nil
}

// LastDigestRun returns the slot of the last run claimed for the digest
// schedule name; ok is false when it never ran.
func (db *DB) LastDigestRun(name string) (slot time.Time, ok bool, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		slot, ok, err = lastRun(tx, name)
		return err
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("get last digest run %s: %w", name, err)
	}
	return slot, ok, nil
}

func lastRun(tx *bolt.Tx, name string) (time.Time, bool, error) {
	v := tx.Bucket(bucketDigests).Get(runKey(name))
	if v == nil {
		return time.Time{}, false, nil
	}
	if len(v) != 8 {
		return time.Time{}, false, fmt.Errorf("decode last run: want 8 bytes, got %d", len(v))
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(), true, nil
}

// ClaimDigestRun records slot as the last run of name and returns true,
// unless a run at or after slot was claimed already: then it returns false
// and changes nothing. Of two concurrent claims for the same slot (two
// schedulers, two processes taking turns on the file) exactly one gets
// true, so a slot is never posted twice.
func (db *DB) ClaimDigestRun(name string, slot time.Time) (bool, error) {
	var ok bool
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		last, found, err := lastRun(tx, name)
		if err != nil {
			return err
		}
		if found && !last.Before(slot) {
			return nil
		}
		ok = true
		return tx.Bucket(bucketDigests).Put(runKey(name), binary.BigEndian.AppendUint64(nil, uint64(slot.UnixNano())))
	})
	if err != nil {
		return false, fmt.Errorf("claim digest run %s at %s: %w", name, slot.UTC().Format(time.RFC3339), err)
	}
	return ok, nil
}

// ReleaseDigestRun gives back the claim on slot after its post failed, so
// the run is tried again: the last run becomes previous (none when
// previous is zero). It does nothing when a later slot was claimed since.
func (db *DB) ReleaseDigestRun(name string, slot, previous time.Time) error {
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		last, found, err := lastRun(tx, name)
		if err != nil || !found || !last.Equal(slot) {
			return err
		}
		b := tx.Bucket(bucketDigests)
		if previous.IsZero() {
			return b.Delete(runKey(name))
		}
		return b.Put(runKey(name), binary.BigEndian.AppendUint64(nil, uint64(previous.UnixNano())))
	})
	if err != nil {
		return fmt.Errorf("release digest run %s at %s: %w", name, slot.UTC().Format(time.RFC3339), err)
	}
	return nil
}

// AllActions returns every stored action record, in request id order. The
// digest reads them to list the actions taken and time the first response.
func (db *DB) AllActions() ([]picket.ActionRecord, error) {
	var out []picket.ActionRecord
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketActions).ForEach(func(k, v []byte) error {
			rec, err := decodeAction(v)
			if err != nil {
				return fmt.Errorf("decode action %s: %w", k, err)
			}
			out = append(out, rec)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list actions: %w", err)
	}
	return out, nil
}

// PutFindings saves many records in one transaction, each as PutFinding
// would: a bulk load (restoring an index, seeding a benchmark) that would
// otherwise pay one disk sync per finding.
func (db *DB) PutFindings(recs []picket.FindingRecord) error {
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for _, rec := range recs {
			if err := putFinding(tx, rec); err != nil {
				return fmt.Errorf("finding %s: %w", rec.Finding.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put %d findings: %w", len(recs), err)
	}
	return nil
}

// FindingSummaries calls fn for every stored finding like Findings, but
// with Finding.Raw left empty: the raw finding, most of a record's bytes, is
// stepped over without being decoded. Control findings (ComplianceStatus
// set) keep Raw, which names their Security Hub standard. The digest reads
// the whole index this way. fn runs inside a read transaction and must not write to db.
func (db *DB) FindingSummaries(fn func(picket.FindingRecord) error) error {
	var scratch []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFindings).ForEach(func(k, v []byte) error {
			var rec picket.FindingRecord
			var err error
			rec, scratch, err = decodeSummary(v, scratch)
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

// rawField starts the finding's Raw member in a stored record. Members
// before it (ids, type, title, resources...) are strings, numbers and
// objects without a "raw" key, and a quote inside a JSON string is always
// escaped, so its first occurrence is the finding's own.
var rawField = []byte(`,"raw":`)

// complianceField is present in the records of control findings.
var complianceField = []byte(`"compliance_status":`)

// decodeSummary decodes a stored record without its Raw member, reusing
// scratch for the shortened copy. A record whose Raw cannot be stepped over
// is decoded in full.
func decodeSummary(v, scratch []byte) (picket.FindingRecord, []byte, error) {
	i := bytes.Index(v, rawField)
	if i < 0 || bytes.Contains(v[:i], complianceField) {
		rec, err := decodeRecord(v)
		return rec, scratch, err
	}
	end := skipJSON(v, i+len(rawField))
	if end < 0 {
		rec, err := decodeRecord(v)
		return rec, scratch, err
	}
	scratch = append(append(scratch[:0], v[:i]...), v[end:]...)
	rec, err := decodeRecord(scratch)
	return rec, scratch, err
}

// skipJSON returns the index just past the JSON value starting at v[i]
// (after optional spaces), or -1 when it is not a complete value. It
// checks only what it needs to find the end: brackets and strings.
func skipJSON(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	if i >= len(v) {
		return -1
	}
	switch v[i] {
	case '{', '[':
	case '"':
		return skipString(v, i)
	default: // number, true, false, null
		for i < len(v) && v[i] != ',' && v[i] != '}' && v[i] != ']' {
			i++
		}
		return i
	}
	depth := 0
	for i < len(v) {
		switch v[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		case '"':
			i = skipString(v, i)
			if i < 0 {
				return -1
			}
			continue
		}
		i++
	}
	return -1
}

// skipString returns the index just past the string starting at v[i].
func skipString(v []byte, i int) int {
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}
