package event_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/event"
)

const trustedTopic = "arn:aws:sns:us-east-1:123456789012:picket-findings"

// TestDecodeRequiresSource checks that a finding event is accepted only
// from the AWS service that sends it: anyone able to put a message on the
// queue could otherwise forge a GuardDuty or Security Hub finding.
func TestDecodeRequiresSource(t *testing.T) {
	shImported := readFile(t, "securityhub/imported_ACTIVE_NEW_standard_check__aws-samples-jira.json")
	withSource := func(b []byte, src any) []byte {
		return edit(t, b, func(m map[string]any) {
			if src == nil {
				delete(m, "source")
			} else {
				m["source"] = src
			}
		})
	}
	gd := func(src string) []byte {
		return ebEvent(t, "ev-1", "GuardDuty Finding", src, "123456789012", "us-west-2", rdpFinding(t))
	}
	v2 := func(src string) []byte {
		return ebEvent(t, "ev-2", "Findings Imported V2", src, "123456789012", "us-west-2", []byte(`{"findings":[{}]}`))
	}
	for _, tc := range []struct {
		name string
		body []byte
		code string
		msg  string
	}{
		{"GuardDuty from GuardDuty", gd("aws.guardduty"), "", ""},
		{"GuardDuty from a custom source", gd("my.app"), picket.EUNTRUSTED, `"GuardDuty Finding" event from source "my.app"; only aws.guardduty sends these`},
		{"GuardDuty from Security Hub", gd("aws.securityhub"), picket.EUNTRUSTED, "only aws.guardduty"},
		{"GuardDuty without source", gd(""), picket.EUNTRUSTED, `"GuardDuty Finding" event has no source`},
		{"GuardDuty wrapped in SNS, forged source", snsEnvelope(t, gd("evil")), picket.EUNTRUSTED, "only aws.guardduty"},
		{"Security Hub from Security Hub", shImported, "", ""},
		{"Security Hub from GuardDuty", withSource(shImported, "aws.guardduty"), picket.EUNTRUSTED, "only aws.securityhub"},
		{"Security Hub without source", withSource(shImported, nil), picket.EUNTRUSTED, "has no source"},
		{"Security Hub v2 forged", v2("attacker"), picket.EUNTRUSTED, "only aws.securityhub"},
		{"Security Hub v2 genuine", v2("aws.securityhub"), picket.EUNSUPPORTED, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := event.Decode(tc.body)
			if tc.code == "" {
				if err != nil || len(fs) == 0 {
					t.Fatalf("got %d findings, error %v; want findings", len(fs), err)
				}
				return
			}
			checkError(t, err, tc.code, tc.msg)
		})
	}
}

// TestDecoderTopic checks that with a topic configured only that topic's
// SNS notifications are accepted.
func TestDecoderTopic(t *testing.T) {
	raw := ebEvent(t, "ev-1", "GuardDuty Finding", "aws.guardduty", "123456789012", "us-west-2", rdpFinding(t))
	fromTopic := func(topic any) []byte {
		return edit(t, snsEnvelope(t, raw), func(m map[string]any) {
			if topic == nil {
				delete(m, "TopicArn")
			} else {
				m["TopicArn"] = topic
			}
		})
	}
	dec := event.Decoder{TopicARN: trustedTopic}
	for _, tc := range []struct {
		name string
		dec  event.Decoder
		body []byte
		code string
		msg  string
	}{
		{"configured topic", dec, fromTopic(trustedTopic), "", ""},
		{"raw delivery carries no envelope", dec, raw, "", ""},
		{"other topic", dec, fromTopic("arn:aws:sns:us-east-1:999999999999:attacker"), picket.EUNTRUSTED,
			`SNS notification from topic "arn:aws:sns:us-east-1:999999999999:attacker"; only ` + trustedTopic + " is accepted"},
		{"topic differing in case", dec, fromTopic("arn:aws:sns:us-east-1:123456789012:PICKET-FINDINGS"), picket.EUNTRUSTED, "only " + trustedTopic},
		{"no TopicArn", dec, fromTopic(nil), picket.EUNTRUSTED, "SNS notification has no TopicArn"},
		{"TopicArn not a string", dec, fromTopic(7), picket.EINVALID, ""},
		{"no topic configured", event.Decoder{}, fromTopic("arn:aws:sns:us-east-1:999999999999:other"), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := tc.dec.Decode(tc.body)
			if tc.code == "" {
				if err != nil || len(fs) != 1 {
					t.Fatalf("got %d findings, error %v; want 1 finding", len(fs), err)
				}
				return
			}
			checkError(t, err, tc.code, tc.msg)
		})
	}
}

