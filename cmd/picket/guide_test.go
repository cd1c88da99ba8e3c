package main

// This file walks docs/deploy.md as a script a reader pastes from the
// repository root, without running anything outside the process: every
// command block is parsed, and every path, Terraform variable and output,
// make target, picket flag and environment variable it names must exist;
// the configuration it writes must pass `picket config check` and let the
// person it names run /picket help and press a button.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/store"
)

const (
	guideFile = "../../docs/deploy.md"
	repoRoot  = "../.."
)

// fence is one fenced block of the guide.
type fence struct {
	lang string
	body string
	line int
}

// fencedBlocks returns the fenced blocks of md, their indentation (inside
// list items) removed, and the prose outside them.
func fencedBlocks(md string) (blocks []fence, prose string) {
	var cur *fence
	indent := ""
	var p strings.Builder
	for i, l := range strings.Split(md, "\n") {
		t := strings.TrimLeft(l, " ")
		switch {
		case cur == nil && strings.HasPrefix(t, "```"):
			cur = &fence{lang: strings.TrimPrefix(t, "```"), line: i + 1}
			indent = l[:len(l)-len(t)]
		case cur != nil && strings.HasPrefix(t, "```"):
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.body += strings.TrimPrefix(l, indent) + "\n"
		default:
			p.WriteString(l + "\n")
		}
	}
	return blocks, p.String()
}

// heredoc is a file a command block writes with cat > FILE <<EOF.
type heredoc struct {
	target string
	append bool
	quoted bool // <<'EOF': nothing in the body is expanded
	body   string
}

// shellLine is one command line of a block (continuations joined,
// heredoc bodies taken out).
type shellLine struct {
	text string
	line int
}

var heredocStart = regexp.MustCompile(`^cat (>>?) ([^ ]+) <<(-?)('?)([A-Za-z]+)'?$`)

// splitShell returns the command lines and heredocs of a sh block.
func splitShell(b fence) ([]shellLine, []heredoc, error) {
	var lines []shellLine
	var docs []heredoc
	raw := strings.Split(strings.TrimRight(b.body, "\n"), "\n")
	for i := 0; i < len(raw); i++ {
		l := raw[i]
		n := b.line + 1 + i
		for strings.HasSuffix(l, "\\") && i+1 < len(raw) {
			i++
			l = strings.TrimSuffix(l, "\\") + " " + strings.TrimSpace(raw[i])
		}
		if m := heredocStart.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			d := heredoc{target: m[2], append: m[1] == ">>", quoted: m[4] == "'"}
			end := slices.IndexFunc(raw[i+1:], func(s string) bool { return strings.TrimSpace(s) == m[5] })
			if end < 0 {
				return nil, nil, fmt.Errorf("line %d: heredoc %s never ends", n, m[5])
			}
			d.body = strings.Join(raw[i+1:i+1+end], "\n") + "\n"
			docs = append(docs, d)
			lines = append(lines, shellLine{text: "cat " + m[1] + " " + m[2], line: n})
			i += end + 1
			continue
		}
		if t := stripComment(l); strings.TrimSpace(t) != "" {
			lines = append(lines, shellLine{text: strings.TrimSpace(t), line: n})
		}
	}
	return lines, docs, nil
}

// stripComment removes a # comment outside quotes.
func stripComment(l string) string {
	var q byte
	for i := 0; i < len(l); i++ {
		switch c := l[i]; {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '\'' || c == '"':
			q = c
		case c == '#' && (i == 0 || l[i-1] == ' '):
			return l[:i]
		}
	}
	return l
}

