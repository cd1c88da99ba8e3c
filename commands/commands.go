package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	picket "github.com/picketsec/picket"
)

// Slash is the slash command as people type it; usage lines and examples
// start with it.
const Slash = "/picket"

// Reply is a command's answer, free of Slack types.
type Reply struct {
	// Public is true when the person added the word "public": the answer
	// is posted in the channel instead of only to them.
	Public bool
	// Title is plain text (it is rendered as a header, which Slack never
	// parses for mentions or links); a renderer that uses it as mrkdwn
	// must escape it.
	Title string
	// Sections are Slack mrkdwn, one block each; every value from data is
	// already escaped (&, <, >).
	Sections []string
}

// FindingReader reads the finding index. store.DB implements it.
type FindingReader interface {
	// Finding returns the record for a finding key.
	Finding(key string) (picket.FindingRecord, bool, error)
	// FindingByID returns the record for a source id (GuardDuty id or
	// ASFF Id).
	FindingByID(id string) (picket.FindingRecord, bool, error)
	// Findings calls fn for every stored finding, stopping at the first
	// error fn returns.
	Findings(fn func(picket.FindingRecord) error) error
}

// ActionReader reads the actions taken on a finding. store.DB implements
// it.
type ActionReader interface {
	ActionsForFinding(findingKey string) ([]picket.ActionRecord, error)
}

// AuditReader reads the newest audit entries, oldest first. store.DB
// implements it.
type AuditReader interface {
	RecentAudit(n int) ([]picket.AuditEntry, error)
}

// Deps are what the commands read and ask. A nil dependency makes the
// commands that need it answer that they are not available.
type Deps struct {
	Findings     FindingReader
	Actions      ActionReader
	Audit        AuditReader
	Suppressions picket.SuppressionStore
	Posture      picket.PostureChecker
	// Enricher answers user and instance: it is given a finding with one
	// iam_user or ec2_instance resource and the account and region.
	Enricher picket.Enricher
	// Region is where instance look-ups go when neither the command nor a
	// stored finding names the instance's region.
	Region string
	// Status reports the bot's health.
	Status func(ctx context.Context) Status
	// DigestPreview builds the daily digest now, as plain text, without
	// posting it; nil when no digest is configured.
	DigestPreview func(ctx context.Context) (string, error)
	// Auto is the kill switch of automatic response rules; nil when no
	// rule is configured.
	Auto AutoControl
	// Authorize reports whether actor may run the command name. Nil
	// refuses every command: with no roles nobody may.
	Authorize func(actor picket.Actor, command string) bool
	// Scope returns the accounts whose data actor may see through the
	// command name: those of the roles that let them run it. Every command
	// keeps to it: lists leave other accounts out and a look-up of
	// something in another account is refused. Nil means no role is
	// limited to accounts.
	Scope func(actor picket.Actor, command string) Scope
	// DigestAccounts are the accounts the digest preview covers; empty
	// means every account, which only a person whose scope is every
	// account may preview.
	DigestAccounts []string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives the details of failures; discarded when nil.
	Logger *slog.Logger
}

// Scope is the accounts whose data a person may see through a command.
type Scope struct {
	// All is true when a role that grants the command is not limited to
	// accounts.
	All bool
	// Accounts are the accounts the granting roles name, when All is
	// false; none means the person sees no account's data.
	Accounts []string
}

// Allows reports whether the scope covers account. An unknown account
// ("") is covered only by a scope of every account.
func (s Scope) Allows(account string) bool {
	return s.All || account != "" && slices.Contains(s.Accounts, account)
}

// names lists the scope's accounts for a reply.
func (s Scope) names() string {
	if len(s.Accounts) == 0 {
		return "none"
	}
	names := make([]string, len(s.Accounts))
	for i, a := range s.Accounts {
		names[i] = code(a)
	}
	return strings.Join(names, ", ")
}

