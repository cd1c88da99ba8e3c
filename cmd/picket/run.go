package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/bot"
	"github.com/picketsec/picket/commands"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/digest"
	"github.com/picketsec/picket/enrich"
	"github.com/picketsec/picket/event"
	"github.com/picketsec/picket/ingest"
	"github.com/picketsec/picket/metrics"
	"github.com/picketsec/picket/notifiers"
	"github.com/picketsec/picket/posture"
	"github.com/picketsec/picket/store"
	"github.com/picketsec/picket/triage"
)

func cmdRun(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := configFlag(fs, e)
	stdout := fs.Bool("stdout", false, "print alerts to standard output instead of posting them to Slack")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	switch mode, missing := runPlan(cfg, *path != "" || e.getenv(config.InlineConfigVar) != "", *stdout); mode {
	case runDemo:
		fmt.Fprintln(e.stderr, "picket: nothing is configured (no config file, Slack token or queue): running the demo instead.")
		return cmdDemo(ctx, e, nil)
	case runRefused:
		refuseRun(e.stderr, missing)
		return exitUsage
	}
	log := newLogger(e.stderr, cfg.Log)
	if err := serve(ctx, cfg, log, e.stdout, nil); err != nil {
		log.Error("picket stopped", "err", err)
		return exitFailure
	}
	log.Info("picket stopped cleanly")
	return exitOK
}

