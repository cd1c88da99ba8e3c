package deploy_test

// The bot role's policy, deploy/iam-policy.json, is a Terraform template:
// every write is scoped to this deployment's resources (placeholders the
// modules fill in) or by a condition. These tests hold it to that rule, and
// prove the rule with copies that break it.

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// policyPlaceholders are the ${...} the policy file may use; both modules
// fill in every one.
var policyPlaceholders = []string{"partition", "account_id", "queue_arn", "escalation_topic_arn", "responder_role_name", "protected_tag", "store_table_arn"}

// sampleValues render the policy as a deployment would.
var sampleValues = map[string]string{
	"partition":            "aws",
	"account_id":           "111122223333",
	"queue_arn":            "arn:aws:sqs:eu-west-1:111122223333:picket-findings",
	"escalation_topic_arn": "arn:aws:sns:eu-west-1:111122223333:picket-escalations",
	"responder_role_name":  "PicketResponder",
	"protected_tag":        "picket:protected",
	"store_table_arn":      "arn:aws:dynamodb:eu-west-1:111122223333:table/picket-state",
}

// patchDocument is the only Systems Manager document Picket may send.
const patchDocument = "AWS-RunPatchBaseline"

var placeholderPattern = regexp.MustCompile(`\$\{([^}]*)\}`)

