package notifiers

import (
	"fmt"
	"strings"
	"testing"
)

// TestProductLineOrder: most first, ties by name, at most 8 named.
func TestProductLineOrder(t *testing.T) {
	m := map[string]int{"Macie": 2, "Inspector": 5, "GuardDuty": 2, "Zed": 2, "Acme": 1}
	want := "• New by product: Inspector 5, GuardDuty 2, Macie 2, Zed 2, Acme 1"
	if got := productLine(m); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// A storm of findings each naming its own product.
	many := map[string]int{}
	for i := range 20000 {
		many[fmt.Sprintf("p%05d", i)] = 1 + i%3
	}
	got := productLine(many)
	if !strings.HasPrefix(got, "• New by product: p00002 3, p00005 3, ") || !strings.HasSuffix(got, ", 19992 more") {
		t.Errorf("got %q", got)
	}
}
