package picket_test

import (
	"os/exec"
	"testing"
)

// TestGoModTidy fails when go.mod or go.sum is not what `go mod tidy`
// makes of them: a direct import marked // indirect, a module no longer
// used, a missing checksum. `make lint` runs the same check.
func TestGoModTidy(t *testing.T) {
	out, err := exec.Command("go", "mod", "tidy", "-diff").CombinedOutput()
	if err != nil {
		t.Errorf("go mod tidy -diff: %v; run go mod tidy:\n%s", err, out)
	}
}
