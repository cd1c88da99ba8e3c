package auditseal

import (
	"fmt"
	"strings"
	"testing"

	"github.com/picketsec/picket"
)

// TestKeyedEntry: an "audit_keyed" entry is wanted exactly when a key is
// configured and the newest entry is not sealed with it (or there is none).
func TestKeyedEntry(t *testing.T) {
	for _, tt := range []struct {
		name  string
		keyID string
		head  picket.ChainHead
		want  bool
	}{
		{"no key", "", picket.ChainHead{Seq: 3}, false},
		{"empty trail", "k1", picket.ChainHead{}, true},
		{"unkeyed trail", "k1", picket.ChainHead{Seq: 3}, true},
		{"keyed with another key", "k1", picket.ChainHead{Seq: 3, KeyID: "k0"}, true},
		{"already keyed", "k1", picket.ChainHead{Seq: 3, KeyID: "k1"}, false},
	} {
		e, ok := KeyedEntry(tt.keyID, tt.head)
		if ok != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, ok, tt.want)
			continue
		}
		if ok && (e.Event != "audit_keyed" || !strings.Contains(e.Detail, "audit key "+tt.keyID+";") ||
			!strings.Contains(e.Detail, fmt.Sprintf("(up to %d)", tt.head.Seq))) {
			t.Errorf("%s: got %+v", tt.name, e)
		}
	}
}
