package enrich

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/picketsec/picket"
)

// IAMAPI is the part of the IAM API that enrichment reads. *iam.Client
// satisfies it.
type IAMAPI interface {
	GetUser(ctx context.Context, params *iam.GetUserInput, optFns ...func(*iam.Options)) (*iam.GetUserOutput, error)
	ListGroupsForUser(ctx context.Context, params *iam.ListGroupsForUserInput, optFns ...func(*iam.Options)) (*iam.ListGroupsForUserOutput, error)
	ListAttachedUserPolicies(ctx context.Context, params *iam.ListAttachedUserPoliciesInput, optFns ...func(*iam.Options)) (*iam.ListAttachedUserPoliciesOutput, error)
	ListUserPolicies(ctx context.Context, params *iam.ListUserPoliciesInput, optFns ...func(*iam.Options)) (*iam.ListUserPoliciesOutput, error)
	ListAccessKeys(ctx context.Context, params *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	GetAccessKeyLastUsed(ctx context.Context, params *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
	ListMFADevices(ctx context.Context, params *iam.ListMFADevicesInput, optFns ...func(*iam.Options)) (*iam.ListMFADevicesOutput, error)
	GetLoginProfile(ctx context.Context, params *iam.GetLoginProfileInput, optFns ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error)
	ListAccountAliases(ctx context.Context, params *iam.ListAccountAliasesInput, optFns ...func(*iam.Options)) (*iam.ListAccountAliasesOutput, error)
}

// EC2API is the part of the EC2 API that enrichment reads. *ec2.Client
// satisfies it.
type EC2API interface {
	DescribeInstances(ctx context.Context, params *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

var (
	_ IAMAPI          = (*iam.Client)(nil)
	_ EC2API          = (*ec2.Client)(nil)
	_ picket.Enricher = (*Enricher)(nil)
)

// Clients are the AWS clients that can see one account and region. A nil
// field means that service cannot be asked; the lookups that need it are
// reported as missing.
type Clients struct {
	IAM IAMAPI
	EC2 EC2API
	// SSM tells whether an instance can be patched; nil leaves the
	// Patch instance button to the plan's check.
	SSM SSMAPI
}

// Options configure an Enricher. Only Clients is needed for lookups; the
// rest have defaults.
type Options struct {
	// Clients returns the clients that can see account in region. Its error
	// is shown to people as the reason nothing was looked up in that
	// account, so it should be short: the message of a *picket.Error is used
	// as is. It is called at most once per finding and region, and only when
	// something is not cached. When nil, only static aliases are known.
	Clients func(ctx context.Context, account, region string) (Clients, error)
	// Budget is the total time for one finding's lookups. Default 2s.
	Budget time.Duration
	// CacheTTL is how long a successful lookup is reused. Default 15m.
	CacheTTL time.Duration
	// Aliases maps account ids to aliases. It is consulted before
	// iam:ListAccountAliases, which is then not called for those accounts.
	Aliases map[string]string
	// Now is the clock for cache expiry. Default time.Now.
	Now func() time.Time
	// Logger receives the details of failed lookups. Default: discard.
	Logger *slog.Logger
}

// Default option values.
const (
	DefaultBudget   = 2 * time.Second
	DefaultCacheTTL = 15 * time.Minute
)

// Enricher looks up context about findings. It is safe for concurrent use.
type Enricher struct {
	clients func(ctx context.Context, account, region string) (Clients, error)
	budget  time.Duration
	aliases map[string]string
	log     *slog.Logger
	cache   *cache
}

// New returns an Enricher with opts, filling in defaults.
func New(opts Options) *Enricher {
	if opts.Budget <= 0 {
		opts.Budget = DefaultBudget
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Enricher{
		clients: opts.Clients,
		budget:  opts.Budget,
		aliases: opts.Aliases,
		log:     opts.Logger,
		cache:   newCache(opts.Now, opts.CacheTTL),
	}
}

// Enrich looks up what it can about f within the budget and lists what it
// could not learn in Missing. It returns when every lookup has finished or
// the budget has run out, whichever is first; lookups still running then
// are reported as missing and their partial results kept.
func (e *Enricher) Enrich(ctx context.Context, f *picket.Finding) picket.Enrichment {
	var enr picket.Enrichment
	if f == nil {
		return enr
	}
	alias, static := e.aliases[f.Account]
	enr.AccountAlias = alias
	if f.Sample {
		enr.Missing = []string{"sample finding: no lookups"}
		return enr
	}

	ctx, cancel := context.WithTimeout(ctx, e.budget)
	defer cancel()
	r := &run{e: e, ctx: ctx, finding: f, clients: map[string]func() (Clients, error){}}

	var tasks []*task
	start := func(subject string, fn func(*task)) {
		t := &task{subject: subject}
		tasks = append(tasks, t)
		r.wg.Go(func() {
			defer t.finish()
			fn(t)
		})
	}
	if !static && f.Account != "" {
		start("account "+f.Account+" alias", r.alias)
	}
	var notes []string
	if name, note := userOf(f); name != "" {
		start("IAM user "+name, func(t *task) { r.user(t, name) })
	} else if note != "" {
		notes = append(notes, note)
	}
	if res, ok := instanceOf(f); ok {
		start("EC2 instance "+res.ID, func(t *task) { r.instance(t, res) })
	}
	if res, ok := f.PatchTarget(); ok {
		start("Systems Manager state of instance "+res.ID, func(t *task) { r.managed(t, res) })
	}

	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}

	var missing []string
	for _, t := range tasks {
		missing = append(missing, t.collect(&enr, r.unfinished)...)
	}
	enr.Missing = dedupe(append(notes, missing...))
	return enr
}

// unfinished is the Missing line for a lookup still running when Enrich
// returns.
func (r *run) unfinished(subject string) string {
	if errors.Is(r.ctx.Err(), context.DeadlineExceeded) {
		return subject + ": no answer within " + r.e.budget.String()
	}
	return subject + ": lookup cancelled"
}

// run is the state of one Enrich call.
type run struct {
	e       *Enricher
	ctx     context.Context
	finding *picket.Finding
	wg      sync.WaitGroup

	mu      sync.Mutex
	clients map[string]func() (Clients, error) // by region
}

// clientsFor returns the clients for the finding's account in region,
// asking Options.Clients at most once per region.
func (r *run) clientsFor(region string) (Clients, error) {
	r.mu.Lock()
	get, ok := r.clients[region]
	if !ok {
		get = sync.OnceValues(func() (Clients, error) {
			if r.e.clients == nil {
				return Clients{}, errors.New("no AWS access is configured for lookups")
			}
			c, err := r.e.clients(r.ctx, r.finding.Account, region)
			if err != nil {
				r.e.log.Warn("enrich: no clients", "account", r.finding.Account, "region", region, "err", err)
			}
			return c, err
		})
		r.clients[region] = get
	}
	r.mu.Unlock()
	return get()
}

// noClients is the Missing line when Options.Clients failed.
func (r *run) noClients(err error) string {
	msg := err.Error()
	var pe *picket.Error
	if errors.As(err, &pe) {
		msg = pe.Message
	}
	return "account " + r.finding.Account + ": no lookups (" + msg + ")"
}

// task is one top-level lookup (alias, user or instance). Its goroutine
// fills the result under mu; Enrich reads it when the task is done or the
// budget has run out, whichever comes first.
type task struct {
	subject string

	mu       sync.Mutex
	done     bool
	alias    *string
	user     *picket.UserContext
	instance *picket.InstanceContext
	ssm      *picket.ManagedInstance
	missing  []string
	failed   bool
}

func (t *task) finish() {
	t.mu.Lock()
	t.done = true
	t.mu.Unlock()
}

// fail records a Missing line.
func (t *task) fail(line string) {
	t.mu.Lock()
	t.missing = append(t.missing, line)
	t.failed = true
	t.mu.Unlock()
}

// update runs fn with the task locked.
func (t *task) update(fn func()) {
	t.mu.Lock()
	fn()
	t.mu.Unlock()
}

// collect copies what the task has learnt into enr and returns its Missing
// lines, adding unfinished(subject) when it is still running.
func (t *task) collect(enr *picket.Enrichment, unfinished func(string) string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.alias != nil {
		enr.AccountAlias = *t.alias
	}
	if t.user != nil {
		enr.User = cloneUser(t.user)
	}
	if t.instance != nil {
		enr.Instance = cloneInstance(t.instance)
	}
	if t.ssm != nil {
		m := *t.ssm
		enr.SSM = &m
	}
	missing := slices.Clone(t.missing)
	if !t.done {
		missing = append(missing, unfinished(t.subject))
	}
	return missing
}

// userOf returns the IAM user name a finding is about, or a note saying why
// there is none to look up.
func userOf(f *picket.Finding) (name, note string) {
	for _, r := range f.Resources {
		switch r.Kind {
		case picket.ResourceIAMUser:
			if r.ID != "" {
				return r.ID, ""
			}
		case picket.ResourceAccessKey:
			if r.UserName != "" {
				return r.UserName, ""
			}
			if note == "" {
				note = "access key " + r.ID + ": owning IAM user unknown, no user details"
			}
		case picket.ResourceRoot:
			if note == "" {
				note = "root user: no IAM user details (the root user is not an IAM user)"
			}
		}
	}
	return "", note
}

// instanceOf returns the first EC2 instance a finding is about, with its
// region filled in from the finding when the resource has none.
func instanceOf(f *picket.Finding) (picket.Resource, bool) {
	for _, r := range f.Resources {
		if r.Kind == picket.ResourceEC2Instance && r.ID != "" {
			if r.Region == "" {
				r.Region = f.Region
			}
			return r, true
		}
	}
	return picket.Resource{}, false
}

func dedupe(lines []string) []string {
	seen := make(map[string]bool, len(lines))
	out := lines[:0]
	for _, l := range lines {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func cloneUser(u *picket.UserContext) *picket.UserContext {
	c := *u
	c.Groups = slices.Clone(u.Groups)
	c.AttachedPolicies = slices.Clone(u.AttachedPolicies)
	c.InlinePolicies = slices.Clone(u.InlinePolicies)
	c.AccessKeys = slices.Clone(u.AccessKeys)
	return &c
}

func cloneInstance(i *picket.InstanceContext) *picket.InstanceContext {
	c := *i
	c.SecurityGroups = slices.Clone(i.SecurityGroups)
	return &c
}
