package store_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// openTemp opens a store in a fresh directory and closes it at cleanup.
func openTemp(tb testing.TB) (*store.DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "picket.db")
	db, err := store.Open(path, store.Options{Timeout: 100 * time.Millisecond, Now: func() time.Time { return t0 }})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db, path
}

// rawFixture returns the testdata GuardDuty finding, compacted.
func rawFixture(tb testing.TB) json.RawMessage {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "finding_Canary_EC2_Stateless.IntegTest__aws-samples-gd-response.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// record returns a record with every field set and times outside UTC.
func record(key, id string, raw json.RawMessage) picket.FindingRecord {
	ist := time.FixedZone("IST", 5*3600+1800)
	at := t0.In(ist)
	return picket.FindingRecord{
		Finding: picket.Finding{
			Key:           key,
			ID:            id,
			Source:        picket.SourceGuardDuty,
			Product:       "GuardDuty",
			Type:          "Canary:EC2/Stateless.IntegTest",
			Title:         "Canary <b>&</b> test",
			Description:   "line one\nline two é",
			Severity:      picket.SeverityHigh,
			SeverityScore: 7.5,
			Account:       "123456789012",
			Region:        "us-east-1",
			Resources: []picket.Resource{{
				Kind: picket.ResourceEC2Instance, Type: "Instance", ID: "i-05746eb48123455e0",
				ARN: "arn:aws:ec2:us-east-1:123456789012:instance/i-05746eb48123455e0", Region: "us-east-1",
			}, {
				Kind: picket.ResourceAccessKey, ID: "AKIAEXAMPLE", UserName: "alice",
			}},
			CreatedAt:        at.Add(-2 * time.Hour),
			UpdatedAt:        at.Add(-time.Hour),
			FirstSeen:        at.Add(-3 * time.Hour),
			LastSeen:         at.Add(-time.Minute),
			Count:            4,
			RecordState:      picket.RecordActive,
			WorkflowStatus:   picket.WorkflowNotified,
			ComplianceStatus: "FAILED",
			ControlID:        "IAM.1",
			RemediationURL:   "https://docs.aws.amazon.com/x?a=1&b=2",
			ConsoleURL:       "https://console.aws.amazon.com/guardduty/home",
			Sample:           true,
			CustomAction:     "SendToPicket",
			EventID:          "e1b2c3",
			Raw:              raw,
		},
		Ref:           picket.MessageRef{Channel: "C123", TS: "1700000000.000100"},
		Route:         picket.Route{Channel: "#sec", Mention: "S999", Rule: "critical"},
		FirstReceived: at.Add(-time.Hour),
		LastReceived:  at,
		Deliveries:    3,
	}
}

// inUTC returns rec with every time converted to UTC, as the store returns it.
func inUTC(rec picket.FindingRecord) picket.FindingRecord {
	f := &rec.Finding
	f.CreatedAt, f.UpdatedAt, f.FirstSeen, f.LastSeen = f.CreatedAt.UTC(), f.UpdatedAt.UTC(), f.FirstSeen.UTC(), f.LastSeen.UTC()
	rec.FirstReceived, rec.LastReceived = rec.FirstReceived.UTC(), rec.LastReceived.UTC()
	return rec
}

func TestFindingRoundTrip(t *testing.T) {
	db, _ := openTemp(t)
	tests := []struct {
		name string
		rec  picket.FindingRecord
	}{
		{"all fields with GuardDuty raw", record("k1", "gd-1", rawFixture(t))},
		{"raw with html characters", record("k2", "gd-2", json.RawMessage(`{"title":"<script>&amp;</script>","n":1.50}`))},
		{"minimal", picket.FindingRecord{Finding: picket.Finding{Key: "k3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.rec.Finding.CreatedAt
			if err := db.PutFinding(tt.rec); err != nil {
				t.Fatalf("PutFinding: %v", err)
			}
			if tt.rec.Finding.CreatedAt != before {
				t.Errorf("PutFinding changed the caller's record: got %v, want %v", tt.rec.Finding.CreatedAt, before)
			}
			got, ok, err := db.Finding(tt.rec.Finding.Key)
			if err != nil || !ok {
				t.Fatalf("Finding: got ok=%v err=%v, want ok=true err=nil", ok, err)
			}
			want := inUTC(tt.rec)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\ngot  %+v\nwant %+v", got, want)
			}
			if !bytes.Equal(got.Finding.Raw, tt.rec.Finding.Raw) {
				t.Errorf("Raw: got %s, want %s", got.Finding.Raw, tt.rec.Finding.Raw)
			}
			for name, tm := range map[string]time.Time{
				"CreatedAt": got.Finding.CreatedAt, "LastReceived": got.LastReceived,
			} {
				if loc := tm.Location(); loc != time.UTC {
					t.Errorf("%s location: got %v, want UTC", name, loc)
				}
			}
		})
	}

	t.Run("missing key", func(t *testing.T) {
		_, ok, err := db.Finding("nope")
		if err != nil || ok {
			t.Errorf("Finding(nope): got ok=%v err=%v, want ok=false err=nil", ok, err)
		}
	})
	t.Run("empty key refused", func(t *testing.T) {
		err := db.PutFinding(picket.FindingRecord{Finding: picket.Finding{ID: "x"}})
		if got := picket.ErrorCode(err); got != picket.EINVALID {
			t.Errorf("error code: got %q (%v), want %q", got, err, picket.EINVALID)
		}
	})
	t.Run("replace", func(t *testing.T) {
		rec := record("k1", "gd-1", nil)
		rec.Deliveries = 9
		if err := db.PutFinding(rec); err != nil {
			t.Fatal(err)
		}
		got, _, err := db.Finding("k1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Deliveries != 9 || got.Finding.Raw != nil {
			t.Errorf("after replace: got deliveries %d raw %q, want 9 and no raw", got.Deliveries, got.Finding.Raw)
		}
	})
}

func TestFindingByID(t *testing.T) {
	db, _ := openTemp(t)
	// The same finding arrives natively from GuardDuty and through
	// Security Hub: one key, two source ids.
	native := record("key-a", "16afba5c", nil)
	viaHub := record("key-a", "arn:aws:guardduty:us-east-1:123456789012:detector/d/finding/16afba5c", nil)
	viaHub.Deliveries = 2
	other := record("key-b", "other-id", nil)
	for _, r := range []picket.FindingRecord{native, viaHub, other} {
		if err := db.PutFinding(r); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		id      string
		wantOK  bool
		wantKey string
	}{
		{"GuardDuty id", "16afba5c", true, "key-a"},
		{"ASFF id", viaHub.Finding.ID, true, "key-a"},
		{"other finding", "other-id", true, "key-b"},
		{"unknown", "missing", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := db.FindingByID(tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || got.Finding.Key != tt.wantKey {
				t.Errorf("FindingByID(%q): got ok=%v key=%q, want ok=%v key=%q", tt.id, ok, got.Finding.Key, tt.wantOK, tt.wantKey)
			}
			if ok && tt.wantKey == "key-a" && got.Deliveries != 2 {
				t.Errorf("FindingByID(%q) deliveries: got %d, want 2 (the latest record)", tt.id, got.Deliveries)
			}
		})
	}
}

func TestFindingsAndCount(t *testing.T) {
	db, _ := openTemp(t)
	n, err := db.CountFindings()
	if err != nil || n != 0 {
		t.Fatalf("CountFindings on empty store: got %d, %v, want 0, nil", n, err)
	}
	for _, k := range []string{"c", "a", "b"} {
		if err := db.PutFinding(record(k, "id-"+k, nil)); err != nil {
			t.Fatal(err)
		}
	}
	n, err = db.CountFindings()
	if err != nil || n != 3 {
		t.Errorf("CountFindings: got %d, %v, want 3, nil", n, err)
	}
	var keys []string
	err = db.Findings(func(r picket.FindingRecord) error {
		keys = append(keys, r.Finding.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("Findings keys: got %v, want %v", keys, want)
	}
	stop := errors.New("stop")
	calls := 0
	err = db.Findings(func(picket.FindingRecord) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Findings with failing fn: got %v after %d calls, want stop after 1", err, calls)
	}
}

func TestMessages(t *testing.T) {
	db, _ := openTemp(t)
	marks := map[string]time.Time{
		"m-old":    t0.Add(-48 * time.Hour),
		"m-edge":   t0.Add(-24 * time.Hour),
		"m-new":    t0.Add(-time.Hour),
		"m-zoned":  t0.Add(-30 * time.Hour).In(time.FixedZone("X", -7*3600)),
		"m-zerots": {}, // stored at the store clock, t0
	}
	for id, at := range marks {
		if err := db.MarkMessageDone(id, at); err != nil {
			t.Fatalf("MarkMessageDone(%s): %v", id, err)
		}
	}
	for _, tt := range []struct {
		id   string
		want bool
	}{{"m-old", true}, {"m-zerots", true}, {"never", false}} {
		t.Run("done "+tt.id, func(t *testing.T) {
			got, err := db.MessageDone(tt.id)
			if err != nil || got != tt.want {
				t.Errorf("MessageDone(%s): got %v, %v, want %v, nil", tt.id, got, err, tt.want)
			}
		})
	}
	t.Run("empty id refused", func(t *testing.T) {
		if err := db.MarkMessageDone("", t0); picket.ErrorCode(err) != picket.EINVALID {
			t.Errorf("MarkMessageDone(\"\"): got %v, want an %s error", err, picket.EINVALID)
		}
	})

	t.Run("prune", func(t *testing.T) {
		n, err := db.PruneMessages(t0.Add(-24 * time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("PruneMessages: got %d, want 2 (m-old, m-zoned)", n)
		}
		want := map[string]bool{"m-old": false, "m-zoned": false, "m-edge": true, "m-new": true, "m-zerots": true}
		for id, w := range want {
			got, err := db.MessageDone(id)
			if err != nil || got != w {
				t.Errorf("after prune MessageDone(%s): got %v, %v, want %v", id, got, err, w)
			}
		}
		n, err = db.PruneMessages(t0.Add(-24 * time.Hour))
		if err != nil || n != 0 {
			t.Errorf("second PruneMessages: got %d, %v, want 0, nil", n, err)
		}
	})
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "picket.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := record("k", "id", rawFixture(t))
	if err := db.PutFinding(rec); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkMessageDone("m1", t0); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}

	for name, want := range map[string]os.FileMode{filepath.Dir(path): 0o700 | os.ModeDir, path: 0o600} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode(); got != want {
			t.Errorf("mode of %s: got %v, want %v", name, got, want)
		}
	}

	db, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	got, ok, err := db.FindingByID("id")
	if err != nil || !ok {
		t.Fatalf("FindingByID after reopen: got ok=%v err=%v", ok, err)
	}
	if want := inUTC(rec); !reflect.DeepEqual(got, want) {
		t.Errorf("record after reopen:\ngot  %+v\nwant %+v", got, want)
	}
	done, err := db.MessageDone("m1")
	if err != nil || !done {
		t.Errorf("MessageDone after reopen: got %v, %v, want true, nil", done, err)
	}
}

func TestLayout(t *testing.T) {
	_, path := openTemp(t)
	dbClosed, err := store.Open(path+"2", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := dbClosed.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := bolt.Open(path+"2", 0o600, &bolt.Options{Timeout: 100 * time.Millisecond, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.View(func(tx *bolt.Tx) error {
		for _, name := range []string{"meta", "findings", "finding_ids", "messages", "audit", "suppressions", "digests"} {
			if tx.Bucket([]byte(name)) == nil {
				t.Errorf("bucket %s: got missing, want present", name)
			}
		}
		v := tx.Bucket([]byte("meta")).Get([]byte("schema"))
		if len(v) != 8 || binary.BigEndian.Uint64(v) != store.SchemaVersion {
			t.Errorf("schema: got %x, want %d as 8-byte big-endian", v, store.SchemaVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHelperHoldLock is not a test: TestOpenLocked runs the test binary with
// it to hold the store open from another process.
func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv("PICKET_STORE_HOLD")
	if path == "" {
		t.Skip("helper process only")
	}
	db, err := store.Open(path, store.Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin) // hold until the parent closes stdin
	_ = db.Close()
	os.Exit(0)
}

func TestOpenLocked(t *testing.T) {
	holdInProcess := func(t *testing.T, path string) func() {
		t.Helper()
		db, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return func() { _ = db.Close() }
	}
	holdInChild := func(t *testing.T, path string) func() {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
		cmd.Env = append(os.Environ(), "PICKET_STORE_HOLD="+path)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if line != "ready\n" {
			t.Fatalf("helper process: got %q (%v), want ready", line, err)
		}
		return func() { _ = stdin.Close(); _ = cmd.Wait() }
	}
	for _, tt := range []struct {
		name string
		hold func(*testing.T, string) func()
	}{
		{"same process", holdInProcess},
		{"another process", holdInChild},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "picket.db")
			release := tt.hold(t, path)
			_, err := store.Open(path, store.Options{Timeout: 100 * time.Millisecond})
			if !errors.Is(err, store.ErrLocked) {
				t.Fatalf("second Open: got %v, want ErrLocked", err)
			}
			want := "open store " + path + ": another process holds it (is another picket running?)"
			if err.Error() != want {
				t.Errorf("error text:\ngot  %s\nwant %s", err, want)
			}
			release()
			db, err := store.Open(path, store.Options{Timeout: 5 * time.Second})
			if err != nil {
				t.Fatalf("Open after release: %v", err)
			}
			_ = db.Close()
		})
	}
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "picket.db")
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return meta.Put([]byte("schema"), binary.BigEndian.AppendUint64(nil, store.SchemaVersion+1))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	_, err = store.Open(path, store.Options{})
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Open: got %v, want ErrSchemaTooNew", err)
	}
	t.Logf("error shown: %v", err)

	// The refused file is left as it was: no buckets were added.
	b, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatalf("Open after refusal (is the lock released?): %v", err)
	}
	defer b.Close()
	_ = b.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("findings")) != nil {
			t.Errorf("findings bucket: got created, want the newer file untouched")
		}
		return nil
	})
}