// words splits a command line like a shell: quotes removed, $(...) kept
// whole inside its word.
func words(l string) []string {
	var out []string
	var cur strings.Builder
	var q byte
	depth := 0
	inWord := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case q != 0 && c == q && depth == 0:
			q = 0
		case q == 0 && depth == 0 && (c == '\'' || c == '"'):
			q, inWord = c, true
		case c == '$' && i+1 < len(l) && l[i+1] == '(' && q != '\'':
			depth++
			cur.WriteString("$(")
			i++
			inWord = true
		case c == ')' && depth > 0:
			depth--
			cur.WriteByte(c)
		case c == ' ' && q == 0 && depth == 0:
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// substitutions returns the commands inside $(...) of s.
func substitutions(s string) []string {
	var out []string
	for i := 0; i < len(s); i++ {
		if !strings.HasPrefix(s[i:], "$(") {
			continue
		}
		depth := 0
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 {
				out = append(out, s[i+2:j])
				i = j
				break
			}
		}
	}
	return out
}

// tfModule is what the guide may name of a Terraform module.
type tfModule struct {
	variables map[string]bool
	required  []string
	outputs   map[string]bool
}

func loadTF(t *testing.T, dir string) tfModule {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(repoRoot, dir, "*.tf"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no Terraform module in %s (%v)", dir, err)
	}
	m := tfModule{variables: map[string]bool{}, outputs: map[string]bool{}}
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := hclsyntax.ParseConfig(src, n, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", n, diags.Error())
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			switch {
			case b.Type == "variable" && len(b.Labels) == 1:
				m.variables[b.Labels[0]] = true
				if _, ok := b.Body.Attributes["default"]; !ok {
					m.required = append(m.required, b.Labels[0])
				}
			case b.Type == "output" && len(b.Labels) == 1:
				m.outputs[b.Labels[0]] = true
			}
		}
	}
	return m
}

// guide is the state of a walk through the guide.
type guide struct {
	t        *testing.T
	flags    map[string][]string // picket command -> its flags
	modules  map[string]tfModule // directory -> module
	targets  map[string]bool     // make targets
	top      map[string]bool     // names at the repository root
	env      map[string]bool     // variables Picket (or the AWS SDK) reads
	shell    map[string]bool     // shell variables the guide sets
	created  map[string]string   // files the guide writes -> their content
	later    map[string]bool     // files any block writes, for prose
	problems []string
}

func (g *guide) fail(line int, format string, args ...any) {
	g.problems = append(g.problems, fmt.Sprintf("docs/deploy.md:%d: ", line)+fmt.Sprintf(format, args...))
}

func newGuide(t *testing.T) *guide {
	g := &guide{
		t: t, flags: realFlags(t), modules: map[string]tfModule{}, targets: map[string]bool{},
		top: map[string]bool{}, env: map[string]bool{}, shell: map[string]bool{"HOME": true, "PWD": true},
		created: map[string]string{},
	}
	for _, dir := range []string{"deploy/terraform", "deploy/terraform/member"} {
		g.modules[dir] = loadTF(t, dir)
	}
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^([a-z][a-z-]*):`).FindAllStringSubmatch(string(mk), -1) {
		g.targets[m[1]] = true
	}
	entries, err := os.ReadDir(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	// What a build or a run leaves at the root (the binary, the data
	// directory) is ignored by git and not part of the repository.
	ignored := map[string]bool{}
	if gi, err := os.ReadFile(filepath.Join(repoRoot, ".gitignore")); err == nil {
		for _, line := range strings.Split(string(gi), "\n") {
			if name, ok := strings.CutPrefix(strings.TrimSpace(line), "/"); ok {
				ignored[strings.TrimSuffix(name, "/")] = true
			}
		}
	}
	for _, e := range entries {
		if !ignored[e.Name()] {
			g.top[e.Name()] = true
		}
	}
	g.top["bin"] = true // made by make build
	for _, v := range config.EnvVars() {
		g.env[v.Name] = true
	}
	// The configuration file's path (cmd/picket) and the AWS SDK's own.
	for _, v := range []string{"PICKET_CONFIG", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "HOME"} {
		g.env[v] = true
	}
	return g
}

// checkPath checks a path-like word: one starting with a name at the
// repository root (or one the guide creates) must exist or be created
// by an earlier step.
func (g *guide) checkPath(line int, word string, anyOrder bool) {
	p := strings.TrimPrefix(strings.TrimPrefix(word, "$PWD/"), "./")
	if p == "" || strings.ContainsAny(p, "$~`*<>{}[]|,;:'\"() ") || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "-") {
		return
	}
	p = strings.TrimSuffix(p, "/")
	first, _, _ := strings.Cut(p, "/")
	if !g.top[first] && g.created[first] == "" && !g.createdUnder(first) {
		return
	}
	if _, err := os.Stat(filepath.Join(repoRoot, p)); err == nil {
		return
	}
	if _, ok := g.created[p]; ok || g.createdUnder(p) || g.createdAbove(p) {
		return
	}
	if anyOrder && g.createdAnywhere(p) {
		return
	}
	g.fail(line, "%s does not exist (paths are relative to the repository root)", p)
}

