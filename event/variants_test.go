package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/event"
)

// jsonString encodes s as a JSON string.
func jsonString(tb testing.TB, s string) string {
	tb.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// ebEvent wraps detail in an EventBridge event, fields in the order AWS
// sends them (detail last) and without white space.
func ebEvent(tb testing.TB, id, detailType, source, account, region string, detail []byte) []byte {
	tb.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"version":"0","id":%s,"detail-type":%s,"source":%s,"account":%s,"time":"2024-05-01T12:00:00Z","region":%s,"resources":[],"detail":`,
		jsonString(tb, id), jsonString(tb, detailType), jsonString(tb, source), jsonString(tb, account), jsonString(tb, region))
	if err := json.Compact(&b, detail); err != nil {
		tb.Fatalf("compact detail: %v", err)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// snsEnvelope wraps msg in an SNS notification as SQS receives it.
func snsEnvelope(tb testing.TB, msg []byte) []byte {
	tb.Helper()
	b, err := json.MarshalIndent(map[string]string{
		"Type":             "Notification",
		"MessageId":        "63a3f6b6-d533-4a47-aef9-fcf5cf758c76",
		"TopicArn":         "arn:aws:sns:us-east-1:123456789012:picket-findings",
		"Message":          string(msg),
		"Timestamp":        "2024-05-01T12:00:01.000Z",
		"SignatureVersion": "1",
		"Signature":        "EXAMPLE",
	}, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// edit decodes a JSON object, lets fn change it and encodes it again.
func edit(tb testing.TB, b []byte, fn func(m map[string]any)) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	fn(m)
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func obj(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

// rdpFinding is a complete GuardDuty finding, about 3 KB compacted.
func rdpFinding(tb testing.TB) []byte {
	tb.Helper()
	var resp struct{ Findings []json.RawMessage }
	if err := json.Unmarshal(readFile(tb, "guardduty/api_GetFindings_UnauthorizedAccess_EC2_RDPBruteForce_sample__awsdocs.json"), &resp); err != nil {
		tb.Fatal(err)
	}
	return resp.Findings[0]
}

const rdpARN = "arn:aws:guardduty:us-west-2:123456789012:detector/c6b0be64463ff852400d8ae5b2353866/finding/9cb0be64df8ba1df249c45eb8a0bf584"

func TestDecodeSNSGuardDuty(t *testing.T) {
	raw := ebEvent(t, "ev-1", "GuardDuty Finding", "aws.guardduty", "123456789012", "us-west-2", rdpFinding(t))
	direct := mustDecode(t, raw)
	wrapped := mustDecode(t, snsEnvelope(t, raw))
	if !reflect.DeepEqual(direct, wrapped) {
		t.Errorf("SNS-wrapped event decodes differently:\ngot  %+v\nwant %+v", wrapped, direct)
	}
	if len(wrapped) != 1 {
		t.Fatalf("got %d findings, want 1", len(wrapped))
	}
	f := wrapped[0]
	if want := picket.FindingKey(rdpARN); f.Key != want {
		t.Errorf("got Key %s, want FindingKey(arn) %s", f.Key, want)
	}
	if f.EventID != "ev-1" || f.Source != picket.SourceGuardDuty || f.Type != "UnauthorizedAccess:EC2/RDPBruteForce" {
		t.Errorf("got EventID %q Source %q Type %q, want ev-1, guardduty, UnauthorizedAccess:EC2/RDPBruteForce", f.EventID, f.Source, f.Type)
	}
	var compact bytes.Buffer
	json.Compact(&compact, rdpFinding(t))
	if !bytes.Equal(f.Raw, compact.Bytes()) {
		t.Errorf("Raw is not the finding object:\ngot  %.120s\nwant %.120s", f.Raw, compact.Bytes())
	}
}

func TestDecodeSNSSecurityHub(t *testing.T) {
	raw := readFile(t, "securityhub/imported_ACTIVE_NEW_standard_check__aws-samples-jira.json")
	direct := mustDecode(t, raw)
	wrapped := mustDecode(t, snsEnvelope(t, raw))
	if !reflect.DeepEqual(direct, wrapped) {
		t.Errorf("SNS-wrapped event decodes differently:\ngot  %+v\nwant %+v", wrapped, direct)
	}
	if len(wrapped) != 1 || wrapped[0].EventID != "8e5622f9-d81c-4d81-612a-9319e7ee2506" {
		t.Errorf("got %d findings, want 1 with the event's id", len(wrapped))
	}
}

func TestDecodeCustomActionSNS(t *testing.T) {
	raw := readFile(t, "securityhub/custom_action_2_findings_IAM.6_RDS.4__asr.json")
	fs := mustDecode(t, snsEnvelope(t, raw))
	if len(fs) != 2 {
		t.Fatalf("got %d findings, want 2", len(fs))
	}
	for i, f := range fs {
		if f.CustomAction != "CIS 1.5 - 1.11" {
			t.Errorf("finding %d: got CustomAction %q, want %q", i, f.CustomAction, "CIS 1.5 - 1.11")
		}
	}
	if fs[0].Key == fs[1].Key {
		t.Errorf("two different findings got the same Key %s", fs[0].Key)
	}
}

func TestDecodeDoesNotRetainBody(t *testing.T) {
	body := ebEvent(t, "ev-1", "GuardDuty Finding", "aws.guardduty", "123456789012", "us-west-2", rdpFinding(t))
	fs := mustDecode(t, body)
	want := append([]byte(nil), fs[0].Raw...)
	for i := range body {
		body[i] = 'x'
	}
	if !bytes.Equal(fs[0].Raw, want) {
		t.Error("Finding.Raw changed when the body was overwritten: it aliases the body")
	}
}

func TestDecodeWrappedRawFinding(t *testing.T) {
	canary := readFile(t, "guardduty/finding_Canary_EC2_Stateless.IntegTest__aws-samples-gd-response.json")
	const canaryARN = "arn:aws:guardduty:us-east-1:123456789012:detector/123456789012/finding/16afba5c5c43e07c9e3e5e2e544e95df"
	const builtARN = "arn:aws:guardduty:us-east-1:123456789012:detector/3caf4e0aaa46ce4ccbcef949a8785353/finding/16afba5c5c43e07c9e3e5e2e544e95df"
	tests := []struct {
		name    string
		detail  []byte
		wantKey string
	}{
		{"as published", canary, picket.FindingKey(canaryARN)},
		{"account and region from the event", edit(t, canary, func(m map[string]any) {
			delete(m, "accountId")
			delete(m, "region")
		}), picket.FindingKey(canaryARN)},
		{"arn built from detectorId", edit(t, canary, func(m map[string]any) {
			delete(m, "arn")
			delete(m, "accountId")
		}), picket.FindingKey(builtARN)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := mustDecode(t, ebEvent(t, "ev-9", "GuardDuty Finding", "aws.guardduty", "123456789012", "us-east-1", tc.detail))
			f := fs[0]
			if f.Key != tc.wantKey {
				t.Errorf("got Key %s, want %s", f.Key, tc.wantKey)
			}
			if f.Account != "123456789012" || f.Region != "us-east-1" || f.EventID != "ev-9" {
				t.Errorf("got Account %q Region %q EventID %q, want 123456789012, us-east-1, ev-9", f.Account, f.Region, f.EventID)
			}
			want := []picket.Resource{{Kind: picket.ResourceEC2Instance, Type: "Instance", ID: "i-05746eb48123455e0",
				ARN: "arn:aws:ec2:us-east-1:123456789012:instance/i-05746eb48123455e0", Region: "us-east-1"}}
			if !reflect.DeepEqual(f.Resources, want) {
				t.Errorf("got Resources %+v, want %+v", f.Resources, want)
			}
		})
	}
}

func TestDecodeFieldOrder(t *testing.T) {
	// AWS sends detail last; hand-made samples often put it first.
	detailLast := ebEvent(t, "ev-1", "GuardDuty Finding", "aws.guardduty", "123456789012", "us-west-2", rdpFinding(t))
	detailFirst := edit(t, detailLast, func(map[string]any) {}) // encoding/json sorts keys: "detail" < "detail-type"
	if bytes.Index(detailFirst, []byte(`"detail"`)) > bytes.Index(detailFirst, []byte(`"detail-type"`)) {
		t.Fatal("test setup: detail does not come first")
	}
	a, b := mustDecode(t, detailLast), mustDecode(t, detailFirst)
	a[0].Raw, b[0].Raw = nil, nil // re-encoding reordered the finding's own fields
	if !reflect.DeepEqual(a, b) {
		t.Errorf("field order changes the result:\ngot  %+v\nwant %+v", b, a)
	}
}

func TestDecodeNonASCII(t *testing.T) {
	tests := []struct {
		name, title, want string
	}{
		{"UTF-8 as is", "Ünïcödé — 日本語 😀", "Ünïcödé — 日本語 😀"},
		{"escaped", `\u00dcn\u00efc\u00f6d\u00e9 \u2014 \u65e5\u672c\u8a9e \ud83d\ude00`, "Ünïcödé — 日本語 😀"},
		{"lone surrogate", `bad \ud800 half`, "bad \uFFFD half"},
		{"invalid UTF-8", "bad \xff byte", "bad \uFFFD byte"},
		{"escapes and markup", `\"quoted\" <@channel> & \\ \/ \t`, "\"quoted\" <@channel> & \\ / \t"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			detail := bytes.Replace(rdpFinding(t), []byte(`"title":"198.51.100.0 is performing RDP brute force attacks against i-99999999."`),
				[]byte(`"title":"`+tc.title+`"`), 1)
			if bytes.Equal(detail, rdpFinding(t)) {
				t.Fatal("test setup: title not replaced")
			}
			raw := ebEvent(t, "ev-1", "GuardDuty Finding", "aws.guardduty", "123456789012", "us-west-2", detail)
			for _, body := range [][]byte{raw, snsEnvelope(t, raw)} {
				fs := mustDecode(t, body)
				if fs[0].Title != tc.want {
					t.Errorf("got Title %q, want %q", fs[0].Title, tc.want)
				}
			}
		})
	}
}

