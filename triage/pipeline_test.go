package triage_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/store"
	"github.com/picketsec/picket/triage"
)

// sendCall is one call the fake sender received.
type sendCall struct {
	op      string // "post", "update", "group", "group-update", "list"
	channel string
	ts      string
	count   int
	closed  bool
	mention string
	missing []string
	actions int
	key     string   // finding key, or group id
	members []string // finding keys a list reply names
	size    int      // group members
	sev     picket.Severity
}

// fakeSender records posts and updates of alerts and groups. fail, when
// set, makes the next call fail; block, when set for a channel, makes its
// calls wait until the channel is closed.
type fakeSender struct {
	mu    sync.Mutex
	calls []sendCall
	fail  error
	n     int
	block map[string]chan struct{}
	// found answers FindPost.
	found map[string]picket.MessageRef
	// refuse makes every post of these finding keys fail with this error.
	refuse map[string]error
}

func (s *fakeSender) begin(ctx context.Context, channel string) error {
	s.mu.Lock()
	gate := s.block[channel]
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail; err != nil {
		s.fail = nil
		return err
	}
	return nil
}

func (s *fakeSender) record(c sendCall) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if c.ts == "" {
		c.ts = fmt.Sprintf("1700000000.%06d", s.n)
	}
	s.calls = append(s.calls, c)
	return c.ts
}

func (s *fakeSender) snapshot() []sendCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sendCall(nil), s.calls...)
}

func (s *fakeSender) PostAlert(ctx context.Context, a picket.Alert) (picket.MessageRef, error) {
	if err := s.begin(ctx, a.Channel); err != nil {
		return picket.MessageRef{}, err
	}
	s.mu.Lock()
	refused := s.refuse[a.Finding.Key]
	s.mu.Unlock()
	if refused != nil {
		return picket.MessageRef{}, refused
	}
	ts := s.record(sendCall{op: "post", channel: a.Channel, count: a.Finding.Count, closed: a.Finding.Closed(), mention: a.Mention,
		missing: a.Enrichment.Missing, actions: len(a.Actions), key: a.Finding.Key, sev: a.Finding.Severity})
	return picket.MessageRef{Channel: a.Channel, TS: ts}, nil
}

func (s *fakeSender) UpdateAlert(ctx context.Context, ref picket.MessageRef, a picket.Alert) error {
	if err := s.begin(ctx, ref.Channel); err != nil {
		return err
	}
	s.record(sendCall{op: "update", channel: ref.Channel, ts: ref.TS, count: a.Finding.Count, closed: a.Finding.Closed(), mention: a.Mention,
		missing: a.Enrichment.Missing, actions: len(a.Actions), key: a.Finding.Key, sev: a.Finding.Severity})
	return nil
}

func (s *fakeSender) PostGroup(ctx context.Context, g picket.Group, _ string) (picket.MessageRef, error) {
	if err := s.begin(ctx, g.Channel); err != nil {
		return picket.MessageRef{}, err
	}
	ts := s.record(sendCall{op: "group", channel: g.Channel, key: g.ID, size: g.Members, sev: g.MaxSeverity(), closed: g.Closed > 0})
	return picket.MessageRef{Channel: g.Channel, TS: ts}, nil
}

func (s *fakeSender) UpdateGroup(ctx context.Context, g picket.Group) error {
	if err := s.begin(ctx, g.Ref.Channel); err != nil {
		return err
	}
	s.record(sendCall{op: "group-update", channel: g.Ref.Channel, ts: g.Ref.TS, key: g.ID, size: g.Members, sev: g.MaxSeverity(), closed: g.Closed > 0})
	return nil
}

func (s *fakeSender) PostGroupList(ctx context.Context, g picket.Group, from int, members []picket.FindingRecord, _ string) error {
	if err := s.begin(ctx, g.Ref.Channel); err != nil {
		return err
	}
	keys := make([]string, len(members))
	for i := range members {
		keys[i] = members[i].Finding.Key
	}
	s.record(sendCall{op: "list", channel: g.Ref.Channel, key: g.ID, members: keys, size: g.Members})
	return nil
}

