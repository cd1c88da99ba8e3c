package triage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/triage"
)

// memStore is an in-memory picket.FindingStore.
type memStore struct {
	mu   sync.Mutex
	recs map[string]picket.FindingRecord
	fail error
}

func (s *memStore) Finding(key string) (picket.FindingRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[key]
	return r, ok, nil
}

func (s *memStore) PutFinding(r picket.FindingRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if s.recs == nil {
		s.recs = map[string]picket.FindingRecord{}
	}
	s.recs[r.Finding.Key] = r
	return nil
}

func (s *memStore) MessageDone(string) (bool, error)        { return false, nil }
func (s *memStore) MarkMessageDone(string, time.Time) error { return nil }

// sendCall is one call the fake sender received.
type sendCall struct {
	op      string // "post" or "update"
	channel string
	ts      string
	count   int
	closed  bool
	mention string
	missing []string
	actions int
}

// fakeSender records posts and updates; fail, when set, makes the next
// call fail.
type fakeSender struct {
	mu    sync.Mutex
	calls []sendCall
	fail  error
	n     int
}

func (s *fakeSender) PostAlert(_ context.Context, a picket.Alert) (picket.MessageRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail; err != nil {
		s.fail = nil
		return picket.MessageRef{}, err
	}
	s.n++
	ts := fmt.Sprintf("1700000000.%06d", s.n)
	s.calls = append(s.calls, sendCall{"post", a.Channel, ts, a.Finding.Count, a.Finding.Closed(), a.Mention, a.Enrichment.Missing, len(a.Actions)})
	return picket.MessageRef{Channel: a.Channel, TS: ts}, nil
}

func (s *fakeSender) UpdateAlert(_ context.Context, ref picket.MessageRef, a picket.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail; err != nil {
		s.fail = nil
		return err
	}
	s.calls = append(s.calls, sendCall{"update", ref.Channel, ref.TS, a.Finding.Count, a.Finding.Closed(), a.Mention, a.Enrichment.Missing, len(a.Actions)})
	return nil
}

type fixedEnricher struct{}

func (fixedEnricher) Enrich(context.Context, *picket.Finding) picket.Enrichment {
	return picket.Enrichment{Missing: []string{"IAM user alice: no answer within 2s"}}
}