func TestDecodeWorkflow(t *testing.T) {
	file := readFile(t, "securityhub/imported_ACTIVE_NEW_standard_check__aws-samples-jira.json")
	finding := func(m map[string]any) map[string]any {
		return obj(m, "detail")["findings"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name       string
		fn         func(m map[string]any)
		want       string
		wantClosed bool
	}{
		{"as published", func(map[string]any) {}, "NEW", false},
		{"suppressed", func(m map[string]any) { obj(finding(m), "Workflow")["Status"] = "SUPPRESSED" }, "SUPPRESSED", true},
		{"resolved", func(m map[string]any) { obj(finding(m), "Workflow")["Status"] = "RESOLVED" }, "RESOLVED", true},
		{"legacy WorkflowState only", func(m map[string]any) {
			f := finding(m)
			delete(f, "Workflow")
			f["WorkflowState"] = "DEFERRED"
		}, "DEFERRED", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := mustDecode(t, edit(t, file, tc.fn))[0]
			if f.WorkflowStatus != tc.want || f.Closed() != tc.wantClosed {
				t.Errorf("got WorkflowStatus %q Closed %v, want %q %v", f.WorkflowStatus, f.Closed(), tc.want, tc.wantClosed)
			}
		})
	}
}

// gdNative builds a native GuardDuty finding equal to the one in
// asff_guardduty_finding_typical__awsdocs_2021-01.json.
func gdNative(tb testing.TB, withARN bool) []byte {
	tb.Helper()
	return edit(tb, readFile(tb, "guardduty/finding_Canary_EC2_Stateless.IntegTest__aws-samples-gd-response.json"), func(m map[string]any) {
		m["id"] = "46ba0ac2845071e23ccdeb2ae03bfdea"
		m["accountId"] = "193043430472"
		m["region"] = "us-east-1"
		m["type"] = "UnauthorizedAccess:EC2/SSHBruteForce"
		m["severity"] = 5
		m["arn"] = "arn:aws:guardduty:us-east-1:193043430472:detector/d4b040365221be2b54a6264dc9a4bc64/finding/46ba0ac2845071e23ccdeb2ae03bfdea"
		if !withARN {
			delete(m, "arn")
		}
		obj(m, "service")["detectorId"] = "d4b040365221be2b54a6264dc9a4bc64"
		obj(m, "service")["count"] = 74
		obj(m, "resource", "instanceDetails")["instanceId"] = "i-0c10c2c7863d1a356"
	})
}

