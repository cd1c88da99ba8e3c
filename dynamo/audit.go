package dynamo

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/internal/auditseal"
)

// The audit chain has the bbolt store's format (see store.DB.Audit): each
// entry is the canonical JSON of picket.AuditEntry with its Hash last,
// SHA-256 or, with an audit key, HMAC-SHA-256 over the entry with Hash
// empty. An export of either store verifies against the other.

// Errors Audit returns (wrapped) when the audit key does not fit the trail.
var (
	ErrAuditKeyRequired = errors.New("the audit trail is sealed with an audit key, but none is configured (set PICKET_AUDIT_KEY or PICKET_AUDIT_KEY_FILE)")
	ErrAuditKeyMismatch = errors.New("the audit trail is sealed with another audit key than the one configured")
)

// AuditKeyID names an audit key without revealing it: the first 8 hex
// digits of HMAC-SHA-256(key, "picket audit key id"), as store.AuditKeyID.
func AuditKeyID(key []byte) string { return auditseal.KeyID(key) }

func seqSK(seq uint64) string { return fmt.Sprintf("%020d", seq) }

// lastAudit returns the newest entry and its stored bytes.
func (s *Store) lastAudit() (picket.AuditEntry, bool, error) {
	var e picket.AuditEntry
	var ok bool
	_, err := s.query("audit", queryOpts{reverse: true, limit: 1}, func(it item) (bool, error) {
		var err error
		e, err = decodeAudit(getB(it, "v"))
		ok = err == nil
		return false, err
	})
	return e, ok, err
}

// Audit appends e as entry n+1 after the newest entry n: a put on
// condition that entry n+1 does not exist. A writer that loses to another
// (in this process or another) reads the new newest entry and tries
// again, so the chain stays one chain whatever the number of writers.
// After the entry, the head record is raised to it (never lowered); it is
// a lower bound that VerifyAuditChain uses to detect entries cut off the
// end.
func (s *Store) Audit(e picket.AuditEntry) (picket.AuditEntry, error) {
	out, err := s.audit(e)
	if err != nil {
		return picket.AuditEntry{}, fmt.Errorf("append audit entry %q: %w", e.Event, err)
	}
	return out, nil
}

func (s *Store) audit(in picket.AuditEntry) (picket.AuditEntry, error) {
	in.Calls = utcCalls(in.Calls)
	in, err := normalizeAudit(in)
	if err != nil {
		return in, err
	}
	for range maxRetries * 10 {
		e := in
		last, found, err := s.lastAudit()
		if err != nil {
			return e, err
		}
		var seq uint64
		var prev string
		if found {
			seq, prev = last.Seq, last.Hash
			if err := s.keyFits(last); err != nil {
				return e, err
			}
		}
		if e.Time.IsZero() {
			e.Time = s.now()
		}
		e.Time = e.Time.UTC()
		e.Seq, e.PrevHash, e.KeyID = seq+1, prev, s.auditKeyID
		v, err := sealAudit(&e, s.auditKey)
		if err != nil {
			return e, err
		}
		err = s.put(item{"pk": attrS("audit"), "sk": attrS(seqSK(e.Seq)), "v": attrB(v)}, &cond{expr: "attribute_not_exists(pk)"})
		if errors.Is(err, errConflict) {
			continue
		}
		if err != nil {
			return e, err
		}
		_, err = s.update("audit_head", "-", "SET #seq = :seq, #hash = :hash",
			&cond{expr: "attribute_not_exists(#seq) OR #seq < :seq"},
			map[string]string{"#seq": "seq", "#hash": "hash"}, item{":seq": attrN(int64(e.Seq)), ":hash": attrS(e.Hash)})
		if err != nil && !errors.Is(err, errConflict) {
			return e, fmt.Errorf("record head: %w", err)
		}
		return e, nil
	}
	return in, errors.New("too many concurrent audit writers")
}

