package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EnvVar describes one environment variable Load reads.
type EnvVar struct {
	// Name is the variable, e.g. "PICKET_QUEUE_URL".
	Name string
	// Key is the configuration key it sets, e.g. "aws.queue_url".
	Key string
	// Help says what it is for.
	Help string
}

// envSetting is one row of the environment table: a variable and the field
// it sets.
type envSetting struct {
	EnvVar
	set func(*Config, string)
}

// envSettings lists the plain (non-secret) variables. Rows are applied in
// order, so of two variables for the same key the later one wins.
func envSettings() []envSetting {
	return []envSetting{
		{EnvVar{"PICKET_DATA_DIR", "data_dir", "directory of the database"}, func(c *Config, v string) { c.DataDir = v }},
		{EnvVar{"PICKET_STORE_BACKEND", "store.backend", "bolt or dynamodb"}, func(c *Config, v string) { c.Store.Backend = v }},
		{EnvVar{"PICKET_STORE_TABLE", "store.table", "DynamoDB table of the dynamodb store"}, func(c *Config, v string) { c.Store.Table = v }},
		{EnvVar{"PICKET_STORE_REGION", "store.region", "region of the DynamoDB table"}, func(c *Config, v string) { c.Store.Region = v }},
		{EnvVar{"PICKET_STORE_ENDPOINT", "store.endpoint", "DynamoDB endpoint (local test servers)"}, func(c *Config, v string) { c.Store.Endpoint = v }},
		{EnvVar{"PICKET_HTTP_ADDR", "http_addr", `HTTP listen address; "off" disables the server`}, func(c *Config, v string) { c.HTTPAddr = v }},
		{EnvVar{"PICKET_SLACK_API_URL", "slack.api_url", "Slack Web API base URL (test servers)"}, func(c *Config, v string) { c.Slack.APIURL = v }},
		{EnvVar{"PICKET_SLACK_MODE", "slack.mode", "socket or http"}, func(c *Config, v string) { c.Slack.Mode = v }},
		{EnvVar{"PICKET_SLACK_HTTP_ADDR", "slack.http_addr", "listen address for Slack requests in http mode"}, func(c *Config, v string) { c.Slack.HTTPAddr = v }},
		{EnvVar{"PICKET_SLACK_TEAM_ID", "slack.team_id", "the only Slack workspace or organization answered"}, func(c *Config, v string) { c.Slack.TeamID = v }},
		{EnvVar{"PICKET_SLACK_APP_ID", "slack.app_id", "the only Slack app id answered"}, func(c *Config, v string) { c.Slack.AppID = v }},
		{EnvVar{"PICKET_DEFAULT_CHANNEL", "slack.default_channel", "channel for findings no route matches"}, func(c *Config, v string) { c.Slack.DefaultChannel = v }},
		{EnvVar{"AWS_DEFAULT_REGION", "aws.region", "AWS region, when AWS_REGION is not set"}, func(c *Config, v string) { c.AWS.Region = v }},
		{EnvVar{"AWS_REGION", "aws.region", "AWS region"}, func(c *Config, v string) { c.AWS.Region = v }},
		{EnvVar{"AWS_ENDPOINT_URL", "aws.endpoint_url", "endpoint of every AWS client (emulators)"}, func(c *Config, v string) { c.AWS.EndpointURL = v }},
		{EnvVar{"PICKET_QUEUE_URL", "aws.queue_url", "SQS queue of findings"}, func(c *Config, v string) { c.AWS.QueueURL = v }},
		{EnvVar{"PICKET_TOPIC_ARN", "aws.topic_arn", "the only SNS topic whose findings are accepted"}, func(c *Config, v string) { c.AWS.TopicARN = v }},
		{EnvVar{"PICKET_LOG_LEVEL", "log.level", "debug, info, warn or error"}, func(c *Config, v string) { c.Log.Level = v }},
		{EnvVar{"PICKET_LOG_FORMAT", "log.format", "json or text"}, func(c *Config, v string) { c.Log.Format = v }},
		// A kill switch fails safe: only an explicit no leaves rules running.
		{EnvVar{"PICKET_AUTOMATION_PAUSED", "automation.paused", "kill switch of automatic response rules: true pauses them (any value but false, 0 or no)"}, func(c *Config, v string) {
			switch strings.ToLower(v) {
			case "false", "0", "no":
				c.Automation.Paused = false
			default:
				c.Automation.Paused = true
			}
		}},
	}
}

