package enrich_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/enrich"
	"github.com/picketsec/picket/internal/awsfake"
)

const account = "123456789012"

// Canned IAM answers for user alice, in the awsQuery format IAM uses.
var (
	getUser = awsfake.QueryResult("GetUser", `<User><Path>/</Path><UserName>alice</UserName>`+
		`<UserId>AIDAALICE</UserId><Arn>arn:aws:iam::123456789012:user/alice</Arn>`+
		`<CreateDate>2020-01-02T03:04:05Z</CreateDate></User>`)
	attachedPolicies = awsfake.QueryResult("ListAttachedUserPolicies", `<AttachedPolicies><member>`+
		`<PolicyName>AdministratorAccess</PolicyName><PolicyArn>arn:aws:iam::aws:policy/AdministratorAccess</PolicyArn>`+
		`</member></AttachedPolicies><IsTruncated>false</IsTruncated>`)
	userPolicies = awsfake.QueryResult("ListUserPolicies",
		`<PolicyNames><member>inline-s3</member></PolicyNames><IsTruncated>false</IsTruncated>`)
	accessKeys = awsfake.QueryResult("ListAccessKeys", `<AccessKeyMetadata>`+
		`<member><UserName>alice</UserName><AccessKeyId>AKIAOLD</AccessKeyId><Status>Active</Status><CreateDate>2019-01-01T00:00:00Z</CreateDate></member>`+
		`<member><UserName>alice</UserName><AccessKeyId>AKIANEW</AccessKeyId><Status>Inactive</Status><CreateDate>2024-01-01T00:00:00Z</CreateDate></member>`+
		`</AccessKeyMetadata><IsTruncated>false</IsTruncated>`)
	mfaDevices = awsfake.QueryResult("ListMFADevices", `<MFADevices><member><UserName>alice</UserName>`+
		`<SerialNumber>arn:aws:iam::123456789012:mfa/alice</SerialNumber><EnableDate>2020-01-01T00:00:00Z</EnableDate>`+
		`</member></MFADevices><IsTruncated>false</IsTruncated>`)
	loginProfile = awsfake.QueryResult("GetLoginProfile", `<LoginProfile><UserName>alice</UserName>`+
		`<CreateDate>2020-01-01T00:00:00Z</CreateDate><PasswordResetRequired>false</PasswordResetRequired></LoginProfile>`)
	accountAliases = awsfake.QueryResult("ListAccountAliases",
		`<AccountAliases><member>prod-main</member></AccountAliases><IsTruncated>false</IsTruncated>`)
)

// groups answers ListGroupsForUser in two pages, to exercise pagination.
func groups(r *awsfake.Request) awsfake.Response {
	if r.Param("Marker") == "" {
		return awsfake.QueryResult("ListGroupsForUser", `<Groups><member><GroupName>admins</GroupName>`+
			`<GroupId>AGPA1</GroupId><Arn>arn:aws:iam::123456789012:group/admins</Arn><Path>/</Path>`+
			`<CreateDate>2020-01-01T00:00:00Z</CreateDate></member></Groups><IsTruncated>true</IsTruncated><Marker>page2</Marker>`)
	}
	return awsfake.QueryResult("ListGroupsForUser", `<Groups><member><GroupName>developers</GroupName>`+
		`<GroupId>AGPA2</GroupId><Arn>arn:aws:iam::123456789012:group/developers</Arn><Path>/</Path>`+
		`<CreateDate>2020-01-01T00:00:00Z</CreateDate></member></Groups><IsTruncated>false</IsTruncated>`)
}

func keyLastUsed(r *awsfake.Request) awsfake.Response {
	if r.Param("AccessKeyId") == "AKIAOLD" {
		return awsfake.QueryResult("GetAccessKeyLastUsed", `<UserName>alice</UserName><AccessKeyLastUsed>`+
			`<LastUsedDate>2024-05-01T10:00:00Z</LastUsedDate><ServiceName>s3</ServiceName><Region>us-east-1</Region>`+
			`</AccessKeyLastUsed>`)
	}
	return awsfake.QueryResult("GetAccessKeyLastUsed", `<UserName>alice</UserName><AccessKeyLastUsed>`+
		`<ServiceName>N/A</ServiceName><Region>N/A</Region></AccessKeyLastUsed>`)
}

