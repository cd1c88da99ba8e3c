package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/ingest"
	"github.com/picketsec/picket/store"
)

// cmdStatus prints the queue's depth and its dead-letter queue's, the lag
// the running bot last saw (read from its /metrics) and the outbox
// backlog (read from the store when the bot is not running). It exits 1
// when the queue cannot be read.
func cmdStatus(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := configFlag(fs, e)
	addr := fs.String("addr", cmp.Or(e.getenv("PICKET_HTTP_ADDR"), "127.0.0.1:8080"), "`host:port` of the running bot's HTTP server, for its lag")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	code := exitOK
	now := time.Now()
	if !cfg.AWSConfigured() {
		fmt.Fprintln(e.stdout, "queue: none configured (PICKET_QUEUE_URL)")
	} else {
		awsCfg, err := loadAWS(ctx, cfg)
		if err != nil {
			fmt.Fprintf(e.stderr, "picket status: %v\n", err)
			return exitFailure
		}
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		d, err := ingest.NewDepthWatcher(sqs.NewFromConfig(awsCfg), ingest.DepthOptions{QueueURL: cfg.AWS.QueueURL}).Poll(qctx)
		cancel()
		if err != nil {
			fmt.Fprintf(e.stdout, "queue: unreachable: %v\n", err)
			code = exitFailure
		} else {
			fmt.Fprintf(e.stdout, "queue: %d waiting, %d in flight\n", d.Visible, d.InFlight)
			switch {
			case d.DLQURL == "":
				fmt.Fprintln(e.stdout, "dead-letter queue: none found (the queue has no redrive policy)")
			case d.DLQVisible > 0:
				fmt.Fprintf(e.stdout, "dead-letter queue: %d messages: findings that failed every attempt (see README, Operating Picket)\n", d.DLQVisible)
			default:
				fmt.Fprintln(e.stdout, "dead-letter queue: empty")
			}
		}
	}
	if age, err := botLag(ctx, *addr); err != nil {
		fmt.Fprintf(e.stdout, "oldest message: unknown: %v\n", err)
	} else {
		fmt.Fprintf(e.stdout, "oldest message: waited %s when received (from the running bot)\n", age.Round(time.Second))
	}
	printOutbox(ctx, e.stdout, cfg, now)
	return code
}

// printOutbox prints what waits in the store's outbox per channel, or that
// the running bot holds the store.
func printOutbox(ctx context.Context, w io.Writer, cfg config.Config, now time.Time) {
	// The DynamoDB store is shared: read it while the bot runs.
	db, err := openStore(ctx, cfg, store.Options{Timeout: 200 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		fmt.Fprintln(w, "outbox: held by the running bot (store locked); ask it with /picket status")
		return
	}
	if err != nil {
		fmt.Fprintf(w, "outbox: unreadable: %v\n", err)
		return
	}
	defer db.Close()
	pending, err := waiting(db)
	if err != nil {
		fmt.Fprintf(w, "outbox: unreadable: %v\n", err)
		return
	}
	if len(pending) == 0 {
		fmt.Fprintln(w, "outbox: empty")
		return
	}
	byChannel := map[string][]picket.Pending{}
	for _, p := range pending {
		byChannel[p.Channel] = append(byChannel[p.Channel], p)
	}
	channels := make([]string, 0, len(byChannel))
	for c := range byChannel {
		channels = append(channels, c)
	}
	slices.Sort(channels)
	for _, c := range channels {
		oldest := byChannel[c][0].Enqueued
		for _, p := range byChannel[c] {
			if p.Enqueued.Before(oldest) {
				oldest = p.Enqueued
			}
		}
		fmt.Fprintf(w, "outbox: %d findings waiting for %s, oldest queued %s ago\n", len(byChannel[c]), c, now.Sub(oldest).Round(time.Second))
	}
}

// botLag reads picket_queue_oldest_message_age_seconds from the running
// bot's /metrics at addr.
func botLag(ctx context.Context, addr string) (time.Duration, error) {
	host := strings.Replace(addr, "0.0.0.0:", "127.0.0.1:", 1)
	if strings.HasPrefix(host, ":") {
		host = "127.0.0.1" + host
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("no running bot answered at %s (%w)", host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("the bot at %s answered /metrics with %s", host, resp.Status)
	}
	const name = "picket_queue_oldest_message_age_seconds "
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name); ok {
			secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("read %s: %w", strings.TrimSpace(name), err)
			}
			return time.Duration(secs * float64(time.Second)), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("the bot at %s consumes no queue", host)
}
