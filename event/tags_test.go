package event_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/event"
)

func TestResourceTags(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []map[string]string
	}{
		{"asff", `{"Resources":[{"Type":"AwsEc2Instance","Tags":{"environment":"production"}},{"Type":"AwsIamAccessKey"}]}`,
			[]map[string]string{{"environment": "production"}}},
		{"guardduty instance", `{"resource":{"instanceDetails":{"tags":[{"key":"Name","value":"web-1"},{"key":"team","value":"web"}]}}}`,
			[]map[string]string{{"Name": "web-1", "team": "web"}}},
		{"guardduty buckets", `{"resource":{"s3BucketDetails":[{"tags":[{"key":"data","value":"pii"}]},{"tags":[]}]}}`,
			[]map[string]string{{"data": "pii"}}},
		{"ocsf", `{"resources":[{"type":"AWS::EC2::Instance","tags":[{"name":"environment","value":"staging"}]}]}`,
			[]map[string]string{{"environment": "staging"}}},
		{"inspector", `{"findingArn":"arn:aws:inspector2:us-east-1:123456789012:finding/f","resources":[{"type":"AWS_EC2_INSTANCE","id":"i-1","tags":{"environment":"dev","team":"web"}}]}`,
			[]map[string]string{{"environment": "dev", "team": "web"}}},
		{"string resource elsewhere", `{"resource":"arn:aws:s3:::bucket","Resources":[{"Tags":{"data":"pii"}}]}`,
			[]map[string]string{{"data": "pii"}}},
		{"unknown tag shape", `{"resources":[{"tags":"env=dev"},{"tags":[{"name":"env","value":"prod"}]}]}`,
			[]map[string]string{{"env": "prod"}}},
		{"none", `{"resource":{"accessKeyDetails":{"userName":"alice"}}}`, nil},
		{"not json", `{`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := picket.Finding{Raw: json.RawMessage(tt.raw)}
			if got := event.ResourceTags(&f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
