package store_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/store"
)

var (
	testAuditKey  = []byte("0123456789abcdef0123456789abcdef")
	otherAuditKey = []byte("fedcba9876543210fedcba9876543210")
)

// openAt opens the store at path with key (nil: none).
func openAt(tb testing.TB, path string, key []byte) *store.DB {
	tb.Helper()
	db, err := store.Open(path, store.Options{Timeout: 100 * time.Millisecond, Now: func() time.Time { return t0 }, AuditKey: key})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// rewrite closes db, runs fn on the raw file (as anyone with write access
// to the data volume could), and reopens it with key.
func rewrite(tb testing.TB, db *store.DB, path string, key []byte, fn func(tx *bolt.Tx) error) *store.DB {
	tb.Helper()
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	if err := b.Update(fn); err != nil {
		tb.Fatalf("rewrite: %v", err)
	}
	if err := b.Close(); err != nil {
		tb.Fatal(err)
	}
	return openAt(tb, path, key)
}

// forgeChain rewrites entries from..to as someone without the key would:
// key_id dropped, each chained to the one before with a fresh plain
// SHA-256, detail changed. With cut, the entries after to are deleted and
// the head record is rewritten to match.
func forgeChain(tb testing.TB, from, to uint64, cut bool) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		prev := ""
		if from > 1 {
			var e picket.AuditEntry
			if err := json.Unmarshal(b.Get(key(from-1)), &e); err != nil {
				return err
			}
			prev = e.Hash
		}
		for seq := from; seq <= to; seq++ {
			var e picket.AuditEntry
			if err := json.Unmarshal(b.Get(key(seq)), &e); err != nil {
				return err
			}
			e.KeyID, e.PrevHash, e.Detail = "", prev, "nothing happened"
			e.Hash = canonicalHash(tb, e)
			if err := b.Put(key(seq), canonicalJSON(tb, e)); err != nil {
				return err
			}
			prev = e.Hash
		}
		if !cut {
			return nil
		}
		for k, _ := b.Cursor().Seek(key(to + 1)); k != nil; k, _ = b.Cursor().Seek(key(to + 1)) {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("audit_head"), append(binary.BigEndian.AppendUint64(nil, to), prev...))
	}
}

func TestAuditKeyedChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "picket.db")
	db := openAt(t, path, testAuditKey)
	if _, wrote, err := db.KeyAudit(); err != nil || !wrote {
		t.Fatalf("KeyAudit on an empty trail: got wrote %v, %v, want true, nil", wrote, err)
	}
	entries := appendEntries(t, db, 3)
	wantID := store.AuditKeyID(testAuditKey)
	if len(wantID) != 8 || strings.Contains(wantID, hex.EncodeToString(testAuditKey)[:8]) {
		t.Fatalf("AuditKeyID: got %q, want 8 hex digits not taken from the key", wantID)
	}
	for _, e := range entries {
		if e.KeyID != wantID {
			t.Errorf("entry %d KeyID: got %q, want %q", e.Seq, e.KeyID, wantID)
		}
		c := e
		c.Hash = ""
		m := hmac.New(sha256.New, testAuditKey)
		m.Write(canonicalJSON(t, c))
		if want := hex.EncodeToString(m.Sum(nil)); e.Hash != want {
			t.Errorf("entry %d Hash: got %s, want the HMAC %s", e.Seq, e.Hash, want)
		}
	}
	c, err := db.VerifyAuditChain()
	if err != nil {
		t.Fatalf("VerifyAuditChain: %v", err)
	}
	if c.Entries != 4 || c.Keyed != 4 || c.FirstKeyed != 1 || c.Head.Seq != 4 || c.Head.Hash != entries[2].Hash {
		t.Errorf("VerifyAuditChain: got %+v, want 4 entries, all keyed, head 4 %s", c, entries[2].Hash)
	}
	if _, wrote, _ := db.KeyAudit(); wrote {
		t.Errorf("KeyAudit on a keyed trail: wrote an entry, want none")
	}
	head, err := db.AuditHead()
	if err != nil || head.Seq != 4 || head.Hash != entries[2].Hash || head.KeyID != wantID || !head.Time.Equal(t0) {
		t.Errorf("AuditHead: got %+v, %v, want entry 4", head, err)
	}

	tests := []struct {
		name    string
		key     []byte
		wantMsg string
	}{
		{"without the key", nil, "entry 1: sealed with audit key " + wantID + ": set PICKET_AUDIT_KEY"},
		{"with another key", otherAuditKey, "entry 1: sealed with audit key " + wantID + ", but the configured key is " + store.AuditKeyID(otherAuditKey)},
	}
	db.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openAt(t, path, tt.key)
			defer db.Close()
			if _, err := db.VerifyAudit(); err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("VerifyAudit: got %v, want %q", err, tt.wantMsg)
			}
		})
	}
	t.Run("continued without the key", func(t *testing.T) {
		db := openAt(t, path, nil)
		defer db.Close()
		if _, err := db.Audit(auditEntry(9)); !errors.Is(err, store.ErrAuditKeyRequired) {
			t.Errorf("Audit: got %v, want ErrAuditKeyRequired", err)
		}
	})
	t.Run("continued with another key", func(t *testing.T) {
		db := openAt(t, path, otherAuditKey)
		defer db.Close()
		if _, err := db.Audit(auditEntry(9)); !errors.Is(err, store.ErrAuditKeyMismatch) {
			t.Errorf("Audit: got %v, want ErrAuditKeyMismatch", err)
		}
	})
}

