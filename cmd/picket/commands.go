package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/bot"
	"github.com/picketsec/picket/commands"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/ingest"
	"github.com/picketsec/picket/triage"
)

// commandAuthorizer lets an actor run a command when a configured role
// that names the actor (or one of their user groups) lists the command or
// "*".
func commandAuthorizer(roles []config.Role) func(picket.Actor, string) bool {
	return func(a picket.Actor, cmd string) bool {
		for _, r := range roles {
			member := slices.Contains(r.Users, a.ID) ||
				slices.ContainsFunc(r.Groups, func(g string) bool { return slices.Contains(a.Groups, g) })
			if member && (slices.Contains(r.Commands, "*") || slices.Contains(r.Commands, cmd)) {
				return true
			}
		}
		return false
	}
}

// commandScope gives the accounts an actor may see through a command: every
// account when a role that names the actor and grants the command has no
// accounts, else the union of those roles' accounts.
func commandScope(roles []config.Role) func(picket.Actor, string) commands.Scope {
	return func(a picket.Actor, cmd string) commands.Scope {
		var scope commands.Scope
		for _, r := range roles {
			member := slices.Contains(r.Users, a.ID) ||
				slices.ContainsFunc(r.Groups, func(g string) bool { return slices.Contains(a.Groups, g) })
			if !member || !slices.Contains(r.Commands, "*") && !slices.Contains(r.Commands, cmd) {
				continue
			}
			if len(r.Accounts) == 0 {
				return commands.Scope{All: true}
			}
			for _, acct := range r.Accounts {
				if !slices.Contains(scope.Accounts, acct) {
					scope.Accounts = append(scope.Accounts, acct)
				}
			}
		}
		return scope
	}
}

// statusFunc reports the bot's health for `/picket status`: queue depth
// from SQS, the last message the consumer saw, and whether Slack and AWS
// answer now.
func statusFunc(cfg config.Config, awsCfg aws.Config, consumer *ingest.Consumer, depth *ingest.DepthWatcher, d *triage.Dispatcher,
	shared picket.Store) func(context.Context) commands.Status {
	stsc := sts.NewFromConfig(awsCfg)
	return func(ctx context.Context) commands.Status {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		st := commands.Status{Version: version, SlackOK: true}
		if err := bot.Ping(ctx, cfg.Slack.BotToken.Reveal(), cfg.Slack.APIURL); err != nil {
			st.SlackOK, st.SlackError = false, err.Error()
		}
		if _, err := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			st.AWSError = err.Error() + " (" + awsSettings(ctx, awsCfg, false) + ")"
		} else {
			st.AWSOK = true
		}
		if consumer != nil {
			st.LastMessageAt = consumer.LastMessageAt()
			st.OldestMessageAge = consumer.OldestWait()
		}
		if d != nil {
			for _, b := range d.Backlog() {
				st.Backlog = append(st.Backlog, commands.ChannelBacklog{Channel: b.Channel, Pending: b.Pending, Groups: b.Groups, Oldest: b.Oldest})
			}
		}
		if shared != nil {
			// Replicas: this one holds some channels only; the findings
			// waiting are read from the shared outbox (groups stay those
			// of the channels held here).
			if b, err := outboxBacklog(shared, st.Backlog); err == nil {
				st.Backlog = b
			}
		}
		if depth != nil {
			q, err := depth.Poll(ctx)
			if err != nil {
				st.AWSOK, st.AWSError = false, "queue "+cfg.AWS.QueueURL+": "+err.Error()+" ("+awsSettings(ctx, awsCfg, false)+")"
			} else {
				st.QueueDepth, st.InFlight = q.Visible, q.InFlight
				st.HasDLQ, st.DLQDepth = q.DLQURL != "", q.DLQVisible
			}
		}
		return st
	}
}

// commandDeps is what the slash commands read.
func commandDeps(cfg config.Config, db picket.Store, enricher picket.Enricher, posture picket.PostureChecker,
	status func(context.Context) commands.Status) commands.Deps {
	d := commands.Deps{
		Findings: db, Actions: db, Audit: db, Suppressions: db,
		Posture: posture, Enricher: enricher, Region: cfg.AWS.Region,
		Status: status, Authorize: commandAuthorizer(cfg.Roles), Scope: commandScope(cfg.Roles),
	}
	if len(cfg.Digests) > 0 {
		// The preview (run.go) builds the first digest.
		d.DigestAccounts = cfg.Digests[0].Accounts
	}
	return d
}

// outboxBacklog is the backlog per channel as the shared outbox holds it,
// with the group counts of local (the channels this replica holds).
func outboxBacklog(db picket.Store, local []commands.ChannelBacklog) ([]commands.ChannelBacklog, error) {
	pending, err := waiting(db)
	if err != nil {
		return nil, err
	}
	by := map[string]*commands.ChannelBacklog{}
	for _, b := range local {
		by[b.Channel] = &commands.ChannelBacklog{Channel: b.Channel, Groups: b.Groups}
	}
	for _, p := range pending {
		b := by[p.Channel]
		if b == nil {
			b = &commands.ChannelBacklog{Channel: p.Channel}
			by[p.Channel] = b
		}
		b.Pending++
		if b.Oldest.IsZero() || p.Enqueued.Before(b.Oldest) {
			b.Oldest = p.Enqueued
		}
	}
	out := make([]commands.ChannelBacklog, 0, len(by))
	for _, b := range by {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b commands.ChannelBacklog) int { return strings.Compare(a.Channel, b.Channel) })
	return out, nil
}

// waiting is what the outbox holds, per finding: channel and since when.
// A store with an outbox index (DynamoDB) answers from the index alone,
// not with one read per waiting finding.
func waiting(db picket.Store) ([]picket.Pending, error) {
	index, ok := db.(picket.OutboxIndex)
	if !ok {
		return db.Outbox()
	}
	refs, err := index.OutboxRefs()
	if err != nil {
		return nil, err
	}
	out := make([]picket.Pending, 0, len(refs))
	for _, r := range refs {
		p := picket.Pending{Key: r.Key, Channel: r.Channel, Seq: r.Seq, Enqueued: r.Enqueued}
		if p.Channel == "" { // an index written before it named the channel
			full, found, err := index.PendingOf(r.Key)
			if err != nil {
				return nil, err
			}
			if !found {
				continue
			}
			p = full
		}
		out = append(out, p)
	}
	return out, nil
}
