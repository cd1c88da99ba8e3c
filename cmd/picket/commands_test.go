package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/commands"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/store"
)

// TestCommandWiring runs real commands over the real store with the
// configured roles, as `picket run` wires them.
func TestCommandWiring(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "picket.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := picket.Finding{Key: "k-wire", ID: "gd-wire", Source: picket.SourceGuardDuty, Title: "Tor caller <!here>",
		Severity: picket.SeverityHigh, Account: "123456789012", Region: "us-east-1", Type: "UnauthorizedAccess:IAMUser/TorIPCaller"}
	if err := db.PutFinding(picket.FindingRecord{Finding: f, Ref: picket.MessageRef{Channel: "C1", TS: "1.1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Audit(picket.AuditEntry{Event: "executed", Actor: picket.Actor{ID: "U0ALICE"}, Action: picket.ActionSuppress, Outcome: "succeeded"}); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Roles = []config.Role{
		{Name: "all", Users: []string{"U0ALICE"}, Commands: []string{"*"}},
		{Name: "lookups", Groups: []string{"S0ONCALL"}, Commands: []string{"finding"}},
	}
	deps := commandDeps(cfg, db, nil, nil, nil)
	ctx := context.Background()
	text := func(r commands.Reply) string { return r.Title + "\n" + strings.Join(r.Sections, "\n") }

	got := text(commands.Run(ctx, deps, picket.Actor{ID: "U0ALICE"}, "finding gd-wire"))
	if !strings.Contains(got, "Tor caller &lt;!here&gt;") {
		t.Errorf("finding by id: reply does not show the escaped title:\n%s", got)
	}
	got = text(commands.Run(ctx, deps, picket.Actor{ID: "U0ALICE"}, "audit 5"))
	if !strings.Contains(got, "U0ALICE") {
		t.Errorf("audit: reply does not show the entry:\n%s", got)
	}
	got = text(commands.Run(ctx, deps, picket.Actor{ID: "U0BOB", Groups: []string{"S0ONCALL"}}, "finding k-wire"))
	if !strings.Contains(got, "Tor caller") {
		t.Errorf("finding allowed through a group role: %s", got)
	}
	for _, cmd := range []string{"audit", "status"} {
		got = text(commands.Run(ctx, deps, picket.Actor{ID: "U0BOB", Groups: []string{"S0ONCALL"}}, cmd))
		if strings.Contains(got, "U0ALICE") || !strings.Contains(strings.ToLower(got), "not allowed") {
			t.Errorf("%s by a role without it: %s", cmd, got)
		}
	}
	got = text(commands.Run(ctx, deps, picket.Actor{ID: "U0EVE"}, "help"))
	if !strings.Contains(strings.ToLower(got), "not allowed") {
		t.Errorf("help for someone in no role: %s", got)
	}
}

// TestCommandScopeWiring: a role's accounts limit what its members see
// through the commands, as `picket run` wires them; a second role without
// accounts that grants the same command lifts the limit for that command
// only.
func TestCommandScopeWiring(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "picket.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, f := range []picket.Finding{
		{Key: "k-a", ID: "gd-a", Source: picket.SourceGuardDuty, Title: "In team A's account", Account: "111111111111", Region: "us-east-1"},
		{Key: "k-b", ID: "gd-b", Source: picket.SourceGuardDuty, Title: "In team B's account", Account: "222222222222", Region: "us-east-1"},
	} {
		if err := db.PutFinding(picket.FindingRecord{Finding: f}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.Roles = []config.Role{
		{Name: "team-a", Users: []string{"U0CAROL"}, Commands: []string{"*"}, Accounts: []string{"111111111111"}},
		{Name: "audit-all", Users: []string{"U0CAROL"}, Commands: []string{"audit"}},
	}
	cfg.Digests = []config.Digest{{Name: "daily", Channel: "C1", Accounts: []string{"111111111111"}}}
	deps := commandDeps(cfg, db, nil, nil, nil)
	carol := picket.Actor{ID: "U0CAROL"}

	tests := []struct {
		name    string
		cmd     string
		want    commands.Scope
		text    string
		holds   string
		notHold string
	}{
		{name: "own account", cmd: "finding", want: commands.Scope{Accounts: []string{"111111111111"}}, text: "finding k-a", holds: "In team A's account"},
		{name: "other account", cmd: "finding", want: commands.Scope{Accounts: []string{"111111111111"}}, text: "finding k-b", holds: "has not seen a finding with key or id k-b", notHold: "In team B's account"},
		{name: "command of a role without accounts", cmd: "audit", want: commands.Scope{All: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := deps.Scope(carol, tt.cmd); got.All != tt.want.All || !slices.Equal(got.Accounts, tt.want.Accounts) {
				t.Errorf("Scope(%s): got %+v, want %+v", tt.cmd, got, tt.want)
			}
			if tt.text == "" {
				return
			}
			r := commands.Run(context.Background(), deps, carol, tt.text)
			got := r.Title + "\n" + strings.Join(r.Sections, "\n")
			if !strings.Contains(got, tt.holds) || tt.notHold != "" && strings.Contains(got, tt.notHold) {
				t.Errorf("reply: got\n%s\nwant it to hold %q and not %q", got, tt.holds, tt.notHold)
			}
		})
	}
	if !slices.Equal(deps.DigestAccounts, []string{"111111111111"}) {
		t.Errorf("DigestAccounts: got %q, want the first digest's accounts", deps.DigestAccounts)
	}
}
