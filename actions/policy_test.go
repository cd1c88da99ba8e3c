package actions_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sdkServices maps each aws-sdk-go-v2 service package the code may call to
// the prefix IAM uses for its actions. A package that is not listed here
// fails the test, so a new service cannot slip past the policy: add one
// line.
var sdkServices = map[string]string{
	"github.com/aws/aws-sdk-go-v2/service/autoscaling":    "autoscaling",
	"github.com/aws/aws-sdk-go-v2/service/detective":      "detective",
	"github.com/aws/aws-sdk-go-v2/service/ec2":            "ec2",
	"github.com/aws/aws-sdk-go-v2/service/guardduty":      "guardduty",
	"github.com/aws/aws-sdk-go-v2/service/iam":            "iam",
	"github.com/aws/aws-sdk-go-v2/service/securityhub":    "securityhub",
	"github.com/aws/aws-sdk-go-v2/service/sns":            "sns",
	"github.com/aws/aws-sdk-go-v2/service/sqs":            "sqs",
	"github.com/aws/aws-sdk-go-v2/service/sts":            "sts",
	"github.com/aws/aws-sdk-go-v2/service/accessanalyzer": "access-analyzer",
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail":     "cloudtrail",
	"github.com/aws/aws-sdk-go-v2/service/configservice":  "config",
	"github.com/aws/aws-sdk-go-v2/service/kms":            "kms",
	"github.com/aws/aws-sdk-go-v2/service/s3":             "s3",
	"github.com/aws/aws-sdk-go-v2/service/s3control":      "s3control",
	"github.com/aws/aws-sdk-go-v2/service/ssm":            "ssm",
	"github.com/aws/aws-sdk-go-v2/service/dynamodb":       "dynamodb",
}

// iamNames maps an operation whose IAM action has another name to that
// name (S3's ListBuckets is authorized as s3:ListAllMyBuckets, S3
// Control's account-level GetPublicAccessBlock as
// s3:GetAccountPublicAccessBlock).
var iamNames = map[string]string{
	"s3:ListBuckets":                 "s3:ListAllMyBuckets",
	"s3control:GetPublicAccessBlock": "s3:GetAccountPublicAccessBlock",
	// The fix buttons: S3 authorizes a bucket's Block Public Access
	// calls as s3:*BucketPublicAccessBlock and the account's (S3 Control)
	// as s3:*AccountPublicAccessBlock; deleting either configuration needs
	// the Put permission (there is no Delete action in IAM).
	"s3:GetPublicAccessBlock":           "s3:GetBucketPublicAccessBlock",
	"s3:PutPublicAccessBlock":           "s3:PutBucketPublicAccessBlock",
	"s3:DeletePublicAccessBlock":        "s3:PutBucketPublicAccessBlock",
	"s3control:PutPublicAccessBlock":    "s3:PutAccountPublicAccessBlock",
	"s3control:DeletePublicAccessBlock": "s3:PutAccountPublicAccessBlock",
}

// policyAllowed are actions the policy grants although no Input literal or
// interface method in the code names them, each with the reason.
var policyAllowed = map[string]string{
	"sts:AssumeRole": "called by stscreds.AssumeRoleProvider (actions/clients.go) for member accounts, inside the SDK",
	// The two below are also found in the code today; they stay listed
	// because start-up and health checks depend on them even if the code
	// that calls them moves behind a helper this scan cannot see.
	"sts:GetCallerIdentity":  "finds the account Picket runs in (actions/clients.go, cmd/picket)",
	"sqs:GetQueueAttributes": "checks the queue at start-up and in the health check (cmd/picket)",
}

// policyScanned are the packages whose AWS calls the policy must grant:
// every package that runs in production and calls AWS. Adding a package
// is one line here (and its actions in deploy/iam-policy.json).
var policyScanned = []string{
	"actions",    // Respond and Escalate
	"cmd/picket", // start-up checks
	"dynamo",     // Store
	"enrich",     // Enrich
	"ingest",     // Ingest
	"posture",    // Posture
}

