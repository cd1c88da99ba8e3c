package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/notifiers"
	"github.com/picketsec/picket/store"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load time zone %s (the binary embeds time/tzdata): %v", name, err)
	}
	return loc
}

func TestDueSlot(t *testing.T) {
	paris := mustLoc(t, "Europe/Paris")
	daily := config.Digest{Name: "daily", Schedule: "0 9 * * *", Timezone: "Europe/Paris"}
	sched, err := parseDigestSchedule(daily)
	if err != nil {
		t.Fatal(err)
	}
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, paris) }
	tests := []struct {
		name       string
		after, now time.Time
		wantOK     bool
		want       time.Time
	}{
		{"before 09:00", at(2026, 3, 27, 9, 0), at(2026, 3, 28, 8, 59), false, time.Time{}},
		{"at 09:00", at(2026, 3, 27, 9, 0), at(2026, 3, 28, 9, 0), true, at(2026, 3, 28, 9, 0)},
		// Clocks go forward on 29 March 2026: 09:00 CEST is 07:00 UTC, not 08:00.
		{"across DST start", at(2026, 3, 28, 9, 0), at(2026, 3, 29, 9, 30), true, time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC)},
		{"08:59 CEST is not yet due", at(2026, 3, 28, 9, 0), time.Date(2026, 3, 29, 6, 59, 0, 0, time.UTC), false, time.Time{}},
		// Clocks go back on 25 October 2026: 09:00 CET is 08:00 UTC.
		{"across DST end", at(2026, 10, 24, 9, 0), time.Date(2026, 10, 25, 8, 0, 0, 0, time.UTC), true, time.Date(2026, 10, 25, 8, 0, 0, 0, time.UTC)},
		{"missed days collapse to the latest", at(2026, 3, 1, 9, 0), at(2026, 3, 5, 10, 0), true, at(2026, 3, 5, 9, 0)},
		{"already ran", at(2026, 3, 5, 9, 0), at(2026, 3, 5, 23, 0), false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := dueSlot(sched, tt.after, tt.now)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Errorf("got %v %v, want %v %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
	if _, err := parseDigestSchedule(config.Digest{Name: "x", Schedule: "61 9 * * *"}); picket.ErrorCode(err) != picket.EINVALID {
		t.Errorf("bad spec: got %v, want EINVALID", err)
	}
}

// clock is a fake clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// posts records digests; block, when set, holds PostDigest until closed.
type posts struct {
	mu      sync.Mutex
	got     []picket.Digest
	charts  [][]byte
	block   chan struct{}
	entered chan struct{}
	fail    error
}

func (p *posts) PostDigest(ctx context.Context, channel string, d picket.Digest, chartPNG []byte) error {
	if p.entered != nil {
		p.entered <- struct{}{}
	}
	if p.block != nil {
		<-p.block
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.got = append(p.got, d)
	p.charts = append(p.charts, chartPNG)
	return nil
}

func (p *posts) count() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.got) }

func openDigestStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "picket.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func newTestDigester(t *testing.T, db *store.DB, clk *clock, p *posts) (*digester, *digestJob) {
	t.Helper()
	jobs, err := newDigestJobs([]config.Digest{{Name: "daily", Channel: "#security", Timezone: "Europe/Paris"}})
	if err != nil {
		t.Fatal(err)
	}
	g := &digester{db: db, poster: p, now: clk.Now, log: slog.New(slog.DiscardHandler), started: clk.Now()}
	return g, jobs[0]
}

