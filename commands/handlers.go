package commands

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	picket "github.com/picketsec/picket"
)

// Limits of the answers.
const (
	defaultAudit = 10 // audit entries shown by default
	maxAudit     = 50 // most audit entries shown
	// auditScanned is how many of the newest audit entries are searched
	// for those of a person limited to some accounts.
	auditScanned = 2000
	maxRecent    = 10 // recent findings shown by user and instance
	// recentlyLifted is how far back suppressions lifted or expired are
	// listed.
	recentlyLifted = 7 * 24 * time.Hour
	// failingShown is how many failing resources a check lists in the
	// posture summary; a single check lists failingShownFull.
	failingShown     = 10
	failingShownFull = 50
)

// errStop ends a scan of the finding index early.
var errStop = errors.New("stop")

func runHelp(_ context.Context, _ Deps, _ picket.Actor, _ Scope, args []string) (Reply, error) {
	switch len(args) {
	case 0:
		return helpAll(), nil
	case 1:
		def, ok := lookup(args[0])
		if !ok {
			return unknown(args[0]), nil
		}
		return Reply{Title: "Help: " + Slash + " " + def.Name, Sections: []string{helpFor(def)}}, nil
	}
	return Reply{}, usagef("help takes at most one command name")
}

// helpAll lists every command.
func helpAll() Reply {
	r := Reply{Title: "Picket commands"}
	for _, def := range Definitions() {
		r.Sections = append(r.Sections, helpFor(def))
	}
	r.Sections = append(r.Sections, "Answers are private; add `public` at the end of a command to post the answer in the channel.")
	return r
}

func helpFor(def Definition) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*`%s`*\n%s", escape(def.Usage), escape(def.Help))
	if len(def.Examples) > 0 {
		ex := make([]string, len(def.Examples))
		for i, e := range def.Examples {
			ex[i] = code(e)
		}
		fmt.Fprintf(&b, "\nExamples: %s", strings.Join(ex, ", "))
	}
	return b.String()
}

func runPosture(ctx context.Context, d Deps, _ picket.Actor, scope Scope, args []string) (Reply, error) {
	if len(args) > 1 {
		return Reply{}, usagef("posture takes at most one account id")
	}
	account := ""
	if len(args) == 1 {
		if !isAccount(args[0]) {
			return Reply{}, usagef("%q is not a 12-digit AWS account id", clip(args[0], 40))
		}
		account = args[0]
	}
	if err := postureScope(scope, account, "posture", "ACCOUNT"); err != nil {
		return Reply{}, err
	}
	if d.Posture == nil {
		return Reply{}, unavailable("Posture checking")
	}
	rep, err := d.Posture.Check(ctx, account, nil)
	if err != nil {
		return Reply{}, fmt.Errorf("posture of account %q: %w", account, err)
	}
	if !scope.Allows(rep.Account) {
		return Reply{}, outside(scope, "The posture report", rep.Account)
	}
	return Reply{Title: postureTitle(rep), Sections: renderReport(d.now(), rep, false)}, nil
}

func runCheck(ctx context.Context, d Deps, _ picket.Actor, scope Scope, args []string) (Reply, error) {
	if len(args) == 0 || len(args) > 2 {
		return Reply{}, usagef("check takes a check id or \"all\", and optionally an account id")
	}
	id := strings.ToLower(args[0])
	if !isCheckID(id) {
		return Reply{}, usagef("%q is not a check id", clip(args[0], 40))
	}
	account := ""
	if len(args) == 2 {
		if !isAccount(args[1]) {
			return Reply{}, usagef("%q is not a 12-digit AWS account id", clip(args[1], 40))
		}
		account = args[1]
	}
	if err := postureScope(scope, account, "check", id+" ACCOUNT"); err != nil {
		return Reply{}, err
	}
	if d.Posture == nil {
		return Reply{}, unavailable("Posture checking")
	}
	rep, err := d.Posture.Check(ctx, account, []string{id})
	if err != nil {
		return Reply{}, fmt.Errorf("check %s in account %q: %w", id, account, err)
	}
	if !scope.Allows(rep.Account) || slices.ContainsFunc(rep.Results, func(c picket.CheckResult) bool { return c.Account != "" && !scope.Allows(c.Account) }) {
		return Reply{}, outside(scope, "The posture report", rep.Account)
	}
	if id == "all" {
		return Reply{Title: postureTitle(rep), Sections: renderReport(d.now(), rep, true)}, nil
	}
	i := slices.IndexFunc(rep.Results, func(c picket.CheckResult) bool { return strings.EqualFold(c.ID, id) })
	if i < 0 {
		return Reply{}, picket.Errorf(picket.ENOTFOUND, "Picket has no posture check %q; %s check all shows every check.", id, Slash)
	}
	c := rep.Results[i]
	return Reply{
		Title:    clip(fmt.Sprintf("Check %s: %s", c.ID, c.Status), 150),
		Sections: []string{renderCheck(c, true), accountText(cmp.Or(rep.Account, c.Account)) + " · checked " + stamp(rep.Generated)},
	}, nil
}

