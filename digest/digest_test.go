package digest_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/digest"
)

var now = time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)

type fopt func(*picket.FindingRecord)

func rec(key string, sev picket.Severity, seen time.Time, opts ...fopt) picket.FindingRecord {
	r := picket.FindingRecord{
		Finding: picket.Finding{
			Key: key, ID: "id-" + key, Source: picket.SourceGuardDuty, Type: "Recon:EC2/PortProbeUnprotectedPort",
			Title: "Title " + key, Severity: sev, Account: "111111111111", Region: "us-east-1",
			CreatedAt: seen, UpdatedAt: seen, RecordState: picket.RecordActive, Count: 1,
		},
		FirstReceived: seen, LastReceived: seen, Deliveries: 1,
	}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func updated(t time.Time) fopt {
	return func(r *picket.FindingRecord) { r.Finding.UpdatedAt, r.LastReceived = t, t }
}
func resolved(t time.Time) fopt {
	return func(r *picket.FindingRecord) {
		r.Finding.UpdatedAt, r.LastReceived, r.Finding.WorkflowStatus = t, t, picket.WorkflowResolved
	}
}
func account(a string) fopt { return func(r *picket.FindingRecord) { r.Finding.Account = a } }
func typ(s string) fopt     { return func(r *picket.FindingRecord) { r.Finding.Type = s } }
func securityHub() fopt {
	return func(r *picket.FindingRecord) { r.Finding.Source = picket.SourceSecurityHub }
}
func control(id, status, generator string) fopt {
	return func(r *picket.FindingRecord) {
		r.Finding.Source = picket.SourceSecurityHub
		r.Finding.ControlID, r.Finding.ComplianceStatus = id, status
		r.Finding.Raw, _ = json.Marshal(map[string]string{"GeneratorId": generator})
	}
}

func seq(recs []picket.FindingRecord) func(func(picket.FindingRecord) bool) {
	return slices.Values(recs)
}

func action(id, key string, actor string, at time.Time, status picket.ActionOutcome) picket.ActionRecord {
	req := picket.ActionRequest{ID: id, Kind: picket.ActionDisableUser, FindingKey: key,
		Target: picket.Resource{ID: "bob"}, Actor: picket.Actor{ID: "U" + actor, Name: actor}, At: at}
	return picket.ActionRecord{Request: req, Status: status, Updated: at,
		Result: &picket.ActionResult{Started: at.Add(-time.Second), Finished: at}}
}

func TestBuild(t *testing.T) {
	h := time.Hour
	findings := []picket.FindingRecord{
		rec("new-crit", picket.SeverityCritical, now.Add(-2*h)),
		rec("new-high", picket.SeverityHigh, now.Add(-3*h), account("222222222222")),
		rec("old-high", picket.SeverityHigh, now.Add(-72*h), updated(now.Add(-h)), typ("UnauthorizedAccess:IAMUser/X")),
		rec("old-crit", picket.SeverityCritical, now.Add(-96*h)),
		rec("resolved", picket.SeverityMedium, now.Add(-30*h), resolved(now.Add(-6*h)), securityHub()),
		rec("resolved-fast", picket.SeverityHigh, now.Add(-10*h), resolved(now.Add(-8*h))),
		rec("resolved-long-ago", picket.SeverityLow, now.Add(-90*h), resolved(now.Add(-50*h))),
		rec("low", picket.SeverityLow, now.Add(-h)),
		rec("sample", picket.SeverityCritical, now.Add(-h), func(r *picket.FindingRecord) { r.Finding.Sample = true }),
		rec("out-of-scope", picket.SeverityCritical, now.Add(-h), account("999999999999")),
		rec("cis-1", picket.SeverityMedium, now.Add(-200*h), control("1.1", "PASSED", "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.1")),
		rec("cis-2", picket.SeverityMedium, now.Add(-200*h), control("1.2", "FAILED", "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.2")),
		rec("cis-2b", picket.SeverityMedium, now.Add(-200*h), control("1.2", "PASSED", "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.2")),
		rec("fsbp-1", picket.SeverityMedium, now.Add(-200*h), control("IAM.1", "PASSED", "aws-foundational-security-best-practices/v/1.0.0/IAM.1")),
	}
	actions := []picket.ActionRecord{
		action("a1", "new-crit", "alice", now.Add(-h), picket.OutcomeSucceeded),           // 1h after seen
		action("a2", "old-high", "bob", now.Add(-2*h), picket.OutcomeSucceeded),           // first action for old-high is a0 below
		action("a0", "old-high", "bob", now.Add(-48*h), picket.OutcomeSucceeded),          // before the window
		action("a3", "new-high", "alice", now.Add(-2*h), picket.OutcomeDenied),            // not taken
		action("a4", "resolved-fast", "carol", now.Add(-9*h), picket.OutcomePartial),      // 1h after seen
		action("a5", "new-high", "alice", now.Add(-30*time.Minute), picket.OutcomeFailed), // 2h30 after seen
	}
	audit := []picket.AuditEntry{
		{Event: "executed", RequestID: "a1", Time: now.Add(-h), Outcome: "succeeded"}, // has a record: not twice
		{Event: "executed", RequestID: "gone", Time: now.Add(-4 * h), Outcome: "succeeded", Action: picket.ActionEscalate, Actor: picket.Actor{ID: "UD", Name: "dave"}, Target: "bob"},
		{Event: "denied", RequestID: "x", Time: now.Add(-4 * h)},
	}
	supps := []picket.Suppression{
		{ID: "s-soon", Until: now.Add(24 * h), Reason: "pentest"},
		{ID: "s-later", Until: now.Add(10 * 24 * h)},
		{ID: "s-lifted", Until: now.Add(h), Lifted: now.Add(-h)},
		{ID: "s-expired", Until: now.Add(-h)},
		{ID: "s-sooner", Until: now.Add(2 * h)},
	}
	report := &picket.PostureReport{Results: []picket.CheckResult{
		{Status: picket.CheckPass}, {Status: picket.CheckPass}, {Status: picket.CheckFail}, {Status: picket.CheckError},
	}}
	prev := &picket.DigestSnapshot{Day: digest.Day(now.AddDate(0, 0, -1)), PostureScore: 50, HasPosture: true,
		Standards: map[string]float64{"CIS AWS Foundations Benchmark v1.2.0": 100}}
	prev.Open[picket.SeverityCritical] = 5

	d := digest.Build(digest.Input{
		Name: "daily", Now: now, Accounts: []string{"111111111111", "222222222222"}, MinSeverity: picket.SeverityLow,
		Findings: seq(findings), Actions: actions, Audit: audit, Suppressions: supps,
		Posture: report, Previous: prev,
	})

	sc := func(pairs ...int) picket.SeverityCounts {
		var c picket.SeverityCounts
		for i := 0; i < len(pairs); i += 2 {
			c[pairs[i]] = pairs[i+1]
		}
		return c
	}
	C, H, M, L := int(picket.SeverityCritical), int(picket.SeverityHigh), int(picket.SeverityMedium), int(picket.SeverityLow)
	checks := []struct {
		name      string
		got, want any
	}{
		{"window", [2]time.Time{d.From, d.To}, [2]time.Time{now.Add(-24 * h), now}},
		{"new", d.Activity.New, sc(C, 1, H, 2, L, 1)},
		{"updated", d.Activity.Updated, sc(H, 1)},
		{"resolved", d.Activity.Resolved, sc(H, 1, M, 1)},
		{"new by source", d.Activity.NewBySource, map[picket.Source]int{picket.SourceGuardDuty: 4}},
		{"new by product", d.Activity.NewByProduct, map[string]int{"GuardDuty": 4}},
		{"resolved by source", d.Activity.ResolvedBySource, map[picket.Source]int{picket.SourceGuardDuty: 1, picket.SourceSecurityHub: 1}},
		{"open", d.Open, sc(C, 2, H, 2, M, 1, L, 1)},
		{"open change", d.OpenChange[C], -3},
		{"urgent order", keys(d.Urgent), []string{"old-crit", "new-crit", "old-high", "new-high"}},
		{"urgent age", d.Urgent[0].Age, 96 * h},
		{"top accounts", d.TopAccounts, []picket.NamedCount{{Name: "111111111111", Count: 4}, {Name: "222222222222", Count: 1}}},
		{"top types", d.TopTypes[0], picket.NamedCount{Name: "Recon:EC2/PortProbeUnprotectedPort", Count: 4}},
		{"actions", actionIDs(d.Actions), []string{"resolved-fast", "gone", "old-high", "new-crit", "new-high"}},
		{"actors", d.Actors, []picket.NamedCount{{Name: "alice", Count: 2}, {Name: "bob", Count: 1}, {Name: "carol", Count: 1}, {Name: "dave", Count: 1}}},
		// new-crit 1h, resolved-fast 1h, new-high 2h30 (old-high's first action was before the window)
		{"first action", d.FirstAction, picket.DurationStats{Count: 3, Median: h, P90: 150 * time.Minute}},
		// resolved 24h, resolved-fast 2h
		{"resolve", d.Resolve, picket.DurationStats{Count: 2, Median: 2 * h, P90: 24 * h}},
		{"expiring", suppIDs(d.Expiring), []string{"s-sooner", "s-soon"}},
		{"posture", *d.Posture, picket.ScoreChange{Name: "Posture checks", Score: 66.7, Previous: 50, HasPrevious: true}},
		{"standards", d.Standards, []picket.ScoreChange{
			{Name: "AWS Foundational Security Best Practices v1.0.0", Score: 100},
			{Name: "CIS AWS Foundations Benchmark v1.2.0", Score: 50, Previous: 100, HasPrevious: true},
		}},
		{"snapshot day", d.Snapshot.Day, time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)},
		{"snapshot open", d.Snapshot.Open, d.Open},
		{"snapshot posture", d.Snapshot.PostureScore, 66.7},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("got %+v, want %+v", c.got, c.want)
			}
		})
	}
}

