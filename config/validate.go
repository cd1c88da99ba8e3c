package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/picketsec/picket"
)

// Problems is everything wrong with a configuration, one sentence each.
// Load and Validate return it as their error.
type Problems struct {
	List []string
}

// Error returns a count header and the problems one per line:
// "config: 2 problems:\n- ...\n- ...".
func (p *Problems) Error() string {
	var b strings.Builder
	word := "problems"
	if len(p.List) == 1 {
		word = "problem"
	}
	fmt.Fprintf(&b, "config: %d %s:", len(p.List), word)
	for _, s := range p.List {
		b.WriteString("\n- ")
		b.WriteString(s)
	}
	return b.String()
}

// sources says where values came from, so that a problem names the file
// line or the environment variable to fix.
type sources struct {
	lines map[string]int    // key -> line in the YAML file
	env   map[string]string // key -> environment variable that set it
	// failed marks secrets that were given but could not be loaded. They
	// count as given in the checks between secrets, so that one problem
	// (a missing file) is not reported again as another (a missing token).
	failed map[string]bool
	// files maps a secret read from a file to the file's path.
	files map[string]string
}

// label returns key with where its value came from: "line 7: ingest.workers"
// or "log.level (from PICKET_LOG_LEVEL)", or just the key for a default. A
// key missing from a list item ("routes[2].channel") takes the item's line.
func (s sources) label(key string) string {
	if v, ok := s.env[key]; ok {
		return key + " (from " + v + ")"
	}
	l, ok := s.lines[key]
	if i := strings.LastIndex(key, "."); !ok && i > 0 && strings.HasSuffix(key[:i], "]") {
		l, ok = s.lines[key[:i]]
	}
	if ok {
		return fmt.Sprintf("line %d: %s", l, key)
	}
	return key
}

// Validate checks the configuration and returns a *Problems listing every
// problem at once, or nil. Missing Slack tokens and a missing queue URL are
// not problems: Picket then runs offline.
func (c Config) Validate() error {
	if ps := validate(c, sources{}); len(ps) > 0 {
		return &Problems{List: ps}
	}
	return nil
}

type checker struct {
	src      sources
	problems []string
}

func (v *checker) add(key, format string, args ...any) {
	v.problems = append(v.problems, v.src.label(key)+": "+fmt.Sprintf(format, args...))
}

var (
	accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	channelIDPattern = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)
	userGroupPattern = regexp.MustCompile(`^S[A-Z0-9]{2,}$`)
	teamIDPattern    = regexp.MustCompile(`^[TE][A-Z0-9]{2,}$`)
	appIDPattern     = regexp.MustCompile(`^A[A-Z0-9]{2,}$`)
)

func validate(c Config, src sources) []string {
	v := &checker{src: src}
	v.slack(c)
	v.aws(c.AWS)
	v.ingest(c.Ingest)
	v.delivery(c.Delivery)
	v.enrich(c.Enrich)
	v.routes(c.Routes)
	v.roles(c.Roles)
	v.responses(c.Responses)
	v.digests(c.Digests)
	v.automation(c.Automation)
	if c.DataDir == "" {
		v.add("data_dir", "required: the directory that holds the database")
	}
	if c.HTTPEnabled() {
		v.addr("http_addr", c.HTTPAddr)
	}
	v.audit(c)
	v.store(c.Store)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("log.level", "%q is not a level (want debug, info, warn or error)", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		v.add("log.format", "%q is not a format (want json or text)", c.Log.Format)
	}
	return v.problems
}

