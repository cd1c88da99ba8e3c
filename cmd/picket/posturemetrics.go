package main

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/metrics"
)

// scoredChecker is a posture checker that keeps the score of the last
// full run (every check) per account, for picket_posture_score_percent.
type scoredChecker struct {
	picket.PostureChecker

	mu     sync.Mutex
	scores map[string]float64
}

// Check runs the checks and, for a full run, records the score.
func (c *scoredChecker) Check(ctx context.Context, account string, ids []string) (picket.PostureReport, error) {
	r, err := c.PostureChecker.Check(ctx, account, ids)
	if err == nil && len(ids) == 0 {
		c.mu.Lock()
		if c.scores == nil {
			c.scores = map[string]float64{}
		}
		c.scores[cmp.Or(r.Account, account)] = r.Score()
		c.mu.Unlock()
	}
	return r, err
}

// register exposes the scores; an account appears after its first full
// run (a /picket posture or a digest).
func (c *scoredChecker) register(reg *metrics.Registry) {
	reg.GaugeFunc("picket_posture_score_percent", "Posture score of the last full run, per account: checks passed among those that ran, 0 to 100.", func() []metrics.Sample {
		c.mu.Lock()
		defer c.mu.Unlock()
		out := make([]metrics.Sample, 0, len(c.scores))
		for a, s := range c.scores {
			out = append(out, metrics.Sample{Labels: []string{"account", a}, Value: s})
		}
		slices.SortFunc(out, func(x, y metrics.Sample) int { return cmp.Compare(x.Labels[1], y.Labels[1]) })
		return out
	})
}
