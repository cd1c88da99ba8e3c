package deploy_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// slackMethods maps each slack-go client method Picket may call to the
// Slack Web API method behind it and the bot scopes that method needs
// (from the method's page at docs.slack.dev). A method not listed here
// fails TestManifestScopes until it is added.
var slackMethods = map[string]struct {
	api    string
	scopes []string
}{
	"PostMessage":                {"chat.postMessage", []string{"chat:write"}},
	"PostMessageContext":         {"chat.postMessage", []string{"chat:write"}},
	"UpdateMessage":              {"chat.update", []string{"chat:write"}},
	"UpdateMessageContext":       {"chat.update", []string{"chat:write"}},
	"PostEphemeral":              {"chat.postEphemeral", []string{"chat:write"}},
	"PostEphemeralContext":       {"chat.postEphemeral", []string{"chat:write"}},
	"DeleteMessageContext":       {"chat.delete", []string{"chat:write"}},
	"GetPermalinkContext":        {"chat.getPermalink", nil},
	"OpenView":                   {"views.open", nil},
	"OpenViewContext":            {"views.open", nil},
	"UpdateView":                 {"views.update", nil},
	"UpdateViewContext":          {"views.update", nil},
	"PushViewContext":            {"views.push", nil},
	"GetUserGroups":              {"usergroups.list", []string{"usergroups:read"}},
	"GetUserGroupsContext":       {"usergroups.list", []string{"usergroups:read"}},
	"GetUserGroupMembersContext": {"usergroups.users.list", []string{"usergroups:read"}},
	"GetUserInfoContext":         {"users.info", []string{"users:read"}},
	"GetUsersInfoContext":        {"users.info", []string{"users:read"}},
	"AuthTest":                   {"auth.test", nil},
	"AuthTestContext":            {"auth.test", nil},
	"JoinConversationContext":    {"conversations.join", []string{"channels:join"}},
	"GetConversationInfoContext": {"conversations.info", []string{"channels:read", "groups:read"}},
	// Delivery looks for a post interrupted by a crash in the channel's
	// history or the thread's replies (public and private channels).
	"GetConversationHistoryContext": {"conversations.history", []string{"channels:history", "groups:history"}},
	"GetConversationRepliesContext": {"conversations.replies", []string{"channels:history", "groups:history"}},
	"UploadFileV2Context":           {"files.getUploadURLExternal", []string{"files:write"}},
	"UploadFileContext":             {"files.getUploadURLExternal", []string{"files:write"}},
	"AddReactionContext":            {"reactions.add", []string{"reactions:write"}},
	// Socket Mode: apps.connections.open takes the app-level token, whose
	// scope (connections:write) is given when the token is created, not in
	// the manifest; acknowledgements go over the websocket.
	"Run":        {"apps.connections.open", nil},
	"RunContext": {"apps.connections.open", nil},
	"Ack":        {"(websocket)", nil},
	// Client plumbing that calls no API method.
	"Debug":   {"", nil},
	"Debugf":  {"", nil},
	"Debugln": {"", nil},
}

// TestManifestScopes: the app manifest grants every bot scope the Slack
// methods called from bot/ and notifiers/ need, and the slash command and
// Socket Mode the code serves.
func TestManifestScopes(t *testing.T) {
	clientMethods := map[string]bool{}
	for _, pkg := range []string{"github.com/slack-go/slack", "github.com/slack-go/slack/socketmode"} {
		for _, name := range exportedMethods(t, pkg) {
			clientMethods[name] = true
		}
	}
	if !clientMethods["PostMessageContext"] {
		t.Fatal("slack-go's methods were not found: the source scan is broken")
	}

	used := map[string][]string{} // method -> where
	for _, dir := range []string{"../bot", "../notifiers"} {
		for name, where := range slackCalls(t, dir, clientMethods) {
			used[name] = append(used[name], where...)
		}
	}
	for _, want := range []string{"PostMessageContext", "UpdateMessageContext"} {
		if used[want] == nil {
			t.Errorf("the scan found no call of %s in bot/ or notifiers/: the scan is broken", want)
		}
	}

	t.Logf("Slack client methods called: %v", sortedKeys(used))
	for _, p := range checkScopes(used, readManifest(t)) {
		t.Error(p)
	}
}

