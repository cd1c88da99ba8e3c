package event_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/event"
)

const inspectorEvent = "inspector/eb_Inspector2_Finding_ECR_package_vulnerability__awsdocs-ecr.json"

// inspectorDetail lets fn change the detail of the Inspector2 Finding sample.
func inspectorDetail(tb testing.TB, fn func(d map[string]any)) []byte {
	tb.Helper()
	return edit(tb, readFile(tb, inspectorEvent), func(m map[string]any) { fn(obj(m, "detail")) })
}

func TestDecodeInspectorEvent(t *testing.T) {
	f := mustDecode(t, readFile(t, inspectorEvent))[0]
	want := []picket.Vulnerability{{ID: "CVE-2019-17498", URL: "https://access.redhat.com/security/cve/CVE-2019-17498", CVSS: 8.1, CVSSVersion: "3.1",
		Packages: []picket.Package{{Name: "libssh2", Version: "1.4.3-12.amzn2.2", Manager: "OS"}}}}
	if !reflect.DeepEqual(f.Vulnerabilities, want) {
		t.Errorf("got vulnerabilities %+v, want %+v", f.Vulnerabilities, want)
	}
	r := f.Resources[0]
	if r.Repository != "amazon/amazon-ecs-sample" || !reflect.DeepEqual(r.ImageTags, []string{"latest"}) || r.Region != "us-east-2" {
		t.Errorf("got repository %q tags %q region %q, want amazon/amazon-ecs-sample [latest] us-east-2 (not N/A)", r.Repository, r.ImageTags, r.Region)
	}
	if r.Kind.Label() != "ECR image" {
		t.Errorf("got label %q, want ECR image", r.Kind.Label())
	}
}

// TestInspectorSameKeyAcrossSources checks that an Inspector finding has one
// Key whether it arrives natively, through Security Hub v1 (ASFF) or v2
// (OCSF).
func TestInspectorSameKeyAcrossSources(t *testing.T) {
	v1 := mustDecode(t, placeboData(t, "securityhub/api_GetFindings_inspector_ecr_1__c7n.json"))[0]
	native := mustDecode(t, inspectorDetail(t, func(d map[string]any) {
		d["findingArn"] = v1.ID
	}))[0]
	v2 := mustDecode(t, readOCSF(t, "v2_vulnerability_inspector_log4j_ecr.json"))[0]
	if native.Key != v1.Key || v2.Key != v1.Key {
		t.Errorf("got Keys %s natively, %s through v1, %s through v2, want one", native.Key, v1.Key, v2.Key)
	}
	if native.ProductARN != v1.ProductARN {
		t.Errorf("got ProductARN %q natively, want v1's %q", native.ProductARN, v1.ProductARN)
	}
	other := mustDecode(t, readFile(t, inspectorEvent))[0]
	if other.Key == v1.Key {
		t.Error("a different Inspector finding got the same Key")
	}
}