func newPipeline(t *testing.T) (*triage.Pipeline, *memStore, *fakeSender) {
	t.Helper()
	router, err := triage.NewRouter([]triage.Rule{
		{Name: "crit", MinSeverity: picket.SeverityCritical, Channel: "#crit", MentionCritical: "S1"},
	}, "#security", picket.SeverityMedium)
	if err != nil {
		t.Fatal(err)
	}
	st, snd := &memStore{}, &fakeSender{}
	clock := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	p, err := triage.NewPipeline(triage.Options{
		Store: st, Router: router, Sender: snd, Enricher: fixedEnricher{},
		Now: func() time.Time { return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, st, snd
}

func finding(updated string, count int, sev picket.Severity) *picket.Finding {
	u, _ := time.Parse(time.RFC3339, updated)
	return &picket.Finding{
		Key: "k1", ID: "gd-1", Source: picket.SourceGuardDuty, Type: "Recon:EC2/PortProbeUnprotectedPort",
		Title: "probe", Severity: sev, Account: "123456789012", Region: "us-east-1",
		UpdatedAt: u, Count: count, RecordState: picket.RecordActive,
	}
}

func TestPipelineSequences(t *testing.T) {
	archived := finding("2026-11-22T08:30:00Z", 3, picket.SeverityHigh)
	archived.RecordState = picket.RecordArchived
	suppressed := finding("2026-11-22T08:30:00Z", 2, picket.SeverityHigh)
	suppressed.WorkflowStatus = picket.WorkflowSuppressed

	tests := []struct {
		name      string
		in        []*picket.Finding
		want      []picket.Outcome
		wantCalls []string // op:channel:count
		wantCount int      // stored finding's count at the end
	}{
		{
			name:      "new finding is posted once",
			in:        []*picket.Finding{finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh)},
			want:      []picket.Outcome{picket.OutcomePosted},
			wantCalls: []string{"post:#security:1"},
			wantCount: 1,
		},
		{
			name: "redelivery of the same version is a duplicate",
			in: []*picket.Finding{
				finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh),
				finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh),
			},
			want:      []picket.Outcome{picket.OutcomePosted, picket.OutcomeDuplicate},
			wantCalls: []string{"post:#security:1"},
			wantCount: 1,
		},
		{
			name: "repeat with a higher count updates in place",
			in: []*picket.Finding{
				finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh),
				finding("2026-11-22T08:10:00Z", 5, picket.SeverityHigh),
			},
			want:      []picket.Outcome{picket.OutcomePosted, picket.OutcomeUpdated},
			wantCalls: []string{"post:#security:1", "update:#security:5"},
			wantCount: 5,
		},
		{
			name: "older version after a newer one is ignored",
			in: []*picket.Finding{
				finding("2026-11-22T08:10:00Z", 5, picket.SeverityHigh),
				finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh),
			},
			want:      []picket.Outcome{picket.OutcomePosted, picket.OutcomeDuplicate},
			wantCalls: []string{"post:#security:5"},
			wantCount: 5,
		},
		{
			name: "archived after posted updates the message to say so",
			in: []*picket.Finding{
				finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh),
				archived,
			},
			want:      []picket.Outcome{picket.OutcomePosted, picket.OutcomeUpdated},
			wantCalls: []string{"post:#security:1", "update:#security:3:closed"},
			wantCount: 3,
		},
		{
			name: "suppressed after posted updates the message",
			in: []*picket.Finding{
				finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh),
				suppressed,
			},
			want:      []picket.Outcome{picket.OutcomePosted, picket.OutcomeUpdated},
			wantCalls: []string{"post:#security:1", "update:#security:2:closed"},
			wantCount: 2,
		},
		{
			name:      "closed when first seen is recorded, not posted",
			in:        []*picket.Finding{archived},
			want:      []picket.Outcome{picket.OutcomeBelowRoute},
			wantCount: 3,
		},
		{
			name: "below threshold is recorded; raised severity posts later",
			in: []*picket.Finding{
				finding("2026-11-22T08:00:00Z", 1, picket.SeverityLow),
				finding("2026-11-22T08:05:00Z", 2, picket.SeverityCritical),
			},
			want:      []picket.Outcome{picket.OutcomeBelowRoute, picket.OutcomePosted},
			wantCalls: []string{"post:#crit:2:@S1"},
			wantCount: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, st, snd := newPipeline(t)
			for i, f := range tt.in {
				got, err := p.HandleFinding(context.Background(), f)
				if err != nil {
					t.Fatalf("delivery %d: %v", i, err)
				}
				if got != tt.want[i] {
					t.Errorf("delivery %d: outcome %q, want %q", i, got, tt.want[i])
				}
			}
			var calls []string
			for _, c := range snd.calls {
				s := fmt.Sprintf("%s:%s:%d", c.op, c.channel, c.count)
				if c.closed {
					s += ":closed"
				}
				if c.mention != "" {
					s += ":@" + c.mention
				}
				calls = append(calls, s)
				if len(c.missing) != 1 {
					t.Errorf("%s: enrichment not passed to the sender: missing = %v", s, c.missing)
				}
			}
			if fmt.Sprint(calls) != fmt.Sprint(tt.wantCalls) {
				t.Errorf("sender calls = %v, want %v", calls, tt.wantCalls)
			}
			rec, ok, _ := st.Finding("k1")
			if !ok {
				t.Fatal("finding not stored")
			}
			if rec.Finding.Count != tt.wantCount {
				t.Errorf("stored count = %d, want %d", rec.Finding.Count, tt.wantCount)
			}
			if rec.Deliveries != len(tt.in) {
				t.Errorf("deliveries = %d, want %d", rec.Deliveries, len(tt.in))
			}
			if len(snd.calls) > 0 && rec.Ref.TS != snd.calls[0].ts {
				t.Errorf("stored ref ts = %q, want %q", rec.Ref.TS, snd.calls[0].ts)
			}
		})
	}
}

