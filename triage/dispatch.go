package triage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/metrics"
)

// Grouping says when bursts are folded into group messages. The zero value
// turns grouping off; DefaultGrouping is what Picket runs with.
type Grouping struct {
	Enabled bool
	// MinSize is how many findings of one group key (channel, type,
	// account) must wait at once for them to be folded into a group.
	MinSize int
	// MaxSeverity is the highest severity folded; Critical findings are
	// never folded whatever it says.
	MaxSeverity picket.Severity
	// Window is how long after its last new member a group still takes
	// new findings of its key.
	Window time.Duration
	// UpdateInterval is the least time between two updates of a group
	// message (chat.update has its own rate limit): changes in between are
	// shown together.
	UpdateInterval time.Duration
	// ListSize is how many members one thread reply lists.
	ListSize int
	// MaxMembers closes a group to new members once it has this many.
	MaxMembers int
}

// DefaultGrouping folds three or more waiting findings of one type and
// account, High and below, into one message for up to 15 minutes, updated
// at most every 10 seconds, listing 40 members per thread reply.
var DefaultGrouping = Grouping{
	Enabled: true, MinSize: 3, MaxSeverity: picket.SeverityHigh, Window: 15 * time.Minute,
	UpdateInterval: 10 * time.Second, ListSize: 40, MaxMembers: 50000,
}

// maxListSize keeps a thread reply within Slack's 50 blocks: one section
// per member plus a heading.
const maxListSize = 45

// DispatchMetrics are the dispatcher's counters; nil ones are ignored.
type DispatchMetrics struct {
	Posted  *metrics.Counter
	Updated *metrics.Counter
	// Grouped counts findings folded into groups.
	Grouped *metrics.Counter
	// Failures counts Slack calls that failed after the sender's retries.
	Failures *metrics.Counter
	// Recovered counts posts found in Slack after a crash lost their
	// outcome.
	Recovered *metrics.Counter
	// Latency observes, for each new alert posted, the seconds from its
	// finding's entry in the outbox (Pending.Enqueued, written at intake
	// and kept across replacements) to the post succeeding.
	Latency *metrics.Histogram
}

// DispatchOptions configures a Dispatcher. Store and Alerts are required.
type DispatchOptions struct {
	Store  picket.OutboxStore
	Alerts picket.AlertSender
	// Groups shows group messages; grouping is off without it.
	Groups   picket.GroupSender
	Enricher picket.Enricher
	Actions  ActionLister
	Grouping Grouping
	Now      func() time.Time
	Logger   *slog.Logger
	Metrics  DispatchMetrics
	// RetryBase and RetryMax bound the wait after a failed Slack call
	// before a channel tries again (doubling). Defaults 1s and 30s.
	RetryBase, RetryMax time.Duration
	// Replicas, when set, shares delivery with other replicas of Picket
	// on the same store: a channel's lane runs only while this dispatcher
	// holds the channel's lease (see Replicas). Nil: every channel is this
	// process's.
	Replicas *Replicas
}

// Dispatcher is delivery: it drains the outbox to Slack, one lane per
// channel, so one channel's backlog or failure never delays another's.
// Within a lane the most severe work goes first. When several findings of
// one group key wait together they are folded into a group message that
// later findings of the key join; the group message is updated (at most
// every UpdateInterval) as it grows and its thread lists every member with
// its own actions. Every post is recorded as in flight before it is made
// and found again after a crash (see picket.Post), so nothing is posted
// twice; everything stays in the outbox until Slack accepted it.
type Dispatcher struct {
	o DispatchOptions

	mu     sync.Mutex
	lanes  map[string]*lane
	ctx    context.Context // set by Run; lanes started before run then
	wg     sync.WaitGroup
	loaded bool
	// posted holds alerts posted whose record is still being written
	// (StartAlertPosted), so that a step reading the store before that
	// write lands still knows the message; recording counts those writes.
	posted    map[string]picket.MessageRef
	recording sync.WaitGroup
	// uncertain holds posts whose attempt failed in a way that does not
	// prove the message was not posted, with when the first attempt
	// started; before trying again, Slack is asked whether it was.
	uncertain map[string]time.Time
	// poke wakes a replica's lease loop (Replicas) when its intake
	// committed something.
	poke chan struct{}
}