// TestDecoderEventsOnly checks that the queue's decoder refuses bare
// findings, which carry no source to check.
func TestDecoderEventsOnly(t *testing.T) {
	dec := event.Decoder{EventsOnly: true}
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"bare GuardDuty finding", rdpFinding(t)},
		{"bare ASFF finding", readFile(t, "securityhub/asff_fsbp_EC2.2__asr.json")},
		{"Security Hub GetFindings", []byte(`{"Findings":[` + string(readFile(t, "securityhub/asff_fsbp_EC2.2__asr.json")) + `]}`)},
		{"GuardDuty GetFindings", readFile(t, "guardduty/api_GetFindings_UnauthorizedAccess_EC2_RDPBruteForce_sample__awsdocs.json")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := event.Decode(tc.body); err != nil {
				t.Fatalf("Decode: got %v, want the replay path to accept it", err)
			}
			_, err := dec.Decode(tc.body)
			checkError(t, err, picket.EUNTRUSTED, "not accepted here")
		})
	}
}

// asffWithResources is a bare ASFF finding (FSBP IAM.8) with its
// Resources replaced.
func asffWithResources(t *testing.T, resources ...map[string]any) []byte {
	t.Helper()
	list := make([]any, len(resources))
	for i, r := range resources {
		list[i] = r
	}
	return edit(t, readFile(t, "securityhub/asff_fsbp_IAM.8__asr.json"), func(m map[string]any) { m["Resources"] = list })
}

