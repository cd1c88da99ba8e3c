package triage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/metrics"
)

// Metrics counts pipeline outcomes. Nil counters are ignored.
type Metrics struct {
	Posted       *metrics.Counter
	Updated      *metrics.Counter
	Deduplicated *metrics.Counter
	Recorded     *metrics.Counter
	Suppressed   *metrics.Counter
	Failed       *metrics.Counter
}

// ActionLister gives the responses taken on a finding, shown on its alert.
type ActionLister interface {
	ActionsForFinding(findingKey string) ([]picket.ActionRecord, error)
}

// Pipeline takes one decoded finding to a committed outcome: it compares
// it with the stored state, routes it, enriches it, posts or updates its
// Slack message and saves the new state. It implements
// picket.FindingHandler and is safe for concurrent use: deliveries of the
// same finding are handled one at a time.
type Pipeline struct {
	store    picket.FindingStore
	router   picket.Router
	enricher picket.Enricher
	sender   picket.AlertSender
	now      func() time.Time
	log      *slog.Logger
	metrics  Metrics
	sups     picket.SuppressionStore
	actions  ActionLister
	locks    keyLocks
}

// Options configures a Pipeline. Store, Router and Sender are required.
type Options struct {
	Store    picket.FindingStore
	Router   picket.Router
	Sender   picket.AlertSender
	Enricher picket.Enricher // optional
	// Suppressions, when set, keeps findings that match a rule in force
	// from being posted (they are recorded).
	Suppressions picket.SuppressionStore
	// Actions, when set, lets updated alerts keep showing the responses
	// taken.
	Actions ActionLister
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics Metrics
}

// NewPipeline returns a Pipeline, or an error naming what is missing.
func NewPipeline(o Options) (*Pipeline, error) {
	var missing []error
	if o.Store == nil {
		missing = append(missing, errors.New("no store"))
	}
	if o.Router == nil {
		missing = append(missing, errors.New("no router"))
	}
	if o.Sender == nil {
		missing = append(missing, errors.New("no sender"))
	}
	if err := errors.Join(missing...); err != nil {
		return nil, fmt.Errorf("triage pipeline: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{
		store: o.Store, router: o.Router, enricher: o.Enricher, sender: o.Sender,
		now: o.Now, log: o.Logger, metrics: o.Metrics, sups: o.Suppressions, actions: o.Actions,
	}, nil
}

// HandleFinding processes f. It returns an error only when the outcome
// could not be committed (Slack or the store failed); the caller must then
// keep the queue message so the finding is delivered again.
func (p *Pipeline) HandleFinding(ctx context.Context, f *picket.Finding) (picket.Outcome, error) {
	unlock := p.locks.lock(f.Key)
	defer unlock()

	out, err := p.handle(ctx, f)
	if err != nil {
		p.metrics.Failed.Inc()
		return "", fmt.Errorf("finding %s (%s): %w", f.Key, f.ID, err)
	}
	switch out {
	case picket.OutcomePosted:
		p.metrics.Posted.Inc()
	case picket.OutcomeUpdated:
		p.metrics.Updated.Inc()
	case picket.OutcomeDuplicate:
		p.metrics.Deduplicated.Inc()
	case picket.OutcomeBelowRoute:
		p.metrics.Recorded.Inc()
	case picket.OutcomeSuppressed:
		p.metrics.Suppressed.Inc()
	}
	p.log.Info("finding handled", "key", f.Key, "id", f.ID, "source", f.Source,
		"type", f.Type, "severity", f.Severity.String(), "outcome", string(out))
	return out, nil
}

func (p *Pipeline) handle(ctx context.Context, f *picket.Finding) (picket.Outcome, error) {
	now := p.now().UTC()
	rec, found, err := p.store.Finding(f.Key)
	if err != nil {
		return "", fmt.Errorf("load state: %w", err)
	}
	if !found {
		rec = picket.FindingRecord{FirstReceived: now}
	} else if !f.NewerThan(&rec.Finding) {
		// A repeat or an older version delivered late: the stored state
		// and the message already say at least this much. Count it, and
		// keep the newest state.
		rec.Deliveries++
		rec.LastReceived = now
		if err := p.store.PutFinding(rec); err != nil {
			return "", fmt.Errorf("save state: %w", err)
		}
		return picket.OutcomeDuplicate, nil
	}
	rec.Finding = *f
	rec.Deliveries++
	rec.LastReceived = now

	out := picket.OutcomeBelowRoute
	switch {
	case !rec.Ref.Zero():
		// Shown already: update that message in place, wherever routing
		// would send the finding now, so a thread never splits.
		alert := p.alert(ctx, f, rec.Route)
		if err := p.sender.UpdateAlert(ctx, rec.Ref, alert); err != nil {
			return "", fmt.Errorf("update message %s/%s: %w", rec.Ref.Channel, rec.Ref.TS, err)
		}
		out = picket.OutcomeUpdated
	case f.Closed():
		// Already archived, resolved, suppressed or passed when first
		// seen: nothing for a person to do, so record it quietly.
		rec.Route = picket.Route{Rule: "closed"}
	default:
		if id, err := p.suppressedBy(f, now); err != nil {
			return "", err
		} else if id != "" {
			rec.Route = picket.Route{Rule: "suppressed:" + id}
			out = picket.OutcomeSuppressed
			break
		}
		rec.Route = p.router.Route(f)
		if rec.Route.Channel == "" {
			break
		}
		ref, err := p.sender.PostAlert(ctx, p.alert(ctx, f, rec.Route))
		if err != nil {
			return "", fmt.Errorf("post to %s: %w", rec.Route.Channel, err)
		}
		rec.Ref = ref
		out = picket.OutcomePosted
	}
	if err := p.store.PutFinding(rec); err != nil {
		// The message exists but the store does not know it: a redelivery
		// would post again. Say so loudly; the caller keeps the message.
		p.log.Error("message sent but state not saved", "key", f.Key,
			"channel", rec.Ref.Channel, "ts", rec.Ref.TS, "err", err)
		return "", fmt.Errorf("save state: %w", err)
	}
	return out, nil
}

func (p *Pipeline) alert(ctx context.Context, f *picket.Finding, rt picket.Route) picket.Alert {
	a := picket.Alert{Finding: f, Channel: rt.Channel, Mention: rt.Mention}
	if p.actions != nil {
		acts, err := p.actions.ActionsForFinding(f.Key)
		if err != nil {
			p.log.Warn("load actions for alert", "key", f.Key, "err", err)
		}
		a.Actions = acts
	}
	if p.enricher != nil {
		a.Enrichment = p.enricher.Enrich(ctx, f)
	}
	return a
}

// keyLocks serialises work on the same finding key across workers while
// letting different keys proceed in parallel.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]*keyLock)
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()

	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// suppressedBy returns the id of a suppression rule in force that matches
// f, or "".
func (p *Pipeline) suppressedBy(f *picket.Finding, now time.Time) (string, error) {
	if p.sups == nil {
		return "", nil
	}
	list, err := p.sups.Suppressions()
	if err != nil {
		return "", fmt.Errorf("load suppressions: %w", err)
	}
	for i := range list {
		if list[i].Matches(f, now) {
			return list[i].ID, nil
		}
	}
	return "", nil
}