func (g *guide) createdUnder(p string) bool {
	for c := range g.created {
		if strings.HasPrefix(c, p+"/") {
			return true
		}
	}
	return false
}

func (g *guide) createdAbove(p string) bool {
	for c := range g.created {
		if strings.HasPrefix(p, c+"/") {
			return true
		}
	}
	return false
}

// createdAnywhere is for prose, which may name a file a later step
// writes.
func (g *guide) createdAnywhere(p string) bool { return g.later[p] }

// checkEnv checks a variable the guide sets for Picket.
func (g *guide) checkEnv(line int, name string) {
	if !g.env[name] {
		g.fail(line, "%s: Picket reads no such environment variable", name)
	}
}

var assignment = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

// command checks one command line (and the commands of its
// substitutions).
func (g *guide) command(line int, text string) {
	for _, s := range substitutions(text) {
		g.command(line, s)
	}
	w := words(text)
	// Leading assignments: shell variables, or variables for the command.
	for len(w) > 0 {
		m := assignment.FindStringSubmatch(w[0])
		if m == nil {
			break
		}
		g.assign(line, m[1], len(w) == 1)
		w = w[1:]
	}
	if len(w) == 0 {
		return
	}
	for i, word := range w {
		g.checkPath(line, word, false)
		if _, v, ok := strings.Cut(word, "="); ok {
			g.checkPath(line, v, false)
		}
		if i > 0 && w[i-1] == ">" {
			g.created[word] = "(output)"
		}
	}
	switch w[0] {
	case "cd", "pushd", "popd":
		g.fail(line, "%q changes directory: every block is pasted from the repository root", text)
	case "export":
		for _, a := range w[1:] {
			if m := assignment.FindStringSubmatch(a); m != nil {
				g.checkEnv(line, m[1])
				g.shell[m[1]] = true
			}
		}
	case "terraform":
		g.terraform(line, w)
	case "bin/picket", "picket":
		g.picket(line, w[1:])
	case "make":
		for _, target := range w[1:] {
			if !g.targets[target] {
				g.fail(line, "make %s: no such target in the Makefile", target)
			}
			if target == "build" {
				g.created["bin/picket"] = "(binary)"
			}
		}
	case "mkdir":
		for _, a := range w[1:] {
			if !strings.HasPrefix(a, "-") {
				g.created[strings.TrimSuffix(a, "/")] = "(directory)"
			}
		}
	case "docker":
		g.docker(line, w[1:])
	case "kubectl":
		for i, a := range w {
			if a == "-f" && i+1 < len(w) {
				if _, err := os.Stat(filepath.Join(repoRoot, w[i+1])); err != nil {
					g.fail(line, "kubectl -f %s: %v", w[i+1], err)
				}
			}
			if v, ok := strings.CutPrefix(a, "--from-literal="); ok {
				name, _, _ := strings.Cut(v, "=")
				g.checkEnv(line, name)
			}
		}
	}
}

func (g *guide) assign(line int, name string, alone bool) {
	if alone && !strings.HasPrefix(name, "PICKET_") && !strings.HasPrefix(name, "SLACK_") && !strings.HasPrefix(name, "AWS_") {
		g.shell[name] = true // a shell variable of the guide's own
		return
	}
	g.checkEnv(line, name)
	if alone {
		g.shell[name] = true
	}
}