// lane is one channel's share of the outbox, kept in memory for
// scheduling; the store is the truth.
type lane struct {
	channel string
	wake    chan struct{}
	pending map[string]picket.Pending
	groups  map[string]picket.Group // groups with work or taking members
	open    map[string]string       // group key -> id of the group taking members
	running bool
	// deferred holds findings and groups whose last attempt Slack refused
	// as invalid (not a channel or service problem): they wait until the
	// time given, so one bad message never stalls its channel.
	deferred map[string]deferral

	// With Replicas: the lane runs under ctx while the channel's lease is
	// held (renewed at renewed); cancel stops it and done closes when it
	// has stopped. seen holds the newest Seq of each finding the lane has
	// taken from the outbox, so that a poll of the store does not bring
	// back an entry already delivered whose removal is still being
	// written.
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	renewed time.Time
	seen    map[string]uint64
}

type deferral struct {
	until    time.Time
	failures int
}

// NewDispatcher returns a Dispatcher; call Run to start delivering.
func NewDispatcher(o DispatchOptions) (*Dispatcher, error) {
	if o.Store == nil || o.Alerts == nil {
		return nil, errors.New("dispatcher: a store and an alert sender are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RetryBase <= 0 {
		o.RetryBase = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 30 * time.Second
	}
	g := &o.Grouping
	if o.Groups == nil {
		g.Enabled = false
	}
	if g.MinSize < 2 {
		g.MinSize = 2
	}
	if g.ListSize <= 0 || g.ListSize > maxListSize {
		g.ListSize = maxListSize
	}
	if g.MaxMembers <= 0 {
		g.MaxMembers = DefaultGrouping.MaxMembers
	}
	if g.MaxSeverity >= picket.SeverityCritical {
		g.MaxSeverity = picket.SeverityHigh
	}
	return &Dispatcher{o: o, lanes: map[string]*lane{}, uncertain: map[string]time.Time{}, posted: map[string]picket.MessageRef{}}, nil
}

// Load reads what waits in the store (the outbox, open groups) into the
// lanes and settles posts a crash interrupted: each is looked for in Slack
// and, when found, recorded as made; otherwise it is made again. Run calls
// it unless it was called before; Drain callers call it first.
func (d *Dispatcher) Load(ctx context.Context) error {
	if d.o.Replicas != nil {
		return nil // each channel is loaded when its lease is taken
	}
	d.mu.Lock()
	loaded := d.loaded
	d.loaded = true
	d.mu.Unlock()
	if loaded {
		return nil
	}
	posts, err := d.o.Store.Posts()
	if err != nil {
		return err
	}
	for _, p := range posts {
		if err := d.settle(ctx, p); err != nil {
			return err
		}
	}
	groups, err := d.o.Store.OpenGroups()
	if err != nil {
		return err
	}
	pending, err := d.o.Store.Outbox()
	if err != nil {
		return err
	}
	d.mu.Lock()
	for _, g := range groups {
		d.putGroup(g)
	}
	for _, p := range pending {
		d.lane(p.Channel).add(p)
	}
	d.mu.Unlock()
	if len(pending) > 0 || len(groups) > 0 || len(posts) > 0 {
		d.o.Logger.Info("outbox loaded", "pending", len(pending), "groups", len(groups), "posts_settled", len(posts))
	}
	return nil
}

// settle decides what became of a post interrupted by a stop.
func (d *Dispatcher) settle(ctx context.Context, p picket.Post) error {
	var ref picket.MessageRef
	found := false
	if d.o.Groups != nil {
		r, ok, err := d.o.Groups.FindPost(ctx, d.channelID(p.Channel), p.Thread, p.ID, p.Started.Add(-time.Minute))
		if err != nil {
			// Without the history Picket cannot tell: post again, since
			// a duplicate is better than a lost alert.
			d.o.Logger.Warn("cannot tell whether an interrupted post reached Slack; it will be posted again",
				"post", p.ID, "channel", p.Channel, "err", err)
		}
		ref, found = r, ok && err == nil
	}
	if !found {
		return d.o.Store.AbandonPost(p.ID)
	}
	d.o.Metrics.Recovered.Inc()
	d.o.Logger.Info("interrupted post found in Slack; not posting it again", "post", p.ID, "channel", p.Channel, "ts", ref.TS)
	var err error
	switch p.Kind {
	case picket.PostAlert:
		err = d.o.Store.AlertPosted(p.ID, p.Key, p.Seq, ref)
	case picket.PostGroup:
		_, err = d.o.Store.GroupPosted(p.ID, p.Group, ref, 0, d.o.Now())
	case picket.PostGroupList:
		_, err = d.o.Store.GroupListed(p.ID, p.Group, p.To)
	default:
		err = d.o.Store.AbandonPost(p.ID)
	}
	return err
}

// Run loads the outbox (see Load) and delivers until ctx is done, then
// waits for the lanes' calls in progress to end: each may take up to
// ShutdownGrace more.
func (d *Dispatcher) Run(ctx context.Context) error {
	if d.o.Replicas != nil {
		return d.runReplica(ctx)
	}
	if err := d.Load(ctx); err != nil {
		return fmt.Errorf("dispatcher: %w", err)
	}
	d.mu.Lock()
	d.ctx = ctx
	for _, l := range d.lanes {
		d.start(l)
	}
	d.mu.Unlock()
	<-ctx.Done()
	d.wg.Wait()
	d.recording.Wait()
	return nil
}

// Enqueued implements Notifier: it adds what an intake committed to the
// lanes and wakes them.
func (d *Dispatcher) Enqueued(res picket.IntakeResult) {
	if d.o.Replicas != nil {
		d.enqueuedReplica(res)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range res.Pending {
		l := d.lane(p.Channel)
		l.add(p)
		d.wakeLane(l)
	}
	for _, g := range res.Groups {
		l := d.putGroup(g)
		d.wakeLane(l)
	}
}

// lane returns the lane of channel, creating it (and starting it when Run
// is running); the caller holds d.mu.
func (d *Dispatcher) lane(channel string) *lane {
	l := d.lanes[channel]
	if l == nil {
		l = newLane(channel)
		d.lanes[channel] = l
		if d.ctx != nil {
			d.start(l)
		}
	}
	return l
}

func newLane(channel string) *lane {
	return &lane{channel: channel, wake: make(chan struct{}, 1), pending: map[string]picket.Pending{},
		groups: map[string]picket.Group{}, open: map[string]string{}, deferred: map[string]deferral{}}
}

func (d *Dispatcher) start(l *lane) {
	if l.running {
		return
	}
	l.running = true
	ctx := d.ctx
	if l.ctx != nil {
		ctx = l.ctx
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if l.done != nil {
			defer close(l.done)
		}
		d.runLane(ctx, l)
	}()
}

func (d *Dispatcher) wakeLane(l *lane) {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// putGroup records g in its lane (a newer state of the same group
// replaces an older one); the caller holds d.mu.
func (d *Dispatcher) putGroup(g picket.Group) *lane {
	l := d.lane(g.Channel)
	if cur, ok := l.groups[g.ID]; ok && newerGroup(cur, g) {
		return l
	}
	l.groups[g.ID] = g
	// The newest group of a key is the one that takes members.
	if cur, ok := l.groups[l.open[g.Key]]; !ok || !cur.Opened.After(g.Opened) {
		l.open[g.Key] = g.ID
	}
	return l
}

// newerGroup reports whether a says more than b: every field the store
// changes only grows.
func newerGroup(a, b picket.Group) bool {
	return a.Version > b.Version || a.Shown > b.Shown || a.Listed > b.Listed || (!a.Ref.Zero() && b.Ref.Zero())
}

func (l *lane) add(p picket.Pending) {
	if cur, ok := l.pending[p.Key]; ok && cur.Seq >= p.Seq {
		return
	}
	l.pending[p.Key] = p
}

// step is one unit of a lane's work.
type step struct {
	pending *picket.Pending // a finding to post, update or fold
	group   string          // a group to post, update or list
	op      string          // for groups: "post", "update", "list"
}

// runLane works through a lane until ctx is done.
func (d *Dispatcher) runLane(ctx context.Context, l *lane) {
	failures := 0
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		d.closeQuiet(l, d.o.Now())
		d.mu.Lock()
		s, wait := d.next(l, d.o.Now(), false)
		d.mu.Unlock()
		if s == nil {
			if wait <= 0 {
				wait = time.Hour
			}
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-l.wake:
			case <-timer.C:
			}
			continue
		}
		if err := d.doGraceful(ctx, l, s); err != nil {
			if ctx.Err() != nil {
				return
			}
			if picket.ErrorCode(err) == picket.EINVALID {
				// Slack refused this message itself: set it aside and
				// go on with the rest of the channel.
				d.setAside(l, s, err)
				continue
			}
			failures++
			delay := min(d.o.RetryBase<<min(failures-1, 16), d.o.RetryMax)
			d.o.Metrics.Failures.Inc()
			d.o.Logger.Warn("slack delivery failed; the finding stays in the outbox", "channel", l.channel,
				"code", picket.ErrorCode(err), "err", err, "failures", failures, "retry_in", delay)
			timer.Reset(delay)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			continue
		}
		failures = 0
	}
}

// setAside defers a step Slack refused as invalid: 1 minute, doubling to
// 30 minutes, logged as an error each time (it needs a person).
func (d *Dispatcher) setAside(l *lane, s *step, err error) {
	id := s.group
	if s.pending != nil {
		id = s.pending.Key
	}
	d.mu.Lock()
	df := l.deferred[id]
	df.failures++
	wait := min(time.Minute<<min(df.failures-1, 5), 30*time.Minute)
	df.until = d.o.Now().Add(wait)
	l.deferred[id] = df
	d.mu.Unlock()
	d.o.Metrics.Failures.Inc()
	d.o.Logger.Error("slack refused a message; it stays in the outbox and is retried later while the channel goes on",
		"channel", l.channel, "finding_or_group", id, "err", err, "retry_in", wait)
}

// closeQuiet closes the lane's groups that have no work left and have
// taken no member for a whole window, so the next burst of their kind
// starts a new group.
func (d *Dispatcher) closeQuiet(l *lane, now time.Time) {
	d.mu.Lock()
	var quiet []picket.Group
	for _, g := range l.groups {
		if !g.Work() && now.Sub(g.LastAdded) >= d.o.Grouping.Window {
			quiet = append(quiet, g)
		}
	}
	d.mu.Unlock()
	for _, g := range quiet {
		if err := d.o.Store.CloseGroup(g.ID); err != nil {
			d.o.Logger.Warn("close group", "group", g.ID, "err", err)
			continue
		}
		d.mu.Lock()
		if cur, ok := l.groups[g.ID]; ok && !cur.Work() {
			delete(l.groups, g.ID)
			if l.open[g.Key] == g.ID {
				delete(l.open, g.Key)
			}
		}
		d.mu.Unlock()
	}
}

// ShutdownGrace is how long a Slack call in progress when Run's context
// ends may still take: a post half-way is better finished and recorded.
const ShutdownGrace = 5 * time.Second

// doGraceful runs a step with a context that outlives ctx by
// ShutdownGrace.
func (d *Dispatcher) doGraceful(ctx context.Context, l *lane, s *step) error {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(ShutdownGrace, cancel)
		context.AfterFunc(work, func() { t.Stop() })
	})
	defer stop()
	return d.do(work, l, s)
}

