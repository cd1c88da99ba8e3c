package triage

import (
	"context"
	"errors"
	"time"

	"github.com/picketsec/picket"
)

// Replicas configures a Dispatcher that shares its store with other
// replicas of Picket. Every replica takes findings from the queue and
// commits them to the shared outbox; each channel is delivered by the one
// replica that holds the channel's lease. One writer per channel is what
// keeps Slack's per-channel pace for all replicas together and keeps a
// channel's groups (which fold the channel's waiting findings) in one
// place; a shared token bucket would keep the pace but let two replicas
// fold the same burst into two groups. A replica that stops (SIGTERM)
// releases its leases; one that dies stops renewing them and the others
// take its channels when they expire, settling the posts it left in
// flight the way a restart does (Dispatcher.Load).
type Replicas struct {
	Leases picket.LeaseStore
	// Owner names this replica in its leases; unique per process.
	Owner string
	// TTL is how long a lease lasts unless renewed (every TTL/3): the
	// longest a dead replica's channels wait. Default 15s.
	TTL time.Duration
	// Poll is how often the shared outbox is read for work other
	// replicas committed and for channels without a holder. Default 2s;
	// this replica's own intake wakes the poll at once.
	Poll time.Duration
	// Channels are taken from the start even while nothing waits for
	// them (the configured channels), so that the first finding of a
	// channel does not wait for a poll.
	Channels []string
}

// leaseName is the lease that gives a replica a channel.
func leaseName(channel string) string { return "channel:" + channel }

