package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/chart"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/digest"
	"github.com/picketsec/picket/notifiers"
	"github.com/picketsec/picket/store"
)

// digestTrendDays is how far back the chart reaches.
const digestTrendDays = 30

// maxCatchUpSlots bounds the walk over missed slots (a minutely schedule
// down for two months).
const maxCatchUpSlots = 100_000

// digestStore is what the digest scheduler needs of the store; *store.DB
// implements it.
type digestStore interface {
	FindingSummaries(fn func(picket.FindingRecord) error) error
	AllActions() ([]picket.ActionRecord, error)
	RecentAudit(n int) ([]picket.AuditEntry, error)
	Suppressions() ([]picket.Suppression, error)
	PreviousDigestSnapshot(name string, before time.Time) (picket.DigestSnapshot, bool, error)
	DigestSnapshots(name string, from, to time.Time) ([]picket.DigestSnapshot, error)
	PutDigestSnapshot(name string, s picket.DigestSnapshot) error
	LastDigestRun(name string) (time.Time, bool, error)
	ClaimDigestRun(name string, slot time.Time) (bool, error)
	ReleaseDigestRun(name string, slot, previous time.Time) error
}

// digestPoster posts a digest with its chart; *notifiers.Slack implements
// it.
type digestPoster interface {
	PostDigest(ctx context.Context, channel string, d picket.Digest, chartPNG []byte) error
}

// digestAuditEntries is how many recent audit entries a digest reads for
// actions whose record is gone.
const digestAuditEntries = 5000

// digestJob is one configured digest with its parsed schedule.
type digestJob struct {
	cfg   config.Digest
	sched cron.Schedule
	// mu is held while the digest runs: a run still in progress is not
	// started again (TryLock), whether by cron or the start-up catch-up.
	mu sync.Mutex
}

// newDigestJobs parses every configured schedule in its time zone.
func newDigestJobs(cfgs []config.Digest) ([]*digestJob, error) {
	jobs := make([]*digestJob, 0, len(cfgs))
	for _, c := range cfgs {
		sched, err := parseDigestSchedule(c)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, &digestJob{cfg: c, sched: sched})
	}
	return jobs, nil
}

func parseDigestSchedule(c config.Digest) (cron.Schedule, error) {
	sched, err := cron.ParseStandard("CRON_TZ=" + c.Location().String() + " " + c.Spec())
	if err != nil {
		return nil, picket.Errorf(picket.EINVALID, "digest %s: schedule %q: %v", c.Name, c.Spec(), err)
	}
	return sched, nil
}

// dueSlot returns the latest slot of sched in (after, now]: the run to do
// now. Missed slots collapse into the latest, so a digest missed while the
// bot was down runs once. ok is false when no slot is due.
func dueSlot(sched cron.Schedule, after, now time.Time) (slot time.Time, ok bool) {
	for t, i := sched.Next(after), 0; !t.IsZero() && !t.After(now) && i < maxCatchUpSlots; t, i = sched.Next(t), i+1 {
		slot, ok = t, true
	}
	return slot, ok
}

// digester builds and posts digests. Its clock is injected so that the
// schedule logic runs under a fake clock in tests.
type digester struct {
	db      digestStore
	poster  digestPoster
	posture picket.PostureChecker // nil: no posture score
	now     func() time.Time
	log     *slog.Logger
	// started is when this scheduler started: without any recorded run, a
	// slot is due only after it (a fresh install does not post at once).
	started time.Time
}

// runResult says what runDue did.
type runResult string

const (
	runPosted  runResult = "posted"
	runNotDue  runResult = "not_due"
	runBusy    runResult = "still_running"
	runClaimed runResult = "claimed_elsewhere"
	runFailed  runResult = "failed"
)

