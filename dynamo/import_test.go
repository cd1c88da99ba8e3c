package dynamo_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/dynamo"
	"github.com/picketsec/picket/internal/dynalite"
)

// items yields its items to ImportItems.
func items(its ...picket.StoreItem) func() (picket.StoreItem, bool, error) {
	return func() (picket.StoreItem, bool, error) {
		if len(its) == 0 {
			return picket.StoreItem{}, false, nil
		}
		it := its[0]
		its = its[1:]
		return it, true, nil
	}
}

func rawJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestImportOutboxEntryBeforeItsFinding: a finding and its outbox entry
// are one DynamoDB item, written as each arrives (not held in memory to
// the end of the import), so they may come in either order; an outbox
// entry whose finding never comes is refused, not dropped.
func TestImportOutboxEntryBeforeItsFinding(t *testing.T) {
	srv := dynalite.Shared(t)
	s, err := dynamo.New(srv.Client(), dynamo.Options{Table: srv.Table(t)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := picket.FindingRecord{Finding: picket.Finding{Key: "k1", ID: "id1", Severity: picket.SeverityHigh, UpdatedAt: now}}
	p := picket.Pending{Key: "k1", Seq: 7, Channel: "#sec", Enqueued: now}
	n, err := s.ImportItems(items(
		picket.StoreItem{Kind: picket.ItemPending, Key: "k1", Value: rawJSON(t, p)},
		picket.StoreItem{Kind: picket.ItemFinding, Key: "k1", Value: rawJSON(t, rec)},
	))
	if err != nil || n != 2 {
		t.Fatalf("import: got %d, %v; want 2 items", n, err)
	}
	if got, ok, err := s.Finding("k1"); err != nil || !ok || got.Finding.ID != "id1" {
		t.Errorf("finding k1: got %+v %v %v", got, ok, err)
	}
	out, err := s.Outbox()
	if err != nil || len(out) != 1 || out[0].Seq != 7 || out[0].Channel != "#sec" {
		t.Errorf("outbox: got %+v %v; want k1's entry, seq 7", out, err)
	}

	s2, err := dynamo.New(srv.Client(), dynamo.Options{Table: srv.Table(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.ImportItems(items(picket.StoreItem{Kind: picket.ItemPending, Key: "k2", Value: rawJSON(t, picket.Pending{Key: "k2", Seq: 1})}))
	if err == nil || !strings.Contains(err.Error(), `"k2"`) {
		t.Errorf("outbox entry with no finding: got %v, want it refused naming k2", err)
	}
}
