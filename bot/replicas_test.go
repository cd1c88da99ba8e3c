package bot_test

import (
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/bot"
	"github.com/picketsec/picket/store"
)

// failingLeases is a shared replay guard that cannot be reached.
type failingLeases struct{}

func (failingLeases) TakeLease(string, string, time.Time, time.Time) (bool, error) {
	return false, errors.New("table unreachable")
}
func (failingLeases) ReleaseLease(string, string) error { return nil }

// TestReplayRefusedByAnotherReplica: with the replay guard shared (the
// replicas' store), a signed request accepted by one replica and replayed
// to another is refused there; a guard that cannot be read refuses rather
// than risk a replay.
func TestReplayRefusedByAnotherReplica(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "picket.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	shared := func(o *bot.Options) { o.Replays = db }
	a, b := newEnv(t, nil, nil, shared), newEnv(t, nil, nil, shared)
	body := form(buttonPayload(t, bot.ActionDisableUser, "gd-key-1"))
	if resp := a.serve(sign(t, "/slack/interactions", body, testSecret, a.sent)); resp.Code != http.StatusOK {
		t.Fatalf("first request on replica a: got %d, want 200", resp.Code)
	}
	if resp := b.serve(sign(t, "/slack/interactions", body, testSecret, a.sent)); resp.Code != http.StatusUnauthorized {
		t.Errorf("the same request replayed to replica b: got %d, want 401", resp.Code)
	}
	a.bot.Wait()
	b.bot.Wait()
	if n := len(a.svc.Calls("Prepare")) + len(b.svc.Calls("Prepare")); n != 1 {
		t.Errorf("Prepare calls over both replicas: got %d, want 1", n)
	}
	// Another request is still accepted by b.
	other := form(buttonPayload(t, bot.ActionDisableUser, "gd-key-2"))
	if resp := b.serve(sign(t, "/slack/interactions", other, testSecret, a.sent)); resp.Code != http.StatusOK {
		t.Errorf("a new request on replica b: got %d, want 200", resp.Code)
	}

	c := newEnv(t, nil, nil, func(o *bot.Options) { o.Replays = failingLeases{} })
	if resp := c.serve(sign(t, "/slack/interactions", body, testSecret, c.sent)); resp.Code != http.StatusServiceUnavailable {
		t.Errorf("with the shared guard unreachable: got %d, want 503", resp.Code)
	}
	c.bot.Wait()
	if n := len(c.svc.Calls("Prepare")); n != 0 {
		t.Errorf("Prepare calls with the guard unreachable: got %d, want 0", n)
	}
}

var _ picket.LeaseStore = failingLeases{}
