package awsfake_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/picketsec/picket/internal/awsfake"
)

const userXML = `<User><Path>/</Path><UserName>alice</UserName><UserId>AIDAEXAMPLE</UserId>` +
	`<Arn>arn:aws:iam::123456789012:user/alice</Arn><CreateDate>2020-01-02T03:04:05Z</CreateDate></User>`

// apiError returns err's smithy.APIError, failing the test when there is none.
func apiError(t *testing.T, err error) smithy.APIError {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v, want a smithy.APIError", err)
	}
	return ae
}

// requestID returns the request id the SDK recorded for err.
func requestID(t *testing.T, err error) string {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("got error %v, want an *awshttp.ResponseError", err)
	}
	return re.ServiceRequestID()
}

func TestIAMQueryProtocol(t *testing.T) {
	ctx := context.Background()
	t.Run("success", func(t *testing.T) {
		srv := awsfake.New(t)
		srv.On("iam", "GetUser", awsfake.Reply(awsfake.QueryResult("GetUser", userXML)))
		client := iam.NewFromConfig(srv.Config())

		out, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
		if err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		if got, want := aws.ToString(out.User.Arn), "arn:aws:iam::123456789012:user/alice"; got != want {
			t.Errorf("got ARN %q, want %q", got, want)
		}
		if got, want := aws.ToTime(out.User.CreateDate), time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC); !got.Equal(want) {
			t.Errorf("got CreateDate %v, want %v", got, want)
		}
		if got, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); got != "req-0001" {
			t.Errorf("got request id %q, want %q", got, "req-0001")
		}
		calls := srv.Calls()
		if len(calls) != 1 {
			t.Fatalf("got %d calls, want 1", len(calls))
		}
		c := calls[0]
		if c.Service != "iam" || c.Operation != "GetUser" || c.Region != "us-east-1" {
			t.Errorf("got call %s:%s in %q, want iam:GetUser in us-east-1", c.Service, c.Operation, c.Region)
		}
		if got := c.Param("UserName"); got != "alice" {
			t.Errorf("got UserName %q, want %q", got, "alice")
		}
		if got := c.RequestID; got != "req-0001" {
			t.Errorf("got recorded request id %q, want %q", got, "req-0001")
		}
	})
	t.Run("access denied", func(t *testing.T) {
		srv := awsfake.New(t)
		srv.On("iam", "GetUser", awsfake.Reply(awsfake.QueryError("AccessDenied",
			"User: arn:aws:sts::123456789012:assumed-role/picket is not authorized to perform: iam:GetUser")))
		client := iam.NewFromConfig(srv.Config())

		_, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
		ae := apiError(t, err)
		if got, want := ae.ErrorCode(), "AccessDenied"; got != want {
			t.Errorf("got code %q, want %q", got, want)
		}
		if got := ae.ErrorMessage(); !strings.Contains(got, "iam:GetUser") {
			t.Errorf("got message %q, want it to contain iam:GetUser", got)
		}
		if got := requestID(t, err); got != "req-0001" {
			t.Errorf("got request id %q, want %q", got, "req-0001")
		}
		if got, want := srv.Operations(), []string{"iam:GetUser"}; !slices.Equal(got, want) {
			t.Errorf("got operations %v, want %v (one attempt, no retry)", got, want)
		}
	})
	t.Run("modeled error", func(t *testing.T) {
		srv := awsfake.New(t)
		srv.On("iam", "GetLoginProfile", awsfake.Reply(awsfake.QueryError("NoSuchEntity", "Login Profile for User alice cannot be found.")))
		client := iam.NewFromConfig(srv.Config())

		_, err := client.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String("alice")})
		if got, want := apiError(t, err).ErrorCode(), "NoSuchEntity"; got != want {
			t.Errorf("got code %q, want %q", got, want)
		}
	})
	t.Run("per-client base endpoint", func(t *testing.T) {
		srv := awsfake.New(t)
		srv.On("iam", "GetUser", awsfake.Reply(awsfake.QueryResult("GetUser", userXML)))
		cfg := srv.Config()
		cfg.BaseEndpoint = nil
		client := iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(srv.URL()) })

		if _, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")}); err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		if got, want := srv.Operations(), []string{"iam:GetUser"}; !slices.Equal(got, want) {
			t.Errorf("got operations %v, want %v", got, want)
		}
	})
}