func TestDecodeInspectorASFFVulnerabilities(t *testing.T) {
	f := mustDecode(t, placeboData(t, "securityhub/api_GetFindings_inspector_ecr_1__c7n.json"))[0]
	if len(f.Vulnerabilities) != 1 {
		t.Fatalf("got %d vulnerabilities, want 1", len(f.Vulnerabilities))
	}
	v := f.Vulnerabilities[0]
	if v.ID != "CVE-2021-44228" || v.CVSS != 10 || v.CVSSVersion != "3.1" || v.URL != "https://nvd.nist.gov/vuln/detail/CVE-2021-44228" {
		t.Errorf("got %s CVSS %v (%s) URL %s, want CVE-2021-44228 CVSS 10 (3.1) and the NVD link", v.ID, v.CVSS, v.CVSSVersion, v.URL)
	}
	if len(v.Packages) != 2 || v.Packages[1] != (picket.Package{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1"}) {
		t.Errorf("got packages %+v, want log4j-api and log4j-core 2.14.1", v.Packages)
	}
	r := f.Resources[0]
	if r.Kind != picket.ResourceECRImage || r.Repository != "sas-log4j-test" || !reflect.DeepEqual(r.ImageTags, []string{"latest"}) {
		t.Errorf("got resource %+v, want the ECR image of sas-log4j-test tagged latest", r)
	}
	// Fields AWS added later: fix and exploit availability, EPSS.
	body := edit(t, placeboData(t, "securityhub/api_GetFindings_inspector_ecr_1__c7n.json"), func(m map[string]any) {
		v := m["Findings"].([]any)[0].(map[string]any)["Vulnerabilities"].([]any)[0].(map[string]any)
		v["FixAvailable"], v["ExploitAvailable"], v["EpssScore"] = "YES", "YES", 0.97565
		v["VulnerablePackages"].([]any)[1].(map[string]any)["FixedInVersion"] = "2.16.0"
		v["Vendor"].(map[string]any)["Url"] = "javascript:alert(1)"
	})
	v = mustDecode(t, body)[0].Vulnerabilities[0]
	if v.FixAvailable != "YES" || v.ExploitAvailable != "YES" || !v.HasEPSS || v.EPSS != 0.97565 || v.Packages[1].FixedIn != "2.16.0" {
		t.Errorf("got fix %q exploit %q EPSS %v/%v fixed in %q, want YES YES 0.97565 2.16.0", v.FixAvailable, v.ExploitAvailable, v.EPSS, v.HasEPSS, v.Packages[1].FixedIn)
	}
	if v.URL != "https://www.intel.com/content/www/us/en/security-center/advisory/intel-sa-00646.html" {
		t.Errorf("got URL %q, want the first web link after the non-web vendor link", v.URL)
	}
}

func TestDecodeInspectorResources(t *testing.T) {
	for _, tc := range []struct {
		name     string
		resource map[string]any
		want     string
	}{
		{"EC2 instance", map[string]any{"type": "AWS_EC2_INSTANCE", "id": "i-0123456789abcdef0", "region": "us-east-2"}, "ec2_instance:i-0123456789abcdef0"},
		{"Lambda function by ARN", map[string]any{"type": "AWS_LAMBDA_FUNCTION", "id": "arn:aws:lambda:us-east-2:123456789012:function:billing:3", "region": "us-east-2"}, "lambda_function:billing"},
		{"Lambda function details", map[string]any{"type": "AWS_LAMBDA_FUNCTION", "id": "x", "details": map[string]any{"awsLambdaFunction": map[string]any{"functionName": "payroll"}}}, "lambda_function:payroll"},
		{"ECR repository", map[string]any{"type": "AWS_ECR_REPOSITORY", "id": "arn:aws:ecr:us-east-2:123456789012:repository/app"}, "other:arn:aws:ecr:us-east-2:123456789012:repository/app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustDecode(t, inspectorDetail(t, func(d map[string]any) { d["resources"] = []any{tc.resource} }))[0]
			if got := summarize(&f).Resources; got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecodeInspectorTimes(t *testing.T) {
	want := time.Date(2021, 12, 3, 18, 2, 30, 0, time.UTC)
	for _, v := range []any{"2021-12-03T18:02:30Z", "2021-12-03T19:02:30+01:00", "2021-12-03T18:02:30", "Dec 3, 2021, 6:02:30 PM", 1638554550000} {
		f := mustDecode(t, inspectorDetail(t, func(d map[string]any) { d["updatedAt"] = v }))[0]
		if !f.UpdatedAt.Equal(want) {
			t.Errorf("updatedAt %v: got %v, want %v", v, f.UpdatedAt, want)
		}
	}
}

func TestDecodeInspectorStatesAndErrors(t *testing.T) {
	for _, tc := range []struct {
		name             string
		fn               func(d map[string]any)
		record, workflow string
	}{
		{"suppressed", func(d map[string]any) { d["status"] = "SUPPRESSED" }, "ACTIVE", "SUPPRESSED"},
		{"closed", func(d map[string]any) { d["status"] = "CLOSED" }, "ARCHIVED", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustDecode(t, inspectorDetail(t, tc.fn))[0]
			if f.RecordState != tc.record || f.WorkflowStatus != tc.workflow || !f.Closed() {
				t.Errorf("got Record %q Workflow %q Closed %v, want %q %q true", f.RecordState, f.WorkflowStatus, f.Closed(), tc.record, tc.workflow)
			}
		})
	}
	for _, tc := range []struct {
		name string
		body []byte
		code string
		msg  string
	}{
		{"forged source", edit(t, readFile(t, inspectorEvent), func(m map[string]any) { m["source"] = "aws.securityhub" }), picket.EUNTRUSTED, `"Inspector2 Finding" event from source "aws.securityhub"; only aws.inspector2 sends these`},
		{"no source", edit(t, readFile(t, inspectorEvent), func(m map[string]any) { delete(m, "source") }), picket.EUNTRUSTED, "has no source"},
		{"no arn", inspectorDetail(t, func(d map[string]any) { delete(d, "findingArn") }), picket.EINVALID, "Inspector finding has no findingArn"},
		{"bad severity", inspectorDetail(t, func(d map[string]any) { d["severity"] = "SEVERE" }), picket.EINVALID, `severity "SEVERE" is not a severity`},
		{"bad time", inspectorDetail(t, func(d map[string]any) { d["updatedAt"] = "soon" }), picket.EINVALID, "is neither RFC 3339"},
		{"detail not an object", edit(t, readFile(t, inspectorEvent), func(m map[string]any) { m["detail"] = []any{} }), picket.EINVALID, "Inspector finding: invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := event.Decode(tc.body)
			checkError(t, err, tc.code, tc.msg)
		})
	}
}
