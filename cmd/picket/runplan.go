package main

import (
	"fmt"
	"io"

	"github.com/picketsec/picket/config"
)

// runMode is what `picket run` does with the configuration it loaded.
type runMode int

const (
	// runBot consumes the queue and posts to Slack.
	runBot runMode = iota
	// runDemo runs the demo: nothing at all is configured.
	runDemo
	// runStdout consumes the queue and prints alerts instead of posting
	// them, because --stdout asked for it.
	runStdout
	// runRefused does not start: something the bot needs is missing.
	runRefused
)

// runPlan decides what `picket run` does. The demo runs only when nothing
// at all is configured (no configuration file, no Slack secret, no queue):
// a first `docker run` shows Picket working. Anything configured means a
// deployment, and a deployment that lacks the queue or the Slack token
// would run and post nothing (a mis-keyed secret becoming a restart loop
// that looks healthy), so it is refused with every missing setting named.
// A queue without Slack prints alerts only when --stdout asks for it.
// configGiven is whether a configuration file (or its YAML in
// PICKET_CONFIG_YAML) was given.
func runPlan(cfg config.Config, configGiven, stdout bool) (runMode, []string) {
	s := cfg.Slack
	anything := configGiven || stdout || s.BotToken != "" || s.AppToken != "" || s.SigningSecret != "" || cfg.AWS.QueueURL != ""
	if !anything {
		return runDemo, nil
	}
	var missing []string
	if cfg.AWS.QueueURL == "" {
		missing = append(missing, "the findings queue: set PICKET_QUEUE_URL or aws.queue_url (the Terraform output queue_url)")
	}
	switch {
	case stdout && s.BotToken != "":
		missing = append(missing, "--stdout prints alerts instead of posting them, but a Slack bot token is set: drop one or the other")
	case !stdout && s.BotToken == "":
		missing = append(missing, "the Slack bot token: set SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE (or pass --stdout to print alerts here instead of posting them)")
	}
	switch {
	case len(missing) > 0:
		return runRefused, missing
	case stdout:
		return runStdout, nil
	}
	return runBot, nil
}

// refuseRun says why `picket run` does not start.
func refuseRun(w io.Writer, missing []string) {
	fmt.Fprintf(w, "picket run: not starting, because a deployment needs what is missing here:\n")
	for _, m := range missing {
		fmt.Fprintf(w, "- %s\n", m)
	}
	fmt.Fprintln(w, "`picket config check` prints the effective configuration; `picket demo` shows Picket without any setting.")
}