// serve runs the bot until ctx is cancelled: the SQS consumer, the
// pipeline and the HTTP server. started, when not nil, receives the HTTP
// address once everything is up (tests and benchmarks use it).
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer, started func(httpAddr string)) error {
	reg := &metrics.Registry{}
	reg.Runtime(version)
	m := newAppMetrics(reg)
	m.initSeries()
	ready := &readiness{log: log}

	db, err := openStore(ctx, cfg, store.Options{Logger: log, AuditKey: auditKey(cfg)})
	if err != nil {
		return err
	}
	defer db.Close()
	stopHeads, err := startAuditHeads(ctx, db, cfg.Audit.HeadInterval.Duration, log)
	if err != nil {
		return err
	}
	defer stopHeads()
	ready.add("store", storeReady(db))

	awsCfg, err := loadAWS(ctx, cfg)
	if err != nil {
		return err
	}
	awsCfg.APIOptions = append(awsCfg.APIOptions, awsCallMetrics(m.AWSCalls, time.Now))
	sender := newSender(cfg, log, stdout, m)
	enricher := newEnricher(cfg, awsCfg, log)
	auto := &autoHook{}
	rep := newReplicas(cfg, db, log)
	p, dispatcher, err := newPipelineWith(cfg, db, sender, enricher, log, m.triage(), m.dispatch(), auto, rep.delivery(cfg))
	if err != nil {
		return err
	}
	m.watchBacklog(reg, dispatcher, time.Now)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	rep.live(ctx, &wg)
	errc := make(chan error, 3)

	var consumer *ingest.Consumer
	var depth *ingest.DepthWatcher
	if cfg.AWSConfigured() {
		sqsc := sqs.NewFromConfig(awsCfg)
		consumer, err = ingest.New(sqsc, ingest.Options{
			QueueURL:          cfg.AWS.QueueURL,
			Workers:           cfg.Ingest.Workers,
			MaxMessages:       int32(cfg.Ingest.MaxMessages),
			WaitTime:          cfg.Ingest.WaitTime.Duration,
			VisibilityTimeout: cfg.Ingest.VisibilityTimeout.Duration,
			Decode:            event.Decoder{TopicARN: cfg.AWS.TopicARN, EventsOnly: true}.Decode,
			Handler:           p,
			Done:              db,
			Logger:            log,
			Metrics: ingest.Metrics{
				Received: m.Received, Decoded: m.Decoded, Undecodable: m.Undecodable,
				Failed: m.Failed, Deleted: m.Deleted, Latency: m.Latency,
			},
		})
		if err != nil {
			return err
		}
		depth = ingest.NewDepthWatcher(sqsc, ingest.DepthOptions{QueueURL: cfg.AWS.QueueURL, Logger: log})
		watchQueue(reg, depth, consumer)
		wg.Add(1)
		go func() { defer wg.Done(); depth.Run(ctx) }()
		ready.add("queue", func(ctx context.Context) error {
			if consumer.Ready() {
				return nil
			}
			// Before the first long poll returns, and after a failed one,
			// ask SQS directly whether the queue is reachable.
			_, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
				QueueUrl:       aws.String(cfg.AWS.QueueURL),
				AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
			})
			if err != nil {
				return fmt.Errorf("queue not reachable: %w", err)
			}
			return nil
		})
	}

	mux := newMux(reg, ready)
	if !cfg.SlackConfigured() && len(cfg.Automation.Rules) > 0 {
		for _, r := range cfg.Automation.Rules {
			if r.Enabled {
				log.Warn("automatic response rules need Slack (SLACK_BOT_TOKEN): rule not run", "rule", r.Name)
			}
		}
	}
	if cfg.SlackConfigured() {
		// auth.test: the token is valid and Slack answers (at most once
		// per readyTTL, as /readyz results are cached).
		ready.add("slack", func(ctx context.Context) error {
			return bot.Ping(ctx, cfg.Slack.BotToken.Reveal(), cfg.Slack.APIURL)
		})
		ann, _ := sender.(picket.Announcer)
		svc, err := newResponsesFor(ctx, cfg, awsCfg, db, ann, sender, enricher, log, m, rep)
		if err != nil {
			return err
		}
		// Following patch commands stops with ctx (a record still running
		// is resumed by Recover at the next start).
		defer func() { cancel(); svc.Wait() }()
		if n := svc.Recover(ctx); n > 0 {
			log.Warn("closed actions interrupted by the last stop", "count", n)
		}
		pilot, err := startAutopilot(ctx, cfg, svc, db, sender, log, &wg, rep)
		if err != nil {
			return err
		}
		auto.set(pilot)
		var regions []string
		if awsCfg.Region != "" {
			regions = []string{awsCfg.Region}
		}
		checker := &scoredChecker{PostureChecker: posture.New(posture.Options{
			Clients: postureClients(awsCfg, cfg.AWS.EndpointURL != "", cfg.Responses.Accounts), Regions: regions, Logger: log,
		})}
		checker.register(reg)
		deps := commandDeps(cfg, db, enricher, checker, statusFunc(cfg, awsCfg, consumer, depth, dispatcher, rep.store(db)))
		deps.Logger = log
		if pilot != nil {
			deps.Auto = pilot
		}
		if len(cfg.Digests) > 0 {
			deps.DigestPreview = func(ctx context.Context) (string, error) {
				g := &digester{db: db, posture: checker, now: time.Now, log: log}
				now := g.now()
				d, _, err := g.build(ctx, cfg.Digests[0], now.Add(-digest.DefaultWindow), now)
				if err != nil {
					return "", err
				}
				return notifiers.RenderDigestText(d), nil
			}
		}
		if s, ok := sender.(*notifiers.Slack); ok {
			wait, err := startDigests(ctx, cfg.Digests, db, s, checker, log)
			if err != nil {
				return err
			}
			defer wait()
		}
		b, err := bot.New(bot.Options{
			Service: svc, SigningSecret: cfg.Slack.SigningSecret.Reveal(), Logger: log,
			API: bot.Client(cfg.Slack.BotToken.Reveal(), cfg.Slack.AppToken.Reveal(), cfg.Slack.APIURL),
			Commands: func(ctx context.Context, a picket.Actor, text string) commands.Reply {
				return commands.Run(ctx, deps, a, text)
			},
			Records: db, TeamID: cfg.Slack.TeamID, AppID: cfg.Slack.AppID, Refused: m.SlackRefused,
			Replays: rep.replayGuard(),
		})
		if err != nil {
			return err
		}
		defer b.Wait() // let clicks being handled finish
		switch {
		case cfg.Slack.Mode == config.ModeHTTP:
			if _, err := serveSlackHTTP(ctx, cfg.Slack.HTTPAddr, b.Handler(), log, &wg, errc); err != nil {
				return err
			}
		case cfg.Slack.AppToken != "":
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := b.ServeSocketMode(ctx, cfg.Slack.BotToken.Reveal(), cfg.Slack.AppToken.Reveal(), cfg.Slack.APIURL); err != nil {
					log.Error("socket mode stopped", "err", err)
				}
			}()
		}
		rep.once(ctx, &wg, "sweeper", func(ctx context.Context) {
			if rep != nil {
				// Actions a dead replica left running are closed (or
				// followed again) by the replica that sweeps.
				go recoverEvery(ctx, svc, replicaTTL, log)
			}
			svc.RunSweeper(ctx, sweepEvery)
		})
	}

	var httpAddr string
	if cfg.HTTPEnabled() {
		addr, herr, err := serveHTTP(ctx, cfg.HTTPAddr, mux, log)
		if err != nil {
			return err
		}
		httpAddr = addr.String()
		wg.Add(1)
		go func() { defer wg.Done(); errc <- <-herr }()
	}

	if consumer != nil && cfg.Ingest.ReconcileInterval.Duration > 0 {
		r, err := ingest.NewReconciler(ingest.ReconcileOptions{
			API: securityhub.NewFromConfig(awsCfg), Decode: event.Decode, Index: db, Handler: p,
			Interval: cfg.Ingest.ReconcileInterval.Duration, Logger: log,
			Metrics: ingest.ReconcileMetrics{
				Requests: reg.Counter("picket_reconcile_requests_total", "Security Hub GetFindings calls made to reconcile the index."),
				Checked:  reg.Counter("picket_reconcile_checked_total", "Findings compared with the index."),
				Missing:  reg.Counter("picket_reconcile_missing_total", "Findings the index lacked (their events were lost), handed to the pipeline."),
				Stale:    reg.Counter("picket_reconcile_stale_total", "Findings the index held an older version of, handed to the pipeline."),
				Failed:   reg.Counter("picket_reconcile_failed_total", "Reconciled findings the pipeline failed on."),
			},
		})
		if err != nil {
			return err
		}
		rep.once(ctx, &wg, "reconcile", func(ctx context.Context) { _ = r.Run(ctx) }) // it only returns nil, when ctx ends
	}
	// Delivery starts before intake, so the outbox left by the last stop
	// (and posts it interrupted) is settled first.
	if err := dispatcher.Load(ctx); err != nil {
		return err
	}
	logBacklog(log, dispatcher)
	wg.Add(1)
	go func() { defer wg.Done(); errc <- dispatcher.Run(ctx) }()
	if consumer != nil {
		wg.Add(1)
		go func() { defer wg.Done(); errc <- consumer.Run(ctx) }()
	} else {
		log.Warn("no queue configured (PICKET_QUEUE_URL): not consuming findings")
	}

	rep.once(ctx, &wg, "prune", func(ctx context.Context) {
		pruneMessages(ctx, db, cfg.Ingest.ProcessedTTL.Duration, log)
	})

	log.Info("picket started", "version", version, "replica", rep.owner(), "http", httpAddr, "queue", cfg.AWS.QueueURL,
		"slack", cfg.SlackConfigured(), "default_channel", cfg.Slack.DefaultChannel)
	if started != nil {
		started(httpAddr)
	}
	// Start-up (configuration, SDK clients, endpoint rules) leaves garbage
	// that an idle bot would otherwise keep mapped until the scavenger gets
	// to it: give it back now, once.
	debug.FreeOSMemory()

	var first error
	go func() { wg.Wait(); close(errc) }()
	for err := range errc {
		if err != nil && first == nil {
			first = err
			cancel() // one part failed: stop the others
		}
	}
	return first
}

