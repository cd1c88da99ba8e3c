package store_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/store"
)

func TestAutoRunAddedOnce(t *testing.T) {
	db, _ := openTemp(t)
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	run := picket.AutoRun{ID: picket.AutoRunID("r", "k"), Rule: "r", FindingKey: "k", Queued: t0}
	var added atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ok, err := db.AddAutoRun(run)
			if err != nil {
				t.Error(err)
			}
			if ok {
				added.Add(1)
			}
		})
	}
	wg.Wait()
	if got := added.Load(); got != 1 {
		t.Fatalf("AddAutoRun succeeded %d times, want 1", got)
	}
	open, err := db.OpenAutoRuns()
	if err != nil || len(open) != 1 || open[0].ID != run.ID {
		t.Fatalf("open runs = %v, %v; want the run", open, err)
	}
	run.Decided, run.Announced = t0.Add(time.Second), t0.Add(2*time.Second)
	if err := db.PutAutoRun(run); err != nil {
		t.Fatal(err)
	}
	if open, _ := db.OpenAutoRuns(); len(open) != 0 {
		t.Errorf("open runs after the announcement = %v, want none", open)
	}
	if ok, _ := db.AddAutoRun(picket.AutoRun{ID: run.ID, Queued: t0.Add(time.Hour)}); ok {
		t.Error("an announced run was queued again")
	}
	since, err := db.AutoRunsSince(t0)
	if err != nil || len(since) != 1 || !since[0].Announced.Equal(run.Announced) {
		t.Errorf("runs since t0 = %v, %v", since, err)
	}
	if later, _ := db.AutoRunsSince(t0.Add(time.Minute)); len(later) != 0 {
		t.Errorf("runs since t0+1m = %v, want none", later)
	}
}

func TestAutoSwitchSurvivesReopen(t *testing.T) {
	db, path := openTemp(t)
	if sw, err := db.AutoSwitch(); err != nil || sw.Off {
		t.Fatalf("new store: switch %+v, %v; want on", sw, err)
	}
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	if err := db.PutAutoSwitch(picket.AutoSwitch{Off: true, By: picket.Actor{ID: "U0ALICE"}, At: at}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db2, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	sw, err := db2.AutoSwitch()
	if err != nil || !sw.Off || sw.By.ID != "U0ALICE" || !sw.At.Equal(at) {
		t.Errorf("after reopen: %+v, %v; want off by U0ALICE", sw, err)
	}
}
