package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"slices"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/event"
	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/store"
)

// TestResponsesWireFixes: the response service `picket run` builds offers
// each fix button, in a member account through the responder role, to a
// role that names the fix; the fix's runbook reads AWS, and a dry run
// writes nothing.
func TestResponsesWireFixes(t *testing.T) {
	body, err := os.ReadFile("../../actions/testdata/imported_fsbp_EC2.7__asr.json")
	if err != nil {
		t.Fatal(err)
	}
	fs, err := event.Decode(body)
	if err != nil || len(fs) != 1 {
		t.Fatalf("decode: %v", err)
	}
	f := fs[0] // EC2.7 FAILED in account 111111111111, a member account here

	srv := awsfake.New(t)
	srv.On("sts", "GetCallerIdentity", awsfake.Reply(awsfake.QueryResult("GetCallerIdentity",
		`<Arn>arn:aws:iam::999999999999:role/picket</Arn><UserId>AROA</UserId><Account>999999999999</Account>`)))
	srv.On("sts", "AssumeRole", awsfake.Reply(awsfake.QueryResult("AssumeRole", `<Credentials>
		<AccessKeyId>ASIAMEMBER</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>tok</SessionToken>
		<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
		<AssumedRoleUser><Arn>arn:aws:sts::111111111111:assumed-role/PicketResponder/picket</Arn><AssumedRoleId>AROA:picket</AssumedRoleId></AssumedRoleUser>`)))
	var signedWith []string
	srv.On("ec2", "GetEbsEncryptionByDefault", func(r *awsfake.Request) awsfake.Response {
		signedWith = append(signedWith, r.Header.Get("Authorization"))
		return awsfake.EC2Result("GetEbsEncryptionByDefault", "<ebsEncryptionByDefault>false</ebsEncryptionByDefault>")
	})

	db, err := store.Open(t.TempDir()+"/picket.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PutFinding(picket.FindingRecord{Finding: f}); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Roles = []config.Role{{Name: "fixers", Users: []string{"U0ALICE"}, Actions: []string{string(picket.ActionFixEBSEncryption)}}}
	cfg.Responses.Accounts = []config.Account{{ID: "111111111111", RoleARN: "arn:aws:iam::111111111111:role/PicketResponder", ExternalID: "ext"}}
	cfg.Responses.DryRunActions = []string{string(picket.ActionFixEBSEncryption)}
	svc, err := newResponses(context.Background(), cfg, srv.Config(), db, nil, nil, nil, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), appMetrics{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	alice := picket.Actor{ID: "U0ALICE"}

	plan, err := svc.Prepare(ctx, alice, picket.ActionFixEBSEncryption, f.Key, "", "")
	if err != nil || plan.Refusal != "" {
		t.Fatalf("prepare: %v %q", err, plan.Refusal)
	}
	ops := func() []string {
		var out []string
		for _, s := range plan.Steps {
			out = append(out, s.Operation)
		}
		return out
	}()
	if want := []string{"ec2:GetEbsEncryptionByDefault", "ec2:EnableEbsEncryptionByDefault", "securityhub:BatchUpdateFindings"}; !slices.Equal(ops, want) {
		t.Errorf("plan steps %v, want %v", ops, want)
	}
	if want := []string{"sts:GetCallerIdentity", "sts:AssumeRole", "ec2:GetEbsEncryptionByDefault"}; !slices.Equal(srv.Operations(), want) {
		t.Errorf("calls %v, want %v", srv.Operations(), want)
	}
	if len(signedWith) != 1 || !bytes.Contains([]byte(signedWith[0]), []byte("Credential=ASIAMEMBER/")) {
		t.Errorf("the read was not signed with the member role's key: %q", signedWith)
	}
	res, err := svc.Run(ctx, plan.Request.ID, alice, picket.RunInput{})
	if err != nil || res.Outcome != picket.OutcomeDryRunned {
		t.Fatalf("run: %v, outcome %s (%s), want a dry run", err, res.Outcome, res.Summary)
	}
	for _, op := range srv.Operations() {
		if op == "ec2:EnableEbsEncryptionByDefault" || op == "securityhub:BatchUpdateFindings" {
			t.Errorf("dry run called %s", op)
		}
	}
	// Every fix kind is wired, and a fix the finding does not call for is
	// refused before any call; a role that does not name a fix is denied.
	for _, k := range picket.FixKinds {
		if k == picket.ActionFixEBSEncryption {
			continue
		}
		before := len(srv.Operations())
		_, err := svc.Prepare(ctx, alice, k, f.Key, "", "")
		if picket.ErrorCode(err) != picket.EINVALID || len(srv.Operations()) != before {
			t.Errorf("%s on an EC2.7 finding: got %v and %d calls, want refused as not applying, no call", k, err, len(srv.Operations())-before)
		}
	}
	cfg.Roles[0].Actions = []string{"suppress"}
	svc2, _ := newResponses(context.Background(), cfg, srv.Config(), db, nil, nil, nil, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), appMetrics{})
	if _, err := svc2.Prepare(ctx, alice, picket.ActionFixEBSEncryption, f.Key, "", ""); picket.ErrorCode(err) != picket.EUNAUTHORIZED {
		t.Errorf("a role without the fix: got %v, want refused", err)
	}
}