// storeReady is the /readyz check of the store: it can be read.
func storeReady(db picket.Store) func(context.Context) error {
	return db.Ping
}

// logBacklog says at start-up what waits in the outbox.
func logBacklog(log *slog.Logger, d *triage.Dispatcher) {
	for _, b := range d.Backlog() {
		if b.Pending == 0 && b.Groups == 0 {
			continue
		}
		log.Info("outbox backlog", "channel", b.Channel, "pending", b.Pending, "groups", b.Groups,
			"oldest", b.Oldest.UTC().Format(time.RFC3339))
	}
}

// pruneMessages forgets processed message ids older than ttl, hourly.
func pruneMessages(ctx context.Context, db picket.Store, ttl time.Duration, log *slog.Logger) {
	if ttl <= 0 {
		return
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n, err := db.PruneMessages(now.Add(-ttl))
			if err != nil {
				log.Warn("prune processed message ids", "err", err)
				continue
			}
			log.Debug("pruned processed message ids", "count", n)
		}
	}
}

// loadAWS builds the SDK configuration: the default credential chain, the
// configured region, and the endpoint override for emulators.
func loadAWS(ctx context.Context, cfg config.Config) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.AWS.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.AWS.Region))
	}
	if cfg.AWS.EndpointURL != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(cfg.AWS.EndpointURL))
	}
	// The SDK's own lines (retries, deprecations) join the JSON log.
	opts = append(opts, awsconfig.WithLogger(awsLogger(cfg.Log)))
	c, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return c, nil
}

// newSender returns the Slack sender, or a terminal printer when no Slack
// token is configured.
func newSender(cfg config.Config, log *slog.Logger, stdout io.Writer, m appMetrics) picket.AlertSender {
	if !cfg.SlackConfigured() {
		log.Warn("no Slack token (SLACK_BOT_TOKEN): alerts are printed to standard output")
		return notifiers.NewTerminal(stdout)
	}
	return notifiers.DialSlack(cfg.Slack.BotToken.Reveal(), cfg.Slack.APIURL, notifiers.SlackOptions{
		Logger: log, Retries: m.SlackRetries, Calls: m.SlackCalls, PerChannelInterval: pacing(cfg.Slack.MessageInterval.Duration),
	})
}

