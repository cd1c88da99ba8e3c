package main

import (
	"context"
	"path/filepath"
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
