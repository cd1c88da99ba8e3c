package actions

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3ctypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/picketsec/picket"
)

// PublicAccessBlock is an S3 Block Public Access configuration, of a
// bucket or of an account.
type PublicAccessBlock struct {
	BlockPublicAcls       bool `json:"block_public_acls"`
	IgnorePublicAcls      bool `json:"ignore_public_acls"`
	BlockPublicPolicy     bool `json:"block_public_policy"`
	RestrictPublicBuckets bool `json:"restrict_public_buckets"`
}

// allOn reports whether every setting is on.
func (p *PublicAccessBlock) allOn() bool {
	return p != nil && p.BlockPublicAcls && p.IgnorePublicAcls && p.BlockPublicPolicy && p.RestrictPublicBuckets
}

// String words the settings: "BlockPublicAcls on, IgnorePublicAcls off, ...",
// or "none" for no configuration.
func (p *PublicAccessBlock) String() string {
	if p == nil {
		return "none (no Block Public Access configuration)"
	}
	return fmt.Sprintf("BlockPublicAcls %s, IgnorePublicAcls %s, BlockPublicPolicy %s, RestrictPublicBuckets %s",
		onOff(p.BlockPublicAcls), onOff(p.IgnorePublicAcls), onOff(p.BlockPublicPolicy), onOff(p.RestrictPublicBuckets))
}

// noConfig are the error codes S3 and S3 Control answer for a bucket or
// account without a Block Public Access configuration.
const noConfig = "NoSuchPublicAccessBlockConfiguration"

// allOnBPA is the configuration the fixes put.
const allOnBPA = "BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy and RestrictPublicBuckets all on"

// bucketFix turns on every Block Public Access setting of one bucket.
// Every S3 call names the finding's account as the expected bucket owner,
// so a bucket of the same name in another account is never touched.
type bucketFix struct {
	Bucket  string            `json:"bucket"`
	ARN     string            `json:"arn,omitempty"`
	Account string            `json:"account"`
	Tags    map[string]string `json:"tags,omitempty"`
	// Previous is the bucket's configuration before the fix; nil when it
	// had none.
	Previous *PublicAccessBlock `json:"previous"`
	Applied  bool               `json:"applied,omitempty"`
}

func (b *bucketFix) missing(c Clients) string {
	if c.S3 == nil {
		return "S3"
	}
	return ""
}

func (b *bucketFix) inspect(ctx context.Context, c Clients, read readFunc, g *Guardrails) (string, error) {
	b.Tags = map[string]string{}
	err := read("s3:GetBucketTagging", "Record the tags of S3 bucket "+b.Bucket, func() (middleware.Metadata, error) {
		out, err := c.S3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &b.Bucket, ExpectedBucketOwner: &b.Account})
		if isCode(err, "NoSuchTagSet") {
			return middleware.Metadata{}, nil
		}
		if err != nil {
			return middleware.Metadata{}, err
		}
		for _, t := range out.TagSet {
			b.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		return out.ResultMetadata, nil
	})
	switch {
	case isCode(err, "NoSuchBucket"):
		return fmt.Sprintf("S3 bucket %s does not exist in account %s, so there is nothing to fix.", b.Bucket, b.Account), nil
	case err != nil:
		// Fail closed: without the tags the protecting tag cannot be checked.
		code, _ := apiError(err)
		return fmt.Sprintf("Picket could not read the tags of S3 bucket %s (%s), so it cannot check that the bucket is not protected.", b.Bucket, orUnknownCode(code)), nil
	}
	if reason, protected := g.BucketProtected(b.Bucket, b.ARN, b.Tags); protected {
		return reason, nil
	}
	err = read("s3:GetPublicAccessBlock", "Record the Block Public Access settings of S3 bucket "+b.Bucket, func() (middleware.Metadata, error) {
		out, err := c.S3.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &b.Bucket, ExpectedBucketOwner: &b.Account})
		if isCode(err, noConfig) {
			b.Previous = nil
			return middleware.Metadata{}, nil
		}
		if err != nil {
			return middleware.Metadata{}, err
		}
		if p := out.PublicAccessBlockConfiguration; p != nil {
			b.Previous = &PublicAccessBlock{BlockPublicAcls: aws.ToBool(p.BlockPublicAcls), IgnorePublicAcls: aws.ToBool(p.IgnorePublicAcls),
				BlockPublicPolicy: aws.ToBool(p.BlockPublicPolicy), RestrictPublicBuckets: aws.ToBool(p.RestrictPublicBuckets)}
		}
		return out.ResultMetadata, nil
	})
	if err != nil {
		return "", fmt.Errorf("get public access block of %s: %w", b.Bucket, err)
	}
	if b.Previous.allOn() {
		return fmt.Sprintf("S3 bucket %s already blocks all public access (%s); there is nothing to fix. The finding may be older than the setting.", b.Bucket, b.Previous), nil
	}
	return "", nil
}

