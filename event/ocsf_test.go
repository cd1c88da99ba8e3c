package event_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/event"
)

func readOCSF(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ocsf", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// v1First decodes a corpus file holding ASFF and returns its first finding.
func v1First(tb testing.TB, name string) picket.Finding {
	tb.Helper()
	b := readFile(tb, name)
	if strings.HasPrefix(name, "securityhub/asff_") {
		b = ebEvent(tb, "ev-v1", "Security Hub Findings - Imported", "aws.securityhub", "1", "us-east-1", []byte(`{"findings":[`+string(b)+`]}`))
	}
	if strings.HasPrefix(name, "securityhub/api_") {
		b = placeboData(tb, name)
	}
	return mustDecode(tb, b)[0]
}

// TestDecodeOCSF checks each v2 sample against the v1 (ASFF) sample of the
// same finding: one Key, and the same facts.
func TestDecodeOCSF(t *testing.T) {
	for _, tc := range []struct {
		file, v1   string
		severity   picket.Severity
		compliance string
		control    string
		resources  string
		count      int
		workflow   string
	}{
		{"v2_detection_guardduty_SSHBruteForce.json", "securityhub/asff_guardduty_finding_typical__awsdocs_2021-01.json",
			picket.SeverityMedium, "", "", "ec2_instance:i-0c10c2c7863d1a356", 74, "NEW"},
		{"v2_compliance_fsbp_EC2.7.json", "securityhub/imported_fsbp_EC2.7__asr.json",
			picket.SeverityInformational, "FAILED", "EC2.7", "account:111111111111", 1, "NEW"},
		{"v2_vulnerability_inspector_log4j_ecr.json", "securityhub/api_GetFindings_inspector_ecr_1__c7n.json",
			picket.SeverityCritical, "", "", "ecr_image:sha256:1a65e73f85a7e2fc26ca1baa4cc9d4fbdbe9bbb46f7a2bf32db01de22759df94", 1, "NEW"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			fs := mustDecode(t, readOCSF(t, tc.file))
			if len(fs) != 1 {
				t.Fatalf("got %d findings, want 1", len(fs))
			}
			f := fs[0]
			checkInvariants(t, &f)
			v1 := v1First(t, tc.v1)
			if f.Key != v1.Key {
				t.Errorf("got Key %s through v2 and %s through v1, want the same", f.Key, v1.Key)
			}
			if f.ID != v1.ID || f.Product != v1.Product || f.Type != v1.Type || f.Account != v1.Account || f.Region != v1.Region {
				t.Errorf("got ID %q Product %q Type %q Account %q Region %q, want v1's %q %q %q %q %q",
					f.ID, f.Product, f.Type, f.Account, f.Region, v1.ID, v1.Product, v1.Type, v1.Account, v1.Region)
			}
			if f.Source != picket.SourceSecurityHub {
				t.Errorf("got Source %q, want securityhub", f.Source)
			}
			if f.Severity != tc.severity || f.ComplianceStatus != tc.compliance || f.ControlID != tc.control {
				t.Errorf("got Severity %v Compliance %q Control %q, want %v %q %q", f.Severity, f.ComplianceStatus, f.ControlID, tc.severity, tc.compliance, tc.control)
			}
			if got := summarize(&f).Resources; got != tc.resources {
				t.Errorf("got resources %q, want %q", got, tc.resources)
			}
			if f.Count != tc.count || f.WorkflowStatus != tc.workflow || f.RecordState != picket.RecordActive {
				t.Errorf("got Count %d Workflow %q Record %q, want %d %q ACTIVE", f.Count, f.WorkflowStatus, f.RecordState, tc.count, tc.workflow)
			}
			if !f.UpdatedAt.Equal(v1.UpdatedAt) {
				t.Errorf("got UpdatedAt %v, want v1's %v", f.UpdatedAt, v1.UpdatedAt)
			}
			if f.EventID == "" || f.Title == "" || f.Description == "" {
				t.Errorf("got EventID %q Title %q Description %q, want all set", f.EventID, f.Title, f.Description)
			}
		})
	}
}

