package notifiers_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/notifiers"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

var (
	t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	t1 = t0.Add(36 * time.Hour)
)

const account = "123456789012"

// baseFinding is an open High GuardDuty finding; cases change what they test.
func baseFinding(typ, title string, res ...picket.Resource) *picket.Finding {
	return &picket.Finding{
		Key:           picket.FindingKey("arn:aws:guardduty:us-east-1:123456789012:detector/d1/finding/" + typ),
		ID:            "f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6",
		Source:        picket.SourceGuardDuty,
		Type:          typ,
		Title:         title,
		Description:   "API ListBuckets was invoked from a Tor exit node IP address 198.51.100.7.",
		Severity:      picket.SeverityHigh,
		SeverityScore: 8,
		Account:       account,
		Region:        "us-east-1",
		Resources:     res,
		CreatedAt:     t0,
		UpdatedAt:     t1,
		FirstSeen:     t0,
		LastSeen:      t1,
		Count:         3,
		RecordState:   picket.RecordActive,
		ConsoleURL:    "https://console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=f1a2b3c4",
	}
}

func userResource(name string) picket.Resource {
	return picket.Resource{Kind: picket.ResourceIAMUser, Type: "AccessKey", ID: name, ARN: "arn:aws:iam::123456789012:user/" + name}
}

func instanceResource(id string) picket.Resource {
	return picket.Resource{Kind: picket.ResourceEC2Instance, Type: "Instance", ID: id,
		ARN: "arn:aws:ec2:us-east-1:123456789012:instance/" + id, Region: "us-east-1"}
}

func userContext() *picket.UserContext {
	return &picket.UserContext{
		UserName:         "alice",
		ARN:              "arn:aws:iam::123456789012:user/alice",
		CreatedAt:        t0.AddDate(-2, 0, 0),
		Groups:           []string{"developers", "deploy"},
		AttachedPolicies: []string{"AdministratorAccess"},
		InlinePolicies:   []string{"s3-scratch"},
		AccessKeys: []picket.AccessKey{
			{ID: "AKIAIOSFODNN7EXAMPLE", Status: "Active", CreatedAt: t0.AddDate(0, 0, -400), LastUsedAt: t0, LastService: "s3"},
			{ID: "AKIAI44QH8DHBEXAMPLE", Status: "Inactive", CreatedAt: t0.AddDate(0, 0, -30)},
		},
		MFADevices:    0,
		ConsoleAccess: true,
	}
}

func instanceContext() *picket.InstanceContext {
	return &picket.InstanceContext{
		InstanceID:       "i-0abc123def4567890",
		Name:             "web-1",
		Owner:            "platform-team",
		State:            "running",
		VPCID:            "vpc-0a1b2c3d",
		SubnetID:         "subnet-0a1b2c3d",
		SecurityGroups:   []string{"sg-0123 (web)", "sg-0456 (ssh)"},
		PublicIP:         "203.0.113.10",
		InstanceProfile:  "web-role",
		AutoScalingGroup: "web-asg",
	}
}

func complianceFinding(status, workflow string) *picket.Finding {
	f := baseFinding("Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark",
		"1.4 Ensure access keys are rotated every 90 days or less",
		picket.Resource{Kind: picket.ResourceAccount, Type: "AwsAccount", ID: "AWS::::Account:123456789012"})
	f.Source = picket.SourceSecurityHub
	f.Product = "Security Hub"
	f.Description = "IAM users' access keys should be rotated every 90 days or less."
	f.Severity = picket.SeverityMedium
	f.SeverityScore = 40
	f.ControlID = "IAM.3"
	f.ComplianceStatus = status
	f.WorkflowStatus = workflow
	f.Count = 1
	f.RemediationURL = "https://docs.aws.amazon.com/console/securityhub/IAM.3/remediation"
	f.ConsoleURL = "https://console.aws.amazon.com/securityhub/home?region=us-east-1#/findings?search=Id%3D%255Coperator%255C%253AEQUALS%255C%253Aarn"
	return f
}

