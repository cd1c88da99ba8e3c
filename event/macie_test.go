package event_test

import (
	"reflect"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/event"
)

const macieCSV = "macie/finding_SensitiveData_S3Object_Multiple_csv__aws-samples-macie-reveal.json"

// macieEvent wraps a Macie finding in a "Macie Finding" event.
func macieEvent(tb testing.TB, finding []byte) []byte {
	tb.Helper()
	return ebEvent(tb, "ev-macie", "Macie Finding", "aws.macie", "555555555555", "us-east-1", finding)
}

func TestDecodeMacieSensitiveData(t *testing.T) {
	f := mustDecode(t, macieEvent(t, readFile(t, macieCSV)))[0]
	if f.Source != picket.SourceMacie || f.EventID != "ev-macie" {
		t.Errorf("got Source %q EventID %q, want macie ev-macie", f.Source, f.EventID)
	}
	want := &picket.DataFinding{Category: "CLASSIFICATION", Bucket: "DOC-EXAMPLE-BUCKET1", ObjectKey: "macie-workshop/sample-data.csv",
		Public: "NOT_PUBLIC", Encryption: "AES256", UnencryptedUploads: "TRUE", Total: 166,
		Detections: []picket.DataDetection{
			{Category: "FINANCIAL_INFORMATION", Type: "CREDIT_CARD_NUMBER", Count: 30},
			{Category: "PERSONAL_INFORMATION", Type: "USA_SOCIAL_SECURITY_NUMBER", Count: 30},
			{Category: "PERSONAL_INFORMATION", Type: "PHONE_NUMBER", Count: 28},
			{Category: "PERSONAL_INFORMATION", Type: "DATE_OF_BIRTH", Count: 30},
			{Category: "PERSONAL_INFORMATION", Type: "NAME", Count: 20},
			{Category: "PERSONAL_INFORMATION", Type: "ADDRESS", Count: 28},
		}}
	if !reflect.DeepEqual(f.Data, want) {
		t.Errorf("got Data %+v, want %+v", f.Data, want)
	}
	r := f.Resources[0]
	if r.Kind != picket.ResourceS3Bucket || r.ARN != "arn:aws:s3:::DOC-EXAMPLE-BUCKET1" {
		t.Errorf("got resource %+v, want the S3 bucket with its ARN", r)
	}
}

func TestDecodeMacieCustomIdentifier(t *testing.T) {
	f := mustDecode(t, readFile(t, "macie/finding_SensitiveData_S3Object_CustomIdentifier__aws-samples-macie-reveal.json"))[0]
	var custom []picket.DataDetection
	for _, d := range f.Data.Detections {
		if d.Category == "CUSTOM_IDENTIFIER" {
			custom = append(custom, d)
		}
	}
	if len(custom) == 0 || custom[0].Type == "" || custom[0].Count == 0 {
		t.Errorf("got custom detections %+v, want the custom identifier named with its count", custom)
	}
}

// TestDecodeMaciePolicy checks a policy finding: no sensitive data, the
// bucket's state. The finding follows the "Macie Finding" example of the
// EventBridge user guide (published truncated, see invalid_as_published).
func TestDecodeMaciePolicy(t *testing.T) {
	detail := []byte(`{"schemaVersion":"1.0","id":"64b917aa-3843-014c-91d8-937ffexample","accountId":"123456789012","partition":"aws","region":"us-east-1",
		"type":"Policy:IAMUser/S3BucketEncryptionDisabled","title":"Encryption is disabled for the S3 bucket",
		"description":"Encryption is disabled for the Amazon S3 bucket.","severity":{"score":1,"description":"Low"},
		"createdAt":"2021-04-29T15:46:02Z","updatedAt":"2021-04-29T23:12:15Z","count":2,"category":"POLICY","archived":false,"sample":false,
		"resourcesAffected":{"s3Bucket":{"arn":"arn:aws:s3:::DOC-EXAMPLE-BUCKET1","name":"DOC-EXAMPLE-BUCKET1","allowsUnencryptedObjectUploads":"TRUE",
		"defaultServerSideEncryption":{"encryptionType":"NONE"},"publicAccess":{"effectivePermission":"PUBLIC"}},"s3Object":null},
		"policyDetails":{"action":{"actionType":"AWS_API_CALL","apiCallDetails":{"api":"DeleteBucketEncryption"}}}}`)
	f := mustDecode(t, ebEvent(t, "ev", "Macie Finding", "aws.macie", "123456789012", "us-east-1", detail))[0]
	want := &picket.DataFinding{Category: "POLICY", Bucket: "DOC-EXAMPLE-BUCKET1", Public: "PUBLIC", Encryption: "NONE", UnencryptedUploads: "TRUE"}
	if !reflect.DeepEqual(f.Data, want) {
		t.Errorf("got Data %+v, want %+v", f.Data, want)
	}
	if f.Count != 2 || f.Severity != picket.SeverityLow || f.Type != "Policy:IAMUser/S3BucketEncryptionDisabled" {
		t.Errorf("got Count %d Severity %v Type %q, want 2 Low Policy:IAMUser/S3BucketEncryptionDisabled", f.Count, f.Severity, f.Type)
	}
}