// post makes one post recorded as in flight: it asks Slack first whether an
// earlier, uncertain attempt landed, and keeps the in-flight record when
// the attempt fails (a restart then looks for the message instead of
// posting it twice).
func (d *Dispatcher) post(ctx context.Context, p picket.Post, send func() (picket.MessageRef, error)) (picket.MessageRef, error) {
	d.mu.Lock()
	first, check := d.uncertain[p.ID]
	d.mu.Unlock()
	if check && d.o.Groups != nil {
		ref, ok, err := d.o.Groups.FindPost(ctx, d.channelID(p.Channel), p.Thread, p.ID, first.Add(-time.Minute))
		if err == nil && ok {
			d.o.Metrics.Recovered.Inc()
			d.o.Logger.Info("an earlier attempt reached Slack; not posting again", "post", p.ID, "ts", ref.TS)
			d.forget(p.ID)
			return ref, nil
		}
	}
	if check {
		p.Started = first // a restart looks back to the first attempt
	}
	if err := d.o.Store.BeginPost(p); err != nil {
		return picket.MessageRef{}, err
	}
	ref, err := send()
	if err != nil {
		d.mu.Lock()
		if _, ok := d.uncertain[p.ID]; !ok {
			d.uncertain[p.ID] = p.Started
		}
		d.mu.Unlock()
		return picket.MessageRef{}, err
	}
	d.forget(p.ID)
	return ref, nil
}

