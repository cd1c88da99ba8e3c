package picket_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules enforces DESIGN.md section 2: only store imports bbolt,
// only bot and notifiers import slack-go, only cmd/picket imports cron, only metrics imports
// the Prometheus client, the
// root package imports only the standard library, and adapters talk through
// root types rather than to each other.
func TestImportRules(t *testing.T) {
	const mod = "github.com/picketsec/picket"
	out, err := exec.Command("go", "list", "-e", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// Direct imports of each package in the module (tests excluded).
	imports := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		imports[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, mod), "/")] = p.Imports
	}
	if len(imports) < 2 {
		t.Fatalf("go list found %d packages, want the whole module", len(imports))
	}

	only := map[string][]string{ // outside import prefix -> packages allowed to import it
		"go.etcd.io/bbolt":              {"store"},
		"github.com/slack-go/slack":     {"bot", "notifiers"},
		"github.com/robfig/cron":        {"cmd/picket"},
		"github.com/prometheus/":        {"metrics"},
		"github.com/aws/aws-sdk-go-v2/": {"ingest", "enrich", "actions", "posture", "notifiers", "cmd/picket", "internal/awsfake", "internal/fauxqs", "dynamo", "internal/dynalite"},
	}
	// Adapters that may import other module packages besides the root,
	// metrics and internal helpers.
	mayImport := map[string][]string{
		"bot":        {"commands"},
		"cmd/picket": {"*"},
	}
	for pkg, imps := range imports {
		for _, imp := range imps {
			for prefix, allowed := range only {
				if strings.HasPrefix(imp, prefix) && !hasPrefixIn(pkg, allowed) {
					t.Errorf("package %q imports %s; only %v may", pkg, imp, allowed)
				}
			}
			if pkg == "" && strings.Contains(imp, ".") {
				t.Errorf("root package imports %s; it may import only the standard library", imp)
			}
			if !strings.HasPrefix(imp, mod+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, mod+"/")
			if dep == "metrics" || strings.HasPrefix(dep, "internal/") || strings.HasPrefix(pkg, "internal/") {
				continue
			}
			allowed := mayImport[pkg]
			if len(allowed) > 0 && allowed[0] == "*" {
				continue
			}
			if !hasPrefixIn(dep, allowed) {
				t.Errorf("package %q imports %q; adapters talk through root types (DESIGN.md section 2)", pkg, dep)
			}
		}
	}
}

func hasPrefixIn(pkg string, list []string) bool {
	for _, p := range list {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}