func (s *Store) keyFits(last picket.AuditEntry) error {
	switch {
	case last.KeyID == "" || last.KeyID == s.auditKeyID:
		return nil
	case s.auditKeyID == "":
		return ErrAuditKeyRequired
	default:
		return fmt.Errorf("%w (entry %d: key %s; configured: key %s)", ErrAuditKeyMismatch, last.Seq, last.KeyID, s.auditKeyID)
	}
}

// KeyAudit appends an "audit_keyed" entry when an audit key is configured
// and the newest entry is not sealed with it.
func (s *Store) KeyAudit() (picket.AuditEntry, bool, error) {
	if s.auditKeyID == "" {
		return picket.AuditEntry{}, false, nil
	}
	head, err := s.AuditHead()
	if err != nil {
		return picket.AuditEntry{}, false, err
	}
	e, ok := auditseal.KeyedEntry(s.auditKeyID, head)
	if !ok {
		return picket.AuditEntry{}, false, nil
	}
	e, err = s.Audit(e)
	if err != nil {
		return picket.AuditEntry{}, false, fmt.Errorf("key the audit trail: %w", err)
	}
	return e, true, nil
}

// AuditHead returns the newest entry.
func (s *Store) AuditHead() (picket.ChainHead, error) {
	e, ok, err := s.lastAudit()
	if err != nil {
		return picket.ChainHead{}, fmt.Errorf("read audit head: %w", err)
	}
	if !ok {
		return picket.ChainHead{}, nil
	}
	return picket.ChainHead{Seq: e.Seq, Hash: e.Hash, KeyID: e.KeyID, Time: e.Time}, nil
}

// AuditAt returns entry seq as stored.
func (s *Store) AuditAt(seq uint64) (picket.AuditEntry, bool, error) {
	it, ok, err := s.get("audit", seqSK(seq))
	if err == nil && ok {
		var e picket.AuditEntry
		if e, err = decodeAudit(getB(it, "v")); err == nil {
			return e, true, nil
		}
	}
	if err != nil {
		return picket.AuditEntry{}, false, fmt.Errorf("read audit entry %d: %w", seq, err)
	}
	return picket.AuditEntry{}, false, nil
}

// VerifyAuditChain walks the chain in order and checks every entry as
// store.DB.VerifyAuditChain does. The head record is a lower bound here
// (a writer that stopped between its entry and the head leaves it one
// behind): a chain shorter than the head was cut back; a longer one is
// accepted, and with an audit key its newest entry must be keyed.
func (s *Store) VerifyAuditChain() (picket.AuditChain, error) {
	c, err := s.verify()
	if err != nil {
		return c, fmt.Errorf("verify audit: %w", err)
	}
	return c, nil
}