// secretSetting is one secret: its variables, its file key and its field.
type secretSetting struct {
	key     string // "slack.bot_token"
	env     string // "SLACK_BOT_TOKEN"; env+"_FILE" names a file
	fileKey string // "slack.bot_token_file"
	field   func(*Config) *Secret
}

func secretSettings() []secretSetting {
	return []secretSetting{
		{"slack.bot_token", "SLACK_BOT_TOKEN", "slack.bot_token_file", func(c *Config) *Secret { return &c.Slack.BotToken }},
		{"slack.app_token", "SLACK_APP_TOKEN", "slack.app_token_file", func(c *Config) *Secret { return &c.Slack.AppToken }},
		{"slack.signing_secret", "SLACK_SIGNING_SECRET", "slack.signing_secret_file", func(c *Config) *Secret { return &c.Slack.SigningSecret }},
		{"audit.key", "PICKET_AUDIT_KEY", "audit.key_file", func(c *Config) *Secret { return &c.Audit.Key }},
	}
}

// envOfSecret returns the environment variable of the secret key.
func envOfSecret(key string) string {
	for _, s := range secretSettings() {
		if s.key == key {
			return s.env
		}
	}
	return strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// InlineConfigVar names the variable that holds the configuration file's
// YAML itself, for platforms that pass variables but not files (an ECS
// task definition). Load reads it when no file path is given.
const InlineConfigVar = "PICKET_CONFIG_YAML"

// EnvVars lists every environment variable Load reads, for help text.
func EnvVars() []EnvVar {
	vs := []EnvVar{{Name: InlineConfigVar, Help: "the configuration file's YAML itself, when no file is given"}}
	for _, s := range envSettings() {
		vs = append(vs, s.EnvVar)
	}
	for _, s := range secretSettings() {
		vs = append(vs,
			EnvVar{Name: s.env, Key: s.key, Help: "the secret itself"},
			EnvVar{Name: s.env + "_FILE", Key: s.key, Help: "file holding the secret"})
	}
	return vs
}

// fileConfig is the shape of the YAML file. It differs from Config only in
// the slack section, which names files for secrets instead of holding them.
type fileConfig struct {
	Slack     fileSlack `yaml:"slack"`
	AWS       AWS       `yaml:"aws"`
	Ingest    Ingest    `yaml:"ingest"`
	Delivery  Delivery  `yaml:"delivery"`
	Enrich    Enrich    `yaml:"enrich"`
	Routes    []Route   `yaml:"routes"`
	Roles     []Role    `yaml:"roles"`
	Responses Responses `yaml:"responses"`
	Digests   []Digest  `yaml:"digests"`
	DataDir   string    `yaml:"data_dir"`
	HTTPAddr  string    `yaml:"http_addr"`
	Log       Log       `yaml:"log"`
	Audit     fileAudit `yaml:"audit"`
	// Automation has no secrets: decoded as is.
	Automation Automation `yaml:"automation"`
	Store      Store      `yaml:"store"`
}

type fileAudit struct {
	Key          yaml.Node `yaml:"key"`
	KeyFile      string    `yaml:"key_file"`
	HeadInterval Duration  `yaml:"head_interval"`
}

type fileSlack struct {
	// The secrets themselves are decoded as nodes only to refuse them with
	// their line and the variable to use instead.
	BotToken          yaml.Node `yaml:"bot_token"`
	BotTokenFile      string    `yaml:"bot_token_file"`
	AppToken          yaml.Node `yaml:"app_token"`
	AppTokenFile      string    `yaml:"app_token_file"`
	SigningSecret     yaml.Node `yaml:"signing_secret"`
	SigningSecretFile string    `yaml:"signing_secret_file"`
	APIURL            string    `yaml:"api_url"`
	Mode              string    `yaml:"mode"`
	HTTPAddr          string    `yaml:"http_addr"`
	TeamID            string    `yaml:"team_id"`
	AppID             string    `yaml:"app_id"`
	DefaultChannel    string    `yaml:"default_channel"`
	DefaultMinSev     string    `yaml:"default_min_severity"`
	MessageInterval   Duration  `yaml:"message_interval"`
}

// Load builds the configuration: Default, then the YAML file at path (or,
// when path is "", the YAML in the variable InlineConfigVar), then the environment read through getenv, then secrets
// from the files named for them, read through readFile. A nil getenv or
// readFile means os.Getenv or os.ReadFile.
//
// It always returns the configuration it could build. When anything is wrong
// (an unreadable or malformed file, an unknown key, a literal secret in the
// file, a value Validate refuses) it also returns a *Problems listing every
// problem, with file line numbers and the variables values came from.
//
// Paths of secret files are used as given: a relative path is relative to
// the working directory, not to the configuration file.
func Load(path string, getenv func(string) string, readFile func(string) ([]byte, error)) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if readFile == nil {
		readFile = os.ReadFile
	}
	cfg := Default()
	var problems []string
	src := sources{lines: map[string]int{}, env: map[string]string{}, failed: map[string]bool{}, files: map[string]string{}}
	secretFiles := map[string]string{} // secret key -> file path from the YAML file

	inline := strings.TrimSpace(getenv(InlineConfigVar))
	switch {
	case path != "" && inline != "":
		problems = append(problems, fmt.Sprintf("both a config file (%s) and %s are given; give only one", path, InlineConfigVar))
	case path != "":
		data, err := readFile(path)
		if err != nil {
			problems = append(problems, fmt.Sprintf("read config file: %v", err))
		} else {
			problems = append(problems, decodeFile(data, &cfg, secretFiles, src)...)
		}
	case inline != "":
		// Where no file can be mounted (an ECS task), the file's content
		// comes in a variable; its problems read like a file's.
		for _, p := range decodeFile([]byte(inline), &cfg, secretFiles, src) {
			problems = append(problems, "config (from "+InlineConfigVar+"): "+p)
		}
	}

	for _, s := range envSettings() {
		if v := strings.TrimSpace(getenv(s.Name)); v != "" {
			s.set(&cfg, v)
			src.env[s.Key] = s.Name
		}
	}
	for _, s := range secretSettings() {
		if p := loadSecret(&cfg, s, secretFiles[s.key], getenv, readFile, src); p != "" {
			problems = append(problems, p)
			src.failed[s.key] = true
		}
	}

	normalize(&cfg)
	problems = append(problems, validate(cfg, src)...)
	if len(problems) > 0 {
		return cfg, &Problems{List: problems}
	}
	return cfg, nil
}

