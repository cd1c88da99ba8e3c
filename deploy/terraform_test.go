package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
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
			old:  `policy = jsonencode(jsondecode(templatefile("${path.module}/../iam-policy.json", local.bot_policy_values)))`, new: `policy = jsonencode({ Version = "2012-10-17", Statement = [] })`,
			want: "iam-policy.json",
		},
		{
			name: "role policy with its placeholders left in",
			old:  `policy = jsonencode(jsondecode(templatefile("${path.module}/../iam-policy.json", local.bot_policy_values)))`, new: `policy = file("${path.module}/../iam-policy.json")`,
			want: "iam-policy.json",
		},
		{
			name: "role policy rendered for another queue",
			old:  "queue_arn            = aws_sqs_queue.findings.arn", new: "queue_arn            = aws_sqs_queue.dlq.arn",
			want: "iam-policy.json",
		},
		{
			name: "queue deny lets another source through",
			old:  `{ ArnNotEquals = { "aws:SourceArn" = aws_sns_topic.findings.arn } }`, new: `{ ArnNotEquals = { "aws:SourceArn" = aws_sqs_queue.dlq.arn } }`,
			want: "DenyOtherSenders",
		},
		{
			name: "queue deny turned into an allow",
			old:  "Sid       = \"DenyOtherSenders\"\n        Effect    = \"Deny\"", new: "Sid       = \"DenyOtherSenders\"\n        Effect    = \"Allow\"",
			want: "denies no sender",
		},
		{
			name: "queue deny narrowed by another condition",
			old:  `{ ArnNotEquals = { "aws:SourceArn" = aws_sns_topic.findings.arn } },`, new: `{ ArnNotEquals = { "aws:SourceArn" = aws_sns_topic.findings.arn }, StringEquals = { "aws:SourceAccount" = local.account_id } },`,
			want: "StringEquals",
		},
		{
			name: "topic deny of other sources turned into an allow",
			old:  "Sid       = \"DenyOtherSources\"\n        Effect    = \"Deny\"", new: "Sid       = \"DenyOtherSources\"\n        Effect    = \"Allow\"",
			want: "aws:SourceArn",
		},
		{
			name: "topic deny of other accounts names another account",
			old:  `Condition = { StringNotEquals = { "aws:SourceAccount" = local.account_id } }`, new: `Condition = { StringNotEquals = { "aws:SourceAccount" = "999999999999" } }`,
			want: "aws:SourceAccount",
		},
		{
			name: "topic deny misses a rule",
			old:  "[aws_cloudwatch_event_rule.guardduty.arn, aws_cloudwatch_event_rule.securityhub_imported.arn],", new: "[aws_cloudwatch_event_rule.guardduty.arn],",
			want: "aws_cloudwatch_event_rule.securityhub_imported.arn",
		},
		{
			name: "topic allow from any rule of the account",
			old:  `ArnEquals    = { "aws:SourceArn" = local.rule_arns }`, new: "",
			want: "EventBridgePublishes",
		},
		{
			name: "ECS tasks of any account",
			old: `StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:ecs:*:${local.account_id}:*" }`,
			new:  `ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:ecs:*:*:*" }`,
			want: "ecs-tasks.amazonaws.com",
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
		// Every other sender is denied: a Deny for everyone whose only
		// condition is that the source is not the topic.
		checkDenyOthers(fail, policyKey, policy, "sqs:SendMessage", queue+".arn", "ArnNotEquals", "aws:SourceArn", []string{topic + ".arn"})
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
	} else {
		if !topicPolicy.allows("events.amazonaws.com", "sns:Publish") {
			fail("%s: EventBridge may not publish", topicPolicyKey)
		}
		// Only this account's rules of this module publish; everyone
		// else is denied.
		var rules []string
		for _, k := range sortedKeys(m.resources) {
			if strings.HasPrefix(k, "aws_cloudwatch_event_rule.") {
				rules = append(rules, k+".arn")
			}
		}
		account := "data.aws_caller_identity.current.account_id"
		for _, st := range topicPolicy.Statement {
			if st.Effect != "Allow" {
				continue
			}
			if got := sorted(st.Condition["ArnEquals"]["aws:SourceArn"]); !slices.Equal(got, rules) {
				fail("%s statement %q: aws:SourceArn condition got %q, want the module's rules %q", topicPolicyKey, st.Sid, got, rules)
			}
			if got := st.Condition["StringEquals"]["aws:SourceAccount"]; !slices.Equal(got, []string{account}) {
				fail("%s statement %q: aws:SourceAccount condition got %q, want [%s]", topicPolicyKey, st.Sid, got, account)
			}
		}
		checkDenyOthers(fail, topicPolicyKey, topicPolicy, "sns:Publish", topic+".arn", "ArnNotEquals", "aws:SourceArn", rules)
		checkDenyOthers(fail, topicPolicyKey, topicPolicy, "sns:Publish", topic+".arn", "StringNotEquals", "aws:SourceAccount", []string{account})
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

	// The bot's role has exactly deploy/iam-policy.json, rendered for this
	// deployment.
	rolePolicy := findResource(m, ctx, "aws_iam_role_policy", "role", role+".id", role+".name")
	if rolePolicy == "" {
		fail("no aws_iam_role_policy for %s", role)
	} else if got, err := m.attrString(ctx, rolePolicy, "policy"); err != nil {
		fail("%v", err)
	} else {
		partition := "data.aws_partition.current.partition"
		want, err := renderPolicyFile(map[string]string{
			"partition":            partition,
			"account_id":           "data.aws_caller_identity.current.account_id",
			"queue_arn":            queue + ".arn",
			"escalation_topic_arn": "arn:" + partition + ":sns:*:data.aws_caller_identity.current.account_id:picket-escalations",
			"responder_role_name":  "PicketResponder",
			"protected_tag":        "picket:protected",
			"store_table_arn":      "arn:" + partition + ":dynamodb:data.aws_region.current.name:data.aws_caller_identity.current.account_id:table/picket-state",
		})
		if err != nil {
			fail("%v", err)
		} else if !sameJSON(got, want) {
			fail("%s policy is not exactly %s rendered for the module:\n got %s\nwant %s", rolePolicy, policyFile, got, want)
		}
	}

	// The role's trust: ECS tasks of this account only.
	var trust iamPolicy
	if err := jsonAttr(m, ctx, role, "assume_role_policy", &trust); err != nil {
		fail("%v", err)
	} else {
		for _, p := range checkTrust(trust, "data.aws_partition.current.partition", "data.aws_caller_identity.current.account_id") {
			fail("%s assume_role_policy: %s", role, p)
		}
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

	const (
		partition = "data.aws_partition.current.partition"
		account   = "data.aws_caller_identity.current.account_id"
	)
	tests := []struct {
		name string
		sids []string // nil: the default
		want []string // Sid prefixes of the statements granted
	}{
		// Picket enriches alerts and runs posture checks in a member
		// account through this role, as it runs the buttons.
		{name: "default: responses, look-ups and posture", want: []string{"Respond", "Enrich", "Posture"}},
		{name: "responses only", sids: []string{"Respond"}, want: []string{"Respond"}},
		{name: "the security account's queue and topic left out", sids: []string{"Ingest", "Escalate", "Respond"}, want: []string{"IngestReconcile", "Respond"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			overrides := map[string]cty.Value{
				"bot_role_arn": cty.StringVal("arn:aws:iam::111111111111:role/picket-bot"),
				"external_id":  cty.StringVal("ext-123"),
			}
			if tt.sids != nil {
				var sids []cty.Value
				for _, s := range tt.sids {
					sids = append(sids, cty.StringVal(s))
				}
				overrides["policy_sids"] = cty.ListVal(sids)
			}
			ctx, err := m.evalContext(overrides)
			if err != nil {
				t.Fatal(err)
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

			// The file rendered for the member account: the statements
			// named, less STS, exactly as the file scopes them.
			rendered, err := renderPolicyFile(map[string]string{
				"partition": partition, "account_id": account, "queue_arn": "", "escalation_topic_arn": "",
				"responder_role_name": "PicketResponder", "protected_tag": "picket:protected", "store_table_arn": "",
			})
			if err != nil {
				t.Fatal(err)
			}
			full := parsePolicy(t, rendered)
			var want []iamStatement
			for _, s := range full.Statement {
				if !slices.ContainsFunc(tt.want, func(p string) bool { return strings.HasPrefix(s.Sid, p) }) || slices.Contains(s.Resource, "") {
					continue
				}
				s.Action = slices.DeleteFunc(slices.Clone(s.Action), func(a string) bool { return strings.HasPrefix(strings.ToLower(a), "sts:") })
				if len(s.Action) > 0 {
					want = append(want, s)
				}
			}
			if len(want) == 0 {
				t.Fatalf("%s has no statement %q: the member module grants nothing", policyFile, tt.want)
			}
			if !reflect.DeepEqual(got.Statement, want) {
				t.Errorf("responder policy statements:\n got %+v\nwant %+v", got.Statement, want)
			}
			for _, st := range got.Statement {
				for _, a := range st.Action {
					if strings.HasPrefix(strings.ToLower(a), "sts:") {
						t.Errorf("statement %s grants %s: the responder role must not assume roles", st.Sid, a)
					}
				}
				for _, r := range st.Resource {
					if f := strings.SplitN(r, ":", 6); r == "" || len(f) == 6 && f[4] != "" && f[4] != "*" && f[4] != account {
						t.Errorf("statement %s: resource %q, want one of the member account", st.Sid, r)
					}
				}
			}
			for _, p := range policyProblems(got, "PicketResponder") {
				t.Error(p)
			}
			// Patch instance and the Undo of a suppression reach the
			// member account through this role.
			if slices.Contains(tt.want, "Respond") {
				var actions []string
				for _, st := range got.Statement {
					actions = append(actions, st.Action...)
				}
				for _, a := range []string{"ssm:SendCommand", "ssm:GetCommandInvocation", "ssm:DescribeInstanceInformation", "guardduty:UnarchiveFindings"} {
					if !slices.Contains(actions, a) {
						t.Errorf("responder role: got no %s, want it", a)
					}
				}
			}
		})
	}
}

// iamPolicy is an IAM policy document; single strings are read as lists.
type iamPolicy struct {
	Version   string
	Statement []iamStatement
}

type iamStatement struct {
	Sid         string
	Effect      string
	Principal   principal
	Action      stringList
	NotAction   stringList
	Resource    stringList
	NotResource stringList
	Condition   map[string]map[string]stringList
}

// principal is a statement's Principal; "*" (everyone) is read as
// {"*": ["*"]}.
type principal map[string]stringList

func (p *principal) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		if one != "*" {
			return fmt.Errorf("principal %q: want \"*\" or an object", one)
		}
		*p = principal{"*": {"*"}}
		return nil
	}
	var m map[string]stringList
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*p = m
	return nil
}