// renderPolicy fills in the placeholders of a policy template the way
// Terraform's templatefile does; a placeholder without a value is an
// error.
func renderPolicy(src string, values map[string]string) (string, error) {
	var missing []string
	out := placeholderPattern.ReplaceAllStringFunc(src, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := values[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for %q", missing)
	}
	return out, nil
}

// renderPolicyFile renders deploy/iam-policy.json.
func renderPolicyFile(values map[string]string) (string, error) {
	b, err := os.ReadFile(policyFile)
	if err != nil {
		return "", err
	}
	return renderPolicy(string(b), values)
}

// sameJSON reports whether two JSON documents hold the same value.
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// readOnly reports whether an action only reads: its verb is one of those
// AWS uses for reads, or it is listed. Everything else is a write,
// sqs:ReceiveMessage included (it hides the message from other readers).
func readOnly(action string) bool {
	_, op, _ := strings.Cut(action, ":")
	for _, verb := range []string{"Get", "List", "Describe", "BatchGet"} {
		if strings.HasPrefix(op, verb) {
			return true
		}
	}
	// IAM classifies it as a read: it only starts the report.
	return action == "iam:GenerateCredentialReport"
}

// scopingKeys are the condition keys that narrow a write to some
// resources: tags, tag keys, a managed policy, the EC2 attribute or the
// action creating the resource, or (for S3, whose bucket ARNs name no
// account) the account that owns the bucket.
var scopingKeys = []string{"aws:ResourceTag/", "aws:RequestTag/", "aws:TagKeys", "iam:PolicyARN", "iam:PermissionsBoundary",
	"ec2:ResourceTag/", "ec2:Attribute", "ec2:CreateAction", "s3:ResourceAccount"}

// accountLevelWrites are writes that change a setting of the account
// itself: IAM defines them with no resource type, so they can only be
// granted on "*", which in a role of one account is that account's
// setting. Each may stand on "*" without a condition, but only in a
// statement that grants nothing else (so the exception cannot carry
// another write along).
var accountLevelWrites = map[string]string{
	"ec2:EnableEbsEncryptionByDefault":  "EBS encryption by default is a setting of the account and region (fix button, control EC2.7)",
	"ec2:DisableEbsEncryptionByDefault": "its Undo",
	"s3:PutAccountPublicAccessBlock":    "the account's S3 Block Public Access (fix button, control S3.1, and its Undo)",
}

// onlyAccountLevel reports whether every action of a statement is an
// account-level write.
func onlyAccountLevel(actions stringList) bool {
	for _, a := range actions {
		if _, ok := accountLevelWrites[a]; !ok {
			return false
		}
	}
	return len(actions) > 0
}

// scopingCondition reports whether a condition narrows what a statement
// applies to: some operator that is not negated (a "Not" operator lets
// through every resource without the key) tests a scoping key; Null only
// when it requires the key; ForAllValues only with a Null that requires
// the key too (it holds for a request without the key).
func scopingCondition(cond map[string]map[string]stringList) bool {
	for op, keys := range cond {
		base := op[strings.LastIndex(op, ":")+1:] // ForAllValues:StringLike -> StringLike
		if strings.Contains(base, "Not") {
			continue
		}
		for k, vals := range keys {
			if base == "Null" && !slices.Equal(vals, []string{"false"}) {
				continue
			}
			if strings.HasPrefix(op, "ForAllValues:") && !slices.Equal(cond["Null"][k], []string{"false"}) {
				continue
			}
			if slices.ContainsFunc(scopingKeys, func(p string) bool { return strings.HasPrefix(k, p) }) {
				return true
			}
		}
	}
	return false
}

// unscoped reports whether a resource names every resource of a service:
// "*", or an ARN whose service or resource part is "*".
func unscoped(resource string) bool {
	if resource == "*" {
		return true
	}
	f := strings.SplitN(resource, ":", 6)
	return len(f) != 6 || f[2] == "*" || f[2] == "" || f[5] == "*" || f[5] == ""
}

// policyProblems returns every way a rendered policy breaks the scoping
// rule: a write on every resource without a scoping condition, a
// statement an Allow with NotAction or NotResource (it grants what it
// does not name), or sts:AssumeRole on anything but the responder role.
func policyProblems(p iamPolicy, responderRole string) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, s := range p.Statement {
		if s.Effect != "Allow" {
			continue
		}
		if len(s.NotAction) > 0 || len(s.NotResource) > 0 {
			add("statement %s: an Allow with NotAction or NotResource grants what it does not name", s.Sid)
		}
		if len(s.Resource) == 0 {
			add("statement %s: no Resource", s.Sid)
		}
		scoped := scopingCondition(s.Condition)
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				add("statement %s: action %s is a wildcard", s.Sid, a)
			}
			if readOnly(a) {
				continue
			}
			for _, r := range s.Resource {
				if r == "*" && !scoped && onlyAccountLevel(s.Action) {
					continue
				}
				if unscoped(r) && !scoped {
					add("statement %s: write %s on %q without a condition that scopes it (%v)", s.Sid, a, r, scopingKeys)
				}
			}
			if strings.EqualFold(a, "ssm:SendCommand") {
				// Any other document runs any command on the instances
				// (AWS-RunShellScript): only the patch document is allowed.
				for _, r := range s.Resource {
					if strings.Contains(r, ":document/") && !strings.HasSuffix(r, ":document/"+patchDocument) {
						add("statement %s: ssm:SendCommand on document %q, want only %s", s.Sid, r, patchDocument)
					}
					if !strings.Contains(r, ":document/") && !strings.Contains(r, ":instance/") {
						add("statement %s: ssm:SendCommand on %q, want only the %s document and instances", s.Sid, r, patchDocument)
					}
				}
			}
			if service, op, _ := strings.Cut(a, ":"); strings.EqualFold(service, "dynamodb") {
				// The store needs item reads and writes and Query on its
				// one table: never Scan, never the table itself.
				if !slices.Contains(storeActions, op) {
					add("statement %s: %s is not one the store uses (%v)", s.Sid, a, storeActions)
				}
				for _, r := range s.Resource {
					if strings.Contains(r, "*") || !strings.Contains(r, ":table/") || strings.Contains(r, "/index/") {
						add("statement %s: %s on %q, want only the store table", s.Sid, a, r)
					}
				}
			}
			if strings.EqualFold(a, "sts:AssumeRole") {
				for _, r := range s.Resource {
					if !strings.HasSuffix(r, ":role/"+responderRole) || strings.ContainsAny(responderRole, "*?") {
						add("statement %s: sts:AssumeRole on %q, want only the responder role %q", s.Sid, r, responderRole)
					}
				}
			}
		}
	}
	return problems
}

// storeActions are the DynamoDB operations package dynamo calls.
var storeActions = []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"}

