package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/store"
)

// TestResponsesWirePatch: the service `picket run` builds plans Patch
// instance through real per-account clients (EC2 and Systems Manager) and
// knows that Suppress can be undone and Patch cannot.
func TestResponsesWirePatch(t *testing.T) {
	srv := awsfake.New(t)
	srv.On("sts", "GetCallerIdentity", awsfake.Reply(awsfake.QueryResult("GetCallerIdentity",
		`<Arn>arn:aws:iam::123456789012:user/picket</Arn><UserId>AIDA</UserId><Account>123456789012</Account>`)))
	srv.On("ec2", "DescribeInstances", awsfake.Reply(awsfake.EC2Result("DescribeInstances",
		`<reservationSet><item><instancesSet><item><instanceId>i-0abc</instanceId><instanceState><code>16</code><name>running</name></instanceState></item></instancesSet></item></reservationSet>`)))
	srv.On("ssm", "DescribeInstanceInformation", awsfake.Reply(awsfake.JSONBody(map[string]any{"InstanceInformationList": []any{
		map[string]any{"InstanceId": "i-0abc", "PingStatus": "Online"}}})))
	db, err := store.Open(filepath.Join(t.TempDir(), "picket.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := picket.Finding{Key: "insp:1", ID: "arn:aws:inspector2:us-east-1:123456789012:finding/1", Source: picket.SourceInspector,
		Type: "PACKAGE_VULNERABILITY", Account: "123456789012", Region: "us-east-1",
		Resources:       []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: "i-0abc"}},
		Vulnerabilities: []picket.Vulnerability{{ID: "CVE-2023-38545", Packages: []picket.Package{{Name: "curl", Version: "1", FixedIn: "2", Manager: "OS"}}}}}
	if err := db.PutFinding(picket.FindingRecord{Finding: f}); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Roles = []config.Role{{Name: "r", Users: []string{"U0ALICE"}, Actions: []string{"patch_instance", "undo"}}}
	svc, err := newResponses(context.Background(), cfg, srv.Config(), db, nil, nil, nil, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), appMetrics{})
	if err != nil {
		t.Fatal(err)
	}
	alice := picket.Actor{ID: "U0ALICE"}
	plan, err := svc.Prepare(context.Background(), alice, picket.ActionPatchInstance, f.Key, "", "")
	if err != nil || plan.Refusal != "" || len(plan.Steps) != 2 || plan.Steps[0].Operation != "ssm:SendCommand" {
		t.Fatalf("patch plan = %+v, %v; want SendCommand then GetCommandInvocation", plan, err)
	}
	for _, tc := range []struct {
		kind picket.ActionKind
		want string // "" when it can be undone
	}{{picket.ActionPatchInstance, "cannot be undone"}, {picket.ActionSuppress, ""}} {
		rec := picket.ActionRecord{Request: picket.ActionRequest{ID: "act-" + string(tc.kind), Kind: tc.kind, FindingKey: f.Key,
			Account: f.Account, Region: f.Region, Target: f.Resources[0], Actor: alice}, Status: picket.OutcomeSucceeded,
			Result: &picket.ActionResult{Outcome: picket.OutcomeSucceeded, Evidence: []byte(`{"suppression":{"id":"sup-x","one_finding":true}}`)}}
		if _, _, err := db.ClaimAction(rec); err != nil {
			t.Fatal(err)
		}
		p, err := svc.Prepare(context.Background(), alice, picket.ActionUndo, "", "", rec.Request.ID)
		switch {
		case err != nil:
			t.Errorf("undo of %s: %v", tc.kind, err)
		case tc.want == "" && strings.Contains(p.Refusal, "cannot be undone"):
			t.Errorf("undo of %s refused: %s", tc.kind, p.Refusal)
		case tc.want != "" && !strings.Contains(p.Refusal, tc.want):
			t.Errorf("undo of %s: refusal %q, want %q", tc.kind, p.Refusal, tc.want)
		}
	}
}