func (s *fakeSender) FindPost(_ context.Context, _, _, postID string, _ time.Time) (picket.MessageRef, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref, ok := s.found[postID]
	return ref, ok, nil
}

// openStore opens a store in a temporary directory, closed at the end of
// the test.
func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "picket.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type fixedEnricher struct{}

func (fixedEnricher) Enrich(context.Context, *picket.Finding) picket.Enrichment {
	return picket.Enrichment{Missing: []string{"IAM user alice: no answer within 2s"}}
}

// rig is a pipeline and a dispatcher on a real store with a fake sender.
type rig struct {
	p   *triage.Pipeline
	d   *triage.Dispatcher
	db  *store.DB
	snd *fakeSender
}

func newRig(t *testing.T, gr triage.Grouping) *rig {
	t.Helper()
	router, err := triage.NewRouter([]triage.Rule{
		{Name: "crit", MinSeverity: picket.SeverityCritical, Channel: "#crit", MentionCritical: "S1"},
	}, "#security", picket.SeverityMedium)
	if err != nil {
		t.Fatal(err)
	}
	db, snd := openStore(t), &fakeSender{}
	clock := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	d, err := triage.NewDispatcher(triage.DispatchOptions{Store: db, Alerts: snd, Groups: snd, Enricher: fixedEnricher{},
		Grouping: gr, Now: now, RetryBase: time.Millisecond, RetryMax: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p, err := triage.NewPipeline(triage.Options{Store: db, Router: router, Notify: d, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{p: p, d: d, db: db, snd: snd}
}

// newPipeline is a rig without grouping.
func newPipeline(t *testing.T) (*rig, *store.DB, *fakeSender) {
	r := newRig(t, triage.Grouping{})
	return r, r.db, r.snd
}

// HandleFinding commits f and delivers what it queued, as the demo does.
func (r *rig) HandleFinding(ctx context.Context, f *picket.Finding) (picket.Outcome, error) {
	out, err := r.p.HandleFinding(ctx, f)
	if err != nil {
		return out, err
	}
	return out, r.d.Drain(ctx)
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
			want:      []picket.Outcome{picket.OutcomeQueued},
			wantCalls: []string{"post:#security:1"},
			wantCount: 1,
		},
		{
			name: "redelivery of the same version is a duplicate",
			in: []*picket.Finding{
				finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh),
				finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh),
			},
			want:      []picket.Outcome{picket.OutcomeQueued, picket.OutcomeDuplicate},
			wantCalls: []string{"post:#security:1"},
			wantCount: 1,
		},
		{
			name: "repeat with a higher count updates in place",
			in: []*picket.Finding{
				finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh),
				finding("2026-11-22T08:10:00Z", 5, picket.SeverityHigh),
			},
			want:      []picket.Outcome{picket.OutcomeQueued, picket.OutcomeUpdated},
			wantCalls: []string{"post:#security:1", "update:#security:5"},
			wantCount: 5,
		},
		{
			name: "older version after a newer one is ignored",
			in: []*picket.Finding{
				finding("2026-11-22T08:10:00Z", 5, picket.SeverityHigh),
				finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh),
			},
			want:      []picket.Outcome{picket.OutcomeQueued, picket.OutcomeDuplicate},
			wantCalls: []string{"post:#security:5"},
			wantCount: 5,
		},
		{
			name: "archived after posted updates the message to say so",
			in: []*picket.Finding{
				finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh),
				archived,
			},
			want:      []picket.Outcome{picket.OutcomeQueued, picket.OutcomeUpdated},
			wantCalls: []string{"post:#security:1", "update:#security:3:closed"},
			wantCount: 3,
		},
		{
			name: "suppressed after posted updates the message",
			in: []*picket.Finding{
				finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh),
				suppressed,
			},
			want:      []picket.Outcome{picket.OutcomeQueued, picket.OutcomeUpdated},
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
			want:      []picket.Outcome{picket.OutcomeBelowRoute, picket.OutcomeQueued},
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
			for _, c := range snd.snapshot() {
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
			if rec.Ref.Zero() != (len(snd.calls) == 0) {
				t.Errorf("stored ref %+v after %d sends", rec.Ref, len(snd.calls))
			}
			if len(snd.calls) > 0 && rec.Ref.TS != snd.calls[0].ts {
				t.Errorf("stored ref ts = %q, want %q", rec.Ref.TS, snd.calls[0].ts)
			}
		})
	}
}