func TestDecodeOCSFVulnerability(t *testing.T) {
	f := mustDecode(t, readOCSF(t, "v2_vulnerability_inspector_log4j_ecr.json"))[0]
	if len(f.Vulnerabilities) != 1 {
		t.Fatalf("got %d vulnerabilities, want 1", len(f.Vulnerabilities))
	}
	v := f.Vulnerabilities[0]
	want := picket.Vulnerability{ID: "CVE-2021-44228", URL: "https://nvd.nist.gov/vuln/detail/CVE-2021-44228", CVSS: 10, CVSSVersion: "3.1",
		EPSS: 0.97565, HasEPSS: true, ExploitAvailable: "YES", FixAvailable: "YES"}
	pk := v.Packages
	v.Packages = nil
	if !equalVuln(v, want) {
		t.Errorf("got %+v, want %+v", v, want)
	}
	if len(pk) != 2 || pk[0] != (picket.Package{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", FixedIn: "2.16.0", Manager: "JAR", Path: "/app/lib/log4j-core-2.14.1.jar"}) {
		t.Errorf("got packages %+v, want log4j-core 2.14.1 fixed in 2.16.0 first of 2", pk)
	}
	if r := f.Resources[0]; r.Repository != "sas-log4j-test" {
		t.Errorf("got repository %q, want sas-log4j-test", r.Repository)
	}
}

func equalVuln(a, b picket.Vulnerability) bool {
	return a.ID == b.ID && a.URL == b.URL && a.CVSS == b.CVSS && a.CVSSVersion == b.CVSSVersion && a.EPSS == b.EPSS &&
		a.HasEPSS == b.HasEPSS && a.ExploitAvailable == b.ExploitAvailable && a.FixAvailable == b.FixAvailable
}

func TestDecodeOCSFStates(t *testing.T) {
	base := readOCSF(t, "v2_detection_guardduty_SSHBruteForce.json")
	set := func(fn func(f map[string]any)) []byte {
		return edit(t, base, func(m map[string]any) {
			fn(obj(m, "detail")["findings"].([]any)[0].(map[string]any))
		})
	}
	for _, tc := range []struct {
		name             string
		body             []byte
		record, workflow string
		closed           bool
	}{
		{"suppressed", set(func(f map[string]any) { f["status_id"] = 3; f["status"] = "Suppressed" }), "ACTIVE", "SUPPRESSED", true},
		{"resolved by name", set(func(f map[string]any) { f["status_id"] = 99; f["status"] = "Resolved" }), "ACTIVE", "RESOLVED", true},
		{"closed activity", set(func(f map[string]any) { f["activity_id"] = 3 }), "ARCHIVED", "NEW", true},
		{"in progress", set(func(f map[string]any) { f["status_id"] = 2 }), "ACTIVE", "NOTIFIED", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustDecode(t, tc.body)[0]
			if f.RecordState != tc.record || f.WorkflowStatus != tc.workflow || f.Closed() != tc.closed {
				t.Errorf("got Record %q Workflow %q Closed %v, want %q %q %v", f.RecordState, f.WorkflowStatus, f.Closed(), tc.record, tc.workflow, tc.closed)
			}
		})
	}
}

func TestDecodeOCSFErrors(t *testing.T) {
	base := readOCSF(t, "v2_detection_guardduty_SSHBruteForce.json")
	set := func(fn func(f map[string]any)) []byte {
		return edit(t, base, func(m map[string]any) {
			fn(obj(m, "detail")["findings"].([]any)[0].(map[string]any))
		})
	}
	for _, tc := range []struct {
		name string
		body []byte
		code string
		msg  string
	}{
		{"not a finding", set(func(f map[string]any) { f["class_uid"] = 3002 }), picket.EUNSUPPORTED, "OCSF class_uid 3002 is not a finding"},
		{"no uid", set(func(f map[string]any) { delete(obj(f, "finding_info"), "uid") }), picket.EINVALID, "has no finding_info.uid"},
		{"bad time", set(func(f map[string]any) { obj(f, "finding_info")["modified_time_dt"] = "yesterday" }), picket.EINVALID, `time "yesterday" is neither RFC 3339`},
		{"wrong type", set(func(f map[string]any) { f["severity_id"] = "high" }), picket.EINVALID, "Security Hub v2 finding 1: invalid JSON"},
		{"no findings", edit(t, base, func(m map[string]any) { m["detail"] = map[string]any{} }), picket.EINVALID, "has no detail.findings"},
		{"empty findings", edit(t, base, func(m map[string]any) { m["detail"] = map[string]any{"findings": []any{}} }), picket.ENOTFINDING, "with no findings"},
		{"not from securityhub", edit(t, base, func(m map[string]any) { m["source"] = "custom.app" }), picket.EUNTRUSTED, "only aws.securityhub sends these"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := event.Decode(tc.body)
			checkError(t, err, tc.code, tc.msg)
		})
	}
}

// TestDecodeOCSFOtherFindingClass: a finding of another class of the OCSF
// Findings category (here a Data Security Finding, 2006, with no
// finding_info.types) is decoded from its base attributes, not dropped as
// unsupported; its class names its type.
func TestDecodeOCSFOtherFindingClass(t *testing.T) {
	base := readOCSF(t, "v2_detection_guardduty_SSHBruteForce.json")
	body := edit(t, base, func(m map[string]any) {
		f := obj(m, "detail")["findings"].([]any)[0].(map[string]any)
		f["class_uid"] = 2006
		f["class_name"] = "Data Security Finding"
		delete(obj(f, "finding_info"), "types")
	})
	f := mustDecode(t, body)[0]
	checkInvariants(t, &f)
	if f.Type != "Data Security Finding" {
		t.Errorf("Type = %q, want the class name", f.Type)
	}
	want := mustDecode(t, base)[0]
	if f.Key != want.Key || f.Severity != want.Severity || f.Account != want.Account || f.Title != want.Title {
		t.Errorf("got Key %s Severity %v Account %s Title %q, want %s %v %s %q", f.Key, f.Severity, f.Account, f.Title, want.Key, want.Severity, want.Account, want.Title)
	}
}