func TestEC2Protocol(t *testing.T) {
	ctx := context.Background()
	const reservations = `<reservationSet><item><reservationId>r-1</reservationId><ownerId>123456789012</ownerId>` +
		`<instancesSet><item><instanceId>i-0abc</instanceId><instanceState><code>16</code><name>running</name></instanceState>` +
		`<tagSet><item><key>Name</key><value>web-1</value></item></tagSet></item></instancesSet></item></reservationSet>`
	t.Run("success", func(t *testing.T) {
		srv := awsfake.New(t)
		srv.On("ec2", "DescribeInstances", awsfake.Reply(awsfake.EC2Result("DescribeInstances", reservations)))
		client := ec2.NewFromConfig(srv.Config())

		out, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0abc"}})
		if err != nil {
			t.Fatalf("DescribeInstances: %v", err)
		}
		if len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
			t.Fatalf("got %+v, want one reservation with one instance", out.Reservations)
		}
		inst := out.Reservations[0].Instances[0]
		if got := aws.ToString(inst.InstanceId); got != "i-0abc" {
			t.Errorf("got instance id %q, want %q", got, "i-0abc")
		}
		if got := string(inst.State.Name); got != "running" {
			t.Errorf("got state %q, want %q", got, "running")
		}
		if len(inst.Tags) != 1 || aws.ToString(inst.Tags[0].Value) != "web-1" {
			t.Errorf("got tags %+v, want Name=web-1", inst.Tags)
		}
		c := srv.Calls()[0]
		if got := c.Param("InstanceId.1"); got != "i-0abc" {
			t.Errorf("got InstanceId.1 %q, want %q", got, "i-0abc")
		}
		if c.Service != "ec2" {
			t.Errorf("got service %q, want ec2", c.Service)
		}
	})
	t.Run("error", func(t *testing.T) {
		srv := awsfake.New(t)
		srv.On("ec2", "DescribeInstances", awsfake.Reply(awsfake.EC2Error("InvalidInstanceID.NotFound",
			"The instance ID 'i-0abc' does not exist")))
		client := ec2.NewFromConfig(srv.Config())

		_, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0abc"}})
		if got, want := apiError(t, err).ErrorCode(), "InvalidInstanceID.NotFound"; got != want {
			t.Errorf("got code %q, want %q", got, want)
		}
		if got := requestID(t, err); got != "req-0001" {
			t.Errorf("got request id %q, want %q", got, "req-0001")
		}
	})
}

func TestJSONProtocol(t *testing.T) {
	ctx := context.Background()
	t.Run("success", func(t *testing.T) {
		srv := awsfake.New(t)
		srv.On("sqs", "GetQueueUrl", func(r *awsfake.Request) awsfake.Response {
			return awsfake.JSONBody(map[string]string{"QueueUrl": "http://127.0.0.1/123456789012/" + r.Param("QueueName")})
		})
		client := sqs.NewFromConfig(srv.Config())

		out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("picket")})
		if err != nil {
			t.Fatalf("GetQueueUrl: %v", err)
		}
		if got, want := aws.ToString(out.QueueUrl), "http://127.0.0.1/123456789012/picket"; got != want {
			t.Errorf("got queue URL %q, want %q", got, want)
		}
		c := srv.Calls()[0]
		if c.Service != "sqs" || c.Operation != "GetQueueUrl" {
			t.Errorf("got %s:%s, want sqs:GetQueueUrl", c.Service, c.Operation)
		}
		if got := c.JSON["QueueName"]; got != "picket" {
			t.Errorf("got JSON QueueName %v, want picket", got)
		}
	})
	t.Run("query-compatible error", func(t *testing.T) {
		srv := awsfake.New(t)
		srv.On("sqs", "GetQueueUrl", awsfake.Reply(
			awsfake.JSONError("com.amazonaws.sqs#QueueDoesNotExist", "The specified queue does not exist.").
				WithHeader("X-Amzn-Query-Error", "AWS.SimpleQueueService.NonExistentQueue;Sender")))
		client := sqs.NewFromConfig(srv.Config())

		_, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
		var qe *sqstypes.QueueDoesNotExist
		if !errors.As(err, &qe) {
			t.Fatalf("got error %v, want *types.QueueDoesNotExist", err)
		}
		if got, want := apiError(t, err).ErrorCode(), "AWS.SimpleQueueService.NonExistentQueue"; got != want {
			t.Errorf("got code %q, want %q", got, want)
		}
	})
}