// policyNotScanned are packages that import AWS service clients but are
// not scanned, each with why. A package in neither list fails the test, so
// new AWS-calling code cannot slip past the policy.
var policyNotScanned = map[string]string{
	"internal/awsfake":  "the recording AWS fake for tests",
	"internal/fauxqs":   "the SNS/SQS emulator launcher for tests",
	"internal/dynalite": "the DynamoDB test server launcher and its table creation, for tests",
}

// calledActions parses the non-test Go files of the packages in
// policyScanned and returns "prefix:Operation" for each AWS operation the code can call: every
// method of an interface that takes a *svc.OperationInput (the narrow
// interfaces of house style rule 2) and every svc.OperationInput literal
// (direct calls on a client), with where each was seen.
func calledActions(t *testing.T, root string) map[string]string {
	t.Helper()
	found := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		_, notScanned := policyNotScanned[dir]
		scanned := slices.Contains(policyScanned, dir)
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		services := map[string]string{} // local package name -> IAM prefix
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if !strings.HasPrefix(p, "github.com/aws/aws-sdk-go-v2/service/") || strings.Count(p, "/") != 4 {
				continue
			}
			if notScanned {
				break
			}
			if !scanned {
				t.Errorf("%s imports %s: got package %s in neither policyScanned nor policyNotScanned, want it listed", rel, p, dir)
				break
			}
			prefix, ok := sdkServices[p]
			if !ok {
				t.Errorf("%s imports %s, which sdkServices does not map to an IAM prefix", rel, p)
				continue
			}
			name := p[strings.LastIndexByte(p, '/')+1:]
			if im.Name != nil {
				name = im.Name.Name
			}
			services[name] = prefix
		}
		if len(services) == 0 {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			prefix, ok := services[pkg.Name]
			op, isInput := strings.CutSuffix(sel.Sel.Name, "Input")
			if ok && isInput && op != "" {
				action := prefix + ":" + op
				if renamed, ok := iamNames[action]; ok {
					action = renamed
				}
				if _, seen := found[action]; !seen {
					found[action] = rel
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", root, err)
	}
	return found
}

// iamPolicy is the part of an IAM policy document the test reads.
type iamPolicy struct {
	Version   string `json:"Version"`
	Statement []struct {
		Sid      string          `json:"Sid"`
		Effect   string          `json:"Effect"`
		Action   json.RawMessage `json:"Action"`
		Resource json.RawMessage `json:"Resource"`
	} `json:"Statement"`
}

// granted returns every action the policy allows, by statement.
func granted(t *testing.T, path string) (map[string][]string, []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read policy: %v", err)
	}
	var p iamPolicy
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if p.Version != "2012-10-17" {
		t.Errorf("policy Version: got %q, want 2012-10-17", p.Version)
	}
	bySid := map[string][]string{}
	var all []string
	for _, s := range p.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement %s: got Effect %q, want Allow", s.Sid, s.Effect)
		}
		var actions []string
		if err := json.Unmarshal(s.Action, &actions); err != nil {
			var one string
			if err := json.Unmarshal(s.Action, &one); err != nil {
				t.Fatalf("statement %s: Action is neither a string nor a list: %s", s.Sid, s.Action)
			}
			actions = []string{one}
		}
		for _, a := range actions {
			if strings.Contains(a, "*") {
				t.Errorf("statement %s grants %q: wildcards are not least privilege", s.Sid, a)
			}
		}
		bySid[s.Sid] = append(bySid[s.Sid], actions...)
		all = append(all, actions...)
	}
	return bySid, all
}

