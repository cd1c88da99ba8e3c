package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/commands"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/store"
)

// TestAutoCommandAsRunWiresIt wires /picket auto as `picket run` does (the
// configured roles, the response service, the autopilot on the store) and
// checks: only a role granting the auto command may switch; off is stored
// and audited with who did it; a matching finding then gets a notice and
// no AWS change.
func TestAutoCommandAsRunWiresIt(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Roles = []config.Role{
		{Name: "admins", Users: []string{"U0ADMIN"}, Actions: []string{"*"}, Commands: []string{"auto"}},
		{Name: "viewers", Users: []string{"U0VIEW"}, Commands: []string{"status", "help"}},
	}
	rule := config.ExampleAutoRule()
	rule.Enabled = true
	cfg.Automation.Rules = []config.AutoRule{rule}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(cfg.DataDir, "picket.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv := awsfake.New(t)
	srv.AllowUnexpected()
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	svc, err := newResponses(context.Background(), cfg, srv.Config(), db, nil, nil, nil, log, appMetrics{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	pilot, err := startAutopilot(ctx, cfg, svc, db, nil, log, &wg, nil)
	if err != nil || pilot == nil {
		t.Fatalf("startAutopilot: %v, %v", pilot, err)
	}
	deps := commandDeps(cfg, db, nil, nil, nil)
	deps.Auto = pilot

	viewer, admin := picket.Actor{ID: "U0VIEW"}, picket.Actor{ID: "U0ADMIN"}
	if r := commands.Run(ctx, deps, viewer, "auto off"); r.Title != "Not allowed" {
		t.Fatalf("viewer: /picket auto off answered %q, want Not allowed", r.Title)
	}
	if sw, _ := db.AutoSwitch(); sw.Off {
		t.Fatal("a viewer switched automatic responses off")
	}
	r := commands.Run(ctx, deps, admin, "auto off")
	if !strings.Contains(r.Title, "switched off") {
		t.Fatalf("admin: /picket auto off answered %q %v", r.Title, r.Sections)
	}
	if sw, _ := db.AutoSwitch(); !sw.Off || sw.By.ID != admin.ID {
		t.Fatalf("stored switch %+v, want off by %s", sw, admin.ID)
	}
	entries, _ := db.RecentAudit(10)
	if !slices.ContainsFunc(entries, func(e picket.AuditEntry) bool { return e.Event == "auto_off" && e.Actor.ID == admin.ID }) {
		t.Errorf("audit %+v lacks auto_off by %s", entries, admin.ID)
	}

	// A matching finding now only gets a notice: nothing is planned for a
	// run, nothing is claimed.
	f := picket.Finding{Key: "gd:auto", ID: "auto", Source: picket.SourceGuardDuty, Type: "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
		Severity: picket.SeverityHigh, Account: "123456789012", Region: "us-east-1",
		Resources: []picket.Resource{{Kind: picket.ResourceIAMUser, ID: "alice"}}}
	if err := db.PutFinding(picket.FindingRecord{Finding: f, Ref: picket.MessageRef{Channel: "C1", TS: "1.1"}, Route: picket.Route{Channel: "C1"}}); err != nil {
		t.Fatal(err)
	}
	if err := pilot.Committed(ctx, []picket.Finding{f}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run decided", 10*time.Second, func() bool {
		runs, _ := db.AutoRunsSince(time.Time{})
		return len(runs) == 1 && !runs[0].Decided.IsZero()
	})
	runs, _ := db.AutoRunsSince(time.Time{})
	if runs[0].Mode != picket.AutoModeNotify || !strings.Contains(runs[0].Why, "U0ADMIN") {
		t.Errorf("run %+v, want a notify fall-back naming who switched off", runs[0])
	}
	if acts, _ := db.ActionsForFinding(f.Key); len(acts) != 0 {
		t.Errorf("actions %+v, want none while switched off", acts)
	}
	if r := commands.Run(ctx, deps, admin, "auto"); !strings.Contains(strings.Join(r.Sections, "\n"), "*Off*") {
		t.Errorf("/picket auto: %v, want Off", r.Sections)
	}
}
