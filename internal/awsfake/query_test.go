package awsfake_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/picketsec/picket/internal/awsfake"
)

// TestRESTQueryRoutes: S3 names several operations on one path by a query
// key; a route with "?key" matches only requests that carry it, and the S3
// client reads the request id from the header S3 uses.
func TestRESTQueryRoutes(t *testing.T) {
	srv := awsfake.New(t)
	srv.OnREST("s3", "GetBucketTagging", "GET", "/{Bucket}?tagging", awsfake.Reply(awsfake.XML(
		"<Tagging><TagSet><Tag><Key>team</Key><Value>a</Value></Tag></TagSet></Tagging>")))
	srv.OnREST("s3", "GetPublicAccessBlock", "GET", "/{Bucket}?publicAccessBlock", awsfake.Reply(awsfake.XML(
		"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>")))
	c := s3.NewFromConfig(srv.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	ctx := context.Background()
	tags, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("logs")})
	if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Key) != "team" {
		t.Fatalf("GetBucketTagging: %+v, %v", tags, err)
	}
	if id, _ := awsmiddleware.GetRequestIDMetadata(tags.ResultMetadata); id == "" {
		t.Error("GetBucketTagging: no request id")
	}
	bpa, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("logs")})
	if err != nil || !aws.ToBool(bpa.PublicAccessBlockConfiguration.BlockPublicAcls) {
		t.Fatalf("GetPublicAccessBlock: %+v, %v", bpa, err)
	}
	srv.AllowUnexpected()
	if _, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("logs")}); err == nil {
		t.Error("GetBucketPolicy (?policy) matched a route registered for other query keys")
	}
	want := []string{"s3:GetBucketTagging", "s3:GetPublicAccessBlock", "s3:GET /logs"}
	if got := srv.Operations(); !slices.Equal(got, want) {
		t.Errorf("operations = %v, want %v", got, want)
	}
	if got := srv.Calls()[0].PathParams["Bucket"]; got != "logs" {
		t.Errorf("Bucket = %q, want logs", got)
	}
}
