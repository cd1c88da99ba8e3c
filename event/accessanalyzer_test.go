package event_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/event"
)

const accessEvent = "access_analyzer/eb_Access_Analyzer_Finding_1__awsdocs-iam.json"

// accessDetail lets fn change the event and its detail.
func accessDetail(tb testing.TB, fn func(ev, d map[string]any)) []byte {
	tb.Helper()
	return edit(tb, readFile(tb, accessEvent), func(m map[string]any) { fn(m, obj(m, "detail")) })
}

func TestDecodeAccessAnalyzerExternal(t *testing.T) {
	f := mustDecode(t, readFile(t, accessEvent))[0]
	want := &picket.AccessFinding{Kind: picket.AccessExternal, Analyzer: "arn:aws:access-analyzer:us-west-2:111122223333:analyzer/MyAnalyzer",
		ResourceType: "AWS::S3::Bucket", Principals: []string{"AWS 999988887777"}, Actions: []string{"s3:GetObject"}}
	if !reflect.DeepEqual(f.Access, want) {
		t.Errorf("got Access %+v, want %+v", f.Access, want)
	}
	public := mustDecode(t, accessDetail(t, func(_, d map[string]any) {
		d["isPublic"] = true
		d["principal"] = map[string]any{"AWS": "*"}
		d["condition"] = map[string]any{"StringEquals": map[string]any{"aws:SourceVpc": "vpc-1"}}
	}))[0]
	if !public.Access.Public || public.Severity != picket.SeverityHigh || public.Type != "ExternalAccess/Public" ||
		public.Access.Condition != `{"StringEquals":{"aws:SourceVpc":"vpc-1"}}` {
		t.Errorf("got Public %v Severity %v Type %q Condition %q, want true High ExternalAccess/Public and the condition",
			public.Access.Public, public.Severity, public.Type, public.Access.Condition)
	}
}

// TestAccessAnalyzerSameKeyAcrossSources checks that an external access
// finding has one Key natively and through Security Hub, whose Id is the
// analyzer ARN and the resource ARN.
func TestAccessAnalyzerSameKeyAcrossSources(t *testing.T) {
	asff := readFile(t, "securityhub/asff_access_analyzer_finding_typical__awsdocs-iam.json")
	hub := mustDecode(t, asff)[0]
	native := mustDecode(t, accessDetail(t, func(ev, _ map[string]any) {
		ev["resources"] = []any{"arn:aws:access-analyzer:us-west-2:111122223333:analyzer/my-analyzer"}
	}))[0]
	if native.Key != hub.Key {
		t.Errorf("got Key %s natively and %s through Security Hub, want the same", native.Key, hub.Key)
	}
	if native.ProductARN != "" {
		t.Errorf("got ProductARN %q natively, want none (its Security Hub Id is not its id)", native.ProductARN)
	}
	want := &picket.AccessFinding{Kind: picket.AccessExternal, Analyzer: "arn:aws:access-analyzer:us-west-2:111122223333:analyzer/my-analyzer",
		Principals: []string{"AWS 444455556666"}, Actions: []string{"s3:GetObject", "s3:GetObjectVersion"}}
	if !reflect.DeepEqual(hub.Access, want) {
		t.Errorf("got Access %+v through Security Hub, want %+v", hub.Access, want)
	}
	other := mustDecode(t, readFile(t, accessEvent))[0] // analyzer MyAnalyzer
	if other.Key == hub.Key {
		t.Error("a finding of another analyzer got the same Key")
	}
}

