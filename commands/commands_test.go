package commands_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/commands"
)

// hostile is text from data that tries to mention everyone and forge a
// link; it must reach Slack escaped.
const hostile = "<!channel> & <https://evil.example|click>"

var now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// fakeStore is the finding index, action history, audit trail and
// suppression list.
type fakeStore struct {
	findings     []picket.FindingRecord
	actions      map[string][]picket.ActionRecord
	audit        []picket.AuditEntry
	suppressions []picket.Suppression
	fail         error

	mu         sync.Mutex
	auditAsked []int
}

func (s *fakeStore) Finding(key string) (picket.FindingRecord, bool, error) {
	if s.fail != nil {
		return picket.FindingRecord{}, false, s.fail
	}
	for _, r := range s.findings {
		if r.Finding.Key == key {
			return r, true, nil
		}
	}
	return picket.FindingRecord{}, false, nil
}

func (s *fakeStore) FindingByID(id string) (picket.FindingRecord, bool, error) {
	for _, r := range s.findings {
		if r.Finding.ID == id {
			return r, true, nil
		}
	}
	return picket.FindingRecord{}, false, nil
}

func (s *fakeStore) Findings(fn func(picket.FindingRecord) error) error {
	if s.fail != nil {
		return s.fail
	}
	for _, r := range s.findings {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (s *fakeStore) ActionsForFinding(key string) ([]picket.ActionRecord, error) {
	return s.actions[key], nil
}

func (s *fakeStore) RecentAudit(n int) ([]picket.AuditEntry, error) {
	s.mu.Lock()
	s.auditAsked = append(s.auditAsked, n)
	s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	return s.audit[max(0, len(s.audit)-n):], nil
}

func (s *fakeStore) Suppressions() ([]picket.Suppression, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	return s.suppressions, nil
}

func (s *fakeStore) PutSuppression(picket.Suppression) error { return errors.New("read only") }

// fakePosture answers with a fixed report and records what was asked.
type fakePosture struct {
	report picket.PostureReport
	err    error

	mu    sync.Mutex
	calls []string // account|ids
}

func (p *fakePosture) Check(_ context.Context, account string, ids []string) (picket.PostureReport, error) {
	p.mu.Lock()
	p.calls = append(p.calls, account+"|"+strings.Join(ids, ","))
	p.mu.Unlock()
	if p.err != nil {
		return picket.PostureReport{}, p.err
	}
	rep := p.report
	rep.Account = account
	if len(ids) == 1 && ids[0] != "all" {
		rep.Results = nil
		for _, c := range p.report.Results {
			if c.ID == ids[0] {
				rep.Results = append(rep.Results, c)
			}
		}
	}
	return rep, nil
}

// fakeEnricher answers look-ups and records the findings it was given.
type fakeEnricher struct {
	mu   sync.Mutex
	seen []picket.Finding
}

func (e *fakeEnricher) Enrich(_ context.Context, f *picket.Finding) picket.Enrichment {
	e.mu.Lock()
	e.seen = append(e.seen, *f)
	e.mu.Unlock()
	enr := picket.Enrichment{AccountAlias: "prod" + hostile}
	switch f.Resources[0].Kind {
	case picket.ResourceIAMUser:
		enr.User = &picket.UserContext{
			UserName: f.Resources[0].ID, ARN: "arn:aws:iam::123456789012:user/" + f.Resources[0].ID,
			CreatedAt: now.AddDate(-1, 0, 0), Groups: []string{"admins" + hostile}, AttachedPolicies: []string{"AdministratorAccess"},
			AccessKeys: []picket.AccessKey{
				{ID: "AKIAOLDKEY", Status: "Active", CreatedAt: now.AddDate(0, 0, -200), LastUsedAt: now.Add(-3 * time.Hour), LastService: "s3"},
				{ID: "AKIANEVER", Status: "Inactive", CreatedAt: now.AddDate(0, 0, -5)},
			},
			MFADevices: 0, ConsoleAccess: true,
		}
	case picket.ResourceEC2Instance:
		enr.Instance = &picket.InstanceContext{
			InstanceID: f.Resources[0].ID, Name: "web-1" + hostile, State: "running", VPCID: "vpc-1", SubnetID: "subnet-1",
			SecurityGroups: []string{"sg-1"}, PublicIP: "198.51.100.7", InstanceProfile: "web-role",
		}
		enr.Missing = []string{"Auto Scaling group: AccessDenied"}
	}
	return enr
}

func (e *fakeEnricher) Seen() []picket.Finding {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.seen)
}

func finding(key, id, title string, seen time.Time, res ...picket.Resource) picket.FindingRecord {
	return picket.FindingRecord{
		Finding: picket.Finding{
			Key: key, ID: id, Source: picket.SourceGuardDuty, Type: "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
			Title: title, Description: "Seen from " + hostile, Severity: picket.SeverityHigh, SeverityScore: 8,
			Account: "123456789012", Region: "eu-west-1", Resources: res, FirstSeen: seen.Add(-time.Hour), LastSeen: seen,
			Count: 3, RecordState: picket.RecordActive, WorkflowStatus: picket.WorkflowNew,
		},
		Ref:        picket.MessageRef{Channel: "C0123ABCDE", TS: "1700000000.000100"},
		Route:      picket.Route{Channel: "C0123ABCDE", Rule: "high"},
		Deliveries: 2, FirstReceived: seen, LastReceived: seen,
	}
}

func newDeps(t *testing.T) (commands.Deps, *fakeStore, *fakePosture, *fakeEnricher) {
	t.Helper()
	alice := picket.Resource{Kind: picket.ResourceIAMUser, ID: "alice"}
	key := picket.Resource{Kind: picket.ResourceAccessKey, ID: "AKIAOLDKEY", UserName: "alice"}
	inst := picket.Resource{Kind: picket.ResourceEC2Instance, ID: "i-0123456789abcdef0"}
	grouped := finding("key-inst", "gd-3", "Instance talks to a miner", now.Add(-2*time.Hour), inst)
	grouped.Group = "g7"
	st := &fakeStore{
		findings: []picket.FindingRecord{
			finding("key-alice-1", "gd-1", "Alice called from a bad IP "+hostile, now.Add(-48*time.Hour), alice),
			finding("key-alice-2", "gd-2", "Alice key used oddly", now.Add(-time.Hour), key),
			grouped,
			finding("key-bob", "gd-4", "Bob", now, picket.Resource{Kind: picket.ResourceIAMUser, ID: "bob"}),
		},
		actions: map[string][]picket.ActionRecord{
			"key-alice-1": {{
				Request: picket.ActionRequest{ID: "req-1", Kind: picket.ActionDisableUser, FindingKey: "key-alice-1",
					Target: alice, Actor: picket.Actor{ID: "U1", Name: "carol" + hostile}, At: now.Add(-47 * time.Hour)},
				Status: picket.OutcomeSucceeded,
				Result: &picket.ActionResult{Summary: "Disabled alice " + hostile},
			}},
		},
		audit: []picket.AuditEntry{
			{Seq: 1, Time: now.Add(-3 * time.Hour), Event: "requested", Actor: picket.Actor{ID: "U1", Name: "carol"}, Action: picket.ActionDisableUser, Target: "alice", Account: "123456789012"},
			{Seq: 2, Time: now.Add(-2 * time.Hour), Event: "executed", Actor: picket.Actor{ID: "U1", Name: "carol"}, Action: picket.ActionDisableUser, Target: "alice", Outcome: "succeeded"},
			{Seq: 3, Time: now.Add(-time.Hour), Event: "rejected_request", Actor: picket.Actor{ID: "U9"}, Detail: "bad signature " + hostile},
		},
		suppressions: []picket.Suppression{
			{ID: "sup-active", Type: "Recon:EC2/PortProbeUnprotectedPort", Account: "123456789012", Reason: "scanner " + hostile,
				Actor: picket.Actor{ID: "U2", Name: "dave"}, Created: now.Add(-24 * time.Hour), Until: now.Add(6 * 24 * time.Hour)},
			{ID: "sup-lifted", ResourceID: "i-1", Reason: "maintenance", Actor: picket.Actor{ID: "U2"},
				Created: now.Add(-72 * time.Hour), Until: now.Add(time.Hour), Lifted: now.Add(-24 * time.Hour)},
			{ID: "sup-expired", Source: picket.SourceSecurityHub, Reason: "noise", Actor: picket.Actor{ID: "U3"},
				Created: now.Add(-10 * 24 * time.Hour), Until: now.Add(-2 * 24 * time.Hour)},
			{ID: "sup-old", Reason: "ancient", Actor: picket.Actor{ID: "U3"},
				Created: now.Add(-90 * 24 * time.Hour), Until: now.Add(-30 * 24 * time.Hour)},
		},
	}
	post := &fakePosture{report: picket.PostureReport{
		Regions: []string{"eu-west-1"}, Generated: now.Add(-time.Minute),
		Results: []picket.CheckResult{
			{ID: "iam.root-mfa", Title: "Root account has MFA", Section: "Identity and Access Management", Severity: picket.SeverityCritical,
				Why: "Root can do anything.", Status: picket.CheckPass, Evidence: []string{"root MFA: true"}},
			{ID: "iam.key-age", Title: "Access keys rotated within 90 days", Section: "Identity and Access Management", Severity: picket.SeverityMedium,
				Status: picket.CheckFail, Evidence: []string{"2 keys older than 90 days"}, Failing: []string{"alice/AKIAOLDKEY", "bob" + hostile},
				Remediation: "Rotate the keys.", RemediationURL: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html?a=1&b=2"},
			{ID: "net.ssh-open", Title: "No security group open to the world on 22", Section: "Networking", Severity: picket.SeverityHigh,
				Status: picket.CheckFail, Failing: []string{"sg-1"}, Remediation: "Close port 22.", RemediationURL: "javascript:alert(1)"},
			{ID: "log.trail", Title: "CloudTrail multi-region", Section: "Logging", Severity: picket.SeverityHigh,
				Status: picket.CheckError, Error: "AccessDenied: missing cloudtrail:DescribeTrails"},
		},
	}}
	enr := &fakeEnricher{}
	d := commands.Deps{
		Findings: st, Actions: st, Audit: st, Suppressions: st, Posture: post, Enricher: enr, Region: "us-east-1",
		Status: func(context.Context) commands.Status {
			return commands.Status{QueueDepth: 7, InFlight: 2, OldestMessageAge: 95 * time.Second, HasDLQ: true, DLQDepth: 3, LastMessageAt: now.Add(-30 * time.Second),
				SlackOK: true, AWSOK: false, AWSError: "sts: " + hostile, Version: "v1.2.3",
				Backlog: []commands.ChannelBacklog{{Channel: "C0STORM", Pending: 12, Groups: 1, Oldest: now.Add(-2 * time.Minute)}, {Channel: "C0QUIET"}}}
		},
		Authorize: func(a picket.Actor, cmd string) bool { return a.ID != "UNOBODY" },
		Now:       func() time.Time { return now },
		DigestPreview: func(context.Context) (string, error) {
			return "Daily digest\n3 new " + hostile + "\n", nil
		},
	}
	return d, st, post, enr
}

var responder = picket.Actor{ID: "U0RESP", Name: "responder"}

// text is a reply's title and sections, for substring checks.
func text(r commands.Reply) string {
	return r.Title + "\n" + strings.Join(r.Sections, "\n---\n")
}

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		actor   picket.Actor
		public  bool
		want    []string // substrings of the reply
		notWant []string
	}{
		{"empty is help", "", responder, false, []string{"Picket commands", "/picket posture [account]", "/picket check iam.root-mfa"}, nil},
		{"help", "help", responder, false, []string{"/picket audit [n]", "/picket status", "`public`"}, nil},
		{"help one", "help audit", responder, false, []string{"Help: /picket audit", "newest audit entries"}, []string{"/picket posture"}},
		{"help unknown", "help postur", responder, false, []string{"Did you mean `posture`?"}, nil},
		{"help too many", "help a b", responder, false, []string{"Usage: `/picket help [command]`"}, nil},
		{"unknown suggests", "postur", responder, false, []string{"Unknown command", "no command `postur`", "Did you mean `posture`?", "/picket audit [n]"}, nil},
		{"unknown prefix suggests", "supp", responder, false, []string{"Did you mean `suppressions`?"}, nil},
		{"unknown far", "xyzzyplugh", responder, false, []string{"no command `xyzzyplugh`"}, []string{"Did you mean"}},
		{"unknown hostile", "<!here>", responder, false, []string{"no command `&lt;!here&gt;`"}, []string{"<!here>"}},
		{"case insensitive", "STATUS", responder, false, []string{"Picket status"}, nil},
		{"unauthorized", "posture", picket.Actor{ID: "UNOBODY"}, false, []string{"Not allowed", "not allowed to run `/picket posture`"}, []string{"Score"}},
		{"unauthorized public stays private", "audit public", picket.Actor{ID: "UNOBODY"}, false, []string{"Not allowed"}, nil},

		{"posture", "posture", responder, false, []string{
			"Posture score 33%", "*Score: 33%* — 1 passed, 2 failed, 1 could not run, of 4 checks.", "regions eu-west-1",
			"Failing — Identity and Access Management", "Failing — Networking", "`alice/AKIAOLDKEY`",
			"<https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html?a=1&amp;b=2|how to>",
			"Could not run", "AccessDenied: missing cloudtrail:DescribeTrails", "Passing", "Root account has MFA",
		}, []string{"javascript:", "Root can do anything."}},
		{"posture public", "posture 123456789012 public", responder, true, []string{"for account 123456789012"}, nil},
		{"posture bad account", "posture 1234", responder, false, []string{"\"1234\" is not a 12-digit AWS account id", "Usage: `/picket posture [account]`", "Example: `/picket posture 123456789012`"}, nil},
		{"posture too many", "posture 123456789012 x", responder, false, []string{"Usage: `/picket posture [account]`"}, nil},

		{"check one", "check iam.root-mfa", responder, false, []string{"Check iam.root-mfa: pass", "_Why:_ Root can do anything.", "> root MFA: true"}, []string{"Access keys rotated"}},
		{"check one fail", "check net.ssh-open 123456789012", responder, false, []string{"Check net.ssh-open: fail", "`sg-1`", "Fix: Close port 22. (how to)"}, []string{"javascript"}},
		{"check all", "check all", responder, false, []string{"Passing — Identity and Access Management", "_Why:_ Root can do anything.", "Failing — Networking"}, nil},
		{"check unknown id", "check iam.nope", responder, false, []string{"no posture check \"iam.nope\""}, nil},
		{"check no args", "check", responder, false, []string{"Usage: `/picket check &lt;id&gt;|all [account]`"}, nil},
		{"check bad id", "check <b>", responder, false, []string{"is not a check id"}, []string{"<b>"}},
		{"check quoted", `check "iam.root-mfa"`, responder, false, []string{"Check iam.root-mfa: pass"}, nil},

		{"finding by key", "finding key-alice-1", responder, false, []string{
			"*Alice called from a bad IP &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;*", "*Severity:* High (8)",
			"`123456789012`", "`eu-west-1`", "open (record ACTIVE, workflow NEW)", "*Count:* 3",
			"iam_user `alice`", "in <#C0123ABCDE>", "rule `high`", "*Received:* 2 times",
			"Disable user on `alice` by carol&lt;!channel&gt;", "succeeded", "Disabled alice &lt;!channel&gt;",
		}, nil},
		{"finding by id", "finding gd-3", responder, false, []string{"Instance talks to a miner", "ec2_instance `i-0123456789abcdef0`", "*Actions taken*\nnone",
			"as one of the findings of group `g7`"}, nil},
		{"finding unknown", "finding nope", responder, false, []string{"has not seen a finding with key or id nope"}, nil},
		{"finding no args", "finding", responder, false, []string{"Usage: `/picket finding &lt;key|id&gt;`"}, nil},

		{"user", "user alice", responder, false, []string{
			"IAM user alice", "*`alice`* in account `123456789012` (prod&lt;!channel&gt;", "*MFA devices:* 0 · *console access:* yes",
			"Console access without MFA", "admins&lt;!channel&gt;", "AdministratorAccess",
			"`AKIAOLDKEY` Active — 200 days old, last used 3 hours ago (s3)", "`AKIANEVER` Inactive — 5 days old, never used",
			"*Recent findings* (newest 2)", "Alice key used oddly", "(finding `key-alice-1`)",
		}, []string{"Bob"}},
		{"user other account", "user alice 999999999999", responder, false, []string{"account `999999999999`", "no finding naming user `alice`"}, nil},
		{"user bad name", "user a<b", responder, false, []string{"is not an IAM user name", "Usage: `/picket user &lt;name&gt; [account]`"}, nil},
		{"user bad account", "user alice eu-west-1", responder, false, []string{"\"eu-west-1\" is not an account id"}, nil},

		{"instance", "instance i-0123456789abcdef0", responder, false, []string{
			"EC2 instance i-0123456789abcdef0", "web-1&lt;!channel&gt;", "region `eu-west-1`", "`198.51.100.7`",
			"_Not known:_ Auto Scaling group: AccessDenied", "Instance talks to a miner",
		}, nil},
		{"instance region arg", "instance i-0123abcd 123456789012 ap-south-1", responder, false, []string{"region `ap-south-1`", "no finding naming instance"}, nil},
		{"instance bad id", "instance web-1", responder, false, []string{"is not an EC2 instance id", "Example:"}, nil},

		{"audit", "audit", responder, false, []string{"Audit trail: newest 3 entries", "#3 rejected_request by U9", "bad signature &lt;!channel&gt;", "#2 executed by carol: Disable user on `alice` → succeeded"}, nil},
		{"audit n", "audit 2", responder, false, []string{"newest 2 entries"}, []string{"#1 "}},
		{"audit too many", "audit 500", responder, false, []string{"Showing 50 entries"}, nil},
		{"audit bad n", "audit -3", responder, false, []string{"\"-3\" is not a positive number", "Usage: `/picket audit [n]`"}, nil},

		{"suppressions", "suppressions", responder, false, []string{
			"Suppressions: 1 in force", "`sup-active` — by dave", "scanner &lt;!channel&gt;", "until 2026-03-16 12:00 UTC",
			"type `Recon:EC2/PortProbeUnprotectedPort`, account `123456789012`", "`sup-lifted`", "lifted 2026-03-09 12:00 UTC",
			"`sup-expired`", "expired 2026-03-08 12:00 UTC", "matches source `securityhub`",
		}, []string{"sup-old"}},
		{"suppressions args", "suppressions all", responder, false, []string{"Usage: `/picket suppressions`"}, nil},

		{"digest", "digest", responder, false, []string{"Digest preview (not posted)", "Daily digest", "3 new &lt;!channel&gt;"}, nil},
		{"digest public", "digest public", responder, true, []string{"Digest preview"}, nil},

		{"status", "status", responder, false, []string{
			"Picket status: degraded", "*Queue:* 7 waiting, 2 in flight · *oldest message:* 1m35s", "(just now)",
			"*Dead-letter queue:* :warning: 3 messages",
			"*Slack:* :white_check_mark: reachable", "*AWS:* :x: unreachable — sts: &lt;!channel&gt;", "`v1.2.3`",
			"*Waiting for C0STORM:* 12 findings, 1 group messages · oldest queued 2 minutes ago",
		}, []string{"C0QUIET", "Outbox:* empty"}},
		{"public word alone", "public", responder, true, []string{"Picket commands"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _, _, _ := newDeps(t)
			r := commands.Run(context.Background(), d, tt.actor, tt.text)
			got := text(r)
			if r.Public != tt.public {
				t.Errorf("Public: got %v, want %v", r.Public, tt.public)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("reply lacks %q; got:\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("reply holds %q; got:\n%s", w, got)
				}
			}
			assertEscaped(t, r)
		})
	}
}