func (s *Store) verify() (picket.AuditChain, error) {
	var (
		c        picket.AuditChain
		want     uint64 = 1
		prevHash string
		last     picket.AuditEntry
	)
	_, err := s.query("audit", queryOpts{}, func(it item) (bool, error) {
		v := getB(it, "v")
		var seq uint64
		if _, err := fmt.Sscanf(getS(it, "sk"), "%d", &seq); err != nil {
			return false, picket.AuditErrorf(want, "entry %d: unexpected key %q", want, getS(it, "sk"))
		}
		if seq != want {
			if want == 1 {
				return false, picket.AuditErrorf(1, "entry 1 missing: the trail starts at entry %d", seq)
			}
			return false, picket.AuditErrorf(want, "entry %d missing: entry %d follows entry %d", want, seq, want-1)
		}
		e, err := decodeAudit(v)
		if err != nil {
			return false, picket.AuditErrorf(seq, "entry %d: cannot decode: %v", seq, err)
		}
		if e.Seq != seq {
			return false, picket.AuditErrorf(seq, "entry %d: out of order: it holds entry %d", seq, e.Seq)
		}
		if e.PrevHash != prevHash {
			return false, picket.AuditErrorf(seq, "entry %d: previous hash does not match entry %d (it was changed, removed or replaced)", seq, seq-1)
		}
		var key []byte
		switch {
		case e.KeyID == "" && c.Keyed > 0:
			return false, picket.AuditErrorf(seq, "entry %d: sealed without the audit key after keyed entry %d (written by someone who does not have the key)", seq, c.FirstKeyed)
		case e.KeyID == "":
		case s.auditKeyID == "":
			return false, picket.AuditErrorf(seq, "entry %d: sealed with audit key %s: set PICKET_AUDIT_KEY or PICKET_AUDIT_KEY_FILE to verify it", seq, e.KeyID)
		case e.KeyID != s.auditKeyID:
			return false, picket.AuditErrorf(seq, "entry %d: sealed with audit key %s, but the configured key is %s", seq, e.KeyID, s.auditKeyID)
		default:
			key = s.auditKey
		}
		if err := checkSeal(v, e, key); err != nil {
			return false, picket.AuditErrorf(seq, "entry %d: %v", seq, err)
		}
		if e.KeyID != "" {
			if c.Keyed == 0 {
				c.FirstKeyed = seq
			}
			c.Keyed++
		}
		c.Entries++
		want, prevHash, last = seq+1, e.Hash, e
		return true, nil
	})
	if err != nil {
		return c, err
	}
	n := want - 1
	head, ok, err := s.get("audit_head", "-")
	if err != nil {
		return c, err
	}
	if ok {
		hseq := uint64(getN(head, "seq"))
		switch {
		case hseq > n:
			return c, picket.AuditErrorf(n+1, "entry %d missing: the trail ends at entry %d, but %d entries were written", n+1, n, hseq)
		case hseq == n && getS(head, "hash") != prevHash:
			return c, picket.AuditErrorf(n, "entry %d: content changed (hash differs from the one recorded when it was written)", n)
		}
	} else if n > 0 {
		return c, picket.AuditErrorf(n, "entry %d: the record of the newest entry is missing", n)
	}
	if s.auditKeyID != "" && last.KeyID == "" {
		if n == 0 {
			return c, picket.AuditErrorf(1, "the trail is empty, but an audit key is configured and Picket writes a keyed entry when it starts (it was wiped, or Picket has not run since the key was set)")
		}
		return c, picket.AuditErrorf(n, "entry %d: the newest entry is not sealed with the audit key, but Picket seals every entry once the key is set and writes a keyed one when it starts (the trail was rewritten or cut back by someone without the key, or Picket has not run since the key was set)", n)
	}
	c.Head = picket.ChainHead{Seq: last.Seq, Hash: last.Hash, KeyID: last.KeyID, Time: last.Time}
	return c, nil
}

// ExportAudit writes the entries at or after since to w as JSON lines,
// exactly as stored, in sequence order.
func (s *Store) ExportAudit(w io.Writer, since time.Time) (int, error) {
	var n int
	_, err := s.query("audit", queryOpts{}, func(it item) (bool, error) {
		v := getB(it, "v")
		e, err := decodeAudit(v)
		if err != nil {
			return false, fmt.Errorf("decode entry %s: %w", getS(it, "sk"), err)
		}
		if e.Time.Before(since) {
			return true, nil
		}
		if _, err := w.Write(append(append([]byte(nil), v...), '\n')); err != nil {
			return false, fmt.Errorf("write entry %d: %w", e.Seq, err)
		}
		n++
		return true, nil
	})
	if err != nil {
		return n, fmt.Errorf("export audit since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

// RecentAudit returns the newest n entries, oldest first.
func (s *Store) RecentAudit(n int) ([]picket.AuditEntry, error) {
	if n <= 0 {
		return nil, nil
	}
	var out []picket.AuditEntry
	_, err := s.query("audit", queryOpts{reverse: true, limit: n}, func(it item) (bool, error) {
		e, err := decodeAudit(getB(it, "v"))
		out = append(out, e)
		return true, err
	})
	if err != nil {
		return nil, fmt.Errorf("read recent audit entries: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// The sealed entry's format is shared with the other store.
var (
	sealAudit      = auditseal.Seal
	checkSeal      = auditseal.CheckSeal
	normalizeAudit = auditseal.Normalize
	decodeAudit    = auditseal.Decode
	utcCalls       = auditseal.UTCCalls
)