// Status is the bot's health, as the status command shows it.
type Status struct {
	// QueueDepth and InFlight are the SQS queue's visible and in-flight
	// messages; OldestMessageAge is the age of its oldest message (the
	// lag).
	QueueDepth, InFlight int
	OldestMessageAge     time.Duration
	// HasDLQ says whether the queue has a dead-letter queue Picket polls;
	// DLQDepth is its visible messages (findings that failed every
	// delivery attempt).
	HasDLQ   bool
	DLQDepth int
	// LastMessageAt is when the last queue message was handled; zero when
	// none was since start.
	LastMessageAt time.Time
	// SlackOK and AWSOK say whether Slack and AWS answered the last health
	// probe; SlackError and AWSError say why not.
	SlackOK, AWSOK       bool
	SlackError, AWSError string
	Version              string
	// Backlog is what waits in the outbox for Slack, per channel.
	Backlog []ChannelBacklog
}

// ChannelBacklog is what waits in the outbox for one channel: findings to
// post or update on their own, group messages behind their members, and
// when the oldest was queued.
type ChannelBacklog struct {
	Channel string
	Pending int
	Groups  int
	Oldest  time.Time
}

// Definition is one command: a row of the table Definitions returns.
type Definition struct {
	// Name is the first word of the command.
	Name string
	// Usage is the command's syntax, e.g. "/picket audit [n]".
	Usage string
	// Help says what the command answers, in one or two sentences.
	Help     string
	Examples []string
	// Run answers the command; args are the words after the name, with
	// "public" removed. It shows only data of the accounts scope allows.
	// An error made by usagef makes Run show the usage; one made by
	// outside or nameAccount, a refusal.
	Run func(ctx context.Context, d Deps, actor picket.Actor, scope Scope, args []string) (Reply, error)
}

// Definitions returns the commands, one row each, in the order help lists
// them.
func Definitions() []Definition {
	return []Definition{
		{
			Name: "help", Usage: Slash + " help [command]",
			Help:     "Lists every command with its usage and examples, or explains one command.",
			Examples: []string{Slash + " help", Slash + " help posture"},
			Run:      runHelp,
		},
		{
			Name: "posture", Usage: Slash + " posture [account]",
			Help:     "Runs every posture check on an account (the one Picket runs in by default): the score, then the failures by section with the failing resources and how to fix them.",
			Examples: []string{Slash + " posture", Slash + " posture 123456789012"},
			Run:      runPosture,
		},
		{
			Name: "check", Usage: Slash + " check <id>|all [account]",
			Help:     "Runs one posture check, or all of them, and shows each in full: why it matters, the evidence, the failing resources and the remediation.",
			Examples: []string{Slash + " check iam.root-mfa", Slash + " check all 123456789012"},
			Run:      runCheck,
		},
		{
			Name: "finding", Usage: Slash + " finding <key|id>",
			Help:     "Shows a finding Picket has seen, by its Picket key or its GuardDuty / Security Hub id: severity, resources, status, when it was seen, where it was posted and the actions taken on it.",
			Examples: []string{Slash + " finding 3f2a9c0d1e4b5a6978c0d1e2", Slash + " finding 86b4c5a2f0e0b3a1c2d3e4f5a6b7c8d9"},
			Run:      runFinding,
		},
		{
			Name: "user", Usage: Slash + " user <name> [account]",
			Help:     "Describes an IAM user: access keys with their age and last use, MFA, groups and policies; then the recent findings naming the user and the actions taken on them.",
			Examples: []string{Slash + " user alice", Slash + " user deploy-bot 123456789012"},
			Run:      runUser,
		},
		{
			Name: "instance", Usage: Slash + " instance <id> [account] [region]",
			Help:     "Describes an EC2 instance: name, owner, state, network, security groups, instance profile; then the recent findings naming it and the actions taken on them.",
			Examples: []string{Slash + " instance i-0123456789abcdef0", Slash + " instance i-0123456789abcdef0 123456789012 eu-west-1"},
			Run:      runInstance,
		},
		{
			Name: "audit", Usage: Slash + " audit [n]",
			Help:     fmt.Sprintf("Shows the newest audit entries, newest first (%d by default, at most %d): time, who, what happened, the action, its target and outcome.", defaultAudit, maxAudit),
			Examples: []string{Slash + " audit", Slash + " audit 25"},
			Run:      runAudit,
		},
		{
			Name: "suppressions", Usage: Slash + " suppressions",
			Help:     "Lists the suppression rules in force and those lifted or expired in the last 7 days: who made them, why, until when and what they match.",
			Examples: []string{Slash + " suppressions"},
			Run:      runSuppressions,
		},
		{
			Name: "digest", Usage: Slash + " digest",
			Help:     "Previews the daily posture digest.",
			Examples: []string{Slash + " digest"},
			Run:      runDigest,
		},
		{
			Name: "status", Usage: Slash + " status",
			Help:     "Shows Picket's health: queue depth and lag, the last message handled, and whether Slack and AWS answer.",
			Examples: []string{Slash + " status"},
			Run:      runStatus,
		},
		{
			Name: "auto", Usage: Slash + " auto [status|on|off]",
			Help:     "Shows whether automatic response rules run their actions, and each rule with its budget; off stops every automatic run at once (matching findings get a notice with Run buttons instead), on resumes them. Switching is audited and survives restarts.",
			Examples: []string{Slash + " auto", Slash + " auto off"},
			Run:      runAuto,
		},
	}
}

