package triage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/metrics"
)

// Metrics counts pipeline and delivery outcomes. Nil counters are
// ignored.
type Metrics struct {
	// Posted and Updated count Slack messages posted and updated by the
	// Dispatcher (group messages included).
	Posted  *metrics.Counter
	Updated *metrics.Counter
	// Queued counts findings put in the outbox as new alerts.
	Queued       *metrics.Counter
	Deduplicated *metrics.Counter
	Recorded     *metrics.Counter
	Suppressed   *metrics.Counter
	Failed       *metrics.Counter
}

// ActionLister gives the responses taken on a finding, shown on its alert.
type ActionLister interface {
	ActionsForFinding(findingKey string) ([]picket.ActionRecord, error)
}

// Notifier is told what each committed intake put in the outbox;
// Dispatcher implements it.
type Notifier interface {
	Enqueued(res picket.IntakeResult)
}

// Committer is told about the findings of every intake the store
// committed (a redelivery of a committed message included) before
// HandleMessage returns, so before the queue message is deleted.
// actions.Autopilot implements it to queue automatic responses.
type Committer interface {
	Committed(ctx context.Context, findings []picket.Finding) error
}

// Pipeline is intake: it takes a queue message's findings to a committed
// outcome without waiting on Slack. For each finding it compares the
// finding with the stored state (new, a newer version, or a repeat or older
// version to ignore), checks suppressions and routes it; the store commits
// the new state, an outbox entry for what must be shown, and the message as
// done, in one transaction. Delivery (Dispatcher) takes it from the outbox.
// It implements picket.MessageHandler and picket.FindingHandler and is safe
// for concurrent use.
type Pipeline struct {
	store   picket.IntakeStore
	router  picket.Router
	notify  Notifier
	now     func() time.Time
	log     *slog.Logger
	metrics Metrics
	sups    picket.SuppressionStore
	after   Committer
}

// Options configures a Pipeline. Store and Router are required.
type Options struct {
	Store  picket.IntakeStore
	Router picket.Router
	// Notify, when set, is told what every commit enqueued (the
	// Dispatcher, which then delivers it at once).
	Notify Notifier
	// Suppressions, when set, keeps findings that match a rule in force
	// from being posted (they are recorded).
	Suppressions picket.SuppressionStore
	// Committed, when set, is told about the findings of every committed
	// intake; its error fails the message, which is then delivered again.
	Committed Committer
	Now       func() time.Time
	Logger    *slog.Logger
	Metrics   Metrics
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
		store: o.Store, router: o.Router, notify: o.Notify,
		now: o.Now, log: o.Logger, metrics: o.Metrics, sups: o.Suppressions, after: o.Committed,
	}, nil
}

// HandleFinding commits one finding that arrived outside a queue message
// (reconciliation, replay).
func (p *Pipeline) HandleFinding(ctx context.Context, f *picket.Finding) (picket.Outcome, error) {
	outs, err := p.HandleMessage(ctx, "", []picket.Finding{*f})
	if err != nil {
		return "", err
	}
	return outs[0], nil
}

// HandleMessage commits the findings of queue message messageID (none
// when empty) and the message as done, in one transaction shared with
// concurrent calls. It returns one outcome per finding, or nil outcomes
// when the message had been committed before. An error means nothing was
// committed: the caller keeps the message so it is delivered again.
func (p *Pipeline) HandleMessage(ctx context.Context, messageID string, findings []picket.Finding) ([]picket.Outcome, error) {
	var sups []picket.Suppression
	if p.sups != nil {
		list, err := p.sups.Suppressions()
		if err != nil {
			p.metrics.Failed.Add(int64(len(findings)))
			return nil, fmt.Errorf("load suppressions: %w", err)
		}
		sups = list
	}
	now := p.now().UTC()
	res, err := p.store.Intake(messageID, now, findings, func(f *picket.Finding, prev picket.FindingRecord, found bool) (picket.FindingRecord, picket.Outcome, bool) {
		return p.decide(f, prev, found, sups, now)
	})
	if err != nil {
		p.metrics.Failed.Add(int64(len(findings)))
		return nil, err
	}
	if res.AlreadyDone {
		p.log.Info("message already committed; nothing to do", "message_id", messageID)
		// A crash after the commit and before Committed must not lose
		// what it queues: tell it again (it is idempotent).
		return nil, p.committed(ctx, findings)
	}
	for i, out := range res.Outcomes {
		switch out {
		case picket.OutcomeQueued:
			p.metrics.Queued.Inc()
		case picket.OutcomeDuplicate:
			p.metrics.Deduplicated.Inc()
		case picket.OutcomeBelowRoute:
			p.metrics.Recorded.Inc()
		case picket.OutcomeSuppressed:
			p.metrics.Suppressed.Inc()
		}
		f := &findings[i]
		p.log.Info("finding handled", "key", f.Key, "id", f.ID, "source", f.Source,
			"type", f.Type, "severity", f.Severity.String(), "outcome", string(out))
	}
	if p.notify != nil && (len(res.Pending) > 0 || len(res.Groups) > 0) {
		p.notify.Enqueued(res)
	}
	if err := p.committed(ctx, findings); err != nil {
		return nil, err
	}
	return res.Outcomes, nil
}