// everyone reports whether the principal is everyone ("*" or {"AWS": "*"}).
func (p principal) everyone() bool {
	return slices.Equal(p["*"], []string{"*"}) || slices.Equal(p["AWS"], []string{"*"})
}

// checkDenyOthers checks that policy has a Deny for everyone of action on
// resource whose only condition is op key with exactly want (in any
// order): everyone else is denied, and nothing narrows the Deny. A
// condition on aws:PrincipalArn (the queue's redrive principals) is
// allowed besides.
func checkDenyOthers(fail func(string, ...any), key string, p iamPolicy, action, resource, op, condKey string, want []string) {
	found := false
	for _, s := range p.Statement {
		if s.Effect != "Deny" || !s.Principal.everyone() || !slices.Contains(s.Action, action) || !slices.Contains(s.Resource, resource) {
			continue
		}
		vals, ok := s.Condition[op][condKey]
		if !ok {
			continue
		}
		found = true
		if got := sorted(vals); !slices.Equal(got, sorted(want)) {
			fail("%s statement %q: %s %s got %q, want exactly %q", key, s.Sid, op, condKey, got, sorted(want))
		}
		for o, keys := range s.Condition {
			for k := range keys {
				if (o != op || k != condKey) && k != "aws:PrincipalArn" {
					fail("%s statement %q: condition %s %s narrows the Deny: want only %s %s", key, s.Sid, o, k, op, condKey)
				}
			}
		}
	}
	if !found {
		fail("%s denies no sender of %s but by %s %s %q: want a Deny for everyone else", key, action, op, condKey, want)
	}
}

