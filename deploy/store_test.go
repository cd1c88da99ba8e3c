package deploy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// checkStoreTable returns what is wrong with the DynamoDB store table of
// module m when store_table is on: on-demand, keys pk and sk, TTL on
// "ttl", point-in-time recovery, encrypted with the module's KMS key, and
// the ECS task told to use it.
func checkStoreTable(m *module) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, "store: "+sprintf(format, args...)) }
	ctx, err := m.evalContext(map[string]cty.Value{"store_table": cty.True})
	if err != nil {
		return []string{err.Error()}
	}
	const table = "aws_dynamodb_table.store"
	b := m.resources[table]
	if b == nil {
		return []string{"no " + table}
	}
	if n, ok := count(ctx, b); !ok || n != 1 {
		fail("%s: got %d instances with store_table = true, want 1", table, n)
	}
	for name, want := range map[string]string{"billing_mode": "PAY_PER_REQUEST", "hash_key": "pk", "range_key": "sk", "name": "picket-state"} {
		if got, err := m.attrString(ctx, table, name); err != nil || got != want {
			fail("%s.%s: got %q (%v), want %q", table, name, got, err, want)
		}
	}
	if v, err := m.attr(ctx, b, "deletion_protection_enabled"); err != nil || !v.True() {
		fail("%s.deletion_protection_enabled: want true (%v)", table, err)
	}
	block := func(name string) *hclsyntax.Block {
		for _, nb := range b.Body.Blocks {
			if nb.Type == name {
				return nb
			}
		}
		return nil
	}
	value := func(nb *hclsyntax.Block, attr string) cty.Value {
		if nb == nil || nb.Body.Attributes[attr] == nil {
			return cty.NilVal
		}
		v, diags := nb.Body.Attributes[attr].Expr.Value(ctx)
		if diags.HasErrors() {
			return cty.NilVal
		}
		return v
	}
	isTrue := func(v cty.Value) bool { return v != cty.NilVal && v.Type() == cty.Bool && v.True() }
	isString := func(v cty.Value, want string) bool {
		return v != cty.NilVal && v.Type() == cty.String && v.AsString() == want
	}
	if ttl := block("ttl"); !isTrue(value(ttl, "enabled")) || !isString(value(ttl, "attribute_name"), "ttl") {
		fail("%s: want ttl on attribute \"ttl\", enabled", table)
	}
	if !isTrue(value(block("point_in_time_recovery"), "enabled")) {
		fail("%s: want point_in_time_recovery enabled", table)
	}
	sse := block("server_side_encryption")
	if !isTrue(value(sse, "enabled")) || !isString(value(sse, "kms_key_arn"), "aws_kms_key.store.arn") {
		fail("%s: want server_side_encryption enabled with aws_kms_key.store", table)
	}
	if a := m.locals["container_environment"]; a == nil {
		fail("no local container_environment")
	} else if v, diags := a.Expr.Value(ctx); diags.HasErrors() {
		fail("container_environment: %s", diags.Error())
	} else {
		found := map[string]string{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			found[e.GetAttr("name").AsString()] = e.GetAttr("value").AsString()
		}
		if found["PICKET_STORE_BACKEND"] != "dynamodb" || found["PICKET_STORE_TABLE"] != "picket-state" {
			fail("container environment: got %v, want PICKET_STORE_BACKEND dynamodb and PICKET_STORE_TABLE picket-state", found)
		}
	}
	return problems
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// TestStoreTable: the table Picket's replicas share, as Terraform creates
// it, and off by default.
func TestStoreTable(t *testing.T) {
	m := loadModule(t, mainModule)
	for _, p := range checkStoreTable(m) {
		t.Error(p)
	}
	ctx, err := m.evalContext(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"aws_dynamodb_table.store", "aws_kms_key.store", "aws_kms_alias.store"} {
		if n, ok := count(ctx, m.resources[k]); !ok || n != 0 {
			t.Errorf("%s: got %d instances by default, want 0 (bbolt is the default store)", k, n)
		}
	}
}

// TestStoreTableBroken proves the checks with broken copies of store.tf.
func TestStoreTableBroken(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(mainModule, "store.tf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, old, new, want string }{
		{"provisioned", `billing_mode                = "PAY_PER_REQUEST"`, `billing_mode                = "PROVISIONED"`, "billing_mode"},
		{"no point-in-time recovery", "point_in_time_recovery {\n    enabled = true", "point_in_time_recovery {\n    enabled = false", "point_in_time_recovery"},
		{"TTL on another attribute", `attribute_name = "ttl"`, `attribute_name = "expires"`, "ttl"},
		{"AWS-owned key", "kms_key_arn = aws_kms_key.store[0].arn", "kms_key_arn = null", "server_side_encryption"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(src), tt.old) {
				t.Fatalf("store.tf no longer contains %q: update this test", tt.old)
			}
			m, err := parseModule(mainModule, map[string]string{"store.tf": strings.Replace(string(src), tt.old, tt.new, 1)})
			if err != nil {
				t.Fatal(err)
			}
			problems := checkStoreTable(m)
			found := false
			for _, p := range problems {
				found = found || strings.Contains(p, tt.want)
			}
			if !found {
				t.Errorf("got problems %q, want one mentioning %q", problems, tt.want)
			}
		})
	}
}