// channelID is the id Slack uses for a configured channel, when known:
// history look-ups need it.
func (d *Dispatcher) channelID(name string) string {
	id, err := d.o.Store.ChannelID(name)
	if err != nil {
		return name
	}
	return id
}

func (d *Dispatcher) forget(id string) {
	d.mu.Lock()
	delete(d.uncertain, id)
	d.mu.Unlock()
}

// Drain delivers everything waiting, in every lane, until nothing is left,
// without waiting for group update intervals: for the demo and replay,
// which print alerts as they go. It returns the first failure.
func (d *Dispatcher) Drain(ctx context.Context) error {
	for {
		var s *step
		var l *lane
		d.mu.Lock()
		names := make([]string, 0, len(d.lanes))
		for name := range d.lanes {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if s, _ = d.next(d.lanes[name], d.o.Now(), true); s != nil {
				l = d.lanes[name]
				break
			}
		}
		d.mu.Unlock()
		if s == nil {
			// Everything delivered is also recorded when Drain returns.
			d.recording.Wait()
			return nil
		}
		if err := d.do(ctx, l, s); err != nil {
			d.recording.Wait()
			return err
		}
	}
}

// next picks a lane's most urgent work, or says how long until some is
// due. force treats every group change as due. The caller holds d.mu.
func (d *Dispatcher) next(l *lane, now time.Time, force bool) (*step, time.Duration) {
	wait := time.Duration(0)
	due := func(w time.Duration) {
		if w > 0 && (wait == 0 || w < wait) {
			wait = w
		}
	}
	held := func(id string) bool {
		df, ok := l.deferred[id]
		if !ok || force {
			return false
		}
		if w := df.until.Sub(now); w > 0 {
			due(w)
			return true
		}
		return false
	}
	var best *picket.Pending
	for k := range l.pending {
		p := l.pending[k]
		if held(k) {
			continue
		}
		if best == nil || p.Severity > best.Severity || (p.Severity == best.Severity && p.Seq < best.Seq) {
			best = &p
		}
	}
	var gs *step
	gsev := picket.Severity(-1)
	gr := d.o.Grouping
	for id, g := range l.groups {
		if held(id) {
			continue
		}
		op := ""
		switch {
		case g.Ref.Zero():
			op = "post"
		case g.Shown < g.Version:
			if w := g.ShownAt.Add(gr.UpdateInterval).Sub(now); w > 0 && !force {
				due(w)
			} else {
				op = "update"
			}
		}
		if op == "" && !g.Ref.Zero() && g.Listed < g.Members {
			// List full pages as they fill; the last partial page once
			// the group has been quiet for an update interval.
			quiet := g.LastAdded.Add(gr.UpdateInterval).Sub(now)
			if g.Members-g.Listed >= gr.ListSize || quiet <= 0 || force {
				op = "list"
			} else {
				due(quiet)
			}
		}
		if op == "" {
			if !g.Work() {
				// Closed by closeQuiet once quiet for the window.
				due(g.LastAdded.Add(gr.Window).Sub(now))
			}
			continue
		}
		sev := g.MaxSeverity()
		if gs == nil || sev > gsev || (sev == gsev && opRank(op) < opRank(gs.op)) {
			gs, gsev = &step{group: id, op: op}, sev
		}
	}
	if best != nil && (gs == nil || best.Severity >= gsev) {
		return &step{pending: best}, 0
	}
	if gs != nil {
		return gs, 0
	}
	return nil, wait
}

