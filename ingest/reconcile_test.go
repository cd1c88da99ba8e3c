package ingest_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/securityhub"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/event"
	"github.com/picketsec/picket/ingest"
	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/metrics"
)

// fakeTime is a clock whose Sleep moves it on at once, recording the
// waits.
type fakeTime struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeTime) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeTime) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

// index is an in-memory FindingLookup.
type index map[string]picket.FindingRecord

func (ix index) Finding(key string) (picket.FindingRecord, bool, error) {
	r, ok := ix[key]
	return r, ok, nil
}

// handled records the findings handed to the pipeline.
type handled struct {
	mu   sync.Mutex
	keys []string
}

func (h *handled) HandleFinding(_ context.Context, f *picket.Finding) (picket.Outcome, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keys = append(h.keys, f.Key)
	return picket.OutcomePosted, nil
}

// corpusFindings returns the ASFF findings of the GetFindings sample.
func corpusFindings(t *testing.T) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "api_GetFindings_guardduty_5_findings__c7n.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Data struct{ Findings []json.RawMessage } `json:"data"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Data.Findings) != 5 {
		t.Fatalf("sample holds %d findings, want 5", len(doc.Data.Findings))
	}
	return doc.Data.Findings
}

func page(findings []json.RawMessage, next string) awsfake.Response {
	body := map[string]any{"Findings": findings}
	if next != "" {
		body["NextToken"] = next
	}
	return awsfake.JSONBody(body)
}