// postureScope refuses a posture command on an account outside scope. With
// no account named the checks run in the account Picket runs in, which a
// person limited to some accounts must name.
func postureScope(scope Scope, account, cmd, example string) error {
	switch {
	case scope.All:
		return nil
	case account == "":
		return nameAccount(scope, cmd, example)
	case !scope.Allows(account):
		return outside(scope, "The posture of "+code(account), account)
	}
	return nil
}

// isCheckID reports whether s may be a posture check id ("iam.root-mfa").
func isCheckID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
			return false
		}
	}
	return true
}

// accountText names the account a report is about.
func accountText(account string) string {
	if account == "" {
		return "The account Picket runs in"
	}
	return "Account " + code(account)
}

func postureTitle(rep picket.PostureReport) string {
	t := fmt.Sprintf("Posture score %.0f%%", rep.Score())
	if rep.Account != "" {
		t += " for account " + rep.Account
	}
	return clip(t, 150)
}

// renderReport shows a posture report: a summary, then failures grouped by
// section, then the checks that could not run, then the passes (in full
// when full, otherwise by title).
func renderReport(now time.Time, rep picket.PostureReport, full bool) []string {
	var pass, fail, errs []picket.CheckResult
	for _, c := range rep.Results {
		switch c.Status {
		case picket.CheckPass:
			pass = append(pass, c)
		case picket.CheckFail:
			fail = append(fail, c)
		default:
			errs = append(errs, c)
		}
	}
	summary := fmt.Sprintf("*Score: %.0f%%* — %d passed, %d failed, %d could not run, of %d checks.",
		rep.Score(), len(pass), len(fail), len(errs), len(rep.Results))
	where := []string{accountText(rep.Account)}
	if len(rep.Regions) > 0 {
		where = append(where, "regions "+list(rep.Regions))
	}
	if !rep.Generated.IsZero() {
		where = append(where, "checked "+ago(now, rep.Generated))
	}
	sections := []string{summary + "\n" + strings.Join(where, " · ")}

	// Failures first, the most severe first within each section.
	slices.SortStableFunc(fail, func(a, b picket.CheckResult) int { return cmp.Compare(b.Severity, a.Severity) })
	for _, g := range bySection(fail) {
		lines := []string{"*:x: Failing — " + escape(g.name) + "*"}
		for _, c := range g.checks {
			lines = append(lines, renderCheck(c, full))
		}
		sections = append(sections, strings.Join(lines, "\n\n"))
	}
	if len(errs) > 0 {
		lines := []string{"*:warning: Could not run*"}
		for _, c := range errs {
			lines = append(lines, fmt.Sprintf("• *%s* (%s): %s", escape(c.Title), code(c.ID), escape(cmp.Or(c.Error, "no reason given"))))
		}
		sections = append(sections, strings.Join(lines, "\n"))
	}
	if len(pass) > 0 {
		if full {
			for _, g := range bySection(pass) {
				lines := []string{"*:white_check_mark: Passing — " + escape(g.name) + "*"}
				for _, c := range g.checks {
					lines = append(lines, renderCheck(c, true))
				}
				sections = append(sections, strings.Join(lines, "\n\n"))
			}
		} else {
			lines := []string{"*:white_check_mark: Passing*"}
			for _, c := range pass {
				lines = append(lines, fmt.Sprintf("• %s (%s)", escape(c.Title), code(c.ID)))
			}
			sections = append(sections, strings.Join(lines, "\n"))
		}
	}
	return sections
}

type checkGroup struct {
	name   string
	checks []picket.CheckResult
}

// bySection groups checks by section in the order sections first appear.
func bySection(checks []picket.CheckResult) []checkGroup {
	var groups []checkGroup
	for _, c := range checks {
		name := cmp.Or(c.Section, "Other")
		i := slices.IndexFunc(groups, func(g checkGroup) bool { return g.name == name })
		if i < 0 {
			groups = append(groups, checkGroup{name: name})
			i = len(groups) - 1
		}
		groups[i].checks = append(groups[i].checks, c)
	}
	return groups
}