func opRank(op string) int {
	switch op {
	case "post":
		return 0
	case "update":
		return 1
	}
	return 2
}

// do carries out one step.
func (d *Dispatcher) do(ctx context.Context, l *lane, s *step) error {
	if s.pending != nil {
		return d.deliver(ctx, l, *s.pending)
	}
	return d.showGroup(ctx, l, s.group, s.op)
}

// drop forgets a pending entry from memory if it is still the one given.
func (d *Dispatcher) drop(l *lane, p picket.Pending) {
	d.mu.Lock()
	if cur, ok := l.pending[p.Key]; ok && cur.Seq == p.Seq {
		delete(l.pending, p.Key)
	}
	if l.seen != nil && l.seen[p.Key] < p.Seq {
		l.seen[p.Key] = p.Seq
	}
	delete(l.deferred, p.Key)
	d.mu.Unlock()
}

// deliver posts, updates or folds one pending finding.
func (d *Dispatcher) deliver(ctx context.Context, l *lane, p picket.Pending) error {
	rec, ok, err := d.o.Store.Finding(p.Key)
	if err != nil {
		return err
	}
	d.mu.Lock()
	if ref, known := d.posted[p.Key]; known && rec.Ref.Zero() {
		rec.Ref = ref // posted; its record is still being written
	}
	d.mu.Unlock()
	switch {
	case !ok:
		d.o.Logger.Error("outbox names a finding the store does not have; dropping it", "key", p.Key)
		if err := d.o.Store.AlertUpdated(p.Key, p.Seq); err != nil {
			return err
		}
		d.drop(l, p)
		return nil
	case rec.Group != "":
		// Folded into a group since it was queued: the group shows it.
		d.drop(l, p)
		return nil
	case !rec.Ref.Zero():
		if err := d.o.Alerts.UpdateAlert(ctx, rec.Ref, d.alert(ctx, &rec)); err != nil {
			if picket.ErrorCode(err) == picket.ENOTFOUND {
				// The message was deleted in Slack: nothing to update.
				d.o.Logger.Warn("alert message gone; update dropped", "key", p.Key, "channel", rec.Ref.Channel, "err", err)
				if err := d.o.Store.AlertUpdated(p.Key, p.Seq); err != nil {
					return err
				}
				d.drop(l, p)
				return nil
			}
			return err
		}
		d.o.Metrics.Updated.Inc()
		if err := d.o.Store.AlertUpdated(p.Key, p.Seq); err != nil {
			return err
		}
		d.drop(l, p)
		return nil
	}
	if folded, err := d.fold(l, p); folded || err != nil {
		return err
	}
	post := picket.Post{ID: "a:" + p.Key + ":" + strconv.FormatUint(p.Seq, 10), Kind: picket.PostAlert,
		Channel: p.Channel, Started: d.o.Now(), Key: p.Key, Seq: p.Seq}
	a := d.alert(ctx, &rec)
	a.Channel, a.PostID = p.Channel, post.ID
	ref, err := d.post(ctx, post, func() (picket.MessageRef, error) { return d.o.Alerts.PostAlert(ctx, a) })
	if err != nil {
		return err
	}
	d.o.Metrics.Posted.Inc()
	if !p.Enqueued.IsZero() {
		d.o.Metrics.Latency.Observe(d.o.Now().Sub(p.Enqueued).Seconds())
	}
	// Record the post without waiting for the disk: the lane's next
	// synced write (its next BeginPost) carries it, so a post costs one
	// fsync. Until it lands, posted answers for the store.
	wait := d.o.Store.StartAlertPosted(post.ID, p.Key, p.Seq, ref)
	d.mu.Lock()
	d.posted[p.Key] = ref
	d.mu.Unlock()
	d.drop(l, p)
	d.recording.Add(1)
	go func() {
		defer d.recording.Done()
		if err := wait(); err != nil {
			// Posted but not recorded: posted keeps the message known in
			// this process (the entry goes back to the lane and becomes
			// an update), and the in-flight record lets a restart find
			// it instead of posting it again.
			d.o.Logger.Error("alert posted but not recorded", "key", p.Key, "channel", ref.Channel, "ts", ref.TS, "err", err)
			d.mu.Lock()
			l.add(p)
			d.wakeLane(l)
			d.mu.Unlock()
			return
		}
		d.mu.Lock()
		if d.posted[p.Key] == ref {
			delete(d.posted, p.Key)
		}
		d.mu.Unlock()
	}()
	return nil
}