func TestSameKeyAcrossSources(t *testing.T) {
	asffFile := readFile(t, "securityhub/asff_guardduty_finding_typical__awsdocs_2021-01.json")
	viaHub := mustDecode(t, asffFile)[0]
	viaEvent := mustDecode(t, ebEvent(t, "ev-2", "Security Hub Findings - Imported", "aws.securityhub", "193043430472", "us-east-1",
		[]byte(`{"findings":[`+string(asffFile)+`]}`)))[0]
	for _, tc := range []struct {
		name string
		f    picket.Finding
	}{
		{"native with arn", mustDecode(t, gdNative(t, true))[0]},
		{"native without arn", mustDecode(t, gdNative(t, false))[0]},
		{"native in an event", mustDecode(t, ebEvent(t, "ev-3", "GuardDuty Finding", "aws.guardduty", "193043430472", "us-east-1", gdNative(t, true)))[0]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			native := tc.f
			for _, hub := range []picket.Finding{viaHub, viaEvent} {
				if native.Key != hub.Key {
					t.Errorf("got Key %s natively and %s through Security Hub, want the same", native.Key, hub.Key)
				}
				if native.Type != hub.Type || native.Count != hub.Count || native.Account != hub.Account || native.Region != hub.Region {
					t.Errorf("native Type %q Count %d Account %s Region %s differ from Security Hub's %q %d %s %s",
						native.Type, native.Count, native.Account, native.Region, hub.Type, hub.Count, hub.Account, hub.Region)
				}
				if native.Resources[0].Kind != hub.Resources[0].Kind || native.Resources[0].ID != hub.Resources[0].ID ||
					native.Resources[0].ARN != hub.Resources[0].ARN {
					t.Errorf("got resource %+v natively and %+v through Security Hub, want the same kind, ID and ARN", native.Resources[0], hub.Resources[0])
				}
			}
			if native.Source != picket.SourceGuardDuty || viaHub.Source != picket.SourceSecurityHub {
				t.Errorf("got Sources %q and %q, want guardduty and securityhub", native.Source, viaHub.Source)
			}
		})
	}
	// A different finding of the same product must not collide.
	other := mustDecode(t, edit(t, gdNative(t, true), func(m map[string]any) {
		m["id"] = "56ba0ac2845071e23ccdeb2ae03bfdea"
		m["arn"] = "arn:aws:guardduty:us-east-1:193043430472:detector/d4b040365221be2b54a6264dc9a4bc64/finding/56ba0ac2845071e23ccdeb2ae03bfdea"
	}))[0]
	if other.Key == viaHub.Key {
		t.Error("a different GuardDuty finding got the same Key")
	}
}

