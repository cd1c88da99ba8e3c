package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/picketsec/picket"
	"go.yaml.in/yaml/v3"
)

// Config is Picket's whole configuration. Start from Default, or use Load,
// which applies the file and the environment over the defaults and validates.
type Config struct {
	Slack  Slack  `yaml:"slack"`
	AWS    AWS    `yaml:"aws"`
	Ingest Ingest `yaml:"ingest"`
	// Delivery says how the outbox is drained to Slack: grouping of
	// bursts into one message per kind.
	Delivery Delivery `yaml:"delivery"`
	Enrich   Enrich   `yaml:"enrich"`
	// Routes send findings to channels; a finding that matches no route goes
	// to Slack.DefaultChannel.
	Routes []Route `yaml:"routes"`
	// Roles say who may run which response; with no roles nobody may.
	Roles []Role `yaml:"roles"`
	// Responses are the response buttons' guardrails.
	Responses Responses `yaml:"responses"`
	// Digests are the scheduled posture digests; none by default.
	Digests []Digest `yaml:"digests"`
	// Automation holds the automatic response rules and their kill
	// switch.
	Automation Automation `yaml:"automation"`
	// DataDir holds the bbolt database. Env PICKET_DATA_DIR.
	DataDir string `yaml:"data_dir"`
	// HTTPAddr is where the health and metrics server (/healthz, /readyz,
	// /metrics) listens; never Slack requests, which have their own
	// listener (Slack.HTTPAddr). "" or "off" disables it. Env
	// PICKET_HTTP_ADDR.
	HTTPAddr string `yaml:"http_addr"`
	Log      Log    `yaml:"log"`
	// Audit configures the audit trail's key and head export.
	Audit Audit `yaml:"audit"`
	// Store picks where state is kept: the bbolt file in DataDir
	// (default) or a DynamoDB table shared by several replicas.
	Store Store `yaml:"store"`
}

// Audit configures the audit trail.
type Audit struct {
	// Key seals audit entries with HMAC-SHA-256, so that someone who can
	// write the data volume but does not hold the key cannot rewrite the
	// trail unnoticed. At least 32 characters, kept outside data_dir. Env
	// PICKET_AUDIT_KEY or PICKET_AUDIT_KEY_FILE; file key key_file.
	Key Secret `yaml:"key"`
	// HeadInterval is how often the newest entry's sequence number and
	// hash are logged ("audit chain head"), so that a later check can tell
	// whether the trail was cut back. Default 15m; 0 logs it only at start
	// and stop.
	HeadInterval Duration `yaml:"head_interval"`
}

// Slack configures the Slack connection.
type Slack struct {
	// BotToken (xoxb-...) is the Web API token. Env SLACK_BOT_TOKEN or
	// SLACK_BOT_TOKEN_FILE; file key bot_token_file.
	BotToken Secret `yaml:"bot_token"`
	// AppToken (xapp-...) opens Socket Mode. Env SLACK_APP_TOKEN or
	// SLACK_APP_TOKEN_FILE; file key app_token_file.
	AppToken Secret `yaml:"app_token"`
	// SigningSecret verifies requests in http mode. Env SLACK_SIGNING_SECRET
	// or SLACK_SIGNING_SECRET_FILE; file key signing_secret_file.
	SigningSecret Secret `yaml:"signing_secret"`
	// APIURL points the Slack client elsewhere (a test server). It ends with
	// "/" (Load adds it). "" means slack-go's default. Env
	// PICKET_SLACK_API_URL.
	APIURL string `yaml:"api_url"`
	// Mode is "socket" (default) or "http". Env PICKET_SLACK_MODE.
	Mode string `yaml:"mode"`
	// HTTPAddr is where Slack's signed requests are served in http mode
	// (/slack/interactions, /slack/commands and nothing else), apart from
	// health and metrics. Default ":3000". Env PICKET_SLACK_HTTP_ADDR.
	HTTPAddr string `yaml:"http_addr"`
	// TeamID, when set, is the only Slack workspace (T...) or Enterprise
	// Grid organization (E...) whose interactions and commands are
	// answered. Env PICKET_SLACK_TEAM_ID.
	TeamID string `yaml:"team_id"`
	// AppID, when set, is the only Slack app id (A...) whose interactions
	// and commands are answered. Env PICKET_SLACK_APP_ID.
	AppID string `yaml:"app_id"`
	// DefaultChannel receives findings no route matches. Env
	// PICKET_DEFAULT_CHANNEL.
	DefaultChannel string `yaml:"default_channel"`
	// DefaultMinSeverity is the lowest severity posted to DefaultChannel
	// (default "low"); findings below it that no route takes are recorded
	// but not posted.
	DefaultMinSeverity string `yaml:"default_min_severity"`
	// MessageInterval is the least time between two posts or updates to one
	// channel (default 1s, Slack's documented pace; 0 to 10s). Bursts wait
	// for their turn; nothing is dropped.
	MessageInterval Duration `yaml:"message_interval"`
}