// fold puts p, with every other finding of its group key waiting in the
// lane, into a group: the open group of the key, or a new one when enough
// wait. It reports whether it did.
func (d *Dispatcher) fold(l *lane, p picket.Pending) (bool, error) {
	gr := d.o.Grouping
	if !gr.Enabled || !foldable(p, gr) {
		return false, nil
	}
	now := d.o.Now()
	d.mu.Lock()
	var into picket.Group
	if id, ok := l.open[p.Group]; ok {
		g := l.groups[id]
		if now.Sub(g.LastAdded) < gr.Window && g.Members < gr.MaxMembers {
			into = g
		}
	}
	var members []picket.Pending
	for _, q := range l.pending {
		if q.Group == p.Group && foldable(q, gr) {
			members = append(members, q)
		}
	}
	d.mu.Unlock()
	if into.ID == "" && len(members) < gr.MinSize {
		return false, nil
	}
	sort.Slice(members, func(i, j int) bool { return members[i].Seq < members[j].Seq })
	if into.ID != "" {
		members = members[:min(len(members), gr.MaxMembers-into.Members)]
	} else {
		into = picket.Group{Channel: l.channel, Key: p.Group}
		members = members[:min(len(members), gr.MaxMembers)]
	}
	g, joined, err := d.o.Store.FormGroup(into, members, now)
	if err != nil {
		return false, err
	}
	d.mu.Lock()
	for _, k := range joined {
		delete(l.pending, k)
	}
	if g.ID != "" {
		d.putGroup(g)
	}
	d.mu.Unlock()
	for range joined {
		d.o.Metrics.Grouped.Inc()
	}
	if len(joined) > 0 {
		d.o.Logger.Info("findings folded into a group", "group", g.ID, "channel", l.channel,
			"type", g.Type, "account", g.Account, "joined", len(joined), "members", g.Members)
	}
	// The others were skipped (already shown): the lane deals with them
	// one by one.
	return len(joined) > 0, nil
}