// renderCheck shows one check; full adds why it matters and the evidence,
// and lists more failing resources.
func renderCheck(c picket.CheckResult, full bool) string {
	mark := map[picket.CheckStatus]string{picket.CheckPass: ":white_check_mark:", picket.CheckFail: ":x:"}[c.Status]
	if mark == "" {
		mark = ":warning:"
	}
	lines := []string{fmt.Sprintf("%s *%s* (%s, %s)", mark, escape(c.Title), code(c.ID), c.Severity)}
	if full && c.Why != "" {
		lines = append(lines, "_Why:_ "+escape(c.Why))
	}
	if full || c.Status == picket.CheckFail {
		for _, e := range c.Evidence {
			lines = append(lines, "> "+escape(e))
		}
	}
	if c.Status == picket.CheckError {
		lines = append(lines, "Could not run: "+escape(cmp.Or(c.Error, "no reason given")))
	}
	if n := len(c.Failing); n > 0 {
		limit := failingShown
		if full {
			limit = failingShownFull
		}
		shown := make([]string, 0, min(n, limit))
		for _, f := range c.Failing[:min(n, limit)] {
			shown = append(shown, code(f))
		}
		s := "Failing: " + strings.Join(shown, ", ")
		if n > limit {
			s += fmt.Sprintf(" and %d more", n-limit)
		}
		lines = append(lines, s)
	}
	if c.Status != picket.CheckPass && c.Remediation != "" || full && c.Remediation != "" {
		fix := "Fix: " + escape(c.Remediation)
		if c.RemediationURL != "" {
			fix += " (" + link(c.RemediationURL, "how to") + ")"
		}
		lines = append(lines, fix)
	}
	return strings.Join(lines, "\n")
}

func runFinding(_ context.Context, d Deps, _ picket.Actor, scope Scope, args []string) (Reply, error) {
	if len(args) != 1 {
		return Reply{}, usagef("finding takes one finding key or id")
	}
	if d.Findings == nil {
		return Reply{}, unavailable("The finding index")
	}
	ref := args[0]
	rec, ok, err := d.Findings.Finding(ref)
	if err == nil && !ok {
		rec, ok, err = d.Findings.FindingByID(ref)
	}
	if err != nil {
		return Reply{}, withCause(picket.Errorf(picket.EUNAVAILABLE, "Picket could not read its finding index; try again in a moment."), err)
	}
	if !ok {
		return Reply{}, picket.Errorf(picket.ENOTFOUND, "Picket has not seen a finding with key or id %s.", clip(ref, 80))
	}
	f := rec.Finding
	if !scope.Allows(f.Account) {
		// Answered as for a finding never seen: whether a finding exists
		// in another account is that account's data too.
		return Reply{}, picket.Errorf(picket.ENOTFOUND, "Picket has not seen a finding with key or id %s.", clip(ref, 80))
	}
	state := "open"
	if f.Closed() {
		state = "closed"
	}
	head := []string{
		"*" + escape(f.Title) + "*",
		fmt.Sprintf("*Severity:* %s (%g) · *Source:* %s · *Type:* %s", f.Severity, f.SeverityScore, escape(string(f.Source)), code(f.Type)),
		fmt.Sprintf("*Account:* %s · *Region:* %s", code(f.Account), code(f.Region)),
		fmt.Sprintf("*Status:* %s (record %s, workflow %s)", state, escape(cmp.Or(f.RecordState, "-")), escape(cmp.Or(f.WorkflowStatus, "-"))),
		fmt.Sprintf("*First seen:* %s · *Last seen:* %s · *Count:* %d", stamp(f.FirstSeen), stamp(f.LastSeen), f.Count),
		fmt.Sprintf("*Key:* %s · *ID:* %s", code(f.Key), code(f.ID)),
	}
	if f.Description != "" {
		head = append(head, "> "+escape(clip(strings.Join(strings.Fields(f.Description), " "), 600)))
	}
	sections := []string{strings.Join(head, "\n")}

	res := []string{"*Resources*"}
	for _, r := range f.Resources {
		line := "• " + escape(string(r.Kind)) + " " + code(r.ID)
		if r.UserName != "" {
			line += " of user " + code(r.UserName)
		}
		if r.ARN != "" && r.ARN != r.ID {
			line += " — " + code(r.ARN)
		}
		res = append(res, line)
	}
	if len(f.Resources) == 0 {
		res = append(res, "none named")
	}
	sections = append(sections, strings.Join(res, "\n"))

	posted := "*Posted:* never"
	switch {
	case !rec.Ref.Zero() && rec.Group != "":
		posted = fmt.Sprintf("*Posted:* in %s as one of the findings of group %s (message %s), listed with its actions in that message's thread",
			channelRef(rec.Ref.Channel), code(rec.Group), code(rec.Ref.TS))
	case !rec.Ref.Zero():
		posted = fmt.Sprintf("*Posted:* in %s (message %s)", channelRef(rec.Ref.Channel), code(rec.Ref.TS))
	case rec.Group != "":
		posted = fmt.Sprintf("*Posted:* waiting for Slack, in group %s for %s", code(rec.Group), channelRef(rec.Route.Channel))
	case rec.Route.Channel != "":
		posted = "*Posted:* waiting for Slack, in the outbox for " + channelRef(rec.Route.Channel)
	case rec.Route.Channel == "":
		posted = "*Posted:* no — below every routing rule's threshold"
	}
	if rec.Route.Rule != "" {
		posted += " · rule " + code(rec.Route.Rule)
	}
	posted += fmt.Sprintf("\n*Received:* %d times, first %s, last %s", rec.Deliveries, stamp(rec.FirstReceived), stamp(rec.LastReceived))
	sections = append(sections, posted)
	sections = append(sections, actionsTaken(d, []picket.Finding{f}, false))
	return Reply{Title: clip("Finding: "+f.Title, 150), Sections: sections}, nil
}

