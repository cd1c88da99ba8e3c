package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"go.yaml.in/yaml/v3"
)

// envOf returns a getenv that reads only m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// filesOf returns a readFile that serves only m, failing like os.ReadFile
// for anything else.
func filesOf(m map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		s, ok := m[p]
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return []byte(s), nil
	}
}

// loadYAML loads text as the file "picket.yaml" with env and the extra files.
func loadYAML(t *testing.T, text string, env, files map[string]string) (config.Config, error) {
	t.Helper()
	all := map[string]string{"picket.yaml": text}
	for k, v := range files {
		all[k] = v
	}
	return config.Load("picket.yaml", envOf(env), filesOf(all))
}

// problemsOf returns the problem list of err, failing the test when err is
// not a *config.Problems.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ps *config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("got error %v (%T), want *config.Problems", err, err)
	}
	return ps.List
}

// mustLoad loads text and fails the test on any problem.
func mustLoad(t *testing.T, text string, env, files map[string]string) config.Config {
	t.Helper()
	cfg, err := loadYAML(t, text, env, files)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

func TestDefault(t *testing.T) {
	d := config.Default()
	tests := []struct {
		name      string
		got, want any
	}{
		{"slack.mode", d.Slack.Mode, "socket"},
		{"slack.default_channel", d.Slack.DefaultChannel, "#security-alerts"},
		{"slack.api_url", d.Slack.APIURL, ""},
		{"aws.region", d.AWS.Region, ""},
		{"aws.queue_url", d.AWS.QueueURL, ""},
		{"ingest.workers", d.Ingest.Workers, 32},
		{"delivery.grouping", d.Delivery.Grouping, true},
		{"ingest.max_messages", d.Ingest.MaxMessages, 10},
		{"ingest.wait_time", d.Ingest.WaitTime.Duration, 20 * time.Second},
		{"ingest.visibility_timeout", d.Ingest.VisibilityTimeout.Duration, 60 * time.Second},
		{"ingest.processed_ttl", d.Ingest.ProcessedTTL.Duration, 336 * time.Hour},
		{"enrich.enabled", d.Enrich.Enabled, true},
		{"enrich.budget", d.Enrich.Budget.Duration, 2 * time.Second},
		{"enrich.cache_ttl", d.Enrich.CacheTTL.Duration, 15 * time.Minute},
		{"routes", len(d.Routes), 0},
		{"data_dir", d.DataDir, "./data"},
		{"http_addr", d.HTTPAddr, "127.0.0.1:8080"},
		{"log.level", d.Log.Level, "info"},
		{"log.format", d.Log.Format, "json"},
		{"SlackConfigured", d.SlackConfigured(), false},
		{"AWSConfigured", d.AWSConfigured(), false},
		{"HTTPEnabled", d.HTTPEnabled(), true},
		{"Validate", d.Validate(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestLoadWithoutFileIsDefault(t *testing.T) {
	cfg, err := config.Load("", envOf(nil), filesOf(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := config.Default(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v, want %+v", cfg, want)
	}
}

func TestEmptyFileIsDefault(t *testing.T) {
	cfg := mustLoad(t, "# nothing here\n", nil, nil)
	if want := config.Default(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v, want %+v", cfg, want)
	}
}

func TestPrecedence(t *testing.T) {
	const file = `
slack:
  default_channel: "#from-file"
  api_url: http://127.0.0.1:9/file/
aws:
  region: eu-west-1
  queue_url: http://127.0.0.1:9/000000000000/file
data_dir: /var/lib/picket
http_addr: 127.0.0.1:9090
ingest:
  workers: 8
log:
  level: debug
`
	tests := []struct {
		name string
		env  map[string]string
		get  func(config.Config) any
		want any
	}{
		{"file over default", nil, func(c config.Config) any { return c.Ingest.Workers }, 8},
		{"default kept when file is silent", nil, func(c config.Config) any { return c.Ingest.MaxMessages }, 10},
		{"file data_dir", nil, func(c config.Config) any { return c.DataDir }, "/var/lib/picket"},
		{"env data_dir over file", map[string]string{"PICKET_DATA_DIR": "/tmp/x"}, func(c config.Config) any { return c.DataDir }, "/tmp/x"},
		{"env http_addr off", map[string]string{"PICKET_HTTP_ADDR": "off"}, func(c config.Config) any { return c.HTTPEnabled() }, false},
		{"env default channel", map[string]string{"PICKET_DEFAULT_CHANNEL": "C0123456789"}, func(c config.Config) any { return c.Slack.DefaultChannel }, "C0123456789"},
		{"file region", nil, func(c config.Config) any { return c.AWS.Region }, "eu-west-1"},
		{"AWS_DEFAULT_REGION over file", map[string]string{"AWS_DEFAULT_REGION": "us-west-2"}, func(c config.Config) any { return c.AWS.Region }, "us-west-2"},
		{"AWS_REGION over AWS_DEFAULT_REGION", map[string]string{"AWS_REGION": "ap-south-1", "AWS_DEFAULT_REGION": "us-west-2"}, func(c config.Config) any { return c.AWS.Region }, "ap-south-1"},
		{"env endpoint", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, func(c config.Config) any { return c.AWS.EndpointURL }, "http://127.0.0.1:4566"},
		{"env queue over file", map[string]string{"PICKET_QUEUE_URL": "http://127.0.0.1:9/000000000000/env"}, func(c config.Config) any { return c.AWS.QueueURL }, "http://127.0.0.1:9/000000000000/env"},
		{"env topic", map[string]string{"PICKET_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:picket-findings"}, func(c config.Config) any { return c.AWS.TopicARN }, "arn:aws:sns:eu-west-1:123456789012:picket-findings"},
		{"env api url gets final slash", map[string]string{"PICKET_SLACK_API_URL": "http://127.0.0.1:9/api"}, func(c config.Config) any { return c.Slack.APIURL }, "http://127.0.0.1:9/api/"},
		{"env log level over file", map[string]string{"PICKET_LOG_LEVEL": "warn"}, func(c config.Config) any { return c.Log.Level }, "warn"},
		{"env log format", map[string]string{"PICKET_LOG_FORMAT": "text"}, func(c config.Config) any { return c.Log.Format }, "text"},
		{"env slack mode", map[string]string{"PICKET_SLACK_MODE": "http"}, func(c config.Config) any { return c.Slack.Mode }, "http"},
		{"env value trimmed", map[string]string{"PICKET_DATA_DIR": " /tmp/y\n"}, func(c config.Config) any { return c.DataDir }, "/tmp/y"},
		{"AWSConfigured with queue", nil, func(c config.Config) any { return c.AWSConfigured() }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustLoad(t, file, tt.env, nil)
			if got := tt.get(cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExampleFileLoads(t *testing.T) {
	cfg, err := config.Load("testdata/picket.example.yaml", envOf(nil), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"routes", len(cfg.Routes), 2},
		{"first route severity", cfg.Routes[0].Severity(), picket.SeverityHigh},
		{"first route types", cfg.Routes[0].Types, []string{"UnauthorizedAccess:*", "CryptoCurrency:*"}},
		{"second route sources", len(cfg.Routes[1].Sources), 0},
		{"alias", cfg.Enrich.AccountAliases["123456789012"], "production"},
		{"workers", cfg.Ingest.Workers, 32},
		{"grouping", cfg.Delivery.Grouping, true},
		{"group min", cfg.Delivery.GroupMin, 3},
		{"group list size", cfg.Delivery.GroupListSize, 40},
		{"slack offline", cfg.SlackConfigured(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

// TestExampleDocumentsEveryKey keeps the example in step with Config: every
// key Config has must appear in it, at least in a comment.
func TestExampleDocumentsEveryKey(t *testing.T) {
	text, err := os.ReadFile("testdata/picket.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.Routes = []config.Route{{Sources: []string{"x"}, Accounts: []string{"x"}, Regions: []string{"x"}, Types: []string{"x"}, MentionCritical: "x"}}
	var root yaml.Node
	if err := root.Encode(c); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for i, ch := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				keys = append(keys, ch.Value)
			}
			walk(ch)
		}
	}
	walk(&root)
	for _, k := range keys {
		switch k {
		case "bot_token", "app_token", "signing_secret", "key":
			k += "_file" // the file names the file; the secret is refused
		}
		t.Run(k, func(t *testing.T) {
			if !bytes.Contains(text, []byte(k+":")) {
				t.Errorf("got no %q in the example, want it documented", k+":")
			}
		})
	}
}

func TestDeployExampleIsTheTestedOne(t *testing.T) {
	tested, err := os.ReadFile("testdata/picket.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	deployed, err := os.ReadFile("../deploy/picket.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tested, deployed) {
		t.Errorf("got deploy/picket.example.yaml different from config/testdata/picket.example.yaml, want a copy")
	}
}

func TestEveryProblemListedTogether(t *testing.T) {
	env := map[string]string{
		"SLACK_APP_TOKEN":  "not-an-app-token",
		"PICKET_LOG_LEVEL": "loud",
	}
	_, err := config.Load("testdata/invalid.yaml", envOf(env), nil)
	got := problemsOf(t, err)
	want := []string{
		// Found while decoding the file, in line order.
		"line 3: slack.bot_token: a secret may not be written in the config file; set the environment variable SLACK_BOT_TOKEN, or name a file holding it with SLACK_BOT_TOKEN_FILE or slack.bot_token_file",
		"line 15: ingest.processed_ttl: invalid duration \"14d\": want a number with a unit such as \"20s\", \"15m\" or \"336h\"",
		"line 16: ingest.retries: unknown key (deploy/picket.example.yaml lists every key)",
		// Found by validation.
		"line 4: slack.mode: \"websocket\" is not a mode (want socket or http)",
		"slack.app_token (from SLACK_APP_TOKEN): is not an app-level token (want one starting with xapp-)",
		"line 6: slack.api_url: \"slack.test/api/\" is not an absolute http(s) URL",
		"line 5: slack.default_channel: \"security-alerts\" is not a Slack channel id (C..., G...) or a #name in lower case",
		"line 8: aws.region: \"Europe\" is not an AWS region code (such as eu-west-1)",
		"line 9: aws.queue_url: \"sqs/queue\" is not an absolute http(s) URL",
		"line 11: ingest.workers: 0 is out of range (1 to 64)",
		"line 12: ingest.max_messages: 11 is out of range (1 to 10, the SQS limit)",
		"line 13: ingest.wait_time: 1.5s is not a whole number of seconds",
		"line 14: ingest.visibility_timeout: 13h0m0s is out of range (1s to 12h0m0s, the SQS limits)",
		"line 18: enrich.budget: 0s is out of range (more than 0, at most 30s)",
		"line 19: enrich.cache_ttl: -1m0s must not be negative (0 disables the cache)",
		"line 21: enrich.account_aliases.1234: \"1234\" is not a 12-digit account id",
		"line 24: routes[0].min_severity: unknown severity \"urgent\" (want informational, low, medium, high or critical)",
		"line 25: routes[0].sources[2]: \"detective\" is not a source (want guardduty, securityhub, inspector, macie or access-analyzer)",
		"line 26: routes[0].accounts[0]: \"12345678901x\" is not a 12-digit account id",
		"line 27: routes[0].regions[1]: \"moon-1\" is not an AWS region code (such as eu-west-1)",
		"line 28: routes[0].types[1]: empty pattern",
		"line 30: routes[0].mention_critical: \"@security\" is not a Slack user-group id (S...)",
		"line 31: routes[1].name: \"prod\" is already the name of routes[0]",
		"line 32: routes[1].channel: \"#Sec Team\" is not a Slack channel id (C..., G...) or a #name in lower case",
		"line 33: routes[2].name: required",
		"line 34: routes[2].products[1]: empty product name",
		"line 33: routes[2].channel: required",
		"line 35: data_dir: required: the directory that holds the database",
		"line 36: http_addr: \"localhost\" is not a host:port address (or \"off\")",
		"log.level (from PICKET_LOG_LEVEL): \"loud\" is not a level (want debug, info, warn or error)",
		"line 39: log.format: \"xml\" is not a format (want json or text)",
	}
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("problem %d:\n got %q\nwant %q", i, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d", len(got), len(want))
	}
	if header := fmt.Sprintf("config: %d problems:\n- ", len(want)); !strings.HasPrefix(err.Error(), header) {
		t.Errorf("got error starting %q, want %q", err.Error()[:min(40, len(err.Error()))], header)
	}
	if strings.Contains(err.Error(), "xoxb-literal-in-file-0001") || strings.Contains(err.Error(), "not-an-app-token") {
		t.Errorf("got a secret value in the error, want none:\n%v", err)
	}
}

func TestUnknownKeyReportedWithLine(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"top level", "data_dir: ./d\ndatadir: ./e\n", "line 2: datadir: unknown key"},
		{"in a section", "ingest:\n  workers: 2\n  worker: 3\n", "line 3: ingest.worker: unknown key"},
		{"in a route", "routes:\n  - name: a\n    channel: C0123456789\n    severity: high\n", "line 4: routes[0].severity: unknown key"},
		{"in slack", "slack:\n  token_file: /x\n", "line 2: slack.token_file: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadYAML(t, tt.file, nil, nil)
			ps := problemsOf(t, err)
			if len(ps) != 1 || !strings.HasPrefix(ps[0], tt.want) {
				t.Errorf("got %q, want one problem starting %q", ps, tt.want)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name, path, want string
	}{
		{"missing file", "absent.yaml", "read config file: open absent.yaml: file does not exist"},
		{"syntax", "picket.yaml", "parse config file: yaml: line 2: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(tt.path, envOf(nil), filesOf(map[string]string{"picket.yaml": "ingest:\n  workers: [\n"}))
			ps := problemsOf(t, err)
			if len(ps) != 1 || !strings.HasPrefix(ps[0], tt.want) {
				t.Errorf("got %q, want one problem starting %q", ps, tt.want)
			}
			if !reflect.DeepEqual(cfg, config.Default()) {
				t.Errorf("got %+v, want the defaults", cfg)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	const (
		bot  = "xoxb-1111-2222-bot-secret"
		app  = "xapp-1-A111-333-app-secret"
		sign = "8f742231b10e8888abcd99yyyzzz85a5"
	)
	tests := []struct {
		name    string
		file    string
		env     map[string]string
		files   map[string]string
		wantBot string
		wantApp string
		wantSig string
		problem string // the one problem expected, "" for none
	}{
		{
			name:    "from environment",
			env:     map[string]string{"SLACK_BOT_TOKEN": bot, "SLACK_APP_TOKEN": app, "SLACK_SIGNING_SECRET": sign},
			wantBot: bot, wantApp: app, wantSig: sign,
		},
		{
			name:    "from _FILE variables, trimmed",
			env:     map[string]string{"SLACK_BOT_TOKEN_FILE": "/s/bot", "SLACK_APP_TOKEN_FILE": "/s/app", "SLACK_SIGNING_SECRET_FILE": "/s/sign"},
			files:   map[string]string{"/s/bot": bot + "\n", "/s/app": "  " + app + "\r\n", "/s/sign": sign},
			wantBot: bot, wantApp: app, wantSig: sign,
		},
		{
			name:    "from file keys",
			file:    "slack:\n  bot_token_file: /s/bot\n  app_token_file: /s/app\n",
			files:   map[string]string{"/s/bot": bot, "/s/app": app},
			wantBot: bot, wantApp: app,
		},
		{
			name:    "variable over file key",
			file:    "slack:\n  bot_token_file: /s/old\n  app_token_file: /s/app\n",
			env:     map[string]string{"SLACK_BOT_TOKEN_FILE": "/s/bot"},
			files:   map[string]string{"/s/bot": bot, "/s/app": app},
			wantBot: bot, wantApp: app,
		},
		{
			name:    "both variable and _FILE",
			env:     map[string]string{"SLACK_BOT_TOKEN": bot, "SLACK_BOT_TOKEN_FILE": "/s/bot", "SLACK_APP_TOKEN": app},
			files:   map[string]string{"/s/bot": bot},
			wantApp: app,
			problem: "slack.bot_token: both SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_FILE are set; set only one",
		},
		{
			name:    "missing file named by variable",
			env:     map[string]string{"SLACK_BOT_TOKEN_FILE": "/s/none", "SLACK_APP_TOKEN": app},
			wantApp: app,
			problem: "slack.bot_token (from SLACK_BOT_TOKEN_FILE): cannot read the secret file: open /s/none: file does not exist",
		},
		{
			name:    "missing file named in file",
			file:    "\nslack:\n  bot_token_file: /s/none\n",
			env:     map[string]string{"SLACK_APP_TOKEN": app},
			wantApp: app,
			problem: "line 3: slack.bot_token: cannot read the secret file: open /s/none: file does not exist",
		},
		{
			name:    "empty file",
			env:     map[string]string{"SLACK_BOT_TOKEN_FILE": "/s/empty", "SLACK_APP_TOKEN": app},
			files:   map[string]string{"/s/empty": "\n"},
			wantApp: app,
			problem: "slack.bot_token (from SLACK_BOT_TOKEN_FILE): secret file /s/empty is empty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadYAML(t, tt.file, tt.env, tt.files)
			switch {
			case tt.problem == "" && err != nil:
				t.Fatalf("got %v, want no problem", err)
			case tt.problem != "":
				if ps := problemsOf(t, err); !slices.Equal(ps, []string{tt.problem}) {
					t.Errorf("got problems %q, want [%q]", ps, tt.problem)
				}
			}
			for _, s := range []struct {
				name      string
				got, want string
			}{
				{"bot token", cfg.Slack.BotToken.Reveal(), tt.wantBot},
				{"app token", cfg.Slack.AppToken.Reveal(), tt.wantApp},
				{"signing secret", cfg.Slack.SigningSecret.Reveal(), tt.wantSig},
			} {
				if s.got != s.want {
					t.Errorf("%s: got %q, want %q", s.name, s.got, s.want)
				}
			}
		})
	}
}

func TestLiteralSecretRefused(t *testing.T) {
	// The environment gives the other tokens, so that the refusal is the
	// only problem.
	tests := []struct {
		name, file string
		env        map[string]string
		get        func(config.Config) config.Secret
		want       string
	}{
		{
			"bot token", "slack:\n  bot_token: xoxb-literal-0001\n",
			map[string]string{"SLACK_APP_TOKEN": "xapp-env"},
			func(c config.Config) config.Secret { return c.Slack.BotToken },
			"line 2: slack.bot_token: a secret may not be written in the config file; set the environment variable SLACK_BOT_TOKEN",
		},
		{
			"app token", "slack:\n  mode: socket\n  app_token: xapp-literal-0002\n",
			map[string]string{"SLACK_BOT_TOKEN": "xoxb-env"},
			func(c config.Config) config.Secret { return c.Slack.AppToken },
			"line 3: slack.app_token: a secret may not be written in the config file; set the environment variable SLACK_APP_TOKEN",
		},
		{
			"signing secret", "slack:\n  signing_secret: literal-0003\n",
			map[string]string{"SLACK_BOT_TOKEN": "xoxb-env", "SLACK_APP_TOKEN": "xapp-env"},
			func(c config.Config) config.Secret { return c.Slack.SigningSecret },
			"line 2: slack.signing_secret: a secret may not be written in the config file; set the environment variable SLACK_SIGNING_SECRET",
		},
		{
			"secret as a map", "slack:\n  bot_token: {value: literal-0004}\n",
			map[string]string{"SLACK_APP_TOKEN": "xapp-env"},
			func(c config.Config) config.Secret { return c.Slack.BotToken },
			"line 2: slack.bot_token: a secret may not be written",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadYAML(t, tt.file, tt.env, nil)
			ps := problemsOf(t, err)
			if len(ps) != 1 || !strings.HasPrefix(ps[0], tt.want) {
				t.Errorf("got %q, want one problem starting %q", ps, tt.want)
			}
			if strings.Contains(err.Error(), "literal-") {
				t.Errorf("got the secret in the error %q, want it left out", err)
			}
			if got := tt.get(cfg); got != "" {
				t.Errorf("got the secret taken from the file, want it empty")
			}
		})
	}
}

// TestLiteralSecretAloneStillChecked shows that a refused secret counts as
// given when secrets are checked together: the app token socket mode needs
// is asked for too, so one run lists everything to fix.
func TestLiteralSecretAloneStillChecked(t *testing.T) {
	_, err := loadYAML(t, "slack:\n  bot_token: xoxb-literal-0005\n", nil, nil)
	ps := problemsOf(t, err)
	if len(ps) != 2 || !strings.HasPrefix(ps[1], "slack.app_token: socket mode needs an app-level token") {
		t.Errorf("got %q, want the refusal and then the missing app token", ps)
	}
}

func TestPlaceholderSecretsAccepted(t *testing.T) {
	for _, v := range []string{`""`, `"[redacted]"`, `"[not set]"`, `null`} {
		t.Run(v, func(t *testing.T) {
			cfg := mustLoad(t, "slack:\n  bot_token: "+v+"\n", nil, nil)
			if cfg.SlackConfigured() {
				t.Errorf("got SlackConfigured true, want false")
			}
		})
	}
}

// secretConfig returns a valid configuration holding distinctive secrets.
func secretConfig(t *testing.T) (config.Config, []string) {
	t.Helper()
	secrets := []string{"xoxb-9876-SECRETBOT-zq", "xapp-1-SECRETAPP-qz", "SECRETSIGN-5a5a"}
	cfg := mustLoad(t, "slack:\n  mode: http\n", map[string]string{
		"SLACK_BOT_TOKEN":      secrets[0],
		"SLACK_APP_TOKEN":      secrets[1],
		"SLACK_SIGNING_SECRET": secrets[2],
	}, nil)
	return cfg, append(secrets, "SECRET")
}

func TestSecretsNeverPrinted(t *testing.T) {
	cfg, secrets := secretConfig(t)
	if !cfg.SlackConfigured() {
		t.Fatalf("got SlackConfigured false, want true")
	}
	jsonCfg, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	jsonSecret, err := json.Marshal(cfg.Slack.BotToken)
	if err != nil {
		t.Fatal(err)
	}
	yamlSecret, err := yaml.Marshal(cfg.Slack)
	if err != nil {
		t.Fatal(err)
	}
	logged := func(h func(*bytes.Buffer) slog.Handler) string {
		var b bytes.Buffer
		l := slog.New(h(&b))
		l.Info("start", "cfg", cfg, "ptr", &cfg, "token", cfg.Slack.BotToken, slog.Group("slack", "app", cfg.Slack.AppToken))
		return b.String()
	}
	outputs := []struct {
		name, text string
	}{
		{"Redacted", cfg.Redacted()},
		{"%v", fmt.Sprintf("%v", cfg)},
		{"%+v", fmt.Sprintf("%+v", cfg)},
		{"%#v", fmt.Sprintf("%#v", cfg)},
		{"%v pointer", fmt.Sprintf("%v", &cfg)},
		{"%s secret", fmt.Sprintf("%s", cfg.Slack.BotToken)},
		{"%q secret", fmt.Sprintf("%q", cfg.Slack.BotToken)},
		{"%x secret", fmt.Sprintf("%x", cfg.Slack.BotToken)},
		{"%d secret", fmt.Sprintf("%d", cfg.Slack.BotToken)},
		{"Sprint", fmt.Sprint(cfg.Slack)},
		{"json config", string(jsonCfg)},
		{"json secret", string(jsonSecret)},
		{"yaml slack", string(yamlSecret)},
		{"slog json", logged(func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) })},
		{"slog text", logged(func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) })},
	}
	for _, o := range outputs {
		t.Run(o.name, func(t *testing.T) {
			for _, s := range secrets {
				if strings.Contains(o.text, s) {
					t.Errorf("got %q in output, want it redacted:\n%s", s, o.text)
				}
			}
			if !strings.Contains(o.text, "[redacted]") {
				t.Errorf("got no [redacted] in output, want it:\n%s", o.text)
			}
		})
	}
}

func TestRedactedShowsWhetherSet(t *testing.T) {
	cfg, _ := secretConfig(t)
	cfg.Slack.AppToken = ""
	out := cfg.Redacted()
	for _, want := range []string{"bot_token: '[redacted]'", "app_token: '[not set]'", "signing_secret: '[redacted]'", "mode: http", "wait_time: 20s", "processed_ttl: 336h0m0s"} {
		if !strings.Contains(out, want) {
			t.Errorf("got no %q in\n%s", want, out)
		}
	}
}

func TestRedactedReadsBack(t *testing.T) {
	want, err := config.Load("testdata/picket.example.yaml", envOf(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := mustLoad(t, want.Redacted(), nil, nil)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestDurationParsing(t *testing.T) {
	tests := []struct {
		name, value string
		want        time.Duration
		problem     string
	}{
		{"seconds", "7s", 7 * time.Second, ""},
		{"compound", "1m30s", 90 * time.Second, ""},
		{"zero", "0s", 0, ""},
		{"bare zero", "0", 0, ""},
		{"no unit", "20", 0, `line 2: enrich.cache_ttl: invalid duration "20": want a number with a unit`},
		{"days are not a unit", "2d", 0, `line 2: enrich.cache_ttl: invalid duration "2d"`},
		{"words", "soon", 0, `line 2: enrich.cache_ttl: invalid duration "soon"`},
		{"a list", "[1s]", 0, "line 2: enrich.cache_ttl: want a duration such as"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadYAML(t, "enrich:\n  cache_ttl: "+tt.value+"\n", nil, nil)
			if tt.problem == "" {
				if err != nil {
					t.Fatalf("got %v, want no problem", err)
				}
				if got := cfg.Enrich.CacheTTL.Duration; got != tt.want {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				return
			}
			ps := problemsOf(t, err)
			if len(ps) != 1 || !strings.HasPrefix(ps[0], tt.problem) {
				t.Errorf("got %q, want one problem starting %q", ps, tt.problem)
			}
			if got := cfg.Enrich.CacheTTL.Duration; got != 15*time.Minute {
				t.Errorf("got cache_ttl %v after a bad value, want the default 15m", got)
			}
		})
	}
}

func TestDurationText(t *testing.T) {
	var d config.Duration
	if err := d.UnmarshalText([]byte("1h")); err != nil {
		t.Fatal(err)
	}
	if b, _ := d.MarshalText(); string(b) != "1h0m0s" {
		t.Errorf("got %s, want 1h0m0s", b)
	}
	if err := d.UnmarshalText([]byte("1 hour")); err == nil {
		t.Errorf("got no error for %q, want one", "1 hour")
	}
}

func TestValidateSlack(t *testing.T) {
	const (
		bot  = config.Secret("xoxb-1-bot")
		app  = config.Secret("xapp-1-app")
		sign = config.Secret("signing")
	)
	tests := []struct {
		name  string
		edit  func(*config.Config)
		wants []string
	}{
		{"offline", func(c *config.Config) {}, nil},
		{"socket", func(c *config.Config) { c.Slack.BotToken, c.Slack.AppToken = bot, app }, nil},
		{"http", func(c *config.Config) { c.Slack.Mode, c.Slack.BotToken, c.Slack.SigningSecret = "http", bot, sign }, nil},
		{"socket without app token", func(c *config.Config) { c.Slack.BotToken = bot }, []string{
			"slack.app_token: socket mode needs an app-level token (xapp-...): set SLACK_APP_TOKEN or SLACK_APP_TOKEN_FILE, or use slack.mode http",
		}},
		{"http without signing secret", func(c *config.Config) { c.Slack.Mode, c.Slack.BotToken = "http", bot }, []string{
			"slack.signing_secret: http mode needs the signing secret: set SLACK_SIGNING_SECRET or SLACK_SIGNING_SECRET_FILE",
		}},
		{"http without health server", func(c *config.Config) {
			c.Slack.Mode, c.Slack.BotToken, c.Slack.SigningSecret, c.HTTPAddr = "http", bot, sign, "off"
		}, nil},
		{"http without Slack listener", func(c *config.Config) {
			c.Slack.Mode, c.Slack.BotToken, c.Slack.SigningSecret, c.Slack.HTTPAddr = "http", bot, sign, "off"
		}, []string{"slack.http_addr: slack.mode http needs a listen address for Slack requests (PICKET_SLACK_HTTP_ADDR)"}},
		{"http with Slack on the health listener", func(c *config.Config) {
			c.Slack.Mode, c.Slack.BotToken, c.Slack.SigningSecret, c.Slack.HTTPAddr = "http", bot, sign, c.HTTPAddr
		}, []string{`slack.http_addr: "127.0.0.1:8080" is also http_addr: Slack requests get their own listener, so that health and metrics are not exposed with them`}},
		{"http with a bad Slack listener", func(c *config.Config) {
			c.Slack.Mode, c.Slack.BotToken, c.Slack.SigningSecret, c.Slack.HTTPAddr = "http", bot, sign, "3000"
		}, []string{`slack.http_addr: "3000" is not a host:port address (or "off")`}},
		{"team and app ids", func(c *config.Config) { c.Slack.TeamID, c.Slack.AppID = "T0123ABCD", "A0123ABCD" }, nil},
		{"bad team and app ids", func(c *config.Config) { c.Slack.TeamID, c.Slack.AppID = "U0123", "app" }, []string{
			`slack.team_id: "U0123" is not a Slack workspace id (T...) or organization id (E...)`,
			`slack.app_id: "app" is not a Slack app id (A...)`,
		}},
		{"wrong token kinds", func(c *config.Config) { c.Slack.BotToken, c.Slack.AppToken = app, bot }, []string{
			"slack.bot_token: is not a bot token (want one starting with xoxb-)",
			"slack.app_token: is not an app-level token (want one starting with xapp-)",
		}},
		{"app token alone", func(c *config.Config) { c.Slack.AppToken = app }, []string{
			"slack.bot_token: not set, but slack.app_token or slack.signing_secret is: set SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE, or set none of them to run offline",
		}},
		{"mode in upper case", func(c *config.Config) { c.Slack.Mode = "HTTP" }, []string{
			`slack.mode: "HTTP" is not a mode (want socket or http)`,
		}},
		{"api url without slash", func(c *config.Config) { c.Slack.APIURL = "http://127.0.0.1:1/api" }, []string{
			"slack.api_url: must end with /",
		}},
		{"api url with password", func(c *config.Config) { c.Slack.APIURL = "ftp://u:pw-hidden@host/" }, []string{
			`slack.api_url: "ftp://u:xxxxx@host/" is not an absolute http(s) URL`,
		}},
		{"channel by id", func(c *config.Config) { c.Slack.DefaultChannel = "G01ABCDEF" }, nil},
		{"channel name in any script", func(c *config.Config) { c.Slack.DefaultChannel = "#セキュリティ-alerts" }, nil},
		{"no default channel", func(c *config.Config) { c.Slack.DefaultChannel = "" }, []string{
			"slack.default_channel: required",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.edit(&c)
			err := c.Validate()
			var got []string
			if err != nil {
				got = problemsOf(t, err)
			}
			if !slices.Equal(got, tt.wants) {
				t.Errorf("got %q, want %q", got, tt.wants)
			}
		})
	}
}

func TestValidateOther(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*config.Config)
		wants []string
	}{
		{"all interfaces", func(c *config.Config) { c.HTTPAddr = ":8080" }, nil},
		{"http off with empty string", func(c *config.Config) { c.HTTPAddr = "" }, nil},
		{"bad port", func(c *config.Config) { c.HTTPAddr = "127.0.0.1:http80" }, []string{`http_addr: "127.0.0.1:http80" has no valid port`}},
		{"wait time zero", func(c *config.Config) { c.Ingest.WaitTime = config.Dur(0) }, nil},
		{"wait time too long", func(c *config.Config) { c.Ingest.WaitTime = config.Dur(21 * time.Second) }, []string{
			"ingest.wait_time: 21s is out of range (0s to 20s, the SQS limit)",
		}},
		{"processed ttl zero", func(c *config.Config) { c.Ingest.ProcessedTTL = config.Dur(0) }, []string{
			"ingest.processed_ttl: 0s must be positive",
		}},
		{"budget too long", func(c *config.Config) { c.Enrich.Budget = config.Dur(31 * time.Second) }, []string{
			"enrich.budget: 31s is out of range (more than 0, at most 30s)",
		}},
		{"cache off", func(c *config.Config) { c.Enrich.CacheTTL = config.Dur(0) }, nil},
		{"default min severity", func(c *config.Config) { c.Slack.DefaultMinSeverity = "HIGH" }, nil},
		{"no pacing", func(c *config.Config) { c.Slack.MessageInterval = config.Dur(0) }, nil},
		{"bad command", func(c *config.Config) {
			c.Roles = []config.Role{{Name: "r", Users: []string{"U0ABC"}, Commands: []string{"posture", "reboot"}}}
		}, []string{`roles[0].commands[1]: "reboot" is not a command (want one of [help posture check finding user instance audit suppressions digest status auto])`}},
		{"good role", func(c *config.Config) {
			c.Roles = []config.Role{{Name: "r", Users: []string{"U0ABC"}, Actions: []string{"*"}}}
		}, nil},
		{"bad roles", func(c *config.Config) {
			c.Roles = []config.Role{
				{Name: "r", Users: []string{"alice"}, Groups: []string{"@sec"}, Actions: []string{"reboot"}, Accounts: []string{"12"}},
				{Name: "r"},
			}
		}, []string{
			`roles[0].users[0]: "alice" is not a Slack user id (U... or W...)`,
			`roles[0].groups[0]: "@sec" is not a Slack user-group id (S...)`,
			`roles[0].actions[0]: "reboot" is not an action (want one of [disable_user quarantine_instance revoke_role_sessions suppress escalate undo fix_s3_bucket_public_access fix_s3_account_public_access fix_security_group_open fix_ebs_default_encryption patch_instance])`,
			`roles[0].accounts[0]: "12" is not a 12-digit account id`,
			`roles[1].name: "r" is already the name of roles[0]`,
			`roles[1]: names no users and no groups: it grants nothing`,
			`roles[1].actions: required: the actions (or commands) the role may run, or "*"`,
		}},
		{"bad responses", func(c *config.Config) {
			c.Responses.Approvals = []string{"*"}
			c.Responses.ApprovalTimeout = config.Dur(time.Second)
			c.Responses.EscalationTopicARN = "topic"
			c.Responses.IsolationGroup = ""
			c.Responses.Accounts = []config.Account{{ID: "210987654321", RoleARN: "PicketResponder"}, {ID: "210987654321", RoleARN: "arn:aws:iam::210987654321:role/R"}}
		}, []string{
			`responses.approvals[0]: "*" is not an action (want one of [disable_user quarantine_instance revoke_role_sessions suppress escalate undo fix_s3_bucket_public_access fix_s3_account_public_access fix_security_group_open fix_ebs_default_encryption patch_instance])`,
			`responses.approval_timeout: 1s is out of range (1m to 24h)`,
			`responses.escalation_topic_arn: "topic" is not an SNS topic ARN`,
			`responses.isolation_group: required: the name of the isolation security group`,
			`responses.accounts[0].role_arn: "PicketResponder" is not an IAM role ARN`,
			`responses.accounts[1].id: account 210987654321 is listed twice`,
		}},
		{"pacing too slow", func(c *config.Config) { c.Slack.MessageInterval = config.Dur(11 * time.Second) }, []string{
			"slack.message_interval: 11s is out of range (0s to 10s)",
		}},
		{"bad default min severity", func(c *config.Config) { c.Slack.DefaultMinSeverity = "severe" }, []string{
			`slack.default_min_severity: unknown severity "severe" (want informational, low, medium, high or critical)`,
		}},
		{"empty alias", func(c *config.Config) { c.Enrich.AccountAliases = map[string]string{"123456789012": " "} }, []string{
			"enrich.account_aliases.123456789012: the alias is empty",
		}},
		{"gov region and url", func(c *config.Config) {
			c.AWS.Region, c.AWS.QueueURL = "us-gov-west-1", "https://sqs.us-gov-west-1.amazonaws.com/123456789012/q"
		}, nil},
		{"bad endpoint", func(c *config.Config) { c.AWS.EndpointURL = "localhost:4566" }, []string{
			`aws.endpoint_url: "localhost:4566" is not an absolute http(s) URL`,
		}},
		{"topic", func(c *config.Config) { c.AWS.TopicARN = "arn:aws:sns:eu-west-1:123456789012:picket-findings" }, nil},
		{"bad topic", func(c *config.Config) { c.AWS.TopicARN = "picket-findings" }, []string{
			`aws.topic_arn: "picket-findings" is not an SNS topic ARN`,
		}},
		{"full route", func(c *config.Config) {
			c.Routes = []config.Route{{Name: "a", MinSeverity: "Critical", Sources: []string{"guardduty"}, Accounts: []string{"012345678901"},
				Regions: []string{"eu-central-1"}, Types: []string{"Recon:EC2/*"}, Channel: "C0123ABCD", MentionCritical: "S0123ABCD"}}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.edit(&c)
			err := c.Validate()
			var got []string
			if err != nil {
				got = problemsOf(t, err)
			}
			if !slices.Equal(got, tt.wants) {
				t.Errorf("got %q, want %q", got, tt.wants)
			}
		})
	}
}

func TestRouteDefaultsAndHelpers(t *testing.T) {
	cfg := mustLoad(t, "routes:\n  - name: all\n    channel: \"#all\"\n", nil, nil)
	if got := cfg.Routes[0].MinSeverity; got != "informational" {
		t.Errorf("got min_severity %q, want informational", got)
	}
	tests := []struct {
		level string
		want  slog.Level
	}{
		{"debug", slog.LevelDebug}, {"info", slog.LevelInfo}, {"warn", slog.LevelWarn}, {"error", slog.LevelError}, {"bogus", slog.LevelInfo},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			if got := (config.Log{Level: tt.level}).SlogLevel(); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestProblemsError(t *testing.T) {
	tests := []struct {
		name string
		list []string
		want string
	}{
		{"one", []string{"a: bad"}, "config: 1 problem:\n- a: bad"},
		{"three", []string{"a", "b", "c"}, "config: 3 problems:\n- a\n- b\n- c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (&config.Problems{List: tt.list}).Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEnvVarsAreRead(t *testing.T) {
	def := config.Default().Redacted()
	for _, v := range config.EnvVars() {
		t.Run(v.Name, func(t *testing.T) {
			// Load read the variable if the value changed the
			// configuration or was refused in a problem naming it.
			files := filesOf(map[string]string{"%%bogus%%": "xoxb-from-file"})
			cfg, err := config.Load("", envOf(map[string]string{v.Name: "%%bogus%%"}), files)
			named := err != nil && strings.Contains(err.Error(), "(from "+v.Name+")")
			if !named && cfg.Redacted() == def {
				t.Errorf("got the defaults and %v, want a change or a problem naming %s", err, v.Name)
			}
		})
	}
}

func TestDeliveryProblemsListed(t *testing.T) {
	cfg := config.Default()
	cfg.Delivery = config.Delivery{
		Grouping: true, GroupMin: 1, GroupMaxSeverity: "critical",
		GroupWindow: config.Dur(time.Second), GroupUpdateInterval: config.Dur(time.Hour), GroupListSize: 60,
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted an invalid delivery section")
	}
	for _, key := range []string{"delivery.group_min", "delivery.group_max_severity", "delivery.group_window",
		"delivery.group_update_interval", "delivery.group_list_size"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("got problems %q, want one naming %s", err, key)
		}
	}
	if err := config.Default().Validate(); err != nil {
		t.Errorf("default configuration: got %v, want valid", err)
	}
}

func TestAuditKey(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	files := filesOf(map[string]string{"/run/secrets/audit": key + "\n", "/data/audit.key": key, "/s/short": "short"})
	tests := []struct {
		name     string
		env      map[string]string
		yaml     string
		wantKey  string
		problems []string
	}{
		{name: "from PICKET_AUDIT_KEY", env: map[string]string{"PICKET_AUDIT_KEY": key}, wantKey: key},
		{name: "from PICKET_AUDIT_KEY_FILE", env: map[string]string{"PICKET_AUDIT_KEY_FILE": "/run/secrets/audit"}, wantKey: key},
		{name: "from audit.key_file", yaml: "audit:\n  key_file: /run/secrets/audit\n", wantKey: key},
		{name: "literal in the file", yaml: "audit:\n  key: " + key + "\n", problems: []string{
			"line 2: audit.key: a secret may not be written in the config file; set the environment variable PICKET_AUDIT_KEY, or name a file holding it with PICKET_AUDIT_KEY_FILE or audit.key_file",
		}},
		{name: "too short", env: map[string]string{"PICKET_AUDIT_KEY_FILE": "/s/short"}, wantKey: "short", problems: []string{
			"audit.key (from PICKET_AUDIT_KEY_FILE): is 5 characters; an audit key needs at least 32 (e.g. openssl rand -hex 32)",
		}},
		{name: "on the data volume", env: map[string]string{"PICKET_AUDIT_KEY_FILE": "/data/audit.key", "PICKET_DATA_DIR": "/data"}, wantKey: key, problems: []string{
			"audit.key (from PICKET_AUDIT_KEY_FILE): the key file /data/audit.key is inside data_dir /data: whoever can rewrite the audit trail could read the key; keep it on another volume or secret mount",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = filepath.Join(t.TempDir(), "picket.yaml")
				if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			read := func(p string) ([]byte, error) {
				if p == path {
					return os.ReadFile(p)
				}
				return files(p)
			}
			cfg, err := config.Load(path, envOf(tt.env), read)
			var got []string
			if err != nil {
				got = problemsOf(t, err)
			}
			if !reflect.DeepEqual(got, tt.problems) {
				t.Errorf("problems: got %q, want %q", got, tt.problems)
			}
			if tt.wantKey != "" && cfg.Audit.Key.Reveal() != tt.wantKey {
				t.Errorf("key: got %d characters, want the configured key", len(cfg.Audit.Key.Reveal()))
			}
			if strings.Contains(cfg.Redacted(), key) {
				t.Errorf("Redacted shows the audit key")
			}
		})
	}
}

// TestInlineConfig: the configuration file's YAML may come in
// PICKET_CONFIG_YAML (an ECS task has variables, not files), never
// together with a file.
func TestInlineConfig(t *testing.T) {
	const doc = "roles:\n  - name: responders\n    users: [U0123ABCD]\n    actions: [\"*\"]\n    commands: [\"*\"]\n"
	tests := []struct {
		name      string
		path      string
		inline    string
		wantRoles int
		wantErr   string // "" for none
	}{
		{name: "inline only", inline: doc, wantRoles: 1},
		{name: "file and inline", path: "picket.yaml", inline: doc, wantErr: "give only one"},
		{name: "inline with a bad value", inline: "ingest:\n  workers: 0\n", wantErr: "line 2: ingest.workers"},
		{name: "inline with an unknown key", inline: "slack:\n  channel: x\n", wantErr: "config (from PICKET_CONFIG_YAML): line 2: slack.channel: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(tt.path, envOf(map[string]string{"PICKET_CONFIG_YAML": tt.inline}), filesOf(map[string]string{"picket.yaml": ""}))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got %v, want no problem", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got %v, want a problem containing %q", err, tt.wantErr)
			}
			if got := len(cfg.Roles); tt.wantErr == "" && got != tt.wantRoles {
				t.Errorf("got %d roles, want %d", got, tt.wantRoles)
			}
		})
	}
}

// TestTypeErrorsNameKeys: a value of the wrong kind is reported with its
// key and what the key takes, never with a Go type.
func TestTypeErrorsNameKeys(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"text for a number", "ingest:\n  workers: lots\n", "line 2: ingest.workers: want a whole number, got text `lots`"},
		{"text for a list", "roles:\n  - name: r\n    users: U1\n    actions: [\"*\"]\n", "line 3: roles[0].users: want a list, got text `U1`"},
		{"text for a flag", "enrich:\n  enabled: maybe\n", "line 2: enrich.enabled: want true or false, got text `maybe`"},
		{"list for a mapping", "enrich:\n  account_aliases: [a]\n", "line 2: enrich.account_aliases: want a mapping (key: value), got a list"},
		{"mapping for a list", "routes: {a: b}\n", "line 1: routes: want a list, got a mapping"},
		{"number for a section", "delivery: 3\n", "line 1: delivery: want a mapping of keys, got a number `3`"},
		{"unknown key", "slack:\n  channel: x\n", "line 2: slack.channel: unknown key"},
		{"bad duration", "ingest:\n  wait_time: soon\n", "line 2: ingest.wait_time: invalid duration"},
	}
	goTypes := regexp.MustCompile(`config\.|\[\]|map\[|\binto\b|\bint\b|\bbool\b`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load("picket.yaml", envOf(nil), filesOf(map[string]string{"picket.yaml": tt.doc}))
			var p *config.Problems
			if !errors.As(err, &p) {
				t.Fatalf("got %v, want problems", err)
			}
			if !slices.ContainsFunc(p.List, func(s string) bool { return strings.HasPrefix(s, tt.want) }) {
				t.Errorf("got problems %q, want one starting %q", p.List, tt.want)
			}
			for _, s := range p.List {
				if goTypes.MatchString(s) {
					t.Errorf("problem %q names a Go type", s)
				}
			}
		})
	}
}

func TestStoreProblemsListed(t *testing.T) {
	for _, tt := range []struct {
		name  string
		store config.Store
		want  []string
	}{
		{"bolt default", config.Store{Backend: "bolt"}, nil},
		{"dynamodb", config.Store{Backend: "dynamodb", Table: "picket-state", Region: "eu-west-1", Endpoint: "http://127.0.0.1:8000"}, nil},
		{"unknown backend", config.Store{Backend: "redis"}, []string{`store.backend: "redis" is not a store (want bolt or dynamodb)`}},
		{"dynamodb without table, bad region and endpoint", config.Store{Backend: "dynamodb", Region: "mars", Endpoint: "127.0.0.1:8000"}, []string{
			"store.table: required with store.backend dynamodb",
			`store.region: "mars" is not an AWS region`,
			`store.endpoint: "127.0.0.1:8000" is not an http(s) URL`,
		}},
		{"table with bolt", config.Store{Backend: "bolt", Table: "t-1"}, []string{"store.table: is set, but store.backend is bolt"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Store = tt.store
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want no problem", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no problem, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to list %q", err, w)
				}
			}
		})
	}
}