// decodeFile applies the YAML document in data to cfg. It records the file
// path given for each secret in secretFiles and the line of every key in
// lines, and returns the problems found: syntax, unknown keys, wrong types,
// literal secrets.
func decodeFile(data []byte, cfg *Config, secretFiles map[string]string, src sources) []string {
	lines := src.lines
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return []string{fmt.Sprintf("parse config file: %v", err)}
	}
	recordLines(&root, "", lines)

	fc := fileConfig{
		Slack: fileSlack{
			APIURL:          cfg.Slack.APIURL,
			Mode:            cfg.Slack.Mode,
			HTTPAddr:        cfg.Slack.HTTPAddr,
			TeamID:          cfg.Slack.TeamID,
			AppID:           cfg.Slack.AppID,
			DefaultChannel:  cfg.Slack.DefaultChannel,
			DefaultMinSev:   cfg.Slack.DefaultMinSeverity,
			MessageInterval: cfg.Slack.MessageInterval,
		},
		AWS: cfg.AWS, Ingest: cfg.Ingest, Delivery: cfg.Delivery, Enrich: cfg.Enrich, Routes: cfg.Routes,
		Roles: cfg.Roles, Responses: cfg.Responses, Digests: cfg.Digests,
		DataDir: cfg.DataDir, HTTPAddr: cfg.HTTPAddr, Log: cfg.Log,
		Audit:      fileAudit{HeadInterval: cfg.Audit.HeadInterval},
		Automation: cfg.Automation,
		Store:      cfg.Store,
	}
	var problems []string
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return []string{fmt.Sprintf("parse config file: %v", err)}
		}
		problems = append(problems, keyedTypeErrors(te.Errors, lines)...)
	}

	for _, s := range []struct {
		key  string
		node *yaml.Node
		file string
	}{
		{"slack.bot_token", &fc.Slack.BotToken, fc.Slack.BotTokenFile},
		{"slack.app_token", &fc.Slack.AppToken, fc.Slack.AppTokenFile},
		{"slack.signing_secret", &fc.Slack.SigningSecret, fc.Slack.SigningSecretFile},
		{"audit.key", &fc.Audit.Key, fc.Audit.KeyFile},
	} {
		if !placeholderSecret(s.node) {
			src.failed[s.key] = true
			env := envOfSecret(s.key)
			problems = append(problems, fmt.Sprintf(
				"line %d: %s: a secret may not be written in the config file; set the environment variable %s, or name a file holding it with %s_FILE or %s_file",
				s.node.Line, s.key, env, env, s.key))
		}
		if s.file != "" {
			secretFiles[s.key] = s.file
			lines[s.key] = lines[s.key+"_file"]
		}
	}

	// Type errors come in decoding order and refusals after them; list
	// them all in line order.
	slices.SortStableFunc(problems, func(a, b string) int { return cmp.Compare(lineOf(a), lineOf(b)) })

	cfg.Slack.APIURL = fc.Slack.APIURL
	cfg.Slack.Mode = fc.Slack.Mode
	cfg.Slack.HTTPAddr = fc.Slack.HTTPAddr
	cfg.Slack.TeamID = fc.Slack.TeamID
	cfg.Slack.AppID = fc.Slack.AppID
	cfg.Slack.DefaultChannel = fc.Slack.DefaultChannel
	cfg.Slack.DefaultMinSeverity = fc.Slack.DefaultMinSev
	cfg.Slack.MessageInterval = fc.Slack.MessageInterval
	cfg.AWS, cfg.Ingest, cfg.Delivery, cfg.Enrich, cfg.Routes = fc.AWS, fc.Ingest, fc.Delivery, fc.Enrich, fc.Routes
	cfg.Roles, cfg.Responses, cfg.Digests = fc.Roles, fc.Responses, fc.Digests
	cfg.DataDir, cfg.HTTPAddr, cfg.Log = fc.DataDir, fc.HTTPAddr, fc.Log
	cfg.Audit.HeadInterval = fc.Audit.HeadInterval
	cfg.Automation = fc.Automation
	cfg.Store = fc.Store
	return problems
}

