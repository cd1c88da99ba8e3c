package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/metrics"
)

// newResponses builds the response machinery: one responder per button,
// each acting through per-account clients, behind the Service that
// authorizes, claims, audits and announces.
func newResponses(ctx context.Context, cfg config.Config, awsCfg aws.Config, db picket.Store, announcer picket.Announcer,
	alerts picket.AlertSender, enricher picket.Enricher, log *slog.Logger, m appMetrics) (*actions.Service, error) {
	return newResponsesFor(ctx, cfg, awsCfg, db, announcer, alerts, enricher, log, m, nil)
}

// newResponsesFor is newResponses for a replica of a set (rep nil: one
// process): plans are kept in the store so that any replica runs what
// another prepared, and running actions name their replica.
func newResponsesFor(ctx context.Context, cfg config.Config, awsCfg aws.Config, db picket.Store, announcer picket.Announcer,
	alerts picket.AlertSender, enricher picket.Enricher, log *slog.Logger, m appMetrics, rep *replicas) (*actions.Service, error) {
	roles := map[string]actions.AssumeRole{}
	for _, a := range cfg.Responses.Accounts {
		roles[a.ID] = actions.AssumeRole{RoleARN: a.RoleARN, ExternalID: a.ExternalID}
	}
	clients := actions.NewClientsFunc(awsCfg, roles)
	r := cfg.Responses
	guard := actions.Guardrails{
		ProtectedUsers: r.ProtectedUsers, ProtectedRoles: r.ProtectedRoles,
		ProtectedInstances: r.ProtectedInstances, ProtectedTag: r.ProtectedTag,
		ProtectedBuckets: r.ProtectedBuckets, ProtectedSecurityGroups: r.ProtectedSecurityGroups,
	}
	disable := &actions.DisableUser{Clients: clients, Guard: guard}
	quarantine := &actions.Quarantine{Clients: clients, Guard: guard, GroupName: r.IsolationGroup}
	revoke := &actions.RevokeSessions{Clients: clients, Guard: guard}
	suppress := &actions.Suppress{Clients: clients}
	escalate := &actions.Escalate{Clients: clients, TopicARN: r.EscalationTopicARN}
	patch := &actions.Patch{Clients: clients, Guard: guard}

	policy := actions.Policy{
		DryRun: r.DryRun, ApprovalTimeout: r.ApprovalTimeout.Duration,
		AllowedAccounts: r.AllowedAccounts, EscalationChannel: r.EscalationChannel,
	}
	for _, k := range r.DryRunActions {
		policy.DryRunActions = append(policy.DryRunActions, picket.ActionKind(k))
	}
	for _, k := range r.Approvals {
		policy.Approvals = append(policy.Approvals, picket.ActionKind(k))
	}
	for _, role := range cfg.Roles {
		policy.Roles = append(policy.Roles, actions.Role{
			Name: role.Name, Users: role.Users, Groups: role.Groups, Actions: role.Actions, Accounts: role.Accounts,
		})
	}
	responders := map[picket.ActionKind]picket.Responder{
		picket.ActionDisableUser:        disable,
		picket.ActionQuarantineInstance: quarantine,
		picket.ActionRevokeSessions:     revoke,
		picket.ActionSuppress:           suppress,
		picket.ActionEscalate:           escalate,
		picket.ActionPatchInstance:      patch,
	}
	undoers := map[picket.ActionKind]actions.Undoer{
		picket.ActionDisableUser:        disable,
		picket.ActionQuarantineInstance: quarantine,
		picket.ActionRevokeSessions:     revoke,
		picket.ActionSuppress:           suppress,
	}
	// The fix buttons of failed Security Hub controls: one runbook each.
	for _, k := range picket.FixKinds {
		fix := &actions.Fix{Kind: k, Clients: clients, Guard: guard}
		responders[k], undoers[k] = fix, fix
	}
	return actions.NewService(actions.ServiceOptions{
		Policy:     policy,
		Responders: responders,
		Undoers:    undoers,
		Lifter:     suppress,
		Findings:   db, Actions: db, Suppressions: db, Audit: countingAuditor{db, m.AuditFailures},
		Announcer: announcer, Alerts: alerts, Enricher: enricher,
		Logger: log, Durations: m.ActionDurations,
		// Following a patch command outlives the click; it stops with
		// Picket and resumes at the next start.
		Context: ctx,
		Plans:   db, Runner: rep.owner(), RunnerGone: rep.goneFunc(),
	})
}

// countingAuditor counts the audit trail writes that fail (each one an
// action refused, since an action that cannot be recorded does not run).
type countingAuditor struct {
	picket.Auditor
	failures *metrics.Counter
}

// Audit appends e, counting a failure.
func (a countingAuditor) Audit(e picket.AuditEntry) (picket.AuditEntry, error) {
	out, err := a.Auditor.Audit(e)
	if err != nil {
		a.failures.Inc()
	}
	return out, err
}

// sweepEvery is how often expired approvals and suppressions are handled.
const sweepEvery = time.Minute