// actionsTaken lists the actions taken on findings, oldest first; withKey
// names the finding of each action.
func actionsTaken(d Deps, findings []picket.Finding, withKey bool) string {
	lines := []string{"*Actions taken*"}
	if d.Actions == nil {
		return lines[0] + "\nThe action history is not available in this Picket."
	}
	var recs []picket.ActionRecord
	for _, f := range findings {
		rs, err := d.Actions.ActionsForFinding(f.Key)
		if err != nil {
			d.logger().Warn("read actions of finding", "finding", f.Key, "err", err)
			lines = append(lines, "Picket could not read the actions taken on "+code(f.Key)+".")
			continue
		}
		recs = append(recs, rs...)
	}
	slices.SortStableFunc(recs, func(a, b picket.ActionRecord) int { return a.Request.At.Compare(b.Request.At) })
	for _, r := range recs {
		who := cmp.Or(r.Request.Actor.Name, r.Request.Actor.ID)
		line := fmt.Sprintf("• %s — %s on %s by %s: %s", stamp(r.Request.At), escape(r.Request.Kind.Label()),
			code(r.Request.Target.ID), escape(who), escape(string(r.Status)))
		if withKey {
			line += " (finding " + code(r.Request.FindingKey) + ")"
		}
		if r.Request.DryRun {
			line += " (dry run)"
		}
		if r.UndoneBy != "" {
			line += " — undone"
		}
		if r.Result != nil && r.Result.Summary != "" {
			line += "\n    " + escape(r.Result.Summary)
		}
		lines = append(lines, line)
	}
	if len(recs) == 0 && len(lines) == 1 {
		lines = append(lines, "none")
	}
	return strings.Join(lines, "\n")
}

