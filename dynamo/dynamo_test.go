package dynamo_test

import (
	"context"
	"testing"
	"time"

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