// TestGuardDutyAccessKeyResources checks that the principal type survives
// decoding: only an IAM user's key names an IAM user; a role session names
// the role that issued it (GuardDuty's userName), with the session name from
// principalId, and never an IAM user, even one with the session's name.
func TestGuardDutyAccessKeyResources(t *testing.T) {
	base := readFile(t, "guardduty/finding_Recon_IAMUser_MaliciousIPCaller.Custom_ARCHIVED__aws-samples-gd-response.json")
	with := func(userType, userName, key, principal string) []byte {
		return edit(t, base, func(m map[string]any) {
			ak := obj(m, "resource", "accessKeyDetails")
			ak["userType"] = userType
			ak["userName"] = userName
			ak["accessKeyId"] = key
			ak["principalId"] = principal
		})
	}
	keyOf := func(id, typ, principal, user string) picket.Resource {
		return picket.Resource{Kind: picket.ResourceAccessKey, Type: "AccessKey", ID: id, UserName: user, PrincipalType: typ, PrincipalID: principal}
	}
	tests := []struct {
		name string
		body []byte
		want []picket.Resource
	}{
		{"IAMUser", with("IAMUser", "alice", "AKIAEXAMPLE", "AIDAALICE"), []picket.Resource{
			keyOf("AKIAEXAMPLE", "IAMUser", "AIDAALICE", "alice"),
			{Kind: picket.ResourceIAMUser, Type: "IAMUser", ID: "alice", ARN: "arn:aws:iam::123456789012:user/alice", PrincipalType: "IAMUser", PrincipalID: "AIDAALICE"},
		}},
		{"Root", with("Root", "Root", "AKIAROOT", "123456789012"), []picket.Resource{
			keyOf("AKIAROOT", "Root", "123456789012", ""),
			{Kind: picket.ResourceRoot, Type: "Root", ID: "123456789012", ARN: "arn:aws:iam::123456789012:root", PrincipalType: "Root"},
		}},
		{"AssumedRole session named like a user", with("AssumedRole", "web-role", "ASIAEXAMPLE", "AROAWEBROLE:alice"), []picket.Resource{
			keyOf("ASIAEXAMPLE", "AssumedRole", "AROAWEBROLE:alice", ""),
			{Kind: picket.ResourceRoleSession, Type: "AssumedRole", ID: "web-role", PrincipalType: "AssumedRole", PrincipalID: "AROAWEBROLE:alice", Session: "alice"},
		}},
		{"FederatedUser", with("FederatedUser", "bob", "ASIAFED", "123456789012:bob"), []picket.Resource{
			keyOf("ASIAFED", "FederatedUser", "123456789012:bob", ""),
			{Kind: picket.ResourceFederatedUser, Type: "FederatedUser", ID: "bob", PrincipalType: "FederatedUser", PrincipalID: "123456789012:bob"},
		}},
		{"AWSService", with("AWSService", "", "ASIASVC", ""), []picket.Resource{keyOf("ASIASVC", "AWSService", "", "")}},
		{"no type, temporary key", with("", "alice", "ASIAEXAMPLE", ""), []picket.Resource{keyOf("ASIAEXAMPLE", "", "", "")}},
		{"no type, named root", with("", "root", "AKIAEXAMPLE", ""), []picket.Resource{keyOf("AKIAEXAMPLE", "", "", "")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := mustDecode(t, tc.body)[0]
			if !reflect.DeepEqual(f.Resources, tc.want) {
				t.Errorf("got %+v, want %+v", f.Resources, tc.want)
			}
			for _, r := range f.Resources {
				if tc.name != "IAMUser" && (r.Kind == picket.ResourceIAMUser || r.UserName != "") {
					t.Errorf("got %+v, want no IAM user for a %s principal", r, tc.name)
				}
			}
		})
	}
}

// minimalGD is a GuardDuty finding with only the fields Decode needs.
func minimalGD(severity, createdAt string) []byte {
	return []byte(`{"id":"f1","arn":"arn:aws:guardduty:us-east-1:123456789012:detector/d1/finding/f1","accountId":"123456789012","region":"us-east-1",` +
		`"type":"Recon:EC2/PortProbeUnprotectedPort","severity":` + severity + `,"createdAt":` + createdAt + `,` +
		`"resource":{"resourceType":"Instance","instanceDetails":{"instanceId":"i-1"}},"service":{"count":3,"archived":false}}`)
}

// minimalASFF is an ASFF finding with the given Severity object.
func minimalASFF(severity string) []byte {
	return []byte(`{"Id":"finding-1","ProductArn":"arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default","AwsAccountId":"123456789012",` +
		`"Types":["Software and Configuration Checks"],"Title":"t","Severity":` + severity + `}`)
}

