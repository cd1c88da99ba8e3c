package bot

import (
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/metrics"
)

// Limits of the bookkeeping of refused requests.
const (
	// refusalLogEvery is the least time between two log lines about
	// refused requests; the refusals in between are counted in the next.
	refusalLogEvery = 10 * time.Second
	// defaultRefusalAuditEvery is how often, at most, refused requests
	// are summed up in one audit entry.
	defaultRefusalAuditEvery = 10 * time.Minute
	// maxRefusalUsers is how many user ids of verified but refused
	// requests one audit entry names.
	maxRefusalUsers = 10
)

// refusals counts requests Picket refused before they reached an action
// and writes at most one audit entry about them per period, however many
// arrive. An unsigned request costs a counter increment and, at most
// every refusalLogEvery, a log line; it never writes the store on its own,
// so a flood of them cannot fill the data volume.
type refusals struct {
	now     func() time.Time
	every   time.Duration
	record  func(picket.Actor, string)
	counter *metrics.Counter
	log     *slog.Logger

	mu       sync.Mutex
	counts   map[string]int // reason -> count since the last audit entry
	users    []string       // verified user ids among them, at most maxRefusalUsers
	since    time.Time
	timer    *time.Timer
	lastLog  time.Time
	unlogged int
}

// add counts one refused request. userID is the person behind it only
// when the request was verified (signed by Slack, or over Socket Mode);
// it is "" otherwise, because an unverified body names whoever its sender
// likes.
func (r *refusals) add(reason, detail, userID string) {
	r.counter.Inc()
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if r.lastLog.IsZero() || now.Sub(r.lastLog) >= refusalLogEvery || now.Before(r.lastLog) {
		r.log.Warn("refused Slack request", "reason", reason, "detail", clip(detail, 200),
			"user", clip(userID, 32), "refused_unlogged_before", r.unlogged)
		r.lastLog, r.unlogged = now, 0
	} else {
		r.unlogged++
	}
	if r.counts == nil {
		r.counts, r.since = map[string]int{}, now
		r.timer = time.AfterFunc(r.every, r.flush)
	}
	r.counts[reason]++
	if userID != "" && len(r.users) < maxRefusalUsers && !slices.Contains(r.users, userID) {
		r.users = append(r.users, clip(userID, 32))
	}
}

// flush writes the audit entry summing up the refusals counted since the
// last one, if any.
func (r *refusals) flush() {
	r.mu.Lock()
	counts, users, since := r.counts, r.users, r.since
	r.counts, r.users = nil, nil
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	until := r.now()
	r.mu.Unlock()
	if len(counts) == 0 {
		return
	}
	r.record(picket.Actor{ID: "picket"}, refusalSummary(counts, users, since, until))
}

// refusalSummary is the detail of the audit entry: "refused 2000 Slack
// requests between ... and ...: bad signature 1990, stale timestamp 10".
func refusalSummary(counts map[string]int, users []string, since, until time.Time) string {
	reasons := make([]string, 0, len(counts))
	total := 0
	for reason, n := range counts {
		reasons = append(reasons, reason)
		total += n
	}
	sort.Strings(reasons)
	parts := make([]string, len(reasons))
	for i, reason := range reasons {
		parts[i] = fmt.Sprintf("%s %d", reason, counts[reason])
	}
	word := "requests"
	if total == 1 {
		word = "request"
	}
	s := fmt.Sprintf("refused %d Slack %s between %s and %s: %s", total, word,
		since.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339), strings.Join(parts, ", "))
	if len(users) > 0 {
		s += "; signed requests refused from " + strings.Join(users, ", ")
	}
	return s
}