func (b *bucketFix) plan() ([]picket.PlanStep, string) {
	return []picket.PlanStep{
		{Operation: "s3:GetPublicAccessBlock", Description: fmt.Sprintf("Record the Block Public Access settings of S3 bucket %s (now: %s) as evidence and for Undo.", b.Bucket, b.Previous)},
		{Operation: "s3:PutPublicAccessBlock", Description: fmt.Sprintf("Turn on Block Public Access for S3 bucket %s in account %s: %s. Public ACLs and public bucket policies stop working; the bucket's objects, ACLs and policy are not changed.", b.Bucket, b.Account, allOnBPA)},
	}, b.undoing() + "."
}

func (b *bucketFix) intend() { b.Applied = true }

func (b *bucketFix) apply(ctx context.Context, c Clients, st *steps) {
	on := aws.Bool(true)
	if st.call("s3:PutPublicAccessBlock", "Turn on Block Public Access for S3 bucket "+b.Bucket+" ("+allOnBPA+")", func() (middleware.Metadata, error) {
		out, err := c.S3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &b.Bucket, ExpectedBucketOwner: &b.Account,
			PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: on, IgnorePublicAcls: on, BlockPublicPolicy: on, RestrictPublicBuckets: on}})
		return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
	}) && !st.dryRun {
		b.Applied = true
	}
}

func (b *bucketFix) changed() bool { return b.Applied }

func (b *bucketFix) doing() string {
	return "turn on Block Public Access for S3 bucket " + b.Bucket + " (" + allOnBPA + ")"
}

func (b *bucketFix) done() string {
	return fmt.Sprintf("Turned on Block Public Access for S3 bucket %s (%s); before: %s.", b.Bucket, allOnBPA, b.Previous)
}

func (b *bucketFix) undoPlan() []picket.PlanStep {
	if b.Previous == nil {
		return []picket.PlanStep{{Operation: "s3:DeletePublicAccessBlock", Description: "Remove the Block Public Access configuration of S3 bucket " + b.Bucket + ", which had none before the fix."}}
	}
	return []picket.PlanStep{{Operation: "s3:PutPublicAccessBlock", Description: fmt.Sprintf("Restore the Block Public Access settings of S3 bucket %s recorded before the fix: %s.", b.Bucket, b.Previous)}}
}

func (b *bucketFix) revert(ctx context.Context, c Clients, st *steps) bool {
	if b.Previous == nil {
		return st.call("s3:DeletePublicAccessBlock", "Remove the Block Public Access configuration of S3 bucket "+b.Bucket, func() (middleware.Metadata, error) {
			out, err := c.S3.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: &b.Bucket, ExpectedBucketOwner: &b.Account})
			return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
		})
	}
	p := b.Previous
	return st.call("s3:PutPublicAccessBlock", "Restore the Block Public Access settings of S3 bucket "+b.Bucket+" ("+p.String()+")", func() (middleware.Metadata, error) {
		out, err := c.S3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &b.Bucket, ExpectedBucketOwner: &b.Account,
			PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(p.BlockPublicAcls),
				IgnorePublicAcls: aws.Bool(p.IgnorePublicAcls), BlockPublicPolicy: aws.Bool(p.BlockPublicPolicy), RestrictPublicBuckets: aws.Bool(p.RestrictPublicBuckets)}})
		return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
	})
}

func (b *bucketFix) undoing() string {
	if b.Previous == nil {
		return "remove the Block Public Access configuration of S3 bucket " + b.Bucket + ", which had none before the fix"
	}
	return "restore the Block Public Access settings of S3 bucket " + b.Bucket + " recorded before the fix (" + b.Previous.String() + ")"
}

func (b *bucketFix) undone() string {
	if b.Previous == nil {
		return "Removed the Block Public Access configuration of S3 bucket " + b.Bucket + ": it has none again, as before the fix."
	}
	return "Restored the Block Public Access settings of S3 bucket " + b.Bucket + " recorded before the fix: " + b.Previous.String() + "."
}

// accountFix turns on every S3 Block Public Access setting of an account
// (S3 Control, account-level).
type accountFix struct {
	Account string `json:"account"`
	// Previous is the account's configuration before the fix; nil when it
	// had none.
	Previous *PublicAccessBlock `json:"previous"`
	Applied  bool               `json:"applied,omitempty"`
}

func (a *accountFix) missing(c Clients) string {
	if c.S3Control == nil {
		return "S3 Control"
	}
	return ""
}

