package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/store"
)

// runCLI runs the command line in-process with the given environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func TestAuditVerifyAndExport(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(storePath(dir), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for i := range 5 {
		if _, err := db.Audit(picket.AuditEntry{Time: base.Add(time.Duration(i) * time.Hour), Event: "executed",
			Actor: picket.Actor{ID: "U0ALICE"}, Action: picket.ActionDisableUser, Outcome: "succeeded"}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	env := map[string]string{"PICKET_DATA_DIR": dir}

	code, out, errOut := runCLI(t, env, "audit", "verify")
	if code != exitOK || !strings.Contains(out, "5 entries") {
		t.Fatalf("verify: exit %d, stdout %q, stderr %q; want 0 and 5 entries", code, out, errOut)
	}
	code, out, _ = runCLI(t, env, "audit", "export", "--since", "2026-11-22T11:00:00Z")
	if lines := strings.Count(out, "\n"); code != exitOK || lines != 3 {
		t.Fatalf("export --since: exit %d, %d lines; want 0 and 3:\n%s", code, lines, out)
	}

	// Change one stored entry behind Picket's back.
	bdb, err := bolt.Open(filepath.Join(dir, "picket.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		key := binary.BigEndian.AppendUint64(nil, 3)
		v := bytes.Replace(b.Get(key), []byte(`"succeeded"`), []byte(`"failed"`), 1)
		return b.Put(key, v)
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, env, "audit", "verify")
	if code != exitFailure || !strings.Contains(errOut, "entry 3") {
		t.Fatalf("verify after tampering: exit %d, stderr %q; want 1 naming entry 3", code, errOut)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2026-11-21T08:00:00Z", time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC), false},
		{"2026-11-20", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), false},
		{"24h", now.Add(-24 * time.Hour), false},
		{"yesterday", time.Time{}, true},
		{"-5h", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSince(tt.in, now)
			if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
				t.Errorf("parseSince(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestAuditVerifyKeyed(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	dir := t.TempDir()
	// Two entries from before the key was set, then the key.
	db, err := store.Open(storePath(dir), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := db.Audit(picket.AuditEntry{Event: "executed", Actor: picket.Actor{ID: "U0ALICE"}}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db, err = store.Open(storePath(dir), store.Options{AuditKey: []byte(key)})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	stop, err := startAuditHeads(context.Background(), db, time.Hour, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Audit(picket.AuditEntry{Event: "executed", Actor: picket.Actor{ID: "U0ALICE"}}); err != nil {
		t.Fatal(err)
	}
	stop()
	head, err := db.AuditHead()
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if got := strings.Count(logs.String(), `msg="audit chain head"`); got != 2 {
		t.Errorf("head log lines: got %d, want 2 (start and stop):\n%s", got, logs.String())
	}
	wantLine := "seq=4 hash=" + head.Hash + " key_id=" + store.AuditKeyID([]byte(key))
	if !strings.Contains(logs.String(), wantLine) {
		t.Errorf("log: got %s, want the head at stop %q", logs.String(), wantLine)
	}
	headArg := "4:" + head.Hash

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"with the key", map[string]string{"PICKET_AUDIT_KEY": key}, nil, exitOK,
			"entries 1-2 are sealed with plain SHA-256"},
		{"with the key and the exported head", map[string]string{"PICKET_AUDIT_KEY": key}, []string{"--head", headArg}, exitOK,
			"exported head " + headArg + " found"},
		{"without the key", nil, nil, exitFailure, "entry 3: sealed with audit key"},
		{"with another key", map[string]string{"PICKET_AUDIT_KEY": strings.Repeat("x", 32)}, nil, exitFailure, "but the configured key is"},
		{"exported head beyond the trail", map[string]string{"PICKET_AUDIT_KEY": key}, []string{"--head", "9:" + head.Hash}, exitFailure,
			"entry 9 of exported head 9:" + head.Hash + " is missing: the trail was cut back"},
		{"exported head with another hash", map[string]string{"PICKET_AUDIT_KEY": key}, []string{"--head", "4:" + strings.Repeat("0", 64)}, exitFailure,
			"the trail was rewritten"},
		{"malformed head", map[string]string{"PICKET_AUDIT_KEY": key}, []string{"--head", "4"}, exitUsage, "is not SEQ:HASH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"PICKET_DATA_DIR": dir}
			for k, v := range tt.env {
				env[k] = v
			}
			code, out, errOut := runCLI(t, env, append([]string{"audit", "verify"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(out+errOut, tt.wantOut) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, tt.wantCode, tt.wantOut)
			}
			if strings.Contains(out+errOut, key) {
				t.Errorf("output shows the audit key")
			}
		})
	}
}

func TestStartAuditHeadsRefusesOtherKey(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(storePath(dir), store.Options{AuditKey: []byte(strings.Repeat("a", 32))})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.KeyAudit(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = store.Open(storePath(dir), store.Options{AuditKey: []byte(strings.Repeat("b", 32))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := startAuditHeads(context.Background(), db, 0, slog.New(slog.DiscardHandler)); !errors.Is(err, store.ErrAuditKeyMismatch) {
		t.Errorf("startAuditHeads with another key: got %v, want ErrAuditKeyMismatch", err)
	}
}

// TestAuditVerifyMissingOrNewStore: verify on a data directory without a
// store, or with a store nothing ever ran on, fails and creates nothing.
func TestAuditVerifyMissingOrNewStore(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"PICKET_DATA_DIR": dir}
	code, out, errOut := runCLI(t, env, "audit", "verify")
	if code != exitFailure || !strings.Contains(errOut, "no store at") || strings.Contains(out, "intact") {
		t.Fatalf("verify without a store: exit %d, stdout %q, stderr %q; want 1 and no store", code, out, errOut)
	}
	if _, err := os.Stat(storePath(dir)); err == nil {
		t.Error("verify created a store")
	}
	db, err := store.Open(storePath(dir), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, _, errOut = runCLI(t, env, "audit", "verify")
	if code != exitFailure || !strings.Contains(errOut, "EMPTY in a new store") {
		t.Fatalf("verify of a new store: exit %d, stderr %q; want 1 and a new-store warning", code, errOut)
	}
	// A store Picket ran on, where nobody acted yet, is fine.
	db, _ = store.Open(storePath(dir), store.Options{})
	if err := db.PutFinding(picket.FindingRecord{Finding: picket.Finding{Key: "k1", ID: "id-1"}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if code, out, errOut := runCLI(t, env, "audit", "verify"); code != exitOK || !strings.Contains(out, "intact") {
		t.Fatalf("verify of a used store with no entries: exit %d, stdout %q, stderr %q; want 0", code, out, errOut)
	}
}
