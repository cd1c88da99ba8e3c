package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
)

var _ picket.Auditor = (*DB)(nil)

// ErrAuditBroken is matched (errors.Is) by the error VerifyAudit returns when
// the audit chain is broken, as opposed to the file being unreadable.
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

func auditErrorf(seq uint64, format string, args ...any) *AuditError {
	return &AuditError{Seq: seq, Msg: fmt.Sprintf(format, args...)}
}

// Audit appends e to the audit trail and returns it as stored, with Seq,
// Time (the store's clock when e.Time is zero; always UTC), PrevHash and
// Hash set. Whatever Seq, PrevHash and Hash e carries is ignored. The entry
// is on disk when Audit returns.
//
// Hash is the hex SHA-256 of the entry's canonical encoding with Hash
// empty: encoding/json of picket.AuditEntry (fields in struct order, so the
// output is deterministic), HTML escaping off, no trailing newline, every
// time in UTC. The stored value is the same encoding with Hash filled in.
//
// The sequence number and hash of the newest entry are also kept in the
// meta bucket ("audit_head"), and the next entry is chained to that head,
// not to whatever the audit bucket ends with: deleting the newest entries
// leaves a gap that VerifyAudit reports.
func (db *DB) Audit(e picket.AuditEntry) (picket.AuditEntry, error) {
	e.Calls = utcCalls(e.Calls)
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		// The clock is read inside the transaction so that, with a
		// monotonic clock, times never go backwards along the chain.
		if e.Time.IsZero() {
			e.Time = db.now()
		}
		e.Time = e.Time.UTC()
		seq, prev, err := auditHead(tx)
		if err != nil {
			return err
		}
		e.Seq, e.PrevHash = seq+1, prev
		v, err := sealAudit(&e)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketAudit).Put(seqKey(e.Seq), v); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyAuditHead, encodeHead(e.Seq, e.Hash))
	})
	if err != nil {
		return picket.AuditEntry{}, fmt.Errorf("append audit entry %q: %w", e.Event, err)
	}
	return e, nil
}

// VerifyAudit walks the audit trail in order and checks the chain: every
// entry decodes, is stored in canonical form, is numbered as its key says
// and one more than the entry before (from 1), holds the previous entry's
// hash, and hashes to its own Hash; the last entry is the recorded head. It
// returns how many entries passed before the first problem, and an error
// wrapping an *AuditError (errors.Is ErrAuditBroken) that names the entry
// at fault: "entry 7: content changed (hash mismatch)", "entry 5 missing:
// entry 6 follows entry 4".
func (db *DB) VerifyAudit() (entries int, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		var (
			want     uint64 = 1
			prevHash string
		)
		err := tx.Bucket(bucketAudit).ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return auditErrorf(want, "entry %d: unexpected key %x (want 8 bytes)", want, k)
			}
			seq := binary.BigEndian.Uint64(k)
			if seq != want {
				if want == 1 {
					return auditErrorf(1, "entry 1 missing: the trail starts at entry %d", seq)
				}
				return auditErrorf(want, "entry %d missing: entry %d follows entry %d", want, seq, want-1)
			}
			e, err := decodeAudit(v)
			if err != nil {
				return auditErrorf(seq, "entry %d: cannot decode: %v", seq, err)
			}
			if e.Seq != seq {
				return auditErrorf(seq, "entry %d: out of order: it holds entry %d", seq, e.Seq)
			}
			if e.PrevHash != prevHash {
				return auditErrorf(seq, "entry %d: previous hash does not match entry %d (it was changed, removed or replaced)", seq, seq-1)
			}
			stored := e.Hash
			sealed, err := sealAudit(&e)
			if err != nil {
				return fmt.Errorf("entry %d: encode: %w", seq, err)
			}
			if e.Hash != stored {
				return auditErrorf(seq, "entry %d: content changed (hash mismatch)", seq)
			}
			// A change JSON decoding forgives (a field name's case, an
			// unknown field, spacing) leaves the hash intact; the
			// stored bytes must still be exactly what Audit wrote.
			if !bytes.Equal(sealed, v) {
				return auditErrorf(seq, "entry %d: stored bytes changed (not in canonical form)", seq)
			}
			entries++
			want, prevHash = seq+1, e.Hash
			return nil
		})
		if err != nil {
			return err
		}
		last := want - 1
		head := tx.Bucket(bucketMeta).Get(keyAuditHead)
		if head == nil {
			if last > 0 {
				return auditErrorf(last, "entry %d: the record of the newest entry is missing", last)
			}
			return nil
		}
		hseq, hhash, err := decodeHead(head)
		if err != nil {
			return auditErrorf(last, "record of the newest entry: %v", err)
		}
		switch {
		case hseq > last:
			return auditErrorf(last+1, "entry %d missing: the trail ends at entry %d, but %d entries were written", last+1, last, hseq)
		case hseq < last:
			return auditErrorf(hseq+1, "entry %d: not written by picket: the newest entry written was %d", hseq+1, hseq)
		case hhash != prevHash:
			return auditErrorf(last, "entry %d: content changed (hash differs from the one recorded when it was written)", last)
		}
		return nil
	})
	if err != nil {
		return entries, fmt.Errorf("verify audit: %w", err)
	}
	return entries, nil
}

