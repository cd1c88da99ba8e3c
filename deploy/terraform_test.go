package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

const (
	mainModule   = "terraform"
	memberModule = "terraform/member"
	policyFile   = "iam-policy.json"
)

// TestTerraformFmt runs `terraform fmt -check` when terraform is installed.
func TestTerraformFmt(t *testing.T) {
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not on PATH: `terraform fmt -check` skipped (TestHCLFormatted checks the layout with hclwrite)")
	}
	out, err := exec.Command(bin, "fmt", "-check", "-recursive", "-diff", mainModule).CombinedOutput()
	if err != nil {
		t.Errorf("terraform fmt -check -recursive %s: %v\n%s", mainModule, err, out)
	}
}

// TestHCLFormatted checks every .tf file is laid out as hclwrite, the
// formatter behind `terraform fmt`, lays it out, so the layout is checked
// even where terraform is not installed.
func TestHCLFormatted(t *testing.T) {
	for _, dir := range []string{mainModule, memberModule} {
		names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
		if err != nil || len(names) == 0 {
			t.Fatalf("no .tf files in %s (err %v)", dir, err)
		}
		for _, name := range names {
			t.Run(name, func(t *testing.T) {
				src, err := os.ReadFile(name)
				if err != nil {
					t.Fatal(err)
				}
				if got := hclwrite.Format(src); !bytes.Equal(got, src) {
					t.Errorf("%s is not formatted; formatted it reads:\n%s", name, got)
				}
			})
		}
	}
}

// TestReferencesDeclared: every reference in both modules names a declared
// variable, local, resource or data source.
func TestReferencesDeclared(t *testing.T) {
	for _, dir := range []string{mainModule, memberModule} {
		t.Run(dir, func(t *testing.T) {
			m := loadModule(t, dir)
			for _, p := range m.undeclaredReferences() {
				t.Error(p)
			}
		})
	}
}

// TestWiring checks the main module connects what the data flow needs.
func TestWiring(t *testing.T) {
	m := loadModule(t, mainModule)
	for _, p := range checkWiring(m) {
		t.Error(p)
	}
}

// TestWiringBroken proves the checks catch a broken copy of main.tf.
func TestWiringBroken(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(mainModule, "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		old, new string
		want     string // a problem that must be reported
	}{
		{
			name: "dead-letter queue renamed",
			old:  `resource "aws_sqs_queue" "dlq" {`, new: `resource "aws_sqs_queue" "dead_letters" {`,
			want: "undeclared resource aws_sqs_queue.dlq",
		},
		{
			name: "redrive to the queue itself",
			old:  "deadLetterTargetArn = aws_sqs_queue.dlq.arn", new: "deadLetterTargetArn = aws_sqs_queue.findings.arn",
			want: "redrive_policy.deadLetterTargetArn",
		},
		{
			name: "queue policy scoped to the account, not the topic",
			old:  `ArnEquals = { "aws:SourceArn" = aws_sns_topic.findings.arn }`, new: `StringEquals = { "aws:SourceAccount" = local.account_id }`,
			want: "aws:SourceArn",
		},
		{
			name: "subscription protocol",
			old:  `protocol  = "sqs"`, new: `protocol  = "lambda"`,
			want: "protocol",
		},
		{
			name: "subscription endpoint",
			old:  "endpoint  = aws_sqs_queue.findings.arn", new: "endpoint  = aws_sqs_queue.dlq.arn",
			want: "endpoint",
		},
		{
			name: "role policy not the policy file",
			old:  `policy = file("${path.module}/../iam-policy.json")`, new: `policy = jsonencode({ Version = "2012-10-17", Statement = [] })`,
			want: "iam-policy.json",
		},
		{
			name: "topic not encrypted",
			old:  "kms_master_key_id = aws_kms_key.findings.arn", new: "",
			want: "kms_master_key_id",
		},
		{
			name: "rule without a target",
			old:  "rule = aws_cloudwatch_event_rule.guardduty.name", new: "rule = aws_cloudwatch_event_rule.securityhub_imported.name",
			want: "aws_cloudwatch_event_rule.guardduty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Contains(src, []byte(tt.old)) {
				t.Fatalf("main.tf no longer contains %q: update this test", tt.old)
			}
			broken := strings.Replace(string(src), tt.old, tt.new, 1)
			m, err := parseModule(mainModule, map[string]string{"main.tf": broken})
			if err != nil {
				t.Fatal(err)
			}
			problems := append(m.undeclaredReferences(), checkWiring(m)...)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("got problems %q, want one mentioning %q", problems, tt.want)
			}
		})
	}
}

