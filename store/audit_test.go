package store_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/store"
)

// auditEntry returns a realistic entry, numbered i in its text.
func auditEntry(i int) picket.AuditEntry {
	return picket.AuditEntry{
		Event:      "executed",
		Actor:      picket.Actor{ID: "U012AB3CD", Name: "Alice <admin> & co", Groups: []string{"S1"}},
		Action:     picket.ActionDisableUser,
		RequestID:  fmt.Sprintf("req-%d", i),
		Target:     "arn:aws:iam::123456789012:user/bob",
		Account:    "123456789012",
		Region:     "us-east-1",
		FindingKey: "gd/123456789012/us-east-1/abc",
		Plan: []picket.PlanStep{
			{Operation: "iam:UpdateAccessKey", Description: "deactivate AKIAEXAMPLE"},
			{Operation: "iam:PutUserPolicy", Description: "attach deny-all"},
		},
		Calls: []picket.StepResult{
			{Operation: "iam:UpdateAccessKey", Status: picket.StepDone, RequestID: "rid-1", At: t0.In(time.FixedZone("X", 3600))},
			{Operation: "iam:PutUserPolicy", Status: picket.StepFailed, ErrorCode: "AccessDenied", Error: "not allowed", At: t0},
		},
		Outcome: string(picket.OutcomePartial),
		Detail:  fmt.Sprintf("detail %d", i),
	}
}