// lookup returns the definition named name (in any letter case).
func lookup(name string) (Definition, bool) {
	for _, def := range Definitions() {
		if strings.EqualFold(def.Name, name) {
			return def, true
		}
	}
	return Definition{}, false
}

// usageError is a command's complaint about its arguments; Run answers it
// with the command's usage and an example.
type usageError struct{ reason string }

func (e *usageError) Error() string { return e.reason }

// usagef returns a usageError; the reason is escaped when shown.
func usagef(format string, args ...any) error {
	return &usageError{reason: fmt.Sprintf(format, args...)}
}

// Run answers the text a person typed after the slash command. It parses
// the words (double or single quotes group words), takes a trailing
// "public" as the wish to answer in the channel, authorizes actor, and
// runs the command within the accounts of actor's scope. Unknown commands get help with the closest command,
// bad arguments get the usage and an example, and failures get a sentence
// from picket.ErrorMessage. Refusals, usage and failures are always
// private.
func Run(ctx context.Context, d Deps, actor picket.Actor, text string) Reply {
	words := Fields(text)
	public := false
	if n := len(words); n > 0 && strings.EqualFold(words[n-1], "public") {
		public, words = true, words[:n-1]
	}
	name := "help"
	var args []string
	if len(words) > 0 {
		name, args = strings.ToLower(words[0]), words[1:]
	}
	def, ok := lookup(name)
	if !ok {
		return unknown(words[0])
	}
	log := d.logger()
	if d.Authorize == nil || !d.Authorize(actor, def.Name) {
		log.Info("slash command refused", "command", def.Name, "user", actor.ID)
		return Reply{
			Title:    "Not allowed",
			Sections: []string{fmt.Sprintf("You are not allowed to run `%s %s`. Ask a Picket administrator to add you to a role.", Slash, def.Name)},
		}
	}
	scope := Scope{All: true}
	if d.Scope != nil {
		scope = d.Scope(actor, def.Name)
	}
	r, err := def.Run(ctx, d, actor, scope, args)
	if err != nil {
		var use *usageError
		if errors.As(err, &use) {
			return usage(def, use.reason)
		}
		var out *outsideError
		if errors.As(err, &out) {
			log.Info("slash command outside the person's accounts", "command", def.Name, "user", actor.ID)
			return Reply{Title: "Not allowed", Sections: []string{out.text}}
		}
		log.Warn("slash command failed", "command", def.Name, "user", actor.ID, "code", picket.ErrorCode(err), "err", err)
		return Reply{
			Title:    "Picket could not answer " + Slash + " " + def.Name,
			Sections: []string{escape(picket.ErrorMessage(err))},
		}
	}
	r.Public = public
	return r
}

// outsideError refuses a look-up of data in an account the person's scope
// does not cover; text is Slack mrkdwn, already escaped.
type outsideError struct{ text string }

