package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/event"
	"github.com/picketsec/picket/notifiers"
)

// body is one SQS message body read from a file, with where it came from.
type body struct {
	name string // file, or file:line for NDJSON
	data []byte
}

// readBodies reads every file: a .ndjson file holds one body per line, any
// other file one body; "-" reads standard input as one body.
func readBodies(stdin io.Reader, files []string) ([]body, error) {
	var out []body
	for _, f := range files {
		var data []byte
		var err error
		if f == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		if !strings.HasSuffix(f, ".ndjson") {
			out = append(out, body{f, data})
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20) // SQS bodies are at most 1 MiB
		for n := 1; sc.Scan(); n++ {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				out = append(out, body{fmt.Sprintf("%s:%d", f, n), bytes.Clone(line)})
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
	}
	return out, nil
}

// replayLine is one line of `replay --json` output: a finding and what
// Picket would show, or a file that did not decode.
type replayLine struct {
	File          string            `json:"file"`
	Key           string            `json:"key,omitempty"`
	ID            string            `json:"id,omitempty"`
	Source        picket.Source     `json:"source,omitempty"`
	Product       string            `json:"product,omitempty"`
	Type          string            `json:"type,omitempty"`
	Title         string            `json:"title,omitempty"`
	Severity      string            `json:"severity,omitempty"`
	SeverityScore *float64          `json:"severity_score,omitempty"`
	Account       string            `json:"account,omitempty"`
	Region        string            `json:"region,omitempty"`
	Resources     []picket.Resource `json:"resources,omitempty"`
	// The product-specific facts: Inspector's vulnerabilities, Macie's
	// data, IAM Access Analyzer's access.
	Vulnerabilities []picket.Vulnerability `json:"vulnerabilities,omitempty"`
	Data            *picket.DataFinding    `json:"data,omitempty"`
	Access          *picket.AccessFinding  `json:"access,omitempty"`
	Channel         string                 `json:"channel,omitempty"`
	Rule            string                 `json:"rule,omitempty"`
	Outcome         picket.Outcome         `json:"outcome,omitempty"`
	Text            string                 `json:"text,omitempty"`
	Blocks          any                    `json:"blocks,omitempty"`
	Error           string                 `json:"error,omitempty"`
	Code            string                 `json:"code,omitempty"`
}

func findingLine(file string, f *picket.Finding) replayLine {
	score := f.SeverityScore
	return replayLine{
		File: file, Key: f.Key, ID: f.ID, Source: f.Source, Product: f.Product, Type: f.Type, Title: f.Title,
		Severity: f.Severity.String(), SeverityScore: &score, Account: f.Account, Region: f.Region,
		Resources: f.Resources, Vulnerabilities: f.Vulnerabilities, Data: f.Data, Access: f.Access,
	}
}

func cmdReplay(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := configFlag(fs, e)
	dryRun := fs.Bool("dry-run", false, "decode, route and render only: no store, no Slack")
	asJSON := fs.Bool("json", false, "print one JSON object per finding (and per undecodable input)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(e.stderr, "usage: picket replay [--dry-run] [--json] FILE... (- reads stdin)")
		return exitUsage
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	bodies, err := readBodies(e.stdin, fs.Args())
	if err != nil {
		fmt.Fprintf(e.stderr, "picket: %v\n", err)
		return exitUsage
	}
	router, err := newRouter(cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "picket: %v\n", err)
		return exitUsage
	}

	var handle func(f *picket.Finding) (picket.Outcome, error)
	if !*dryRun {
		log := newLogger(e.stderr, cfg.Log)
		// Without Slack, alerts are printed; with --json they go to stderr
		// so standard output stays one JSON object per line.
		alerts := e.stdout
		if *asJSON {
			alerts = e.stderr
		}
		h, closeFn, err := newLocalPipeline(ctx, cfg, log, alerts)
		if err != nil {
			fmt.Fprintf(e.stderr, "picket: %v\n", err)
			return exitFailure
		}
		defer closeFn()
		handle = h
	}

	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	status := exitOK
	for _, b := range bodies {
		findings, err := event.Decode(b.data)
		if err != nil {
			status = exitFailure
			if *asJSON {
				enc.Encode(replayLine{File: b.name, Error: err.Error(), Code: picket.ErrorCode(err)})
			} else {
				fmt.Fprintf(e.stdout, "%s: %v\n", b.name, err)
			}
			continue
		}
		for i := range findings {
			f := &findings[i]
			line := findingLine(b.name, f)
			rt := router.Route(f)
			line.Channel, line.Rule = rt.Channel, rt.Rule
			alert := picket.Alert{Finding: f, Channel: rt.Channel, Mention: rt.Mention}
			if handle != nil {
				out, err := handle(f)
				if err != nil {
					status = exitFailure
					line.Error, line.Code = err.Error(), picket.ErrorCode(err)
				}
				line.Outcome = out
			}
			if !*asJSON {
				if handle == nil {
					fmt.Fprintf(e.stdout, "── %s → %s\n%s\n", b.name, channelOrNone(rt), notifiers.RenderText(alert))
				} else if line.Error != "" {
					fmt.Fprintf(e.stdout, "%s: %s: %s\n", b.name, f.Key, line.Error)
				}
				continue
			}
			msg := notifiers.Render(alert)
			line.Text, line.Blocks = msg.Text, msg.Blocks
			enc.Encode(line)
		}
	}
	return status
}

func channelOrNone(rt picket.Route) string {
	if rt.Channel == "" {
		return "not posted (below every route)"
	}
	return rt.Channel
}