// runDue posts job's digest if a slot is due and nobody else took it.
func (g *digester) runDue(ctx context.Context, job *digestJob) (runResult, error) {
	if !job.mu.TryLock() {
		g.log.Warn("digest still running, not started again", "digest", job.cfg.Name)
		return runBusy, nil
	}
	defer job.mu.Unlock()
	name := job.cfg.Name
	now := g.now()
	last, hasLast, err := g.db.LastDigestRun(name)
	if err != nil {
		return runFailed, err
	}
	after := g.started
	if hasLast {
		after = last
	}
	slot, ok := dueSlot(job.sched, after, now)
	if !ok {
		return runNotDue, nil
	}
	claimed, err := g.db.ClaimDigestRun(name, slot)
	if err != nil {
		return runFailed, err
	}
	if !claimed {
		return runClaimed, nil
	}
	from := now.Add(-digest.DefaultWindow)
	if hasLast {
		from = last
	}
	d, png, err := g.build(ctx, job.cfg, from, now)
	if err == nil {
		err = g.poster.PostDigest(ctx, job.cfg.Channel, d, png)
	}
	if errors.Is(err, notifiers.ErrDigestChart) {
		// The digest is in Slack: keep the slot, or the next tick or a
		// replica's start would post it again.
		g.log.Warn("digest posted without its chart", "digest", name, "err", err)
		err = nil
	}
	if err != nil {
		// Give the slot back so the next tick (or start) tries again.
		var prev time.Time
		if hasLast {
			prev = last
		}
		if rerr := g.db.ReleaseDigestRun(name, slot, prev); rerr != nil {
			g.log.Error("release digest run", "digest", name, "err", rerr)
		}
		return runFailed, fmt.Errorf("digest %s for %s: %w", name, slot.Format(time.RFC3339), err)
	}
	if err := g.db.PutDigestSnapshot(name, d.Snapshot); err != nil {
		g.log.Warn("save digest snapshot", "digest", name, "err", err)
	}
	g.log.Info("digest posted", "digest", name, "channel", job.cfg.Channel, "slot", slot,
		"open", d.Open.Total(), "new", d.Activity.New.Total(), "catch_up", now.Sub(slot) > time.Minute)
	return runPosted, nil
}