// TestManifestScopesMissing proves a manifest without a needed scope fails.
func TestManifestScopesMissing(t *testing.T) {
	m := readManifest(t)
	m.OAuthConfig.Scopes.Bot = slices.DeleteFunc(slices.Clone(m.OAuthConfig.Scopes.Bot), func(s string) bool { return s == "usergroups:read" })
	used := map[string][]string{"GetUserGroupsContext": {"groups.go:1"}}
	problems := checkScopes(used, m)
	if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, "usergroups:read") }) {
		t.Errorf("got problems %q, want one naming usergroups:read", problems)
	}
}

// checkScopes returns every scope the used methods need that the manifest
// does not grant, and every other gap in the manifest.
func checkScopes(used map[string][]string, m manifest) []string {
	var problems []string
	granted := m.OAuthConfig.Scopes.Bot
	for _, name := range sortedKeys(used) {
		info, ok := slackMethods[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s (called at %s) is not in slackMethods: add the Slack API method and its scopes", name, strings.Join(used[name], ", ")))
			continue
		}
		for _, s := range info.scopes {
			if !slices.Contains(granted, s) {
				problems = append(problems, fmt.Sprintf("%s calls %s, which needs the bot scope %s; deploy/slack-app-manifest.yaml grants %q", name, info.api, s, granted))
			}
		}
	}
	if len(m.Features.SlashCommands) > 0 && !slices.Contains(granted, "commands") {
		problems = append(problems, "the manifest declares slash commands but not the commands scope")
	}
	if !m.Settings.SocketModeEnabled {
		problems = append(problems, "settings.socket_mode_enabled: got false, want true (the guide's default set-up)")
	}
	if !m.Settings.Interactivity.IsEnabled {
		problems = append(problems, "settings.interactivity.is_enabled: got false, want true (the response buttons)")
	}
	if got := len(m.Features.SlashCommands); got != 1 || m.Features.SlashCommands[0].Command != "/picket" {
		problems = append(problems, fmt.Sprintf("slash commands: got %+v, want one, /picket", m.Features.SlashCommands))
	}
	return problems
}

type manifest struct {
	Features struct {
		SlashCommands []struct {
			Command string `yaml:"command"`
		} `yaml:"slash_commands"`
	} `yaml:"features"`
	OAuthConfig struct {
		Scopes struct {
			Bot []string `yaml:"bot"`
		} `yaml:"scopes"`
	} `yaml:"oauth_config"`
	Settings struct {
		Interactivity struct {
			IsEnabled bool `yaml:"is_enabled"`
		} `yaml:"interactivity"`
		SocketModeEnabled bool `yaml:"socket_mode_enabled"`
	} `yaml:"settings"`
}

func readManifest(t *testing.T) manifest {
	t.Helper()
	b, err := os.ReadFile("slack-app-manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("slack-app-manifest.yaml: %v", err)
	}
	return m
}

// exportedMethods lists the exported methods of the package's Client type,
// read from its source in the module cache.
func exportedMethods(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=Dir,GoFiles", pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var p struct {
		Dir     string
		GoFiles []string
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, name := range p.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 || !fn.Name.IsExported() {
				continue
			}
			recv := fn.Recv.List[0].Type
			if star, ok := recv.(*ast.StarExpr); ok {
				recv = star.X
			}
			if id, ok := recv.(*ast.Ident); ok && id.Name == "Client" {
				names = append(names, fn.Name.Name)
			}
		}
	}
	return names
}

// slackCalls finds, in the non-test Go files of dir, calls x.M(...) and
// interface methods M where M is a slack-go client method and x is not an
// imported package; it returns where each is used.
func slackCalls(t *testing.T, dir string, clientMethods map[string]bool) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string][]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		imports := map[string]bool{}
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			local := path[strings.LastIndex(path, "/")+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			imports[local] = true
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CallExpr:
				sel, ok := x.Fun.(*ast.SelectorExpr)
				if !ok || !clientMethods[sel.Sel.Name] {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && imports[id.Name] {
					return true // a package function such as strings.Join
				}
				pos := fset.Position(x.Pos())
				found[sel.Sel.Name] = append(found[sel.Sel.Name], filepath.Base(pos.Filename)+":"+strconv.Itoa(pos.Line))
			case *ast.InterfaceType:
				for _, m := range x.Methods.List {
					for _, n := range m.Names {
						if clientMethods[n.Name] {
							pos := fset.Position(n.Pos())
							found[n.Name] = append(found[n.Name], filepath.Base(pos.Filename)+":"+strconv.Itoa(pos.Line))
						}
					}
				}
			}
			return true
		})
	}
	return found
}
