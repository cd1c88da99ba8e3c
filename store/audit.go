package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/internal/auditseal"
)

var _ picket.Auditor = (*DB)(nil)

// ErrAuditBroken is matched (errors.Is) by the error VerifyAudit returns when
// the audit chain is broken, as opposed to the file being unreadable.
var ErrAuditBroken = picket.ErrAuditBroken

// AuditError says which audit entry breaks the chain and how.
type AuditError = picket.AuditError

func auditErrorf(seq uint64, format string, args ...any) *AuditError {
	return picket.AuditErrorf(seq, format, args...)
}

// Errors Audit returns (wrapped) when the audit key does not fit the
// trail.
var (
	// ErrAuditKeyRequired: the trail is sealed with an audit key, but none
	// is configured. Picket refuses to continue it unkeyed, because an
	// unkeyed entry after keyed ones is exactly what a forger would write.
	ErrAuditKeyRequired = errors.New("the audit trail is sealed with an audit key, but none is configured (set PICKET_AUDIT_KEY or PICKET_AUDIT_KEY_FILE)")
	// ErrAuditKeyMismatch: the newest entry is sealed with another key.
	ErrAuditKeyMismatch = errors.New("the audit trail is sealed with another audit key than the one configured")
)

// AuditKeyID returns the identifier of an audit key that entries record
// in KeyID: the first 8 hex digits of HMAC-SHA-256(key, "picket audit key
// id"). It says which key sealed an entry without revealing the key.
func AuditKeyID(key []byte) string { return auditseal.KeyID(key) }