// TestAuditKeyAfterPlainEntries proves that a trail written before the key
// was set still verifies, and that its plain part is protected once a
// keyed entry follows.
func TestAuditKeyAfterPlainEntries(t *testing.T) {
	db, path := openTemp(t)
	plain := appendEntries(t, db, 3)
	db.Close()
	db = openAt(t, path, testAuditKey)
	marker, wrote, err := db.KeyAudit()
	if err != nil || !wrote || marker.Seq != 4 || marker.Event != "audit_keyed" || marker.PrevHash != plain[2].Hash {
		t.Fatalf("KeyAudit: got %+v wrote %v, %v, want entry 4 audit_keyed chained to entry 3", marker, wrote, err)
	}
	appendEntries(t, db, 2)
	c, err := db.VerifyAuditChain()
	if err != nil || c.Entries != 6 || c.Keyed != 3 || c.FirstKeyed != 4 {
		t.Fatalf("VerifyAuditChain: got %+v, %v, want 6 entries, 3 keyed from 4", c, err)
	}
	db.Close()

	tests := []struct {
		name    string
		tamper  func(tb testing.TB) func(tx *bolt.Tx) error
		wantMsg string
	}{
		{
			// On plain SHA-256 alone this passes: the forger recomputed
			// every hash and the head.
			name:    "whole trail rewritten without the key",
			tamper:  func(tb testing.TB) func(tx *bolt.Tx) error { return forgeChain(tb, 1, 6, true) },
			wantMsg: "entry 6: the newest entry is not sealed with the audit key",
		},
		{
			name:    "cut back to the plain part",
			tamper:  func(tb testing.TB) func(tx *bolt.Tx) error { return forgeChain(tb, 1, 3, true) },
			wantMsg: "entry 3: the newest entry is not sealed with the audit key",
		},
		{
			name:    "plain entry rewritten under a keyed one",
			tamper:  func(tb testing.TB) func(tx *bolt.Tx) error { return forgeChain(tb, 2, 2, false) },
			wantMsg: "entry 3: previous hash does not match entry 2",
		},
		{
			name: "keyed entry resealed with plain SHA-256",
			tamper: func(tb testing.TB) func(tx *bolt.Tx) error {
				return func(tx *bolt.Tx) error {
					b := tx.Bucket([]byte("audit"))
					var e picket.AuditEntry
					if err := json.Unmarshal(b.Get(key(5)), &e); err != nil {
						return err
					}
					e.Detail = "nothing happened"
					e.Hash = canonicalHash(tb, e)
					return b.Put(key(5), canonicalJSON(tb, e))
				}
			},
			wantMsg: "entry 5: content changed (hash mismatch)",
		},
		{
			name: "unkeyed entry appended after keyed ones",
			tamper: func(tb testing.TB) func(tx *bolt.Tx) error {
				return func(tx *bolt.Tx) error {
					b := tx.Bucket([]byte("audit"))
					var e picket.AuditEntry
					if err := json.Unmarshal(b.Get(key(6)), &e); err != nil {
						return err
					}
					e.Seq, e.PrevHash, e.KeyID = 7, e.Hash, ""
					e.Hash = canonicalHash(tb, e)
					if err := b.Put(key(7), canonicalJSON(tb, e)); err != nil {
						return err
					}
					return tx.Bucket([]byte("meta")).Put([]byte("audit_head"), append(binary.BigEndian.AppendUint64(nil, 7), e.Hash...))
				}
			},
			wantMsg: "entry 7: sealed without the audit key after keyed entry 4",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := filepath.Join(t.TempDir(), "copy.db")
			copyFile(t, path, cp)
			db := rewrite(t, openAt(t, cp, testAuditKey), cp, testAuditKey, tt.tamper(t))
			_, err := db.VerifyAudit()
			if err == nil || !errors.Is(err, store.ErrAuditBroken) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("VerifyAudit: got %v, want %q", err, tt.wantMsg)
			}
		})
	}
}