// recentFindings returns the newest findings (at most maxRecent) that
// match, newest first.
func recentFindings(d Deps, match func(*picket.Finding) bool) ([]picket.Finding, error) {
	var found []picket.Finding
	err := d.Findings.Findings(func(rec picket.FindingRecord) error {
		if match(&rec.Finding) {
			f := rec.Finding
			if f.LastSeen.IsZero() {
				f.LastSeen = cmp.Or(f.UpdatedAt, rec.LastReceived)
			}
			f.Raw = nil
			found = append(found, f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(found, func(a, b picket.Finding) int { return b.LastSeen.Compare(a.LastSeen) })
	return found[:min(len(found), maxRecent)], nil
}

// renderRecent lists recent findings and the actions taken on them.
func renderRecent(d Deps, what string, found []picket.Finding, scanErr error) []string {
	if scanErr != nil {
		d.logger().Warn("scan finding index", "err", scanErr)
		return []string{"*Recent findings*\nPicket could not read its finding index; try again in a moment."}
	}
	if len(found) == 0 {
		return []string{"*Recent findings*\nPicket has seen no finding naming " + what + "."}
	}
	lines := []string{fmt.Sprintf("*Recent findings* (newest %d)", len(found))}
	for _, f := range found {
		lines = append(lines, fmt.Sprintf("• %s *%s* — %s · last seen %s · %s %s",
			f.Severity, escape(clip(f.Title, 200)), code(f.Account), stamp(f.LastSeen),
			map[bool]string{true: "closed", false: "open"}[f.Closed()], code(f.Key)))
	}
	return []string{strings.Join(lines, "\n"), actionsTaken(d, found, true)}
}

// lookupTarget finds the recent findings naming a resource, in the
// accounts of scope only, and works out the account and region to look it
// up in: the given ones, else the newest finding's, else the defaults.
func lookupTarget(d Deps, scope Scope, account, region string, match func(*picket.Finding) bool) target {
	if d.Findings == nil {
		return target{scanErr: unavailable("The finding index"), account: account, region: cmp.Or(region, d.Region)}
	}
	found, err := recentFindings(d, func(f *picket.Finding) bool {
		return (account == "" || f.Account == account) && scope.Allows(f.Account) && match(f)
	})
	if len(found) > 0 {
		account = cmp.Or(account, found[0].Account)
		region = cmp.Or(region, found[0].Region)
	}
	return target{found: found, scanErr: err, account: account, region: cmp.Or(region, d.Region)}
}

// lookupScope refuses a user or instance look-up outside scope: an account
// named that scope does not cover, or none named nor found in a finding
// of scope (the look-up would go to the account Picket runs in).
func lookupScope(scope Scope, named string, t target, cmd, example string) error {
	switch {
	case scope.All:
		return nil
	case named != "" && !scope.Allows(named):
		return outside(scope, "The "+cmd+" look-up", named)
	case t.account == "":
		return nameAccount(scope, cmd, example)
	case !scope.Allows(t.account):
		return outside(scope, "The "+cmd+" look-up", t.account)
	}
	return nil
}

// target is a resource's recent findings and where to look it up.
type target struct {
	found           []picket.Finding
	scanErr         error
	account, region string
}

// lookupArgs reads the optional account and region after a resource id,
// in either order.
func lookupArgs(cmd string, args []string, withRegion bool) (account, region string, err error) {
	for _, a := range args {
		switch {
		case isAccount(a) && account == "":
			account = a
		case withRegion && isRegion(a) && region == "":
			region = a
		default:
			return "", "", usagef("%s: %q is not an account id%s", cmd, clip(a, 40), map[bool]string{true: " or a region", false: ""}[withRegion])
		}
	}
	return account, region, nil
}

func runUser(ctx context.Context, d Deps, _ picket.Actor, scope Scope, args []string) (Reply, error) {
	if len(args) == 0 || len(args) > 2 {
		return Reply{}, usagef("user takes an IAM user name and optionally an account id")
	}
	name := args[0]
	if !isUserName(name) {
		return Reply{}, usagef("%q is not an IAM user name", clip(name, 70))
	}
	account, _, err := lookupArgs("user", args[1:], false)
	if err != nil {
		return Reply{}, err
	}
	if account != "" && !scope.Allows(account) {
		return Reply{}, outside(scope, "The user look-up", account)
	}
	t := lookupTarget(d, scope, account, "", func(f *picket.Finding) bool {
		return slices.ContainsFunc(f.Resources, func(r picket.Resource) bool {
			return (r.Kind == picket.ResourceIAMUser && strings.EqualFold(r.ID, name)) || strings.EqualFold(r.UserName, name)
		})
	})
	if err := lookupScope(scope, account, t, "user", name+" ACCOUNT"); err != nil {
		return Reply{}, err
	}
	sections := []string{}
	if d.Enricher == nil {
		sections = append(sections, "IAM look-ups are not available in this Picket.")
	} else {
		enr := d.Enricher.Enrich(ctx, &picket.Finding{
			Key: "command:user:" + name, Account: t.account, Region: t.region,
			Resources: []picket.Resource{{Kind: picket.ResourceIAMUser, ID: name, Region: t.region}},
		})
		sections = append(sections, renderUser(d.now(), name, t.account, enr))
	}
	sections = append(sections, renderRecent(d, "user "+code(name), t.found, t.scanErr)...)
	return Reply{Title: clip("IAM user "+name, 150), Sections: sections}, nil
}

// isUserName reports whether s may be an IAM user name.
func isUserName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+=,.@_-", r)) {
			return false
		}
	}
	return true
}

func renderUser(now time.Time, name, account string, enr picket.Enrichment) string {
	lines := []string{}
	acct := code(cmp.Or(account, "default"))
	if enr.AccountAlias != "" {
		acct += " (" + escape(enr.AccountAlias) + ")"
	}
	u := enr.User
	if u == nil {
		lines = append(lines, fmt.Sprintf("*%s* in account %s: no details.", code(name), acct))
	} else {
		lines = append(lines,
			fmt.Sprintf("*%s* in account %s", code(u.UserName), acct),
			"*ARN:* "+code(u.ARN)+" · *created* "+stamp(u.CreatedAt),
			fmt.Sprintf("*MFA devices:* %d · *console access:* %s", u.MFADevices, map[bool]string{true: "yes", false: "no"}[u.ConsoleAccess]),
			"*Groups:* "+list(u.Groups),
			"*Attached policies:* "+list(u.AttachedPolicies),
			"*Inline policies:* "+list(u.InlinePolicies),
		)
		if u.ConsoleAccess && u.MFADevices == 0 {
			lines = append(lines, ":warning: Console access without MFA.")
		}
		lines = append(lines, "*Access keys*")
		for _, k := range u.AccessKeys {
			used := "never used"
			if !k.LastUsedAt.IsZero() {
				used = "last used " + ago(now, k.LastUsedAt)
				if k.LastService != "" {
					used += " (" + escape(k.LastService) + ")"
				}
			}
			created := "created " + stamp(k.CreatedAt)
			if !k.CreatedAt.IsZero() {
				created = age(now, k.CreatedAt) + " old"
			}
			lines = append(lines, fmt.Sprintf("• %s %s — %s, %s", code(k.ID), escape(k.Status), created, used))
		}
		if len(u.AccessKeys) == 0 {
			lines = append(lines, "none")
		}
	}
	for _, m := range enr.Missing {
		lines = append(lines, "_Not known:_ "+escape(m))
	}
	return strings.Join(lines, "\n")
}

func runInstance(ctx context.Context, d Deps, _ picket.Actor, scope Scope, args []string) (Reply, error) {
	if len(args) == 0 || len(args) > 3 {
		return Reply{}, usagef("instance takes an instance id and optionally an account id and a region")
	}
	id := strings.ToLower(args[0])
	if !isInstanceID(id) {
		return Reply{}, usagef("%q is not an EC2 instance id (i- followed by 8 or 17 hex digits)", clip(args[0], 40))
	}
	account, region, err := lookupArgs("instance", args[1:], true)
	if err != nil {
		return Reply{}, err
	}
	if account != "" && !scope.Allows(account) {
		return Reply{}, outside(scope, "The instance look-up", account)
	}
	t := lookupTarget(d, scope, account, region, func(f *picket.Finding) bool {
		return slices.ContainsFunc(f.Resources, func(r picket.Resource) bool {
			return r.Kind == picket.ResourceEC2Instance && r.ID == id
		})
	})
	if err := lookupScope(scope, account, t, "instance", id+" ACCOUNT"); err != nil {
		return Reply{}, err
	}
	sections := []string{}
	if d.Enricher == nil {
		sections = append(sections, "EC2 look-ups are not available in this Picket.")
	} else {
		enr := d.Enricher.Enrich(ctx, &picket.Finding{
			Key: "command:instance:" + id, Account: t.account, Region: t.region,
			Resources: []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: id, Region: t.region}},
		})
		sections = append(sections, renderInstance(id, t.account, t.region, enr))
	}
	sections = append(sections, renderRecent(d, "instance "+code(id), t.found, t.scanErr)...)
	return Reply{Title: "EC2 instance " + id, Sections: sections}, nil
}