// assertEscaped fails when a section holds Slack markup Picket did not
// write itself: a special mention, a user or group mention, or a link to
// anywhere but the AWS docs.
func assertEscaped(t *testing.T, r commands.Reply) {
	t.Helper()
	for _, s := range r.Sections {
		for i := strings.Index(s, "<"); i >= 0; i = strings.Index(s, "<") {
			rest := s[i:]
			if !strings.HasPrefix(rest, "<#C") && !strings.HasPrefix(rest, "<https://docs.aws.amazon.com/") {
				t.Errorf("section holds unescaped markup %q", clipTo(rest, 40))
			}
			s = rest[1:]
		}
	}
}

func clipTo(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func TestRunPassesArguments(t *testing.T) {
	d, st, post, enr := newDeps(t)
	ctx := context.Background()

	commands.Run(ctx, d, responder, "posture 123456789012")
	commands.Run(ctx, d, responder, "check all")
	commands.Run(ctx, d, responder, "check IAM.Root-MFA 123456789012 public")
	if want := []string{"123456789012|", "|all", "123456789012|iam.root-mfa"}; !slices.Equal(post.calls, want) {
		t.Errorf("posture calls: got %q, want %q", post.calls, want)
	}

	commands.Run(ctx, d, responder, "audit")
	commands.Run(ctx, d, responder, "audit 7")
	commands.Run(ctx, d, responder, "audit 51")
	if want := []int{10, 7, 50}; !slices.Equal(st.auditAsked, want) {
		t.Errorf("RecentAudit: got %v, want %v", st.auditAsked, want)
	}

	commands.Run(ctx, d, responder, "user alice")
	commands.Run(ctx, d, responder, "user nobody")
	commands.Run(ctx, d, responder, "instance i-0123456789abcdef0")
	commands.Run(ctx, d, responder, "instance i-0123abcd eu-central-1")
	type lookup struct{ kind, id, account, region, resRegion string }
	var got []lookup
	for _, f := range enr.Seen() {
		got = append(got, lookup{string(f.Resources[0].Kind), f.Resources[0].ID, f.Account, f.Region, f.Resources[0].Region})
	}
	want := []lookup{
		{"iam_user", "alice", "123456789012", "eu-west-1", "eu-west-1"}, // from the newest finding naming alice
		{"iam_user", "nobody", "", "us-east-1", "us-east-1"},            // defaults
		{"ec2_instance", "i-0123456789abcdef0", "123456789012", "eu-west-1", "eu-west-1"},
		{"ec2_instance", "i-0123abcd", "", "eu-central-1", "eu-central-1"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("enrichment look-ups:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestRunAuthorizesEveryCommand(t *testing.T) {
	d, _, post, _ := newDeps(t)
	var asked []string
	d.Authorize = func(a picket.Actor, cmd string) bool {
		asked = append(asked, a.ID+":"+cmd)
		return false
	}
	for _, def := range commands.Definitions() {
		r := commands.Run(context.Background(), d, responder, def.Name+" public")
		if r.Title != "Not allowed" || r.Public {
			t.Errorf("%s: got title %q public %v, want a private refusal", def.Name, r.Title, r.Public)
		}
	}
	if len(asked) != len(commands.Definitions()) {
		t.Errorf("Authorize calls: got %d (%v), want one per command", len(asked), asked)
	}
	if len(post.calls) != 0 {
		t.Errorf("posture ran for a refused actor: %v", post.calls)
	}

	d.Authorize = nil
	if r := commands.Run(context.Background(), d, responder, "status"); r.Title != "Not allowed" {
		t.Errorf("nil Authorize: got %q, want a refusal", r.Title)
	}
}

func TestRunErrors(t *testing.T) {
	internal := errors.New("dial tcp 10.0.0.1:443: secret internals")
	tests := []struct {
		name  string
		deps  func(d *commands.Deps, st *fakeStore, p *fakePosture)
		text  string
		want  string
		title string
	}{
		{"posture internal error", func(d *commands.Deps, _ *fakeStore, p *fakePosture) { p.err = internal }, "posture",
			"Something went wrong inside Picket; the details are in its logs.", "Picket could not answer /picket posture"},
		{"posture coded error", func(d *commands.Deps, _ *fakeStore, p *fakePosture) {
			p.err = picket.Errorf(picket.EUNAVAILABLE, "AWS <did not> answer; try again.")
		}, "check all", "AWS &lt;did not&gt; answer; try again.", "Picket could not answer /picket check"},
		{"store down", func(d *commands.Deps, st *fakeStore, _ *fakePosture) { st.fail = internal }, "finding key-bob",
			"Picket could not read its finding index; try again in a moment.", "Picket could not answer /picket finding"},
		{"audit down", func(d *commands.Deps, st *fakeStore, _ *fakePosture) { st.fail = internal }, "audit",
			"could not read its audit trail", "Picket could not answer /picket audit"},
		{"suppressions down", func(d *commands.Deps, st *fakeStore, _ *fakePosture) { st.fail = internal }, "suppressions",
			"could not read its suppression rules", "Picket could not answer /picket suppressions"},
		{"user scan fails", func(d *commands.Deps, st *fakeStore, _ *fakePosture) { st.fail = internal }, "user alice",
			"Picket could not read its finding index", "IAM user alice"},
		{"no posture", func(d *commands.Deps, _ *fakeStore, _ *fakePosture) { d.Posture = nil }, "posture",
			"Posture checking is not available in this Picket.", "Picket could not answer /picket posture"},
		{"no status", func(d *commands.Deps, _ *fakeStore, _ *fakePosture) { d.Status = nil }, "status",
			"The health report is not available", "Picket could not answer /picket status"},
		{"no enricher", func(d *commands.Deps, _ *fakeStore, _ *fakePosture) { d.Enricher = nil }, "instance i-0123abcd",
			"EC2 look-ups are not available", "EC2 instance i-0123abcd"},
		{"no findings", func(d *commands.Deps, _ *fakeStore, _ *fakePosture) { d.Findings = nil }, "finding x",
			"The finding index is not available", "Picket could not answer /picket finding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, st, post, _ := newDeps(t)
			tt.deps(&d, st, post)
			r := commands.Run(context.Background(), d, responder, tt.text+" public")
			got := text(r)
			if !strings.Contains(got, tt.want) {
				t.Errorf("reply: got\n%s\nwant it to hold %q", got, tt.want)
			}
			if !strings.HasPrefix(r.Title, tt.title) {
				t.Errorf("title: got %q, want prefix %q", r.Title, tt.title)
			}
			if strings.Contains(got, "secret internals") {
				t.Errorf("reply leaks the internal error: %s", got)
			}
			assertEscaped(t, r)
		})
	}
}

func TestDefinitions(t *testing.T) {
	want := []string{"help", "posture", "check", "finding", "user", "instance", "audit", "suppressions", "digest", "status", "auto"}
	var got []string
	for _, def := range commands.Definitions() {
		got = append(got, def.Name)
		if def.Usage == "" || def.Help == "" || len(def.Examples) == 0 || def.Run == nil {
			t.Errorf("%s: usage, help, examples and Run are all required", def.Name)
		}
		if !strings.HasPrefix(def.Usage, commands.Slash+" "+def.Name) {
			t.Errorf("%s: usage %q does not start with the command", def.Name, def.Usage)
		}
		for _, ex := range def.Examples {
			if !strings.HasPrefix(ex, commands.Slash+" "+def.Name) {
				t.Errorf("%s: example %q does not start with the command", def.Name, ex)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("commands: got %v, want %v", got, want)
	}
}

// TestExamplesRun runs every example of every command: none may answer
// with its usage.
func TestExamplesRun(t *testing.T) {
	d, _, _, _ := newDeps(t)
	for _, def := range commands.Definitions() {
		for _, ex := range def.Examples {
			t.Run(ex, func(t *testing.T) {
				r := commands.Run(context.Background(), d, responder, strings.TrimPrefix(ex, commands.Slash+" "))
				if strings.HasPrefix(r.Title, "Usage of") {
					t.Errorf("got usage: %s", text(r))
				}
			})
		}
	}
}

func TestFields(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  help   posture ", []string{"help", "posture"}},
		{`user "alice smith" 123`, []string{"user", "alice smith", "123"}},
		{`user 'bob' `, []string{"user", "bob"}},
		{"user “carol jones”", []string{"user", "carol jones"}},
		{`check ""`, []string{"check", ""}},
		{`finding "unclosed quote`, []string{"finding", "unclosed quote"}},
		{"a\tb\nc", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := commands.Fields(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("Fields(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestRunKeepsToScope: a person whose roles cover only some accounts sees
// nothing of another account through any command: lists leave it out and
// a direct look-up of it is refused with a reply that says so.
func TestRunKeepsToScope(t *testing.T) {
	const mine, other = "222222222222", "123456789012" // newDeps's data is in other
	setup := func(t *testing.T, scope commands.Scope) (commands.Deps, *fakePosture, *fakeEnricher) {
		t.Helper()
		d, st, post, enr := newDeps(t)
		alice := picket.Resource{Kind: picket.ResourceIAMUser, ID: "alice"}
		mineRec := finding("key-mine", "gd-mine", "Alice in my account", now.Add(-5*time.Hour), alice)
		mineRec.Finding.Account = mine
		st.findings = append(st.findings, mineRec)
		st.audit = append(st.audit, picket.AuditEntry{Seq: 4, Time: now.Add(-time.Minute), Event: "executed",
			Actor: picket.Actor{ID: "U5", Name: "erin"}, Action: picket.ActionSuppress, Target: "gd-mine", Account: mine, Outcome: "succeeded"})
		st.suppressions = append(st.suppressions, picket.Suppression{ID: "sup-mine", Account: mine, Reason: "mine",
			Actor: picket.Actor{ID: "U5"}, Created: now.Add(-time.Hour), Until: now.Add(time.Hour)})
		d.Scope = func(picket.Actor, string) commands.Scope { return scope }
		return d, post, enr
	}
	limited := commands.Scope{Accounts: []string{mine}}
	refused := []string{"Not allowed"}
	tests := []struct {
		name    string
		scope   commands.Scope
		digest  []string // Deps.DigestAccounts
		text    string
		want    []string
		notWant []string
	}{
		// Answered as if never seen: that a finding exists in another
		// account is that account's data.
		{name: "finding of another account", scope: limited, text: "finding key-alice-1",
			want:    []string{"Picket has not seen a finding with key or id key-alice-1."},
			notWant: []string{"Alice called", "carol", "123456789012", "Not allowed"}},
		{name: "finding by id of another account", scope: limited, text: "finding gd-3",
			want: []string{"Picket has not seen a finding with key or id gd-3."}, notWant: []string{"miner", "Not allowed"}},
		{name: "finding of my account", scope: limited, text: "finding key-mine",
			want: []string{"Alice in my account", "`222222222222`"}},

		{name: "posture of no account named", scope: limited, text: "posture",
			want:    append(refused, "Your role covers only accounts `222222222222`: name one of them.", "`/picket posture 222222222222`"),
			notWant: []string{"Score"}},
		{name: "posture of another account", scope: limited, text: "posture " + other,
			want: refused, notWant: []string{"Score"}},
		{name: "posture of my account", scope: limited, text: "posture " + mine,
			want: []string{"Posture score 33% for account 222222222222"}},
		{name: "check of no account named", scope: limited, text: "check iam.root-mfa",
			want: append(refused, "`/picket check iam.root-mfa 222222222222`"), notWant: []string{"Root can do anything"}},
		{name: "check of another account", scope: limited, text: "check all " + other,
			want: refused, notWant: []string{"Root account has MFA"}},
		{name: "check of my account", scope: limited, text: "check iam.root-mfa " + mine,
			want: []string{"Check iam.root-mfa: pass"}},

		{name: "user found in my account only", scope: limited, text: "user alice",
			want:    []string{"in account `222222222222`", "Alice in my account", "*Recent findings* (newest 1)"},
			notWant: []string{"Alice key used oddly", "Alice called", "carol"}},
		{name: "user in another account", scope: limited, text: "user alice " + other,
			want: append(refused, "The user look-up is in account `123456789012`"), notWant: []string{"AKIAOLDKEY", "Alice"}},
		{name: "user with no account known", scope: limited, text: "user nobody",
			want: append(refused, "`/picket user nobody 222222222222`"), notWant: []string{"AKIAOLDKEY"}},
		{name: "instance seen only in another account", scope: limited, text: "instance i-0123456789abcdef0",
			want: refused, notWant: []string{"miner", "web-1"}},
		{name: "instance in my account", scope: limited, text: "instance i-0123456789abcdef0 " + mine,
			want: []string{"in account `222222222222`", "no finding naming instance"}, notWant: []string{"miner"}},

		{name: "audit", scope: limited, text: "audit",
			want:    []string{"#4 executed by erin", "Only entries of accounts `222222222222` are shown"},
			notWant: []string{"#1 ", "#2 ", "#3 ", "carol", "bad signature"}},
		{name: "suppressions", scope: limited, text: "suppressions",
			want:    []string{"`sup-mine`", "Suppressions: 1 in force", "4 rules of other accounts or of every account are not"},
			notWant: []string{"sup-active", "sup-lifted", "sup-expired", "scanner"}},
		{name: "digest of every account", scope: limited, text: "digest",
			want: append(refused, "The digest covers every account, more than your role does"), notWant: []string{"Daily digest"}},
		{name: "digest of more accounts", scope: limited, digest: []string{mine, other}, text: "digest",
			want: refused, notWant: []string{"Daily digest"}},
		{name: "digest of my account", scope: limited, digest: []string{mine}, text: "digest",
			want: []string{"Daily digest"}},
		{name: "status hides AWS error text", scope: limited, text: "status",
			want: []string{"*AWS:* :x: unreachable — details in Picket's log"}, notWant: []string{"sts:"}},
		{name: "status shows only the total backlog", scope: limited, text: "status",
			want: []string{"*Waiting for Slack (all channels):* 12 findings, 1 group messages"}, notWant: []string{"C0STORM"}},

		{name: "no account at all: finding", scope: commands.Scope{}, text: "finding key-mine",
			want: []string{"Picket has not seen a finding with key or id key-mine."}, notWant: []string{"Alice in my account"}},
		{name: "no account at all: audit", scope: commands.Scope{}, text: "audit",
			want: []string{"The audit trail is empty."}, notWant: []string{"erin", "carol"}},
		{name: "every account", scope: commands.Scope{All: true}, text: "finding key-alice-1",
			want: []string{"Alice called"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, post, enr := setup(t, tt.scope)
			d.DigestAccounts = tt.digest
			r := commands.Run(context.Background(), d, responder, tt.text)
			got := text(r)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("reply lacks %q; got:\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("reply holds %q; got:\n%s", w, got)
				}
			}
			assertEscaped(t, r)
			if tt.scope.All {
				return
			}
			for _, c := range post.calls {
				if account, _, _ := strings.Cut(c, "|"); account != mine {
					t.Errorf("posture ran for account %q (call %q), want only %s", account, c, mine)
				}
			}
			for _, f := range enr.Seen() {
				if f.Account != mine {
					t.Errorf("look-up of %s in account %q, want only %s", f.Resources[0].ID, f.Account, mine)
				}
			}
		})
	}
}

// TestRunAsksScopeOfEveryCommand: the scope is asked for the command being
// run, for every command.
func TestRunAsksScopeOfEveryCommand(t *testing.T) {
	d, _, _, _ := newDeps(t)
	var asked []string
	d.Scope = func(a picket.Actor, cmd string) commands.Scope {
		asked = append(asked, cmd)
		return commands.Scope{}
	}
	var want []string
	for _, def := range commands.Definitions() {
		commands.Run(context.Background(), d, responder, def.Name)
		want = append(want, def.Name)
	}
	if !slices.Equal(asked, want) {
		t.Errorf("Scope asked for %q, want %q", asked, want)
	}
}

func TestScopeAllows(t *testing.T) {
	tests := []struct {
		name    string
		scope   commands.Scope
		account string
		want    bool
	}{
		{"every account", commands.Scope{All: true}, "111111111111", true},
		{"every account, unknown account", commands.Scope{All: true}, "", true},
		{"listed", commands.Scope{Accounts: []string{"111111111111"}}, "111111111111", true},
		{"not listed", commands.Scope{Accounts: []string{"111111111111"}}, "222222222222", false},
		{"unknown account", commands.Scope{Accounts: []string{"111111111111"}}, "", false},
		{"none", commands.Scope{}, "111111111111", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.scope.Allows(tt.account); got != tt.want {
				t.Errorf("Allows(%q): got %v, want %v", tt.account, got, tt.want)
			}
		})
	}
}

func TestStatusDeadLetterQueue(t *testing.T) {
	tests := []struct {
		name      string
		has       bool
		depth     int
		wantTitle string
		want      string
	}{
		{"none", false, 0, "Picket status: healthy", "*Dead-letter queue:* none found"},
		{"empty", true, 0, "Picket status: healthy", "*Dead-letter queue:* empty"},
		{"not empty", true, 4, "Picket status: degraded", "*Dead-letter queue:* :warning: 4 messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _, _, _ := newDeps(t)
			d.Status = func(context.Context) commands.Status {
				return commands.Status{SlackOK: true, AWSOK: true, HasDLQ: tt.has, DLQDepth: tt.depth}
			}
			r := commands.Run(context.Background(), d, responder, "status")
			if r.Title != tt.wantTitle {
				t.Errorf("got title %q, want %q", r.Title, tt.wantTitle)
			}
			if got := text(r); !strings.Contains(got, tt.want) {
				t.Errorf("got\n%s\nwant it to contain %q", got, tt.want)
			}
		})
	}
}