func TestDigestSchedule(t *testing.T) {
	paris := mustLoc(t, "Europe/Paris")
	db := openDigestStore(t)
	rec := picket.FindingRecord{Finding: picket.Finding{Key: "k1", ID: "k1", Severity: picket.SeverityCritical,
		Title: "open", Account: "111111111111", CreatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		FirstReceived: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	if err := db.PutFinding(rec); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, paris)} // a fresh install, started at 08:00
	p := &posts{}
	g, job := newTestDigester(t, db, clk, p)
	ctx := context.Background()

	steps := []struct {
		name  string
		now   time.Time
		want  runResult
		posts int
	}{
		{"fresh install does not post at once", time.Date(2026, 3, 1, 8, 0, 0, 0, paris), runNotDue, 0},
		{"first 09:00", time.Date(2026, 3, 1, 9, 0, 0, 0, paris), runPosted, 1},
		{"same slot, later tick", time.Date(2026, 3, 1, 9, 0, 30, 0, paris), runNotDue, 1},
		// Down from 2 to 5 March: one catch-up post, not four.
		{"catch-up after downtime", time.Date(2026, 3, 5, 11, 0, 0, 0, paris), runPosted, 2},
		{"catch-up runs once", time.Date(2026, 3, 5, 11, 0, 1, 0, paris), runNotDue, 2},
		{"next day", time.Date(2026, 3, 6, 9, 0, 0, 0, paris), runPosted, 3},
	}
	for _, s := range steps {
		clk.Set(s.now)
		got, err := g.runDue(ctx, job)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got != s.want || p.count() != s.posts {
			t.Errorf("%s: got %s with %d posts, want %s with %d", s.name, got, p.count(), s.want, s.posts)
		}
	}
	last, _, _ := db.LastDigestRun("daily")
	if want := time.Date(2026, 3, 6, 9, 0, 0, 0, paris); !last.Equal(want) {
		t.Errorf("last run: got %v, want %v", last, want)
	}
	// The catch-up digest covers the whole downtime, and compares with the
	// snapshot of the digest before it.
	d := p.got[1]
	if want := time.Date(2026, 3, 1, 9, 0, 0, 0, paris); !d.From.Equal(want) {
		t.Errorf("catch-up window starts %v, want %v (the last run)", d.From, want)
	}
	if !d.HasPrevious || d.Open[picket.SeverityCritical] != 1 || d.OpenChange[picket.SeverityCritical] != 0 {
		t.Errorf("second digest: got previous=%v open=%v change=%v, want a previous snapshot and 1 Critical unchanged",
			d.HasPrevious, d.Open, d.OpenChange)
	}
	for i, c := range p.charts {
		img, err := png.Decode(bytes.NewReader(c))
		if err != nil {
			t.Fatalf("chart %d: %v", i, err)
		}
		if img.Bounds().Dx() < 400 || img.Bounds().Dy() < 200 {
			t.Errorf("chart %d: got %v, want a readable size", i, img.Bounds())
		}
	}
	snaps, err := db.DigestSnapshots("daily", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || len(snaps) != 3 {
		t.Errorf("snapshots: got %d, %v, want 3 (one per post)", len(snaps), err)
	}
}

func TestDigestNoDoublePost(t *testing.T) {
	db := openDigestStore(t)
	paris := mustLoc(t, "Europe/Paris")
	clk := &clock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, paris)}
	p := &posts{}
	// Two schedulers (say, an old and a new process during a deploy, or
	// cron and the start-up catch-up) with their own jobs, one store.
	g1, job1 := newTestDigester(t, db, clk, p)
	g2, job2 := newTestDigester(t, db, clk, p)
	clk.Set(time.Date(2026, 3, 1, 9, 0, 0, 0, paris))
	var wg sync.WaitGroup
	results := make([]runResult, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, job := g1, job1
			if i%2 == 1 {
				g, job = g2, job2
			}
			r, err := g.runDue(context.Background(), job)
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	if got := p.count(); got != 1 {
		t.Errorf("posts: got %d, want 1 (results %v)", got, results)
	}
}

func TestDigestOverlapSkipped(t *testing.T) {
	db := openDigestStore(t)
	clk := &clock{t: time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)}
	p := &posts{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	g, job := newTestDigester(t, db, clk, p)
	clk.Set(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)) // 09:00 in Paris
	done := make(chan runResult)
	go func() {
		r, _ := g.runDue(context.Background(), job)
		done <- r
	}()
	<-p.entered // the first run is posting
	clk.Set(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	if got, _ := g.runDue(context.Background(), job); got != runBusy {
		t.Errorf("second run while the first posts: got %s, want %s", got, runBusy)
	}
	close(p.block)
	if got := <-done; got != runPosted {
		t.Errorf("first run: got %s, want %s", got, runPosted)
	}
}