func TestSeverityMapping(t *testing.T) {
	gd := []struct {
		score string
		want  picket.Severity
	}{
		{"0", picket.SeverityInformational}, {"0.9", picket.SeverityInformational},
		{"1", picket.SeverityLow}, {"3.9", picket.SeverityLow},
		{"4.0", picket.SeverityMedium}, {"6.9", picket.SeverityMedium},
		{"7", picket.SeverityHigh}, {"8.9", picket.SeverityHigh},
		{"9.0", picket.SeverityCritical}, {"10", picket.SeverityCritical},
	}
	for _, tc := range gd {
		t.Run("GuardDuty "+tc.score, func(t *testing.T) {
			f := mustDecode(t, minimalGD(tc.score, `"2024-05-01T12:00:00Z"`))[0]
			var score float64
			fmt.Sscan(tc.score, &score)
			if f.Severity != tc.want || f.SeverityScore != score {
				t.Errorf("got %v (%v), want %v (%v)", f.Severity, f.SeverityScore, tc.want, score)
			}
		})
	}
	asff := []struct {
		severity  string
		want      picket.Severity
		wantScore float64
	}{
		{`{"Normalized":0}`, picket.SeverityInformational, 0},
		{`{"Normalized":1}`, picket.SeverityLow, 1},
		{`{"Normalized":39}`, picket.SeverityLow, 39},
		{`{"Normalized":40}`, picket.SeverityMedium, 40},
		{`{"Normalized":69}`, picket.SeverityMedium, 69},
		{`{"Normalized":70}`, picket.SeverityHigh, 70},
		{`{"Normalized":89}`, picket.SeverityHigh, 89},
		{`{"Normalized":90}`, picket.SeverityCritical, 90},
		{`{"Normalized":100}`, picket.SeverityCritical, 100},
		{`{"Label":"INFORMATIONAL"}`, picket.SeverityInformational, 0},
		{`{"Label":"LOW"}`, picket.SeverityLow, 1},
		{`{"Label":"MEDIUM"}`, picket.SeverityMedium, 40},
		{`{"Label":"HIGH"}`, picket.SeverityHigh, 70},
		{`{"Label":"CRITICAL"}`, picket.SeverityCritical, 90},
		{`{"Label":"high"}`, picket.SeverityHigh, 70},
		{`{"Label":"HIGH","Normalized":30}`, picket.SeverityHigh, 30}, // the label wins
		{`{"Product":8}`, picket.SeverityInformational, 0},
	}
	for _, tc := range asff {
		t.Run("ASFF "+tc.severity, func(t *testing.T) {
			f := mustDecode(t, minimalASFF(tc.severity))[0]
			if f.Severity != tc.want || f.SeverityScore != tc.wantScore {
				t.Errorf("got %v (%v), want %v (%v)", f.Severity, f.SeverityScore, tc.want, tc.wantScore)
			}
		})
	}
	for _, bad := range []string{`{"Normalized":101}`, `{"Normalized":-1}`, `{"Normalized":"40"}`, `{"Label":"SEVERE"}`, `{"Label":7}`, `"HIGH"`} {
		t.Run("ASFF invalid "+bad, func(t *testing.T) {
			_, err := event.Decode(minimalASFF(bad))
			checkError(t, err, picket.EINVALID, "Severity")
		})
	}
}