func TestPipelineSlackFailureCommitsNothing(t *testing.T) {
	p, st, snd := newPipeline(t)
	snd.fail = errors.New("slack: 500")
	f := finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh)
	if _, err := p.HandleFinding(context.Background(), f); err == nil {
		t.Fatal("HandleFinding succeeded although Slack failed")
	}
	if _, ok, _ := st.Finding("k1"); ok {
		t.Fatal("state committed although the post failed: the redelivery would be treated as a duplicate and never shown")
	}
	got, err := p.HandleFinding(context.Background(), f)
	if err != nil || got != picket.OutcomePosted {
		t.Fatalf("redelivery: outcome %q, err %v; want posted", got, err)
	}
}

func TestPipelineStoreFailureIsReported(t *testing.T) {
	p, st, _ := newPipeline(t)
	st.fail = errors.New("disk full")
	_, err := p.HandleFinding(context.Background(), finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh))
	if err == nil || !errors.Is(err, st.fail) {
		t.Fatalf("err = %v, want it to wrap %v", err, st.fail)
	}
}

func TestPipelineConcurrentDeliveriesPostOnce(t *testing.T) {
	p, _, snd := newPipeline(t)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.HandleFinding(context.Background(), finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(snd.calls) != 1 {
		t.Fatalf("sender calls = %d, want exactly 1 post", len(snd.calls))
	}
}

func TestNewPipelineListsMissingParts(t *testing.T) {
	_, err := triage.NewPipeline(triage.Options{})
	if err == nil {
		t.Fatal("NewPipeline accepted empty options")
	}
	for _, want := range []string{"no store", "no router", "no sender"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

type fakeSuppressions []picket.Suppression

func (f fakeSuppressions) PutSuppression(picket.Suppression) error     { return nil }
func (f fakeSuppressions) Suppressions() ([]picket.Suppression, error) { return f, nil }

type fakeActions []picket.ActionRecord

func (f fakeActions) ActionsForFinding(string) ([]picket.ActionRecord, error) { return f, nil }

func TestPipelineSuppressionsAndActions(t *testing.T) {
	clock := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	router, _ := triage.NewRouter(nil, "#security", picket.SeverityLow)
	sups := fakeSuppressions{
		{ID: "expired", Type: "Recon:EC2/PortProbeUnprotectedPort", Until: clock.Add(-time.Minute)},
		{ID: "other-account", Type: "Recon:EC2/PortProbeUnprotectedPort", Account: "999999999999", Until: clock.Add(time.Hour)},
		{ID: "lifted", Type: "Recon:EC2/PortProbeUnprotectedPort", Until: clock.Add(time.Hour), Lifted: clock.Add(-time.Hour)},
	}
	tests := []struct {
		name string
		sups fakeSuppressions
		want picket.Outcome
	}{
		{"no rule in force matches: posted", sups, picket.OutcomePosted},
		{"a rule in force matches: recorded as suppressed", append(sups, picket.Suppression{
			ID: "in-force", Type: "Recon:EC2/PortProbeUnprotectedPort", Account: "123456789012", Until: clock.Add(time.Hour),
		}), picket.OutcomeSuppressed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, snd := &memStore{}, &fakeSender{}
			acts := fakeActions{{Request: picket.ActionRequest{ID: "act-1", Kind: picket.ActionDisableUser}, Status: picket.OutcomeSucceeded}}
			p, err := triage.NewPipeline(triage.Options{Store: st, Router: router, Sender: snd,
				Suppressions: tt.sups, Actions: acts, Now: func() time.Time { return clock }})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.HandleFinding(context.Background(), finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("outcome %q, want %q", got, tt.want)
			}
			rec, _, _ := st.Finding("k1")
			if tt.want == picket.OutcomeSuppressed {
				if len(snd.calls) != 0 || rec.Route.Rule != "suppressed:in-force" {
					t.Errorf("suppressed finding: %d sends, route %q; want none and suppressed:in-force", len(snd.calls), rec.Route.Rule)
				}
				return
			}
			if len(snd.calls) != 1 {
				t.Fatalf("sends = %d, want 1", len(snd.calls))
			}
			if snd.calls[0].actions != 1 {
				t.Errorf("alert carried %d action records, want the 1 stored", snd.calls[0].actions)
			}
		})
	}
}
