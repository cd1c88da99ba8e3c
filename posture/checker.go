package posture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/picketsec/picket"
)

// Defaults for Options.
const (
	DefaultTimeout     = 20 * time.Second
	DefaultConcurrency = 4
	DefaultCacheTTL    = 5 * time.Minute
)

// Options configure a Checker.
type Options struct {
	// Clients returns the service clients for an account in a region.
	// account "" means the account Picket runs in.
	Clients func(ctx context.Context, account, region string) (Clients, error)
	// Regions are where regional checks run, each in every region; account
	// checks run with the clients of the first. Empty means the clients'
	// own region.
	Regions []string
	// Timeout bounds one check in one region; default DefaultTimeout.
	Timeout time.Duration
	// Concurrency is how many checks call AWS at once; default
	// DefaultConcurrency.
	Concurrency int
	// CacheTTL is how long a report is reused for the same account and
	// checks; default DefaultCacheTTL, negative turns caching off.
	CacheTTL time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

// Checker runs posture checks. It implements picket.PostureChecker and is
// safe for concurrent use.
type Checker struct {
	opts Options
	defs []Definition

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	report  picket.PostureReport
	expires time.Time
}

var _ picket.PostureChecker = (*Checker)(nil)

// New returns a Checker running every check in Definitions.
func New(opts Options) *Checker {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Regions = slices.Clone(opts.Regions)
	return &Checker{opts: opts, defs: Definitions(), cache: map[string]cached{}}
}

// Check runs the checks named by ids ("all" or none for every check) on
// account ("" for the account Picket runs in). An unknown id is an
// EINVALID error that lists the valid ones. A check that cannot run is in
// the report with status picket.CheckError; Check itself fails only when
// no clients can be had for the account at all.
func (c *Checker) Check(ctx context.Context, account string, ids []string) (picket.PostureReport, error) {
	defs, err := c.selectDefs(ids)
	if err != nil {
		return picket.PostureReport{}, err
	}
	key := cacheKey(account, defs)
	if r, ok := c.cached(key); ok {
		return r, nil
	}

	regions := c.opts.Regions
	if len(regions) == 0 {
		regions = []string{""}
	}
	run := &runState{checker: c, account: account, clients: map[string]clientsResult{}, shared: newShared()}
	base, err := run.clientsFor(ctx, regions[0])
	if err != nil {
		return picket.PostureReport{}, fmt.Errorf("posture of account %s: %w", orSelf(account), err)
	}
	if account == "" && base.STS != nil {
		out, err := base.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return picket.PostureReport{}, &picket.Error{Code: picket.EUNAVAILABLE,
				Message: "Picket could not tell which AWS account it runs in (sts:GetCallerIdentity failed)", Err: err}
		}
		run.resolved = aws.ToString(out.Account)
	}

	report := picket.PostureReport{
		Account:   orDefault(run.resolved, account),
		Regions:   nonEmpty(regions),
		Generated: c.opts.Now(),
		Results:   c.runAll(ctx, run, defs, regions),
	}
	if err := ctx.Err(); err != nil {
		return picket.PostureReport{}, fmt.Errorf("posture checks cancelled: %w", err)
	}
	c.store(key, report)
	return cloneReport(report), nil
}