func TestDecodeTimestamps(t *testing.T) {
	valid := []struct{ in, want string }{
		{"2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"},
		{"2024-05-01T12:00:00.123Z", "2024-05-01T12:00:00.123Z"},
		{"2024-05-01T12:00:00.123456789Z", "2024-05-01T12:00:00.123456789Z"},
		{"2019-04-18T14:51:55.000000Z", "2019-04-18T14:51:55Z"},
		{"2024-05-01T14:30:00+02:30", "2024-05-01T12:00:00Z"},
		{"2024-05-01T09:00:00.5-03:00", "2024-05-01T12:00:00.5Z"},
		{"2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"},
	}
	for _, tc := range valid {
		t.Run(tc.in, func(t *testing.T) {
			f := mustDecode(t, minimalGD("5", `"`+tc.in+`"`))[0]
			want, err := time.Parse(time.RFC3339Nano, tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if !f.CreatedAt.Equal(want) || f.CreatedAt.Location() != time.UTC {
				t.Errorf("got %v, want %v in UTC", f.CreatedAt, want)
			}
			// Agree with the standard library.
			std, err := time.Parse(time.RFC3339Nano, tc.in)
			if err != nil || !std.Equal(f.CreatedAt) {
				t.Errorf("time.Parse gives %v (%v), Decode %v", std, err, f.CreatedAt)
			}
		})
	}
	for _, in := range []string{"2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-05-01 12:00:00Z", "2024-05-01T12:00:00",
		"2024-05-01T24:00:00Z", "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00+2:00", "yesterday", "2024-05-01T12:00:00ZZ"} {
		t.Run("invalid "+in, func(t *testing.T) {
			_, err := event.Decode(minimalGD("5", `"`+in+`"`))
			checkError(t, err, picket.EINVALID, "createdAt")
		})
	}
	t.Run("not a string", func(t *testing.T) {
		_, err := event.Decode(minimalGD("5", `1714564800`))
		checkError(t, err, picket.EINVALID, "createdAt is a number, want a string")
	})
}

func TestDecodeErrors(t *testing.T) {
	imported := func(findings string) []byte {
		return ebEvent(t, "ev", "Security Hub Findings - Imported", "aws.securityhub", "123456789012", "us-east-1", []byte(`{"findings":`+findings+`}`))
	}
	deep := `{"a":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`
	tests := []struct {
		name string
		body []byte
		code string
		msg  string
	}{
		{"empty", nil, picket.EINVALID, "empty input"},
		{"white space", []byte(" \n\t"), picket.EINVALID, "empty input"},
		{"plain text", []byte("Hello world!"), picket.EINVALID, "not a JSON object: invalid JSON at byte 0"},
		{"array", []byte(`[{"Id":"x"}]`), picket.ENOTFINDING, "JSON array is not"},
		{"truncated", []byte(`{"Type":"Notification","Message":"{\"detail`), picket.EINVALID, "unexpected end of input"},
		{"trailing data", []byte(`{"a":1} {"b":2}`), picket.EINVALID, "after top-level value"},
		{"raw newline in string", []byte("{\"a\":\"x\ny\"}"), picket.EINVALID, `invalid character "\n" in string literal`},
		{"placeholder", []byte(`{"detail": {<finding content>}}`), picket.EINVALID, "invalid JSON at byte 12: invalid character '<'"},
		{"too deep", []byte(deep), picket.EINVALID, "nested deeper than"},
		{"bad escape", []byte(`{"a":"\x"}`), picket.EINVALID, "in string escape code"},
		{"bad number", []byte(`{"a":01}`), picket.EINVALID, "after object key:value pair"},
		{"ASFF without Id", imported(`[` + string(minimalASFF(`{"Label":"LOW"}`)) + `,{"ProductArn":"arn:aws:securityhub:us-east-1::product/aws/securityhub"}]`),
			picket.EINVALID, "Security Hub finding 2 has no Id"},
		{"ASFF without ProductArn", imported(`[{"Id":"x"}]`), picket.EINVALID, "Security Hub finding 1 has no ProductArn"},
		{"ASFF wrong type", imported(`[{"Id":"x","ProductArn":"p","Types":"Software"}]`), picket.EINVALID, "Security Hub finding 1: Types is a string, want an array"},
		{"imported without findings", imported(`[]`), picket.ENOTFINDING, "with no findings"},
		{"imported findings not an array", imported(`{}`), picket.EINVALID, "detail.findings is an object, want an array"},
		{"imported without detail", []byte(`{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub"}`), picket.EINVALID, "event has no detail"},
		{"GuardDuty without id", ebEvent(t, "ev", "GuardDuty Finding", "aws.guardduty", "1", "us-east-1", []byte(`{"severity":5}`)), picket.EINVALID, "GuardDuty finding has no id"},
		{"GuardDuty without arn or detector", ebEvent(t, "ev", "GuardDuty Finding", "aws.guardduty", "1", "us-east-1", []byte(`{"id":"f"}`)), picket.EINVALID, "has no arn"},
		{"GuardDuty severity a string", minimalGD(`"HIGH"`, `"2024-05-01T12:00:00Z"`), picket.EINVALID, "GuardDuty finding: severity is a string, want a number"},
		{"GuardDuty count not whole", bytes.Replace(minimalGD("5", `"2024-05-01T12:00:00Z"`), []byte(`"count":3`), []byte(`"count":1.5`), 1), picket.EINVALID, "service.count \"1.5\": want a whole number"},
		{"GuardDuty archived a number", bytes.Replace(minimalGD("5", `"2024-05-01T12:00:00Z"`), []byte(`"archived":false`), []byte(`"archived":0`), 1), picket.EINVALID, "service.archived is a number, want a boolean"},
		{"detail-type not a string", []byte(`{"detail-type":5,"detail":{}}`), picket.EINVALID, "detail-type is a number, want a string"},
		{"no detail-type", []byte(`{"region":"us-east-1","detail":{"id":"x"}}`), picket.EINVALID, "EventBridge event has no detail-type"},
		{"v2 OCSF", ebEvent(t, "ev", "Findings Imported V2", "aws.securityhub", "1", "us-east-1", []byte(`{"findings":[{"metadata":{}}]}`)), picket.EUNSUPPORTED, `Security Hub v2 finding 1: OCSF class_uid 0 is not a finding`},
		{"other service finding", ebEvent(t, "ev", "Detective Finding", "aws.detective", "1", "us-east-1", []byte(`{}`)), picket.ENOTFINDING, "Detective Finding events are not handled: only GuardDuty, Security Hub, Inspector, Macie and IAM Access Analyzer"},
		{"other event", ebEvent(t, "ev", "AWS API Call via CloudTrail", "aws.guardduty", "1", "us-east-1", []byte(`{}`)), picket.ENOTFINDING, `EventBridge event "AWS API Call via CloudTrail" from aws.guardduty is not a finding`},
		{"SNS subscription", []byte(`{"Type":"SubscriptionConfirmation","TopicArn":"t","Message":"confirm"}`), picket.ENOTFINDING, "SNS SubscriptionConfirmation, not a notification"},
		{"SNS plain text", snsEnvelope(t, []byte("Hello world!")), picket.ENOTFINDING, "SNS message is plain text, not an EventBridge event"},
		{"SNS truncated event", snsEnvelope(t, []byte(`{"detail-type":"GuardDuty Finding","detail":{"id":`)), picket.EINVALID, "SNS message: GuardDuty finding: invalid JSON: unexpected end of input"},
		{"SNS other JSON", snsEnvelope(t, []byte(`{"message":"hi"}`)), picket.ENOTFINDING, `SNS message: JSON object with keys "message" is not`},
		{"SNS in SNS", snsEnvelope(t, snsEnvelope(t, []byte("x"))), picket.ENOTFINDING, "SNS message: SNS message holds another SNS envelope"},
		{"SNS v2 event", snsEnvelope(t, ebEvent(t, "ev", "Findings Imported V2", "aws.securityhub", "1", "us-east-1", []byte(`{}`))), picket.EINVALID, "SNS message: Security Hub v2 event has no detail.findings"},
		{"SNS Message not a string", []byte(`{"Type":"Notification","TopicArn":"t","Message":{}}`), picket.EINVALID, "SNS notification has no Message string"},
		{"GetFindings empty", []byte(`{"Findings":[],"NextToken":null}`), picket.ENOTFINDING, "Security Hub GetFindings response with no findings"},
		{"Inspector2 list", []byte(`{"findings":[{"findingArn":"arn:aws:inspector2:us-east-1:1:finding/x","severity":"HIGH"}]}`), picket.ENOTFINDING, "Inspector ListFindings response: replay each finding on its own"},
		{"Macie finding without id", []byte(`{"category":"CLASSIFICATION","classificationDetails":{},"severity":{"score":3}}`), picket.EINVALID, "Macie finding has no id"},
		{"Macie finding without severity", []byte(`{"id":"x","category":"CLASSIFICATION","classificationDetails":{},"severity":{}}`), picket.EINVALID, "Macie finding has no severity (score 0)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := event.Decode(tc.body)
			if err == nil {
				t.Fatalf("got %d findings, want error %s", len(fs), tc.code)
			}
			checkError(t, err, tc.code, tc.msg)
		})
	}
}