// goldenCases are hand-built alerts that together reach every branch of
// Render.
func goldenCases() []struct {
	name  string
	alert picket.Alert
} {
	type tc = struct {
		name  string
		alert picket.Alert
	}
	var cases []tc

	f := baseFinding("UnauthorizedAccess:IAMUser/TorIPCaller", "API ListBuckets was invoked from a Tor exit node", userResource("alice"))
	cases = append(cases, tc{"iam_user_enriched", picket.Alert{Finding: f, Channel: "C0SEC",
		Enrichment: picket.Enrichment{AccountAlias: "Production", User: userContext()}}})

	f = baseFinding("CredentialAccess:IAMUser/AnomalousBehavior", "Anomalous GetSecretValue calls",
		picket.Resource{Kind: picket.ResourceAccessKey, Type: "AccessKey", ID: "AKIAIOSFODNN7EXAMPLE", UserName: "build-bot"})
	f.Severity, f.SeverityScore = picket.SeverityMedium, 5
	cases = append(cases, tc{"access_key", picket.Alert{Finding: f, Channel: "C0SEC"}})

	f = baseFinding("Policy:IAMUser/RootCredentialUsage", "Root credentials were used",
		picket.Resource{Kind: picket.ResourceRoot, Type: "AccessKey", ID: "root", ARN: "arn:aws:iam::123456789012:root"})
	f.Severity, f.SeverityScore = picket.SeverityLow, 2
	cases = append(cases, tc{"root", picket.Alert{Finding: f, Channel: "C0SEC",
		Enrichment: picket.Enrichment{AccountAlias: "Production"}}})

	f = baseFinding("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", "Credentials of an instance role were used from outside AWS",
		picket.Resource{Kind: picket.ResourceAccessKey, Type: "AccessKey", ID: "ASIAIOSFODNN7EXAMPLE", PrincipalType: "AssumedRole", PrincipalID: "AROAWEBROLE:alice"},
		picket.Resource{Kind: picket.ResourceRoleSession, Type: "AssumedRole", ID: "web-role", PrincipalType: "AssumedRole", PrincipalID: "AROAWEBROLE:alice", Session: "alice"})
	f.Severity, f.SeverityScore = picket.SeverityHigh, 8
	cases = append(cases, tc{"role_session", picket.Alert{Finding: f, Channel: "C0SEC"}})

	f = baseFinding("UnauthorizedAccess:IAMUser/TorIPCaller", "API ListBuckets was invoked by a federated user from a Tor exit node",
		picket.Resource{Kind: picket.ResourceAccessKey, Type: "AccessKey", ID: "ASIAFEDERATEDEXAMPLE", PrincipalType: "FederatedUser"},
		picket.Resource{Kind: picket.ResourceFederatedUser, Type: "FederatedUser", ID: "alice", PrincipalType: "FederatedUser"})
	cases = append(cases, tc{"federated_user", picket.Alert{Finding: f, Channel: "C0SEC"}})

	f = baseFinding("Backdoor:EC2/C&CActivity.B!DNS", "EC2 instance i-0abc123def4567890 is querying a domain name associated with a known command and control server.",
		instanceResource("i-0abc123def4567890"))
	cases = append(cases, tc{"ec2_enriched", picket.Alert{Finding: f, Channel: "C0SEC",
		Enrichment: picket.Enrichment{AccountAlias: "Production", Instance: instanceContext()}}})

	f = baseFinding("Policy:S3/BucketBlockPublicAccessDisabled", "Amazon S3 Block Public Access was disabled for bucket logs-archive",
		picket.Resource{Kind: picket.ResourceS3Bucket, Type: "S3Bucket", ID: "logs-archive", ARN: "arn:aws:s3:::logs-archive"})
	f.Severity, f.SeverityScore = picket.SeverityLow, 2
	f.Count = 1
	cases = append(cases, tc{"s3_bucket", picket.Alert{Finding: f, Channel: "C0SEC"}})

	cases = append(cases, tc{"compliance_failed", picket.Alert{Finding: complianceFinding("FAILED", picket.WorkflowNew), Channel: "C0COMPLY"}})

	f = baseFinding("Recon:IAMUser/MaliciousIPCaller.Custom", "Reconnaissance API GetBucketAcl was invoked from a malicious IP address", userResource("bob"))
	f.RecordState = picket.RecordArchived
	cases = append(cases, tc{"closed_archived", picket.Alert{Finding: f, Channel: "C0SEC"}})

	f = baseFinding("TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce", "SSH brute force attacks against i-0abc123def4567890",
		instanceResource("i-0abc123def4567890"))
	f.Source, f.Product = picket.SourceSecurityHub, "GuardDuty"
	f.WorkflowStatus = picket.WorkflowSuppressed
	cases = append(cases, tc{"suppressed", picket.Alert{Finding: f, Channel: "C0SEC"}})

	cases = append(cases, tc{"resolved_passed", picket.Alert{Finding: complianceFinding("PASSED", picket.WorkflowResolved), Channel: "C0COMPLY",
		Enrichment: picket.Enrichment{AccountAlias: "Production"}}})

	f = baseFinding("UnauthorizedAccess:EC2/TorClient", "EC2 instance is communicating with Tor", instanceResource("i-0abc123def4567890"), userResource("deployer"))
	cases = append(cases, tc{"missing_context", picket.Alert{Finding: f, Channel: "C0SEC",
		Enrichment: picket.Enrichment{
			User:    &picket.UserContext{UserName: "deployer"},
			Missing: []string{"EC2 instance details: timed out after 2s", "account alias: AccessDenied calling iam:ListAccountAliases"},
		}}})

	f = baseFinding("CryptoCurrency:EC2/BitcoinTool.B!DNS", "EC2 instance is querying a domain name that is associated with Bitcoin activity",
		instanceResource("i-0abc123def4567890"))
	f.Severity, f.SeverityScore = picket.SeverityCritical, 9.5
	cases = append(cases, tc{"critical_mention", picket.Alert{Finding: f, Channel: "C0SEC", Mention: "S0614TZR7",
		Enrichment: picket.Enrichment{AccountAlias: "Production", Instance: instanceContext()}}})

	hostile := "<!channel> please click <https://evil.example|click> & <@U123> <#C123> &amp; "
	f = baseFinding("Impact:IAMUser/<!here>", "<!channel> Urgent: <https://evil.example|click here> & rotate", userResource("<!everyone>|x>"))
	f.Description = strings.Repeat(hostile, 5000/len(hostile)+1)
	f.ConsoleURL = "javascript:alert(1)"
	f.RemediationURL = "https://docs.example.com/fix?a=1&b=<2>|click"
	f.Product = "<!subteam^S999>"
	f.ID = "<https://evil.example|id>"
	cases = append(cases, tc{"hostile", picket.Alert{Finding: f, Channel: "C0SEC", Mention: "S1>|<!channel",
		Enrichment: picket.Enrichment{
			AccountAlias: "<!channel> prod",
			User: &picket.UserContext{UserName: "<!here>", Groups: []string{"<https://evil.example|g>"},
				AccessKeys: []picket.AccessKey{{ID: "<!channel>", Status: "Active"}}},
			Instance: &picket.InstanceContext{InstanceID: "i-1", Name: "<!channel>", Owner: "a&b"},
			Missing:  []string{"<!channel> lookup failed: <https://evil.example|x>"},
		}}})

	f = baseFinding("UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B", "Connexion console inhabituelle – ユーザー「田中」が東京から 🚨",
		userResource("tanaka-田中"))
	f.Description = "Ein ungewöhnlicher Konsolen-Login für den Benutzer „田中“ wurde beobachtet. مرحبا 👩‍💻 — ümlaut ñ"
	cases = append(cases, tc{"non_ascii", picket.Alert{Finding: f, Channel: "C0SEC",
		Enrichment: picket.Enrichment{AccountAlias: "Producción Zürich"}}})

	var many []picket.Resource
	for i := range 80 {
		many = append(many, instanceResource(fmt.Sprintf("i-%017d", i)))
	}
	f = baseFinding("Recon:EC2/PortProbeUnprotectedPort", "80 instances have an unprotected port probed by a known scanner", many...)
	cases = append(cases, tc{"many_resources", picket.Alert{Finding: f, Channel: "C0SEC"}})

	f = baseFinding("PACKAGE_VULNERABILITY", "CVE-2021-44228 - org.apache.logging.log4j:log4j-core",
		picket.Resource{Kind: picket.ResourceECRImage, Type: "AWS_ECR_CONTAINER_IMAGE", ID: "sha256:1a65e73f85a7e2fc26ca1baa4cc9d4fbdbe9bbb46f7a2bf32db01de22759df94",
			ARN:        "arn:aws:ecr:us-east-1:123456789012:repository/payments/api/sha256:1a65e73f85a7e2fc26ca1baa4cc9d4fbdbe9bbb46f7a2bf32db01de22759df94",
			Repository: "payments/api", ImageTags: []string{"latest", "v1.4.2"}, Region: "us-east-1"},
		picket.Resource{Kind: picket.ResourceLambda, Type: "AWS_LAMBDA_FUNCTION", ID: "billing", ARN: "arn:aws:lambda:us-east-1:123456789012:function:billing"})
	f.Source, f.Product, f.Severity, f.SeverityScore = picket.SourceInspector, "Inspector", picket.SeverityCritical, 90
	f.Description = "Apache Log4j2 JNDI features do not protect against attacker controlled LDAP and other JNDI related endpoints."
	f.Vulnerabilities = []picket.Vulnerability{{ID: "CVE-2021-44228", URL: "https://nvd.nist.gov/vuln/detail/CVE-2021-44228", CVSS: 10, CVSSVersion: "3.1",
		EPSS: 0.97565, HasEPSS: true, ExploitAvailable: "YES", FixAvailable: "YES",
		Packages: []picket.Package{{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", FixedIn: "2.16.0", Manager: "JAR"},
			{Name: "libssh2", Version: "1.4.3-12.amzn2.2", Manager: "OS"}}}}
	cases = append(cases, tc{"inspector_ecr_lambda", picket.Alert{Finding: f, Channel: "C0SEC"}})

	f = baseFinding("PACKAGE_VULNERABILITY", "<!channel> CVE <https://evil.example|x>",
		picket.Resource{Kind: picket.ResourceECRImage, ID: "sha256:`<!here>`", Repository: "<!channel>&repo", ImageTags: []string{"<@U1>", "a", "b", "c", "d", "e", "f"}})
	f.Source, f.Product = picket.SourceInspector, "Inspector"
	hv := picket.Vulnerability{ID: "<!everyone>", URL: "javascript:alert(1)", CVSS: 9.8, CVSSVersion: "<3>", ExploitAvailable: "<!here>", FixAvailable: "PARTIAL"}
	for i := range 8 {
		hv.Packages = append(hv.Packages, picket.Package{Name: fmt.Sprintf("<https://evil.example|pkg%d>", i), Version: "1&2", FixedIn: "<!channel>"})
	}
	f.Vulnerabilities = []picket.Vulnerability{hv}
	for i := range 7 {
		f.Vulnerabilities = append(f.Vulnerabilities, picket.Vulnerability{ID: fmt.Sprintf("<@U%d>", i), URL: "https://ok.example/<a>|b"})
	}
	cases = append(cases, tc{"inspector_hostile", picket.Alert{Finding: f, Channel: "C0SEC"}})

	f = baseFinding("Policy:IAMUser/S3BucketPublic", "The S3 bucket is publicly accessible",
		picket.Resource{Kind: picket.ResourceS3Bucket, Type: "AwsS3Bucket", ID: "customer-exports", ARN: "arn:aws:s3:::customer-exports"})
	f.Source, f.Product, f.Severity, f.SeverityScore = picket.SourceMacie, "Macie", picket.SeverityHigh, 70
	f.Data = &picket.DataFinding{Category: "POLICY", Bucket: "customer-exports", Public: "PUBLIC", Encryption: "NONE", UnencryptedUploads: "TRUE"}
	cases = append(cases, tc{"macie_policy_public", picket.Alert{Finding: f, Channel: "C0SEC"}})

	f = baseFinding("SensitiveData:S3Object/Multiple", "<!channel> The S3 object contains <https://evil.example|secrets>",
		picket.Resource{Kind: picket.ResourceS3Bucket, ID: "<!here>&b", ARN: "arn:aws:s3:::<!here>"})
	f.Source, f.Product = picket.SourceMacie, "Macie"
	f.Data = &picket.DataFinding{Category: "CLASSIFICATION", Bucket: "<!here>&b", ObjectKey: "a/`b`/<!channel>.csv", Public: "<@U1>", Encryption: "<x>", Total: 1 << 20}
	for i := range 7 {
		f.Data.Detections = append(f.Data.Detections, picket.DataDetection{Category: "CUSTOM_IDENTIFIER", Type: fmt.Sprintf("<https://evil.example|t%d>", i), Count: i})
	}
	cases = append(cases, tc{"macie_hostile", picket.Alert{Finding: f, Channel: "C0SEC"}})

	f = baseFinding("ExternalAccess/Public", "arn:aws:s3:::customer-exports allows public access",
		picket.Resource{Kind: picket.ResourceS3Bucket, Type: "AWS::S3::Bucket", ID: "customer-exports", ARN: "arn:aws:s3:::customer-exports"})
	f.Source, f.Product = picket.SourceAccessAnalyzer, "IAM Access Analyzer"
	f.Access = &picket.AccessFinding{Kind: picket.AccessExternal, Analyzer: "arn:aws:access-analyzer:us-east-1:123456789012:analyzer/org",
		ResourceType: "AWS::S3::Bucket", Principals: []string{"AWS *"}, Public: true, Actions: []string{"s3:GetObject", "s3:ListBucket"},
		Condition: `{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}`}
	cases = append(cases, tc{"access_external_public", picket.Alert{Finding: f, Channel: "C0SEC"}})

	f = baseFinding("UnusedIAMUserAccessKey", "Unused access key of arn:aws:iam::123456789012:user/alice",
		picket.Resource{Kind: picket.ResourceIAMUser, Type: "AWS::IAM::User", ID: "alice", ARN: "arn:aws:iam::123456789012:user/alice"})
	f.Source, f.Product, f.Severity = picket.SourceAccessAnalyzer, "IAM Access Analyzer", picket.SeverityLow
	f.Access = &picket.AccessFinding{Kind: picket.AccessUnused, Analyzer: "arn:aws:access-analyzer:us-east-1:123456789012:analyzer/unused",
		ResourceType: "AWS::IAM::User", FindingType: "UnusedIAMUserAccessKey", Unused: []string{"access key AKIAIOSFODNN7EXAMPLE"}, LastAccessed: t0.AddDate(0, -5, 0)}
	cases = append(cases, tc{"access_unused_key", picket.Alert{Finding: f, Channel: "C0SEC"}})

	f = baseFinding("InternalAccess", "<!channel> <https://evil.example|internal>", picket.Resource{Kind: picket.ResourceIAMRole, ID: "<!here>"})
	f.Source, f.Product = picket.SourceAccessAnalyzer, "IAM Access Analyzer"
	f.Access = &picket.AccessFinding{Kind: picket.AccessInternal, Analyzer: "`<!here>`", Principals: []string{"AWS <@U1>", "<!subteam^S1>", "a", "b", "c", "d"},
		Actions: []string{"<https://evil.example|s3:*>"}, Condition: "`x` <!channel> & y", Error: "<!everyone>", Unused: []string{"<@U2>"}}
	cases = append(cases, tc{"access_hostile", picket.Alert{Finding: f, Channel: "C0SEC"}})

	f = &picket.Finding{Key: picket.FindingKey("minimal"), Source: picket.SourceSecurityHub, Account: account, Sample: true,
		CustomAction: "SendToPicket"}
	cases = append(cases, tc{"minimal_sample", picket.Alert{Finding: f, Channel: "C0SEC"}})
	for _, c := range actionAlertCases() {
		cases = append(cases, tc{c.name, c.alert})
	}
	for _, c := range patchAlertCases() {
		cases = append(cases, tc{c.name, c.alert})
	}
	for _, c := range fixAlertCases() {
		cases = append(cases, tc{c.name, c.alert})
	}
	return cases
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			checkGolden(t, filepath.Join("testdata", "golden", tc.name+".json"), notifiers.Render(tc.alert))
		})
	}
}