// wantAlice is the user context the canned answers above describe.
var wantAlice = picket.UserContext{
	UserName:         "alice",
	ARN:              "arn:aws:iam::123456789012:user/alice",
	CreatedAt:        time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC),
	Groups:           []string{"admins", "developers"},
	AttachedPolicies: []string{"AdministratorAccess"},
	InlinePolicies:   []string{"inline-s3"},
	AccessKeys: []picket.AccessKey{
		{ID: "AKIAOLD", Status: "Active", CreatedAt: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC),
			LastUsedAt: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), LastService: "s3"},
		{ID: "AKIANEW", Status: "Inactive", CreatedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
	},
	MFADevices:    1,
	ConsoleAccess: true,
}

// wantAliceOps are the calls that look up alice, sorted.
var wantAliceOps = []string{
	"iam:GetAccessKeyLastUsed", "iam:GetAccessKeyLastUsed", "iam:GetLoginProfile", "iam:GetUser",
	"iam:ListAccessKeys", "iam:ListAttachedUserPolicies", "iam:ListGroupsForUser", "iam:ListGroupsForUser",
	"iam:ListMFADevices", "iam:ListUserPolicies",
}

// onAlice registers the IAM answers for alice, then overrides.
func onAlice(srv *awsfake.Server, overrides map[string]awsfake.Handler) {
	for op, h := range map[string]awsfake.Handler{
		"GetUser":                  awsfake.Reply(getUser),
		"ListGroupsForUser":        groups,
		"ListAttachedUserPolicies": awsfake.Reply(attachedPolicies),
		"ListUserPolicies":         awsfake.Reply(userPolicies),
		"ListAccessKeys":           awsfake.Reply(accessKeys),
		"GetAccessKeyLastUsed":     keyLastUsed,
		"ListMFADevices":           awsfake.Reply(mfaDevices),
		"GetLoginProfile":          awsfake.Reply(loginProfile),
	} {
		srv.On("iam", op, h)
	}
	for op, h := range overrides {
		srv.On("iam", op, h)
	}
}

const instanceXML = `<reservationSet><item><reservationId>r-1</reservationId><ownerId>123456789012</ownerId>` +
	`<instancesSet><item><instanceId>i-0abc</instanceId>` +
	`<instanceState><code>16</code><name>running</name></instanceState>` +
	`<subnetId>subnet-1</subnetId><vpcId>vpc-1</vpcId><ipAddress>203.0.113.7</ipAddress>` +
	`<groupSet><item><groupId>sg-1</groupId><groupName>web</groupName></item><item><groupId>sg-2</groupId></item></groupSet>` +
	`<iamInstanceProfile><arn>arn:aws:iam::123456789012:instance-profile/web</arn><id>AIPA1</id></iamInstanceProfile>` +
	`<tagSet><item><key>Name</key><value>web-1</value></item><item><key>owner</key><value>team-web</value></item>` +
	`<item><key>aws:autoscaling:groupName</key><value>web-asg</value></item></tagSet>` +
	`</item></instancesSet></item></reservationSet>`

var wantInstance = picket.InstanceContext{
	InstanceID:       "i-0abc",
	Name:             "web-1",
	Owner:            "team-web",
	State:            "running",
	VPCID:            "vpc-1",
	SubnetID:         "subnet-1",
	SecurityGroups:   []string{"sg-1 (web)", "sg-2"},
	PublicIP:         "203.0.113.7",
	InstanceProfile:  "arn:aws:iam::123456789012:instance-profile/web",
	AutoScalingGroup: "web-asg",
}

// clock is a settable clock for cache expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is an Enricher whose clients talk to an awsfake server and see
// only account 123456789012.
type fixture struct {
	srv          *awsfake.Server
	clock        *clock
	clientsCalls atomic.Int32
	enricher     *enrich.Enricher
}