func TestDecodeAccessAnalyzerUnusedAndInternal(t *testing.T) {
	unused := []byte(`{"version":"1.0","id":"b2c3d4e5-unused","analyzerArn":"arn:aws:access-analyzer:us-east-1:111122223333:analyzer/UnusedAccess",
		"resource":"arn:aws:iam::111122223333:role/OldDeployRole","resourceType":"AWS::IAM::Role","resourceOwnerAccount":"111122223333",
		"findingType":"UnusedPermission","status":"ACTIVE","createdAt":"2024-05-01T00:00:00Z","updatedAt":"2024-05-02T00:00:00Z","analyzedAt":"2024-05-02T00:00:00Z",
		"findingDetails":[{"unusedPermissionDetails":{"serviceNamespace":"s3","lastAccessed":"2024-01-15T10:00:00Z","actions":[{"action":"s3:DeleteBucket"},{"action":"s3:PutBucketPolicy"}]}},
		{"unusedPermissionDetails":{"serviceNamespace":"iam"}}]}`)
	f := mustDecode(t, ebEvent(t, "ev-u", "Unused Access Finding for IAM entities", "aws.access-analyzer", "111122223333", "us-east-1", unused))[0]
	want := &picket.AccessFinding{Kind: picket.AccessUnused, Analyzer: "arn:aws:access-analyzer:us-east-1:111122223333:analyzer/UnusedAccess",
		ResourceType: "AWS::IAM::Role", FindingType: "UnusedPermission", Unused: []string{"s3: s3:DeleteBucket, s3:PutBucketPolicy", "iam"},
		LastAccessed: time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)}
	if !reflect.DeepEqual(f.Access, want) {
		t.Errorf("got Access %+v, want %+v", f.Access, want)
	}
	if f.Type != "UnusedPermission" || f.Title != "Unused permissions of arn:aws:iam::111122223333:role/OldDeployRole" ||
		summarize(&f).Resources != "iam_role:OldDeployRole" || f.Account != "111122223333" {
		t.Errorf("got Type %q Title %q Resources %q Account %q", f.Type, f.Title, summarize(&f).Resources, f.Account)
	}

	key := []byte(`{"id":"k1","analyzerArn":"arn:aws:access-analyzer:us-east-1:111122223333:analyzer/UnusedAccess","resource":"arn:aws:iam::111122223333:user/alice",
		"resourceType":"AWS::IAM::User","findingType":"UnusedIAMUserAccessKey","status":"ACTIVE",
		"findingDetails":[{"unusedIamUserAccessKeyDetails":{"accessKeyId":"AKIAIOSFODNN7EXAMPLE","lastAccessed":"2023-11-01T00:00:00Z"}}]}`)
	f = mustDecode(t, ebEvent(t, "ev-k", "Unused Access Finding for IAM entities", "aws.access-analyzer", "111122223333", "us-east-1", key))[0]
	if !reflect.DeepEqual(f.Access.Unused, []string{"access key AKIAIOSFODNN7EXAMPLE"}) || f.Title != "Unused access key of arn:aws:iam::111122223333:user/alice" {
		t.Errorf("got Unused %q Title %q", f.Access.Unused, f.Title)
	}

	internal := []byte(`{"id":"i1","analyzerArn":"arn:aws:access-analyzer:us-east-1:111122223333:analyzer/Internal","resource":"arn:aws:s3:::payroll",
		"resourceType":"AWS::S3::Bucket","status":"ACTIVE","findingDetails":[{"internalAccessDetails":{"action":["s3:GetObject"],
		"principal":{"AWS":"arn:aws:iam::111122223333:role/Analytics"},"condition":{}}}]}`)
	f = mustDecode(t, ebEvent(t, "ev-i", "Internal Access Finding", "aws.access-analyzer", "111122223333", "us-east-1", internal))[0]
	if f.Access.Kind != picket.AccessInternal || !reflect.DeepEqual(f.Access.Principals, []string{"AWS arn:aws:iam::111122223333:role/Analytics"}) ||
		f.Access.Condition != "" || f.Type != "InternalAccess" {
		t.Errorf("got Access %+v Type %q, want internal access by the Analytics role without condition", f.Access, f.Type)
	}
}

func TestDecodeAccessAnalyzerStatesAndErrors(t *testing.T) {
	for _, tc := range []struct {
		name             string
		fn               func(ev, d map[string]any)
		record, workflow string
	}{
		{"archived", func(_, d map[string]any) { d["status"] = "ARCHIVED" }, "ACTIVE", "SUPPRESSED"},
		{"resolved", func(_, d map[string]any) { d["status"] = "RESOLVED" }, "ACTIVE", "RESOLVED"},
		{"deleted", func(_, d map[string]any) { d["isDeleted"] = true }, "ARCHIVED", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustDecode(t, accessDetail(t, tc.fn))[0]
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
		{"forged source", accessDetail(t, func(ev, _ map[string]any) { ev["source"] = "aws.securityhub" }), picket.EUNTRUSTED, "only aws.access-analyzer sends these"},
		{"forged unused", ebEvent(t, "e", "Unused Access Finding for IAM entities", "my.app", "1", "us-east-1", []byte(`{}`)), picket.EUNTRUSTED, "only aws.access-analyzer sends these"},
		{"no resource", accessDetail(t, func(_, d map[string]any) { delete(d, "resource") }), picket.EINVALID, "has no resource"},
		{"no id", accessDetail(t, func(_, d map[string]any) { delete(d, "id") }), picket.EINVALID, "IAM Access Analyzer finding has no id"},
		{"bad resources", accessDetail(t, func(ev, _ map[string]any) { ev["resources"] = []any{1} }), picket.EINVALID, "resources is not an array of strings"},
		{"preview", readFile(t, "access_analyzer/eb_Access_Preview_1__awsdocs-iam.json"), picket.ENOTFINDING, "is not a finding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := event.Decode(tc.body)
			checkError(t, err, tc.code, tc.msg)
		})
	}
}
