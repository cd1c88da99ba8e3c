package digest

import (
	"bytes"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/picketsec/picket"
)

// Defaults for Input's zero fields.
const (
	DefaultWindow      = 24 * time.Hour
	DefaultExpiringIn  = 72 * time.Hour
	DefaultTop         = 5
	DefaultMaxUrgent   = 15
	DefaultMaxActions  = 15
	otherStandardsName = "Security Hub controls"
)

// Input is everything a digest is computed from.
type Input struct {
	// Name is the schedule's name, copied to the digest.
	Name string
	// Now is the end of the window (the digest's time).
	Now time.Time
	// Window is how far back "new", "updated" and "resolved" reach;
	// DefaultWindow when zero.
	Window time.Duration
	// Accounts limits the digest to these accounts; empty means all.
	Accounts []string
	// MinSeverity leaves out findings below it.
	MinSeverity picket.Severity
	// Findings yields every stored finding record once.
	Findings iter.Seq[picket.FindingRecord]
	// Actions are the stored action records (any order). Audit entries
	// add actions whose record is gone; an "executed" entry whose request
	// id has a record is not counted twice.
	Actions []picket.ActionRecord
	Audit   []picket.AuditEntry
	// Suppressions are every stored suppression; those in force that
	// expire within ExpiringIn (DefaultExpiringIn when zero) are listed.
	Suppressions []picket.Suppression
	ExpiringIn   time.Duration
	// Posture is the latest posture report, or nil.
	Posture *picket.PostureReport
	// Previous is the last digest's snapshot, or nil.
	Previous *picket.DigestSnapshot
	// Top, MaxUrgent and MaxActions bound the lists; defaults when zero.
	Top, MaxUrgent, MaxActions int
}

// Build computes the digest. It reads in.Findings once.
func Build(in Input) picket.Digest {
	if in.Window <= 0 {
		in.Window = DefaultWindow
	}
	if in.ExpiringIn <= 0 {
		in.ExpiringIn = DefaultExpiringIn
	}
	if in.Top <= 0 {
		in.Top = DefaultTop
	}
	if in.MaxUrgent <= 0 {
		in.MaxUrgent = DefaultMaxUrgent
	}
	if in.MaxActions <= 0 {
		in.MaxActions = DefaultMaxActions
	}
	now := in.Now.UTC()
	d := picket.Digest{
		Name:        in.Name,
		From:        now.Add(-in.Window),
		To:          now,
		Accounts:    slices.Clone(in.Accounts),
		MinSeverity: in.MinSeverity,
	}
	b := builder{
		in:          &in,
		d:           &d,
		accounts:    map[string]bool{},
		types:       map[string]int{},
		acctCount:   map[string]int{},
		firstAction: firstActions(in.Actions, in.Audit),
		standards:   map[string]map[string]bool{},
	}
	for _, a := range in.Accounts {
		b.accounts[a] = true
	}
	if in.Findings != nil {
		for rec := range in.Findings {
			b.add(&rec)
		}
	}
	b.finish()
	return d
}

// builder accumulates one pass over the findings.
type builder struct {
	in       *Input
	d        *picket.Digest
	accounts map[string]bool

	types, acctCount map[string]int
	urgent           []picket.OpenFinding
	// firstAction is when each finding was first acted on.
	firstAction  map[string]time.Time
	firstActs    []time.Duration
	resolveTimes []time.Duration
	// standards maps a standard to its controls, true when a control has
	// a failed finding.
	standards map[string]map[string]bool
}

func (b *builder) inScope(f *picket.Finding) bool {
	if f.Sample || f.Severity < b.in.MinSeverity {
		return false
	}
	return len(b.accounts) == 0 || b.accounts[f.Account]
}

func (b *builder) inWindow(t time.Time) bool {
	return !t.IsZero() && !t.Before(b.d.From) && t.Before(b.d.To)
}

// firstSeen is when Picket first saw the finding: responders could act
// only from then. Findings stored without it fall back to CreatedAt.
func firstSeen(rec *picket.FindingRecord) time.Time {
	if !rec.FirstReceived.IsZero() {
		return rec.FirstReceived
	}
	return rec.Finding.CreatedAt
}

// changedAt is when the finding last changed, by its source's clock when
// known.
func changedAt(rec *picket.FindingRecord) time.Time {
	if !rec.Finding.UpdatedAt.IsZero() {
		return rec.Finding.UpdatedAt
	}
	return rec.LastReceived
}