func newFixture(t *testing.T, opts enrich.Options) *fixture {
	t.Helper()
	fx := &fixture{
		srv:   awsfake.New(t),
		clock: &clock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)},
	}
	cfg := fx.srv.Config()
	opts.Clients = func(ctx context.Context, acct, region string) (enrich.Clients, error) {
		fx.clientsCalls.Add(1)
		if acct != account {
			return enrich.Clients{}, errors.New("no access to account " + acct)
		}
		return enrich.Clients{
			IAM: iam.NewFromConfig(cfg, func(o *iam.Options) { o.Region = region }),
			EC2: ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.Region = region }),
			SSM: ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.Region = region }),
		}, nil
	}
	opts.Now = fx.clock.Now
	fx.enricher = enrich.New(opts)
	return fx
}

func userFinding(user string) *picket.Finding {
	return &picket.Finding{
		Key: "k1", Account: account, Region: "us-east-1",
		Resources: []picket.Resource{{Kind: picket.ResourceAccessKey, ID: "AKIAOLD", UserName: user}},
	}
}

func instanceFinding(region string) *picket.Finding {
	return &picket.Finding{
		Key: "k2", Account: account, Region: "us-east-1",
		Resources: []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: "i-0abc", Region: region}},
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestUserContext(t *testing.T) {
	fx := newFixture(t, enrich.Options{Aliases: map[string]string{account: "prod"}})
	onAlice(fx.srv, nil)

	got := fx.enricher.Enrich(context.Background(), userFinding("alice"))

	if got.User == nil || !reflect.DeepEqual(*got.User, wantAlice) {
		t.Errorf("got user %+v, want %+v", got.User, wantAlice)
	}
	if got.Missing != nil {
		t.Errorf("got missing %q, want none", got.Missing)
	}
	ops := fx.srv.Operations()
	if !slices.Equal(sorted(ops), wantAliceOps) {
		t.Errorf("got operations %v, want %v in any order", sorted(ops), wantAliceOps)
	}
	if len(ops) > 0 && ops[0] != "iam:GetUser" {
		t.Errorf("got first operation %s, want iam:GetUser before the rest", ops[0])
	}
	for _, c := range fx.srv.Calls() {
		if c.Operation == "GetAccessKeyLastUsed" {
			if id := c.Param("AccessKeyId"); id != "AKIAOLD" && id != "AKIANEW" {
				t.Errorf("got GetAccessKeyLastUsed for %q, want AKIAOLD or AKIANEW", id)
			}
		} else if u := c.Param("UserName"); u != "alice" {
			t.Errorf("got %s for user %q, want alice", c.Operation, u)
		}
	}
}

func TestUserFailures(t *testing.T) {
	denied := awsfake.Reply(awsfake.QueryError("AccessDenied", "not authorized"))
	noEntity := awsfake.Reply(awsfake.QueryError("NoSuchEntity", "The user with name alice cannot be found."))
	tests := []struct {
		name        string
		overrides   map[string]awsfake.Handler
		wantUser    *picket.UserContext
		wantMissing []string
		wantOps     []string // sorted; nil means wantAliceOps
	}{
		{
			name:        "get user access denied",
			overrides:   map[string]awsfake.Handler{"GetUser": denied},
			wantMissing: []string{"IAM user alice: access denied (iam:GetUser); grant it to see user context"},
			wantOps:     []string{"iam:GetUser"},
		},
		{
			name:        "user not found",
			overrides:   map[string]awsfake.Handler{"GetUser": noEntity},
			wantMissing: []string{"IAM user alice: not found in account 123456789012"},
			wantOps:     []string{"iam:GetUser"},
		},
		{
			name:      "no login profile means no console access",
			overrides: map[string]awsfake.Handler{"GetLoginProfile": awsfake.Reply(awsfake.QueryError("NoSuchEntity", "Login Profile for User alice cannot be found."))},
			wantUser: func() *picket.UserContext {
				u := wantAlice
				u.ConsoleAccess = false
				return &u
			}(),
		},
		{
			name:      "one list denied keeps the rest",
			overrides: map[string]awsfake.Handler{"ListAccessKeys": denied},
			wantUser: func() *picket.UserContext {
				u := wantAlice
				u.AccessKeys = nil
				return &u
			}(),
			wantMissing: []string{"IAM user alice: access denied (iam:ListAccessKeys); grant it to see user context"},
			wantOps: []string{"iam:GetLoginProfile", "iam:GetUser", "iam:ListAccessKeys", "iam:ListAttachedUserPolicies",
				"iam:ListGroupsForUser", "iam:ListGroupsForUser", "iam:ListMFADevices", "iam:ListUserPolicies"},
		},
		{
			name:      "other API error is named by its code",
			overrides: map[string]awsfake.Handler{"ListMFADevices": awsfake.Reply(awsfake.QueryError("Throttling", "Rate exceeded"))},
			wantUser: func() *picket.UserContext {
				u := wantAlice
				u.MFADevices = 0
				return &u
			}(),
			wantMissing: []string{"IAM user alice: iam:ListMFADevices failed (Throttling)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, enrich.Options{Aliases: map[string]string{account: "prod"}})
			onAlice(fx.srv, tt.overrides)

			got := fx.enricher.Enrich(context.Background(), userFinding("alice"))

			if !reflect.DeepEqual(got.User, tt.wantUser) {
				t.Errorf("got user %+v, want %+v", got.User, tt.wantUser)
			}
			if !slices.Equal(got.Missing, tt.wantMissing) {
				t.Errorf("got missing %q, want %q", got.Missing, tt.wantMissing)
			}
			wantOps := tt.wantOps
			if wantOps == nil {
				wantOps = wantAliceOps
			}
			if ops := sorted(fx.srv.Operations()); !slices.Equal(ops, wantOps) {
				t.Errorf("got operations %v, want %v", ops, wantOps)
			}

			// Failures are not cached: the same finding asks AWS again.
			fx.srv.Reset()
			fx.enricher.Enrich(context.Background(), userFinding("alice"))
			if tt.wantMissing != nil && len(fx.srv.Calls()) == 0 {
				t.Errorf("got no calls on the second Enrich, want the failed lookup retried")
			}
		})
	}
}

