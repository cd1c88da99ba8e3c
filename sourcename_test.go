package picket_test

import (
	"testing"

	"github.com/picketsec/picket"
)

func TestSourceName(t *testing.T) {
	for s, want := range map[picket.Source]string{
		picket.SourceGuardDuty: "GuardDuty", picket.SourceSecurityHub: "Security Hub", picket.SourceInspector: "Inspector",
		picket.SourceMacie: "Macie", picket.SourceAccessAnalyzer: "IAM Access Analyzer", "custom": "custom", "": "",
	} {
		if got := s.Name(); got != want {
			t.Errorf("Source(%q).Name() = %q, want %q", s, got, want)
		}
	}
}
