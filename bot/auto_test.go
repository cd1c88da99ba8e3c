package bot_test

import (
	"encoding/json"
	"net/http"
	"testing"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/bot"
	"github.com/picketsec/picket/notifiers"
)

// TestRuleNoticeRunButtons clicks the Run button of an automatic rule's
// notice, a reply in the alert's thread, for every action a rule may
// take: each plans that action for the person who clicked (so their role
// decides), exactly as the alert's own button does; nothing runs before
// they confirm.
func TestRuleNoticeRunButtons(t *testing.T) {
	const threadTS = "1693616242.466609" // the corpus thread click's thread, in C111
	recs := records{findings: map[string]picket.FindingRecord{
		"gd-key-1": {Finding: picket.Finding{Key: "gd-key-1"}, Ref: picket.MessageRef{Channel: "C111", TS: threadTS}},
	}}
	for _, kind := range []picket.ActionKind{picket.ActionDisableUser, picket.ActionQuarantineInstance,
		picket.ActionRevokeSessions, picket.ActionSuppress, picket.ActionEscalate} {
		t.Run(string(kind), func(t *testing.T) {
			m := readCorpus(t, corpusThread)
			act := m["actions"].([]any)[0].(map[string]any)
			act["action_id"], act["value"] = notifiers.RunActionID(kind), "gd-key-1"
			payload, _ := json.Marshal(m)
			e := newEnv(t, nil, nil, func(o *bot.Options) { o.Records = recs })
			if resp := e.interact(t, payload); resp.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.Code)
			}
			e.bot.Wait()
			prep := e.svc.Calls("Prepare")
			if len(prep) != 1 || prep[0].Kind != kind || prep[0].FindingKey != "gd-key-1" || prep[0].Actor.ID == "" {
				t.Fatalf("Prepare calls: got %+v, want one for %s by the clicker", prep, kind)
			}
			if _, isRule := prep[0].Actor.Rule(); isRule {
				t.Errorf("planned as %q, want the person who clicked", prep[0].Actor.ID)
			}
			if n := len(e.svc.Calls("Run")); n != 0 {
				t.Errorf("Run calls before confirmation: %d", n)
			}
		})
	}
}