func TestInstanceContext(t *testing.T) {
	fx := newFixture(t, enrich.Options{Aliases: map[string]string{account: "prod"}})
	fx.srv.On("ec2", "DescribeInstances", awsfake.Reply(awsfake.EC2Result("DescribeInstances", instanceXML)))

	got := fx.enricher.Enrich(context.Background(), instanceFinding("eu-west-1"))

	if got.Instance == nil || !reflect.DeepEqual(*got.Instance, wantInstance) {
		t.Errorf("got instance %+v, want %+v", got.Instance, wantInstance)
	}
	if got.Missing != nil {
		t.Errorf("got missing %q, want none", got.Missing)
	}
	calls := fx.srv.Calls()
	if len(calls) != 1 {
		t.Fatalf("got operations %v, want [ec2:DescribeInstances]", fx.srv.Operations())
	}
	if c := calls[0]; c.Operation != "DescribeInstances" || c.Param("InstanceId.1") != "i-0abc" || c.Region != "eu-west-1" {
		t.Errorf("got %s for %q in %q, want DescribeInstances for i-0abc in eu-west-1 (the resource's region)",
			c.Operation, c.Param("InstanceId.1"), c.Region)
	}
}

func TestInstanceFailures(t *testing.T) {
	tests := []struct {
		name string
		resp awsfake.Response
		want string
	}{
		{
			name: "not found",
			resp: awsfake.EC2Error("InvalidInstanceID.NotFound", "The instance ID 'i-0abc' does not exist"),
			want: "EC2 instance i-0abc: not found in account 123456789012 (us-east-1)",
		},
		{
			name: "empty answer",
			resp: awsfake.EC2Result("DescribeInstances", "<reservationSet/>"),
			want: "EC2 instance i-0abc: not found in account 123456789012 (us-east-1)",
		},
		{
			name: "unauthorized",
			resp: awsfake.EC2Error("UnauthorizedOperation", "You are not authorized to perform this operation."),
			want: "EC2 instance i-0abc: access denied (ec2:DescribeInstances); grant it to see instance context",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, enrich.Options{Aliases: map[string]string{account: "prod"}})
			fx.srv.On("ec2", "DescribeInstances", awsfake.Reply(tt.resp))

			got := fx.enricher.Enrich(context.Background(), instanceFinding(""))

			if got.Instance != nil {
				t.Errorf("got instance %+v, want none", got.Instance)
			}
			if want := []string{tt.want}; !slices.Equal(got.Missing, want) {
				t.Errorf("got missing %q, want %q", got.Missing, want)
			}
		})
	}
}