func keys(fs []picket.OpenFinding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Key)
	}
	return out
}

func actionIDs(as []picket.DigestAction) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.FindingKey+map[bool]string{true: "gone"}[a.FindingKey == ""])
	}
	return out
}

func suppIDs(ss []picket.Suppression) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func TestBuildBounds(t *testing.T) {
	var findings []picket.FindingRecord
	for i := range 500 {
		findings = append(findings, rec(string(rune('a'+i%26))+string(rune('a'+i/26)), picket.SeverityHigh, now.Add(-time.Duration(i)*time.Minute)))
	}
	d := digest.Build(digest.Input{Now: now, Findings: seq(findings), MaxUrgent: 10})
	if len(d.Urgent) != 10 || d.UrgentMore != 490 {
		t.Fatalf("urgent: got %d listed + %d more, want 10 + 490", len(d.Urgent), d.UrgentMore)
	}
	if got, want := d.Urgent[0].Age, 499*time.Minute; got != want {
		t.Errorf("oldest urgent age: got %v, want %v", got, want)
	}
	if d.HasPrevious || d.Posture != nil || d.Standards != nil {
		t.Errorf("no previous, posture or controls: got %v %v %v, want zero", d.HasPrevious, d.Posture, d.Standards)
	}
}

func TestBuildEmpty(t *testing.T) {
	d := digest.Build(digest.Input{Name: "x", Now: now})
	if d.Open.Total() != 0 || d.FirstAction.Count != 0 || d.Urgent != nil {
		t.Errorf("empty digest: got %+v, want zero counts", d)
	}
}

