package notifiers_test

import (
	"context"
	"testing"

	"github.com/picketsec/picket/metrics"
	"github.com/picketsec/picket/notifiers"
)

// TestSlackObservesCallsByMethodAndOutcome checks that every Web API call,
// retried ones included, is observed under its method and outcome.
func TestSlackObservesCallsByMethodAndOutcome(t *testing.T) {
	rec := newRecorder(t, rateLimitedReply, okReply, serverErrorReply, okReply)
	calls := metrics.NewHistogramVec([]string{"method", "outcome"}, 1)
	s := newSender(rec.client(), notifiers.SlackOptions{Calls: calls})
	ref, err := s.sender.PostAlert(context.Background(), sampleAlert("#security"))
	if err != nil {
		t.Fatalf("PostAlert: %v", err)
	}
	if err := s.sender.UpdateAlert(context.Background(), ref, sampleAlert("#security")); err != nil {
		t.Fatalf("UpdateAlert: %v", err)
	}
	for _, tc := range []struct {
		method, outcome string
		want            uint64
	}{
		{"chat.postMessage", "rate_limited", 1},
		{"chat.postMessage", "ok", 1},
		{"chat.update", "error", 1},
		{"chat.update", "ok", 1},
		{"chat.update", "rate_limited", 0},
	} {
		t.Run(tc.method+"/"+tc.outcome, func(t *testing.T) {
			if got := calls.Count(tc.method, tc.outcome); got != tc.want {
				t.Errorf("got %d calls, want %d", got, tc.want)
			}
		})
	}
}
