package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/commands"
	"github.com/picketsec/picket/store"
)

// TestOutboxBacklog: on a replica, /picket status counts what waits in
// the shared outbox for every channel, not only the channels the replica
// delivers, keeping the group counts it knows.
func TestOutboxBacklog(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "picket.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	route := func(f *picket.Finding, prev picket.FindingRecord, found bool) (picket.FindingRecord, picket.Outcome, bool) {
		prev.Finding, prev.Route = *f, picket.Route{Channel: "#" + f.Account}
		return prev, picket.OutcomeQueued, true
	}
	for i, acct := range []string{"a", "b", "b"} {
		f := picket.Finding{Key: "k" + string(rune('0'+i)), ID: "i" + string(rune('0'+i)), Account: acct, Severity: picket.SeverityLow, UpdatedAt: t0}
		if _, err := db.Intake("", t0.Add(time.Duration(i)*time.Minute), []picket.Finding{f}, route); err != nil {
			t.Fatal(err)
		}
	}
	got, err := outboxBacklog(db, []commands.ChannelBacklog{{Channel: "#a", Groups: 2}, {Channel: "#c", Groups: 1}})
	if err != nil {
		t.Fatal(err)
	}
	want := []commands.ChannelBacklog{
		{Channel: "#a", Pending: 1, Groups: 2, Oldest: t0},
		{Channel: "#b", Pending: 2, Oldest: t0.Add(time.Minute)},
		{Channel: "#c", Groups: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Channel != want[i].Channel || got[i].Pending != want[i].Pending || got[i].Groups != want[i].Groups || !got[i].Oldest.Equal(want[i].Oldest) {
			t.Errorf("channel %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