// TestBuildByProduct: new findings are counted by product however they
// arrived, so Inspector findings from Security Hub and from Inspector are
// one group.
func TestBuildByProduct(t *testing.T) {
	product := func(src picket.Source, p string) fopt {
		return func(r *picket.FindingRecord) { r.Finding.Source, r.Finding.Product = src, p }
	}
	d := digest.Build(digest.Input{
		Name: "daily", Now: now, Accounts: []string{"111111111111"}, MinSeverity: picket.SeverityLow,
		Findings: seq([]picket.FindingRecord{
			rec("a", picket.SeverityHigh, now.Add(-time.Hour), product(picket.SourceSecurityHub, "Inspector")),
			rec("b", picket.SeverityHigh, now.Add(-time.Hour), product(picket.SourceInspector, "Inspector")),
			rec("c", picket.SeverityHigh, now.Add(-time.Hour), product(picket.SourceMacie, "")),
			rec("d", picket.SeverityHigh, now.Add(-time.Hour)),
		}),
	})
	want := map[string]int{"Inspector": 2, "Macie": 1, "GuardDuty": 1}
	if !reflect.DeepEqual(d.Activity.NewByProduct, want) {
		t.Errorf("got NewByProduct %v, want %v", d.Activity.NewByProduct, want)
	}
}

func TestBuildRules(t *testing.T) {
	rule := picket.RuleActor("malicious-ip-caller")
	mk := func(id string, at time.Time, st picket.ActionOutcome, edit func(*picket.ActionRecord)) picket.ActionRecord {
		r := action(id, "k1", rule.ID, at, st)
		r.Request.Actor = rule
		if edit != nil {
			edit(&r)
		}
		return r
	}
	in := now.Add(-time.Hour)
	acts := []picket.ActionRecord{
		mk("a1", in, picket.OutcomeSucceeded, nil),
		mk("a2", in, picket.OutcomePartial, nil),
		mk("a3", in, picket.OutcomeRefused, nil),
		mk("a4", in, picket.OutcomePending, nil),
		mk("a5", in, picket.OutcomeDryRunned, func(r *picket.ActionRecord) { r.Request.DryRun = true }),
		mk("old", now.Add(-48*time.Hour), picket.OutcomeSucceeded, nil),
		action("p1", "k1", "U0ALICE", in, picket.OutcomeSucceeded), // a person
	}
	audit := []picket.AuditEntry{
		{Event: "proposed", Actor: rule, Time: in},
		{Event: "proposed", Actor: picket.RuleActor("tor"), Time: in},
		{Event: "proposed", Actor: rule, Time: now.Add(-48 * time.Hour)},
		{Event: "executed", Actor: rule, Time: in, RequestID: "a1", Outcome: "succeeded"},
	}
	d := digest.Build(digest.Input{Now: now, Actions: acts, Audit: audit})
	want := []picket.RuleActivity{
		{Rule: "malicious-ip-caller", Ran: 2, DryRuns: 1, Refused: 1, Pending: 1, Offered: 1},
		{Rule: "tor", Offered: 1},
	}
	if !reflect.DeepEqual(d.Rules, want) {
		t.Errorf("rules = %+v, want %+v", d.Rules, want)
	}
	scoped := digest.Build(digest.Input{Now: now, Actions: acts, Audit: audit, Accounts: []string{"999999999999"}})
	if len(scoped.Rules) != 0 {
		t.Errorf("rules outside the digest's accounts = %+v, want none", scoped.Rules)
	}
}