// committed tells Options.Committed about the findings of a commit.
func (p *Pipeline) committed(ctx context.Context, findings []picket.Finding) error {
	if p.after == nil {
		return nil
	}
	if err := p.after.Committed(ctx, findings); err != nil {
		p.metrics.Failed.Add(int64(len(findings)))
		return fmt.Errorf("after commit: %w", err)
	}
	return nil
}

// decide is the pipeline's half of the intake transaction (picket.Decide).
func (p *Pipeline) decide(f *picket.Finding, prev picket.FindingRecord, found bool, sups []picket.Suppression, now time.Time) (picket.FindingRecord, picket.Outcome, bool) {
	rec := prev
	if !found {
		rec = picket.FindingRecord{FirstReceived: now}
	} else if !f.NewerThan(&prev.Finding) {
		// A repeat or an older version delivered late: the stored state
		// and the message already say at least this much. Count it, and
		// keep the newest state.
		rec.Deliveries++
		rec.LastReceived = now
		return rec, picket.OutcomeDuplicate, false
	}
	rec.Finding = *f
	rec.Deliveries++
	rec.LastReceived = now
	switch {
	case found && prev.Group != "" && f.Severity == picket.SeverityCritical && prev.Finding.Severity < picket.SeverityCritical:
		// A grouped finding turned Critical: Critical findings are never
		// folded, so it leaves the group for an alert of its own, routed
		// (and mentioned) as a Critical finding. The group's counts show
		// the change.
		rec.Group, rec.Ref = "", picket.MessageRef{}
		if rec.Route = p.router.Route(f); rec.Route.Channel != "" {
			return rec, picket.OutcomeQueued, true
		}
		return rec, picket.OutcomeBelowRoute, false
	case found && shownOrQueued(&prev):
		// Shown already, or waiting to be: show this version on that
		// message (or in its group), wherever routing would send the
		// finding now, so a thread never splits.
		return rec, picket.OutcomeUpdated, true
	case f.Closed():
		// Already archived, resolved, suppressed or passed when first
		// seen: nothing for a person to do, so record it quietly.
		rec.Route = picket.Route{Rule: "closed"}
		return rec, picket.OutcomeBelowRoute, false
	}
	if id := suppressedBy(sups, f, now); id != "" {
		rec.Route = picket.Route{Rule: "suppressed:" + id}
		return rec, picket.OutcomeSuppressed, false
	}
	rec.Route = p.router.Route(f)
	if rec.Route.Channel == "" {
		return rec, picket.OutcomeBelowRoute, false
	}
	return rec, picket.OutcomeQueued, true
}

// shownOrQueued reports whether the finding has a message, a group, or a
// channel it waits in the outbox for.
func shownOrQueued(rec *picket.FindingRecord) bool {
	return !rec.Ref.Zero() || rec.Group != "" || rec.Route.Channel != ""
}

// suppressedBy returns the id of a suppression rule in force that matches
// f, or "".
func suppressedBy(list []picket.Suppression, f *picket.Finding, now time.Time) string {
	for i := range list {
		if list[i].Matches(f, now) {
			return list[i].ID
		}
	}
	return ""
}
