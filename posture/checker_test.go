package posture_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/posture"
	pt "github.com/picketsec/picket/posture/posturetest"
)

func byID(r picket.PostureReport) map[string]picket.CheckResult {
	m := map[string]picket.CheckResult{}
	for _, c := range r.Results {
		m[c.ID] = c
	}
	return m
}

// TestAccessDenied: checks whose permission is missing report an error
// naming it; every other check still completes.
func TestAccessDenied(t *testing.T) {
	srv := awsfake.New(t)
	pt.Healthy(srv, now, nil)
	srv.On("iam", "GenerateCredentialReport", awsfake.Reply(awsfake.QueryError("AccessDenied",
		"User: arn:aws:sts::"+account+":assumed-role/picket/bot is not authorized to perform: iam:GenerateCredentialReport")))
	srv.On("s3", "ListBuckets", awsfake.Reply(pt.S3Error(http.StatusForbidden, "AccessDenied")))
	srv.On("ec2", "DescribeVpcs", awsfake.Reply(awsfake.EC2Error("UnauthorizedOperation", "You are not authorized to perform this operation.")))

	r, err := newChecker(t, srv).Check(context.Background(), account, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(r.Results), len(posture.Definitions()); got != want {
		t.Fatalf("got %d results, want %d", got, want)
	}
	wantErr := map[string]string{
		"iam.root-mfa":           "access denied: grant iam:GenerateCredentialReport",
		"iam.root-access-keys":   "access denied: grant iam:GenerateCredentialReport",
		"iam.console-mfa":        "access denied: grant iam:GenerateCredentialReport",
		"iam.access-key-age":     "access denied: grant iam:GenerateCredentialReport",
		"iam.unused-credentials": "access denied: grant iam:GenerateCredentialReport",
		"s3.public-buckets":      "access denied: grant s3:ListAllMyBuckets",
		"vpc.flow-logs":          "access denied: grant ec2:DescribeVpcs",
	}
	for _, c := range r.Results {
		want, denied := wantErr[c.ID]
		switch {
		case denied && (c.Status != picket.CheckError || c.Error != want):
			t.Errorf("%s: got %s %q, want error %q", c.ID, c.Status, c.Error, want)
		case !denied && c.Status != picket.CheckPass:
			t.Errorf("%s: got %s %q, want pass", c.ID, c.Status, c.Error)
		}
	}
	// The credential report is asked for once, not once per check.
	if n := count(srv.Operations(), "iam:GenerateCredentialReport"); n != 1 {
		t.Errorf("GenerateCredentialReport called %d times, want 1", n)
	}
	if got := r.Score(); got != 100 {
		t.Errorf("score = %v, want 100 (errors do not count)", got)
	}
	if r.Failed() {
		t.Error("report says a check failed")
	}
}

func count(ops []string, op string) int {
	n := 0
	for _, o := range ops {
		if o == op {
			n++
		}
	}
	return n
}

// TestCredentialReportShared: the five credential checks read one report,
// waiting while IAM generates it.
func TestCredentialReportShared(t *testing.T) {
	srv := awsfake.New(t)
	pt.Healthy(srv, now, nil)
	srv.On("iam", "GenerateCredentialReport", awsfake.Reply(awsfake.QueryResult("GenerateCredentialReport", "<State>STARTED</State>")))
	srv.On("iam", "GetCredentialReport", awsfake.Sequence(
		awsfake.QueryError("ReportInProgress", "Report generation in progress"),
		pt.CredentialReport(now, pt.HealthyUsers(now)...)))
	ids := []string{"iam.root-mfa", "iam.root-access-keys", "iam.console-mfa", "iam.access-key-age", "iam.unused-credentials"}
	r, err := newChecker(t, srv).Check(context.Background(), account, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Results {
		if c.Status != picket.CheckPass {
			t.Errorf("%s: got %s %q, want pass", c.ID, c.Status, c.Error)
		}
	}
	want := []string{"iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetCredentialReport"}
	if got := srv.Operations(); !slices.Equal(got, want) {
		t.Errorf("got calls %q, want %q", got, want)
	}
}

func TestCredentialReportNeverReady(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the bounded polling (about 9 s)")
	}
	srv := awsfake.New(t)
	pt.Healthy(srv, now, nil)
	srv.On("iam", "GetCredentialReport", awsfake.Reply(awsfake.QueryError("ReportInProgress", "in progress")))
	r, err := newChecker(t, srv).Check(context.Background(), account, []string{"iam.root-mfa"})
	if err != nil {
		t.Fatal(err)
	}
	res := only(t, r, "iam.root-mfa")
	if res.Status != picket.CheckError || !strings.Contains(res.Error, "not ready") {
		t.Errorf("got %s %q, want an error saying the report was not ready", res.Status, res.Error)
	}
	if n := count(srv.Operations(), "iam:GetCredentialReport"); n != 8 {
		t.Errorf("polled %d times, want 8", n)
	}
}

// TestConcurrencyLimit: no more than Concurrency checks call AWS at once.
func TestConcurrencyLimit(t *testing.T) {
	const limit = 2
	var (
		mu       sync.Mutex
		inflight int
		peak     int
		full     = make(chan struct{})
		release  = make(chan struct{})
		fullOnce sync.Once
	)
	gate := func(h awsfake.Handler) awsfake.Handler {
		return func(r *awsfake.Request) awsfake.Response {
			mu.Lock()
			inflight++
			peak = max(peak, inflight)
			if inflight == limit {
				fullOnce.Do(func() { close(full) })
			}
			mu.Unlock()
			defer func() { mu.Lock(); inflight--; mu.Unlock() }()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return h(r)
		}
	}
	srv := awsfake.New(t)
	pt.Healthy(srv, now, gate)
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })

	c := newChecker(t, srv, func(o *posture.Options) { o.Concurrency = limit; o.Regions = []string{"us-east-1", "eu-west-1"} })
	type result struct {
		r   picket.PostureReport
		err error
	}
	done := make(chan result, 1)
	// Checks that share nothing: the credential-report checks wait on one
	// shared report, and a waiter holding a slot makes no call of its own,
	// so with them in the set two calls in flight at once is not certain.
	ids := []string{"ec2.ebs-default-encryption", "vpc.flow-logs", "guardduty.enabled", "securityhub.enabled", "kms.key-rotation"}
	go func() {
		r, err := c.Check(context.Background(), account, ids)
		done <- result{r, err}
	}()
	select {
	case <-full:
	case <-time.After(10 * time.Second):
		t.Fatal("the checks never had two calls in flight")
	}
	once.Do(func() { close(release) })
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	for _, c := range res.r.Results {
		if c.Status != picket.CheckPass {
			t.Errorf("%s: got %s %q, want pass", c.ID, c.Status, c.Error)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if peak != limit {
		t.Errorf("got at most %d calls in flight, want %d", peak, limit)
	}
}

// TestTimeout: a check whose call hangs is reported as timed out while the
// others complete.
func TestTimeout(t *testing.T) {
	srv := awsfake.New(t)
	pt.Healthy(srv, now, nil)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	srv.On("iam", "GetAccountPasswordPolicy", func(r *awsfake.Request) awsfake.Response {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
		return pt.PasswordPolicy(16, 24)
	})
	c := newChecker(t, srv, func(o *posture.Options) { o.Timeout = 300 * time.Millisecond })
	r, err := c.Check(context.Background(), account, []string{"iam.password-policy", "ec2.ebs-default-encryption"})
	if err != nil {
		t.Fatal(err)
	}
	got := byID(r)
	if p := got["iam.password-policy"]; p.Status != picket.CheckError || p.Error != "timed out after 300ms" {
		t.Errorf("password policy: got %s %q, want error %q", p.Status, p.Error, "timed out after 300ms")
	}
	if e := got["ec2.ebs-default-encryption"]; e.Status != picket.CheckPass {
		t.Errorf("EBS: got %s %q, want pass", e.Status, e.Error)
	}
}

// TestCache: a repeated Check within CacheTTL makes no AWS calls; after it,
// the checks run again.
func TestCache(t *testing.T) {
	srv := awsfake.New(t)
	pt.Healthy(srv, now, nil)
	clock := now
	c := newChecker(t, srv, func(o *posture.Options) {
		o.CacheTTL = time.Minute
		o.Now = func() time.Time { return clock }
	})
	ids := []string{"ec2.ebs-default-encryption", "guardduty.enabled"}
	first, err := c.Check(context.Background(), "", ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Calls()) == 0 {
		t.Fatal("the first Check made no calls")
	}
	srv.Reset()
	clock = clock.Add(59 * time.Second)
	second, err := c.Check(context.Background(), "", []string{"guardduty.enabled", "ec2.ebs-default-encryption"})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Operations(); len(got) != 0 {
		t.Errorf("a Check within the TTL called %q", got)
	}
	if !second.Generated.Equal(first.Generated) || len(second.Results) != 2 {
		t.Errorf("cached report differs: generated %v vs %v, %d results", second.Generated, first.Generated, len(second.Results))
	}
	second.Results[0].Failing = append(second.Results[0].Failing, "mutated")

	// Other checks are not served from the cache.
	if _, err := c.Check(context.Background(), "", []string{"ec2.ebs-default-encryption"}); err != nil {
		t.Fatal(err)
	}
	if len(srv.Calls()) == 0 {
		t.Error("a Check of other checks was served from the cache")
	}
	srv.Reset()
	clock = clock.Add(2 * time.Second)
	third, err := c.Check(context.Background(), "", ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Calls()) == 0 {
		t.Error("a Check after the TTL made no calls")
	}
	if len(third.Results[0].Failing) != 0 {
		t.Errorf("a caller's change leaked into the cache: %q", third.Results[0].Failing)
	}
}

func TestUnknownCheck(t *testing.T) {
	srv := awsfake.New(t)
	_, err := newChecker(t, srv).Check(context.Background(), account, []string{"iam.root-mfa", "iam.nope"})
	var pe *picket.Error
	if !errors.As(err, &pe) || pe.Code != picket.EINVALID {
		t.Fatalf("got %v, want an EINVALID error", err)
	}
	for _, want := range []string{`"iam.nope"`, "all", "iam.root-mfa", "kms.key-rotation"} {
		if !strings.Contains(pe.Message, want) {
			t.Errorf("message %q does not mention %s", pe.Message, want)
		}
	}
	if n := len(srv.Calls()); n != 0 {
		t.Errorf("made %d AWS calls for a bad request", n)
	}
}

// TestOwnAccount: account "" is the caller's, from STS; S3 Control is
// asked about that account.
func TestOwnAccount(t *testing.T) {
	srv := awsfake.New(t)
	pt.Healthy(srv, now, nil)
	var header string
	srv.OnREST("s3", "GetPublicAccessBlock", "GET", "/v20180820/configuration/publicAccessBlock", func(r *awsfake.Request) awsfake.Response {
		header = r.Header.Get("X-Amz-Account-Id")
		return pt.PublicAccessBlock(true)
	})
	r, err := newChecker(t, srv).Check(context.Background(), "", []string{"s3.account-public-access-block"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Account != account || r.Results[0].Account != account {
		t.Errorf("got account %q / %q, want %s", r.Account, r.Results[0].Account, account)
	}
	want := []string{"sts:GetCallerIdentity", "s3:GetPublicAccessBlock"}
	if got := srv.Operations(); !slices.Equal(got, want) {
		t.Errorf("got calls %q, want %q", got, want)
	}
	if header != account {
		t.Errorf("x-amz-account-id = %q, want %s", header, account)
	}
	if r.Results[0].Status != picket.CheckPass {
		t.Errorf("got %s %q, want pass", r.Results[0].Status, r.Results[0].Error)
	}
}

func TestClientsError(t *testing.T) {
	c := posture.New(posture.Options{
		Clients: func(context.Context, string, string) (posture.Clients, error) {
			return posture.Clients{}, picket.Errorf(picket.EUNAUTHORIZED, "no access to account 999999999999")
		},
	})
	_, err := c.Check(context.Background(), "999999999999", nil)
	if picket.ErrorCode(err) != picket.EUNAUTHORIZED {
		t.Errorf("got %v, want the Clients function's EUNAUTHORIZED error", err)
	}
}

// TestRegions: regional checks run in every region, each with its own
// clients; account checks run once.
func TestRegions(t *testing.T) {
	srv := awsfake.New(t)
	pt.Healthy(srv, now, nil)
	srv.On("ec2", "GetEbsEncryptionByDefault", func(r *awsfake.Request) awsfake.Response {
		return awsfake.EC2Result("GetEbsEncryptionByDefault",
			"<ebsEncryptionByDefault>"+map[string]string{"us-east-1": "true", "eu-west-1": "false"}[r.Region]+"</ebsEncryptionByDefault>")
	})
	c := newChecker(t, srv, func(o *posture.Options) { o.Regions = []string{"us-east-1", "eu-west-1"} })
	r, err := c.Check(context.Background(), account, []string{"ec2.ebs-default-encryption", "iam.password-policy"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Regions, []string{"us-east-1", "eu-west-1"}) {
		t.Errorf("report regions = %q", r.Regions)
	}
	got := byID(r)
	ebs := got["ec2.ebs-default-encryption"]
	if ebs.Status != picket.CheckFail || !slices.Equal(ebs.Failing, []string{"eu-west-1: EBS default encryption in eu-west-1"}) {
		t.Errorf("EBS: got %s %q, want fail for eu-west-1 only", ebs.Status, ebs.Failing)
	}
	if want := []string{"us-east-1: EBS encryption by default: true", "eu-west-1: EBS encryption by default: false"}; !slices.Equal(ebs.Evidence, want) {
		t.Errorf("EBS evidence = %q, want %q", ebs.Evidence, want)
	}
	var regions []string
	for _, call := range srv.Calls() {
		if call.Operation == "GetEbsEncryptionByDefault" {
			regions = append(regions, call.Region)
		}
	}
	slices.Sort(regions)
	if !slices.Equal(regions, []string{"eu-west-1", "us-east-1"}) {
		t.Errorf("EBS asked in %q, want both regions", regions)
	}
	if n := count(srv.Operations(), "iam:GetAccountPasswordPolicy"); n != 1 {
		t.Errorf("the account check ran %d times, want 1", n)
	}
	if p := got["iam.password-policy"]; p.Status != picket.CheckPass || len(p.Regions) != 0 {
		t.Errorf("password policy: got %s in %q, want pass without regions", p.Status, p.Regions)
	}
}

// TestScore: the score counts passes among checks that ran.
func TestScore(t *testing.T) {
	srv := awsfake.New(t)
	pt.Healthy(srv, now, nil)
	for _, tc := range checkCases {
		switch tc.id {
		case "iam.root-mfa", "iam.password-policy", "ec2.ebs-default-encryption":
			tc.fail(srv)
		}
	}
	srv.On("kms", "ListKeys", awsfake.Reply(awsfake.JSONError("AccessDeniedException", "no")))
	r, err := newChecker(t, srv).Check(context.Background(), account, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := len(posture.Definitions())
	want := float64(n-4) * 100 / float64(n-1) // 3 fail, 1 error
	if got := r.Score(); got != want {
		t.Errorf("score = %v, want %v", got, want)
	}
	if !r.Failed() {
		t.Error("Failed() = false with three failing checks")
	}
	if k := byID(r)["kms.key-rotation"]; k.Error != "access denied: grant kms:ListKeys" {
		t.Errorf("KMS error = %q", k.Error)
	}
}

// TestPermissions: Permissions lists exactly the IAM actions behind the
// calls a full run makes.
func TestPermissions(t *testing.T) {
	srv := awsfake.New(t)
	pt.Healthy(srv, now, nil)
	if _, err := newChecker(t, srv).Check(context.Background(), "", nil); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, c := range srv.Calls() {
		action := c.Service + ":" + c.Operation
		switch {
		case c.Service == "sts":
			continue // needs no permission
		case action == "s3:ListBuckets":
			action = "s3:ListAllMyBuckets"
		case action == "s3:GetPublicAccessBlock" && strings.HasPrefix(c.Path, "/v20180820/"):
			action = "s3:GetAccountPublicAccessBlock"
		}
		used[action] = true
	}
	perms := posture.Permissions()
	if !slices.IsSorted(perms) {
		t.Errorf("Permissions() is not sorted: %q", perms)
	}
	for a := range used {
		if !slices.Contains(perms, a) {
			t.Errorf("the checks call %s, which Permissions() does not list", a)
		}
	}
	for _, p := range perms {
		if !used[p] {
			t.Errorf("Permissions() lists %s, which no check calls", p)
		}
	}
}

func TestCancelled(t *testing.T) {
	srv := awsfake.New(t)
	srv.AllowUnexpected()
	pt.Healthy(srv, now, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newChecker(t, srv).Check(ctx, account, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