// marshalMessage encodes m as the golden files hold it: indented, with <, >
// and & as themselves so that escaping is visible in review.
func marshalMessage(t testing.TB, m notifiers.Message) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		t.Fatalf("encode message: %v", err)
	}
	// slack-go's own MarshalJSON methods escape HTML whatever the encoder
	// says; undo it (an odd run of backslashes is an escape, an even one is
	// literal backslashes).
	return htmlEscapes.ReplaceAllFunc(b.Bytes(), func(m []byte) []byte {
		n := bytes.LastIndexByte(m, '\\')
		if n%2 == 1 {
			return m
		}
		r := map[string]byte{"3c": '<', "3e": '>', "26": '&'}[strings.ToLower(string(m[n+4:]))]
		return append(m[:n:n], r)
	})
}

var htmlEscapes = regexp.MustCompile(`\\+u00(?:3[cCeE]|26)`)

// checkGolden compares m with the golden file at path, or rewrites the file
// with -update.
func checkGolden(t *testing.T, path string, m notifiers.Message) {
	t.Helper()
	got := marshalMessage(t, m)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("write golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test ./notifiers -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("rendered message differs from %s (run go test ./notifiers -update and review the diff)\ngot:\n%s", path, got)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	for _, tc := range goldenCases() {
		a := marshalMessage(t, notifiers.Render(tc.alert))
		b := marshalMessage(t, notifiers.Render(tc.alert))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two renders of the same alert differ", tc.name)
		}
	}
}