// terraform checks a terraform command: run from the root with -chdir,
// naming declared variables and outputs.
func (g *guide) terraform(line int, w []string) {
	dir := ""
	var rest []string
	for _, a := range w[1:] {
		if d, ok := strings.CutPrefix(a, "-chdir="); ok {
			dir = d
			continue
		}
		rest = append(rest, a)
	}
	m, ok := g.modules[dir]
	if !ok {
		g.fail(line, "%q: want -chdir=deploy/terraform (or deploy/terraform/member), so it runs from the repository root", strings.Join(w, " "))
		return
	}
	if len(rest) == 0 {
		return
	}
	var args []string
	for i := 1; i < len(rest); i++ {
		a := rest[i]
		if a == "-var" && i+1 < len(rest) {
			name, _, _ := strings.Cut(rest[i+1], "=")
			if !m.variables[name] {
				g.fail(line, "-var %s: %s declares no such variable", name, dir)
			}
			i++
			continue
		}
		if !strings.HasPrefix(a, "-") {
			args = append(args, a)
		}
	}
	if rest[0] == "output" && len(args) > 0 && !m.outputs[args[0]] {
		g.fail(line, "terraform output %s: %s declares no such output", args[0], dir)
	}
}

var picketCommands = map[string]bool{
	"run": true, "demo": true, "replay": true, "config": true, "version": true, "healthcheck": true,
	"check": true, "digest": true, "audit": true, "store": true,
}

// picket checks a picket command line: the command exists and every flag
// is one of its flag set's.
func (g *guide) picket(line int, args []string) {
	if len(args) == 0 {
		return
	}
	cmd := args[0]
	if !picketCommands[cmd] {
		g.fail(line, "picket %s: no such command", cmd)
		return
	}
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "-") || a == "-" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !slices.Contains(g.flags[cmd], name) {
			g.fail(line, "picket %s %s: no such flag (it has %q)", cmd, a, g.flags[cmd])
		}
	}
}

