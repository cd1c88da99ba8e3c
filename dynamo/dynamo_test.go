package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/dynamo"
	"github.com/picketsec/picket/internal/dynalite"
)

// TestMessageExpiryHonoured: DynamoDB deletes expired items only
// eventually, so a processed-message mark past its TTL must read as absent
// while it is still in the table.
func TestMessageExpiryHonoured(t *testing.T) {
	srv := dynalite.Shared(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := dynamo.New(srv.Client(), dynamo.Options{Table: srv.Table(t), Now: clock, MessageTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkMessageDone("m1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		after time.Duration
		want  bool
	}{{0, true}, {59 * time.Minute, true}, {time.Hour, false}, {2 * time.Hour, false}} {
		now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(tt.after)
		if got, err := s.MessageDone("m1"); err != nil || got != tt.want {
			t.Errorf("after %s: got %v %v, want %v", tt.after, got, err, tt.want)
		}
	}
	// An expired mark no longer stops intake: the message is handled
	// again (its findings dedup by version).
	res, err := s.Intake("m1", now, nil, nil)
	if err != nil || res.AlreadyDone {
		t.Errorf("intake of an expired mark: got %+v %v, want it handled again", res, err)
	}
}

// TestNewRefusesMissingTable: a client and a table are required.
func TestNewRefusesMissingTable(t *testing.T) {
	if _, err := dynamo.New(nil, dynamo.Options{Table: "x"}); err == nil {
		t.Error("nil client: got nil error")
	}
	srv := dynalite.Shared(t)
	s, err := dynamo.New(srv.Client(), dynamo.Options{Table: "no-such-table"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Error("Ping of a missing table: got nil, want an error")
	}
}

// TestOutboxIndex: the outbox index names each entry's finding, channel
// and Seq without reading the findings; PendingOf reads the entry as the
// finding holds it; a delivered entry leaves the index.
func TestOutboxIndex(t *testing.T) {
	srv := dynalite.Shared(t)
	s, err := dynamo.New(srv.Client(), dynamo.Options{Table: srv.Table(t)})
	if err != nil {
		t.Fatal(err)
	}
	decide := func(f *picket.Finding, prev picket.FindingRecord, found bool) (picket.FindingRecord, picket.Outcome, bool) {
		prev.Finding, prev.Route = *f, picket.Route{Channel: "#" + f.Account}
		return prev, picket.OutcomeQueued, true
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	res, err := s.Intake("m1", now, []picket.Finding{
		{Key: "k1", ID: "i1", Account: "a", Severity: picket.SeverityHigh, UpdatedAt: now},
		{Key: "k2", ID: "i2", Account: "b", Severity: picket.SeverityLow, UpdatedAt: now},
	}, decide)
	if err != nil || len(res.Pending) != 2 {
		t.Fatalf("Intake: %+v %v", res, err)
	}
	refs, err := s.OutboxRefs()
	if err != nil {
		t.Fatal(err)
	}
	want := []picket.OutboxRef{{Key: "k1", Channel: "#a", Seq: res.Pending[0].Seq, Enqueued: now}, {Key: "k2", Channel: "#b", Seq: res.Pending[1].Seq, Enqueued: now}}
	if len(refs) != 2 || refs[0] != want[0] || refs[1] != want[1] {
		t.Fatalf("OutboxRefs = %+v, want %+v", refs, want)
	}
	p, ok, err := s.PendingOf("k2")
	if err != nil || !ok || p.Channel != "#b" || p.Seq != res.Pending[1].Seq {
		t.Errorf("PendingOf(k2) = %+v %v %v", p, ok, err)
	}
	if err := s.AlertUpdated("k1", res.Pending[0].Seq); err != nil {
		t.Fatal(err)
	}
	refs, _ = s.OutboxRefs()
	if len(refs) != 1 || refs[0].Key != "k2" {
		t.Errorf("after k1 delivered, OutboxRefs = %+v, want only k2", refs)
	}
	if _, ok, _ := s.PendingOf("k1"); ok {
		t.Error("PendingOf(k1) after delivery: still has an entry")
	}
}