// buttons returns the action ids and values of the rendered message.
func buttons(t *testing.T, m notifiers.Message) (ids, values []string) {
	t.Helper()
	var msg struct {
		Blocks []struct {
			Type     string `json:"type"`
			Elements []struct {
				ActionID string `json:"action_id"`
				Value    string `json:"value"`
				Style    string `json:"style"`
				Confirm  *struct {
					Text struct{ Text string } `json:"text"`
				} `json:"confirm"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(marshalMessage(t, m), &msg); err != nil {
		t.Fatalf("decode message: %v", err)
	}
	for _, b := range msg.Blocks {
		if b.Type != "actions" {
			continue
		}
		for _, e := range b.Elements {
			ids = append(ids, e.ActionID)
			values = append(values, e.Value)
			danger := e.ActionID == notifiers.ActionDisableUser || e.ActionID == notifiers.ActionQuarantineInstance
			if danger && (e.Style != "danger" || e.Confirm == nil) {
				t.Errorf("button %s: got style %q confirm %v, want danger with a confirm dialog", e.ActionID, e.Style, e.Confirm != nil)
			}
		}
	}
	return ids, values
}

func TestRenderButtons(t *testing.T) {
	want := map[string][]string{
		"iam_user_enriched": {notifiers.ActionDisableUser, notifiers.ActionSuppress, notifiers.ActionEscalate},
		"access_key":        {notifiers.ActionDisableUser, notifiers.ActionSuppress, notifiers.ActionEscalate},
		"root":              {notifiers.ActionSuppress, notifiers.ActionEscalate},
		"role_session":      {notifiers.ActionRevokeSessions, notifiers.ActionSuppress, notifiers.ActionEscalate},
		"federated_user":    {notifiers.ActionSuppress, notifiers.ActionEscalate},
		"ec2_enriched":      {notifiers.ActionQuarantineInstance, notifiers.ActionSuppress, notifiers.ActionEscalate},
		"s3_bucket":         {notifiers.ActionSuppress, notifiers.ActionEscalate},
		"compliance_failed": {notifiers.ActionSuppress, notifiers.ActionEscalate},
		"closed_archived":   {notifiers.ActionEscalate},
		"suppressed":        {notifiers.ActionEscalate},
		"resolved_passed":   {notifiers.ActionEscalate},
		"missing_context":   {notifiers.ActionDisableUser, notifiers.ActionQuarantineInstance, notifiers.ActionSuppress, notifiers.ActionEscalate},
		"many_resources":    {notifiers.ActionQuarantineInstance, notifiers.ActionSuppress, notifiers.ActionEscalate},
	}
	for _, tc := range goldenCases() {
		w, ok := want[tc.name]
		if !ok {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			ids, values := buttons(t, notifiers.Render(tc.alert))
			if !slices.Equal(ids, w) {
				t.Errorf("got buttons %v, want %v", ids, w)
			}
			for i, v := range values {
				if v != tc.alert.Finding.Key {
					t.Errorf("button %s: got value %q, want the finding key %q", ids[i], v, tc.alert.Finding.Key)
				}
			}
		})
	}
}

func TestRenderConfirmNamesTarget(t *testing.T) {
	tests := []struct {
		name  string
		alert picket.Alert
		want  []string
	}{
		{"user", picket.Alert{Finding: baseFinding("T", "t", userResource("alice")),
			Enrichment: picket.Enrichment{AccountAlias: "Production"}},
			[]string{"IAM user alice", "Production (123456789012)"}},
		{"access key owner", picket.Alert{Finding: baseFinding("T", "t",
			picket.Resource{Kind: picket.ResourceAccessKey, ID: "AKIAEXAMPLE", UserName: "bob"})},
			[]string{"IAM user bob (access key AKIAEXAMPLE)", "account 123456789012"}},
		{"instance", picket.Alert{Finding: baseFinding("T", "t", instanceResource("i-0abc123def4567890")),
			Enrichment: picket.Enrichment{Instance: instanceContext()}},
			[]string{"instance i-0abc123def4567890 (web-1)", "account 123456789012"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := string(marshalMessage(t, notifiers.Render(tt.alert)))
			for _, w := range tt.want {
				if !strings.Contains(js, w) {
					t.Errorf("got no %q in the confirm dialog of\n%s", w, js)
				}
			}
		})
	}
}

func TestRenderFallbackText(t *testing.T) {
	closed := baseFinding("T", "Archived thing", userResource("a"))
	closed.RecordState = picket.RecordArchived
	closed.WorkflowStatus = picket.WorkflowResolved
	tests := []struct {
		name  string
		alert picket.Alert
		want  string
	}{
		{"plain", picket.Alert{Finding: baseFinding("T", "Tor caller")}, "[High] Tor caller - account 123456789012 us-east-1"},
		{"mention", picket.Alert{Finding: baseFinding("T", "Tor caller"), Mention: "S0614TZR7"},
			"<!subteam^S0614TZR7> [High] Tor caller - account 123456789012 us-east-1"},
		{"bad mention dropped", picket.Alert{Finding: baseFinding("T", "Tor caller"), Mention: "S1><!channel"},
			"[High] Tor caller - account 123456789012 us-east-1"},
		{"escaped", picket.Alert{Finding: baseFinding("T", "<!channel> & co")},
			"[High] &lt;!channel&gt; &amp; co - account 123456789012 us-east-1"},
		{"closed", picket.Alert{Finding: closed}, "[High] Archived thing - account 123456789012 us-east-1 (archived and resolved)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := notifiers.Render(tt.alert).Text; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRenderColor(t *testing.T) {
	closed := baseFinding("T", "t")
	closed.WorkflowStatus = picket.WorkflowSuppressed
	tests := []struct {
		sev  picket.Severity
		f    *picket.Finding
		want string
	}{
		{picket.SeverityCritical, nil, notifiers.ColorCritical},
		{picket.SeverityHigh, nil, notifiers.ColorHigh},
		{picket.SeverityMedium, nil, notifiers.ColorMedium},
		{picket.SeverityLow, nil, notifiers.ColorLow},
		{picket.SeverityInformational, nil, notifiers.ColorInformational},
		{picket.SeverityCritical, closed, notifiers.ColorClosed},
	}
	for _, tt := range tests {
		name := tt.sev.String()
		if tt.f != nil {
			name += " closed"
		}
		t.Run(name, func(t *testing.T) {
			f := tt.f
			if f == nil {
				f = baseFinding("T", "t")
			}
			f.Severity = tt.sev
			if got := notifiers.Render(picket.Alert{Finding: f}).Color; got != tt.want {
				t.Errorf("got colour %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRenderHostileText(t *testing.T) {
	var hostile picket.Alert
	for _, tc := range goldenCases() {
		if tc.name == "hostile" {
			hostile = tc.alert
		}
	}
	m := notifiers.Render(hostile)
	js := string(marshalMessage(t, m))
	for _, bad := range []string{"<!channel", "<!here", "<!everyone", "<https://evil", "<@U123>", "<#C123>", "javascript:", "<!subteam^S999", "<!subteam^S1"} {
		if strings.Contains(js, bad) {
			t.Errorf("got %q in the rendered message, want it escaped or dropped", bad)
		}
	}
	for _, want := range []string{"&lt;!channel&gt;", "&amp;amp;", "a&amp;b", "Remediation guide on docs.example.com (not linked: not an AWS documentation host)"} {
		if !strings.Contains(js, want) {
			t.Errorf("got no %q in the rendered message", want)
		}
	}
	if strings.Contains(js, "docs.example.com/") {
		t.Errorf("got a link to docs.example.com in the rendered message, want only its host as text")
	}
	if !strings.Contains(js, "…") {
		t.Errorf("got no ellipsis, want the 5,000-character description cut")
	}
}

// TestRenderRemediationHosts checks that a remediation URL is a link only
// on an AWS documentation or console host; any other shows its host as
// text.
func TestRenderRemediationHosts(t *testing.T) {
	for _, tc := range []struct {
		url, link, text string
	}{
		{"https://docs.aws.amazon.com/console/securityhub/IAM.3/remediation", "<https://docs.aws.amazon.com/console/securityhub/IAM.3/remediation|Remediation guide>", ""},
		{"https://eu-west-1.console.aws.amazon.com/iam/home", "<https://eu-west-1.console.aws.amazon.com/iam/home|Remediation guide>", ""},
		{"https://aws.amazon.com/premiumsupport/knowledge-center/x", "<https://aws.amazon.com/premiumsupport/knowledge-center/x|Remediation guide>", ""},
		{"https://docs.aws.amazon.com.evil.example/fix", "", "Remediation guide on docs.aws.amazon.com.evil.example (not linked"},
		{"https://evilconsole.aws.amazon.com/x", "", "Remediation guide on evilconsole.aws.amazon.com (not linked"},
		{"https://vendor.example/kb/42", "", "Remediation guide on vendor.example (not linked"},
		{"http://docs.aws.amazon.com/x", "", "Remediation guide on docs.aws.amazon.com (not linked"},
		{"https://docs.aws.amazon.com:8443/x", "", "Remediation guide on docs.aws.amazon.com:8443 (not linked"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			for _, f := range []*picket.Finding{complianceFinding("FAILED", picket.WorkflowNew),
				baseFinding("Recon:IAMUser/X", "x", userResource("alice"))} {
				f.RemediationURL = tc.url
				js := string(marshalMessage(t, notifiers.Render(picket.Alert{Finding: f, Channel: "C0SEC"})))
				if tc.link != "" && !strings.Contains(js, tc.link) {
					t.Errorf("got no link %q in %s", tc.link, js)
				}
				if tc.text != "" && (!strings.Contains(js, tc.text) || strings.Contains(js, "|Remediation guide>")) {
					t.Errorf("got %s, want %q as text and no remediation link", js, tc.text)
				}
			}
		})
	}
}

// TestRenderCodeSpanBackticks checks that a backtick in a resource id
// cannot end its code span and turn the rest into Slack markup.
func TestRenderCodeSpanBackticks(t *testing.T) {
	id := "i-0abc` *<!here>* `x"
	f := baseFinding("Recon:EC2/X", "x", instanceResource(id))
	f.ID = "gd`id"
	f.Resources = append(f.Resources, picket.Resource{Kind: picket.ResourceAccessKey, ID: "AKIA1", UserName: "bob`*", ARN: "arn:aws:iam::1:user/b`ob"})
	m := notifiers.Render(picket.Alert{Finding: f, Channel: "C0SEC"})
	js := string(marshalMessage(t, m))
	var texts []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["type"] == "mrkdwn" {
				texts = append(texts, x["text"].(string))
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	var doc any
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	walk(doc)
	found := 0
	for _, s := range texts {
		if strings.Contains(s, "i-0abc") || strings.Contains(s, "gd") && strings.Contains(s, "Finding") || strings.Contains(s, "bob") {
			found++
			if n := strings.Count(s, "`"); n%2 != 0 {
				t.Errorf("got %d backticks in %q, want code spans that open and close", n, s)
			}
			if strings.Contains(s, "0abc`") || strings.Contains(s, "gd`") || strings.Contains(s, "bob`") || strings.Contains(s, "b`ob") {
				t.Errorf("got a raw backtick from finding text in %q", s)
			}
		}
	}
	if found < 3 {
		t.Fatalf("got %d texts naming the resources, want at least 3: %q", found, texts)
	}
	if !strings.Contains(js, "i-0abcˋ *&lt;!here&gt;* ˋx") {
		t.Errorf("got %s, want the id with look-alike backticks", js)
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"plain", "hello world", "hello world"},
		{"mention", "<!channel>", "&lt;!channel&gt;"},
		{"link", "<https://evil|click>", "&lt;https://evil|click&gt;"},
		{"ampersand first", "a & b &amp;", "a &amp; b &amp;amp;"},
		{"non-ascii", "ユーザー „田中“ 🚨", "ユーザー „田中“ 🚨"},
		{"invalid utf-8", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := notifiers.Escape(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestGoldenLimits walks every golden message, hand-built and from the
// corpus, and checks Slack's limits and that no markup from finding text
// survives: the only <...> left are the mentions and links Render writes.
func TestGoldenLimits(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 12 {
		t.Fatalf("got %d golden files, want at least 12 (run go test ./notifiers -update)", len(paths))
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			checkLimits(t, b)
		})
	}
}

var (
	ourMarkup = regexp.MustCompile(`<!subteam\^[A-Za-z0-9]+>|<https?://[^|<>\s]+\|[^<>|]+>|<@[UW][A-Z0-9]{2,}>|<#[CGD][A-Z0-9]{2,}>`)
	knownIDs  = []string{notifiers.ActionDisableUser, notifiers.ActionQuarantineInstance, notifiers.ActionRevokeSessions, notifiers.ActionSuppress, notifiers.ActionEscalate, notifiers.ActionSuppressSimilar,
		notifiers.ActionUndo, notifiers.ActionApprove, notifiers.ActionReject,
		notifiers.ActionFixBucketPublicAccess, notifiers.ActionFixAccountPublicAccess, notifiers.ActionFixSecurityGroup, notifiers.ActionFixEBSEncryption, notifiers.ActionPatchInstance}
)

type textObj struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func checkLimits(t *testing.T, raw []byte) {
	t.Helper()
	var msg struct {
		Text   string `json:"text"`
		Color  string `json:"color"`
		Blocks []struct {
			Type     string            `json:"type"`
			BlockID  string            `json:"block_id"`
			Text     *textObj          `json:"text"`
			Fields   []*textObj        `json:"fields"`
			Elements []json.RawMessage `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(raw, &msg); err != nil {
		t.Fatalf("decode: %v", err)
	}
	blockIDs := map[string]bool{}
	for i, b := range msg.Blocks {
		if b.BlockID == "" {
			continue
		}
		if blockIDs[b.BlockID] {
			t.Errorf("block %d: got block_id %q twice, want each unique", i, b.BlockID)
		}
		blockIDs[b.BlockID] = true
	}
	if !regexp.MustCompile(`^#[0-9A-F]{6}$`).MatchString(msg.Color) {
		t.Errorf("got colour %q, want #RRGGBB", msg.Color)
	}
	checkText(t, "fallback text", msg.Text, 40000)
	if n := len(msg.Blocks); n == 0 || n > notifiers.MaxBlocks {
		t.Errorf("got %d blocks, want 1 to %d", n, notifiers.MaxBlocks)
	}
	for i, b := range msg.Blocks {
		where := fmt.Sprintf("block %d (%s)", i, b.Type)
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" {
				t.Errorf("%s: got no plain_text, want one", where)
				continue
			}
			checkText(t, where, b.Text.Text, notifiers.MaxHeaderText)
		case "section":
			if b.Text != nil {
				checkText(t, where, b.Text.Text, notifiers.MaxSectionText)
			}
			if len(b.Fields) > notifiers.MaxFields {
				t.Errorf("%s: got %d fields, want at most %d", where, len(b.Fields), notifiers.MaxFields)
			}
			for _, f := range b.Fields {
				checkText(t, where+" field", f.Text, notifiers.MaxFieldText)
			}
		case "context":
			if len(b.Elements) > 10 {
				t.Errorf("%s: got %d elements, want at most 10", where, len(b.Elements))
			}
			for _, raw := range b.Elements {
				var e textObj
				if err := json.Unmarshal(raw, &e); err != nil || e.Type != "mrkdwn" {
					t.Errorf("%s: got element %s, want a mrkdwn text object", where, raw)
					continue
				}
				checkText(t, where, e.Text, notifiers.MaxSectionText)
			}
		case "actions":
			actionIDs := map[string]bool{}
			for _, raw := range b.Elements {
				var e struct {
					Type     string   `json:"type"`
					Text     *textObj `json:"text"`
					ActionID string   `json:"action_id"`
					Value    string   `json:"value"`
					Confirm  *struct {
						Title, Text, Confirm, Deny *textObj
					} `json:"confirm"`
				}
				if err := json.Unmarshal(raw, &e); err != nil || e.Type != "button" || e.Text == nil {
					t.Errorf("%s: got element %s, want a button", where, raw)
					continue
				}
				if actionIDs[e.ActionID] {
					t.Errorf("%s: got action_id %q twice in one block, want each unique", where, e.ActionID)
				}
				actionIDs[e.ActionID] = true
				if !slices.Contains(knownIDs, e.ActionID) {
					t.Errorf("%s: got action_id %q, want one of %v", where, e.ActionID, knownIDs)
				}
				checkText(t, where+" button", e.Text.Text, notifiers.MaxButtonText)
				if e.Value == "" || utf8.RuneCountInString(e.Value) > notifiers.MaxButtonValue {
					t.Errorf("%s: got value of %d runes, want 1 to %d", where, utf8.RuneCountInString(e.Value), notifiers.MaxButtonValue)
				}
				if c := e.Confirm; c != nil {
					checkText(t, where+" confirm", c.Text.Text, notifiers.MaxConfirmText)
					checkText(t, where+" confirm title", c.Title.Text, 100)
				}
			}
		case "divider":
		default:
			t.Errorf("%s: unexpected block type", where)
		}
	}
}

// checkText checks a length limit and that the only Slack markup in s is
// what Render writes.
func checkText(t *testing.T, where, s string, limit int) {
	t.Helper()
	if n := utf8.RuneCountInString(s); n > limit {
		t.Errorf("%s: got %d runes, want at most %d", where, n, limit)
	}
	rest := ourMarkup.ReplaceAllString(s, "")
	if strings.ContainsAny(rest, "<>") {
		t.Errorf("%s: got unescaped < or > outside Picket's own links and mentions: %q", where, rest)
	}
	if strings.Contains(s, "<!") && !strings.Contains(s, "<!subteam^") {
		t.Errorf("%s: got %q, want no <! from finding text", where, s)
	}
}

func TestRenderWithoutKeyHasNoButtons(t *testing.T) {
	for _, a := range []picket.Alert{{}, {Finding: &picket.Finding{Title: "no key", Resources: []picket.Resource{userResource("a")}}}} {
		ids, _ := buttons(t, notifiers.Render(a))
		if len(ids) != 0 {
			t.Errorf("got buttons %v for a finding without a key, want none", ids)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	a := picket.Alert{Finding: baseFinding("UnauthorizedAccess:IAMUser/TorIPCaller", "API ListBuckets was invoked from a Tor exit node",
		userResource("alice")), Enrichment: picket.Enrichment{AccountAlias: "Production", User: userContext()}, Channel: "C0SEC"}
	b.ReportAllocs()
	for b.Loop() {
		notifiers.Render(a)
	}
}

func BenchmarkRenderAndMarshal(b *testing.B) {
	a := picket.Alert{Finding: baseFinding("UnauthorizedAccess:IAMUser/TorIPCaller", "API ListBuckets was invoked from a Tor exit node",
		userResource("alice")), Enrichment: picket.Enrichment{AccountAlias: "Production", User: userContext()}, Channel: "C0SEC"}
	b.ReportAllocs()
	for b.Loop() {
		m := notifiers.Render(a)
		if _, err := json.Marshal(m.Blocks); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderMessage is the alert path's share of the throughput
// benchmark: render a GuardDuty alert without enrichment and encode the
// whole message as json.Marshal does for the Slack API.
func BenchmarkRenderMessage(b *testing.B) {
	f := baseFinding("UnauthorizedAccess:IAMUser/TorIPCaller", "API ListBuckets was invoked from a Tor exit node",
		userResource("alice"), picket.Resource{Kind: picket.ResourceAccessKey, ID: "AKIAIOSFODNN7EXAMPLE", UserName: "alice"})
	a := picket.Alert{Finding: f, Channel: "#security-alerts"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(notifiers.Render(a)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRenderContextWithinSlackLimits: the context block under an alert
// keeps to Slack's 10 elements and 3,000 characters each, whatever the
// finding holds: many resources named inconsistently (one note each), or
// long remediation and console links. Otherwise Slack refuses the alert
// and it is never posted.
func TestRenderContextWithinSlackLimits(t *testing.T) {
	mismatched := baseFinding("Policy:IAMUser/RootCredentialUsage", "Many principals")
	for i := range 30 {
		mismatched.Resources = append(mismatched.Resources, picket.Resource{Kind: picket.ResourceIAMUser, ID: fmt.Sprintf("user%02d", i),
			Mismatch: fmt.Sprintf("Details.AwsIamUser.UserName %q does not match the resource Id", fmt.Sprintf("user%02d", i))})
	}
	longLinks := baseFinding("Software and Configuration Checks/Vulnerabilities", "Long links", instanceResource("i-0123456789abcdef0"))
	longLinks.Source = picket.SourceSecurityHub
	longLinks.RemediationURL = "https://docs.aws.amazon.com/securityhub/latest/userguide/" + strings.Repeat("a", 2000)
	longLinks.ConsoleURL = "https://console.aws.amazon.com/securityhub/home#/findings?search=" + strings.Repeat("%255C", 300)
	tooLong := baseFinding("Software and Configuration Checks/Vulnerabilities", "A link too long", instanceResource("i-0123456789abcdef0"))
	tooLong.RemediationURL = "https://docs.aws.amazon.com/" + strings.Repeat("b", 3500)
	for _, tc := range []struct {
		name string
		f    *picket.Finding
		want string
	}{
		{"30 mismatched resources", mismatched, "user29"},
		{"long remediation and console links", longLinks, "|Remediation guide>"},
		{"a link longer than a text object", tooLong, "Remediation guide (the link is too long for Slack)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := marshalMessage(t, notifiers.Render(picket.Alert{Finding: tc.f}))
			checkLimits(t, raw)
			if !strings.Contains(string(raw), tc.want) {
				t.Errorf("got no %q in the message, want it kept", tc.want)
			}
		})
	}
}
