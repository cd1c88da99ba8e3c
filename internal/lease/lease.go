// Package lease runs work that must happen in one replica at a time (the
// suppression sweeper, the Security Hub reconciler, pruning) under a
// picket.LeaseStore lease: the replica holding the lease runs it, renews
// the lease while it runs and stops it when the lease is lost; the others
// wait to take the lease when it is released or expires.
package lease

import (
	"context"
	"log/slog"
	"time"

	"github.com/picketsec/picket"
)

// Job is work run while its lease is held; it returns when ctx is done.
type Job func(ctx context.Context)

// Options configure Run.
type Options struct {
	Leases picket.LeaseStore
	// Name is the lease, the same in every replica ("job:sweeper").
	Name string
	// Owner names this replica; unique per process.
	Owner string
	// TTL is how long the lease lasts unless renewed (every TTL/3): the
	// longest the job stops when its replica dies. Default 15s.
	TTL time.Duration
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// KeepOnStop leaves the lease to expire instead of releasing it when
	// ctx ends: for a liveness lease, whose holder may still be finishing
	// work after it was told to stop.
	KeepOnStop bool
}

// Run runs job whenever this replica holds the lease, until ctx is done;
// then it stops the job and releases the lease. A lease that cannot be
// renewed before it expires is treated as lost: the job is stopped (and
// waited for) before another attempt to take the lease.
func Run(ctx context.Context, o Options, job Job) {
	if o.TTL <= 0 {
		o.TTL = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	every := o.TTL / 3
	tick := time.NewTicker(every)
	defer tick.Stop()
	var (
		cancel  context.CancelFunc
		done    chan struct{}
		renewed time.Time
	)
	stop := func() {
		if cancel != nil {
			cancel()
			<-done
			cancel, done = nil, nil
		}
	}
	for {
		now := o.Now()
		ok, err := o.Leases.TakeLease(o.Name, o.Owner, now, now.Add(o.TTL))
		switch {
		case err != nil && cancel != nil && o.Now().Sub(renewed) < o.TTL:
			// Timed after the call: a renewal that hung past the
			// lease's end and failed leaves nothing to retry.
			o.Logger.Warn("renewing a lease failed; retrying", "lease", o.Name, "err", err)
		case err != nil || !ok:
			if cancel != nil {
				o.Logger.Warn("lease lost; another replica takes over", "lease", o.Name, "err", err)
				stop()
			} else if err != nil {
				o.Logger.Warn("taking a lease failed", "lease", o.Name, "err", err)
			}
		default:
			renewed = now
			if cancel == nil {
				o.Logger.Info("lease taken; running", "lease", o.Name)
				var jctx context.Context
				jctx, cancel = context.WithCancel(ctx)
				done = make(chan struct{})
				go func(ctx context.Context, done chan struct{}) {
					defer close(done)
					job(ctx)
				}(jctx, done)
			}
		}
		select {
		case <-ctx.Done():
			held := cancel != nil
			stop()
			if held && !o.KeepOnStop {
				if err := o.Leases.ReleaseLease(o.Name, o.Owner); err != nil {
					o.Logger.Warn("releasing a lease failed", "lease", o.Name, "err", err)
				}
			}
			return
		case <-tick.C:
		}
	}
}