// foldable reports whether p may be folded into a group.
func foldable(p picket.Pending, gr Grouping) bool {
	return p.Group != "" && p.Severity < picket.SeverityCritical && p.Severity <= gr.MaxSeverity
}

// showGroup posts a group's message, updates it, or lists members in its
// thread.
func (d *Dispatcher) showGroup(ctx context.Context, l *lane, id, op string) error {
	g, ok, err := d.o.Store.Group(id)
	if err != nil {
		return err
	}
	if !ok {
		d.mu.Lock()
		delete(l.groups, id)
		d.mu.Unlock()
		return nil
	}
	now := d.o.Now()
	switch {
	case g.Ref.Zero():
		post := picket.Post{ID: "g:" + g.ID, Kind: picket.PostGroup, Channel: g.Channel, Started: now, Group: g.ID}
		ref, err := d.post(ctx, post, func() (picket.MessageRef, error) { return d.o.Groups.PostGroup(ctx, g, post.ID) })
		if err != nil {
			return err
		}
		d.o.Metrics.Posted.Inc()
		g, err = d.o.Store.GroupPosted(post.ID, g.ID, ref, g.Version, now)
		if err != nil {
			return err
		}
	case op == "update" && g.Shown < g.Version:
		if err := d.o.Groups.UpdateGroup(ctx, g); err != nil {
			return err
		}
		d.o.Metrics.Updated.Inc()
		if g, err = d.o.Store.GroupShown(g.ID, g.Version, now); err != nil {
			return err
		}
	case g.Listed < g.Members:
		members, err := d.o.Store.GroupMembers(g.ID, g.Listed, d.o.Grouping.ListSize)
		if err != nil {
			return err
		}
		to := g.Listed + len(members)
		if len(members) == 0 {
			to = g.Members // members gone from the store: nothing to list
		}
		post := picket.Post{ID: "l:" + g.ID + ":" + strconv.Itoa(g.Listed), Kind: picket.PostGroupList, Channel: g.Ref.Channel,
			Thread: g.Ref.TS, Started: now, Group: g.ID, From: g.Listed, To: to}
		if len(members) > 0 {
			_, err := d.post(ctx, post, func() (picket.MessageRef, error) {
				return g.Ref, d.o.Groups.PostGroupList(ctx, g, g.Listed, members, post.ID)
			})
			if err != nil {
				return err
			}
		}
		if g, err = d.o.Store.GroupListed(post.ID, g.ID, to); err != nil {
			return err
		}
	}
	d.mu.Lock()
	d.putGroup(g)
	delete(l.deferred, id)
	d.mu.Unlock()
	return nil
}

