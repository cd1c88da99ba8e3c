package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/internal/lease"
	"github.com/picketsec/picket/triage"
)

// replicaTTL is how long a replica's leases (its liveness, its channels,
// the jobs it runs for all) outlast it: the longest its work waits for
// another replica after it dies.
const replicaTTL = 15 * time.Second

// replicas is how this process shares a DynamoDB store with the other
// replicas of Picket. Every replica consumes the queue, answers Slack and
// runs clicks (claims keep each action single); delivery is split by
// channel lease (triage.Replicas); the work that must run once for all
// (the sweeper and recovery of dead replicas' actions, the Security Hub
// reconciler, automatic rules) runs in the replica holding its job lease.
// A nil *replicas is one process on bbolt: everything runs here.
type replicas struct {
	leases picket.LeaseStore
	id     string
	log    *slog.Logger
}

// newReplicas returns the replica set of this process when the store is
// shared (DynamoDB), nil otherwise.
func newReplicas(cfg config.Config, leases picket.LeaseStore, log *slog.Logger) *replicas {
	if cfg.Store.Backend != config.StoreDynamoDB {
		return nil
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "picket"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	r := &replicas{leases: leases, id: host + "-" + hex.EncodeToString(b[:]), log: log}
	log.Info("sharing the store with other replicas", "replica", r.id, "lease_ttl", replicaTTL)
	return r
}

// owner is this replica's name in leases and action records; "" alone.
func (r *replicas) owner() string {
	if r == nil {
		return ""
	}
	return r.id
}

// live holds this replica's liveness lease until ctx is done, so that the
// others can tell it is running (see gone).
func (r *replicas) live(ctx context.Context, wg *sync.WaitGroup) {
	if r == nil {
		return
	}
	wg.Go(func() {
		// Kept on stop: clicks still being finished after SIGTERM must not
		// look abandoned to the others; it expires replicaTTL later.
		lease.Run(ctx, lease.Options{Leases: r.leases, Name: "replica:" + r.id, Owner: r.id, TTL: replicaTTL, Logger: r.log,
			KeepOnStop: true}, func(ctx context.Context) { <-ctx.Done() })
	})
}

// gone reports whether replica runner is gone: its liveness lease has
// expired (or was released when it stopped), so taking it succeeds.
func (r *replicas) gone(runner string) bool {
	now := time.Now()
	reaper := "reaper:" + r.id
	ok, err := r.leases.TakeLease("replica:"+runner, reaper, now, now.Add(time.Second))
	if err != nil {
		r.log.Warn("cannot tell whether a replica is gone", "replica", runner, "err", err)
		return false
	}
	if ok {
		if err := r.leases.ReleaseLease("replica:"+runner, reaper); err != nil {
			r.log.Warn("release a gone replica's lease", "replica", runner, "err", err)
		}
	}
	return ok
}

// goneFunc is gone for actions.ServiceOptions.RunnerGone; nil alone.
func (r *replicas) goneFunc() func(string) bool {
	if r == nil {
		return nil
	}
	return r.gone
}

// once runs job until ctx is done: here when alone, otherwise in the one
// replica that holds the job's lease.
func (r *replicas) once(ctx context.Context, wg *sync.WaitGroup, name string, job lease.Job) {
	if r == nil {
		wg.Go(func() { job(ctx) })
		return
	}
	wg.Go(func() {
		lease.Run(ctx, lease.Options{Leases: r.leases, Name: "job:" + name, Owner: r.id, TTL: replicaTTL, Logger: r.log}, job)
	})
}

// delivery shares delivery by channel lease; nil alone.
func (r *replicas) delivery(cfg config.Config) *triage.Replicas {
	if r == nil {
		return nil
	}
	channels := []string{cfg.Slack.DefaultChannel}
	for _, rt := range cfg.Routes {
		channels = append(channels, rt.Channel)
	}
	return &triage.Replicas{Leases: r.leases, Owner: r.id, TTL: replicaTTL, Channels: channels}
}

// recoverEvery closes (or follows again) the actions dead replicas left
// running, every interval until ctx is done.
func recoverEvery(ctx context.Context, svc interface{ Recover(context.Context) int }, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := svc.Recover(ctx); n > 0 {
				log.Warn("closed actions a stopped replica left running", "count", n)
			}
		}
	}
}

// replayGuard is the lease store that makes the Slack HTTP replay guard
// shared by all replicas; nil alone (the guard in memory suffices).
func (r *replicas) replayGuard() picket.LeaseStore {
	if r == nil {
		return nil
	}
	return r.leases
}

// store is db when it is shared with other replicas; nil alone.
func (r *replicas) store(db picket.Store) picket.Store {
	if r == nil {
		return nil
	}
	return db
}
