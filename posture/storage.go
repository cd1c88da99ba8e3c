package posture

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"

	"github.com/picketsec/picket"
)

// maxBuckets bounds the per-bucket calls of the public bucket check.
const maxBuckets = 100

// runAccountPublicAccessBlock passes when all four account-level S3 Block
// Public Access settings are on.
func runAccountPublicAccessBlock(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	if c.S3Control == nil {
		return "", nil, nil, missing("S3 Control")
	}
	if c.Account == "" {
		return "", nil, nil, &checkError{msg: "the account id is not known"}
	}
	out, err := c.S3Control.GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: aws.String(c.Account)})
	if err != nil {
		if errorCode(err) == "NoSuchPublicAccessBlockConfiguration" {
			return picket.CheckFail, []string{"account-level Block Public Access is not configured"}, []string{"account " + c.Account}, nil
		}
		return "", nil, nil, fmt.Errorf("get account public access block: %w", err)
	}
	cfg := out.PublicAccessBlockConfiguration
	if cfg == nil {
		return picket.CheckFail, []string{"account-level Block Public Access is not configured"}, []string{"account " + c.Account}, nil
	}
	settings := []struct {
		name string
		on   *bool
	}{
		{"BlockPublicAcls", cfg.BlockPublicAcls},
		{"IgnorePublicAcls", cfg.IgnorePublicAcls},
		{"BlockPublicPolicy", cfg.BlockPublicPolicy},
		{"RestrictPublicBuckets", cfg.RestrictPublicBuckets},
	}
	var off []string
	for _, s := range settings {
		if !aws.ToBool(s.on) {
			off = append(off, s.name)
		}
	}
	if len(off) > 0 {
		return picket.CheckFail, []string{"off: " + joinComma(off)}, []string{"account " + c.Account}, nil
	}
	return picket.CheckPass, []string{"all four Block Public Access settings are on"}, nil, nil
}

// runPublicBuckets fails for every bucket whose policy makes it public.
// It reads the policy status of at most maxBuckets buckets, each in its own
// region.
func runPublicBuckets(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	if c.S3 == nil {
		return "", nil, nil, missing("S3")
	}
	type bucket struct{ name, region string }
	var buckets []bucket
	in := &s3.ListBucketsInput{}
	for {
		out, err := c.S3.ListBuckets(ctx, in)
		if err != nil {
			return "", nil, nil, fmt.Errorf("list buckets: %w", err)
		}
		for _, b := range out.Buckets {
			buckets = append(buckets, bucket{aws.ToString(b.Name), aws.ToString(b.BucketRegion)})
		}
		if aws.ToString(out.ContinuationToken) == "" {
			break
		}
		in = &s3.ListBucketsInput{ContinuationToken: out.ContinuationToken}
	}
	var ev, fail []string
	total := len(buckets)
	if total > maxBuckets {
		ev = append(ev, fmt.Sprintf("checked the first %d of %d buckets", maxBuckets, total))
		buckets = buckets[:maxBuckets]
	}
	for _, b := range buckets {
		var opts []func(*s3.Options)
		if b.region != "" {
			opts = append(opts, func(o *s3.Options) { o.Region = b.region })
		}
		out, err := c.S3.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: aws.String(b.name)}, opts...)
		if err != nil {
			if errorCode(err) == "NoSuchBucketPolicy" {
				continue
			}
			return "", nil, nil, fmt.Errorf("get bucket policy status %s: %w", b.name, err)
		}
		if out.PolicyStatus != nil && aws.ToBool(out.PolicyStatus.IsPublic) {
			fail = append(fail, b.name)
		}
	}
	ev = append(ev, fmt.Sprintf("%d of %d buckets are public by policy", len(fail), len(buckets)))
	if len(fail) > 0 {
		return picket.CheckFail, ev, fail, nil
	}
	return picket.CheckPass, ev, nil, nil
}

// runEBSEncryption passes when new EBS volumes are encrypted by default.
func runEBSEncryption(ctx context.Context, c Clients, region string) (picket.CheckStatus, []string, []string, error) {
	if c.EC2 == nil {
		return "", nil, nil, missing("EC2")
	}
	out, err := c.EC2.GetEbsEncryptionByDefault(ctx, &ec2.GetEbsEncryptionByDefaultInput{})
	if err != nil {
		return "", nil, nil, fmt.Errorf("get EBS encryption by default: %w", err)
	}
	on := aws.ToBool(out.EbsEncryptionByDefault)
	ev := []string{fmt.Sprintf("EBS encryption by default: %t", on)}
	if !on {
		return picket.CheckFail, ev, []string{"EBS default encryption in " + orDefault(region, "the default region")}, nil
	}
	return picket.CheckPass, ev, nil, nil
}

func joinComma(s []string) string { return strings.Join(s, ", ") }