// ExportAudit writes the entries whose Time is at or after since (all of
// them when since is zero) to w as JSON lines, in sequence order, exactly as
// stored, so the export can be verified outside Picket. It returns how many
// it wrote.
func (db *DB) ExportAudit(w io.Writer, since time.Time) (int, error) {
	var n int
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAudit).ForEach(func(k, v []byte) error {
			e, err := decodeAudit(v)
			if err != nil {
				return fmt.Errorf("decode entry %x: %w", k, err)
			}
			if e.Time.Before(since) {
				return nil
			}
			line := make([]byte, 0, len(v)+1)
			line = append(append(line, v...), '\n')
			if _, err := w.Write(line); err != nil {
				return fmt.Errorf("write entry %d: %w", e.Seq, err)
			}
			n++
			return nil
		})
	})
	if err != nil {
		return n, fmt.Errorf("export audit since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

// RecentAudit returns the newest n entries, oldest first (newest last).
func (db *DB) RecentAudit(n int) ([]picket.AuditEntry, error) {
	if n <= 0 {
		return nil, nil
	}
	var out []picket.AuditEntry
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			e, err := decodeAudit(v)
			if err != nil {
				return fmt.Errorf("decode entry %x: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read recent audit entries: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// auditHead returns the sequence number and hash of the newest entry, from
// the meta record, or from the last entry of a trail that has none.
func auditHead(tx *bolt.Tx) (uint64, string, error) {
	if v := tx.Bucket(bucketMeta).Get(keyAuditHead); v != nil {
		seq, hash, err := decodeHead(v)
		if err != nil {
			return 0, "", fmt.Errorf("read audit head: %w", err)
		}
		return seq, hash, nil
	}
	k, v := tx.Bucket(bucketAudit).Cursor().Last()
	if k == nil {
		return 0, "", nil
	}
	e, err := decodeAudit(v)
	if err != nil {
		return 0, "", fmt.Errorf("read last audit entry %x: %w", k, err)
	}
	return e.Seq, e.Hash, nil
}

// encodeHead stores the head as 8-byte big-endian seq followed by the hex
// hash.
func encodeHead(seq uint64, hash string) []byte {
	return append(binary.BigEndian.AppendUint64(nil, seq), hash...)
}

func decodeHead(v []byte) (uint64, string, error) {
	if len(v) < 8 {
		return 0, "", fmt.Errorf("want at least 8 bytes, got %d", len(v))
	}
	return binary.BigEndian.Uint64(v[:8]), string(v[8:]), nil
}

// sealAudit sets e.Hash from the canonical encoding of e with Hash empty and
// returns the encoding with the hash, which is what is stored.
func sealAudit(e *picket.AuditEntry) ([]byte, error) {
	e.Hash = ""
	canon, err := encodeAudit(e)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canon)
	e.Hash = hex.EncodeToString(sum[:])
	return encodeAudit(e)
}

func encodeAudit(e *picket.AuditEntry) ([]byte, error) { return encodeJSON(e) }

func decodeAudit(v []byte) (picket.AuditEntry, error) {
	var e picket.AuditEntry
	err := json.Unmarshal(v, &e)
	return e, err
}

// utcCalls returns calls with every time in UTC, copying so that the
// caller's slice is left alone.
func utcCalls(calls []picket.StepResult) []picket.StepResult {
	if calls == nil {
		return nil
	}
	out := make([]picket.StepResult, len(calls))
	for i, c := range calls {
		c.At = utc(c.At)
		out[i] = c
	}
	return out
}

// seqKey is the 8-byte big-endian form of seq, so keys sort in order.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }
