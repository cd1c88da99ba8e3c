package store_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/picketsec/picket"
)

// actionRecord returns a record with status for request id on
// finding findingKey, targeting user bob.
func actionRecord(id, findingKey string, status picket.ActionOutcome) picket.ActionRecord {
	req := picket.ActionRequest{
		ID:         id,
		Kind:       picket.ActionDisableUser,
		FindingKey: findingKey,
		Target:     picket.Resource{Kind: picket.ResourceIAMUser, ID: "bob", UserName: "bob"},
		Account:    "123456789012",
		Region:     "us-east-1",
		Actor:      picket.Actor{ID: "U1", Name: "Alice"},
		At:         t0,
	}
	return picket.ActionRecord{
		Request: req,
		Plan: picket.Plan{Request: req, Steps: []picket.PlanStep{
			{Operation: "iam:UpdateAccessKey", Description: "deactivate <key> & more"},
		}},
		Status:  status,
		Updated: t0,
	}
}

func TestActionRoundTrip(t *testing.T) {
	db, _ := openTemp(t)
	rec := actionRecord("r1", "f1", picket.OutcomePartial)
	rec.Approver = &picket.Actor{ID: "U2", Name: "Bea"}
	rec.ApproveBy = t0.Add(time.Hour)
	rec.Result = &picket.ActionResult{
		Request:  rec.Request,
		Outcome:  picket.OutcomePartial,
		Steps:    []picket.StepResult{{Operation: "iam:UpdateAccessKey", Status: picket.StepDone, RequestID: "rid", At: t0}},
		Evidence: json.RawMessage(`{"keys":["AKIA<1>"]}`),
		Summary:  "done <partly>",
		Started:  t0,
		Finished: t0.Add(time.Second),
	}
	if _, ok, err := db.ClaimAction(rec); err != nil || !ok {
		t.Fatalf("ClaimAction: got ok=%v err=%v, want ok=true err=nil", ok, err)
	}
	got, ok, err := db.Action("r1")
	if err != nil || !ok {
		t.Fatalf("Action: got ok=%v err=%v, want ok=true err=nil", ok, err)
	}
	if !reflect.DeepEqual(got, rec) {
		t.Errorf("round trip:\ngot  %+v\nwant %+v", got, rec)
	}
	if _, ok, err := db.Action("missing"); ok || err != nil {
		t.Errorf("Action(missing): got ok=%v err=%v, want ok=false err=nil", ok, err)
	}
}

func TestClaimActionConcurrent(t *testing.T) {
	db, _ := openTemp(t)
	const n = 32
	type result struct {
		id     string
		holder picket.ActionRecord
		ok     bool
		err    error
	}
	results := make(chan result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := actionRecord(fmt.Sprintf("click-%02d", i), "f1", picket.StatusRunning)
			<-start
			holder, ok, err := db.ClaimAction(rec)
			results <- result{rec.Request.ID, holder, ok, err}
		}()
	}
	close(start)
	wg.Wait()
	close(results)

	var winners []string
	var losers []result
	for r := range results {
		switch {
		case r.err != nil:
			t.Errorf("ClaimAction %s: %v", r.id, r.err)
		case r.ok:
			winners = append(winners, r.id)
		default:
			losers = append(losers, r)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("winners: got %v, want exactly one", winners)
	}
	for _, r := range losers {
		if r.holder.Request.ID != winners[0] {
			t.Errorf("holder told to %s: got %q, want the winner %q", r.id, r.holder.Request.ID, winners[0])
		}
	}
	recs, err := db.ActionsForFinding("f1")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Request.ID != winners[0] {
		t.Errorf("stored records: got %d, want only the winner's", len(recs))
	}
}

func TestClaimRelease(t *testing.T) {
	tests := []struct {
		name        string
		status      picket.ActionOutcome
		undone      bool
		wantRelease bool
	}{
		{"failed releases", picket.OutcomeFailed, false, true},
		{"refused releases", picket.OutcomeRefused, false, true},
		{"rejected releases", picket.OutcomeRejected, false, true},
		{"denied releases", picket.OutcomeDenied, false, true},
		{"dry run releases", picket.OutcomeDryRunned, false, true},
		{"undone releases", picket.OutcomeSucceeded, true, true},
		{"succeeded keeps", picket.OutcomeSucceeded, false, false},
		{"partial keeps", picket.OutcomePartial, false, false},
		{"pending keeps", picket.OutcomePending, false, false},
		{"running keeps", picket.StatusRunning, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := openTemp(t)
			first := actionRecord("r1", "f1", picket.StatusRunning)
			if _, ok, err := db.ClaimAction(first); err != nil || !ok {
				t.Fatalf("first ClaimAction: got ok=%v err=%v, want ok=true err=nil", ok, err)
			}
			first.Status = tt.status
			if tt.undone {
				first.UndoneBy = "undo-1"
			}
			if err := db.PutAction(first); err != nil {
				t.Fatal(err)
			}
			holder, ok, err := db.ClaimAction(actionRecord("r2", "f1", picket.StatusRunning))
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantRelease {
				t.Errorf("second claim ok: got %v, want %v", ok, tt.wantRelease)
			}
			if !tt.wantRelease && holder.Request.ID != "r1" {
				t.Errorf("holder: got %q, want r1", holder.Request.ID)
			}
			_, stored, err := db.Action("r2")
			if err != nil {
				t.Fatal(err)
			}
			if stored != tt.wantRelease {
				t.Errorf("second record stored: got %v, want %v", stored, tt.wantRelease)
			}
		})
	}

	t.Run("retried claim with the same id returns itself", func(t *testing.T) {
		db, _ := openTemp(t)
		rec := actionRecord("r1", "f1", picket.StatusRunning)
		if _, ok, err := db.ClaimAction(rec); err != nil || !ok {
			t.Fatalf("ClaimAction: got ok=%v err=%v", ok, err)
		}
		holder, ok, err := db.ClaimAction(rec)
		if err != nil || ok || holder.Request.ID != "r1" {
			t.Errorf("retry: got holder %q ok=%v err=%v, want r1 ok=false err=nil", holder.Request.ID, ok, err)
		}
		recs, err := db.ActionsForFinding("f1")
		if err != nil || len(recs) != 1 {
			t.Errorf("records: got %d (%v), want 1", len(recs), err)
		}
	})

	t.Run("a not-active record takes no claim", func(t *testing.T) {
		db, _ := openTemp(t)
		if _, ok, err := db.ClaimAction(actionRecord("r1", "f1", picket.OutcomeDenied)); err != nil || !ok {
			t.Fatalf("ClaimAction denied: got ok=%v err=%v", ok, err)
		}
		if _, ok, err := db.ClaimAction(actionRecord("r2", "f1", picket.StatusRunning)); err != nil || !ok {
			t.Errorf("ClaimAction after a denied record: got ok=%v err=%v, want ok=true", ok, err)
		}
	})

	t.Run("a released record does not release a later holder", func(t *testing.T) {
		db, _ := openTemp(t)
		r1 := actionRecord("r1", "f1", picket.StatusRunning)
		if _, _, err := db.ClaimAction(r1); err != nil {
			t.Fatal(err)
		}
		r1.Status = picket.OutcomeFailed
		if err := db.PutAction(r1); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := db.ClaimAction(actionRecord("r2", "f1", picket.StatusRunning)); err != nil || !ok {
			t.Fatalf("ClaimAction r2: got ok=%v err=%v", ok, err)
		}
		// r1 is saved again (a late update): r2 must keep the claim.
		if err := db.PutAction(r1); err != nil {
			t.Fatal(err)
		}
		holder, ok, err := db.ClaimAction(actionRecord("r3", "f1", picket.StatusRunning))
		if err != nil || ok || holder.Request.ID != "r2" {
			t.Errorf("ClaimAction r3: got holder %q ok=%v err=%v, want r2 ok=false", holder.Request.ID, ok, err)
		}
	})

	t.Run("different targets do not conflict", func(t *testing.T) {
		db, _ := openTemp(t)
		a := actionRecord("r1", "f1", picket.StatusRunning)
		b := actionRecord("r2", "f1", picket.StatusRunning)
		b.Request.Target.ID = "carol"
		for _, rec := range []picket.ActionRecord{a, b} {
			if _, ok, err := db.ClaimAction(rec); err != nil || !ok {
				t.Errorf("ClaimAction %s: got ok=%v err=%v, want ok=true", rec.Request.ID, ok, err)
			}
		}
	})
}

