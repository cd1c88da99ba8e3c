// Package auditseal is the one format of a sealed audit entry, shared by
// both stores (store on bbolt, dynamo on DynamoDB) so that a chain written
// by one verifies in the other (picket store export | import).
//
// An entry is sealed over its canonical JSON encoding (no HTML escaping,
// Hash empty and last): Hash is SHA-256 of it, or HMAC-SHA-256 with the
// audit key when one is configured. The stored bytes are that encoding
// with Hash filled in, so a check is made against what was written.
package auditseal

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/picketsec/picket"
)

// KeyID names an audit key without revealing it, as entries record it in
// KeyID: the first 8 hex digits of HMAC-SHA-256(key, "picket audit key
// id"); "" for no key.
func KeyID(key []byte) string {
	if len(key) == 0 {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("picket audit key id"))
	return hex.EncodeToString(m.Sum(nil)[:4])
}

// Encode is the canonical JSON encoding: no HTML escaping, no trailing
// newline.
func Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Seal sets e.Hash from the canonical encoding of e with Hash empty and
// returns the encoding with the hash, which is what is stored.
func Seal(e *picket.AuditEntry, key []byte) ([]byte, error) {
	e.Hash = ""
	canon, err := Encode(e)
	if err != nil {
		return nil, err
	}
	e.Hash = digest(key, canon)
	return Encode(e)
}

// digest is the hex HMAC-SHA-256 of b with key, or its SHA-256 when key is
// empty.
func digest(key, b []byte) string {
	if len(key) == 0 {
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:])
	}
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// CheckSeal checks an entry against the bytes it is stored as: Hash is the
// last field, so the stored value ends with "hash":"<Hash>"} and, with the
// hash blanked, is exactly what was sealed. Checking the stored bytes
// rather than a re-encoding of the decoded entry means any change to them
// (even one JSON decoding forgives, such as a key's case) breaks the seal.
// v is not written to.
func CheckSeal(v []byte, e picket.AuditEntry, key []byte) error {
	suffix := `,"hash":"` + e.Hash + `"}`
	if !bytes.HasSuffix(v, []byte(suffix)) {
		return errors.New("stored bytes changed (the hash is not the last field as written)")
	}
	n := len(v) - len(suffix)
	canon := make([]byte, 0, n+len(`,"hash":""}`))
	canon = append(append(canon, v[:n]...), `,"hash":""}`...)
	if !hmac.Equal([]byte(digest(key, canon)), []byte(e.Hash)) {
		return errors.New("content changed (hash mismatch)")
	}
	return nil
}

// Normalize returns e as it reads back after encoding: every string valid
// UTF-8 (invalid bytes become U+FFFD, as encoding/json writes them), every
// time as encoded. Sealing the normalised entry makes the stored bytes and
// the decoded entry agree.
func Normalize(e picket.AuditEntry) (picket.AuditEntry, error) {
	b, err := Encode(&e)
	if err != nil {
		return e, fmt.Errorf("encode: %w", err)
	}
	var out picket.AuditEntry
	if err := json.Unmarshal(b, &out); err != nil {
		return e, fmt.Errorf("normalise: %w", err)
	}
	return out, nil
}

// Decode reads a stored entry.
func Decode(v []byte) (picket.AuditEntry, error) {
	var e picket.AuditEntry
	err := json.Unmarshal(v, &e)
	return e, err
}

// UTCCalls returns calls with every time in UTC (the zero time staying
// zero), copying so that the caller's slice is left alone.
func UTCCalls(calls []picket.StepResult) []picket.StepResult {
	if calls == nil {
		return nil
	}
	out := make([]picket.StepResult, len(calls))
	for i, c := range calls {
		if !c.At.IsZero() {
			c.At = c.At.UTC()
		}
		out[i] = c
	}
	return out
}

// KeyedEntry is the "audit_keyed" entry a store appends (KeyAudit) so
// that the trail ends with an entry sealed under audit key keyID; ok is
// false when none is needed: no key is configured, or head, the newest
// entry, is already sealed with it.
func KeyedEntry(keyID string, head picket.ChainHead) (e picket.AuditEntry, ok bool) {
	if keyID == "" || (head.Seq > 0 && head.KeyID == keyID) {
		return picket.AuditEntry{}, false
	}
	return picket.AuditEntry{
		Event: "audit_keyed", Actor: picket.Actor{ID: "picket"}, Outcome: "keyed",
		Detail: fmt.Sprintf("entries from here on are sealed with HMAC-SHA-256 under audit key %s; entries before (up to %d) were sealed with plain SHA-256", keyID, head.Seq),
	}, true
}