func (a *accountFix) inspect(ctx context.Context, c Clients, read readFunc, _ *Guardrails) (string, error) {
	err := read("s3control:GetPublicAccessBlock", "Record the S3 Block Public Access settings of account "+a.Account, func() (middleware.Metadata, error) {
		out, err := c.S3Control.GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: &a.Account})
		if isCode(err, noConfig) {
			a.Previous = nil
			return middleware.Metadata{}, nil
		}
		if err != nil {
			return middleware.Metadata{}, err
		}
		if p := out.PublicAccessBlockConfiguration; p != nil {
			a.Previous = &PublicAccessBlock{BlockPublicAcls: aws.ToBool(p.BlockPublicAcls), IgnorePublicAcls: aws.ToBool(p.IgnorePublicAcls),
				BlockPublicPolicy: aws.ToBool(p.BlockPublicPolicy), RestrictPublicBuckets: aws.ToBool(p.RestrictPublicBuckets)}
		}
		return out.ResultMetadata, nil
	})
	if err != nil {
		return "", fmt.Errorf("get account public access block of %s: %w", a.Account, err)
	}
	if a.Previous.allOn() {
		return fmt.Sprintf("Account %s already blocks all S3 public access (%s); there is nothing to fix. The finding may be older than the setting.", a.Account, a.Previous), nil
	}
	return "", nil
}

func (a *accountFix) plan() ([]picket.PlanStep, string) {
	return []picket.PlanStep{
		{Operation: "s3control:GetPublicAccessBlock", Description: fmt.Sprintf("Record the S3 Block Public Access settings of account %s (now: %s) as evidence and for Undo.", a.Account, a.Previous)},
		{Operation: "s3control:PutPublicAccessBlock", Description: fmt.Sprintf("Turn on S3 Block Public Access for the whole account %s: %s. Every bucket in the account stops honouring public ACLs and public bucket policies.", a.Account, allOnBPA)},
	}, a.undoing() + "."
}

func (a *accountFix) intend() { a.Applied = true }

func (a *accountFix) apply(ctx context.Context, c Clients, st *steps) {
	on := aws.Bool(true)
	if st.call("s3control:PutPublicAccessBlock", "Turn on S3 Block Public Access for account "+a.Account+" ("+allOnBPA+")", func() (middleware.Metadata, error) {
		out, err := c.S3Control.PutPublicAccessBlock(ctx, &s3control.PutPublicAccessBlockInput{AccountId: &a.Account,
			PublicAccessBlockConfiguration: &s3ctypes.PublicAccessBlockConfiguration{BlockPublicAcls: on, IgnorePublicAcls: on, BlockPublicPolicy: on, RestrictPublicBuckets: on}})
		return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
	}) && !st.dryRun {
		a.Applied = true
	}
}

func (a *accountFix) changed() bool { return a.Applied }

func (a *accountFix) doing() string {
	return "turn on S3 Block Public Access for account " + a.Account + " (" + allOnBPA + ")"
}

func (a *accountFix) done() string {
	return fmt.Sprintf("Turned on S3 Block Public Access for account %s (%s); before: %s.", a.Account, allOnBPA, a.Previous)
}

func (a *accountFix) undoPlan() []picket.PlanStep {
	if a.Previous == nil {
		return []picket.PlanStep{{Operation: "s3control:DeletePublicAccessBlock", Description: "Remove the S3 Block Public Access configuration of account " + a.Account + ", which had none before the fix."}}
	}
	return []picket.PlanStep{{Operation: "s3control:PutPublicAccessBlock", Description: fmt.Sprintf("Restore the S3 Block Public Access settings of account %s recorded before the fix: %s.", a.Account, a.Previous)}}
}

func (a *accountFix) revert(ctx context.Context, c Clients, st *steps) bool {
	if a.Previous == nil {
		return st.call("s3control:DeletePublicAccessBlock", "Remove the S3 Block Public Access configuration of account "+a.Account, func() (middleware.Metadata, error) {
			out, err := c.S3Control.DeletePublicAccessBlock(ctx, &s3control.DeletePublicAccessBlockInput{AccountId: &a.Account})
			return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
		})
	}
	p := a.Previous
	return st.call("s3control:PutPublicAccessBlock", "Restore the S3 Block Public Access settings of account "+a.Account+" ("+p.String()+")", func() (middleware.Metadata, error) {
		out, err := c.S3Control.PutPublicAccessBlock(ctx, &s3control.PutPublicAccessBlockInput{AccountId: &a.Account,
			PublicAccessBlockConfiguration: &s3ctypes.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(p.BlockPublicAcls),
				IgnorePublicAcls: aws.Bool(p.IgnorePublicAcls), BlockPublicPolicy: aws.Bool(p.BlockPublicPolicy), RestrictPublicBuckets: aws.Bool(p.RestrictPublicBuckets)}})
		return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
	})
}

func (a *accountFix) undoing() string {
	if a.Previous == nil {
		return "remove the S3 Block Public Access configuration of account " + a.Account + ", which had none before the fix"
	}
	return "restore the S3 Block Public Access settings of account " + a.Account + " recorded before the fix (" + a.Previous.String() + ")"
}

func (a *accountFix) undone() string {
	if a.Previous == nil {
		return "Removed the S3 Block Public Access configuration of account " + a.Account + ": it has none again, as before the fix."
	}
	return "Restored the S3 Block Public Access settings of account " + a.Account + " recorded before the fix: " + a.Previous.String() + "."
}
