package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/internal/awsfake"
)

// TestEnrichMemberAccount: a finding in a member account is enriched with
// the member role's credentials; one in an unknown account says why there
// is no context.
func TestEnrichMemberAccount(t *testing.T) {
	srv := awsfake.New(t)
	srv.AllowUnexpected() // the enricher asks more than this test answers
	srv.On("sts", "GetCallerIdentity", awsfake.Reply(awsfake.QueryResult("GetCallerIdentity",
		`<Arn>arn:aws:iam::111111111111:user/picket</Arn><UserId>AIDA</UserId><Account>111111111111</Account>`)))
	srv.On("sts", "AssumeRole", awsfake.Reply(awsfake.QueryResult("AssumeRole", `<Credentials>
		<AccessKeyId>ASIAMEMBER</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>tok</SessionToken>
		<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
		<AssumedRoleUser><Arn>arn:aws:sts::222222222222:assumed-role/PicketResponder/picket-enrich</Arn><AssumedRoleId>AROA:e</AssumedRoleId></AssumedRoleUser>`)))
	var mu sync.Mutex
	var signed []string
	srv.On("iam", "GetUser", func(r *awsfake.Request) awsfake.Response {
		mu.Lock()
		signed = append(signed, r.Header.Get("Authorization"))
		mu.Unlock()
		return awsfake.QueryResult("GetUser", `<User><Path>/</Path><UserName>alice</UserName><UserId>AIDAALICE</UserId>
			<Arn>arn:aws:iam::222222222222:user/alice</Arn><CreateDate>2024-05-06T07:08:09Z</CreateDate></User>`)
	})
	cfg := config.Default()
	cfg.Responses.Accounts = []config.Account{{ID: "222222222222", RoleARN: "arn:aws:iam::222222222222:role/PicketResponder", ExternalID: "x"}}
	e := newEnricher(cfg, srv.Config(), slog.New(slog.NewTextHandler(io.Discard, nil)))

	f := &picket.Finding{Key: "k", Account: "222222222222", Region: "us-east-1",
		Resources: []picket.Resource{{Kind: picket.ResourceIAMUser, ID: "alice"}}}
	got := e.Enrich(context.Background(), f)
	if got.User == nil || got.User.UserName != "alice" {
		t.Fatalf("member account: user context %+v, missing %v; want alice", got.User, got.Missing)
	}
	mu.Lock()
	if len(signed) != 1 || !strings.Contains(signed[0], "Credential=ASIAMEMBER/") {
		t.Errorf("GetUser signatures = %q, want one with the member role's key", signed)
	}
	mu.Unlock()

	f.Account = "333333333333"
	got = e.Enrich(context.Background(), f)
	if got.User != nil || len(got.Missing) == 0 || !strings.Contains(strings.Join(got.Missing, " "), "333333333333") {
		t.Errorf("unknown account: user %+v, missing %v; want no context and a line naming the account", got.User, got.Missing)
	}
}