// checkTrust returns the problems of a role trust policy: a statement that
// trusts ecs-tasks.amazonaws.com must require aws:SourceAccount to be the
// account and aws:SourceArn an ECS ARN of that account.
func checkTrust(p iamPolicy, partition, account string) []string {
	var problems []string
	for _, s := range p.Statement {
		if s.Effect != "Allow" || !slices.Contains(s.Principal["Service"], "ecs-tasks.amazonaws.com") {
			continue
		}
		if got := s.Condition["StringEquals"]["aws:SourceAccount"]; !slices.Equal(got, []string{account}) {
			problems = append(problems, fmt.Sprintf("statement %q trusts ecs-tasks.amazonaws.com with aws:SourceAccount %q, want [%s]", s.Sid, got, account))
		}
		arns := s.Condition["ArnLike"]["aws:SourceArn"]
		if len(arns) == 0 {
			arns = s.Condition["ArnEquals"]["aws:SourceArn"]
		}
		if len(arns) == 0 {
			problems = append(problems, fmt.Sprintf("statement %q trusts ecs-tasks.amazonaws.com without an aws:SourceArn condition", s.Sid))
		}
		for _, a := range arns {
			f := strings.SplitN(a, ":", 6)
			if len(f) != 6 || f[1] != partition || f[2] != "ecs" || f[4] != account {
				problems = append(problems, fmt.Sprintf("statement %q trusts ecs-tasks.amazonaws.com for aws:SourceArn %q, want an ECS ARN of account %s", s.Sid, a, account))
			}
		}
	}
	return problems
}