func TestSTS(t *testing.T) {
	srv := awsfake.New(t)
	srv.On("sts", "GetCallerIdentity", awsfake.Reply(awsfake.QueryResult("GetCallerIdentity",
		`<Arn>arn:aws:sts::123456789012:assumed-role/picket/session</Arn><UserId>AROAEXAMPLE:session</UserId><Account>123456789012</Account>`)))
	client := sts.NewFromConfig(srv.Config())

	out, err := client.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if got, want := aws.ToString(out.Account), "123456789012"; got != want {
		t.Errorf("got account %q, want %q", got, want)
	}
	if got, want := srv.Operations(), []string{"sts:GetCallerIdentity"}; !slices.Equal(got, want) {
		t.Errorf("got operations %v, want %v", got, want)
	}
}

func TestRESTJSON(t *testing.T) {
	ctx := context.Background()
	t.Run("security hub", func(t *testing.T) {
		srv := awsfake.New(t)
		srv.OnREST("securityhub", "BatchUpdateFindings", "PATCH", "/findings/batchupdate", func(r *awsfake.Request) awsfake.Response {
			ids, _ := r.JSON["FindingIdentifiers"].([]any)
			return awsfake.JSONBody(map[string]any{"ProcessedFindings": ids, "UnprocessedFindings": []any{}})
		})
		client := securityhub.NewFromConfig(srv.Config())

		out, err := client.BatchUpdateFindings(ctx, &securityhub.BatchUpdateFindingsInput{
			FindingIdentifiers: []shtypes.AwsSecurityFindingIdentifier{{
				Id: aws.String("finding-1"), ProductArn: aws.String("arn:aws:securityhub:us-east-1::product/aws/guardduty"),
			}},
			Workflow: &shtypes.WorkflowUpdate{Status: shtypes.WorkflowStatusSuppressed},
			Note:     &shtypes.NoteUpdate{Text: aws.String("suppressed by picket"), UpdatedBy: aws.String("picket")},
		})
		if err != nil {
			t.Fatalf("BatchUpdateFindings: %v", err)
		}
		if len(out.ProcessedFindings) != 1 || aws.ToString(out.ProcessedFindings[0].Id) != "finding-1" {
			t.Errorf("got processed %+v, want finding-1", out.ProcessedFindings)
		}
		c := srv.Calls()[0]
		if c.Operation != "BatchUpdateFindings" || c.Method != "PATCH" || c.Path != "/findings/batchupdate" {
			t.Errorf("got %s %s %s, want BatchUpdateFindings PATCH /findings/batchupdate", c.Operation, c.Method, c.Path)
		}
		wf, _ := c.JSON["Workflow"].(map[string]any)
		if got := wf["Status"]; got != "SUPPRESSED" {
			t.Errorf("got Workflow.Status %v, want SUPPRESSED", got)
		}
	})
	t.Run("guardduty path label and error", func(t *testing.T) {
		srv := awsfake.New(t)
		srv.OnREST("guardduty", "ArchiveFindings", "POST", "/detector/{DetectorId}/findings/archive",
			awsfake.Sequence(awsfake.JSONBody(map[string]any{}),
				awsfake.JSONError("BadRequestException", "The request is rejected because the input detectorId is not owned by the current account.")))
		client := guardduty.NewFromConfig(srv.Config())
		in := &guardduty.ArchiveFindingsInput{DetectorId: aws.String("det 1/x"), FindingIds: []string{"f1", "f2"}}

		if _, err := client.ArchiveFindings(ctx, in); err != nil {
			t.Fatalf("first ArchiveFindings: %v", err)
		}
		_, err := client.ArchiveFindings(ctx, in)
		if got, want := apiError(t, err).ErrorCode(), "BadRequestException"; got != want {
			t.Errorf("got code %q, want %q", got, want)
		}
		c := srv.Calls()[0]
		if got := c.PathParams["DetectorId"]; got != "det 1/x" {
			t.Errorf("got DetectorId %q, want %q", got, "det 1/x")
		}
		if got := fmt.Sprint(c.JSON["findingIds"]); got != "[f1 f2]" {
			t.Errorf("got findingIds %s, want [f1 f2]", got)
		}
		if got, want := srv.Operations(), []string{"guardduty:ArchiveFindings", "guardduty:ArchiveFindings"}; !slices.Equal(got, want) {
			t.Errorf("got operations %v, want %v", got, want)
		}
	})
	t.Run("unrouted REST call is named by method and path", func(t *testing.T) {
		srv := awsfake.New(t)
		srv.AllowUnexpected()
		client := securityhub.NewFromConfig(srv.Config())

		_, err := client.GetFindings(ctx, &securityhub.GetFindingsInput{})
		if got, want := apiError(t, err).ErrorCode(), "UnknownOperationException"; got != want {
			t.Errorf("got code %q, want %q", got, want)
		}
		if got, want := srv.Operations(), []string{"securityhub:POST /findings"}; !slices.Equal(got, want) {
			t.Errorf("got operations %v, want %v", got, want)
		}
	})
}