// newPipeline is the one intake and delivery of run, replay and demo: the
// configured routes, the store for state and the outbox, suppressions in
// force, and the dispatcher that drains the outbox to sender (grouping
// bursts when the sender can show groups) with the actions shown on
// alerts.
func newPipeline(cfg config.Config, db picket.Store, sender picket.AlertSender, enricher picket.Enricher,
	log *slog.Logger, m triage.Metrics, dm triage.DispatchMetrics) (*triage.Pipeline, *triage.Dispatcher, error) {
	return newPipelineWith(cfg, db, sender, enricher, log, m, dm, nil, nil)
}

// newPipelineWith is newPipeline whose intake also tells after (when not
// nil) about every commit: run's automatic response rules.
func newPipelineWith(cfg config.Config, db picket.Store, sender picket.AlertSender, enricher picket.Enricher,
	log *slog.Logger, m triage.Metrics, dm triage.DispatchMetrics, after triage.Committer, rep *triage.Replicas) (*triage.Pipeline, *triage.Dispatcher, error) {
	router, err := newRouter(cfg)
	if err != nil {
		return nil, nil, err
	}
	groups, _ := sender.(picket.GroupSender)
	d, err := triage.NewDispatcher(triage.DispatchOptions{
		Store: db, Alerts: sender, Groups: groups, Enricher: enricher, Actions: db,
		Grouping: grouping(cfg.Delivery), Logger: log,
		Metrics: dm, Replicas: rep,
	})
	if err != nil {
		return nil, nil, err
	}
	p, err := triage.NewPipeline(triage.Options{
		Store: db, Router: router, Notify: d, Suppressions: db, Logger: log, Metrics: m, Committed: after,
	})
	if err != nil {
		return nil, nil, err
	}
	return p, d, nil
}

// grouping turns the delivery configuration into the dispatcher's.
func grouping(d config.Delivery) triage.Grouping {
	sev, err := picket.ParseSeverity(d.GroupMaxSeverity)
	if err != nil {
		sev = picket.SeverityHigh
	}
	return triage.Grouping{
		Enabled: d.Grouping, MinSize: d.GroupMin, MaxSeverity: sev, Window: d.GroupWindow.Duration,
		UpdateInterval: d.GroupUpdateInterval.Duration, ListSize: d.GroupListSize,
	}
}

// pacing converts the configured interval, where 0 means no pacing, to the
// sender's option, where 0 means the default.
func pacing(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// newEnricher returns the enricher for the bot's own account, or one that
// explains why there is no context when enrichment is off.
func newEnricher(cfg config.Config, awsCfg aws.Config, log *slog.Logger) picket.Enricher {
	if !cfg.Enrich.Enabled {
		return nil
	}
	accts := newAccounts(awsCfg, cfg.Responses.Accounts, "picket-enrich")
	return enrich.New(enrich.Options{
		Budget:   cfg.Enrich.Budget.Duration,
		CacheTTL: cfg.Enrich.CacheTTL.Duration,
		Aliases:  cfg.Enrich.AccountAliases,
		Logger:   log,
		Clients: func(ctx context.Context, account, region string) (enrich.Clients, error) {
			c, err := accts.config(ctx, account, region)
			if err != nil {
				return enrich.Clients{}, err
			}
			return enrich.Clients{IAM: iam.NewFromConfig(c), EC2: ec2.NewFromConfig(c), SSM: ssm.NewFromConfig(c)}, nil
		},
	})
}

// newLocalPipeline is the pipeline for `replay` without --dry-run: the
// configured store and Slack (or the terminal). handle commits a finding
// and delivers what it queued before returning.
func newLocalPipeline(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) (handle func(*picket.Finding) (picket.Outcome, error), closeFn func(), err error) {
	db, err := openStore(ctx, cfg, store.Options{Logger: log})
	if err != nil {
		return nil, nil, err
	}
	var enricher picket.Enricher
	if cfg.AWSConfigured() {
		if awsCfg, err := loadAWS(ctx, cfg); err == nil {
			enricher = newEnricher(cfg, awsCfg, log)
		}
	}
	sender := newSender(cfg, log, stdout, newAppMetrics(&metrics.Registry{}))
	p, d, err := newPipeline(cfg, db, sender, enricher, log, triage.Metrics{}, triage.DispatchMetrics{})
	if err == nil {
		err = d.Load(ctx)
	}
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	handle = func(f *picket.Finding) (picket.Outcome, error) {
		out, err := p.HandleFinding(ctx, f)
		if err != nil {
			return out, err
		}
		if err := d.Drain(ctx); err != nil {
			return out, fmt.Errorf("deliver: %w", err)
		}
		if out == picket.OutcomeQueued {
			out = picket.OutcomePosted
		}
		return out, nil
	}
	return handle, func() { db.Close() }, nil
}
