// Command picket is the Picket bot: it turns AWS GuardDuty and Security Hub
// findings into Slack alerts that responders can act on.
//
// Usage:
//
//	picket run [--config FILE] [--stdout]         the bot (the demo when nothing at all is configured)
//	picket demo [--data-dir DIR]                  bundled sample events through the real pipeline, printed here
//	picket replay [--dry-run] [--json] [--config FILE] FILE...  feed SQS bodies from files (.ndjson: one per line; - for stdin)
//	picket config check [--config FILE]           list every configuration problem, show the effective config
//	picket version                                print the version
//	picket healthcheck [--addr HOST:PORT]         probe /healthz (for container health checks)
//	picket status [--addr HOST:PORT] [--config FILE]  queue and dead-letter queue depth, lag, outbox backlog
//	picket check [--json] [--account ID] [--region R]... [--config FILE] [CHECK-ID...]  posture checks
//	picket digest [--dry-run] [--name N] [--chart FILE] [--config FILE]  the daily digest now
//	picket audit verify [--head SEQ:HASH]... [--config FILE]  check the audit trail and logged chain heads
//	picket audit export [--since TIME] [--config FILE]  export the audit trail
//	picket store export [--config FILE]  every item of the store as JSON lines
//	picket store import [--config FILE]  load a store export into a new store
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	// The zone database, embedded: digest schedules name time zones and
	// the distroless image has no /usr/share/zoneinfo.
	_ "time/tzdata"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// env gives the process environment and standard streams to subcommands so
// tests can run them in-process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and something failed (a finding did not decode)
	exitUsage   = 2 // bad flags or configuration
	// exitIncomplete: picket check could not run every check (AccessDenied,
	// throttling, an unreachable service), so its report proves nothing
	// about the checks that did not run. A gate must not pass on it.
	exitIncomplete = 3
)

const usage = `picket: AWS security findings to Slack, with one-click response

Usage:
  picket run [--config FILE] [--stdout]
        run the bot; with nothing at all configured, the demo instead; --stdout
        prints alerts here instead of posting them to Slack
  picket demo [--data-dir DIR]
        replay bundled sample events through the real pipeline
  picket replay [--dry-run] [--json] [--config FILE] FILE...
        process SQS message bodies from files (- reads stdin)
  picket config check [--config FILE]
        validate the configuration and print it (secrets redacted)
  picket version
        print the version
  picket healthcheck [--addr HOST:PORT]
        exit 0 when the running bot's /healthz answers
  picket status [--addr HOST:PORT] [--config FILE]
        queue and dead-letter queue depth, the bot's lag, the outbox backlog (exit 1: queue unreachable)
  picket check [--json] [--account ID] [--region R]... [--config FILE] [CHECK-ID...]
        run posture checks (exit 1: a check failed, 3: one could not run)
  picket digest [--dry-run] [--name N] [--chart FILE] [--config FILE]
        build the daily digest now (--dry-run: print it, post nothing)
  picket audit verify [--head SEQ:HASH]... [--config FILE]
        check the audit trail's chain, and logged chain heads (exit 1 if broken)
  picket audit export [--since TIME] [--config FILE]
        print audit entries as JSON lines
  picket store export [--config FILE]
        print every item of the store (audit chain included) as JSON lines
  picket store import [--config FILE]
        load JSON lines from store export (stdin) into a new, empty store

Configuration: a YAML file (--config FILE, PICKET_CONFIG, or its YAML in
PICKET_CONFIG_YAML) and environment variables; see
deploy/picket.example.yaml and README.md.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, e, args[1:])
	case "demo":
		return cmdDemo(ctx, e, args[1:])
	case "replay":
		return cmdReplay(ctx, e, args[1:])
	case "config":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprintln(stderr, "usage: picket config check [--config FILE]")
			return exitUsage
		}
		return cmdConfigCheck(e, args[2:])
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "picket %s\n", version)
		return exitOK
	case "healthcheck":
		return cmdHealthcheck(ctx, e, args[1:])
	case "status":
		return cmdStatus(ctx, e, args[1:])
	case "audit":
		return cmdAudit(e, args[1:])
	case "store":
		return cmdStore(ctx, e, args[1:])
	case "check":
		return cmdCheck(ctx, e, args[1:])
	case "digest":
		return cmdDigest(ctx, e, args[1:])
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "picket: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
