package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/internal/dynalite"
	"github.com/picketsec/picket/store"
)

// runCLIStdin runs the command line in-process with stdin.
func runCLIStdin(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

// TestStoreExportImport moves a bbolt store holding every kind of item to
// DynamoDB and back with picket store export | picket store import: the
// audit chain verifies at each end, and the DynamoDB store exports the same
// items the bbolt one did.
func TestStoreExportImport(t *testing.T) {
	srv := dynalite.Shared(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	boltEnv := map[string]string{"PICKET_DATA_DIR": t.TempDir()}
	dynEnv := map[string]string{"PICKET_STORE_BACKEND": "dynamodb", "PICKET_STORE_TABLE": srv.Table(t),
		"PICKET_STORE_ENDPOINT": srv.URL(), "AWS_REGION": dynalite.Region}
	seedStore(t, boltEnv["PICKET_DATA_DIR"])

	code, exported, errOut := runCLIStdin(t, boltEnv, "", "store", "export")
	if code != exitOK || !strings.Contains(errOut, "items from") {
		t.Fatalf("export: exit %d, stderr %q", code, errOut)
	}
	for _, kind := range []string{picket.ItemFinding, picket.ItemPending, picket.ItemAction, picket.ItemClaim, picket.ItemFindingAction,
		picket.ItemSuppression, picket.ItemDigestSnapshot, picket.ItemDigestRun, picket.ItemGroup, picket.ItemGroupMember,
		picket.ItemPost, picket.ItemChannel, picket.ItemAudit, picket.ItemMessage, picket.ItemFindingID,
		picket.ItemAutoRun, picket.ItemAutoSwitch} {
		if !strings.Contains(exported, `"kind":"`+kind+`"`) {
			t.Errorf("export holds no %s item", kind)
		}
	}
	if code, _, errOut := runCLIStdin(t, dynEnv, exported, "store", "import"); code != exitOK {
		t.Fatalf("import into DynamoDB: exit %d, stderr %q", code, errOut)
	}
	if code, out, errOut := runCLI(t, dynEnv, "audit", "verify"); code != exitOK || !strings.Contains(out, "4 entries") {
		t.Fatalf("verify after import: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, again, errOut := runCLIStdin(t, dynEnv, "", "store", "export")
	if code != exitOK {
		t.Fatalf("export from DynamoDB: exit %d, stderr %q", code, errOut)
	}
	if got, want := itemLines(again), itemLines(exported); !slices.Equal(got, want) {
		t.Errorf("DynamoDB export differs from the bbolt one:\ngot  %q\nwant %q", got, want)
	}
	// A second import is refused: the store is no longer empty.
	if code, _, errOut := runCLIStdin(t, dynEnv, exported, "store", "import"); code != exitFailure || !strings.Contains(errOut, "not empty") {
		t.Errorf("import into a used store: exit %d, stderr %q; want refused", code, errOut)
	}
	// And back into a new bbolt store.
	back := map[string]string{"PICKET_DATA_DIR": t.TempDir()}
	if code, _, errOut := runCLIStdin(t, back, again, "store", "import"); code != exitOK {
		t.Fatalf("import into bbolt: exit %d, stderr %q", code, errOut)
	}
	if code, out, errOut := runCLI(t, back, "audit", "verify"); code != exitOK || !strings.Contains(out, "4 entries") {
		t.Fatalf("verify after import into bbolt: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	db, err := store.Open(storePath(back["PICKET_DATA_DIR"]), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// What Picket writes next sorts after what it imported.
	res, err := db.Intake("m-new", time.Time{}, []picket.Finding{{Key: "k0", ID: "id0", Severity: picket.SeverityHigh, UpdatedAt: time.Now()}},
		func(f *picket.Finding, prev picket.FindingRecord, found bool) (picket.FindingRecord, picket.Outcome, bool) {
			prev.Finding, prev.Route = *f, picket.Route{Channel: "#sec"}
			return prev, picket.OutcomeUpdated, true
		})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := db.Outbox()
	for _, p := range out {
		if p.Key != "k0" && p.Seq >= res.Pending[0].Seq {
			t.Errorf("new outbox entry Seq %d is not above imported entry %s's %d", res.Pending[0].Seq, p.Key, p.Seq)
		}
	}
	g, _, err := db.FormGroup(picket.Group{Channel: "#sec"}, nil, time.Time{})
	if err == nil && g.ID != "" {
		t.Errorf("empty FormGroup: got %s", g.ID)
	}
}

// itemLines are an export's lines without counters (which each store
// keeps its own way), sorted.
func itemLines(export string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(export), "\n") {
		if !strings.Contains(l, `"kind":"counter"`) {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// seedStore writes one of every kind of item into a bbolt store in dir.
func seedStore(t *testing.T, dir string) {
	t.Helper()
	db, err := store.Open(storePath(dir), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC().Truncate(time.Second)
	decide := func(f *picket.Finding, prev picket.FindingRecord, found bool) (picket.FindingRecord, picket.Outcome, bool) {
		prev.Finding, prev.Route = *f, picket.Route{Channel: "#sec"}
		return prev, picket.OutcomeQueued, true
	}
	var fs []picket.Finding
	for i := range 4 {
		fs = append(fs, picket.Finding{Key: "k" + string(rune('1'+i)), ID: "id" + string(rune('1'+i)), Type: "T <&>", Account: "111122223333",
			Severity: picket.SeverityLow, UpdatedAt: now, Raw: []byte(`{"Title":"<script>&amp;"}`)})
	}
	res, err := db.Intake("m1", now, fs, decide)
	must(t, err)
	_, _, err = db.FormGroup(picket.Group{Channel: "#sec"}, res.Pending[:2], now)
	must(t, err)
	must(t, db.AlertPosted("", "k3", res.Pending[2].Seq, picket.MessageRef{Channel: "C1", TS: "1.2"}))
	must(t, db.BeginPost(picket.Post{ID: "p1", Kind: picket.PostAlert, Key: "k4", Started: now}))
	_, _, err = db.ClaimAction(picket.ActionRecord{Status: picket.StatusRunning, Request: picket.ActionRequest{ID: "r1",
		Kind: picket.ActionSuppress, FindingKey: "k1", Target: picket.Resource{ID: "i-1"}}})
	must(t, err)
	must(t, db.PutSuppression(picket.Suppression{ID: "s1", Type: "T <&>", Created: now}))
	_, err = db.AddAutoRun(picket.AutoRun{ID: "rule-a/k1", Rule: "rule-a", FindingKey: "k1", Queued: now, Notes: []string{"<b>&"}})
	must(t, err)
	must(t, db.PutAutoSwitch(picket.AutoSwitch{Off: true, By: picket.Actor{ID: "U1"}, At: now}))
	_, err = db.ClaimDigestRun("daily", now)
	must(t, err)
	must(t, db.PutDigestSnapshot("daily", picket.DigestSnapshot{Day: now, PostureScore: 80}))
	for _, d := range []string{"first", "a <b> & c", "ünïcode", "last"} {
		_, err := db.Audit(picket.AuditEntry{Event: "executed", Actor: picket.Actor{ID: "U1"}, Detail: d})
		must(t, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestStoreImportRefusesMalformedItems feeds picket store import lines
// whose value is not of its kind's shape: each is refused with its line
// number, before anything reaches the store, instead of being stored to
// fail when Picket next reads it.
func TestStoreImportRefusesMalformedItems(t *testing.T) {
	good := `{"kind":"channel","key":"#sec","value":"C1"}`
	for _, bad := range []string{
		`{"kind":"finding","key":"k1","value":"not an object"}`,
		`{"kind":"finding","key":"k1"}`,
		`{"kind":"finding","key":"k1","value":null}`,
		`{"kind":"finding","key":"","value":{}}`,
		`{"kind":"action","key":"r1","value":[1,2]}`,
		`{"kind":"audit","key":"1","value":42}`,
		`{"kind":"auto_switch","key":"switch","value":"off"}`,
		`{"kind":"message","key":"m1","value":"yesterday"}`,
		`{"kind":"channel","key":"#sec","value":{"id":"C1"}}`,
		`{"kind":"group_member","key":"g1","value":{"n":"one"}}`,
		`{"kind":"nonsense","key":"x","value":{}}`,
	} {
		env := map[string]string{"PICKET_DATA_DIR": t.TempDir()}
		code, _, errOut := runCLIStdin(t, env, good+"\n"+bad+"\n", "store", "import")
		if code != exitFailure || !strings.Contains(errOut, "line 2:") {
			t.Errorf("import of %s: exit %d, stderr %q; want failure at line 2", bad, code, errOut)
			continue
		}
		_, out, _ := runCLIStdin(t, env, "", "store", "export")
		if strings.Contains(out, `"kind":"channel"`) || strings.Contains(out, `"kind":"finding"`) {
			t.Errorf("import of %s stored items before refusing: %s", bad, out)
		}
	}
}
