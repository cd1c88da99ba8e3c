package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/commands"
)

// TestSuppressionsListsOneFinding: the record that holds the expiry of a
// suppressed finding says it covers only that finding, not its account.
func TestSuppressionsListsOneFinding(t *testing.T) {
	d, st, _, _ := newDeps(t)
	st.suppressions = append(st.suppressions, picket.Suppression{ID: "sup-one", OneFinding: true, FindingKey: "key-alice-1",
		Account: "123456789012", Region: "us-east-1", Reason: "known", Actor: picket.Actor{ID: "U2"},
		Created: now.Add(-time.Hour), Until: now.Add(time.Hour)})
	got := text(commands.Run(context.Background(), d, responder, "suppressions"))
	if !strings.Contains(got, "`sup-one`") || !strings.Contains(got, "matches only finding `key-alice-1`") {
		t.Errorf("got\n%s\nwant sup-one matching only finding key-alice-1", got)
	}
	if strings.Contains(got, "matches account `123456789012`, region") {
		t.Errorf("a one-finding suppression is described as matching its account:\n%s", got)
	}
}
