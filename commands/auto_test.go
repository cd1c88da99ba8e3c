package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/commands"
)

// fakeAuto is an in-memory kill switch.
type fakeAuto struct {
	st    picket.AutoStatus
	calls []string
}

func (f *fakeAuto) Status() (picket.AutoStatus, error) { return f.st, nil }

func (f *fakeAuto) SetSwitch(a picket.Actor, on bool) (picket.AutoStatus, error) {
	f.calls = append(f.calls, a.ID)
	f.st.Switch = picket.AutoSwitch{Off: !on, By: a, At: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	return f.st, nil
}

func TestAutoCommand(t *testing.T) {
	d, _, _, _ := newDeps(t)
	auto := &fakeAuto{st: picket.AutoStatus{Rules: []picket.AutoRuleStatus{
		{Name: "malicious-ip-caller", Enabled: true, Mode: picket.AutoModeAuto, Actions: []picket.ActionKind{picket.ActionDisableUser, picket.ActionEscalate}, Budget: 5, LastHour: 2},
		{Name: "tor", Mode: picket.AutoModeNotify, Actions: []picket.ActionKind{picket.ActionSuppress}},
	}}}
	d.Auto = auto
	ctx := context.Background()

	r := commands.Run(ctx, d, responder, "auto")
	got := text(r)
	for _, w := range []string{"*On*", "`malicious-ip-caller` · enabled · auto: Disable user, then Escalate to Detective · 2 of 5 this hour", "`tor` · disabled · notify: Suppress"} {
		if !strings.Contains(got, w) {
			t.Errorf("status lacks %q:\n%s", w, got)
		}
	}
	r = commands.Run(ctx, d, responder, "auto off")
	if got := text(r); !strings.Contains(got, "switched off") || !strings.Contains(got, "*Off*") || !strings.Contains(got, "by <@U0RESP>") {
		t.Errorf("auto off:\n%s", got)
	}
	if len(auto.calls) != 1 || auto.calls[0] != responder.ID {
		t.Errorf("SetSwitch calls = %v, want one by %s", auto.calls, responder.ID)
	}
	r = commands.Run(ctx, d, responder, "auto sideways")
	if got := text(r); !strings.Contains(got, "/picket auto [status|on|off]") {
		t.Errorf("bad word: want the usage, got\n%s", got)
	}
	if len(auto.calls) != 1 {
		t.Errorf("a bad word switched: %v", auto.calls)
	}
	auto.st.ConfigOff = true
	if got := text(commands.Run(ctx, d, responder, "auto status")); !strings.Contains(got, "automation.paused") {
		t.Errorf("config pause not shown:\n%s", got)
	}
	// Authorization comes first.
	r = commands.Run(ctx, d, picket.Actor{ID: "UNOBODY"}, "auto off")
	if r.Title != "Not allowed" || len(auto.calls) != 1 {
		t.Errorf("unauthorized auto off: %q, calls %v", r.Title, auto.calls)
	}
	d.Auto = nil
	if got := text(commands.Run(ctx, d, responder, "auto")); !strings.Contains(got, "Automatic responses is not available") {
		t.Errorf("no autopilot:\n%s", got)
	}
}