// isInstanceID reports whether s is an EC2 instance id.
func isInstanceID(s string) bool {
	hex, ok := strings.CutPrefix(s, "i-")
	if !ok || (len(hex) != 8 && len(hex) != 17) {
		return false
	}
	return strings.Trim(hex, "0123456789abcdef") == ""
}

func renderInstance(id, account, region string, enr picket.Enrichment) string {
	acct := code(cmp.Or(account, "default"))
	if enr.AccountAlias != "" {
		acct += " (" + escape(enr.AccountAlias) + ")"
	}
	lines := []string{}
	in := enr.Instance
	if in == nil {
		lines = append(lines, fmt.Sprintf("*%s* in account %s, region %s: no details.", code(id), acct, code(region)))
	} else {
		title := code(in.InstanceID)
		if in.Name != "" {
			title += " " + escape(in.Name)
		}
		lines = append(lines,
			fmt.Sprintf("*%s* in account %s, region %s", title, acct, code(region)),
			"*State:* "+escape(cmp.Or(in.State, "-"))+" · *owner:* "+escape(cmp.Or(in.Owner, "-")),
			"*VPC:* "+code(in.VPCID)+" · *subnet:* "+code(in.SubnetID)+" · *public IP:* "+code(in.PublicIP),
			"*Security groups:* "+list(in.SecurityGroups),
			"*Instance profile:* "+code(in.InstanceProfile)+" · *Auto Scaling group:* "+code(in.AutoScalingGroup),
		)
	}
	for _, m := range enr.Missing {
		lines = append(lines, "_Not known:_ "+escape(m))
	}
	return strings.Join(lines, "\n")
}