func (b *builder) add(rec *picket.FindingRecord) {
	f := &rec.Finding
	if !b.inScope(f) {
		return
	}
	if f.ComplianceStatus == "PASSED" || f.ComplianceStatus == "FAILED" {
		b.addControl(f)
	}
	seen, changed := firstSeen(rec), changedAt(rec)
	closed := f.Closed()
	act := &b.d.Activity
	active := false
	switch {
	case b.inWindow(seen):
		act.New[f.Severity]++
		act.NewBySource = inc(act.NewBySource, f.Source)
		act.NewByProduct = inc(act.NewByProduct, productOf(f))
		active = true
	case b.inWindow(changed) && !closed:
		act.Updated[f.Severity]++
		act.UpdatedBySource = inc(act.UpdatedBySource, f.Source)
		active = true
	}
	if closed && b.inWindow(changed) {
		act.Resolved[f.Severity]++
		act.ResolvedBySource = inc(act.ResolvedBySource, f.Source)
		if !seen.IsZero() && !changed.Before(seen) {
			b.resolveTimes = append(b.resolveTimes, changed.Sub(seen))
		}
	}
	if active {
		b.types[f.Type]++
		b.acctCount[f.Account]++
	}
	if t, ok := b.firstAction[f.Key]; ok && b.inWindow(t) && !seen.IsZero() && !t.Before(seen) {
		b.firstActs = append(b.firstActs, t.Sub(seen))
	}
	if closed {
		return
	}
	b.d.Open[f.Severity]++
	if f.Severity >= picket.SeverityHigh {
		since := seen
		if !f.CreatedAt.IsZero() && f.CreatedAt.Before(since) {
			since = f.CreatedAt
		}
		b.urgent = append(b.urgent, picket.OpenFinding{
			Key: f.Key, Title: f.Title, Type: f.Type, Severity: f.Severity,
			Account: f.Account, Region: f.Region, Since: since, Age: b.d.To.Sub(since), Ref: rec.Ref,
		})
		// Keep the list bounded: sort and cut whenever it grows well past
		// what is shown.
		if len(b.urgent) >= 8*b.in.MaxUrgent+64 {
			b.trimUrgent(b.in.MaxUrgent)
		}
	}
}

// urgentOrder puts Critical before High, then the oldest first, then by
// key so the order is total.
func urgentOrder(a, c picket.OpenFinding) int {
	if a.Severity != c.Severity {
		return int(c.Severity - a.Severity)
	}
	if !a.Since.Equal(c.Since) {
		return a.Since.Compare(c.Since)
	}
	return strings.Compare(a.Key, c.Key)
}

func (b *builder) trimUrgent(n int) {
	slices.SortFunc(b.urgent, urgentOrder)
	if len(b.urgent) > n {
		b.urgent = b.urgent[:n]
	}
}

func (b *builder) addControl(f *picket.Finding) {
	if f.RecordState == picket.RecordArchived {
		return
	}
	std := standardName(f.Raw)
	control := f.ControlID
	if control == "" {
		control = f.Type
	}
	m := b.standards[std]
	if m == nil {
		m = map[string]bool{}
		b.standards[std] = m
	}
	m[control] = m[control] || f.ComplianceStatus == "FAILED"
}

func (b *builder) finish() {
	d, in := b.d, b.in
	total := d.Open[picket.SeverityCritical] + d.Open[picket.SeverityHigh]
	b.trimUrgent(in.MaxUrgent)
	d.Urgent = b.urgent
	d.UrgentMore = total - len(d.Urgent)
	d.TopTypes = top(b.types, in.Top)
	d.TopAccounts = top(b.acctCount, in.Top)
	d.FirstAction = stats(b.firstActs)
	d.Resolve = stats(b.resolveTimes)
	b.actions()
	d.Expiring = expiring(in.Suppressions, d.To, in.ExpiringIn)

	snap := picket.DigestSnapshot{Day: Day(d.To), Open: d.Open}
	prev := in.Previous
	if prev != nil {
		d.HasPrevious = true
		d.Previous = prev.Day
		for s := range d.Open {
			d.OpenChange[s] = d.Open[s] - prev.Open[s]
		}
	}
	if in.Posture != nil {
		c := picket.ScoreChange{Name: "Posture checks", Score: round1(in.Posture.Score())}
		if prev != nil && prev.HasPosture {
			c.Previous, c.HasPrevious = prev.PostureScore, true
		}
		d.Posture = &c
		snap.PostureScore, snap.HasPosture = c.Score, true
	}
	if len(b.standards) > 0 {
		snap.Standards = map[string]float64{}
		for _, name := range slices.Sorted(maps.Keys(b.standards)) {
			controls := b.standards[name]
			pass := 0
			for _, failed := range controls {
				if !failed {
					pass++
				}
			}
			c := picket.ScoreChange{Name: name, Score: round1(float64(pass) * 100 / float64(len(controls)))}
			if prev != nil {
				c.Previous, c.HasPrevious = prev.Standards[name]
			}
			d.Standards = append(d.Standards, c)
			snap.Standards[name] = c.Score
		}
	}
	d.Snapshot = snap
}

