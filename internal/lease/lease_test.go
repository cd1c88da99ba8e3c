package lease_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picketsec/picket/internal/lease"
	"github.com/picketsec/picket/store"
)

func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "picket.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestRunOneAtATime: of three replicas running the same job under one
// lease, one runs it at a time; when the holder stops, another takes over.
func TestRunOneAtATime(t *testing.T) {
	db := openStore(t)
	var running, most atomic.Int32
	var runs sync.Map // owner -> runs
	job := func(owner string) lease.Job {
		return func(ctx context.Context) {
			n := running.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			v, _ := runs.LoadOrStore(owner, new(atomic.Int32))
			v.(*atomic.Int32).Add(1)
			<-ctx.Done()
			running.Add(-1)
		}
	}
	type replica struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	start := func(owner string) replica {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			lease.Run(ctx, lease.Options{Leases: db, Name: "job:sweeper", Owner: owner, TTL: 150 * time.Millisecond}, job(owner))
		}()
		return replica{cancel, done}
	}
	rs := []replica{start("a"), start("b"), start("c")}
	waitFor(t, func() bool { return running.Load() == 1 })
	time.Sleep(300 * time.Millisecond) // two lease periods: nobody else starts
	if m := most.Load(); m != 1 {
		t.Fatalf("%d replicas ran the job at once, want 1", m)
	}
	// Stop whoever holds it: another takes over.
	var holder string
	runs.Range(func(k, _ any) bool { holder = k.(string); return false })
	i := map[string]int{"a": 0, "b": 1, "c": 2}[holder]
	rs[i].cancel()
	<-rs[i].done
	waitFor(t, func() bool {
		n := 0
		runs.Range(func(any, any) bool { n++; return true })
		return n == 2 && running.Load() == 1
	})
	for j, r := range rs {
		if j != i {
			r.cancel()
			<-r.done
		}
	}
	if m := most.Load(); m != 1 {
		t.Errorf("%d replicas ran the job at once, want 1", m)
	}
	if n := running.Load(); n != 0 {
		t.Errorf("%d jobs still running after every replica stopped", n)
	}
}

// refusing is a lease store that stops granting renewals when told.
type refusing struct {
	*store.DB
	refuse atomic.Bool
}

func (r *refusing) TakeLease(name, owner string, now, until time.Time) (bool, error) {
	if r.refuse.Load() {
		return false, nil
	}
	return r.DB.TakeLease(name, owner, now, until)
}

// TestRunStopsJobWhenLeaseLost: a lease that cannot be renewed stops the
// job.
func TestRunStopsJobWhenLeaseLost(t *testing.T) {
	ls := &refusing{DB: openStore(t)}
	var running atomic.Bool
	stopped := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go lease.Run(ctx, lease.Options{Leases: ls, Name: "job:x", Owner: "a", TTL: 90 * time.Millisecond}, func(ctx context.Context) {
		running.Store(true)
		<-ctx.Done()
		running.Store(false)
		close(stopped)
	})
	waitFor(t, running.Load)
	ls.refuse.Store(true)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the job kept running after its lease was lost")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRunKeepOnStop: a liveness lease is not released when its holder is
// told to stop: it stays taken until it expires.
func TestRunKeepOnStop(t *testing.T) {
	db := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	running := make(chan struct{})
	go func() {
		defer close(done)
		lease.Run(ctx, lease.Options{Leases: db, Name: "replica:a", Owner: "a", TTL: time.Hour, KeepOnStop: true},
			func(ctx context.Context) { close(running); <-ctx.Done() })
	}()
	<-running
	cancel()
	<-done
	now := time.Now()
	if ok, err := db.TakeLease("replica:a", "reaper", now, now.Add(time.Second)); err != nil || ok {
		t.Errorf("TakeLease after the holder stopped: ok %v err %v, want still held", ok, err)
	}
}

// hanging is a lease store whose renewals, once told, hang for longer
// than the lease lasts and then fail (a slow store), counting them.
type hanging struct {
	*store.DB
	hang  atomic.Bool
	calls atomic.Int32
	wait  time.Duration
}

func (h *hanging) TakeLease(name, owner string, now, until time.Time) (bool, error) {
	if h.hang.Load() {
		h.calls.Add(1)
		time.Sleep(h.wait)
		return false, errors.New("store timed out")
	}
	return h.DB.TakeLease(name, owner, now, until)
}

// TestRunStopsJobAfterRenewalHungPastExpiry: a renewal that fails after
// hanging past the lease's end stops the job at once, not after another
// attempt: the lease may be another replica's already.
func TestRunStopsJobAfterRenewalHungPastExpiry(t *testing.T) {
	const ttl = 90 * time.Millisecond
	ls := &hanging{DB: openStore(t), wait: 2 * ttl}
	var running atomic.Bool
	stopped := make(chan int32, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go lease.Run(ctx, lease.Options{Leases: ls, Name: "job:x", Owner: "a", TTL: ttl}, func(ctx context.Context) {
		running.Store(true)
		<-ctx.Done()
		stopped <- ls.calls.Load()
	})
	waitFor(t, running.Load)
	ls.hang.Store(true)
	select {
	case n := <-stopped:
		if n != 1 {
			t.Errorf("the job stopped after %d failed renewals, want after the first (it outlasted the lease)", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the job kept running after its lease expired")
	}
}