func runAudit(_ context.Context, d Deps, _ picket.Actor, scope Scope, args []string) (Reply, error) {
	if len(args) > 1 {
		return Reply{}, usagef("audit takes at most one number")
	}
	n := defaultAudit
	note := ""
	if len(args) == 1 {
		v, err := strconv.Atoi(args[0])
		if err != nil || v < 1 {
			return Reply{}, usagef("%q is not a positive number of entries", clip(args[0], 40))
		}
		n = v
		if n > maxAudit {
			n, note = maxAudit, fmt.Sprintf("_Showing %d entries, the most this command shows._", maxAudit)
		}
	}
	if d.Audit == nil {
		return Reply{}, unavailable("The audit trail")
	}
	want := n
	if !scope.All {
		// Entries of other accounts, and those of no account (rejected
		// requests, denials), are left out: read further back to find n.
		want = auditScanned
	}
	entries, err := d.Audit.RecentAudit(want)
	if err != nil {
		return Reply{}, withCause(picket.Errorf(picket.EUNAVAILABLE, "Picket could not read its audit trail; try again in a moment."), err)
	}
	if !scope.All {
		scanned := len(entries)
		entries = slices.DeleteFunc(entries, func(e picket.AuditEntry) bool { return !scope.Allows(e.Account) })
		entries = entries[max(0, len(entries)-n):]
		note = strings.TrimSpace(note + fmt.Sprintf("\n_Only entries of accounts %s are shown, from the newest %d entries of the trail._", scope.names(), scanned))
	}
	lines := make([]string, 0, len(entries))
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		line := fmt.Sprintf("• %s — #%d %s by %s", stamp(e.Time), e.Seq, escape(e.Event), escape(cmp.Or(e.Actor.Name, e.Actor.ID, "unknown")))
		if e.Action != "" {
			line += ": " + escape(e.Action.Label())
		}
		if e.Target != "" {
			line += " on " + code(e.Target)
		}
		if e.Account != "" {
			line += " in " + code(e.Account)
		}
		if e.Outcome != "" {
			line += " → " + escape(e.Outcome)
		}
		if e.Detail != "" {
			line += " (" + escape(clip(e.Detail, 200)) + ")"
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		lines = append(lines, "The audit trail is empty.")
	}
	sections := []string{strings.Join(lines, "\n")}
	if note != "" {
		sections = append(sections, note)
	}
	return Reply{Title: fmt.Sprintf("Audit trail: newest %d entries", len(entries)), Sections: sections}, nil
}

func runSuppressions(_ context.Context, d Deps, _ picket.Actor, scope Scope, args []string) (Reply, error) {
	if len(args) > 0 {
		return Reply{}, usagef("suppressions takes no arguments")
	}
	if d.Suppressions == nil {
		return Reply{}, unavailable("The suppression list")
	}
	all, err := d.Suppressions.Suppressions()
	if err != nil {
		return Reply{}, withCause(picket.Errorf(picket.EUNAVAILABLE, "Picket could not read its suppression rules; try again in a moment."), err)
	}
	now := d.now()
	var active, ended []picket.Suppression
	hidden := 0
	for _, s := range all {
		// A rule of every account (no account) is not one of the
		// person's accounts either.
		if !scope.Allows(s.Account) {
			hidden++
			continue
		}
		end := s.Lifted
		if end.IsZero() && !s.Until.IsZero() && !now.Before(s.Until) {
			end = s.Until
		}
		switch {
		case end.IsZero():
			active = append(active, s)
		case now.Sub(end) <= recentlyLifted:
			ended = append(ended, s)
		}
	}
	slices.SortStableFunc(active, func(a, b picket.Suppression) int { return a.Until.Compare(b.Until) })
	slices.SortStableFunc(ended, func(a, b picket.Suppression) int { return b.Created.Compare(a.Created) })
	render := func(header string, rules []picket.Suppression, inForce bool) string {
		lines := []string{header}
		for _, s := range rules {
			who := escape(cmp.Or(s.Actor.Name, s.Actor.ID, "unknown"))
			line := fmt.Sprintf("• %s — by %s on %s: %s", code(s.ID), who, stamp(s.Created), escape(cmp.Or(s.Reason, "no reason given")))
			switch {
			case inForce && s.Until.IsZero():
				line += "\n    until lifted"
			case inForce:
				line += "\n    until " + stamp(s.Until)
			case !s.Lifted.IsZero():
				line += "\n    lifted " + stamp(s.Lifted)
			default:
				line += "\n    expired " + stamp(s.Until)
			}
			line += " · matches " + matchText(s)
			if n := len(s.Remote); n > 0 {
				line += fmt.Sprintf(" · %d AWS rule(s)", n)
			}
			lines = append(lines, line)
		}
		if len(rules) == 0 {
			lines = append(lines, "none")
		}
		return strings.Join(lines, "\n")
	}
	sections := []string{
		render("*In force*", active, true),
		render("*Lifted or expired in the last 7 days*", ended, false),
	}
	if !scope.All {
		sections = append(sections, fmt.Sprintf("_Only rules of accounts %s are shown; %d rules of other accounts or of every account are not._", scope.names(), hidden))
	}
	return Reply{Title: fmt.Sprintf("Suppressions: %d in force", len(active)), Sections: sections}, nil
}

// matchText says what a suppression matches.
func matchText(s picket.Suppression) string {
	if s.OneFinding {
		// It holds the expiry of one suppressed finding; triage matches
		// nothing with it.
		return "only finding " + code(s.FindingKey)
	}
	var parts []string
	add := func(label, v string) {
		if v != "" {
			parts = append(parts, label+" "+code(v))
		}
	}
	add("source", string(s.Source))
	add("type", s.Type)
	add("account", s.Account)
	add("region", s.Region)
	add("resource", s.ResourceID)
	if len(parts) == 0 {
		return "every finding"
	}
	return strings.Join(parts, ", ")
}