func TestCommitAtomic(t *testing.T) {
	db, _ := openTemp(t)

	t.Run("both visible", func(t *testing.T) {
		if err := db.Commit(record("k1", "id1", nil), "m1", t0); err != nil {
			t.Fatal(err)
		}
		_, ok, err := db.Finding("k1")
		done, err2 := db.MessageDone("m1")
		if err != nil || err2 != nil || !ok || !done {
			t.Errorf("after Commit: got finding %v message %v (%v, %v), want both", ok, done, err, err2)
		}
	})
	t.Run("neither visible when the finding is refused", func(t *testing.T) {
		// The message is written first in the transaction, so this
		// proves the rollback.
		err := db.Commit(record("", "id2", nil), "m2", t0)
		if picket.ErrorCode(err) != picket.EINVALID {
			t.Fatalf("Commit with no key: got %v, want an %s error", err, picket.EINVALID)
		}
		done, err := db.MessageDone("m2")
		if err != nil || done {
			t.Errorf("MessageDone(m2): got %v, %v, want false, nil", done, err)
		}
		if _, ok, _ := db.FindingByID("id2"); ok {
			t.Errorf("FindingByID(id2): got found, want absent")
		}
	})
	t.Run("readers never see the message without its finding", func(t *testing.T) {
		const n = 40
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			for i := range n {
				if err := db.Commit(record(fmt.Sprintf("c%d", i), "", nil), fmt.Sprintf("cm%d", i), t0); err != nil {
					t.Errorf("Commit %d: %v", i, err)
					return
				}
			}
		}()
		check := func() (done int) {
			for i := range n {
				ok, err := db.MessageDone(fmt.Sprintf("cm%d", i))
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					continue
				}
				done++
				// Read after the message: the finding was committed
				// with it, so it must be there.
				if _, found, err := db.Finding(fmt.Sprintf("c%d", i)); err != nil || !found {
					t.Fatalf("message cm%d done but finding c%d: got found=%v err=%v, want present", i, i, found, err)
				}
			}
			return done
		}
		for running := true; running; {
			select {
			case <-finished:
				running = false
			default:
			}
			if got := check(); !running && got != n {
				t.Errorf("messages done after all commits: got %d, want %d", got, n)
			}
		}
	})
}