// selectDefs returns the definitions named by ids, in table order.
func (c *Checker) selectDefs(ids []string) ([]Definition, error) {
	if len(ids) == 0 || slices.Contains(ids, "all") {
		return c.defs, nil
	}
	want := map[string]bool{}
	var unknown []string
	for _, id := range ids {
		if !slices.ContainsFunc(c.defs, func(d Definition) bool { return d.ID == id }) {
			unknown = append(unknown, id)
			continue
		}
		want[id] = true
	}
	if len(unknown) > 0 {
		valid := []string{"all"}
		for _, d := range c.defs {
			valid = append(valid, d.ID)
		}
		return nil, picket.Errorf(picket.EINVALID, "unknown check %s; valid checks: %s",
			quoteAll(unknown), strings.Join(valid, ", "))
	}
	var out []Definition
	for _, d := range c.defs {
		if want[d.ID] {
			out = append(out, d)
		}
	}
	return out, nil
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

func cacheKey(account string, defs []Definition) string {
	ids := make([]string, len(defs))
	for i, d := range defs {
		ids[i] = d.ID
	}
	return account + "|" + strings.Join(ids, ",")
}

func (c *Checker) cached(key string) (picket.PostureReport, bool) {
	if c.opts.CacheTTL < 0 {
		return picket.PostureReport{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cache[key]
	if !ok || !c.opts.Now().Before(e.expires) {
		return picket.PostureReport{}, false
	}
	return cloneReport(e.report), true
}

func (c *Checker) store(key string, r picket.PostureReport) {
	if c.opts.CacheTTL < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	for k, e := range c.cache {
		if !now.Before(e.expires) {
			delete(c.cache, k)
		}
	}
	c.cache[key] = cached{report: r, expires: now.Add(c.opts.CacheTTL)}
}

func cloneReport(r picket.PostureReport) picket.PostureReport {
	r.Regions = slices.Clone(r.Regions)
	r.Results = slices.Clone(r.Results)
	for i := range r.Results {
		res := &r.Results[i]
		res.Evidence = slices.Clone(res.Evidence)
		res.Failing = slices.Clone(res.Failing)
		res.Regions = slices.Clone(res.Regions)
	}
	return r
}

// runState is one Check: the clients per region, fetched once, and what
// checks share.
type runState struct {
	checker  *Checker
	account  string // as asked
	resolved string // from STS when account is ""
	shared   *shared

	mu      sync.Mutex
	clients map[string]clientsResult
}

type clientsResult struct {
	c   Clients
	err error
}

func (r *runState) clientsFor(ctx context.Context, region string) (Clients, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, ok := r.clients[region]
	if !ok {
		if r.checker.opts.Clients == nil {
			return Clients{}, picket.Errorf(picket.EINTERNAL, "posture checker has no Clients function")
		}
		res.c, res.err = r.checker.opts.Clients(ctx, r.account, region)
		if res.err != nil {
			res.err = fmt.Errorf("clients for region %s: %w", orDefault(region, "default"), res.err)
		}
		r.clients[region] = res
	}
	cl := res.c
	cl.Account = orDefault(r.resolved, r.account)
	cl.shared = r.shared
	cl.now = r.checker.opts.Now
	return cl, res.err
}

// unit is one check in one region.
type unit struct {
	def    int // index into defs
	region string
	status picket.CheckStatus
	evid   []string
	fail   []string
	errMsg string
	took   time.Duration
}

func (c *Checker) runAll(ctx context.Context, run *runState, defs []Definition, regions []string) []picket.CheckResult {
	var units []*unit
	for i, d := range defs {
		if d.Regional {
			for _, r := range regions {
				units = append(units, &unit{def: i, region: r})
			}
		} else {
			units = append(units, &unit{def: i, region: regions[0]})
		}
	}
	sem := make(chan struct{}, c.opts.Concurrency)
	var wg sync.WaitGroup
	for _, u := range units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				u.status, u.errMsg = picket.CheckError, "cancelled before it could run"
				return
			}
			defer func() { <-sem }()
			c.runUnit(ctx, run, defs[u.def], u)
		}()
	}
	wg.Wait()

	results := make([]picket.CheckResult, len(defs))
	for i, d := range defs {
		results[i] = picket.CheckResult{
			ID: d.ID, Title: d.Title, Section: d.Section, Severity: d.Severity, Why: d.Why,
			Remediation: d.Remediation, RemediationURL: d.RemediationURL,
			Account: orDefault(run.resolved, run.account),
		}
		if d.Regional {
			results[i].Regions = nonEmpty(regions)
		}
	}
	multi := len(regions) > 1
	var errs = make([][]string, len(defs))
	var failed = make([]bool, len(defs))
	for _, u := range units {
		res := &results[u.def]
		res.Duration += u.took
		prefix := ""
		if multi && defs[u.def].Regional {
			prefix = u.region + ": "
		}
		for _, e := range u.evid {
			res.Evidence = append(res.Evidence, prefix+e)
		}
		for _, f := range u.fail {
			res.Failing = append(res.Failing, prefix+f)
		}
		switch u.status {
		case picket.CheckFail:
			failed[u.def] = true
		case picket.CheckError:
			errs[u.def] = append(errs[u.def], prefix+u.errMsg)
		}
	}
	for i := range results {
		res := &results[i]
		switch {
		case failed[i]:
			res.Status = picket.CheckFail
			for _, e := range errs[i] {
				res.Evidence = append(res.Evidence, "could not check "+e)
			}
		case len(errs[i]) > 0:
			res.Status = picket.CheckError
			res.Error = strings.Join(errs[i], "; ")
		default:
			res.Status = picket.CheckPass
		}
	}
	return results
}