// Audit appends e to the audit trail and returns it as stored, with Seq,
// Time (the store's clock when e.Time is zero; always UTC), KeyID,
// PrevHash and Hash set. Whatever Seq, KeyID, PrevHash and Hash e carries
// is ignored. The entry is on disk when Audit returns.
//
// Every string in e is normalised first: invalid UTF-8 becomes U+FFFD, as
// JSON decoding would read it back, so what is sealed is exactly what a
// verifier decodes. (Before this, an entry holding invalid UTF-8 was
// sealed over bytes that no longer re-encoded the same; VerifyAudit checks
// the stored bytes themselves, so such old entries still verify.)
//
// Hash is computed over the canonical encoding of the entry with Hash
// empty: encoding/json of picket.AuditEntry (fields in struct order, so
// the output is deterministic), HTML escaping off, no trailing newline,
// every time in UTC. With an audit key (Options.AuditKey) it is the hex
// HMAC-SHA-256 with that key and KeyID names the key; without one it is
// the hex SHA-256. The stored value is the same encoding with Hash filled
// in. A trail sealed with a key is never continued without it
// (ErrAuditKeyRequired) or with another (ErrAuditKeyMismatch).
//
// The sequence number and hash of the newest entry are also kept in the
// meta bucket ("audit_head"), and the next entry is chained to that head,
// not to whatever the audit bucket ends with: deleting the newest entries
// leaves a gap that VerifyAudit reports.
func (db *DB) Audit(e picket.AuditEntry) (picket.AuditEntry, error) {
	e.Calls = utcCalls(e.Calls)
	e, err := normalizeAudit(e)
	if err != nil {
		return picket.AuditEntry{}, fmt.Errorf("append audit entry %q: %w", e.Event, err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
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
		if err := db.checkKeyFits(tx, seq); err != nil {
			return err
		}
		e.Seq, e.PrevHash, e.KeyID = seq+1, prev, db.auditKeyID
		v, err := sealAudit(&e, db.auditKey)
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

// checkKeyFits refuses to continue a trail whose newest entry (seq) is
// sealed with a key other than the configured one, or with a key when none
// is configured. A missing newest entry (a cut trail) is left for
// VerifyAudit to report.
func (db *DB) checkKeyFits(tx *bolt.Tx, seq uint64) error {
	if seq == 0 {
		return nil
	}
	v := tx.Bucket(bucketAudit).Get(seqKey(seq))
	if v == nil {
		return nil
	}
	last, err := decodeAudit(v)
	if err != nil {
		return fmt.Errorf("read newest audit entry %d: %w", seq, err)
	}
	switch {
	case last.KeyID == "" || last.KeyID == db.auditKeyID:
		return nil
	case db.auditKeyID == "":
		return ErrAuditKeyRequired
	default:
		return fmt.Errorf("%w (entry %d: key %s; configured: key %s)", ErrAuditKeyMismatch, seq, last.KeyID, db.auditKeyID)
	}
}

// KeyAudit makes the trail end with an entry sealed with the audit key:
// when a key is configured and the newest entry is not sealed with it (a
// trail written before the key was set, or an empty one), it appends an
// "audit_keyed" entry and returns it with true. Without a key, or when the
// newest entry is already keyed, it does nothing. Picket calls it when it
// starts, so that VerifyAudit can require a keyed newest entry: a trail
// rewritten or cut back by someone without the key cannot end with one.
func (db *DB) KeyAudit() (picket.AuditEntry, bool, error) {
	if db.auditKeyID == "" {
		return picket.AuditEntry{}, false, nil
	}
	head, err := db.AuditHead()
	if err != nil {
		return picket.AuditEntry{}, false, err
	}
	e, ok := auditseal.KeyedEntry(db.auditKeyID, head)
	if !ok {
		return picket.AuditEntry{}, false, nil
	}
	e, err = db.Audit(e)
	if err != nil {
		return picket.AuditEntry{}, false, fmt.Errorf("key the audit trail: %w", err)
	}
	return e, true, nil
}

// ChainHead is the newest entry of the audit trail (see picket.ChainHead).
type ChainHead = picket.ChainHead

// AuditHead returns the newest entry's sequence number, hash, key id and
// time, as recorded when it was written.
func (db *DB) AuditHead() (ChainHead, error) {
	var h ChainHead
	err := db.bolt.View(func(tx *bolt.Tx) error {
		seq, hash, err := auditHead(tx)
		if err != nil || seq == 0 {
			return err
		}
		h.Seq, h.Hash = seq, hash
		if v := tx.Bucket(bucketAudit).Get(seqKey(seq)); v != nil {
			e, err := decodeAudit(v)
			if err != nil {
				return fmt.Errorf("decode entry %d: %w", seq, err)
			}
			h.KeyID, h.Time = e.KeyID, e.Time
		}
		return nil
	})
	if err != nil {
		return ChainHead{}, fmt.Errorf("read audit head: %w", err)
	}
	return h, nil
}

// AuditAt returns the entry with sequence number seq as stored; ok is
// false when there is none.
func (db *DB) AuditAt(seq uint64) (e picket.AuditEntry, ok bool, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketAudit).Get(seqKey(seq))
		if v == nil {
			return nil
		}
		ok = true
		e, err = decodeAudit(v)
		return err
	})
	if err != nil {
		return picket.AuditEntry{}, false, fmt.Errorf("read audit entry %d: %w", seq, err)
	}
	return e, ok, nil
}

// AuditChain is what VerifyAuditChain found in an intact trail (see
// picket.AuditChain).
type AuditChain = picket.AuditChain

// VerifyAudit walks the audit trail in order and checks the chain (see
// VerifyAuditChain). It returns how many entries passed before the first
// problem, and an error wrapping an *AuditError (errors.Is ErrAuditBroken)
// that names the entry at fault: "entry 7: content changed (hash
// mismatch)", "entry 5 missing: entry 6 follows entry 4".
func (db *DB) VerifyAudit() (entries int, err error) {
	c, err := db.VerifyAuditChain()
	return c.Entries, err
}