func TestActionsForFinding(t *testing.T) {
	db, _ := openTemp(t)
	// Ids sort differently from the order they are stored in.
	for _, id := range []string{"z", "a", "m"} {
		rec := actionRecord(id, "f1", picket.OutcomeSucceeded)
		rec.Request.Target.ID = id // separate claims
		if _, ok, err := db.ClaimAction(rec); err != nil || !ok {
			t.Fatalf("ClaimAction %s: got ok=%v err=%v", id, ok, err)
		}
	}
	// Updating a record must not list it twice.
	upd := actionRecord("a", "f1", picket.OutcomeSucceeded)
	upd.Request.Target.ID = "a"
	upd.UndoneBy = "u1"
	if err := db.PutAction(upd); err != nil {
		t.Fatal(err)
	}
	// Other findings, including one whose key extends f1's with a NUL.
	for _, rec := range []picket.ActionRecord{
		actionRecord("other", "f2", picket.OutcomeSucceeded),
		actionRecord("nul", "f1\x00x", picket.OutcomeSucceeded),
		actionRecord("prefix", "f", picket.OutcomeSucceeded),
	} {
		if err := db.PutAction(rec); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		key  string
		want []string
	}{
		{"f1", []string{"z", "a", "m"}},
		{"f2", []string{"other"}},
		{"f", []string{"prefix"}},
		{"f1\x00x", []string{"nul"}},
		{"none", nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.key), func(t *testing.T) {
			recs, err := db.ActionsForFinding(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range recs {
				ids = append(ids, r.Request.ID)
			}
			if !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("ids: got %q, want %q", ids, tt.want)
			}
		})
	}
	recs, err := db.ActionsForFinding("f1")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 3 && recs[1].UndoneBy != "u1" {
		t.Errorf("updated record: got UndoneBy %q, want u1", recs[1].UndoneBy)
	}
}

func TestPendingActions(t *testing.T) {
	db, _ := openTemp(t)
	add := func(id string, status picket.ActionOutcome, by time.Duration) {
		t.Helper()
		rec := actionRecord(id, "f1", status)
		rec.Request.Target.ID = id
		rec.ApproveBy = t0.Add(by)
		if err := db.PutAction(rec); err != nil {
			t.Fatal(err)
		}
	}
	add("p-late", picket.OutcomePending, 2*time.Hour)
	add("done", picket.OutcomeSucceeded, 0)
	add("p-soon", picket.OutcomePending, time.Hour)
	add("rejected", picket.OutcomeRejected, 0)
	add("p-b", picket.OutcomePending, 3*time.Hour)
	add("p-a", picket.OutcomePending, 3*time.Hour)

	recs, err := db.PendingActions()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.Request.ID)
	}
	if want := []string{"p-soon", "p-late", "p-a", "p-b"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("pending: got %q, want %q", ids, want)
	}
}

func TestActionEmptyID(t *testing.T) {
	db, _ := openTemp(t)
	rec := actionRecord("", "f1", picket.StatusRunning)
	tests := []struct {
		name string
		call func() error
	}{
		{"ClaimAction", func() error { _, _, err := db.ClaimAction(rec); return err }},
		{"PutAction", func() error { return db.PutAction(rec) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := picket.ErrorCode(tt.call()); got != picket.EINVALID {
				t.Errorf("error code: got %q, want %q", got, picket.EINVALID)
			}
		})
	}
}

func BenchmarkClaimAction(b *testing.B) {
	db, _ := openTemp(b)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		rec := actionRecord(fmt.Sprintf("r%d", i), "f1", picket.StatusRunning)
		rec.Request.Target.ID = rec.Request.ID
		if _, ok, err := db.ClaimAction(rec); err != nil || !ok {
			b.Fatalf("ClaimAction: ok=%v err=%v", ok, err)
		}
		i++
	}
}