func sorted(l []string) []string {
	out := slices.Clone(l)
	slices.Sort(out)
	return out
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

// TestTrustPolicy renders the bot role's trust for each way of running
// Picket: ECS tasks only of this account (aws:SourceAccount and
// aws:SourceArn), other services, IAM principals and an EKS service
// account as given.
func TestTrustPolicy(t *testing.T) {
	const (
		partition = "data.aws_partition.current.partition"
		account   = "data.aws_caller_identity.current.account_id"
		oidc      = "arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"
	)
	list := func(items ...string) cty.Value {
		if len(items) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		var vals []cty.Value
		for _, s := range items {
			vals = append(vals, cty.StringVal(s))
		}
		return cty.ListVal(vals)
	}
	irsa := cty.ObjectVal(map[string]cty.Value{
		"oidc_provider_arn": cty.StringVal(oidc), "namespace": cty.StringVal("security"), "service_account": cty.StringVal("picket"),
	})
	ecs := iamStatement{Sid: "EcsTasksOfThisAccount", Effect: "Allow", Principal: principal{"Service": {"ecs-tasks.amazonaws.com"}},
		Action: stringList{"sts:AssumeRole"}, Condition: map[string]map[string]stringList{
			"StringEquals": {"aws:SourceAccount": {account}},
			"ArnLike":      {"aws:SourceArn": {"arn:" + partition + ":ecs:*:" + account + ":*"}},
		}}
	tests := []struct {
		name      string
		overrides map[string]cty.Value
		want      []iamStatement
	}{
		{name: "default: ECS", want: []iamStatement{ecs}},
		{name: "ECS twice and EC2", overrides: map[string]cty.Value{"trusted_services": list("ecs-tasks.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com")},
			want: []iamStatement{ecs, {Sid: "Services", Effect: "Allow", Principal: principal{"Service": {"ec2.amazonaws.com"}}, Action: stringList{"sts:AssumeRole"}}}},
		{name: "a role and an EKS service account", overrides: map[string]cty.Value{
			"trusted_services":  list(),
			"trusted_role_arns": list("arn:aws:iam::111111111111:role/runner"),
			"irsa":              irsa,
		}, want: []iamStatement{
			{Sid: "Principals", Effect: "Allow", Principal: principal{"AWS": {"arn:aws:iam::111111111111:role/runner"}}, Action: stringList{"sts:AssumeRole"}},
			{Sid: "KubernetesServiceAccount", Effect: "Allow", Principal: principal{"Federated": {oidc}}, Action: stringList{"sts:AssumeRoleWithWebIdentity"},
				Condition: map[string]map[string]stringList{"StringEquals": {
					"oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": {"system:serviceaccount:security:picket"},
					"oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud": {"sts.amazonaws.com"},
				}}},
		}},
	}
	m := loadModule(t, mainModule)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, err := m.evalContext(tt.overrides)
			if err != nil {
				t.Fatal(err)
			}
			var got iamPolicy
			if err := jsonAttr(m, ctx, "aws_iam_role.bot", "assume_role_policy", &got); err != nil {
				t.Fatal(err)
			}
			if got.Version != "2012-10-17" {
				t.Errorf("Version: got %q, want 2012-10-17", got.Version)
			}
			if !reflect.DeepEqual(got.Statement, tt.want) {
				t.Errorf("statements:\n got %+v\nwant %+v", got.Statement, tt.want)
			}
			for _, p := range checkTrust(got, partition, account) {
				t.Error(p)
			}
		})
	}
}

// TestQueueRedrivePrincipals: the principals that move messages back from
// the DLQ are the only exception to the queue's Deny.
func TestQueueRedrivePrincipals(t *testing.T) {
	m := loadModule(t, mainModule)
	const redriver = "arn:aws:iam::111111111111:role/ops"
	ctx, err := m.evalContext(map[string]cty.Value{"queue_redrive_principal_arns": cty.ListVal([]cty.Value{cty.StringVal(redriver)})})
	if err != nil {
		t.Fatal(err)
	}
	var p iamPolicy
	if err := jsonAttr(m, ctx, "aws_sqs_queue_policy.findings", "policy", &p); err != nil {
		t.Fatal(err)
	}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	checkDenyOthers(fail, "queue policy", p, "sqs:SendMessage", "aws_sqs_queue.findings.arn", "ArnNotEquals", "aws:SourceArn", []string{"aws_sns_topic.findings.arn"})
	for _, problem := range problems {
		t.Error(problem)
	}
	exempt := 0
	for _, s := range p.Statement {
		if s.Effect == "Deny" {
			if got := s.Condition["ArnNotLike"]["aws:PrincipalArn"]; slices.Equal(got, []string{redriver}) {
				exempt++
			} else {
				t.Errorf("statement %q: aws:PrincipalArn exemption got %q, want [%s]", s.Sid, got, redriver)
			}
		}
	}
	if exempt != 1 {
		t.Errorf("got %d Deny statements exempting %s, want 1", exempt, redriver)
	}
}