// VerifyAuditChain walks the audit trail in order and checks the chain:
// every entry decodes, is numbered as its key says and one more than the
// entry before (from 1), holds the previous entry's hash, and its stored
// bytes (with the hash blanked) hash to its own Hash; the last entry is
// the recorded head.
//
// Keyed entries are checked with the configured audit key
// (Options.AuditKey): an entry sealed with a key fails without it or with
// another key, and an unkeyed entry may not follow a keyed one. With a key
// configured the newest entry must be keyed too (KeyAudit, which Picket
// runs when it starts, makes it so): a trail that someone without the key
// rewrote or cut back to its unkeyed part fails.
//
// On failure the returned AuditChain counts the entries that passed
// before the first problem.
func (db *DB) VerifyAuditChain() (AuditChain, error) {
	var c AuditChain
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var (
			want     uint64 = 1
			prevHash string
			last     picket.AuditEntry
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
			var key []byte
			switch {
			case e.KeyID == "" && c.Keyed > 0:
				return auditErrorf(seq, "entry %d: sealed without the audit key after keyed entry %d (written by someone who does not have the key)", seq, c.FirstKeyed)
			case e.KeyID == "":
			case db.auditKeyID == "":
				return auditErrorf(seq, "entry %d: sealed with audit key %s: set PICKET_AUDIT_KEY or PICKET_AUDIT_KEY_FILE to verify it", seq, e.KeyID)
			case e.KeyID != db.auditKeyID:
				return auditErrorf(seq, "entry %d: sealed with audit key %s, but the configured key is %s", seq, e.KeyID, db.auditKeyID)
			default:
				key = db.auditKey
			}
			if err := checkSeal(v, e, key); err != nil {
				return auditErrorf(seq, "entry %d: %v", seq, err)
			}
			if e.KeyID != "" {
				if c.Keyed == 0 {
					c.FirstKeyed = seq
				}
				c.Keyed++
			}
			c.Entries++
			want, prevHash, last = seq+1, e.Hash, e
			return nil
		})
		if err != nil {
			return err
		}
		n := want - 1
		head := tx.Bucket(bucketMeta).Get(keyAuditHead)
		if head == nil {
			if n > 0 {
				return auditErrorf(n, "entry %d: the record of the newest entry is missing", n)
			}
		} else {
			hseq, hhash, err := decodeHead(head)
			if err != nil {
				return auditErrorf(n, "record of the newest entry: %v", err)
			}
			switch {
			case hseq > n:
				return auditErrorf(n+1, "entry %d missing: the trail ends at entry %d, but %d entries were written", n+1, n, hseq)
			case hseq < n:
				return auditErrorf(hseq+1, "entry %d: not written by picket: the newest entry written was %d", hseq+1, hseq)
			case hhash != prevHash:
				return auditErrorf(n, "entry %d: content changed (hash differs from the one recorded when it was written)", n)
			}
		}
		if db.auditKeyID != "" && last.KeyID == "" {
			if n == 0 {
				return auditErrorf(1, "the trail is empty, but an audit key is configured and Picket writes a keyed entry when it starts (it was wiped, or Picket has not run since the key was set)")
			}
			return auditErrorf(n, "entry %d: the newest entry is not sealed with the audit key, but Picket seals every entry once the key is set and writes a keyed one when it starts (the trail was rewritten or cut back by someone without the key, or Picket has not run since the key was set)", n)
		}
		c.Head = ChainHead{Seq: last.Seq, Hash: last.Hash, KeyID: last.KeyID, Time: last.Time}
		return nil
	})
	if err != nil {
		return c, fmt.Errorf("verify audit: %w", err)
	}
	return c, nil
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

// seqKey is the 8-byte big-endian form of seq, so keys sort in order.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// The sealed entry's format is shared with the other store.
var (
	sealAudit      = auditseal.Seal
	checkSeal      = auditseal.CheckSeal
	normalizeAudit = auditseal.Normalize
	decodeAudit    = auditseal.Decode
	utcCalls       = auditseal.UTCCalls
)
