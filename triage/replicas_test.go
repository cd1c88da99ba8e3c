package triage_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/store"
	"github.com/picketsec/picket/triage"
)

// replica is one Picket replica's intake and delivery on a shared store.
type replica struct {
	p      *triage.Pipeline
	d      *triage.Dispatcher
	snd    *fakeSender
	cancel context.CancelFunc
	done   chan error
}

// noRelease is a lease store whose replica dies without releasing its
// leases (SIGKILL): they pass on only when they expire.
type noRelease struct{ picket.LeaseStore }

func (noRelease) ReleaseLease(string, string) error { return nil }

func startReplica(t *testing.T, db *store.DB, leases picket.LeaseStore, owner string, ttl time.Duration) *replica {
	t.Helper()
	router, err := triage.NewRouter([]triage.Rule{
		{Name: "crit", MinSeverity: picket.SeverityCritical, Channel: "#crit"},
	}, "#security", picket.SeverityMedium)
	if err != nil {
		t.Fatal(err)
	}
	snd := &fakeSender{}
	d, err := triage.NewDispatcher(triage.DispatchOptions{Store: db, Alerts: snd, Groups: snd, Enricher: fixedEnricher{},
		RetryBase: time.Millisecond, RetryMax: 10 * time.Millisecond,
		Replicas: &triage.Replicas{Leases: leases, Owner: owner, TTL: ttl, Poll: 20 * time.Millisecond,
			Channels: []string{"#security", "#crit"}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := triage.NewPipeline(triage.Options{Store: db, Router: router, Notify: d})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{p: p, d: d, snd: snd, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *replica) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	if err := <-r.done; err != nil {
		t.Error(err)
	}
	r.cancel = nil
}

func (r *replica) intake(t *testing.T, fs ...picket.Finding) {
	t.Helper()
	if _, err := r.p.HandleMessage(context.Background(), "", fs); err != nil {
		t.Fatal(err)
	}
}

// posts returns, per channel, the keys each replica posted.
func posts(rs ...*replica) (byKey map[string]int, writers map[string]map[int]bool) {
	byKey, writers = map[string]int{}, map[string]map[int]bool{}
	for i, r := range rs {
		for _, c := range r.snd.snapshot() {
			if c.op != "post" {
				continue
			}
			byKey[c.key]++
			if writers[c.channel] == nil {
				writers[c.channel] = map[int]bool{}
			}
			writers[c.channel][i] = true
		}
	}
	return byKey, writers
}

func waitPosted(t *testing.T, keys []string, within time.Duration, rs ...*replica) map[string]map[int]bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		byKey, writers := posts(rs...)
		all := true
		for _, k := range keys {
			if byKey[k] == 0 {
				all = false
			}
		}
		if all {
			for k, n := range byKey {
				if n != 1 {
					t.Errorf("%s posted %d times, want once", k, n)
				}
			}
			return writers
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v posted %v, want each of %v once", within, byKey, keys)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mixed(prefix string, n int) ([]picket.Finding, []string) {
	var fs []picket.Finding
	var keys []string
	for i := range n {
		sev := picket.SeverityMedium
		if i%3 == 0 {
			sev = picket.SeverityCritical
		}
		f := finding("2026-11-22T08:00:00Z", 1, sev)
		f.Key, f.ID = fmt.Sprintf("%s-%02d", prefix, i), fmt.Sprintf("id-%s-%02d", prefix, i)
		fs = append(fs, *f)
		keys = append(keys, f.Key)
	}
	return fs, keys
}

// TestReplicasOneWriterPerChannel: two replicas take findings from the same
// queue into one store; every finding is posted once, and each channel is
// posted to by one replica only (the holder of its lease).
func TestReplicasOneWriterPerChannel(t *testing.T) {
	db := openStore(t)
	a := startReplica(t, db, db, "a", 10*time.Second)
	b := startReplica(t, db, db, "b", 10*time.Second)
	fs, keys := mixed("k", 24)
	for i := range fs {
		if i%2 == 0 {
			a.intake(t, fs[i])
		} else {
			b.intake(t, fs[i])
		}
	}
	writers := waitPosted(t, keys, 10*time.Second, a, b)
	for ch, w := range writers {
		if len(w) != 1 {
			t.Errorf("channel %s was posted to by %d replicas, want 1", ch, len(w))
		}
	}
	if len(writers) != 2 {
		t.Errorf("posts went to %d channels, want #security and #crit", len(writers))
	}
}

// TestReplicasDeadReplicaChannelsPassOn: a replica that dies without
// releasing its leases stops delivering; another takes its channels once
// the leases expire and posts what was queued since, once.
func TestReplicasDeadReplicaChannelsPassOn(t *testing.T) {
	db := openStore(t)
	const ttl = 600 * time.Millisecond
	a := startReplica(t, db, noRelease{db}, "a", ttl)
	first, firstKeys := mixed("before", 4)
	a.intake(t, first...)
	waitPosted(t, firstKeys, 5*time.Second, a)
	a.stop(t) // dies: its leases stay until they expire

	b := startReplica(t, db, db, "b", ttl)
	died := time.Now()
	later, laterKeys := mixed("after", 6)
	b.intake(t, later...)
	waitPosted(t, append(firstKeys, laterKeys...), 10*time.Second, a, b)
	if took := time.Since(died); took < ttl/2 {
		t.Errorf("b delivered after %v, before a's leases (%v) could have expired", took, ttl)
	}
	for _, c := range a.snd.snapshot() {
		for _, k := range laterKeys {
			if c.key == k {
				t.Errorf("dead replica a posted %s", k)
			}
		}
	}
}

// TestReplicasStoppedReplicaHandsOverAtOnce: a replica stopped cleanly
// (SIGTERM) releases its leases, so another delivers its channels without
// waiting for them to expire.
func TestReplicasStoppedReplicaHandsOverAtOnce(t *testing.T) {
	db := openStore(t)
	a := startReplica(t, db, db, "a", time.Hour)
	first, firstKeys := mixed("before", 3)
	a.intake(t, first...)
	waitPosted(t, firstKeys, 5*time.Second, a)
	b := startReplica(t, db, db, "b", time.Hour)
	a.stop(t)
	later, laterKeys := mixed("after", 3)
	b.intake(t, later...)
	waitPosted(t, append(firstKeys, laterKeys...), 5*time.Second, a, b)
}

// indexed is the bbolt store seen through an outbox index, as the
// DynamoDB store offers one, counting the entries fetched.
type indexed struct {
	*store.DB
	fetched atomic.Int64
}

func (s *indexed) OutboxRefs() ([]picket.OutboxRef, error) {
	out, err := s.DB.Outbox()
	refs := make([]picket.OutboxRef, len(out))
	for i, p := range out {
		refs[i] = picket.OutboxRef{Key: p.Key, Channel: p.Channel, Seq: p.Seq}
	}
	return refs, err
}

func (s *indexed) PendingOf(key string) (picket.Pending, bool, error) {
	s.fetched.Add(1)
	out, err := s.DB.Outbox()
	for _, p := range out {
		if p.Key == key {
			return p, true, err
		}
	}
	return picket.Pending{}, false, err
}

// TestReplicasIndexedOutboxFetchesOnlyNewEntries: with an indexed outbox,
// a replica's poll reads the index and fetches an entry once, not on every
// poll while it waits (Slack stuck for the channel here).
func TestReplicasIndexedOutboxFetchesOnlyNewEntries(t *testing.T) {
	db := openStore(t)
	ix := &indexed{DB: db}
	router, err := triage.NewRouter(nil, "#security", picket.SeverityLow)
	if err != nil {
		t.Fatal(err)
	}
	snd := &fakeSender{block: map[string]chan struct{}{"#security": make(chan struct{})}}
	d, err := triage.NewDispatcher(triage.DispatchOptions{Store: ix, Alerts: snd, Groups: snd, Enricher: fixedEnricher{},
		Replicas: &triage.Replicas{Leases: db, Owner: "a", TTL: 10 * time.Second, Poll: 10 * time.Millisecond, Channels: []string{"#security"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Another replica's intake: this dispatcher learns of it by polling.
	p, err := triage.NewPipeline(triage.Options{Store: db, Router: router, Notify: nopNotifier{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		close(snd.block["#security"])
		cancel()
		<-done
	}()
	fs, _ := mixed("k", 6)
	for i := range fs {
		fs[i].Severity = picket.SeverityMedium
	}
	if _, err := p.HandleMessage(context.Background(), "", fs); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ix.fetched.Load() < 6 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	first := ix.fetched.Load()
	time.Sleep(300 * time.Millisecond) // about thirty more polls
	if got := ix.fetched.Load(); got != first || first == 0 || first > 6 {
		t.Errorf("entries fetched: %d after ten polls, %d after forty; want each of the 6 once", first, got)
	}
}

type nopNotifier struct{}

func (nopNotifier) Enqueued(picket.IntakeResult) {}

// failingPosts is the shared store with its posts unreadable while fail
// is set (a slow or failing outbox read); leases still work.
type failingPosts struct {
	*store.DB
	fail atomic.Bool
}

func (s *failingPosts) Posts() ([]picket.Post, error) {
	if s.fail.Load() {
		return nil, fmt.Errorf("posts: store unavailable")
	}
	return s.DB.Posts()
}

// TestReplicasRenewWhileOutboxUnreadable: a replica whose outbox reads
// fail keeps renewing the leases of the channels it delivers, so no other
// replica takes a channel whose lane is still running.
func TestReplicasRenewWhileOutboxUnreadable(t *testing.T) {
	db := openStore(t)
	fp := &failingPosts{DB: db}
	snd := &fakeSender{}
	const ttl = 300 * time.Millisecond
	d, err := triage.NewDispatcher(triage.DispatchOptions{Store: fp, Alerts: snd, Groups: snd, Enricher: fixedEnricher{},
		Replicas: &triage.Replicas{Leases: db, Owner: "a", TTL: ttl, Poll: 10 * time.Millisecond, Channels: []string{"#security"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := db.TakeLease("channel:#security", "probe", time.Now(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break // a holds it
		}
		if time.Now().After(deadline) {
			t.Fatal("replica a never took #security")
		}
		time.Sleep(5 * time.Millisecond)
	}
	fp.fail.Store(true)
	time.Sleep(3 * ttl)
	if ok, err := db.TakeLease("channel:#security", "b", time.Now(), time.Now().Add(ttl)); err != nil || ok {
		t.Errorf("b took #security (%v, %v) while a, unable to read its outbox, still delivers it", ok, err)
	}
}

// countingReads is the shared store counting whole-outbox reads (polls).
type countingReads struct {
	*store.DB
	reads atomic.Int64
}

func (s *countingReads) Posts() ([]picket.Post, error) {
	s.reads.Add(1)
	return s.DB.Posts()
}

// TestReplicasOwnIntakeForHeldChannelSkipsPoll: what this replica's
// intake commits for a channel it holds goes straight to the lane; it
// does not read the whole shared outbox again per intake (a storm).
func TestReplicasOwnIntakeForHeldChannelSkipsPoll(t *testing.T) {
	db := openStore(t)
	cr := &countingReads{DB: db}
	router, err := triage.NewRouter(nil, "#security", picket.SeverityLow)
	if err != nil {
		t.Fatal(err)
	}
	snd := &fakeSender{}
	d, err := triage.NewDispatcher(triage.DispatchOptions{Store: cr, Alerts: snd, Groups: snd, Enricher: fixedEnricher{},
		Replicas: &triage.Replicas{Leases: db, Owner: "a", TTL: time.Hour, Poll: time.Hour, Channels: []string{"#security"}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := triage.NewPipeline(triage.Options{Store: db, Router: router, Notify: d})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	first, firstKeys := mixed("first", 1)
	first[0].Severity = picket.SeverityMedium
	if _, err := p.HandleMessage(context.Background(), "", first); err != nil {
		t.Fatal(err)
	}
	waitPostedBy(t, snd, firstKeys)
	before := cr.reads.Load()
	fs, keys := mixed("storm", 40)
	for i := range fs {
		fs[i].Severity = picket.SeverityMedium
		if _, err := p.HandleMessage(context.Background(), "", fs[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	waitPostedBy(t, snd, keys)
	if n := cr.reads.Load() - before; n > 2 {
		t.Errorf("%d outbox reads for 40 intakes to a channel this replica holds, want none beyond a timed poll", n)
	}
}

func waitPostedBy(t *testing.T, snd *fakeSender, keys []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := map[string]bool{}
		for _, c := range snd.snapshot() {
			got[c.key] = true
		}
		missing := 0
		for _, k := range keys {
			if !got[k] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d findings not posted within 10s", missing, len(keys))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// flakyLeases is the lease store failing every call while fail is set,
// counting the failed calls.
type flakyLeases struct {
	*store.DB
	fail   atomic.Bool
	failed atomic.Int64
}

func (s *flakyLeases) TakeLease(name, owner string, now, until time.Time) (bool, error) {
	if s.fail.Load() {
		s.failed.Add(1)
		return false, fmt.Errorf("lease store unavailable")
	}
	return s.DB.TakeLease(name, owner, now, until)
}

// TestReplicasLaneStopsBeforeItsLeaseExpires: a channel lease that cannot
// be renewed is retried, but its lane is stopped while the lease still
// lasts, not when another replica may already take the channel.
func TestReplicasLaneStopsBeforeItsLeaseExpires(t *testing.T) {
	db := openStore(t)
	ls := &flakyLeases{DB: db}
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	snd := &fakeSender{}
	const ttl = 9 * time.Second // of the fake clock
	d, err := triage.NewDispatcher(triage.DispatchOptions{Store: db, Alerts: snd, Groups: snd, Enricher: fixedEnricher{}, Now: now,
		Replicas: &triage.Replicas{Leases: ls, Owner: "a", TTL: ttl, Poll: 5 * time.Millisecond, Channels: []string{"#security"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	holds := func() bool {
		for _, b := range d.Backlog() {
			if b.Channel == "#security" {
				return true
			}
		}
		return false
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not within 5s: %s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitUntil("a takes #security", holds)
	ls.fail.Store(true)
	advance(ttl / 3) // renewal due: it fails, and is retried
	waitUntil("a renewal is tried", func() bool { return ls.failed.Load() > 0 })
	if !holds() {
		t.Fatal("the lane stopped at the first failed renewal; want it retried")
	}
	advance(ttl/3 + time.Second) // 7s of 9: the lease still lasts
	waitUntil("the lane stops while its lease still lasts", func() bool { return !holds() })
}