// parsePolicy decodes a rendered policy.
func parsePolicy(t *testing.T, src string) iamPolicy {
	t.Helper()
	var p iamPolicy
	if err := json.Unmarshal([]byte(src), &p); err != nil {
		t.Fatalf("policy is not JSON: %v\n%s", err, src)
	}
	return p
}

// TestPolicyScoped: every write of deploy/iam-policy.json is scoped, its
// placeholders are the known ones, and it stays within IAM's size limit.
func TestPolicyScoped(t *testing.T) {
	b, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	var used []string
	for _, m := range placeholderPattern.FindAllStringSubmatch(string(b), -1) {
		if !slices.Contains(policyPlaceholders, m[1]) {
			t.Errorf("%s uses ${%s}: want one of %q (an IAM policy variable must be written $${...} in a template)", policyFile, m[1], policyPlaceholders)
		}
		if !slices.Contains(used, m[1]) {
			used = append(used, m[1])
		}
	}
	for _, name := range policyPlaceholders {
		if !slices.Contains(used, name) {
			t.Errorf("%s does not use ${%s}: drop it from policyPlaceholders and the modules", policyFile, name)
		}
	}
	rendered, err := renderPolicy(string(b), sampleValues)
	if err != nil {
		t.Fatal(err)
	}
	p := parsePolicy(t, rendered)
	for _, problem := range policyProblems(p, sampleValues["responder_role_name"]) {
		t.Error(problem)
	}
	// Inline role policies may hold 10,240 characters, white space not
	// counted.
	var compact strings.Builder
	for _, r := range rendered {
		if r != ' ' && r != '\n' && r != '\t' && r != '\r' {
			compact.WriteRune(r)
		}
	}
	if n := compact.Len(); n > 10240 {
		t.Errorf("rendered policy: got %d characters without white space, want at most 10,240 (IAM's limit for a role's inline policies)", n)
	}
}