// docker checks docker run: the variables given to Picket, the host
// paths mounted, and the picket arguments after the image.
func (g *guide) docker(line int, w []string) {
	if len(w) == 0 || w[0] != "run" {
		return
	}
	withValue := map[string]bool{"-e": true, "--env": true, "-v": true, "--volume": true, "-p": true, "--name": true, "--user": true, "-u": true, "-w": true}
	for i := 1; i < len(w); i++ {
		a := w[i]
		switch {
		case a == "-e" || a == "--env":
			if i+1 < len(w) {
				name, _, _ := strings.Cut(w[i+1], "=")
				g.checkEnv(line, name)
			}
		case a == "-v" || a == "--volume":
			if i+1 < len(w) {
				host, _, _ := strings.Cut(w[i+1], ":")
				g.checkPath(line, host, false)
			}
		}
		if withValue[a] {
			i++
			continue
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		// The image; what follows is Picket's command line.
		if strings.HasPrefix(a, "picket:") || strings.HasPrefix(a, "ghcr.io/picketsec/picket") {
			g.picket(line, w[i+1:])
		}
		return
	}
}

// variables checks every $NAME a block uses is set by the guide or read
// from the environment.
func (g *guide) variables(line int, text string) {
	for _, m := range regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(text, -1) {
		if !g.shell[m[1]] {
			g.fail(line, "$%s is used before any step sets it", m[1])
		}
	}
}

// TestGuide walks docs/deploy.md.
func TestGuide(t *testing.T) {
	md, err := os.ReadFile(guideFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range walkGuide(t, string(md)) {
		t.Error(p)
	}
}

// TestGuideBroken proves the walk catches broken copies of the guide.
func TestGuideBroken(t *testing.T) {
	src, err := os.ReadFile(guideFile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"a step changes directory", "terraform -chdir=deploy/terraform init\n", "cd deploy/terraform\nterraform init\n", "changes directory"},
		{"terraform run from elsewhere", "terraform -chdir=deploy/terraform apply\n```", "terraform apply\n```", "-chdir"},
		{"an output that does not exist", "output -raw slack_secret_arn", "output -raw slack_secret", "no such output"},
		{"a variable that does not exist", "run_picket        = false", "run_picket_on     = false", "run_picket_on"},
		{"a variable in prose that does not exist", "`assign_public_ip = false`", "`public_ip = false`", "public_ip"},
		{"a flag that does not exist", "bin/picket run --config picket.yaml", "bin/picket run --conf picket.yaml", "--conf"},
		{"a flag in prose that does not exist", "`bin/picket replay --dry-run message.json`", "`bin/picket replay --dryrun message.json`", "--dryrun"},
		{"an environment variable Picket does not read", "-e PICKET_QUEUE_URL=", "-e PICKET_QUEUE=", "PICKET_QUEUE"},
		{"a path that does not exist", "apply -f deploy/kubernetes/picket.yaml", "apply -f deploy/kubernetes/picket.yml", "picket.yml"},
		{"a make target that does not exist", "make docker\n", "make image\n", "make image"},
		{"a variable used before it is set", "DETECTOR=$(aws guardduty list-detectors --query 'DetectorIds[0]' --output text)\naws guardduty create-sample-findings", "aws guardduty create-sample-findings", "$DETECTOR"},
		{"the config not expanded into the tfvars", "cat > deploy/terraform/picket.auto.tfvars <<EOF", "cat > deploy/terraform/picket.auto.tfvars <<'EOF'", "picket_config"},
		{"a config key that does not exist", "         external_id: \"choose-a-random-string\"\n   ```", "         externalid: \"choose-a-random-string\"\n   ```", "externalid"},
		{"a module argument that does not exist", "     external_id  = \"choose-a-random-string\"\n   }", "     externalid   = \"choose-a-random-string\"\n   }", "externalid"},
		{"the role may run no command", "    commands: [\"*\"]\n", "", "/picket help"},
		{"the role may press no button", "    actions: [\"*\"]\n", "    actions: [\"escalate\"]\n", "button suppress"},
		{"the config does not check", "  default_min_severity: low\n", "  default_min_severity: lowest\n", "config check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(src), tt.old) {
				t.Fatalf("docs/deploy.md no longer contains %q: update this test", tt.old)
			}
			problems := walkGuide(t, strings.Replace(string(src), tt.old, tt.new, 1))
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("got problems %q, want one mentioning %q", problems, tt.want)
			}
		})
	}
}

// walkGuide returns every problem of the guide md.
func walkGuide(t *testing.T, md string) []string {
	blocks, prose := fencedBlocks(md)
	g := newGuide(t)
	g.later = map[string]bool{}

	// What the blocks create, for prose that names it.
	for _, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		_, docs, _ := splitShell(b)
		for _, d := range docs {
			g.later[d.target] = true
		}
	}

	for _, b := range blocks {
		switch b.lang {
		case "sh":
			lines, docs, err := splitShell(b)
			if err != nil {
				g.fail(b.line, "%v", err)
				continue
			}
			di := 0
			for _, l := range lines {
				if strings.HasPrefix(l.text, "cat >") {
					d := docs[di]
					di++
					g.heredoc(l.line, d)
					continue
				}
				g.variables(l.line, l.text)
				g.command(l.line, l.text)
			}
		case "yaml":
			g.yamlBlock(b)
		case "hcl":
			g.hclBlock(b)
		case "", "text":
		default:
			g.fail(b.line, "block of %q: want sh, yaml, hcl or none", b.lang)
		}
	}
	g.prose(prose)

	cfgFile, ok := g.created["picket.yaml"]
	if !ok {
		return append(g.problems, "the guide writes no picket.yaml")
	}
	return append(g.problems, minimalConfigProblems(t, cfgFile)...)
}