// alert builds what a finding's own message shows.
func (d *Dispatcher) alert(ctx context.Context, rec *picket.FindingRecord) picket.Alert {
	f := rec.Finding
	a := picket.Alert{Finding: &f, Channel: rec.Route.Channel, Mention: rec.Route.Mention}
	if !rec.Ref.Zero() {
		a.Channel = rec.Ref.Channel
	}
	if d.o.Actions != nil {
		acts, err := d.o.Actions.ActionsForFinding(f.Key)
		if err != nil {
			d.o.Logger.Warn("load actions for alert", "key", f.Key, "err", err)
		}
		a.Actions = acts
	}
	if d.o.Enricher != nil {
		a.Enrichment = d.o.Enricher.Enrich(ctx, &f)
	}
	return a
}

// Backlog is what waits for one channel.
type Backlog struct {
	Channel string
	// Pending counts findings waiting to be posted or updated on their
	// own; Oldest is when the longest-waiting one was queued.
	Pending int
	Oldest  time.Time
	// Groups counts group messages behind their members.
	Groups int
}

// Backlog returns what waits, per channel, sorted by channel.
func (d *Dispatcher) Backlog() []Backlog {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Backlog, 0, len(d.lanes))
	for name, l := range d.lanes {
		b := Backlog{Channel: name, Pending: len(l.pending)}
		for _, p := range l.pending {
			if b.Oldest.IsZero() || p.Enqueued.Before(b.Oldest) {
				b.Oldest = p.Enqueued
			}
		}
		for _, g := range l.groups {
			if g.Work() {
				b.Groups++
				if t := g.LastAdded; g.Shown < g.Version && (b.Oldest.IsZero() || t.Before(b.Oldest)) {
					b.Oldest = t
				}
			}
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Channel < out[j].Channel })
	return out
}