// canonicalJSON encodes e as the store does: no HTML escaping, no newline.
func canonicalJSON(tb testing.TB, e picket.AuditEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&e); err != nil {
		tb.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// canonicalHash recomputes an entry's hash as DB.Audit documents it.
func canonicalHash(tb testing.TB, e picket.AuditEntry) string {
	tb.Helper()
	e.Hash = ""
	sum := sha256.Sum256(canonicalJSON(tb, e))
	return hex.EncodeToString(sum[:])
}

// appendEntries audits n entries and returns them as stored.
func appendEntries(tb testing.TB, db *store.DB, n int) []picket.AuditEntry {
	tb.Helper()
	out := make([]picket.AuditEntry, 0, n)
	for i := 1; i <= n; i++ {
		e, err := db.Audit(auditEntry(i))
		if err != nil {
			tb.Fatalf("Audit %d: %v", i, err)
		}
		out = append(out, e)
	}
	return out
}

// tamper closes db, runs fn on the file with bbolt directly, and reopens it.
func tamper(tb testing.TB, db *store.DB, path string, fn func(audit *bolt.Bucket) error) *store.DB {
	tb.Helper()
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	if err := b.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket([]byte("audit"))) }); err != nil {
		tb.Fatalf("tamper: %v", err)
	}
	if err := b.Close(); err != nil {
		tb.Fatal(err)
	}
	db, err = store.Open(path, store.Options{Timeout: 100 * time.Millisecond, Now: func() time.Time { return t0 }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

func key(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func TestAuditChain(t *testing.T) {
	db, _ := openTemp(t)

	n, err := db.VerifyAudit()
	if err != nil || n != 0 {
		t.Fatalf("VerifyAudit on empty trail: got %d, %v, want 0, nil", n, err)
	}

	in := auditEntry(1)
	in.Seq, in.PrevHash, in.Hash = 99, "forged", "forged" // ignored
	first, err := db.Audit(in)
	if err != nil {
		t.Fatal(err)
	}
	if in.Calls[0].At.Location() == time.UTC {
		t.Errorf("Audit changed the caller's calls: got UTC, want the original zone")
	}
	rest := appendEntries(t, db, 9)
	entries := append([]picket.AuditEntry{first}, rest...)

	for i, e := range entries {
		t.Run(fmt.Sprintf("entry %d", i+1), func(t *testing.T) {
			if got, want := e.Seq, uint64(i+1); got != want {
				t.Errorf("Seq: got %d, want %d", got, want)
			}
			wantPrev := ""
			if i > 0 {
				wantPrev = entries[i-1].Hash
			}
			if e.PrevHash != wantPrev {
				t.Errorf("PrevHash: got %q, want %q", e.PrevHash, wantPrev)
			}
			if got, want := e.Hash, canonicalHash(t, e); got != want {
				t.Errorf("Hash: got %s, want %s", got, want)
			}
			if !e.Time.Equal(t0) || e.Time.Location() != time.UTC {
				t.Errorf("Time: got %v, want %v in UTC (the store clock)", e.Time, t0)
			}
			if loc := e.Calls[0].At.Location(); loc != time.UTC {
				t.Errorf("call time location: got %v, want UTC", loc)
			}
		})
	}

	t.Run("explicit time kept in UTC", func(t *testing.T) {
		in := auditEntry(11)
		in.Time = t0.Add(time.Hour).In(time.FixedZone("IST", 5*3600+1800))
		e, err := db.Audit(in)
		if err != nil {
			t.Fatal(err)
		}
		if !e.Time.Equal(in.Time) || e.Time.Location() != time.UTC {
			t.Errorf("Time: got %v, want %v in UTC", e.Time, in.Time.UTC())
		}
	})

	n, err = db.VerifyAudit()
	if err != nil || n != 11 {
		t.Fatalf("VerifyAudit: got %d, %v, want 11, nil", n, err)
	}

	got, err := db.RecentAudit(11)
	if err != nil {
		t.Fatal(err)
	}
	for i := range entries {
		if got[i].Hash != entries[i].Hash || got[i].Detail != entries[i].Detail {
			t.Errorf("stored entry %d: got hash %s detail %q, want %s %q", i+1, got[i].Hash, got[i].Detail, entries[i].Hash, entries[i].Detail)
		}
	}
}

func TestVerifyAuditDetectsTampering(t *testing.T) {
	// replace edits the stored bytes of entry seq.
	replace := func(seq uint64, old, new string) func(*bolt.Bucket) error {
		return func(b *bolt.Bucket) error {
			v := b.Get(key(seq))
			if !bytes.Contains(v, []byte(old)) {
				return fmt.Errorf("entry %d has no %q", seq, old)
			}
			return b.Put(key(seq), bytes.Replace(v, []byte(old), []byte(new), 1))
		}
	}
	// reseal rewrites entry seq with new detail and a correct hash of its
	// own, as someone who knows the encoding would.
	reseal := func(tb testing.TB, seq uint64) func(*bolt.Bucket) error {
		return func(b *bolt.Bucket) error {
			var e picket.AuditEntry
			if err := json.Unmarshal(b.Get(key(seq)), &e); err != nil {
				return err
			}
			e.Detail = "nothing happened"
			e.Hash = canonicalHash(tb, e)
			return b.Put(key(seq), canonicalJSON(tb, e))
		}
	}
	tests := []struct {
		name    string
		tamper  func(tb testing.TB) func(*bolt.Bucket) error
		wantSeq uint64
		wantMsg string
		wantN   int // entries verified before the problem
	}{
		{
			name:    "one byte changed",
			tamper:  func(testing.TB) func(*bolt.Bucket) error { return replace(7, `"detail 7"`, `"detail 8"`) },
			wantSeq: 7, wantMsg: "entry 7: content changed (hash mismatch)", wantN: 6,
		},
		{
			name:    "outcome changed",
			tamper:  func(testing.TB) func(*bolt.Bucket) error { return replace(2, `"partial"`, `"succeeded"`) },
			wantSeq: 2, wantMsg: "entry 2: content changed (hash mismatch)", wantN: 1,
		},
		{
			name:    "field name case changed (same decoded content)",
			tamper:  func(testing.TB) func(*bolt.Bucket) error { return replace(4, `"event"`, `"Event"`) },
			wantSeq: 4, wantMsg: "entry 4: content changed", wantN: 3,
		},
		{
			name:    "not JSON any more",
			tamper:  func(testing.TB) func(*bolt.Bucket) error { return replace(3, `{`, `[`) },
			wantSeq: 3, wantMsg: "entry 3: cannot decode", wantN: 2,
		},
		{
			name: "middle entry deleted",
			tamper: func(testing.TB) func(*bolt.Bucket) error {
				return func(b *bolt.Bucket) error { return b.Delete(key(5)) }
			},
			wantSeq: 5, wantMsg: "entry 5 missing: entry 6 follows entry 4", wantN: 4,
		},
		{
			name: "first entry deleted",
			tamper: func(testing.TB) func(*bolt.Bucket) error {
				return func(b *bolt.Bucket) error { return b.Delete(key(1)) }
			},
			wantSeq: 1, wantMsg: "entry 1 missing: the trail starts at entry 2", wantN: 0,
		},
		{
			name: "last entry deleted",
			tamper: func(testing.TB) func(*bolt.Bucket) error {
				return func(b *bolt.Bucket) error { return b.Delete(key(10)) }
			},
			wantSeq: 10, wantMsg: "entry 10 missing: the trail ends at entry 9", wantN: 9,
		},
		{
			name: "two entries swapped",
			tamper: func(testing.TB) func(*bolt.Bucket) error {
				return func(b *bolt.Bucket) error {
					v3 := append([]byte(nil), b.Get(key(3))...)
					v4 := append([]byte(nil), b.Get(key(4))...)
					if err := b.Put(key(3), v4); err != nil {
						return err
					}
					return b.Put(key(4), v3)
				}
			},
			wantSeq: 3, wantMsg: "entry 3: out of order: it holds entry 4", wantN: 2,
		},
		{
			name:    "entry rewritten with a fresh hash",
			tamper:  func(tb testing.TB) func(*bolt.Bucket) error { return reseal(tb, 6) },
			wantSeq: 7, wantMsg: "entry 7: previous hash does not match entry 6", wantN: 6,
		},
		{
			name:    "last entry rewritten with a fresh hash",
			tamper:  func(tb testing.TB) func(*bolt.Bucket) error { return reseal(tb, 10) },
			wantSeq: 10, wantMsg: "entry 10: content changed", wantN: 10,
		},
		{
			name: "entry appended outside picket",
			tamper: func(testing.TB) func(*bolt.Bucket) error {
				return func(b *bolt.Bucket) error {
					var e picket.AuditEntry
					if err := json.Unmarshal(b.Get(key(10)), &e); err != nil {
						return err
					}
					e.Seq, e.PrevHash = 11, e.Hash
					e.Hash = canonicalHash(t, e)
					return b.Put(key(11), canonicalJSON(t, e))
				}
			},
			wantSeq: 11, wantMsg: "entry 11: not written by picket", wantN: 11,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, path := openTemp(t)
			appendEntries(t, db, 10)
			db = tamper(t, db, path, tt.tamper(t))

			n, err := db.VerifyAudit()
			if err == nil {
				t.Fatalf("VerifyAudit: got %d entries and no error, want an error naming entry %d", n, tt.wantSeq)
			}
			t.Logf("VerifyAudit: %v", err)
			if !errors.Is(err, store.ErrAuditBroken) {
				t.Errorf("errors.Is(err, ErrAuditBroken): got false for %v, want true", err)
			}
			var ae *store.AuditError
			if !errors.As(err, &ae) {
				t.Fatalf("errors.As(err, *AuditError): got false for %v, want true", err)
			}
			if ae.Seq != tt.wantSeq {
				t.Errorf("AuditError.Seq: got %d, want %d", ae.Seq, tt.wantSeq)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error: got %q, want it to contain %q", err, tt.wantMsg)
			}
			if n != tt.wantN {
				t.Errorf("entries verified: got %d, want %d", n, tt.wantN)
			}
		})
	}
}

func TestAuditAfterTruncationKeepsGap(t *testing.T) {
	db, path := openTemp(t)
	appendEntries(t, db, 5)
	db = tamper(t, db, path, func(b *bolt.Bucket) error { return b.Delete(key(5)) })
	e, err := db.Audit(auditEntry(6))
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 6 {
		t.Errorf("Seq after the newest entry was deleted: got %d, want 6 (chained to the recorded head)", e.Seq)
	}
	_, err = db.VerifyAudit()
	if err == nil || !strings.Contains(err.Error(), "entry 5 missing: entry 6 follows entry 4") {
		t.Errorf("VerifyAudit: got %v, want entry 5 missing", err)
	}
}

func TestAuditConcurrent(t *testing.T) {
	db, _ := openTemp(t)
	const workers, each = 16, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	seqs := make(chan uint64, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e, err := db.Audit(auditEntry(w*100 + i))
				if err != nil {
					errs <- err
					return
				}
				seqs <- e.Seq
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(seqs)
	for err := range errs {
		t.Errorf("Audit: %v", err)
	}
	seen := make(map[uint64]bool)
	for s := range seqs {
		if seen[s] {
			t.Errorf("seq %d: got it twice, want unique", s)
		}
		seen[s] = true
	}
	for s := uint64(1); s <= workers*each; s++ {
		if !seen[s] {
			t.Errorf("seq %d: got missing, want 1..%d contiguous", s, workers*each)
		}
	}
	n, err := db.VerifyAudit()
	if err != nil || n != workers*each {
		t.Errorf("VerifyAudit: got %d, %v, want %d, nil", n, err, workers*each)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestExportAudit(t *testing.T) {
	db, _ := openTemp(t)
	var want []picket.AuditEntry
	for i := range 10 {
		e := auditEntry(i)
		e.Time = t0.Add(time.Duration(i) * time.Hour)
		got, err := db.Audit(e)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, got)
	}
	tests := []struct {
		name      string
		since     time.Time
		wantFirst int // index into want
	}{
		{"everything", time.Time{}, 0},
		{"since an entry's exact time", t0.Add(5 * time.Hour), 5},
		{"since between entries", t0.Add(5*time.Hour + time.Second), 6},
		{"since in another zone", t0.Add(8 * time.Hour).In(time.FixedZone("X", -7*3600)), 8},
		{"since after the last", t0.Add(24 * time.Hour), 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			n, err := db.ExportAudit(&buf, tt.since)
			if err != nil {
				t.Fatal(err)
			}
			if wantN := 10 - tt.wantFirst; n != wantN {
				t.Errorf("count: got %d, want %d", n, wantN)
			}
			sc := bufio.NewScanner(&buf)
			sc.Buffer(nil, 1<<20)
			i := tt.wantFirst
			for sc.Scan() {
				var e picket.AuditEntry
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("line %d: %v", i-tt.wantFirst+1, err)
				}
				if i >= len(want) {
					t.Fatalf("line for seq %d: got an extra line, want %d lines", e.Seq, 10-tt.wantFirst)
				}
				if e.Seq != want[i].Seq || e.Hash != want[i].Hash {
					t.Errorf("line %d: got seq %d hash %s, want seq %d hash %s", i-tt.wantFirst+1, e.Seq, e.Hash, want[i].Seq, want[i].Hash)
				}
				if got := canonicalHash(t, e); got != e.Hash {
					t.Errorf("line %d: recomputed hash got %s, want %s (export must verify outside picket)", i-tt.wantFirst+1, got, e.Hash)
				}
				i++
			}
			if i != 10 {
				t.Errorf("lines: got through seq %d, want through seq 10", i)
			}
		})
	}
	t.Run("writer error", func(t *testing.T) {
		_, err := db.ExportAudit(failWriter{}, time.Time{})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("error: got %v, want the writer's error", err)
		}
	})
}

func TestRecentAudit(t *testing.T) {
	db, _ := openTemp(t)
	appendEntries(t, db, 10)
	tests := []struct {
		n        int
		wantSeqs []uint64
	}{
		{0, nil},
		{-1, nil},
		{1, []uint64{10}},
		{3, []uint64{8, 9, 10}},
		{100, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d", tt.n), func(t *testing.T) {
			got, err := db.RecentAudit(tt.n)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			for _, e := range got {
				seqs = append(seqs, e.Seq)
			}
			if fmt.Sprint(seqs) != fmt.Sprint(tt.wantSeqs) {
				t.Errorf("seqs: got %v, want %v", seqs, tt.wantSeqs)
			}
		})
	}
}

func TestNewBucketsCreated(t *testing.T) {
	db, path := openTemp(t)
	if _, err := db.Audit(auditEntry(1)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_ = b.View(func(tx *bolt.Tx) error {
		for _, name := range []string{"audit", "actions", "claims", "finding_actions", "suppressions"} {
			if tx.Bucket([]byte(name)) == nil {
				t.Errorf("bucket %s: got missing, want present", name)
			}
		}
		head := tx.Bucket([]byte("meta")).Get([]byte("audit_head"))
		if len(head) != 8+64 || binary.BigEndian.Uint64(head) != 1 {
			t.Errorf("audit head: got %q, want seq 1 and a 64-character hash", head)
		}
		return nil
	})
}

func BenchmarkAudit(b *testing.B) {
	db, _ := openTemp(b)
	e := auditEntry(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.Audit(e); err != nil {
			b.Fatal(err)
		}
	}
}