func (v *checker) slack(c Config) {
	s := c.Slack
	modeOK := s.Mode == ModeSocket || s.Mode == ModeHTTP
	if !modeOK {
		v.add("slack.mode", "%q is not a mode (want socket or http)", s.Mode)
	}
	// Token problems never quote the token.
	if s.BotToken != "" && !strings.HasPrefix(s.BotToken.Reveal(), "xoxb-") {
		v.add("slack.bot_token", "is not a bot token (want one starting with xoxb-)")
	}
	if s.AppToken != "" && !strings.HasPrefix(s.AppToken.Reveal(), "xapp-") {
		v.add("slack.app_token", "is not an app-level token (want one starting with xapp-)")
	}
	bot := v.given("slack.bot_token", s.BotToken)
	app := v.given("slack.app_token", s.AppToken)
	sign := v.given("slack.signing_secret", s.SigningSecret)
	switch {
	case !bot && (app || sign):
		v.add("slack.bot_token", "not set, but slack.app_token or slack.signing_secret is: set SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE, or set none of them to run offline")
	case bot && s.Mode == ModeSocket && !app:
		v.add("slack.app_token", "socket mode needs an app-level token (xapp-...): set SLACK_APP_TOKEN or SLACK_APP_TOKEN_FILE, or use slack.mode http")
	case bot && s.Mode == ModeHTTP:
		if !sign {
			v.add("slack.signing_secret", "http mode needs the signing secret: set SLACK_SIGNING_SECRET or SLACK_SIGNING_SECRET_FILE")
		}
		switch {
		case s.HTTPAddr == "" || s.HTTPAddr == "off":
			v.add("slack.http_addr", "slack.mode http needs a listen address for Slack requests (PICKET_SLACK_HTTP_ADDR)")
		case c.HTTPEnabled() && s.HTTPAddr == c.HTTPAddr:
			v.add("slack.http_addr", "%q is also http_addr: Slack requests get their own listener, so that health and metrics are not exposed with them", s.HTTPAddr)
		default:
			v.addr("slack.http_addr", s.HTTPAddr)
		}
	}
	if s.TeamID != "" && !teamIDPattern.MatchString(s.TeamID) {
		v.add("slack.team_id", "%q is not a Slack workspace id (T...) or organization id (E...)", s.TeamID)
	}
	if s.AppID != "" && !appIDPattern.MatchString(s.AppID) {
		v.add("slack.app_id", "%q is not a Slack app id (A...)", s.AppID)
	}
	if s.APIURL != "" {
		if v.url("slack.api_url", s.APIURL) && !strings.HasSuffix(s.APIURL, "/") {
			v.add("slack.api_url", "must end with /")
		}
	}
	v.channel("slack.default_channel", s.DefaultChannel)
	if d := s.MessageInterval.Duration; d < 0 || d > 10*time.Second {
		v.add("slack.message_interval", "%s is out of range (0s to 10s)", d)
	}
	if _, err := picket.ParseSeverity(s.DefaultMinSeverity); err != nil {
		v.add("slack.default_min_severity", "%v", err)
	}
}

// minAuditKey is the shortest audit key accepted: 32 characters, as many
// bytes as the HMAC-SHA-256 output ("openssl rand -hex 32" gives 64).
const minAuditKey = 32

// audit checks the audit key's length and that it is not kept on the data
// volume it protects.
func (v *checker) audit(c Config) {
	if k := c.Audit.Key; k != "" && len(k.Reveal()) < minAuditKey {
		v.add("audit.key", "is %d characters; an audit key needs at least %d (e.g. openssl rand -hex 32)", len(k.Reveal()), minAuditKey)
	}
	if f := v.src.files["audit.key"]; f != "" && c.DataDir != "" && inside(f, c.DataDir) {
		v.add("audit.key", "the key file %s is inside data_dir %s: whoever can rewrite the audit trail could read the key; keep it on another volume or secret mount", f, c.DataDir)
	}
	if d := c.Audit.HeadInterval.Duration; d < 0 {
		v.add("audit.head_interval", "%s is negative", d)
	}
}

