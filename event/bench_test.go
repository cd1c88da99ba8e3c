package event_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/picketsec/picket/event"
)

// BenchmarkDecode measures Decode on the bodies the pipeline sees most: an
// SNS-wrapped GuardDuty event (about 3.5 KB) and a Security Hub Imported
// event, compact as AWS sends them. The baseline decodes the SNS-wrapped
// GuardDuty event with encoding/json in three passes into structs holding
// only the fields Picket uses; it is the alternative the scanner replaces.
func BenchmarkDecode(b *testing.B) {
	gdEvent := ebEvent(b, "8f5fa7d9-5558-33dc-449c-c890a0c38127", "GuardDuty Finding", "aws.guardduty", "123456789012", "us-west-2", rdpFinding(b))
	var hubEvent bytes.Buffer
	if err := json.Compact(&hubEvent, readFile(b, "securityhub/imported_ACTIVE_NEW_standard_check__aws-samples-jira.json")); err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name string
		body []byte
	}{
		{"sns_guardduty", snsEnvelope(b, gdEvent)},
		{"raw_guardduty", gdEvent},
		{"sns_securityhub_imported", snsEnvelope(b, hubEvent.Bytes())},
		{"raw_securityhub_imported", hubEvent.Bytes()},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := event.Decode(c.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("baseline_encoding_json_sns_guardduty", func(b *testing.B) {
		body := cases[0].body
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if err := baselineDecode(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// baselineDecode is the straightforward encoding/json way to read the
// fields Decode reads from an SNS-wrapped GuardDuty event.
func baselineDecode(body []byte) error {
	var env struct {
		Type, Message string
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return err
	}
	var ev struct {
		ID         string          `json:"id"`
		DetailType string          `json:"detail-type"`
		Account    string          `json:"account"`
		Region     string          `json:"region"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal([]byte(env.Message), &ev); err != nil {
		return err
	}
	var f struct {
		ID, ARN, Type, Title, Description, Region, Partition string
		AccountID                                            string `json:"accountId"`
		Severity                                             float64
		CreatedAt, UpdatedAt                                 string
		Resource                                             struct {
			ResourceType     string
			AccessKeyDetails struct{ AccessKeyID, UserName, UserType string }
			InstanceDetails  struct{ InstanceID string }
		}
		Service struct {
			Count                         int
			Archived                      bool
			DetectorID                    string
			EventFirstSeen, EventLastSeen string
			AdditionalInfo                struct{ Sample bool }
		}
	}
	return json.Unmarshal(ev.Detail, &f)
}
