package event_test

import (
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