// build computes the digest of the window [from, to) and draws its chart
// (nil when it cannot be drawn: the digest goes without it).
func (g *digester) build(ctx context.Context, c config.Digest, from, to time.Time) (picket.Digest, []byte, error) {
	acts, err := g.db.AllActions()
	if err != nil {
		return picket.Digest{}, nil, err
	}
	audit, err := g.db.RecentAudit(digestAuditEntries)
	if err != nil {
		return picket.Digest{}, nil, err
	}
	supps, err := g.db.Suppressions()
	if err != nil {
		return picket.Digest{}, nil, err
	}
	in := digest.Input{
		Name: c.Name, Now: to, Window: to.Sub(from), Accounts: c.Accounts, MinSeverity: c.Severity(),
		Actions: acts, Audit: audit, Suppressions: supps,
	}
	if prev, ok, err := g.db.PreviousDigestSnapshot(c.Name, to); err != nil {
		return picket.Digest{}, nil, err
	} else if ok {
		in.Previous = &prev
	}
	if g.posture != nil {
		report, err := g.posture.Check(ctx, "", nil)
		if err != nil {
			g.log.Warn("digest without posture score", "digest", c.Name, "err", err)
		} else {
			in.Posture = &report
		}
	}
	var iterErr error
	in.Findings = func(yield func(picket.FindingRecord) bool) {
		err := g.db.FindingSummaries(func(r picket.FindingRecord) error {
			if !yield(r) {
				return errStopDigest
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopDigest) {
			iterErr = err
		}
	}
	d := digest.Build(in)
	if iterErr != nil {
		return picket.Digest{}, nil, iterErr
	}

	snaps, err := g.db.DigestSnapshots(c.Name, to.AddDate(0, 0, -digestTrendDays), digest.Day(to))
	if err != nil {
		g.log.Warn("digest chart without history", "digest", c.Name, "err", err)
	}
	snaps = append(snaps, d.Snapshot)
	png, err := chart.OpenBySeverity(fmt.Sprintf("Open findings by severity, last %d days", digestTrendDays), snaps)
	if err != nil {
		g.log.Warn("digest without chart", "digest", c.Name, "err", err)
		png = nil
	}
	return d, png, nil
}

var errStopDigest = errors.New("stop")

// startDigests posts the configured digests on their schedules until ctx
// ends, and returns at once. A digest missed while Picket was down runs
// once now; a slot is never posted twice (the store's claim), and a run
// still in progress is not started again. posture may be nil. The returned
// wait blocks until running digests have finished after ctx ends.
func startDigests(ctx context.Context, cfgs []config.Digest, db picket.Store, poster digestPoster,
	posture picket.PostureChecker, log *slog.Logger) (wait func(), err error) {
	jobs, err := newDigestJobs(cfgs)
	if err != nil || len(jobs) == 0 {
		return func() {}, err
	}
	g := &digester{db: db, poster: poster, posture: posture, now: time.Now, log: log, started: time.Now()}
	var wg sync.WaitGroup
	run := func(job *digestJob) {
		if _, err := g.runDue(ctx, job); err != nil {
			log.Error("digest failed", "digest", job.cfg.Name, "err", err)
		}
	}
	c := cron.New(cron.WithChain(cron.Recover(cronLogger{log})))
	for _, job := range jobs {
		// The digest's own lock skips an overlapping run; SkipIfStillRunning
		// keeps cron from queueing one behind it.
		wrapped := cron.NewChain(cron.SkipIfStillRunning(cronLogger{log})).Then(cron.FuncJob(func() { run(job) }))
		c.Schedule(job.sched, wrapped)
	}
	// Catch up on missed runs before the schedule takes over.
	for _, job := range jobs {
		wg.Add(1)
		go func() { defer wg.Done(); run(job) }()
	}
	c.Start()
	log.Info("digests scheduled", "count", len(jobs))
	done := make(chan struct{})
	go func() {
		<-ctx.Done()
		<-c.Stop().Done()
		wg.Wait()
		close(done)
	}()
	return func() { <-done }, nil
}

// cronLogger sends cron's messages to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}

// cmdDigest is `picket digest [--dry-run] [--name NAME] [--chart FILE]
// [--config FILE]`: it builds the named digest (the first configured one by
// default) from the store now. With --dry-run it prints the digest and
// writes the chart to --chart, posting nothing; without, it posts it to the
// digest's channel (this does not count as the scheduled run).
func cmdDigest(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("digest", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := configFlag(fs, e)
	dry := fs.Bool("dry-run", false, "print the digest and write the chart; post nothing")
	name := fs.String("name", "", "the digest `name` (default: the first configured)")
	chartPath := fs.String("chart", "", "write the chart PNG to this `file` (with --dry-run)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if fs.NArg() > 0 {
			fmt.Fprintf(e.stderr, "picket digest: unexpected argument %q\n", fs.Arg(0))
		}
		return exitUsage
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	dc, ok := pickDigest(cfg.Digests, *name)
	if !ok {
		if *name == "" && len(cfg.Digests) == 0 && *dry {
			dc = config.Digest{Name: "adhoc"} // a dry run needs no configured digest
		} else {
			fmt.Fprintf(e.stderr, "picket digest: no digest named %q in the configuration\n", *name)
			return exitUsage
		}
	}
	if !*dry && !cfg.SlackConfigured() {
		fmt.Fprintln(e.stderr, "picket digest: no Slack token (SLACK_BOT_TOKEN): use --dry-run to print the digest")
		return exitUsage
	}
	log := newLogger(e.stderr, cfg.Log)
	db, err := openStore(ctx, cfg, store.Options{Logger: log})
	if err != nil {
		fmt.Fprintf(e.stderr, "picket digest: %v\n", err)
		return exitFailure
	}
	defer db.Close()
	g := &digester{db: db, now: time.Now, log: log}
	now := g.now()
	d, png, err := g.build(ctx, dc, now.Add(-digest.DefaultWindow), now)
	if err != nil {
		fmt.Fprintf(e.stderr, "picket digest: %v\n", err)
		return exitFailure
	}
	if *dry {
		fmt.Fprint(e.stdout, notifiers.RenderDigestText(d))
		if *chartPath != "" && png != nil {
			if err := os.WriteFile(*chartPath, png, 0o644); err != nil {
				fmt.Fprintf(e.stderr, "picket digest: write chart: %v\n", err)
				return exitFailure
			}
			fmt.Fprintf(e.stderr, "chart written to %s\n", *chartPath)
		}
		return exitOK
	}
	s := notifiers.DialSlack(cfg.Slack.BotToken.Reveal(), cfg.Slack.APIURL, notifiers.SlackOptions{Logger: log})
	if err := s.PostDigest(ctx, dc.Channel, d, png); err != nil {
		fmt.Fprintf(e.stderr, "picket digest: %s\n", picket.ErrorMessage(err))
		log.Error("post digest", "err", err)
		return exitFailure
	}
	fmt.Fprintf(e.stderr, "digest %s posted to %s\n", dc.Name, dc.Channel)
	return exitOK
}

func pickDigest(ds []config.Digest, name string) (config.Digest, bool) {
	for _, d := range ds {
		if name == "" || d.Name == name {
			return d, true
		}
	}
	return config.Digest{}, false
}
