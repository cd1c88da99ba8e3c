package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestLeaseOneHolder: of many concurrent takers of one lease exactly one
// wins; the holder renews it, others cannot take it until it expires or is
// released, and a release by another owner changes nothing.
func TestLeaseOneHolder(t *testing.T) {
	db, _ := openTemp(t)
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	winners := make(chan string, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("replica-%d", i)
			ok, err := db.TakeLease("channel:#alerts", owner, now, now.Add(10*time.Second))
			if err != nil {
				t.Error(err)
			}
			if ok {
				winners <- owner
			}
		}()
	}
	wg.Wait()
	close(winners)
	var got []string
	for w := range winners {
		got = append(got, w)
	}
	if len(got) != 1 {
		t.Fatalf("got %d winners %v, want exactly 1", len(got), got)
	}
	holder := got[0]
	other := "replica-x"

	take := func(owner string, at time.Time) bool {
		t.Helper()
		ok, err := db.TakeLease("channel:#alerts", owner, at, at.Add(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if take(other, now.Add(5*time.Second)) {
		t.Error("another owner took a lease that had not expired")
	}
	if !take(holder, now.Add(5*time.Second)) {
		t.Error("the holder could not renew its lease")
	}
	// Renewed until now+15s: still held at now+12s.
	if take(other, now.Add(12*time.Second)) {
		t.Error("another owner took a renewed lease before its new expiry")
	}
	if err := db.ReleaseLease("channel:#alerts", other); err != nil {
		t.Fatal(err)
	}
	if take(other, now.Add(13*time.Second)) {
		t.Error("a release by a non-holder freed the lease")
	}
	if !take(other, now.Add(15*time.Second)) {
		t.Error("an expired lease could not be taken")
	}
	if err := db.ReleaseLease("channel:#alerts", other); err != nil {
		t.Fatal(err)
	}
	if !take(holder, now.Add(16*time.Second)) {
		t.Error("a released lease could not be taken at once")
	}
	if _, err := db.TakeLease("", holder, now, now); err == nil {
		t.Error("a lease without a name was accepted")
	}
}