func TestAccountAlias(t *testing.T) {
	tests := []struct {
		name    string
		static  map[string]string
		resp    awsfake.Response
		want    string
		missing []string
		wantOps []string
	}{
		{name: "static map", static: map[string]string{account: "prod"}, want: "prod"},
		{name: "from API", resp: accountAliases, want: "prod-main", wantOps: []string{"iam:ListAccountAliases"}},
		{
			name:    "account without alias",
			resp:    awsfake.QueryResult("ListAccountAliases", `<AccountAliases/><IsTruncated>false</IsTruncated>`),
			wantOps: []string{"iam:ListAccountAliases"},
		},
		{
			name:    "access denied",
			resp:    awsfake.QueryError("AccessDenied", "not authorized"),
			missing: []string{"account 123456789012 alias: access denied (iam:ListAccountAliases); grant it to see the account alias"},
			wantOps: []string{"iam:ListAccountAliases"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, enrich.Options{Aliases: tt.static})
			fx.srv.On("iam", "ListAccountAliases", awsfake.Reply(tt.resp))
			f := &picket.Finding{Key: "k", Account: account, Region: "us-east-1"}

			got := fx.enricher.Enrich(context.Background(), f)

			if got.AccountAlias != tt.want {
				t.Errorf("got alias %q, want %q", got.AccountAlias, tt.want)
			}
			if !slices.Equal(got.Missing, tt.missing) {
				t.Errorf("got missing %q, want %q", got.Missing, tt.missing)
			}
			if ops := fx.srv.Operations(); !slices.Equal(ops, tt.wantOps) {
				t.Errorf("got operations %v, want %v", ops, tt.wantOps)
			}
		})
	}
}

func TestBudget(t *testing.T) {
	fx := newFixture(t, enrich.Options{Budget: 500 * time.Millisecond})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	onAlice(fx.srv, map[string]awsfake.Handler{
		"ListAccessKeys": func(r *awsfake.Request) awsfake.Response {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return accessKeys
		},
	})
	fx.srv.On("iam", "ListAccountAliases", awsfake.Reply(accountAliases))

	got := enrichOrFail(t, fx.enricher, userFinding("alice"))

	if got.AccountAlias != "prod-main" {
		t.Errorf("got alias %q, want %q", got.AccountAlias, "prod-main")
	}
	// What finished is kept; the keys that did not arrive are reported.
	if got.User == nil || got.User.ARN != wantAlice.ARN || got.User.AccessKeys != nil {
		t.Errorf("got user %+v, want the context of alice without access keys", got.User)
	}
	if want := []string{"IAM user alice: no answer within 500ms"}; !slices.Equal(got.Missing, want) {
		t.Errorf("got missing %q, want %q", got.Missing, want)
	}
}

// stuckIAM is an IAM client whose ListAccessKeys ignores its context, as a
// badly written client might.
type stuckIAM struct {
	*iam.Client
	release chan struct{}
}

func (s stuckIAM) ListAccessKeys(context.Context, *iam.ListAccessKeysInput, ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	<-s.release
	return &iam.ListAccessKeysOutput{}, nil
}

func TestBudgetWithClientIgnoringContext(t *testing.T) {
	srv := awsfake.New(t)
	onAlice(srv, nil)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e := enrich.New(enrich.Options{
		Budget:  500 * time.Millisecond,
		Aliases: map[string]string{account: "prod"},
		Clients: func(context.Context, string, string) (enrich.Clients, error) {
			return enrich.Clients{IAM: stuckIAM{Client: iam.NewFromConfig(srv.Config()), release: release}}, nil
		},
	})

	got := enrichOrFail(t, e, userFinding("alice"))

	if want := []string{"IAM user alice: no answer within 500ms"}; !slices.Equal(got.Missing, want) {
		t.Errorf("got missing %q, want %q", got.Missing, want)
	}
	if got.User == nil || got.User.ARN != wantAlice.ARN {
		t.Errorf("got user %+v, want the partial context with ARN %s", got.User, wantAlice.ARN)
	}
}