// macieASFF is a Macie sensitive-data finding as Security Hub imports it,
// built from the documented ASFF attributes (Resources[].DataClassification).
func macieASFF(id string) []byte {
	return []byte(`{"SchemaVersion":"2018-10-08","Id":"` + id + `","ProductArn":"arn:aws:securityhub:us-east-1::product/aws/macie",
		"ProductName":"Macie","GeneratorId":"aws/macie","AwsAccountId":"555555555555",
		"Types":["Sensitive Data Identifications/PII/SensitiveData:S3Object-Multiple"],
		"CreatedAt":"2021-10-25T23:25:04.250Z","UpdatedAt":"2021-10-25T23:25:04.250Z","Severity":{"Label":"HIGH","Normalized":70},
		"Title":"The S3 object contains multiple types of sensitive information.","Description":"The object contains more than one type of sensitive information.",
		"Resources":[{"Type":"AwsS3Bucket","Id":"arn:aws:s3:::DOC-EXAMPLE-BUCKET1","Partition":"aws","Region":"us-east-1"},
		{"Type":"AwsS3Object","Id":"arn:aws:s3:::DOC-EXAMPLE-BUCKET1/macie-workshop/sample-data.csv","Partition":"aws","Region":"us-east-1",
		 "DataClassification":{"DetailedResultsLocation":"s3://x/y.jsonl.gz","Result":{"MimeType":"text/csv","SizeClassified":4750,
		 "SensitiveData":[{"Category":"FINANCIAL_INFORMATION","TotalCount":30,"Detections":[{"Type":"CREDIT_CARD_NUMBER","Count":30}]}],
		 "CustomDataIdentifiers":{"TotalCount":2,"Detections":[{"Arn":"arn:aws:macie2:us-east-1:555555555555:custom-data-identifier/1","Name":"Employee ID","Count":2}]}}}}],
		"WorkflowState":"NEW","Workflow":{"Status":"NEW"},"RecordState":"ACTIVE"}`)
}

func TestDecodeMacieASFF(t *testing.T) {
	f := mustDecode(t, macieASFF("00000000000000000000000000000001"))[0]
	want := &picket.DataFinding{Category: "CLASSIFICATION", Bucket: "DOC-EXAMPLE-BUCKET1", ObjectKey: "macie-workshop/sample-data.csv", Total: 32,
		Detections: []picket.DataDetection{{Category: "FINANCIAL_INFORMATION", Type: "CREDIT_CARD_NUMBER", Count: 30}, {Category: "CUSTOM_IDENTIFIER", Type: "Employee ID", Count: 2}}}
	if !reflect.DeepEqual(f.Data, want) {
		t.Errorf("got Data %+v, want %+v", f.Data, want)
	}
	native := mustDecode(t, macieEvent(t, readFile(t, macieCSV)))[0]
	if native.Key != f.Key {
		t.Errorf("got Key %s natively and %s through Security Hub, want the same", native.Key, f.Key)
	}
	// Its Security Hub Id is not known for sure: no ProductARN, so that
	// no response updates another finding in Security Hub.
	if native.ProductARN != "" {
		t.Errorf("got ProductARN %q natively, want none", native.ProductARN)
	}
	// Findings of other products keep no Data, even with a DataClassification.
	other := mustDecode(t, edit(t, macieASFF("x"), func(m map[string]any) { m["ProductArn"] = "arn:aws:securityhub:us-east-1::product/aws/securityhub" }))[0]
	if other.Data != nil {
		t.Errorf("got Data %+v for a Security Hub finding, want none", other.Data)
	}
}

func TestDecodeMacieErrors(t *testing.T) {
	csv := readFile(t, macieCSV)
	for _, tc := range []struct {
		name string
		body []byte
		code string
		msg  string
	}{
		{"forged source", ebEvent(t, "ev", "Macie Finding", "aws.securityhub", "1", "us-east-1", csv), picket.EUNTRUSTED, "only aws.macie sends these"},
		{"bare finding on the queue", csv, picket.EUNTRUSTED, "a bare finding or GetFindings response is not accepted here"},
		{"bad DataClassification", edit(t, macieASFF("x"), func(m map[string]any) {
			m["Resources"].([]any)[1].(map[string]any)["DataClassification"] = map[string]any{"Result": map[string]any{"SensitiveData": "lots"}}
		}), picket.EINVALID, "Security Hub finding 1: DataClassification: invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := event.Decoder{EventsOnly: tc.name == "bare finding on the queue"}
			_, err := dec.Decode(tc.body)
			checkError(t, err, tc.code, tc.msg)
		})
	}
}