// checkWiring returns every way the main module's wiring is wrong.
func checkWiring(m *module) []string {
	ctx, err := m.evalContext(nil)
	if err != nil {
		return []string{fmt.Sprintf("evaluate module: %v", err)}
	}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	const (
		queue = "aws_sqs_queue.findings"
		dlq   = "aws_sqs_queue.dlq"
		topic = "aws_sns_topic.findings"
		key   = "aws_kms_key.findings"
		role  = "aws_iam_role.bot"
	)
	for _, k := range []string{queue, dlq, topic, key, role} {
		if m.resources[k] == nil {
			fail("resource %s is not declared", k)
		}
	}

	// Redrive: the queue sends what fails max_receive_count times to the DLQ.
	var redrive struct {
		DeadLetterTargetArn string
		MaxReceiveCount     json.Number
	}
	if err := jsonAttr(m, ctx, queue, "redrive_policy", &redrive); err != nil {
		fail("%v", err)
	} else {
		if got, want := redrive.DeadLetterTargetArn, dlq+".arn"; got != want {
			fail("%s redrive_policy.deadLetterTargetArn: got %q, want %q", queue, got, want)
		}
		if got, want := redrive.MaxReceiveCount.String(), "5"; got != want {
			fail("%s redrive_policy.maxReceiveCount: got %s, want %s (var.max_receive_count's default)", queue, got, want)
		}
	}
	for _, q := range []string{queue, dlq} {
		if v, err := m.attr(ctx, m.resources[q], "sqs_managed_sse_enabled"); err != nil || !v.True() {
			if _, kmsErr := m.attrString(ctx, q, "kms_master_key_id"); kmsErr != nil {
				fail("%s: no server-side encryption (sqs_managed_sse_enabled or kms_master_key_id)", q)
			}
		}
	}

	// The queue policy admits only the topic.
	var policy iamPolicy
	policyKey := findResource(m, ctx, "aws_sqs_queue_policy", "queue_url", queue+".id", queue+".url")
	if policyKey == "" {
		fail("no aws_sqs_queue_policy for %s", queue)
	} else if err := jsonAttr(m, ctx, policyKey, "policy", &policy); err != nil {
		fail("%v", err)
	} else {
		allows := 0
		for _, s := range policy.Statement {
			if s.Effect != "Allow" {
				continue
			}
			allows++
			arns := s.Condition["ArnEquals"]["aws:SourceArn"]
			if arns == nil {
				arns = s.Condition["ArnLike"]["aws:SourceArn"]
			}
			if !slices.Equal(arns, []string{topic + ".arn"}) {
				fail("%s statement %q: aws:SourceArn condition got %q, want exactly [%s.arn]", policyKey, s.Sid, arns, topic)
			}
			if !slices.Equal(s.Resource, []string{queue + ".arn"}) {
				fail("%s statement %q: Resource got %q, want [%s.arn]", policyKey, s.Sid, s.Resource, queue)
			}
		}
		if allows == 0 {
			fail("%s allows nothing: SNS cannot deliver", policyKey)
		}
	}

	// The subscription delivers the topic to the queue over SQS.
	subKey := findResource(m, ctx, "aws_sns_topic_subscription", "topic_arn", topic+".arn")
	if subKey == "" {
		fail("no aws_sns_topic_subscription for %s", topic)
	} else {
		if got, err := m.attrString(ctx, subKey, "protocol"); err != nil || got != "sqs" {
			fail("%s protocol: got %q (%v), want \"sqs\"", subKey, got, err)
		}
		if got, err := m.attrString(ctx, subKey, "endpoint"); err != nil || got != queue+".arn" {
			fail("%s endpoint: got %q (%v), want %s.arn", subKey, got, err, queue)
		}
	}

	// The topic is encrypted with the module's key, whose policy lets
	// EventBridge and SNS use it.
	if got, err := m.attrString(ctx, topic, "kms_master_key_id"); err != nil {
		fail("%s kms_master_key_id: %v", topic, err)
	} else if got != key+".arn" && got != key+".id" && !strings.HasPrefix(got, "aws_kms_alias.") {
		fail("%s kms_master_key_id: got %q, want %s", topic, got, key)
	}
	var keyPolicy iamPolicy
	if err := jsonAttr(m, ctx, key, "policy", &keyPolicy); err != nil {
		fail("%v", err)
	} else {
		for _, svc := range []string{"events.amazonaws.com", "sns.amazonaws.com"} {
			for _, action := range []string{"kms:GenerateDataKey*", "kms:Decrypt"} {
				if !keyPolicy.allows(svc, action) {
					fail("%s policy: %s may not %s", key, svc, action)
				}
			}
		}
	}
	topicPolicyKey := findResource(m, ctx, "aws_sns_topic_policy", "arn", topic+".arn")
	var topicPolicy iamPolicy
	if topicPolicyKey == "" {
		fail("no aws_sns_topic_policy for %s", topic)
	} else if err := jsonAttr(m, ctx, topicPolicyKey, "policy", &topicPolicy); err != nil {
		fail("%v", err)
	} else if !topicPolicy.allows("events.amazonaws.com", "sns:Publish") {
		fail("%s: EventBridge may not publish", topicPolicyKey)
	}

	// Every rule has a target: the topic.
	for _, k := range sortedKeys(m.resources) {
		if !strings.HasPrefix(k, "aws_cloudwatch_event_rule.") {
			continue
		}
		found := false
		for _, tk := range sortedKeys(m.resources) {
			if !strings.HasPrefix(tk, "aws_cloudwatch_event_target.") {
				continue
			}
			rule, err1 := m.attrString(ctx, tk, "rule")
			arn, err2 := m.attrString(ctx, tk, "arn")
			if err1 == nil && err2 == nil && rule == k+".name" && arn == topic+".arn" {
				found = true
			}
		}
		if !found {
			fail("%s has no target sending to %s", k, topic)
		}
	}

	// The bot's role has exactly deploy/iam-policy.json.
	want, err := os.ReadFile(policyFile)
	if err != nil {
		fail("read %s: %v", policyFile, err)
	}
	rolePolicy := findResource(m, ctx, "aws_iam_role_policy", "role", role+".id", role+".name")
	if rolePolicy == "" {
		fail("no aws_iam_role_policy for %s", role)
	} else if got, err := m.attrString(ctx, rolePolicy, "policy"); err != nil {
		fail("%v", err)
	} else if want != nil && got != string(want) {
		fail("%s policy is not exactly %s", rolePolicy, policyFile)
	}

	// Outputs the guide and the bot need.
	for _, name := range []string{"queue_url", "dlq_url", "bot_role_arn", "environment"} {
		if m.outputs[name] == nil {
			fail("output %s is not declared", name)
		}
	}
	if env, err := m.attr(ctx, m.outputs["environment"], "value"); err != nil {
		fail("output environment: %v", err)
	} else if !env.Type().IsObjectType() || !env.Type().HasAttribute("PICKET_QUEUE_URL") || !env.Type().HasAttribute("AWS_REGION") {
		fail("output environment: got %s, want an object with PICKET_QUEUE_URL and AWS_REGION", env.Type().FriendlyName())
	} else if got := env.GetAttr("PICKET_QUEUE_URL").AsString(); got != queue+".url" {
		fail("output environment.PICKET_QUEUE_URL: got %q, want %s.url", got, queue)
	}
	return problems
}