func TestReconcilePagesRateLimitedAndRepairs(t *testing.T) {
	fs := corpusFindings(t)
	srv := awsfake.New(t)
	clk := &fakeTime{now: time.Date(2019, 7, 11, 20, 0, 0, 0, time.UTC)}
	var callTimes []time.Time
	// Pages are served by NextToken, so a call the SDK retries after a
	// transport error (the client runs with the standard retryer, as in
	// production) gets the same page again and is timed once.
	pages := map[string]awsfake.Response{"": page(fs[:2], "token-1"), "token-1": page(fs[2:4], "token-2"), "token-2": page(fs[4:], "")}
	seen := map[string]bool{}
	srv.OnREST("securityhub", "GetFindings", "POST", "/findings", func(r *awsfake.Request) awsfake.Response {
		token := r.Param("NextToken")
		if !seen[token] {
			seen[token] = true
			callTimes = append(callTimes, clk.Now())
		}
		return pages[token]
	})

	// The index already holds finding 0 as it is and an older version of
	// finding 1; the others are missing.
	all, err := event.Decode(mustJSON(t, map[string]any{"Findings": fs}))
	if err != nil || len(all) != 5 {
		t.Fatalf("decode sample: %d findings, %v", len(all), err)
	}
	ix := index{all[0].Key: {Finding: all[0]}}
	older := all[1]
	older.UpdatedAt = older.UpdatedAt.Add(-time.Hour)
	ix[older.Key] = picket.FindingRecord{Finding: older}

	h := &handled{}
	m := ingest.ReconcileMetrics{Requests: &metrics.Counter{}, Checked: &metrics.Counter{}, Missing: &metrics.Counter{}, Stale: &metrics.Counter{}}
	r, err := ingest.NewReconciler(ingest.ReconcileOptions{
		API: securityhub.NewFromConfig(srv.Config(awsfake.WithRetries(3))), Decode: event.Decode, Index: ix, Handler: h,
		Now: clk.Now, Sleep: clk.Sleep, Metrics: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Sync(context.Background())
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}

	if want := (ingest.ReconcileReport{Pages: 3, Checked: 5, Missing: 3, Stale: 1}); rep != want {
		t.Errorf("report: got %+v, want %+v", rep, want)
	}
	if want := []string{all[1].Key, all[2].Key, all[3].Key, all[4].Key}; !slices.Equal(h.keys, want) {
		t.Errorf("handled: got %v, want %v (finding 0 is known)", h.keys, want)
	}
	if m.Requests.Value() != 3 || m.Missing.Value() != 3 || m.Stale.Value() != 1 || m.Checked.Value() != 5 {
		t.Errorf("metrics: got requests=%d missing=%d stale=%d checked=%d, want 3 3 1 5",
			m.Requests.Value(), m.Missing.Value(), m.Stale.Value(), m.Checked.Value())
	}

	// Paging: the exact operations, NextToken passed on, filters and page
	// size as the SDK serialized them.
	// A call the SDK retried (same NextToken right after) counts once.
	var calls []awsfake.Call
	for _, c := range srv.Calls() {
		if n := len(calls); n > 0 && calls[n-1].Param("NextToken") == c.Param("NextToken") {
			continue
		}
		calls = append(calls, c)
	}
	if len(calls) != 3 {
		t.Fatalf("distinct GetFindings calls: got %d, want 3", len(calls))
	}
	for _, c := range calls {
		if c.Service+":"+c.Operation != "securityhub:GetFindings" {
			t.Errorf("operation: got %s:%s, want securityhub:GetFindings", c.Service, c.Operation)
		}
	}
	for i, want := range []string{"", "token-1", "token-2"} {
		if got := calls[i].Param("NextToken"); got != want {
			t.Errorf("call %d NextToken: got %q, want %q", i, got, want)
		}
		if got := calls[i].Param("MaxResults"); got != "100" {
			t.Errorf("call %d MaxResults: got %s, want 100", i, got)
		}
	}
	var filters struct {
		RecordState []struct{ Comparison, Value string }
		UpdatedAt   []struct{ Start, End string }
	}
	if err := json.Unmarshal([]byte(calls[0].Param("Filters")), &filters); err != nil {
		t.Fatal(err)
	}
	if len(filters.RecordState) != 1 || filters.RecordState[0].Comparison != "EQUALS" || filters.RecordState[0].Value != "ACTIVE" {
		t.Errorf("RecordState filter: got %+v, want EQUALS ACTIVE", filters.RecordState)
	}
	if len(filters.UpdatedAt) != 1 || filters.UpdatedAt[0].Start != "2019-07-10T20:00:00Z" || filters.UpdatedAt[0].End != "2019-07-11T20:00:00Z" {
		t.Errorf("UpdatedAt filter: got %+v, want the last 24 hours", filters.UpdatedAt)
	}

	// Rate limit: at most 2 requests a second, waited for on the clock.
	for i := 1; i < len(callTimes); i++ {
		if gap := callTimes[i].Sub(callTimes[i-1]); gap < ingest.ReconcileMinGap {
			t.Errorf("gap before call %d: got %v, want at least %v", i, gap, ingest.ReconcileMinGap)
		}
	}
	if want := []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}; !slices.Equal(clk.sleeps, want) {
		t.Errorf("sleeps: got %v, want %v", clk.sleeps, want)
	}

	// The next sync starts where this one ended (less an overlap), and a
	// finding now known is not handled again.
	for _, f := range all {
		ix[f.Key] = picket.FindingRecord{Finding: f}
	}
	h.keys = nil
	srv.Reset()
	srv.OnREST("securityhub", "GetFindings", "POST", "/findings", awsfake.Reply(page(fs, "")))
	clk.Sleep(context.Background(), 15*time.Minute)
	rep, err = r.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(h.keys) != 0 || rep.Checked != 5 || rep.Missing+rep.Stale != 0 {
		t.Errorf("second sync: got handled %v, report %+v, want nothing repaired", h.keys, rep)
	}
	if err := json.Unmarshal([]byte(srv.Calls()[0].Param("Filters")), &filters); err != nil {
		t.Fatal(err)
	}
	if got := filters.UpdatedAt[0].Start; got != "2019-07-11T19:55:00Z" {
		t.Errorf("second sync starts %s, want 5 minutes before the first one ended (2019-07-11T19:55:00Z)", got)
	}
}

func TestReconcileAccessDenied(t *testing.T) {
	srv := awsfake.New(t)
	srv.OnREST("securityhub", "GetFindings", "POST", "/findings",
		awsfake.Reply(awsfake.JSONError("AccessDeniedException", "not authorized")))
	clk := &fakeTime{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	r, err := ingest.NewReconciler(ingest.ReconcileOptions{
		API: securityhub.NewFromConfig(srv.Config()), Decode: event.Decode, Index: index{}, Handler: &handled{},
		Now: clk.Now, Sleep: clk.Sleep,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Sync(context.Background()); picket.ErrorCode(err) != picket.EUNAUTHORIZED {
		t.Errorf("AccessDenied: got %v (%s), want %s", err, picket.ErrorCode(err), picket.EUNAUTHORIZED)
	}
	if _, err := ingest.NewReconciler(ingest.ReconcileOptions{}); picket.ErrorCode(err) != picket.EINVALID {
		t.Errorf("no options: got %v, want EINVALID", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