func TestConcurrentPutFinding(t *testing.T) {
	db, _ := openTemp(t)
	const workers, each = 8, 15
	raw := rawFixture(t)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				key := fmt.Sprintf("w%d-%d", w, i)
				if err := db.PutFinding(record(key, "id-"+key, raw)); err != nil {
					t.Errorf("PutFinding(%s): %v", key, err)
				}
				if _, _, err := db.Finding(key); err != nil {
					t.Errorf("Finding(%s): %v", key, err)
				}
				if err := db.MarkMessageDone("m-"+key, time.Time{}); err != nil {
					t.Errorf("MarkMessageDone(%s): %v", key, err)
				}
			}
		}()
	}
	wg.Wait()
	n, err := db.CountFindings()
	if err != nil || n != workers*each {
		t.Errorf("CountFindings: got %d, %v, want %d", n, err, workers*each)
	}
	for w := range workers {
		key := fmt.Sprintf("w%d-%d", w, each-1)
		got, ok, err := db.FindingByID("id-" + key)
		if err != nil || !ok || got.Finding.Key != key {
			t.Errorf("FindingByID(id-%s): got key %q ok=%v err=%v, want %q", key, got.Finding.Key, ok, err, key)
		}
	}
}

func BenchmarkPutFinding(b *testing.B) {
	db, _ := openTemp(b)
	rec := record("", "", rawFixture(b))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rec.Finding.Key = fmt.Sprintf("k%08d", i)
		rec.Finding.ID = "id" + rec.Finding.Key
		if err := db.PutFinding(rec); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkFinding(b *testing.B) {
	db, _ := openTemp(b)
	const n = 1000
	raw := rawFixture(b)
	for i := range n {
		if err := db.PutFinding(record(fmt.Sprintf("k%04d", i), "", raw)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok, err := db.Finding(fmt.Sprintf("k%04d", i%n)); err != nil || !ok {
			b.Fatalf("Finding: ok=%v err=%v", ok, err)
		}
		i++
	}
}

func BenchmarkMarkMessageDoneParallel(b *testing.B) {
	db, _ := openTemp(b)
	var mu sync.Mutex
	next := 0
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			id := fmt.Sprintf("m%09d", next)
			next++
			mu.Unlock()
			if err := db.MarkMessageDone(id, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