func TestConsoleAndRemediationURLs(t *testing.T) {
	t.Run("GuardDuty", func(t *testing.T) {
		f := mustDecode(t, minimalGD("5", `"2024-05-01T12:00:00Z"`))[0]
		const want = "https://us-east-1.console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=f1"
		if f.ConsoleURL != want {
			t.Errorf("got %s, want %s", f.ConsoleURL, want)
		}
	})
	t.Run("Security Hub", func(t *testing.T) {
		f := mustDecode(t, readFile(t, "securityhub/imported_RecordState_ARCHIVED_Workflow_NEW__aws-samples-jira.json"))[0]
		const want = "https://eu-west-1.console.aws.amazon.com/securityhub/home?region=eu-west-1#/findings?search=Id%3D%255Coperator%255C%253AEQUALS%255C%253A" +
			"arn%253Aaws%253Asecurityhub%253Aeu-west-1%253A123456789012%253Asubscription%252Faws-foundational-security-best-practices%252Fv%252F1.0.0%252FEC2.8%252Ffinding%252Ffba5a282-b865-41fe-bc9c-30357a1e87a7"
		if f.ConsoleURL != want {
			t.Errorf("got %s\nwant %s", f.ConsoleURL, want)
		}
		if f.RemediationURL != "https://docs.aws.amazon.com/console/securityhub/EC2.8/remediation" {
			t.Errorf("got RemediationURL %q", f.RemediationURL)
		}
	})
	t.Run("GovCloud", func(t *testing.T) {
		body := bytes.Replace(minimalASFF(`{"Label":"LOW"}`), []byte("arn:aws:securityhub:us-east-1:"), []byte("arn:aws-us-gov:securityhub:us-gov-west-1:"), 1)
		f := mustDecode(t, body)[0]
		if !strings.HasPrefix(f.ConsoleURL, "https://console.amazonaws-us-gov.com/securityhub/home?region=us-gov-west-1#") || f.Region != "us-gov-west-1" {
			t.Errorf("got ConsoleURL %s Region %s, want the GovCloud console in us-gov-west-1", f.ConsoleURL, f.Region)
		}
	})
	t.Run("id with spaces and reserved characters", func(t *testing.T) {
		body := bytes.Replace(minimalASFF(`{"Label":"LOW"}`), []byte(`"Id":"finding-1"`), []byte(`"Id":"a b/c?d&e#f"`), 1)
		f := mustDecode(t, body)[0]
		if !strings.HasSuffix(f.ConsoleURL, "EQUALS%255C%253Aa%2520b%252Fc%253Fd%2526e%2523f") {
			t.Errorf("got %s, want the id escaped twice", f.ConsoleURL)
		}
	})
	t.Run("hostile region", func(t *testing.T) {
		body := bytes.Replace(minimalGD("5", `"2024-05-01T12:00:00Z"`), []byte(`"region":"us-east-1"`), []byte(`"region":"evil.example/x?"`), 1)
		f := mustDecode(t, body)[0]
		if f.ConsoleURL != "" {
			t.Errorf("got ConsoleURL %s, want none for a region that is not a region name", f.ConsoleURL)
		}
	})
	t.Run("non-web remediation link", func(t *testing.T) {
		body := bytes.Replace(minimalASFF(`{"Label":"LOW"}`), []byte(`"Title":"t"`), []byte(`"Title":"t","Remediation":{"Recommendation":{"Url":"javascript:alert(1)"}}`), 1)
		if f := mustDecode(t, body)[0]; f.RemediationURL != "" {
			t.Errorf("got RemediationURL %q, want it dropped", f.RemediationURL)
		}
	})
}