func (e *outsideError) Error() string { return "outside the person's accounts: " + e.text }

// outside refuses account (unknown when "") for scope, naming the accounts
// scope covers; what says what was asked for, escaped.
func outside(scope Scope, what, account string) error {
	where := "an account"
	if account != "" {
		where = "account " + code(account)
	}
	return &outsideError{text: fmt.Sprintf("%s is in %s your role does not cover. You may see accounts %s.", what, where, scope.names())}
}

// nameAccount refuses a command that names no account when the default
// one is not known to be in scope.
func nameAccount(scope Scope, cmd, example string) error {
	hint := ""
	if len(scope.Accounts) > 0 {
		hint = fmt.Sprintf(" For example: `%s %s %s`.", Slash, cmd, escape(strings.ReplaceAll(example, "ACCOUNT", scope.Accounts[0])))
	}
	return &outsideError{text: fmt.Sprintf("Your role covers only accounts %s: name one of them.%s", scope.names(), hint)}
}

// usage answers bad arguments with the command's usage and its first
// example.
func usage(def Definition, reason string) Reply {
	var b strings.Builder
	if reason != "" {
		b.WriteString(escape(sentence(reason)) + "\n")
	}
	fmt.Fprintf(&b, "Usage: `%s`", escape(def.Usage))
	if len(def.Examples) > 0 {
		fmt.Fprintf(&b, "\nExample: `%s`", escape(def.Examples[len(def.Examples)-1]))
	}
	return Reply{Title: "Usage of " + Slash + " " + def.Name, Sections: []string{b.String()}}
}

// unknown answers an unknown command with help and, when one is close,
// the command the person probably meant.
func unknown(word string) Reply {
	r := helpAll()
	r.Title = "Unknown command"
	first := fmt.Sprintf("Picket has no command `%s`.", escape(clip(word, 40)))
	if s, ok := suggest(word); ok {
		first += fmt.Sprintf(" Did you mean `%s`?", s)
	}
	r.Sections = append([]string{first}, r.Sections...)
	return r
}

// suggest returns the command closest to word by edit distance, or the
// only command word is a prefix of, when it is close enough to be a
// likely typo.
func suggest(word string) (string, bool) {
	word = strings.ToLower(word)
	best, bestDist := "", -1
	var prefixed []string
	for _, def := range Definitions() {
		if word != "" && strings.HasPrefix(def.Name, word) {
			prefixed = append(prefixed, def.Name)
		}
		if d := distance(word, def.Name); bestDist < 0 || d < bestDist {
			best, bestDist = def.Name, d
		}
	}
	if limit := max(2, utf8.RuneCountInString(word)/2); bestDist <= limit {
		return best, true
	}
	if len(prefixed) == 1 {
		return prefixed[0], true
	}
	return "", false
}

// distance is the Levenshtein edit distance between a and b, in runes.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// Fields splits text into words at white space. Double quotes, single
// quotes and the curly quotes Slack clients type group words; the quotes
// are removed. An unclosed quote runs to the end of the text.
func Fields(text string) []string {
	var (
		words []string
		cur   strings.Builder
		inTok bool
		quote rune // the closing quote awaited, 0 outside quotes
	)
	closing := map[rune]rune{'"': '"', '\'': '\'', '“': '”', '‘': '’', '”': '”', '’': '’'}
	for _, r := range text {
		switch {
		case quote != 0:
			if r == quote || (quote == '”' && r == '“') {
				quote = 0
				continue
			}
			cur.WriteRune(r)
		case closing[r] != 0:
			quote, inTok = closing[r], true
		case unicode.IsSpace(r):
			if inTok {
				words = append(words, cur.String())
				cur.Reset()
				inTok = false
			}
		default:
			cur.WriteRune(r)
			inTok = true
		}
	}
	if inTok {
		words = append(words, cur.String())
	}
	return words
}

func (d Deps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

func (d Deps) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// unavailable is the error of a command whose dependency is not wired.
func unavailable(what string) error {
	return picket.Errorf(picket.EUNAVAILABLE, "%s is not available in this Picket.", what)
}