// TestPolicyFile checks deploy/iam-policy.json is an IAM policy document.
func TestPolicyFile(t *testing.T) {
	b, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatalf("the bot role's policy: %v", err)
	}
	var p iamPolicy
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s: %v", policyFile, err)
	}
	if p.Version != "2012-10-17" {
		t.Errorf("%s Version: got %q, want 2012-10-17", policyFile, p.Version)
	}
	if len(p.Statement) == 0 {
		t.Errorf("%s has no statements", policyFile)
	}
}

// TestMemberModule checks the responder role: trusted only by the bot role
// with the external id, granted the response statements of the policy
// file without any STS action.
func TestMemberModule(t *testing.T) {
	m := loadModule(t, memberModule)
	ctx, err := m.evalContext(map[string]cty.Value{
		"bot_role_arn": cty.StringVal("arn:aws:iam::111111111111:role/picket-bot"),
		"external_id":  cty.StringVal("ext-123"),
	})
	if err != nil {
		t.Fatal(err)
	}
	const role = "aws_iam_role.responder"

	var trust iamPolicy
	if err := jsonAttr(m, ctx, role, "assume_role_policy", &trust); err != nil {
		t.Fatal(err)
	}
	if len(trust.Statement) != 1 {
		t.Fatalf("trust policy statements: got %d, want 1", len(trust.Statement))
	}
	s := trust.Statement[0]
	if got, want := s.Principal["AWS"], []string{"arn:aws:iam::111111111111:role/picket-bot"}; !slices.Equal(got, want) {
		t.Errorf("trusted principal: got %q, want %q", got, want)
	}
	if got, want := s.Condition["StringEquals"]["sts:ExternalId"], []string{"ext-123"}; !slices.Equal(got, want) {
		t.Errorf("sts:ExternalId condition: got %q, want %q", got, want)
	}
	if got := s.Action; !slices.Equal(got, []string{"sts:AssumeRole"}) {
		t.Errorf("trust action: got %q, want [sts:AssumeRole]", got)
	}

	policyKey := findResource(m, ctx, "aws_iam_role_policy", "role", role+".id", role+".name")
	if policyKey == "" {
		t.Fatalf("no aws_iam_role_policy for %s", role)
	}
	var got iamPolicy
	if err := jsonAttr(m, ctx, policyKey, "policy", &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != "2012-10-17" {
		t.Errorf("responder policy Version: got %q, want 2012-10-17", got.Version)
	}
	// What the file grants under the Sid "Respond", less STS.
	b, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	var full iamPolicy
	if err := json.Unmarshal(b, &full); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range full.Statement {
		if s.Sid != "Respond" {
			continue
		}
		for _, a := range s.Action {
			if !strings.HasPrefix(strings.ToLower(a), "sts:") {
				want = append(want, a)
			}
		}
	}
	if len(want) == 0 {
		t.Fatalf("%s has no statement with Sid \"Respond\": the member module grants nothing", policyFile)
	}
	var granted []string
	for _, s := range got.Statement {
		granted = append(granted, s.Action...)
	}
	slices.Sort(want)
	slices.Sort(granted)
	if !slices.Equal(granted, want) {
		t.Errorf("responder policy actions:\n got %q\nwant %q", granted, want)
	}
}

// iamPolicy is an IAM policy document; single strings are read as lists.
type iamPolicy struct {
	Version   string
	Statement []iamStatement
}

type iamStatement struct {
	Sid       string
	Effect    string
	Principal map[string]stringList
	Action    stringList
	Resource  stringList
	Condition map[string]map[string]stringList
}

// allows reports whether an Allow statement gives the service principal the
// action (written the same way).
func (p iamPolicy) allows(service, action string) bool {
	for _, s := range p.Statement {
		if s.Effect == "Allow" && slices.Contains(s.Principal["Service"], service) && (slices.Contains(s.Action, action) || slices.Contains(s.Action, "*")) {
			return true
		}
	}
	return false
}

// stringList is a JSON string or list of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// jsonAttr evaluates a resource attribute holding a JSON document (a
// jsonencode() or file()) and decodes it into out.
func jsonAttr(m *module, ctx *hcl.EvalContext, key, name string, out any) error {
	s, err := m.attrString(ctx, key, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(s), out); err != nil {
		return fmt.Errorf("%s.%s: %w", key, name, err)
	}
	return nil
}

// findResource returns the first resource of type typ (in name order) whose
// attribute evaluates to one of want, or "".
func findResource(m *module, ctx *hcl.EvalContext, typ, attr string, want ...string) string {
	for _, k := range sortedKeys(m.resources) {
		if !strings.HasPrefix(k, typ+".") {
			continue
		}
		if got, err := m.attrString(ctx, k, attr); err == nil && slices.Contains(want, got) {
			return k
		}
	}
	return ""
}