// TestASFFPrincipalTypes checks that an ASFF access key keeps its
// principal type, and that a role session names the role its issuer names.
func TestASFFPrincipalTypes(t *testing.T) {
	key := func(id string, details map[string]any) map[string]any {
		return map[string]any{"Type": "AwsIamAccessKey", "Id": "AWS::IAM::AccessKey:" + id, "Region": "us-east-1",
			"Details": map[string]any{"AwsIamAccessKey": details}}
	}
	for _, tc := range []struct {
		name string
		res  map[string]any
		want []picket.Resource
	}{
		{"IAM user", key("AKIAUSER", map[string]any{"PrincipalId": "AIDAALICE", "PrincipalName": "alice", "PrincipalType": "IAMUser"}), []picket.Resource{
			{Kind: picket.ResourceAccessKey, Type: "AwsIamAccessKey", ID: "AKIAUSER", UserName: "alice", PrincipalType: "IAMUser", PrincipalID: "AIDAALICE"},
			{Kind: picket.ResourceIAMUser, Type: "IAMUser", ID: "alice", ARN: "arn:aws:iam::111111111111:user/alice", PrincipalType: "IAMUser", PrincipalID: "AIDAALICE"},
		}},
		{"role session with issuer", key("ASIASESSION", map[string]any{
			"PrincipalId": "AROAWEB:alice", "PrincipalName": "alice", "PrincipalType": "AssumedRole",
			"SessionContext": map[string]any{"SessionIssuer": map[string]any{
				"Type": "Role", "PrincipalId": "AROAWEB", "UserName": "web", "AccountId": "111111111111",
				"Arn": "arn:aws:iam::111111111111:role/service/web",
			}},
		}), []picket.Resource{
			{Kind: picket.ResourceAccessKey, Type: "AwsIamAccessKey", ID: "ASIASESSION", PrincipalType: "AssumedRole", PrincipalID: "AROAWEB:alice"},
			{Kind: picket.ResourceRoleSession, Type: "AssumedRole", ID: "web", ARN: "arn:aws:iam::111111111111:role/service/web",
				PrincipalType: "AssumedRole", PrincipalID: "AROAWEB:alice", Session: "alice"},
		}},
		{"root", key("AKIAROOT", map[string]any{"PrincipalName": "Root", "PrincipalType": "Root"}), []picket.Resource{
			{Kind: picket.ResourceAccessKey, Type: "AwsIamAccessKey", ID: "AKIAROOT", PrincipalType: "Root"},
			{Kind: picket.ResourceRoot, Type: "Root", ID: "111111111111", ARN: "arn:aws:iam::111111111111:root", PrincipalType: "Root"},
		}},
		{"temporary key, no type", key("ASIAOLD", map[string]any{"UserName": "alice"}), []picket.Resource{
			{Kind: picket.ResourceAccessKey, Type: "AwsIamAccessKey", ID: "ASIAOLD"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustDecode(t, asffWithResources(t, tc.res))[0]
			if !reflect.DeepEqual(f.Resources, tc.want) {
				t.Errorf("got %+v, want %+v", f.Resources, tc.want)
			}
		})
	}
}

// TestASFFNameARNMismatch checks that an IAM resource whose Details name
// another principal than its Id is marked, so no action takes either.
func TestASFFNameARNMismatch(t *testing.T) {
	user := func(id, name string) map[string]any {
		return map[string]any{"Type": "AwsIamUser", "Id": id, "Details": map[string]any{"AwsIamUser": map[string]any{"UserName": name}}}
	}
	role := func(id, name string) map[string]any {
		return map[string]any{"Type": "AwsIamRole", "Id": id, "Details": map[string]any{"AwsIamRole": map[string]any{"RoleName": name}}}
	}
	for _, tc := range []struct {
		name     string
		res      map[string]any
		mismatch string
	}{
		{"user agrees", user("arn:aws:iam::111111111111:user/ops/alice", "alice"), ""},
		{"user differs only in case", user("arn:aws:iam::111111111111:user/Alice", "alice"), ""},
		{"user disagrees", user("arn:aws:iam::111111111111:user/admin", "alice"),
			`Details.AwsIamUser.UserName "alice" does not match the resource Id "arn:aws:iam::111111111111:user/admin"`},
		{"user Id is a role", user("arn:aws:iam::111111111111:role/alice", "alice"), "is not an IAM user ARN"},
		{"user Id is a role, no Details name", map[string]any{"Type": "AwsIamUser", "Id": "arn:aws:iam::111111111111:role/admin"}, "is not an IAM user ARN"},
		{"role Id is a user, no Details name", map[string]any{"Type": "AwsIamRole", "Id": "arn:aws:iam::111111111111:user/web"}, "is not an IAM role ARN"},
		{"role agrees", role("arn:aws:iam::111111111111:role/web", "web"), ""},
		{"role disagrees", role("arn:aws:iam::111111111111:role/OrganizationAccountAccessRole", "web"), `does not match the resource Id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustDecode(t, asffWithResources(t, tc.res))[0]
			got := f.Resources[0].Mismatch
			if tc.mismatch == "" && got != "" || tc.mismatch != "" && !strings.Contains(got, tc.mismatch) {
				t.Errorf("got Mismatch %q, want %q", got, tc.mismatch)
			}
		})
	}
}

// TestASFFGeneratorID checks that the ASFF GeneratorId is decoded: a local
// suppression rule is scoped by it, as its Security Hub rule is.
func TestASFFGeneratorID(t *testing.T) {
	f := mustDecode(t, readFile(t, "securityhub/asff_fsbp_IAM.8__asr.json"))[0]
	if want := "aws-foundational-security-best-practices/v/1.0.0/IAM.8"; f.GeneratorID != want {
		t.Errorf("got GeneratorID %q, want %q", f.GeneratorID, want)
	}
}