// taken reports whether an action outcome means something was done (or
// attempted) in AWS.
func taken(o picket.ActionOutcome) bool {
	switch o {
	case picket.OutcomeSucceeded, picket.OutcomePartial, picket.OutcomeFailed:
		return true
	}
	return false
}

// actionTime is when an action record ran.
func actionTime(r *picket.ActionRecord) time.Time {
	if r.Result != nil {
		if !r.Result.Finished.IsZero() {
			return r.Result.Finished
		}
		if !r.Result.Started.IsZero() {
			return r.Result.Started
		}
	}
	return r.Updated
}

// allActions merges action records and "executed" audit entries whose
// record is gone.
func allActions(recs []picket.ActionRecord, audit []picket.AuditEntry) []picket.DigestAction {
	var out []picket.DigestAction
	ids := make(map[string]bool, len(recs))
	kinds := make(map[string]picket.ActionKind, len(recs))
	for i := range recs {
		kinds[recs[i].Request.ID] = recs[i].Request.Kind
	}
	for i := range recs {
		r := &recs[i]
		ids[r.Request.ID] = true
		if !taken(r.Status) || r.Request.DryRun {
			continue
		}
		target := r.Request.Target.ID
		out = append(out, picket.DigestAction{
			Time: actionTime(r).UTC(), Kind: r.Request.Kind, Actor: r.Request.Actor,
			Target: target, Outcome: r.Status, FindingKey: r.Request.FindingKey,
			Undid: kinds[r.Request.UndoOf],
		})
	}
	for _, e := range audit {
		if e.Event != "executed" || ids[e.RequestID] || !taken(picket.ActionOutcome(e.Outcome)) {
			continue
		}
		if e.RequestID != "" {
			ids[e.RequestID] = true
		}
		out = append(out, picket.DigestAction{
			Time: e.Time.UTC(), Kind: e.Action, Actor: e.Actor, Target: e.Target,
			Outcome: picket.ActionOutcome(e.Outcome), FindingKey: e.FindingKey,
		})
	}
	return out
}

// firstActions maps each finding to the time of its first action taken.
func firstActions(recs []picket.ActionRecord, audit []picket.AuditEntry) map[string]time.Time {
	m := map[string]time.Time{}
	for _, a := range allActions(recs, audit) {
		if a.FindingKey == "" {
			continue
		}
		if t, ok := m[a.FindingKey]; !ok || a.Time.Before(t) {
			m[a.FindingKey] = a.Time
		}
	}
	return m
}

func (b *builder) actions() {
	d := b.d
	var acts []picket.DigestAction
	actors := map[string]int{}
	for _, a := range allActions(b.in.Actions, b.in.Audit) {
		if !b.inWindow(a.Time) {
			continue
		}
		acts = append(acts, a)
		name := a.Actor.Name
		if name == "" {
			name = a.Actor.ID
		}
		actors[name]++
	}
	slices.SortStableFunc(acts, func(a, c picket.DigestAction) int { return a.Time.Compare(c.Time) })
	if len(acts) > b.in.MaxActions {
		d.ActionsMore = len(acts) - b.in.MaxActions
		acts = acts[len(acts)-b.in.MaxActions:] // the most recent
	}
	d.Actions = acts
	d.Actors = top(actors, len(actors))
	d.Rules = b.rules()
}

// rules sums up automatic response rules' work in the window: their
// action records by outcome, and the findings they only offered ("proposed"
// audit entries).
func (b *builder) rules() []picket.RuleActivity {
	by := map[string]*picket.RuleActivity{}
	get := func(a picket.Actor) *picket.RuleActivity {
		name, ok := a.Rule()
		if !ok {
			return nil
		}
		if by[name] == nil {
			by[name] = &picket.RuleActivity{Rule: name}
		}
		return by[name]
	}
	for i := range b.in.Actions {
		r := &b.in.Actions[i]
		if !b.inWindow(r.Request.At) || !b.accountInScope(r.Request.Account) {
			continue
		}
		ra := get(r.Request.Actor)
		if ra == nil {
			continue
		}
		switch {
		case r.Request.DryRun && r.Status == picket.OutcomeDryRunned:
			ra.DryRuns++
		case taken(r.Status):
			ra.Ran++
		case r.Status == picket.OutcomeRefused:
			ra.Refused++
		case r.Status == picket.OutcomePending:
			ra.Pending++
		}
	}
	for _, e := range b.in.Audit {
		if e.Event != "proposed" || !b.inWindow(e.Time) || !b.accountInScope(e.Account) {
			continue
		}
		if ra := get(e.Actor); ra != nil {
			ra.Offered++
		}
	}
	out := make([]picket.RuleActivity, 0, len(by))
	for _, ra := range by {
		out = append(out, *ra)
	}
	slices.SortFunc(out, func(a, c picket.RuleActivity) int { return strings.Compare(a.Rule, c.Rule) })
	if len(out) == 0 {
		return nil
	}
	return out
}