// runReplica is Run for a dispatcher with Replicas: it takes, renews and
// gives up channel leases and keeps each held lane fed from the shared
// outbox until ctx is done, then releases what it holds.
func (d *Dispatcher) runReplica(ctx context.Context) error {
	r := d.o.Replicas
	if r.Leases == nil || r.Owner == "" {
		return errors.New("dispatcher: replicas need a lease store and an owner name")
	}
	if r.TTL <= 0 {
		r.TTL = 15 * time.Second
	}
	if r.Poll <= 0 {
		r.Poll = 2 * time.Second
	}
	d.mu.Lock()
	d.ctx = ctx
	d.loaded = true
	if d.poke == nil {
		d.poke = make(chan struct{}, 1)
	}
	poke := d.poke
	d.mu.Unlock()
	tick := time.NewTicker(min(r.Poll, r.TTL/3))
	defer tick.Stop()
	for {
		if err := d.syncLeases(ctx); err != nil && ctx.Err() == nil {
			d.o.Logger.Warn("reading the shared outbox failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			d.wg.Wait()
			d.recording.Wait()
			d.releaseAll()
			return nil
		case <-tick.C:
		case <-poke:
		}
	}
}

// syncLeases reads the shared outbox, renews the leases held (stopping a
// lane whose lease was lost), takes the free channels that have work and
// hands held lanes what other replicas queued.
func (d *Dispatcher) syncLeases(ctx context.Context) error {
	r := d.o.Replicas
	// Renewed before the reads, which may fail or be slow: a held lane
	// must not outlive its lease because the outbox could not be read.
	d.renewHeld(ctx)
	posts, err := d.o.Store.Posts()
	if err != nil {
		return err
	}
	groups, err := d.o.Store.OpenGroups()
	if err != nil {
		return err
	}
	type work struct {
		posts   []picket.Post
		groups  []picket.Group
		pending []picket.Pending
		// keys are every finding with an entry for the channel; refs,
		// with an indexed outbox, the entries not fetched yet.
		keys map[string]bool
		refs []picket.OutboxRef
	}
	byChannel := map[string]*work{}
	at := func(ch string) *work {
		w := byChannel[ch]
		if w == nil {
			w = &work{}
			byChannel[ch] = w
		}
		return w
	}
	for _, c := range r.Channels {
		at(c)
	}
	for _, p := range posts {
		at(p.Channel).posts = append(at(p.Channel).posts, p)
	}
	for _, g := range groups {
		at(g.Channel).groups = append(at(g.Channel).groups, g)
	}
	index, _ := d.o.Store.(picket.OutboxIndex)
	if index == nil {
		pending, err := d.o.Store.Outbox()
		if err != nil {
			return err
		}
		for _, p := range pending {
			w := at(p.Channel)
			w.pending = append(w.pending, p)
		}
	} else {
		// Only the index: entries are fetched below, for the channels
		// this replica delivers, and only those it has not taken.
		refs, err := index.OutboxRefs()
		if err != nil {
			return err
		}
		for _, ref := range refs {
			if ref.Channel != "" {
				at(ref.Channel).refs = append(at(ref.Channel).refs, ref)
				continue
			}
			// An index written before it named the channel.
			p, ok, err := index.PendingOf(ref.Key)
			if err != nil {
				return err
			}
			if ok {
				w := at(p.Channel)
				w.pending = append(w.pending, p)
			}
		}
	}
	for _, w := range byChannel {
		w.keys = map[string]bool{}
		for _, p := range w.pending {
			w.keys[p.Key] = true
		}
		for _, ref := range w.refs {
			w.keys[ref.Key] = true
		}
	}
	// fetch adds to w.pending the indexed entries newer than seen gives.
	fetch := func(w *work, seen func(key string) uint64) error {
		for _, ref := range w.refs {
			if ref.Seq <= seen(ref.Key) {
				continue
			}
			p, ok, err := index.PendingOf(ref.Key)
			if err != nil {
				return err
			}
			if ok {
				w.pending = append(w.pending, p)
			}
		}
		w.refs = nil
		return nil
	}

	d.mu.Lock()
	for ch := range d.lanes {
		at(ch)
	}
	d.mu.Unlock()

	for ch, w := range byChannel {
		if ctx.Err() != nil {
			return nil
		}
		now := d.o.Now()
		d.mu.Lock()
		l := d.lanes[ch]
		d.mu.Unlock()
		if l != nil {
			if len(w.refs) > 0 {
				err := fetch(w, func(key string) uint64 {
					d.mu.Lock()
					defer d.mu.Unlock()
					return l.seen[key]
				})
				if err != nil {
					return err
				}
			}
			d.mu.Lock()
			d.merge(l, w.groups, w.pending, w.keys)
			d.mu.Unlock()
			continue
		}
		ok, err := r.Leases.TakeLease(leaseName(ch), r.Owner, now, now.Add(r.TTL))
		if err != nil {
			d.o.Logger.Warn("taking a channel lease failed", "channel", ch, "err", err)
			continue
		}
		if !ok {
			continue // another replica delivers it
		}
		if len(w.refs) > 0 {
			if err := fetch(w, func(string) uint64 { return 0 }); err != nil {
				d.o.Logger.Warn("reading a channel's outbox failed; releasing it", "channel", ch, "err", err)
				if err := r.Leases.ReleaseLease(leaseName(ch), r.Owner); err != nil {
					d.o.Logger.Warn("releasing a channel lease failed", "channel", ch, "err", err)
				}
				continue
			}
		}
		if err := d.takeLane(ctx, ch, now, w.posts, w.groups, w.pending); err != nil {
			d.o.Logger.Warn("taking over a channel failed; releasing it", "channel", ch, "err", err)
			if err := r.Leases.ReleaseLease(leaseName(ch), r.Owner); err != nil {
				d.o.Logger.Warn("releasing a channel lease failed", "channel", ch, "err", err)
			}
		}
	}
	return nil
}

// renewHeld renews the leases of the held lanes that are due (every
// TTL/3) and stops each lane whose lease is lost, or could not be renewed
// for two thirds of the TTL: the last third is the lane's time to stop
// (a post under way) and room for clock skew, before another replica
// may take the channel.
func (d *Dispatcher) renewHeld(ctx context.Context) {
	r := d.o.Replicas
	d.mu.Lock()
	held := make([]*lane, 0, len(d.lanes))
	for _, l := range d.lanes {
		held = append(held, l)
	}
	d.mu.Unlock()
	for _, l := range held {
		if ctx.Err() != nil {
			return
		}
		now := d.o.Now()
		if now.Sub(l.renewed) < r.TTL/3 {
			continue
		}
		ok, err := r.Leases.TakeLease(leaseName(l.channel), r.Owner, now, now.Add(r.TTL))
		switch {
		case err != nil && d.o.Now().Sub(l.renewed) < r.TTL-r.TTL/3:
			d.o.Logger.Warn("renewing a channel lease failed; retrying", "channel", l.channel, "err", err)
		case err != nil || !ok:
			d.o.Logger.Warn("channel lease lost; another replica delivers the channel", "channel", l.channel, "err", err)
			d.stopLane(l)
		default:
			l.renewed = now
		}
	}
}

// takeLane starts delivering channel, whose lease was just taken: posts
// the previous holder left in flight are settled first (see Load), then
// the lane starts with what waits.
func (d *Dispatcher) takeLane(ctx context.Context, channel string, now time.Time, posts []picket.Post, groups []picket.Group, pending []picket.Pending) error {
	for _, p := range posts {
		if err := d.settle(ctx, p); err != nil {
			return err
		}
	}
	lctx, cancel := context.WithCancel(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	l := newLane(channel)
	l.ctx, l.cancel, l.done, l.renewed, l.seen = lctx, cancel, make(chan struct{}), now, map[string]uint64{}
	d.lanes[channel] = l
	keys := make(map[string]bool, len(pending))
	for _, p := range pending {
		keys[p.Key] = true
	}
	d.merge(l, groups, pending, keys)
	d.start(l)
	if len(pending) > 0 || len(groups) > 0 || len(posts) > 0 {
		d.o.Logger.Info("channel taken", "channel", channel, "pending", len(pending), "groups", len(groups), "posts_settled", len(posts))
	}
	return nil
}

// merge hands a held lane the channel's groups and outbox entries read
// from the store; entries the lane already took are skipped, and seen
// forgets the findings no longer in the outbox (inOutbox: every finding
// with an entry for the channel). The caller holds d.mu.
func (d *Dispatcher) merge(l *lane, groups []picket.Group, pending []picket.Pending, inOutbox map[string]bool) {
	for _, g := range groups {
		d.putGroup(g)
	}
	woke := len(groups) > 0
	for _, p := range pending {
		if p.Seq <= l.seen[p.Key] {
			continue
		}
		l.seen[p.Key] = p.Seq
		l.add(p)
		woke = true
	}
	for k := range l.seen {
		if !inOutbox[k] {
			delete(l.seen, k)
		}
	}
	if woke {
		d.wakeLane(l)
	}
}

// stopLane stops a lane whose lease is lost and forgets it; a later take
// of the lease starts from the store.
func (d *Dispatcher) stopLane(l *lane) {
	l.cancel()
	<-l.done
	d.mu.Lock()
	if d.lanes[l.channel] == l {
		delete(d.lanes, l.channel)
	}
	d.mu.Unlock()
}

// releaseAll gives up every lease this replica holds, so that the others
// take its channels at once instead of when the leases expire.
func (d *Dispatcher) releaseAll() {
	r := d.o.Replicas
	d.mu.Lock()
	names := make([]string, 0, len(d.lanes))
	for ch := range d.lanes {
		names = append(names, ch)
	}
	d.mu.Unlock()
	for _, ch := range names {
		if err := r.Leases.ReleaseLease(leaseName(ch), r.Owner); err != nil {
			d.o.Logger.Warn("releasing a channel lease failed", "channel", ch, "err", err)
		}
	}
}

// enqueuedReplica is Enqueued with Replicas: what this replica's intake
// committed goes to its lane when this replica holds the channel; for a
// channel it does not hold the poll is woken, to take the channel if it
// is free or to leave the work to the replica holding it.
func (d *Dispatcher) enqueuedReplica(res picket.IntakeResult) {
	d.mu.Lock()
	defer d.mu.Unlock()
	held := func(ch string) *lane {
		l := d.lanes[ch]
		if l == nil || l.ctx == nil {
			return nil
		}
		return l
	}
	unheld := false
	for _, p := range res.Pending {
		l := held(p.Channel)
		unheld = unheld || l == nil
		if l != nil && p.Seq > l.seen[p.Key] {
			l.seen[p.Key] = p.Seq
			l.add(p)
			d.wakeLane(l)
		}
	}
	for _, g := range res.Groups {
		l := held(g.Channel)
		unheld = unheld || l == nil
		if l != nil {
			d.putGroup(g)
			d.wakeLane(l)
		}
	}
	if !unheld {
		// All in lanes held here: a poll would only read again what
		// was just handed over, a whole outbox read per intake in a
		// storm.
		return
	}
	if d.poke == nil {
		d.poke = make(chan struct{}, 1)
	}
	select {
	case d.poke <- struct{}{}:
	default:
	}
}
