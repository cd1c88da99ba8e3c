// Package config owns Picket's configuration: one Config value with
// defaults, loaded from an optional YAML file and then from environment
// variables, and validated at start-up so that every problem is listed at
// once rather than one per restart.
//
// Secrets (the Slack bot token, app-level token and signing secret) never
// come from the YAML file itself: they come from an environment variable or
// from a file named by one (SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE, or the
// file key slack.bot_token_file). They are held as Secret values, which print,
// marshal and log as "[redacted]", so that printing or logging a Config can
// never leak them. Config.Redacted renders the effective configuration for
// "picket config check".
//
// Where no file can be mounted (an ECS task), the file's YAML itself may come
// in the variable PICKET_CONFIG_YAML (InlineConfigVar). A value of the wrong
// kind is reported with its key and line ("line 2: ingest.workers: want a
// whole number, got text `lots`"), never with a Go type.
//
// Missing Slack tokens or queue URL are not configuration problems here:
// `picket run` decides what it can do without them (the demo when nothing at
// all is configured, otherwise it refuses to start). See
// Config.SlackConfigured and Config.AWSConfigured.
package config