// enrichOrFail runs Enrich and fails the test if it does not return long
// after its budget (which is far below the limit here), instead of hanging.
func enrichOrFail(t *testing.T, e *enrich.Enricher, f *picket.Finding) picket.Enrichment {
	t.Helper()
	done := make(chan picket.Enrichment, 1)
	go func() { done <- e.Enrich(context.Background(), f) }()
	select {
	case got := <-done:
		return got
	case <-time.After(30 * time.Second):
		t.Fatal("Enrich did not return within 30s; want it to return when its budget runs out")
		return picket.Enrichment{}
	}
}

func TestCache(t *testing.T) {
	fx := newFixture(t, enrich.Options{CacheTTL: 15 * time.Minute})
	onAlice(fx.srv, nil)
	fx.srv.On("iam", "ListAccountAliases", awsfake.Reply(accountAliases))
	fx.srv.On("ec2", "DescribeInstances", awsfake.Reply(awsfake.EC2Result("DescribeInstances", instanceXML)))
	f := userFinding("alice")
	f.Resources = append(f.Resources, picket.Resource{Kind: picket.ResourceEC2Instance, ID: "i-0abc"})
	ctx := context.Background()
	wantOps := sorted(append([]string{"iam:ListAccountAliases", "ec2:DescribeInstances"}, wantAliceOps...))

	first := fx.enricher.Enrich(ctx, f)
	if ops := sorted(fx.srv.Operations()); !slices.Equal(ops, wantOps) {
		t.Fatalf("got first operations %v, want %v", ops, wantOps)
	}

	fx.srv.Reset()
	fx.clientsCalls.Store(0)
	fx.clock.Advance(14 * time.Minute)
	second := fx.enricher.Enrich(ctx, f)
	if ops := fx.srv.Operations(); len(ops) != 0 {
		t.Errorf("got operations %v within the TTL, want none", ops)
	}
	if n := fx.clientsCalls.Load(); n != 0 {
		t.Errorf("got %d Clients calls within the TTL, want 0", n)
	}
	if !reflect.DeepEqual(second, first) {
		t.Errorf("got cached enrichment %+v, want %+v", second, first)
	}

	// A caller changing what it got must not change the cache.
	second.User.Groups[0] = "changed"
	second.Instance.SecurityGroups[0] = "changed"
	if third := fx.enricher.Enrich(ctx, f); !reflect.DeepEqual(third, first) {
		t.Errorf("got %+v after the caller changed its copy, want %+v", third, first)
	}

	fx.clock.Advance(2 * time.Minute)
	fx.enricher.Enrich(ctx, f)
	if ops := sorted(fx.srv.Operations()); !slices.Equal(ops, wantOps) {
		t.Errorf("got operations %v after the TTL, want %v", ops, wantOps)
	}
}

func TestClientsError(t *testing.T) {
	fx := newFixture(t, enrich.Options{Aliases: map[string]string{"222222222222": "partner"}})
	f := userFinding("bob")
	f.Account = "222222222222"
	f.Resources = append(f.Resources, picket.Resource{Kind: picket.ResourceEC2Instance, ID: "i-0abc"})

	got := fx.enricher.Enrich(context.Background(), f)

	if got.AccountAlias != "partner" {
		t.Errorf("got alias %q, want %q", got.AccountAlias, "partner")
	}
	if want := []string{"account 222222222222: no lookups (no access to account 222222222222)"}; !slices.Equal(got.Missing, want) {
		t.Errorf("got missing %q, want %q", got.Missing, want)
	}
	if got.User != nil || got.Instance != nil {
		t.Errorf("got user %+v and instance %+v, want neither", got.User, got.Instance)
	}
	if n := fx.clientsCalls.Load(); n != 1 {
		t.Errorf("got %d Clients calls, want 1 (once per region per finding)", n)
	}
	if ops := fx.srv.Operations(); len(ops) != 0 {
		t.Errorf("got operations %v, want none", ops)
	}
}

func TestClientsErrorMessage(t *testing.T) {
	e := enrich.New(enrich.Options{
		Aliases: map[string]string{account: "prod"},
		Clients: func(context.Context, string, string) (enrich.Clients, error) {
			return enrich.Clients{}, &picket.Error{Code: picket.EUNAUTHORIZED,
				Message: "Picket cannot assume its role in this account", Err: errors.New("sts: AccessDenied arn:aws:iam::...")}
		},
	})

	got := e.Enrich(context.Background(), userFinding("alice"))

	want := []string{"account 123456789012: no lookups (Picket cannot assume its role in this account)"}
	if !slices.Equal(got.Missing, want) {
		t.Errorf("got missing %q, want %q", got.Missing, want)
	}
}

