package triage_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/triage"
)

// committedRecorder records what the pipeline tells Options.Committed,
// and fails while fail is set.
type committedRecorder struct {
	mu   sync.Mutex
	keys [][]string
	fail error
}

func (c *committedRecorder) Committed(_ context.Context, fs []picket.Finding) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ks []string
	for _, f := range fs {
		ks = append(ks, f.Key)
	}
	c.keys = append(c.keys, ks)
	return c.fail
}

func TestPipelineTellsCommitted(t *testing.T) {
	db := openStore(t)
	router, err := triage.NewRouter(nil, "#security", picket.SeverityLow)
	if err != nil {
		t.Fatal(err)
	}
	rec := &committedRecorder{}
	p, err := triage.NewPipeline(triage.Options{Store: db, Router: router, Committed: rec})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f := *finding("2026-11-22T09:00:00Z", 1, picket.SeverityHigh)

	if _, err := p.HandleMessage(ctx, "m1", []picket.Finding{f}); err != nil {
		t.Fatal(err)
	}
	// A redelivery of a committed message is told again: a crash after
	// the commit must not lose what Committed queues.
	if _, err := p.HandleMessage(ctx, "m1", []picket.Finding{f}); err != nil {
		t.Fatal(err)
	}
	if len(rec.keys) != 2 || rec.keys[0][0] != "k1" || rec.keys[1][0] != "k1" {
		t.Fatalf("Committed calls = %v, want two with k1", rec.keys)
	}
	// A failure fails the message, so that it is delivered again; the
	// finding itself is committed.
	rec.fail = errors.New("store full")
	g := *finding("2026-11-22T09:05:00Z", 2, picket.SeverityHigh)
	if _, err := p.HandleMessage(ctx, "m2", []picket.Finding{g}); err == nil {
		t.Fatal("HandleMessage succeeded although Committed failed")
	}
	if r, ok, _ := db.Finding("k1"); !ok || r.Finding.Count != 2 {
		t.Errorf("finding after the failed hook: count %d, want the committed version 2", r.Finding.Count)
	}
	rec.fail = nil
	if _, err := p.HandleMessage(ctx, "m2", []picket.Finding{g}); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if n := len(rec.keys); n != 4 {
		t.Errorf("Committed calls = %d, want 4", n)
	}
}