// heredoc records a file a block writes and checks what it holds.
func (g *guide) heredoc(line int, d heredoc) {
	body := d.body
	if !d.quoted {
		for _, s := range substitutions(body) {
			w := words(s)
			if len(w) == 2 && w[0] == "cat" {
				content, ok := g.created[w[1]]
				if !ok {
					g.fail(line, "$(cat %s): no earlier step writes %s", w[1], w[1])
				}
				body = strings.Replace(body, "$("+s+")", strings.TrimSuffix(content, "\n"), 1)
				continue
			}
			g.command(line, s)
			body = strings.Replace(body, "$("+s+")", "EXPANDED", 1)
		}
	}
	if d.append {
		body = g.created[d.target] + body
	}
	g.created[d.target] = body
	if strings.HasSuffix(d.target, ".tfvars") {
		g.tfvars(line, d.target, body)
	}
	if strings.HasSuffix(d.target, ".yaml") {
		g.configDoc(line, body)
	}
}

// tfvars checks a variable file: valid HCL setting declared variables of
// its module, and picket_config holding the configuration the guide
// wrote.
func (g *guide) tfvars(line int, target, body string) {
	dir := path.Dir(target)
	m, ok := g.modules[dir]
	if !ok {
		g.fail(line, "%s: not in a module directory", target)
		return
	}
	f, diags := hclsyntax.ParseConfig([]byte(body), target, hcl.InitialPos)
	if diags.HasErrors() {
		g.fail(line, "%s is not valid HCL: %s", target, diags.Error())
		return
	}
	for name, a := range f.Body.(*hclsyntax.Body).Attributes {
		if !m.variables[name] {
			g.fail(line, "%s sets %s: %s declares no such variable", target, name, dir)
		}
		if name != "picket_config" {
			continue
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() || v.Type().FriendlyName() != "string" {
			g.fail(line, "%s: picket_config is not a string (%s)", target, diags.Error())
			continue
		}
		if got, want := strings.TrimSpace(v.AsString()), strings.TrimSpace(g.created["picket.yaml"]); got != want {
			g.fail(line, "%s: picket_config got %q, want picket.yaml's %q", target, got, want)
		}
	}
}

// configDoc checks a configuration (a file or a snippet) loads without a
// problem, with the Slack tokens and the queue set.
func (g *guide) configDoc(line int, doc string) {
	vars := map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1",
		"PICKET_QUEUE_URL":   "https://sqs.eu-west-1.amazonaws.com/123456789012/picket-findings",
		"PICKET_CONFIG_YAML": doc,
	}
	if _, err := config.Load("", func(k string) string { return vars[k] }, nil); err != nil {
		g.fail(line, "the configuration does not load: %v", err)
	}
}

func (g *guide) yamlBlock(b fence) { g.configDoc(b.line, b.body) }

// hclBlock checks a module block calls a module of this repository with
// its variables.
func (g *guide) hclBlock(b fence) {
	f, diags := hclsyntax.ParseConfig([]byte(b.body), "block", hcl.InitialPos)
	if diags.HasErrors() {
		g.fail(b.line, "not valid HCL: %s", diags.Error())
		return
	}
	for _, blk := range f.Body.(*hclsyntax.Body).Blocks {
		if blk.Type != "module" {
			continue
		}
		src, diags := blk.Body.Attributes["source"].Expr.Value(nil)
		if diags.HasErrors() {
			g.fail(b.line, "module source: %s", diags.Error())
			continue
		}
		_, dir, _ := strings.Cut(src.AsString(), ".git//")
		m, ok := g.modules[dir]
		if !ok {
			g.fail(b.line, "module source %s: no module of this repository", src.AsString())
			continue
		}
		for name := range blk.Body.Attributes {
			if name != "source" && !m.variables[name] {
				g.fail(b.line, "module %s: %s declares no variable %s", blk.Labels[0], dir, name)
			}
		}
		for _, name := range m.required {
			if _, ok := blk.Body.Attributes[name]; !ok {
				g.fail(b.line, "module %s: the required variable %s is not set", blk.Labels[0], name)
			}
		}
	}
}