func runDigest(ctx context.Context, d Deps, _ picket.Actor, scope Scope, args []string) (Reply, error) {
	if len(args) > 0 {
		return Reply{}, usagef("digest takes no arguments")
	}
	if !scope.All && (len(d.DigestAccounts) == 0 || slices.ContainsFunc(d.DigestAccounts, func(a string) bool { return !scope.Allows(a) })) {
		what := "every account"
		if len(d.DigestAccounts) > 0 {
			what = "accounts " + Scope{Accounts: d.DigestAccounts}.names()
		}
		return Reply{}, &outsideError{text: fmt.Sprintf("The digest covers %s, more than your role does (accounts %s).", what, scope.names())}
	}
	if d.DigestPreview == nil {
		return Reply{
			Title:    "Digest preview",
			Sections: []string{"No daily digest is configured (`digests` in Picket's configuration), so there is nothing to preview. `" + Slash + " posture` shows the posture and `" + Slash + " suppressions` the rules in force."},
		}, nil
	}
	txt, err := d.DigestPreview(ctx)
	if err != nil {
		return Reply{}, err
	}
	// The digest as it would be posted now, not posted; a code block keeps
	// its columns.
	var sections []string
	for _, part := range cutSection(strings.TrimRight(txt, "\n"), MaxSectionChars-6) { // room for the fences
		sections = append(sections, "```"+escape(part)+"```")
	}
	return Reply{Title: "Digest preview (not posted)", Sections: sections}, nil
}

// dlqLine says what waits in the dead-letter queue.
func dlqLine(s Status) string {
	switch {
	case !s.HasDLQ:
		return "*Dead-letter queue:* none found (no redrive policy on the queue)"
	case s.DLQDepth > 0:
		return fmt.Sprintf("*Dead-letter queue:* :warning: %d messages — findings that failed every attempt; see README, Operating Picket", s.DLQDepth)
	default:
		return "*Dead-letter queue:* empty"
	}
}

func runStatus(ctx context.Context, d Deps, _ picket.Actor, scope Scope, args []string) (Reply, error) {
	if len(args) > 0 {
		return Reply{}, usagef("status takes no arguments")
	}
	if d.Status == nil {
		return Reply{}, unavailable("The health report")
	}
	s := d.Status(ctx)
	if !scope.All && s.AWSError != "" {
		// AWS error text names accounts and principals; a person limited
		// to some accounts sees only that AWS did not answer.
		s.AWSError = "details in Picket's log"
	}
	if !scope.All {
		// Channels' backlogs mix accounts: only their total is shown.
		var total ChannelBacklog
		for _, b := range s.Backlog {
			total.Pending += b.Pending
			total.Groups += b.Groups
			if !b.Oldest.IsZero() && (total.Oldest.IsZero() || b.Oldest.Before(total.Oldest)) {
				total.Oldest = b.Oldest
			}
		}
		s.Backlog = nil
		if total.Pending > 0 || total.Groups > 0 {
			total.Channel = "Slack (all channels)"
			s.Backlog = []ChannelBacklog{total}
		}
	}
	now := d.now()
	health := func(ok bool, why string) string {
		if ok {
			return ":white_check_mark: reachable"
		}
		return ":x: unreachable — " + escape(cmp.Or(why, "no reason given"))
	}
	last := "none since start"
	if !s.LastMessageAt.IsZero() {
		last = stamp(s.LastMessageAt) + " (" + ago(now, s.LastMessageAt) + ")"
	}
	lines := []string{
		fmt.Sprintf("*Queue:* %d waiting, %d in flight · *oldest message:* %s", s.QueueDepth, s.InFlight, duration(s.OldestMessageAge)),
		dlqLine(s),
		"*Last message handled:* " + last,
		"*Slack:* " + health(s.SlackOK, s.SlackError),
		"*AWS:* " + health(s.AWSOK, s.AWSError),
		"*Version:* " + code(cmp.Or(s.Version, "unknown")),
	}
	waiting := 0
	for _, b := range s.Backlog {
		if b.Pending == 0 && b.Groups == 0 {
			continue
		}
		waiting++
		line := fmt.Sprintf("*Waiting for %s:* %d findings, %d group messages", channelRef(b.Channel), b.Pending, b.Groups)
		if !b.Oldest.IsZero() {
			line += " · oldest queued " + ago(now, b.Oldest)
		}
		lines = append(lines, line)
	}
	if waiting == 0 {
		lines = append(lines, "*Outbox:* empty — every finding is shown in Slack")
	}
	title := "Picket status: healthy"
	if !s.SlackOK || !s.AWSOK || s.DLQDepth > 0 {
		title = "Picket status: degraded"
	}
	return Reply{Title: title, Sections: []string{strings.Join(lines, "\n")}}, nil
}