func TestVerifyAuditKeyedNeedsKeyedHead(t *testing.T) {
	db := openAt(t, filepath.Join(t.TempDir(), "picket.db"), testAuditKey)
	if _, err := db.VerifyAudit(); err == nil || !strings.Contains(err.Error(), "the trail is empty, but an audit key is configured") {
		t.Errorf("VerifyAudit of an empty trail with a key: got %v, want the empty-trail error", err)
	}
}

// TestAuditInvalidUTF8 proves that a string with invalid UTF-8 (such as a
// user id "%ff" from a form body) cannot break the chain: what is sealed
// is what reads back.
func TestAuditInvalidUTF8(t *testing.T) {
	tests := []struct {
		name string
		edit func(e *picket.AuditEntry)
	}{
		{"actor id", func(e *picket.AuditEntry) { e.Actor.ID = "\xff" }},
		{"actor name", func(e *picket.AuditEntry) { e.Actor.Name = "bob\xc3" }},
		{"actor group", func(e *picket.AuditEntry) { e.Actor.Groups = []string{"S\xfe\xff"} }},
		{"detail", func(e *picket.AuditEntry) { e.Detail = "unknown action id \"\xed\xa0\x80\"" }},
		{"plan step", func(e *picket.AuditEntry) { e.Plan[0].Description = "\x80" }},
		{"call error", func(e *picket.AuditEntry) { e.Calls[1].Error = "bad \xff byte" }},
		{"event", func(e *picket.AuditEntry) { e.Event = "x\xff" }},
	}
	for _, keyed := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if keyed {
				name += " keyed"
			}
			t.Run(name, func(t *testing.T) {
				var k []byte
				if keyed {
					k = testAuditKey
				}
				db := openAt(t, filepath.Join(t.TempDir(), "picket.db"), k)
				in := auditEntry(1)
				tt.edit(&in)
				got, err := db.Audit(in)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(got)
				if !utf8.Valid(b) || !bytes.Contains(b, []byte("\ufffd")) {
					t.Errorf("stored entry: got %s, want valid UTF-8 with U+FFFD for the bad bytes", b)
				}
				if _, err := db.VerifyAudit(); err != nil {
					t.Errorf("VerifyAudit: %v", err)
				}
				recent, err := db.RecentAudit(1)
				if err != nil || len(recent) != 1 || recent[0].Hash != got.Hash {
					t.Errorf("RecentAudit: got %+v, %v, want the entry Audit returned", recent, err)
				}
			})
		}
	}
}

// TestAuditLegacyInvalidUTF8 proves that an entry written by earlier
// versions with invalid UTF-8 (sealed over encoding/json's \ufffd escape,
// which no longer re-encodes the same) verifies from its stored bytes.
func TestAuditLegacyInvalidUTF8(t *testing.T) {
	db, path := openTemp(t)
	first := appendEntries(t, db, 1)[0]
	legacy := auditEntry(2)
	legacy.Seq, legacy.Time, legacy.PrevHash, legacy.Actor.ID = 2, t0, first.Hash, "\xff"
	legacy.Calls = nil
	legacy.Hash = canonicalHash(t, legacy)
	stored := canonicalJSON(t, legacy)
	if !bytes.Contains(stored, []byte(`\ufffd`)) {
		t.Fatalf("legacy encoding: got %s, want the \\ufffd escape", stored)
	}
	db = rewrite(t, db, path, nil, func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("audit")).Put(key(2), stored); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("audit_head"), append(binary.BigEndian.AppendUint64(nil, 2), legacy.Hash...))
	})
	if n, err := db.VerifyAudit(); err != nil || n != 2 {
		t.Errorf("VerifyAudit: got %d, %v, want 2, nil", n, err)
	}
}

// FuzzAuditVerify: whatever strings an entry holds, the trail verifies.
func FuzzAuditVerify(f *testing.F) {
	for _, s := range []string{"", "%ff", "\xff", "a\x00b", "\u2028", "<&>", "\xed\xa0\x80", `"hash":"x"}`} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, keyed bool) {
		var k []byte
		if keyed {
			k = testAuditKey
		}
		db := openAt(t, filepath.Join(t.TempDir(), "picket.db"), k)
		e := auditEntry(1)
		e.Actor.ID, e.Detail, e.Target = s, s, s
		if _, err := db.Audit(e); err != nil {
			t.Fatal(err)
		}
		if _, err := db.VerifyAudit(); err != nil {
			t.Fatalf("VerifyAudit with %q: %v", s, err)
		}
	})
}

// copyFile copies a closed store file.
func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}