// AWS configures the AWS SDK and the queue Picket consumes.
type AWS struct {
	// Region overrides the SDK's default chain. Env AWS_REGION, then
	// AWS_DEFAULT_REGION.
	Region string `yaml:"region"`
	// EndpointURL points every AWS client at an emulator. Env
	// AWS_ENDPOINT_URL.
	EndpointURL string `yaml:"endpoint_url"`
	// QueueURL is the SQS queue of findings. Env PICKET_QUEUE_URL.
	QueueURL string `yaml:"queue_url"`
	// TopicARN is the SNS topic EventBridge publishes findings to; when
	// set, SNS notifications from any other topic are refused. Env
	// PICKET_TOPIC_ARN.
	TopicARN string `yaml:"topic_arn"`
}

// Ingest configures the SQS consumer.
type Ingest struct {
	// Workers is how many messages are processed at once (1 to 64,
	// default 32). Intake never waits on Slack, so more workers mostly
	// mean larger shared commits.
	Workers int `yaml:"workers"`
	// MaxMessages is how many messages one receive asks for (1 to 10).
	MaxMessages int `yaml:"max_messages"`
	// WaitTime is the long-poll wait (0 to 20s, whole seconds).
	WaitTime Duration `yaml:"wait_time"`
	// VisibilityTimeout is the visibility Picket asks for and extends while
	// it works on a message (1s to 12h, whole seconds).
	VisibilityTimeout Duration `yaml:"visibility_timeout"`
	// ProcessedTTL is how long processed message ids are remembered to drop
	// redeliveries.
	ProcessedTTL Duration `yaml:"processed_ttl"`
	// ReconcileInterval is how often the finding index is synced with
	// Security Hub GetFindings (at most 2 requests a second), so findings
	// whose events were lost still count; 0 turns it off. Default 15m.
	ReconcileInterval Duration `yaml:"reconcile_interval"`
}

// Delivery configures how waiting findings reach Slack. Findings are
// committed to an outbox at intake and posted per channel, most severe
// first, at Slack's pace; when several of one type and account wait in one
// channel at once they are folded into one group message, updated in place
// as it grows, with every member listed (with its own actions) in its
// thread. Critical findings are never folded.
type Delivery struct {
	// Grouping turns folding on (default true).
	Grouping bool `yaml:"grouping"`
	// GroupMin is how many findings of one type and account must wait in
	// a channel at once to start a group (2 to 1000, default 3).
	GroupMin int `yaml:"group_min"`
	// GroupMaxSeverity is the highest severity folded: low, medium or high
	// (default high; critical is never folded).
	GroupMaxSeverity string `yaml:"group_max_severity"`
	// GroupWindow is how long after its last new member a group still
	// takes new findings of its kind (1m to 24h, default 15m).
	GroupWindow Duration `yaml:"group_window"`
	// GroupUpdateInterval is the least time between two updates of a group
	// message; changes in between are shown together (1s to 10m, default
	// 10s).
	GroupUpdateInterval Duration `yaml:"group_update_interval"`
	// GroupListSize is how many members one thread reply lists, each with
	// its own actions menu (5 to 45, default 40).
	GroupListSize int `yaml:"group_list_size"`
}

// Enrich configures the lookups that add context to findings.
type Enrich struct {
	Enabled bool `yaml:"enabled"`
	// Budget is how long one finding's lookups may take in all (at most 30s).
	Budget Duration `yaml:"budget"`
	// CacheTTL is how long a lookup result is reused. 0 disables caching.
	CacheTTL Duration `yaml:"cache_ttl"`
	// AccountAliases maps 12-digit account ids to the names people know
	// them by; they take precedence over looked-up aliases.
	AccountAliases map[string]string `yaml:"account_aliases"`
}