func TestNoLookups(t *testing.T) {
	tests := []struct {
		name    string
		finding *picket.Finding
		want    picket.Enrichment
	}{
		{
			name: "sample finding",
			finding: &picket.Finding{Key: "k", Account: account, Region: "us-east-1", Sample: true,
				Resources: []picket.Resource{{Kind: picket.ResourceIAMUser, ID: "GeneratedFindingUserName"}}},
			want: picket.Enrichment{AccountAlias: "prod", Missing: []string{"sample finding: no lookups"}},
		},
		{
			name: "root user",
			finding: &picket.Finding{Key: "k", Account: account, Region: "us-east-1",
				Resources: []picket.Resource{{Kind: picket.ResourceRoot, ID: "root"}}},
			want: picket.Enrichment{AccountAlias: "prod",
				Missing: []string{"root user: no IAM user details (the root user is not an IAM user)"}},
		},
		{
			name: "access key without user",
			finding: &picket.Finding{Key: "k", Account: account, Region: "us-east-1",
				Resources: []picket.Resource{{Kind: picket.ResourceAccessKey, ID: "ASIAEXAMPLE"}}},
			want: picket.Enrichment{AccountAlias: "prod",
				Missing: []string{"access key ASIAEXAMPLE: owning IAM user unknown, no user details"}},
		},
		{
			name:    "bucket finding",
			finding: &picket.Finding{Key: "k", Account: account, Region: "us-east-1", Resources: []picket.Resource{{Kind: picket.ResourceS3Bucket, ID: "b"}}},
			want:    picket.Enrichment{AccountAlias: "prod"},
		},
		{name: "nil finding", want: picket.Enrichment{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No handlers: any AWS call fails the test.
			fx := newFixture(t, enrich.Options{Aliases: map[string]string{account: "prod"}})

			got := fx.enricher.Enrich(context.Background(), tt.finding)

			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if n := fx.clientsCalls.Load(); n != 0 {
				t.Errorf("got %d Clients calls, want 0", n)
			}
		})
	}
}

func TestConcurrentEnrich(t *testing.T) {
	fx := newFixture(t, enrich.Options{})
	onAlice(fx.srv, nil)
	fx.srv.On("iam", "ListAccountAliases", awsfake.Reply(accountAliases))
	fx.srv.On("ec2", "DescribeInstances", awsfake.Reply(awsfake.EC2Result("DescribeInstances", instanceXML)))
	f := userFinding("alice")
	f.Resources = append(f.Resources, picket.Resource{Kind: picket.ResourceEC2Instance, ID: "i-0abc"})

	var wg sync.WaitGroup
	results := make([]picket.Enrichment, 8)
	for i := range results {
		wg.Go(func() { results[i] = fx.enricher.Enrich(context.Background(), f) })
	}
	wg.Wait()
	for i, got := range results {
		if got.User == nil || !reflect.DeepEqual(*got.User, wantAlice) || got.Instance == nil || got.Missing != nil {
			t.Errorf("result %d: got %+v, want full user and instance context", i, got)
		}
	}
}

func TestNoClientsConfigured(t *testing.T) {
	e := enrich.New(enrich.Options{})
	got := e.Enrich(context.Background(), userFinding("alice"))
	want := []string{"account 123456789012: no lookups (no AWS access is configured for lookups)"}
	if !slices.Equal(got.Missing, want) {
		t.Errorf("got missing %q, want %q", got.Missing, want)
	}
	if got.AccountAlias != "" || got.User != nil {
		t.Errorf("got %+v, want nothing learnt", got)
	}
}

func ExampleNew() {
	e := enrich.New(enrich.Options{
		Aliases: map[string]string{"123456789012": "prod"},
		Clients: func(ctx context.Context, account, region string) (enrich.Clients, error) {
			cfg := aws.Config{Region: region} // in Picket: the loaded config, or an assumed role
			return enrich.Clients{IAM: iam.NewFromConfig(cfg), EC2: ec2.NewFromConfig(cfg)}, nil
		},
	})
	_ = e // e.Enrich(ctx, finding) within triage's pipeline
}
