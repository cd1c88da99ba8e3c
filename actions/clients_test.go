package actions_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/actions"
	"github.com/picketsec/picket/internal/awsfake"
)

func TestNewClientsFunc(t *testing.T) {
	srv := awsfake.New(t)
	srv.On("sts", "GetCallerIdentity", awsfake.Reply(awsfake.QueryResult("GetCallerIdentity",
		`<Arn>arn:aws:iam::111111111111:user/picket</Arn><UserId>AIDA</UserId><Account>111111111111</Account>`)))
	srv.On("sts", "AssumeRole", awsfake.Reply(awsfake.QueryResult("AssumeRole", `<Credentials>
		<AccessKeyId>ASIAMEMBER</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>tok</SessionToken>
		<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
		<AssumedRoleUser><Arn>arn:aws:sts::222222222222:assumed-role/PicketResponder/picket</Arn><AssumedRoleId>AROA:picket</AssumedRoleId></AssumedRoleUser>`)))
	var signedWith string
	srv.On("iam", "GetUser", func(r *awsfake.Request) awsfake.Response {
		signedWith = r.Header.Get("Authorization")
		return awsfake.QueryResult("GetUser",
			`<User><UserName>alice</UserName><UserId>AIDA1</UserId><Arn>arn:aws:iam::222222222222:user/alice</Arn><Path>/</Path><CreateDate>2020-01-01T00:00:00Z</CreateDate></User>`)
	})

	clients := actions.NewClientsFunc(srv.Config(), map[string]actions.AssumeRole{
		"222222222222": {RoleARN: "arn:aws:iam::222222222222:role/PicketResponder", ExternalID: "ext-123"},
	})
	ctx := context.Background()

	if _, err := clients(ctx, "111111111111", "eu-west-1"); err != nil {
		t.Fatalf("own account: %v", err)
	}
	_, err := clients(ctx, "333333333333", "us-east-1")
	if picket.ErrorCode(err) != picket.EUNAUTHORIZED {
		t.Fatalf("unknown account: error %v, want code %s", err, picket.EUNAUTHORIZED)
	}
	member, err := clients(ctx, "222222222222", "us-east-1")
	if err != nil {
		t.Fatalf("member account: %v", err)
	}
	if _, err := member.IAM.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatalf("GetUser through the assumed role: %v", err)
	}
	// GetCallerIdentity once (cached), AssumeRole once, then the call.
	want := []string{"sts:GetCallerIdentity", "sts:AssumeRole", "iam:GetUser"}
	if got := srv.Operations(); !slices.Equal(got, want) {
		t.Fatalf("operations = %v, want %v", got, want)
	}
	calls := srv.Calls()
	if got := calls[1].Param("ExternalId"); got != "ext-123" {
		t.Errorf("AssumeRole ExternalId = %q, want ext-123", got)
	}
	if got := calls[1].Param("RoleArn"); got != "arn:aws:iam::222222222222:role/PicketResponder" {
		t.Errorf("AssumeRole RoleArn = %q", got)
	}
	if !strings.Contains(signedWith, "Credential=ASIAMEMBER/") {
		t.Errorf("GetUser was not signed with the assumed role's key: %q", signedWith)
	}
}