// lineOf returns the line number a problem starts with ("line 7: ..."), or
// 0.
func lineOf(problem string) int {
	var n int
	if _, err := fmt.Sscanf(problem, "line %d:", &n); err != nil {
		return 0
	}
	return n
}

// recordLines records the line of every mapping key and sequence item under
// n, by dotted path: "ingest.workers", "routes[1].accounts[0]".
func recordLines(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			recordLines(c, path, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if path != "" {
				k = path + "." + k
			}
			lines[k] = n.Content[i].Line
			recordLines(n.Content[i+1], k, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			k := path + "[" + strconv.Itoa(i) + "]"
			lines[k] = c.Line
			recordLines(c, k, lines)
		}
	}
}

// loadSecret sets one secret from, in order of precedence, its variable, the
// file its _FILE variable names, or the file the YAML file names. It returns
// a problem, or "".
func loadSecret(cfg *Config, s secretSetting, yamlFile string, getenv func(string) string, readFile func(string) ([]byte, error), src sources) string {
	value := strings.TrimSpace(getenv(s.env))
	envFile := strings.TrimSpace(getenv(s.env + "_FILE"))
	switch {
	case value != "" && envFile != "":
		src.env[s.key] = s.env
		return fmt.Sprintf("%s: both %s and %s_FILE are set; set only one", s.key, s.env, s.env)
	case value != "":
		src.env[s.key] = s.env
		*s.field(cfg) = Secret(value)
		return ""
	case envFile != "":
		src.env[s.key] = s.env + "_FILE"
		return readSecret(cfg, s, envFile, readFile, src)
	case yamlFile != "":
		return readSecret(cfg, s, yamlFile, readFile, src)
	}
	return ""
}

// readSecret reads a secret from a file, trimming surrounding white space
// (files written by editors and echo end with a newline).
func readSecret(cfg *Config, s secretSetting, path string, readFile func(string) ([]byte, error), src sources) string {
	b, err := readFile(path)
	if err != nil {
		// The error of os.ReadFile names the path and the reason, never
		// the content.
		return src.label(s.key) + ": cannot read the secret file: " + err.Error()
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return fmt.Sprintf("%s: secret file %s is empty", src.label(s.key), path)
	}
	*s.field(cfg) = Secret(v)
	if src.files != nil {
		src.files[s.key] = path
	}
	return ""
}

// normalize fills in values that have an obvious complete form.
func normalize(c *Config) {
	if c.Slack.APIURL != "" && !strings.HasSuffix(c.Slack.APIURL, "/") {
		c.Slack.APIURL += "/"
	}
	for i := range c.Routes {
		if c.Routes[i].MinSeverity == "" {
			c.Routes[i].MinSeverity = "informational"
		}
	}
}