// accountInScope reports whether account is in the digest's accounts
// (every account when none are given).
func (b *builder) accountInScope(account string) bool {
	return len(b.in.Accounts) == 0 || slices.Contains(b.in.Accounts, account)
}

func expiring(all []picket.Suppression, now time.Time, within time.Duration) []picket.Suppression {
	var out []picket.Suppression
	for _, s := range all {
		if !s.Lifted.IsZero() || s.Until.IsZero() || !s.Until.After(now) || s.Until.After(now.Add(within)) {
			continue
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, c picket.Suppression) int {
		if n := a.Until.Compare(c.Until); n != 0 {
			return n
		}
		return strings.Compare(a.ID, c.ID)
	})
	return out
}

// Day returns t's UTC date at midnight, the key of a day's snapshot.
func Day(t time.Time) time.Time {
	y, m, dd := t.UTC().Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
}

// inc counts one more k in m, making m when it is nil.
func inc[K comparable](m map[K]int, k K) map[K]int {
	if m == nil {
		m = map[K]int{}
	}
	m[k]++
	return m
}

// productOf names the product of a finding: its Product, or the service of
// its source when it names none.
func productOf(f *picket.Finding) string {
	if f.Product != "" {
		return f.Product
	}
	return f.Source.Name()
}

// top returns the n largest counts, ties by name.
func top(m map[string]int, n int) []picket.NamedCount {
	out := make([]picket.NamedCount, 0, len(m))
	for k, v := range m {
		out = append(out, picket.NamedCount{Name: k, Count: v})
	}
	slices.SortFunc(out, func(a, c picket.NamedCount) int {
		if a.Count != c.Count {
			return c.Count - a.Count
		}
		return strings.Compare(a.Name, c.Name)
	})
	if len(out) > n {
		out = out[:n]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// stats returns the count, median and 90th percentile (nearest rank) of
// ds, which it sorts.
func stats(ds []time.Duration) picket.DurationStats {
	if len(ds) == 0 {
		return picket.DurationStats{}
	}
	slices.Sort(ds)
	return picket.DurationStats{Count: len(ds), Median: rank(ds, 50), P90: rank(ds, 90)}
}

// rank is the nearest-rank percentile p of sorted ds.
func rank(ds []time.Duration, p int) time.Duration {
	i := (p*len(ds) + 99) / 100 // ceil(p/100 * n)
	if i < 1 {
		i = 1
	}
	return ds[i-1]
}

func round1(v float64) float64 {
	return float64(int64(v*10+0.5)) / 10
}

// standardNames maps Security Hub standard identifiers to their names.
var standardNames = map[string]string{
	"aws-foundational-security-best-practices": "AWS Foundational Security Best Practices",
	"cis-aws-foundations-benchmark":            "CIS AWS Foundations Benchmark",
	"pci-dss":                                  "PCI DSS",
	"nist-800-53":                              "NIST SP 800-53",
	"service-managed-aws-control-tower":        "AWS Control Tower",
	"aws-resource-tagging-standard":            "AWS Resource Tagging Standard",
}

// standardName names the Security Hub standard a control finding belongs
// to, from its ProductFields (StandardsArn, StandardsGuideArn) or
// GeneratorId. Only these few strings are looked for, so the raw finding is
// not decoded.
func standardName(raw []byte) string {
	for _, field := range []string{`"StandardsArn":`, `"StandardsGuideArn":`, `"GeneratorId":`} {
		v := jsonString(raw, field)
		if v == "" {
			continue
		}
		if i := strings.Index(v, "standards/"); i >= 0 {
			v = v[i+len("standards/"):]
		} else if i := strings.Index(v, "ruleset/"); i >= 0 {
			v = v[i+len("ruleset/"):]
		}
		// v is now "<id>/v/<version>[/...]".
		id, rest, ok := strings.Cut(v, "/v/")
		if !ok {
			continue
		}
		name, known := standardNames[id]
		if !known {
			continue
		}
		version, _, _ := strings.Cut(rest, "/")
		if version != "" {
			name += " v" + version
		}
		return name
	}
	return otherStandardsName
}

// jsonString returns the plain string value following field in raw (no
// escapes handled: identifiers have none), or "".
func jsonString(raw []byte, field string) string {
	i := bytes.Index(raw, []byte(field))
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(raw[i+len(field):], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' {
		return ""
	}
	rest = rest[1:]
	end := bytes.IndexAny(rest, `"\`)
	if end < 0 || rest[end] != '"' {
		return ""
	}
	return string(rest[:end])
}
