package notifiers_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/event"
	"github.com/picketsec/picket/notifiers"
)

// TestRenderCorpusGolden decodes real GuardDuty and Security Hub samples
// (testdata/corpus, copied from the shared corpus with their SOURCES.tsv
// lines) and pins down how their alerts render. A change in either the
// decoder or the renderer shows up here; review it and run with -update.
func TestRenderCorpusGolden(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 10 {
		t.Fatalf("got %d corpus files, want at least 10", len(paths))
	}
	sources := map[picket.Source]int{}
	kinds := map[picket.ResourceKind]int{}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			findings, err := event.Decode(body)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(findings) == 0 {
				t.Fatal("got no findings, want at least one")
			}
			for i := range findings {
				f := &findings[i]
				sources[f.Source]++
				for _, r := range f.Resources {
					kinds[r.Kind]++
				}
				golden := "corpus_" + name
				if len(findings) > 1 {
					golden += fmt.Sprintf("_%d", i)
				}
				a := picket.Alert{Finding: f, Channel: "C0SEC"}
				checkGolden(t, filepath.Join("testdata", "golden", golden+".json"), notifiers.Render(a))
				checkLimits(t, marshalMessage(t, notifiers.Render(a)))
			}
		})
	}
	// The sample set must keep covering both sources and the resources
	// that get response buttons.
	for _, s := range []picket.Source{picket.SourceGuardDuty, picket.SourceSecurityHub} {
		if sources[s] == 0 {
			t.Errorf("got no %s findings in the corpus samples, want some", s)
		}
	}
	for _, k := range []picket.ResourceKind{picket.ResourceEC2Instance, picket.ResourceIAMUser} {
		if kinds[k] == 0 {
			t.Errorf("got no %s resources in the corpus samples, want some", k)
		}
	}
}