// Route sends the findings it matches to a channel. Every non-empty filter
// must match; an empty filter matches anything.
type Route struct {
	// Name identifies the route in logs and in problems; unique, required.
	Name string `yaml:"name"`
	// MinSeverity is the lowest severity routed: informational (default),
	// low, medium, high or critical.
	MinSeverity string `yaml:"min_severity"`
	// Sources is a subset of "guardduty", "securityhub", "inspector",
	// "macie" and "access-analyzer" (the last three are findings those
	// services send directly, not through Security Hub).
	Sources []string `yaml:"sources,omitempty"`
	// Products are product names, matched regardless of case and of the
	// source the finding came through: "Inspector", "Macie", "IAM Access
	// Analyzer", "GuardDuty", "Security Hub", or a partner's product name.
	Products []string `yaml:"products,omitempty"`
	// Accounts are 12-digit AWS account ids.
	Accounts []string `yaml:"accounts,omitempty"`
	// Regions are AWS region codes.
	Regions []string `yaml:"regions,omitempty"`
	// Types are finding-type globs: "*" matches any run of characters,
	// "/" included, and "?" one character ("UnauthorizedAccess:*").
	Types []string `yaml:"types,omitempty"`
	// Channel is a Slack channel id (C..., G...) or #name; required.
	Channel string `yaml:"channel"`
	// MentionCritical is a Slack user-group id (S...) mentioned on Critical
	// findings.
	MentionCritical string `yaml:"mention_critical,omitempty"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info (default), warn or error. Env PICKET_LOG_LEVEL.
	Level string `yaml:"level"`
	// Format is json (default) or text. Env PICKET_LOG_FORMAT.
	Format string `yaml:"format"`
}

// Default returns the configuration Picket runs with when nothing is set:
// offline (no Slack tokens, no queue), HTTP server on 127.0.0.1:8080.
func Default() Config {
	return Config{
		Slack: Slack{
			Mode:               ModeSocket,
			HTTPAddr:           ":3000",
			DefaultChannel:     "#security-alerts",
			DefaultMinSeverity: "low",
			MessageInterval:    Dur(time.Second),
		},
		Ingest: Ingest{
			Workers:           32,
			MaxMessages:       10,
			WaitTime:          Dur(20 * time.Second),
			VisibilityTimeout: Dur(60 * time.Second),
			ProcessedTTL:      Dur(14 * 24 * time.Hour),
			ReconcileInterval: Dur(15 * time.Minute),
		},
		Delivery: Delivery{
			Grouping:            true,
			GroupMin:            3,
			GroupMaxSeverity:    "high",
			GroupWindow:         Dur(15 * time.Minute),
			GroupUpdateInterval: Dur(10 * time.Second),
			GroupListSize:       40,
		},
		Enrich: Enrich{
			Enabled:  true,
			Budget:   Dur(2 * time.Second),
			CacheTTL: Dur(15 * time.Minute),
		},
		Responses: Responses{
			ApprovalTimeout: Dur(30 * time.Minute),
			ProtectedTag:    "picket:protected",
			IsolationGroup:  "picket-isolation",
		},
		DataDir:  "./data",
		HTTPAddr: "127.0.0.1:8080",
		Log:      Log{Level: "info", Format: "json"},
		Audit:    Audit{HeadInterval: Dur(15 * time.Minute)},
		// The seeds' example, documented and off until enabled.
		Automation: Automation{Rules: []AutoRule{ExampleAutoRule()}},
		Store:      Store{Backend: StoreBolt},
	}
}

// Slack modes.
const (
	ModeSocket = "socket"
	ModeHTTP   = "http"
)

// SlackConfigured reports whether a Slack bot token is set. Without one,
// Picket runs offline: it renders alerts but sends nothing to Slack.
func (c Config) SlackConfigured() bool { return c.Slack.BotToken != "" }

// AWSConfigured reports whether a queue URL is set, so that Picket consumes
// findings from SQS.
func (c Config) AWSConfigured() bool { return c.AWS.QueueURL != "" }

// HTTPEnabled reports whether the HTTP server should run.
func (c Config) HTTPEnabled() bool { return c.HTTPAddr != "" && c.HTTPAddr != "off" }

// Redacted returns the effective configuration as YAML with every secret
// shown as "[redacted]" or "[not set]", for "picket config check". The output
// reads back with Load.
func (c Config) Redacted() string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return fmt.Sprintf("# cannot render the configuration: %v\n", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Sprintf("# cannot render the configuration: %v\n", err)
	}
	return b.String()
}

// Severity returns the route's minimum severity; an empty or unknown value
// (which Validate reports) counts as informational.
func (r Route) Severity() picket.Severity {
	s, err := picket.ParseSeverity(r.MinSeverity)
	if err != nil {
		return picket.SeverityInformational
	}
	return s
}

// SlogLevel returns the configured level as a slog.Level; an unknown value
// (which Validate reports) counts as info.
func (l Log) SlogLevel() slog.Level {
	switch strings.ToLower(l.Level) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// DefaultMinSeverityLevel returns Slack.DefaultMinSeverity as a Severity;
// an unknown label (which Validate reports) counts as Low.
func (s Slack) DefaultMinSeverityLevel() picket.Severity {
	v, err := picket.ParseSeverity(s.DefaultMinSeverity)
	if err != nil {
		return picket.SeverityLow
	}
	return v
}
