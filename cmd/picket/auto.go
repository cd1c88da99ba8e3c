package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/event"
)

// autoHook is the pipeline's Committed hook: the autopilot, once the
// response service it needs exists (before intake starts), else nothing.
type autoHook struct {
	p atomic.Pointer[actions.Autopilot]
}

func (h *autoHook) set(p *actions.Autopilot) {
	if p != nil {
		h.p.Store(p)
	}
}

// Committed queues the automatic responses of the committed findings.
func (h *autoHook) Committed(ctx context.Context, findings []picket.Finding) error {
	if p := h.p.Load(); p != nil {
		return p.Committed(ctx, findings)
	}
	return nil
}

// startAutopilot builds the automatic response rules' autopilot on the
// response service and runs it until ctx is done; nil when no rule is
// configured.
func startAutopilot(ctx context.Context, cfg config.Config, svc *actions.Service, db picket.Store,
	sender picket.AlertSender, log *slog.Logger, wg *sync.WaitGroup, rep *replicas) (*actions.Autopilot, error) {
	if len(cfg.Automation.Rules) == 0 {
		return nil, nil
	}
	ann, _ := sender.(picket.AutoAnnouncer)
	p, err := actions.NewAutopilot(actions.AutopilotOptions{
		Service: svc, Store: db, Rules: cfg.Automation.RuleList(), Paused: cfg.Automation.Paused,
		Announcer: ann, Tags: event.ResourceTags, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	if st, err := p.Status(); err == nil {
		for _, r := range st.Rules {
			if r.Enabled {
				log.Info("automatic response rule", "rule", r.Name, "mode", r.Mode, "actions", r.Actions,
					"budget", r.Budget, "running", st.On())
			}
		}
	}
	// Intake queues runs in every replica; one carries them out.
	rep.once(ctx, wg, "autopilot", p.Run)
	return p, nil
}