func (c *Checker) runUnit(ctx context.Context, run *runState, d Definition, u *unit) {
	start := time.Now()
	defer func() { u.took = time.Since(start) }()
	uctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()

	status, evid, fail, err := c.safeRun(uctx, run, d, u.region)
	u.evid, u.fail = evid, fail
	if err == nil {
		if status != picket.CheckPass && status != picket.CheckFail {
			err = &checkError{msg: fmt.Sprintf("check returned status %q", status)}
		} else {
			u.status = status
			return
		}
	}
	u.status = picket.CheckError
	u.errMsg = c.explain(uctx, ctx, err)
	c.opts.Logger.Warn("posture check could not run", "check", d.ID, "region", u.region,
		"account", orDefault(run.resolved, run.account), "reason", u.errMsg, "err", err)
}

// safeRun runs one check, turning a panic into an error so one broken
// check does not stop the others.
func (c *Checker) safeRun(ctx context.Context, run *runState, d Definition, region string) (status picket.CheckStatus, evid, fail []string, err error) {
	defer func() {
		if v := recover(); v != nil {
			status, err = picket.CheckError, &checkError{msg: "internal error in the check", err: fmt.Errorf("panic: %v", v)}
		}
	}()
	cl, err := run.clientsFor(ctx, region)
	if err != nil {
		return picket.CheckError, nil, nil, &checkError{msg: "no AWS clients for " + orDefault(region, "the default region"), err: err}
	}
	return d.Run(ctx, cl, region)
}

// accessDeniedCodes are the error codes AWS services use for a missing
// permission.
var accessDeniedCodes = map[string]bool{
	"AccessDenied":          true, // IAM, S3 and other query/XML APIs
	"AccessDeniedException": true, // JSON and REST-JSON APIs
	"UnauthorizedOperation": true, // EC2
	"AuthorizationError":    true, // SNS-style
}

// explain turns a check's error into a sentence for people.
func (c *Checker) explain(uctx, parent context.Context, err error) string {
	var api smithy.APIError
	if errors.As(err, &api) && accessDeniedCodes[api.ErrorCode()] {
		if perm := permission(err); perm != "" {
			return "access denied: grant " + perm
		}
		return "access denied"
	}
	if parent.Err() != nil {
		return "cancelled"
	}
	if errors.Is(uctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("timed out after %s", c.opts.Timeout)
	}
	var ce *checkError
	if errors.As(err, &ce) {
		return ce.msg
	}
	var pe *picket.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	perm := permission(err)
	if errors.As(err, &api) {
		if perm != "" {
			return fmt.Sprintf("%s failed with %s", perm, api.ErrorCode())
		}
		return "AWS error " + api.ErrorCode()
	}
	if perm != "" {
		return "could not call " + perm + " (AWS unreachable?)"
	}
	return "the check failed; see the logs"
}

// servicePrefix maps the SDK's service ids to IAM action prefixes.
var servicePrefix = map[string]string{
	"IAM": "iam", "EC2": "ec2", "CloudTrail": "cloudtrail", "S3": "s3", "S3 Control": "s3",
	"GuardDuty": "guardduty", "SecurityHub": "securityhub", "Config Service": "config",
	"KMS": "kms", "AccessAnalyzer": "access-analyzer", "STS": "sts",
}

// actionNames are the IAM actions whose names differ from the API
// operation, keyed by "service id:operation".
var actionNames = map[string]string{
	"S3:ListBuckets":                  "s3:ListAllMyBuckets",
	"S3 Control:GetPublicAccessBlock": "s3:GetAccountPublicAccessBlock",
	"S3:GetPublicAccessBlock":         "s3:GetBucketPublicAccessBlock",
}

// permission returns the IAM action of the AWS operation that failed, from
// the SDK's operation error, or "".
func permission(err error) string {
	var op *smithy.OperationError
	if !errors.As(err, &op) {
		return ""
	}
	if a, ok := actionNames[op.ServiceID+":"+op.OperationName]; ok {
		return a
	}
	prefix, ok := servicePrefix[op.ServiceID]
	if !ok {
		prefix = strings.ToLower(strings.ReplaceAll(op.ServiceID, " ", ""))
	}
	return prefix + ":" + op.OperationName
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orSelf(account string) string { return orDefault(account, "(own)") }

func nonEmpty(s []string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