// recordingTB captures Errorf so tests can check what the server reports.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingTB) reported() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errors)
}

func TestUnexpectedCalls(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		allow bool
		want  []string
	}{
		{name: "reported", want: []string{"unexpected AWS call iam:ListAccountAliases"}},
		{name: "allowed", allow: true, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			srv := awsfake.New(rec)
			if tt.allow {
				srv.AllowUnexpected()
			}
			client := iam.NewFromConfig(srv.Config())

			_, err := client.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
			if got, want := apiError(t, err).ErrorCode(), "InvalidAction"; got != want {
				t.Errorf("got code %q, want %q", got, want)
			}
			if got := rec.reported(); !slices.Equal(got, tt.want) {
				t.Errorf("got reports %q, want %q", got, tt.want)
			}
			if got, want := srv.Operations(), []string{"iam:ListAccountAliases"}; !slices.Equal(got, want) {
				t.Errorf("got operations %v, want %v (unexpected calls are recorded)", got, want)
			}
		})
	}
}

func TestHandlerPanicIsReported(t *testing.T) {
	rec := &recordingTB{TB: t}
	srv := awsfake.New(rec)
	srv.On("iam", "GetUser", func(*awsfake.Request) awsfake.Response { panic("boom") })
	client := iam.NewFromConfig(srv.Config())

	_, err := client.GetUser(context.Background(), &iam.GetUserInput{UserName: aws.String("alice")})
	if got, want := apiError(t, err).ErrorCode(), "InternalFailure"; got != want {
		t.Errorf("got code %q, want %q", got, want)
	}
	if got := rec.reported(); len(got) != 1 || !strings.Contains(got[0], "panicked: boom") {
		t.Errorf("got reports %q, want one about the panic", got)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name    string
		opts    []awsfake.ConfigOption
		wantErr bool
		wantOps int
	}{
		{name: "default single attempt", wantErr: true, wantOps: 1},
		{name: "standard retryer", opts: []awsfake.ConfigOption{awsfake.WithRetries(3)}, wantOps: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := awsfake.New(t)
			srv.On("iam", "GetUser", awsfake.Sequence(
				awsfake.QueryError("Throttling", "Rate exceeded"),
				awsfake.QueryResult("GetUser", userXML)))
			client := iam.NewFromConfig(srv.Config(tt.opts...))

			_, err := client.GetUser(context.Background(), &iam.GetUserInput{UserName: aws.String("alice")})
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("got error %v, want error: %v", err, tt.wantErr)
			}
			if got := len(srv.Operations()); got != tt.wantOps {
				t.Errorf("got %d calls, want %d", got, tt.wantOps)
			}
		})
	}
}

func TestResetKeepsHandlers(t *testing.T) {
	srv := awsfake.New(t)
	srv.On("iam", "GetUser", awsfake.Reply(awsfake.QueryResult("GetUser", userXML)))
	client := iam.NewFromConfig(srv.Config())
	ctx := context.Background()
	in := &iam.GetUserInput{UserName: aws.String("alice")}

	if _, err := client.GetUser(ctx, in); err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	srv.Reset()
	if got := srv.Calls(); len(got) != 0 {
		t.Fatalf("got %d calls after Reset, want 0", len(got))
	}
	if _, err := client.GetUser(ctx, in); err != nil {
		t.Fatalf("GetUser after Reset: %v", err)
	}
	calls := srv.Calls()
	if len(calls) != 1 || calls[0].RequestID != "req-0002" {
		t.Errorf("got calls %+v, want one with request id req-0002", calls)
	}
}