func TestDigestFailedPostRetried(t *testing.T) {
	db := openDigestStore(t)
	clk := &clock{t: time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)}
	p := &posts{fail: errors.New("slack down")}
	g, job := newTestDigester(t, db, clk, p)
	clk.Set(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	if got, err := g.runDue(context.Background(), job); got != runFailed || err == nil {
		t.Fatalf("failing post: got %s %v, want %s and an error", got, err, runFailed)
	}
	if _, ok, _ := db.LastDigestRun("daily"); ok {
		t.Errorf("failed post kept its claim, want it released")
	}
	p.fail = nil
	clk.Set(time.Date(2026, 3, 1, 8, 1, 0, 0, time.UTC))
	if got, err := g.runDue(context.Background(), job); got != runPosted || err != nil {
		t.Errorf("retry: got %s %v, want %s", got, err, runPosted)
	}
}

// TestDigestChartFailureKeepsSlot: a digest whose message went out but
// whose chart did not (notifiers.ErrDigestChart) keeps its slot, so no
// later tick or replica start posts it again.
func TestDigestChartFailureKeepsSlot(t *testing.T) {
	db := openDigestStore(t)
	clk := &clock{t: time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)}
	p := &posts{fail: fmt.Errorf("upload: %w", notifiers.ErrDigestChart)}
	g, job := newTestDigester(t, db, clk, p)
	clk.Set(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	if got, err := g.runDue(context.Background(), job); got != runPosted || err != nil {
		t.Fatalf("digest posted without its chart: got %s %v, want %s", got, err, runPosted)
	}
	if _, ok, _ := db.LastDigestRun("daily"); !ok {
		t.Fatal("the slot was given back: a later run would post the digest again")
	}
	p.fail = nil
	clk.Set(time.Date(2026, 3, 1, 8, 1, 0, 0, time.UTC))
	g2, job2 := newTestDigester(t, db, clk, p) // a replica starting now
	if got, err := g2.runDue(context.Background(), job2); got != runNotDue || err != nil {
		t.Errorf("run after the chart failure: got %s %v, want %s", got, err, runNotDue)
	}
}

func TestCmdDigestDryRun(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(storePath(dir), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := db.PutFinding(picket.FindingRecord{Finding: picket.Finding{Key: "k1", ID: "k1", Severity: picket.SeverityHigh,
		Title: "Title <!channel>", Type: "Recon:EC2/Portscan", Account: "111111111111", CreatedAt: now.Add(-time.Hour)},
		FirstReceived: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	chartFile := filepath.Join(dir, "chart.png")
	var out, errOut bytes.Buffer
	e := env{stdout: &out, stderr: &errOut, getenv: func(k string) string {
		return map[string]string{"PICKET_DATA_DIR": dir}[k]
	}}
	if code := cmdDigest(context.Background(), e, []string{"--dry-run", "--chart", chartFile}); code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut.String())
	}
	for _, want := range []string{"Security digest", "New: 1", "Title <!channel>", "High 1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out.String())
		}
	}
	b, err := os.ReadFile(chartFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Errorf("chart file: %v", err)
	}

	if code := cmdDigest(context.Background(), e, []string{"--name", "nope"}); code != exitUsage {
		t.Errorf("unknown name: got exit %d, want %d", code, exitUsage)
	}
}

func TestStartDigestsStops(t *testing.T) {
	db := openDigestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := startDigests(ctx, []config.Digest{{Name: "daily", Channel: "#security"}}, db, &posts{}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	wait()
	if _, err := startDigests(context.Background(), []config.Digest{{Name: "bad", Schedule: "nope"}}, db, &posts{}, nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Errorf("bad schedule: got no error, want one")
	}
}