// TestIAMPolicyIsLeastPrivilege fails when the code can call an AWS
// operation that deploy/iam-policy.json does not grant, or when the policy
// grants an action no code calls.
func TestIAMPolicyIsLeastPrivilege(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	called := calledActions(t, root)
	bySid, all := granted(t, filepath.Join(root, "deploy", "iam-policy.json"))

	t.Run("every call is granted", func(t *testing.T) {
		for action, where := range called {
			if !slices.Contains(all, action) {
				t.Errorf("%s calls %s: got not granted by deploy/iam-policy.json, want granted", where, action)
			}
		}
	})
	t.Run("every grant is called", func(t *testing.T) {
		for _, action := range all {
			_, isCalled := called[action]
			_, isAllowed := policyAllowed[action]
			if !isCalled && !isAllowed {
				t.Errorf("the policy grants %s: got no code calls it, want it removed (or added to policyAllowed with why)", action)
			}
		}
		for action := range policyAllowed {
			if !slices.Contains(all, action) {
				t.Errorf("policyAllowed lists %s: got not granted, want granted", action)
			}
		}
	})
	// A purpose may span several statements, each scoped to its own
	// resources: "Respond" covers RespondDisableUser, RespondTagUser...
	t.Run("statements", func(t *testing.T) {
		for _, tc := range []struct {
			sid  string
			must []string
		}{
			{"Ingest", []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}},
			{"Enrich", []string{"iam:GetUser", "ec2:DescribeInstances", "sts:GetCallerIdentity"}},
			{"Respond", []string{"iam:UpdateAccessKey", "iam:PutUserPolicy", "ec2:ModifyNetworkInterfaceAttribute", "detective:StartInvestigation", "sts:AssumeRole"}},
			{"RespondFix", []string{"s3:PutBucketPublicAccessBlock", "s3:PutAccountPublicAccessBlock", "ec2:RevokeSecurityGroupIngress",
				"ec2:AuthorizeSecurityGroupIngress", "ec2:EnableEbsEncryptionByDefault", "ec2:DisableEbsEncryptionByDefault"}},
			{"Escalate", []string{"sns:Publish"}},
			{"RespondPatch", []string{"ssm:SendCommand", "ssm:GetCommandInvocation", "ssm:DescribeInstanceInformation"}},
			{"RespondUnarchive", []string{"guardduty:UnarchiveFindings"}},
			{"Enrich", []string{"ssm:DescribeInstanceInformation"}},
			{"Store", []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"}},
			{"Posture", []string{"iam:GenerateCredentialReport", "cloudtrail:DescribeTrails", "s3:GetAccountPublicAccessBlock", "access-analyzer:ListAnalyzers"}},
		} {
			t.Run(tc.sid, func(t *testing.T) {
				var got []string
				for sid, actions := range bySid {
					if strings.HasPrefix(sid, tc.sid) {
						got = append(got, actions...)
					}
				}
				if len(got) == 0 {
					t.Fatalf("got no statement %s*, want one", tc.sid)
				}
				for _, a := range tc.must {
					if !slices.Contains(got, a) {
						t.Errorf("statements %s*: got no %s, want it", tc.sid, a)
					}
				}
			})
		}
	})
	// The scan itself must see the calls this package is known to make, so
	// a change that blinds it (a renamed import, a moved file) fails here.
	t.Run("scan sees known calls", func(t *testing.T) {
		for _, a := range []string{"iam:PutUserPolicy", "iam:GetLoginProfile", "detective:ListGraphs", "sns:Publish", "sqs:ReceiveMessage", "securityhub:BatchUpdateFindings",
			"ssm:SendCommand", "ssm:GetCommandInvocation", "ssm:DescribeInstanceInformation", "guardduty:UnarchiveFindings",
			// the fix buttons
			"s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock", "s3:GetBucketTagging", "s3:PutAccountPublicAccessBlock",
			"ec2:RevokeSecurityGroupIngress", "ec2:DescribeSecurityGroupRules", "ec2:EnableEbsEncryptionByDefault", "ec2:DisableEbsEncryptionByDefault"} {
			if _, ok := called[a]; !ok {
				t.Errorf("scan: got no %s, want it found", a)
			}
		}
	})
}