// placeboData returns the "data" member of a Cloud Custodian recording,
// which is the AWS API response itself.
func placeboData(tb testing.TB, name string) []byte {
	tb.Helper()
	var rec struct{ Data json.RawMessage }
	if err := json.Unmarshal(readFile(tb, name), &rec); err != nil {
		tb.Fatal(err)
	}
	return rec.Data
}

func TestDecodeGetFindingsResponses(t *testing.T) {
	t.Run("GuardDuty findings through Security Hub", func(t *testing.T) {
		fs := mustDecode(t, placeboData(t, "securityhub/api_GetFindings_guardduty_5_findings__c7n.json"))
		type row struct {
			typ       string
			count     int
			resources string
		}
		want := []row{
			{"Recon:IAMUser/ResourcePermissions", 4, "access_key:AKIAIPRJCJL6BOF6DPMA iam_user:brent.clements"},
			{"UnauthorizedAccess:IAMUser/ConsoleLogin", 1, "iam_user:kapil"},
			{"Recon:IAMUser/UserPermissions", 1, "access_key:AKIAJEZJDQQX4TZNRMKQ iam_user:kapil"},
			{"Recon:IAMUser/UserPermissions", 2, "access_key:AKIAJNQCVBXO27VWVEXQ iam_user:david.shepherd2"},
			{"Recon:IAMUser/ResourcePermissions", 1, "access_key:ASIAZL6XWCR2ISQCR2PB"},
		}
		if len(fs) != len(want) {
			t.Fatalf("got %d findings, want %d", len(fs), len(want))
		}
		for i, f := range fs {
			s := summarize(&f)
			got := row{f.Type, f.Count, s.Resources}
			if got != want[i] || f.Product != "GuardDuty" || f.Source != picket.SourceSecurityHub {
				t.Errorf("finding %d: got %+v (%s, %s), want %+v (GuardDuty, securityhub)", i, got, f.Product, f.Source, want[i])
			}
			if f.Key != picket.FindingKey(f.ID) {
				t.Errorf("finding %d: Key is not FindingKey(GuardDuty ARN)", i)
			}
			checkInvariants(t, &f)
		}
	})
	t.Run("Inspector findings through Security Hub", func(t *testing.T) {
		fs := mustDecode(t, placeboData(t, "securityhub/api_GetFindings_inspector_ecr_20_findings_ARCHIVED__c7n.json"))
		if len(fs) != 20 {
			t.Fatalf("got %d findings, want 20", len(fs))
		}
		for i, f := range fs {
			if f.Product != "Inspector" || f.RecordState != picket.RecordArchived {
				t.Errorf("finding %d: got Product %q RecordState %q, want Inspector ARCHIVED", i, f.Product, f.RecordState)
			}
		}
	})
	t.Run("Inspector2 ListFindings", func(t *testing.T) {
		_, err := event.Decode(placeboData(t, "inspector/api_inspector2_ListFindings_6_package_vulns__c7n.json"))
		checkError(t, err, picket.ENOTFINDING, "Inspector ListFindings response: replay each finding on its own")
	})
}

var knownCodes = map[string]bool{picket.EINVALID: true, picket.ENOTFINDING: true, picket.EUNSUPPORTED: true, picket.EUNTRUSTED: true}

func FuzzDecode(f *testing.F) {
	err := filepathWalkCorpus(func(b []byte) { f.Add(b) })
	if err != nil {
		f.Fatal(err)
	}
	// The Security Hub v2 (OCSF) samples are decoded by their own code.
	ocsf, err := filepath.Glob(filepath.Join("testdata", "ocsf", "*.json"))
	if err != nil || len(ocsf) == 0 {
		f.Fatalf("OCSF samples: %v (%d found)", err, len(ocsf))
	}
	for _, p := range ocsf {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	raw := ebEvent(f, "ev", "GuardDuty Finding", "aws.guardduty", "123456789012", "us-west-2", rdpFinding(f))
	f.Add(raw)
	f.Add(snsEnvelope(f, raw))
	f.Add(minimalASFF(`{"Label":"LOW"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		fs, err := event.Decode(body)
		if err != nil {
			var pe *picket.Error
			if !errors.As(err, &pe) || !knownCodes[pe.Code] {
				t.Fatalf("got error %v (%T), want a *picket.Error with code invalid, not_finding, unsupported or untrusted", err, err)
			}
			if pe.Message == "" {
				t.Fatal("error has an empty message")
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if len(fs) == 0 {
			t.Fatal("no error and no findings")
		}
		for i := range fs {
			checkInvariants(t, &fs[i])
		}
	})
}