func TestSlackFailureKeepsFindingInOutbox(t *testing.T) {
	ctx := context.Background()
	r, st, snd := newPipeline(t)
	snd.fail = errors.New("slack: 500")
	f := finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh)
	out, err := r.p.HandleMessage(ctx, "m-1", []picket.Finding{*f})
	if err != nil || out[0] != picket.OutcomeQueued {
		t.Fatalf("intake while Slack fails: outcomes %v, err %v; want queued and committed", out, err)
	}
	if err := r.d.Drain(ctx); err == nil {
		t.Fatal("Drain succeeded although Slack failed")
	}
	pending, err := st.Outbox()
	if err != nil || len(pending) != 1 || pending[0].Key != "k1" {
		t.Fatalf("outbox after the failed post = %+v, %v; want k1 still waiting", pending, err)
	}
	// The queue message was committed: a redelivery changes nothing.
	if out, err := r.p.HandleMessage(ctx, "m-1", []picket.Finding{*f}); err != nil || out != nil {
		t.Fatalf("redelivered message: outcomes %v, err %v; want nothing done", out, err)
	}
	if err := r.d.Drain(ctx); err != nil {
		t.Fatalf("Drain after Slack recovered: %v", err)
	}
	if got := len(snd.snapshot()); got != 1 {
		t.Fatalf("sends = %d, want the 1 post once Slack is back", got)
	}
	if pending, _ := st.Outbox(); len(pending) != 0 {
		t.Errorf("outbox after delivery = %+v, want empty", pending)
	}
	if posts, _ := st.Posts(); len(posts) != 0 {
		t.Errorf("posts in flight after delivery = %+v, want none", posts)
	}
}

func TestPipelineStoreFailureIsReported(t *testing.T) {
	r, st, _ := newPipeline(t)
	st.Close()
	_, err := r.p.HandleMessage(context.Background(), "m-1", []picket.Finding{*finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh)})
	if err == nil || !strings.Contains(err.Error(), "m-1") {
		t.Fatalf("err = %v, want the commit of message m-1 to fail", err)
	}
}

func TestPipelineConcurrentDeliveriesPostOnce(t *testing.T) {
	r, _, snd := newPipeline(t)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh)
			if _, err := r.p.HandleMessage(context.Background(), fmt.Sprintf("m-%d", i), []picket.Finding{*f}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := r.d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(snd.snapshot()); got != 1 {
		t.Fatalf("sender calls = %d, want exactly 1 post", got)
	}
}

func TestNewPipelineListsMissingParts(t *testing.T) {
	_, err := triage.NewPipeline(triage.Options{})
	if err == nil {
		t.Fatal("NewPipeline accepted empty options")
	}
	for _, want := range []string{"no store", "no router"} {
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
		{"no rule in force matches: queued and posted", sups, picket.OutcomeQueued},
		{"a rule in force matches: recorded as suppressed", append(sups, picket.Suppression{
			ID: "in-force", Type: "Recon:EC2/PortProbeUnprotectedPort", Account: "123456789012", Until: clock.Add(time.Hour),
		}), picket.OutcomeSuppressed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, snd := openStore(t), &fakeSender{}
			acts := fakeActions{{Request: picket.ActionRequest{ID: "act-1", Kind: picket.ActionDisableUser}, Status: picket.OutcomeSucceeded}}
			d, err := triage.NewDispatcher(triage.DispatchOptions{Store: st, Alerts: snd, Actions: acts})
			if err != nil {
				t.Fatal(err)
			}
			p, err := triage.NewPipeline(triage.Options{Store: st, Router: router, Notify: d,
				Suppressions: tt.sups, Now: func() time.Time { return clock }})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.HandleFinding(context.Background(), finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh))
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Drain(context.Background()); err != nil {
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