// prose checks what the text between the blocks names in `code`:
// paths, environment variables, Terraform variables set as `name = value`
// and picket command lines.
func (g *guide) prose(text string) {
	envLike := regexp.MustCompile(`^(PICKET|SLACK)_[A-Z0-9_]+$`)
	tfSetting := regexp.MustCompile(`^([a-z_]+) = `)
	for i, l := range strings.Split(text, "\n") {
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(l, -1) {
			span := m[1]
			switch {
			case envLike.MatchString(span):
				g.checkEnv(i+1, span)
			case tfSetting.MatchString(span):
				name := tfSetting.FindStringSubmatch(span)[1]
				if !g.modules["deploy/terraform"].variables[name] {
					g.fail(i+1, "`%s`: deploy/terraform declares no variable %s", span, name)
				}
			case strings.HasPrefix(span, "picket ") || strings.HasPrefix(span, "bin/picket "):
				w := words(span)
				if len(w) > 1 && picketCommands[w[1]] {
					g.picket(i+1, w[1:])
					for _, word := range w[2:] {
						g.checkPath(i+1, word, true)
					}
				}
			default:
				g.checkPath(i+1, span, true)
			}
		}
	}
}

// checkMinimalConfig: the guide's picket.yaml passes `picket config
// check`, and its one user may run /picket help and posture and press
// the buttons; someone else may not.
func minimalConfigProblems(t *testing.T, doc string) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	dir := t.TempDir()
	file := filepath.Join(dir, "picket.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PICKET_DATA_DIR": dir, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1",
		"PICKET_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/picket-findings"}
	if code, _, errOut := runCLI(t, env, "config", "check", "--config", file); code != exitOK {
		fail("picket config check --config picket.yaml: exit %d\n%s", code, errOut)
	}
	cfg, _ := config.Load(file, func(k string) string { return env[k] }, nil)
	if len(cfg.Roles) == 0 || len(cfg.Roles[0].Users) == 0 {
		return append(problems, fmt.Sprintf("the guide's configuration names nobody: roles %+v", cfg.Roles))
	}
	named := picket.Actor{ID: cfg.Roles[0].Users[0]}
	other := picket.Actor{ID: "U0SOMEONEELSE"}

	allowed := commandAuthorizer(cfg.Roles)
	for _, cmd := range []string{"help", "posture", "status"} {
		if !allowed(named, cmd) {
			fail("/picket %s: %s is refused, want allowed", cmd, named.ID)
		}
		if allowed(other, cmd) {
			fail("/picket %s: %s is allowed, want refused", cmd, other.ID)
		}
	}

	// A button: the response service built as `picket run` builds it,
	// asked to plan on a stored finding.
	srv := awsfake.New(t)
	srv.AllowUnexpected()
	srv.On("sts", "GetCallerIdentity", awsfake.Reply(awsfake.QueryResult("GetCallerIdentity",
		`<Arn>arn:aws:iam::123456789012:user/picket</Arn><UserId>AIDA</UserId><Account>123456789012</Account>`)))
	db, err := store.Open(storePath(dir), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := picket.Finding{Key: "gd:1", ID: "1", Source: picket.SourceGuardDuty, Type: "UnauthorizedAccess:IAMUser/TorIPCaller",
		Title: "Tor", Severity: picket.SeverityHigh, Account: "123456789012", Region: "us-east-1", UpdatedAt: time.Now(),
		Resources: []picket.Resource{{Kind: picket.ResourceIAMUser, ID: "alice", ARN: "arn:aws:iam::123456789012:user/alice"}}}
	if err := db.PutFinding(picket.FindingRecord{Finding: f}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	svc, err := newResponses(context.Background(), cfg, srv.Config(), db, nil, nil, nil, log, appMetrics{})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []picket.ActionKind{picket.ActionSuppress, picket.ActionEscalate, picket.ActionDisableUser} {
		if _, err := svc.Prepare(context.Background(), named, kind, f.Key, "", ""); picket.ErrorCode(err) == picket.EUNAUTHORIZED {
			fail("button %s: %s is refused (%v), want allowed", kind, named.ID, err)
		}
		if _, err := svc.Prepare(context.Background(), other, kind, f.Key, "", ""); picket.ErrorCode(err) != picket.EUNAUTHORIZED {
			fail("button %s: %s got %v, want refused", kind, other.ID, err)
		}
	}
	return problems
}
