package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// commandArgs are the commands with flags, as typed before -h.
var commandArgs = [][]string{
	{"run"}, {"demo"}, {"replay"}, {"config", "check"}, {"healthcheck"}, {"status"}, {"check"}, {"digest"}, {"audit", "verify"}, {"audit", "export"}, {"store", "export"}, {"store", "import"},
}

// realFlags returns the flags each command's flag set defines, by
// command (its first word), read from what -h prints.
func realFlags(t *testing.T) map[string][]string {
	t.Helper()
	defined := regexp.MustCompile(`(?m)^\s+-([a-z][a-z-]*)`)
	flags := map[string][]string{}
	for _, args := range commandArgs {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(slices.Clone(args), "-h"), strings.NewReader(""), &out, &errb, func(string) string { return "" })
		if code != exitUsage {
			t.Fatalf("%s -h: exit %d, want %d", strings.Join(args, " "), code, exitUsage)
		}
		for _, m := range defined.FindAllStringSubmatch(errb.String(), -1) {
			flags[args[0]] = appendNew(flags[args[0]], m[1])
		}
		if len(flags[args[0]]) == 0 {
			t.Fatalf("%s -h lists no flag:\n%s", strings.Join(args, " "), errb.String())
		}
	}
	for k := range flags {
		sort.Strings(flags[k])
	}
	return flags
}

func appendNew(l []string, s string) []string {
	if slices.Contains(l, s) {
		return l
	}
	return append(l, s)
}

// helpFlags returns the flags each command's lines in text advertise:
// every "--flag" after "picket COMMAND" up to the end of the line or the
// next "picket ".
func helpFlags(lines []string) map[string][]string {
	cmd := regexp.MustCompile(`picket ([a-z]+)`)
	flag := regexp.MustCompile(`--([a-z][a-z-]*)`)
	flags := map[string][]string{}
	for _, l := range lines {
		locs := cmd.FindAllStringSubmatchIndex(l, -1)
		for i, loc := range locs {
			end := len(l)
			if i+1 < len(locs) {
				end = locs[i+1][0]
			}
			name := l[loc[2]:loc[3]]
			if _, ok := flags[name]; !ok {
				flags[name] = []string{}
			}
			for _, f := range flag.FindAllStringSubmatch(l[loc[1]:end], -1) {
				flags[name] = appendNew(flags[name], f[1])
			}
		}
	}
	for k := range flags {
		sort.Strings(flags[k])
	}
	return flags
}

// TestHelpMatchesFlags: the usage text, the package documentation and the
// README's command table advertise exactly the flags each command
// defines (help once offered `demo --json`, which does not exist).
func TestHelpMatchesFlags(t *testing.T) {
	real := realFlags(t)
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var usageLines, docLines, readmeLines []string
	for _, l := range strings.Split(usage, "\n") {
		if strings.HasPrefix(l, "  picket ") {
			usageLines = append(usageLines, l)
		}
	}
	for _, l := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(l, "//\tpicket ") {
			docLines = append(docLines, strings.TrimPrefix(l, "//\t"))
		}
	}
	for _, l := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(l, "| `picket ") {
			// The command column only.
			readmeLines = append(readmeLines, strings.SplitN(l, "` |", 2)[0])
		}
	}
	for _, tt := range []struct {
		name  string
		lines []string
	}{{"usage", usageLines}, {"main.go documentation", docLines}, {"README.md commands", readmeLines}} {
		t.Run(tt.name, func(t *testing.T) {
			help := helpFlags(tt.lines)
			for cmd, flags := range real {
				got, ok := help[cmd]
				if !ok {
					t.Errorf("picket %s is not listed", cmd)
					continue
				}
				if !slices.Equal(got, flags) {
					t.Errorf("picket %s: got flags %q, want the real ones %q", cmd, got, flags)
				}
			}
			for cmd, got := range help {
				if _, ok := real[cmd]; !ok && cmd != "version" && len(got) > 0 {
					t.Errorf("picket %s: advertises flags %q of a command without flags", cmd, got)
				}
			}
		})
	}
}