// TestPolicyScopedRejects proves the rule with copies of the policy that
// break it, and accepts the shapes a new scoped statement may take.
func TestPolicyScopedRejects(t *testing.T) {
	t.Run("the policy before scoping", func(t *testing.T) {
		b, err := os.ReadFile("testdata/policy/unscoped.json")
		if err != nil {
			t.Fatal(err)
		}
		problems := policyProblems(parsePolicy(t, string(b)), "PicketResponder")
		for _, action := range []string{"iam:PutUserPolicy", "iam:UpdateAccessKey", "iam:UntagUser", "ec2:AuthorizeSecurityGroupIngress",
			"ec2:ModifyInstanceAttribute", "guardduty:DeleteFilter", "securityhub:BatchDeleteAutomationRules",
			"sqs:ReceiveMessage", "sqs:DeleteMessage", "sns:Publish", "sts:AssumeRole"} {
			want := "write " + action + ` on "*" without a condition`
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
				t.Errorf("got problems %q, want one saying %s", problems, want)
			}
		}
		if want := `sts:AssumeRole on "*", want only the responder role`; !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("got problems %q, want one saying %s", problems, want)
		}
	})

	src, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	// A statement for Revoke role sessions, as the actions helper may add
	// it; %s is its Resource and Condition.
	const roleStatement = `{"Sid": "RespondRevokeRoleSessions", "Effect": "Allow", "Action": ["iam:PutRolePolicy", "iam:DeleteRolePolicy"], %s},
    {
      "Sid": "Posture",`
	tests := []struct {
		name     string
		old, new string
		want     string // a problem that must be reported; "" for none
	}{
		{
			name: "user writes on every resource",
			old: `"Resource": "arn:${partition}:iam::${account_id}:user/*",
      "Condition": {
        "StringNotEqualsIgnoreCase"`,
			new: `"Resource": "*",
      "Condition": {
        "StringNotEqualsIgnoreCase"`,
			want: "write iam:PutUserPolicy on \"*\"",
		},
		{
			name: "user writes on every IAM resource",
			old: `"Resource": "arn:${partition}:iam::${account_id}:user/*",
      "Condition": {
        "StringNotEqualsIgnoreCase"`,
			new: `"Resource": "arn:${partition}:iam::${account_id}:*",
      "Condition": {
        "StringNotEqualsIgnoreCase"`,
			want: "write iam:UpdateAccessKey",
		},
		{
			name: "automation rule created without the tag condition",
			old: `"aws:RequestTag/picket:managed": "true"
        },
        "ForAllValues:StringLike"`,
			new: `"aws:RequestedRegion": "eu-west-1"
        },
        "ForAllValues:StringLike"`,
			// ForAllValues holds for a request without tags: alone it
			// scopes nothing.
			want: "write securityhub:CreateAutomationRule on \"*\"",
		},
		{
			name: "automation rule created with no condition",
			old: `"Resource": "*",
      "Condition": {
        "StringEquals": {
          "aws:RequestTag/picket:managed": "true"
        },
        "ForAllValues:StringLike": {
          "aws:TagKeys": "picket:*"
        }
      }`,
			new:  `"Resource": "*"`,
			want: "write securityhub:CreateAutomationRule on \"*\"",
		},
		{
			name: "automation rule created on a condition that scopes nothing",
			old: `"Resource": "*",
      "Condition": {
        "StringEquals": {
          "aws:RequestTag/picket:managed": "true"
        },
        "ForAllValues:StringLike": {
          "aws:TagKeys": "picket:*"
        }
      }`,
			new:  `"Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}`,
			want: "write securityhub:CreateAutomationRule on \"*\"",
		},
		{
			name: "automation rule created unless a tag is set",
			old: `"Resource": "*",
      "Condition": {
        "StringEquals": {
          "aws:RequestTag/picket:managed": "true"
        },
        "ForAllValues:StringLike": {
          "aws:TagKeys": "picket:*"
        }
      }`,
			new:  `"Resource": "*", "Condition": {"StringNotEquals": {"aws:RequestTag/picket:managed": "false"}}`,
			want: "write securityhub:CreateAutomationRule on \"*\"",
		},
		{
			name: "any role assumed",
			old:  `"arn:${partition}:iam::*:role/${responder_role_name}"`, new: `"arn:${partition}:iam::*:role/*"`,
			want: "sts:AssumeRole on \"arn:aws:iam::*:role/*\"",
		},
		{
			name: "assume role on every resource",
			old:  `"arn:${partition}:iam::*:role/${responder_role_name}"`, new: `"*"`,
			want: "write sts:AssumeRole on \"*\"",
		},
		{
			name: "publish to every topic",
			old:  `"Resource": "${escalation_topic_arn}"`, new: `"Resource": "arn:${partition}:sns:*:${account_id}:*"`,
			want: "write sns:Publish",
		},
		{
			name: "store on every table",
			old:  `"Resource": "${store_table_arn}"`, new: `"Resource": "arn:${partition}:dynamodb:*:${account_id}:table/*"`,
			want: "want only the store table",
		},
		{
			name: "store may scan",
			old:  `"dynamodb:Query",`, new: `"dynamodb:Query", "dynamodb:Scan",`,
			want: "dynamodb:Scan is not one the store uses",
		},
		{
			name: "store may delete the table",
			old:  `"dynamodb:Query",`, new: `"dynamodb:Query", "dynamodb:DeleteTable",`,
			want: "dynamodb:DeleteTable is not one the store uses",
		},
		{
			name: "an allow of everything but",
			old:  `"Resource": "${escalation_topic_arn}"`, new: `"NotResource": "${escalation_topic_arn}"`,
			want: "NotAction or NotResource",
		},
		{
			name: "patch command on every resource",
			old: `"Resource": [
        "arn:${partition}:ssm:*::document/AWS-RunPatchBaseline",
        "arn:${partition}:ec2:*:${account_id}:instance/*"
      ],
      "Condition": {
        "StringNotEqualsIgnoreCase": {
          "aws:ResourceTag/${protected_tag}": "true"
        }
      }`,
			new:  `"Resource": "*"`,
			want: "write ssm:SendCommand on \"*\"",
		},
		{
			name: "any document sent",
			old:  `"arn:${partition}:ssm:*::document/AWS-RunPatchBaseline"`, new: `"arn:${partition}:ssm:*::document/*"`,
			want: "ssm:SendCommand on document \"arn:aws:ssm:*::document/*\"",
		},
		{
			name: "a shell script sent",
			old:  `"arn:${partition}:ssm:*::document/AWS-RunPatchBaseline"`, new: `"arn:${partition}:ssm:*::document/AWS-RunShellScript"`,
			want: "want only AWS-RunPatchBaseline",
		},
		{
			name: "patch command on every ssm resource",
			old:  `"arn:${partition}:ssm:*::document/AWS-RunPatchBaseline"`, new: `"arn:${partition}:ssm:*:${account_id}:*"`,
			want: "write ssm:SendCommand",
		},
		{
			name: "role writes scoped by ARN pattern",
			old:  "{\n      \"Sid\": \"Posture\",", new: fmt.Sprintf(roleStatement, `"Resource": "arn:${partition}:iam::${account_id}:role/*", "Condition": {"StringNotEqualsIgnoreCase": {"aws:ResourceTag/${protected_tag}": "true"}}`),
			want: "",
		},
		{
			name: "role writes scoped by tag",
			old:  "{\n      \"Sid\": \"Posture\",", new: fmt.Sprintf(roleStatement, `"Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/picket:revocable": "true"}}`),
			want: "",
		},
		{
			name: "bucket Block Public Access on every bucket of every account",
			old: `"Resource": "arn:${partition}:s3:::*",
      "Condition": {
        "StringEquals": {
          "s3:ResourceAccount": "${account_id}"
        }
      }`,
			new:  `"Resource": "arn:${partition}:s3:::*"`,
			want: "write s3:PutBucketPublicAccessBlock on \"arn:aws:s3:::*\"",
		},
		{
			name: "bucket Block Public Access on buckets of other accounts",
			old: `"StringEquals": {
          "s3:ResourceAccount": "${account_id}"`,
			new: `"StringNotEquals": {
          "s3:ResourceAccount": "${account_id}"`,
			want: "write s3:PutBucketPublicAccessBlock on \"arn:aws:s3:::*\"",
		},
		{
			name: "another write carried along with the account settings",
			old: `"ec2:DisableEbsEncryptionByDefault",
        "ec2:EnableEbsEncryptionByDefault",`,
			new: `"ec2:DisableEbsEncryptionByDefault",
        "ec2:EnableEbsEncryptionByDefault",
        "ec2:DeleteSecurityGroup",`,
			want: "write ec2:EnableEbsEncryptionByDefault on \"*\"",
		},
		{
			name: "security group rules of every account",
			old: `"arn:${partition}:ec2:*:${account_id}:security-group/*",
        "arn:${partition}:ec2:*:${account_id}:security-group-rule/*"`,
			new:  `"*"`,
			want: "write ec2:RevokeSecurityGroupIngress on \"*\"",
		},
		{
			name: "role writes on every resource",
			old:  "{\n      \"Sid\": \"Posture\",", new: fmt.Sprintf(roleStatement, `"Resource": "*"`),
			want: "write iam:PutRolePolicy on \"*\"",
		},
		{
			name: "role writes on every resource but protected ones",
			old:  "{\n      \"Sid\": \"Posture\",", new: fmt.Sprintf(roleStatement, `"Resource": "*", "Condition": {"StringNotEqualsIgnoreCase": {"aws:ResourceTag/${protected_tag}": "true"}}`),
			want: "write iam:DeleteRolePolicy on \"*\"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(src), tt.old) {
				t.Fatalf("%s no longer contains %q: update this test", policyFile, tt.old)
			}
			changed := strings.Replace(string(src), tt.old, tt.new, 1)
			rendered, err := renderPolicy(changed, sampleValues)
			if err != nil {
				t.Fatal(err)
			}
			problems := policyProblems(parsePolicy(t, rendered), sampleValues["responder_role_name"])
			switch {
			case tt.want == "" && len(problems) > 0:
				t.Errorf("got problems %q, want none", problems)
			case tt.want != "" && !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }):
				t.Errorf("got problems %q, want one mentioning %q", problems, tt.want)
			}
		})
	}
}