// inside reports whether path lies in directory dir (both made absolute).
func inside(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// given reports whether a secret was given, even if it could not be loaded.
func (v *checker) given(key string, s Secret) bool {
	return s != "" || v.src.failed[key]
}

func (v *checker) aws(a AWS) {
	if a.Region != "" && !regionPattern.MatchString(a.Region) {
		v.add("aws.region", "%q is not an AWS region code (such as eu-west-1)", a.Region)
	}
	if a.EndpointURL != "" {
		v.url("aws.endpoint_url", a.EndpointURL)
	}
	if a.QueueURL != "" {
		v.url("aws.queue_url", a.QueueURL)
	}
	if a.TopicARN != "" && !topicARNPattern.MatchString(a.TopicARN) {
		v.add("aws.topic_arn", "%q is not an SNS topic ARN", a.TopicARN)
	}
}

func (v *checker) ingest(in Ingest) {
	if in.Workers < 1 || in.Workers > 64 {
		v.add("ingest.workers", "%d is out of range (1 to 64)", in.Workers)
	}
	if in.MaxMessages < 1 || in.MaxMessages > 10 {
		v.add("ingest.max_messages", "%d is out of range (1 to 10, the SQS limit)", in.MaxMessages)
	}
	v.seconds("ingest.wait_time", in.WaitTime, 0, 20*time.Second, "the SQS limit")
	v.seconds("ingest.visibility_timeout", in.VisibilityTimeout, time.Second, 12*time.Hour, "the SQS limits")
	if in.ProcessedTTL.Duration <= 0 {
		v.add("ingest.processed_ttl", "%v must be positive", in.ProcessedTTL)
	}
	if d := in.ReconcileInterval.Duration; d != 0 && (d < time.Minute || d > 24*time.Hour) {
		v.add("ingest.reconcile_interval", "%v is out of range (0 to turn it off, or 1m to 24h)", in.ReconcileInterval)
	}
}

func (v *checker) delivery(d Delivery) {
	if d.GroupMin < 2 || d.GroupMin > 1000 {
		v.add("delivery.group_min", "%d is out of range (2 to 1000)", d.GroupMin)
	}
	switch sev, err := picket.ParseSeverity(d.GroupMaxSeverity); {
	case err != nil:
		v.add("delivery.group_max_severity", "%q is not a severity (want low, medium or high)", d.GroupMaxSeverity)
	case sev == picket.SeverityCritical:
		v.add("delivery.group_max_severity", "critical findings are never folded into groups (want low, medium or high)")
	}
	if w := d.GroupWindow.Duration; w < time.Minute || w > 24*time.Hour {
		v.add("delivery.group_window", "%v is out of range (1m to 24h)", d.GroupWindow)
	}
	if u := d.GroupUpdateInterval.Duration; u < time.Second || u > 10*time.Minute {
		v.add("delivery.group_update_interval", "%v is out of range (1s to 10m)", d.GroupUpdateInterval)
	}
	if d.GroupListSize < 5 || d.GroupListSize > 45 {
		v.add("delivery.group_list_size", "%d is out of range (5 to 45: one thread reply holds at most 50 blocks)", d.GroupListSize)
	}
}

// seconds checks that d is whole seconds between lo and hi, as SQS takes it.
func (v *checker) seconds(key string, d Duration, lo, hi time.Duration, why string) {
	switch {
	case d.Duration < lo || d.Duration > hi:
		v.add(key, "%v is out of range (%v to %v, %s)", d, lo, hi, why)
	case d.Duration%time.Second != 0:
		v.add(key, "%v is not a whole number of seconds", d)
	}
}

func (v *checker) enrich(e Enrich) {
	if e.Budget.Duration <= 0 || e.Budget.Duration > 30*time.Second {
		v.add("enrich.budget", "%v is out of range (more than 0, at most 30s)", e.Budget)
	}
	if e.CacheTTL.Duration < 0 {
		v.add("enrich.cache_ttl", "%v must not be negative (0 disables the cache)", e.CacheTTL)
	}
	ids := make([]string, 0, len(e.AccountAliases))
	for id := range e.AccountAliases {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		key := "enrich.account_aliases." + id
		if !accountIDPattern.MatchString(id) {
			v.add(key, "%q is not a 12-digit account id", id)
		}
		if strings.TrimSpace(e.AccountAliases[id]) == "" {
			v.add(key, "the alias is empty")
		}
	}
}

func (v *checker) routes(routes []Route) {
	seen := map[string]int{}
	for i, r := range routes {
		p := fmt.Sprintf("routes[%d]", i)
		switch first, dup := seen[r.Name]; {
		case r.Name == "":
			v.add(p+".name", "required")
		case dup:
			v.add(p+".name", "%q is already the name of routes[%d]", r.Name, first)
		default:
			seen[r.Name] = i
		}
		if _, err := picket.ParseSeverity(r.MinSeverity); err != nil {
			v.add(p+".min_severity", "%v", err)
		}
		for j, s := range r.Sources {
			switch picket.Source(s) {
			case picket.SourceGuardDuty, picket.SourceSecurityHub, picket.SourceInspector, picket.SourceMacie, picket.SourceAccessAnalyzer:
			default:
				v.add(fmt.Sprintf("%s.sources[%d]", p, j), "%q is not a source (want guardduty, securityhub, inspector, macie or access-analyzer)", s)
			}
		}
		for j, a := range r.Accounts {
			if !accountIDPattern.MatchString(a) {
				v.add(fmt.Sprintf("%s.accounts[%d]", p, j), "%q is not a 12-digit account id", a)
			}
		}
		for j, reg := range r.Regions {
			if !regionPattern.MatchString(reg) {
				v.add(fmt.Sprintf("%s.regions[%d]", p, j), "%q is not an AWS region code (such as eu-west-1)", reg)
			}
		}
		for j, pr := range r.Products {
			if strings.TrimSpace(pr) == "" {
				v.add(fmt.Sprintf("%s.products[%d]", p, j), "empty product name")
			}
		}
		for j, t := range r.Types {
			key := fmt.Sprintf("%s.types[%d]", p, j)
			if t == "" {
				v.add(key, "empty pattern")
			}
		}
		if r.Channel == "" {
			v.add(p+".channel", "required")
		} else {
			v.channel(p+".channel", r.Channel)
		}
		if r.MentionCritical != "" && !userGroupPattern.MatchString(r.MentionCritical) {
			v.add(p+".mention_critical", "%q is not a Slack user-group id (S...)", r.MentionCritical)
		}
	}
}

func (v *checker) channel(key, ch string) {
	switch {
	case ch == "":
		v.add(key, "required")
	case !channelIDPattern.MatchString(ch) && !validChannelName(ch):
		v.add(key, "%q is not a Slack channel id (C..., G...) or a #name in lower case", ch)
	}
}

// url checks that s is an absolute http or https URL and reports whether it
// is.
func (v *checker) url(key, s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		v.add(key, "is not a URL: %v", err)
		return false
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Redacted hides a password someone put in the URL.
		v.add(key, "%q is not an absolute http(s) URL", u.Redacted())
		return false
	}
	return true
}

func (v *checker) addr(key, s string) {
	// An empty host (":8080") listens on every interface, which is allowed.
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		v.add(key, "%q is not a host:port address (or \"off\")", s)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(key, "%q has no valid port", s)
	}
}

// validChannelName reports whether s is "#" and a Slack channel name: 1 to
// 80 lower-case letters of any script, digits, "_", "." or "-". (A regexp
// with Unicode classes repeated 80 times compiles to megabytes at start-up;
// this loop does not.)
func validChannelName(s string) bool {
	name, ok := strings.CutPrefix(s, "#")
	if !ok || name == "" || utf8.RuneCountInString(name) > 80 {
		return false
	}
	for _, r := range name {
		switch {
		case unicode.IsLower(r), unicode.Is(unicode.Lo, r), unicode.IsNumber(r), r == '_', r == '.', r == '-':
		default:
			return false
		}
	}
	return true
}
