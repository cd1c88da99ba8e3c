package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/internal/dynalite"
	"github.com/picketsec/picket/store"
)

// TestAuditVerifyDynamoDB: with store.backend dynamodb, picket audit
// verify and export read the shared chain in the table, and a changed
// entry is found.
func TestAuditVerifyDynamoDB(t *testing.T) {
	srv := dynalite.Shared(t)
	table := srv.Table(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	env := map[string]string{"PICKET_STORE_BACKEND": "dynamodb", "PICKET_STORE_TABLE": table,
		"PICKET_STORE_ENDPOINT": srv.URL(), "AWS_REGION": dynalite.Region, "PICKET_DATA_DIR": t.TempDir()}
	cfg, err := config.Load("", func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := openStore(context.Background(), cfg, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for i := range 5 {
		if _, err := db.Audit(picket.AuditEntry{Time: base.Add(time.Duration(i) * time.Hour), Event: "executed",
			Actor: picket.Actor{ID: "U0ALICE"}, Outcome: "succeeded"}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	code, out, errOut := runCLI(t, env, "audit", "verify")
	if code != exitOK || !strings.Contains(out, "5 entries") {
		t.Fatalf("verify: exit %d, stdout %q, stderr %q; want 0 and 5 entries", code, out, errOut)
	}
	code, out, _ = runCLI(t, env, "audit", "export", "--since", "2026-11-22T11:00:00Z")
	if lines := strings.Count(out, "\n"); code != exitOK || lines != 3 {
		t.Fatalf("export --since: exit %d, %d lines; want 0 and 3:\n%s", code, lines, out)
	}

	// Change entry 3 behind Picket's back.
	c := srv.Client()
	k := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "audit"},
		"sk": &types.AttributeValueMemberS{Value: "00000000000000000003"}}
	got, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: k})
	if err != nil || len(got.Item) == 0 {
		t.Fatalf("read entry 3: %v", err)
	}
	v := got.Item["v"].(*types.AttributeValueMemberB).Value
	got.Item["v"] = &types.AttributeValueMemberB{Value: bytes.Replace(v, []byte(`"succeeded"`), []byte(`"failed"`), 1)}
	if _, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: got.Item}); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, env, "audit", "verify")
	if code != exitFailure || !strings.Contains(errOut, "entry 3") {
		t.Fatalf("verify after tampering: exit %d, stderr %q; want 1 naming entry 3", code, errOut)
	}
}
