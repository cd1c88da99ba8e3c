package actions

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/accessanalyzer"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/detective"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/picketsec/picket"
)

// AssumeRole is how Picket reaches a member account.
type AssumeRole struct {
	RoleARN    string
	ExternalID string
}

// NewClientsFunc returns a ClientsFunc over base: in the account Picket
// runs in (found once with sts:GetCallerIdentity) it uses base's
// credentials; in an account listed in roles it assumes that role (with
// its external id, session name "picket"), credentials cached and renewed
// by the SDK; any other account is refused. Clients are built once per
// account and region.
func NewClientsFunc(base aws.Config, roles map[string]AssumeRole) ClientsFunc {
	stsc := sts.NewFromConfig(base)
	var mu sync.Mutex
	var self string
	cache := map[string]Clients{}
	creds := map[string]aws.CredentialsProvider{}
	return func(ctx context.Context, account, region string) (Clients, error) {
		mu.Lock()
		defer mu.Unlock()
		if self == "" {
			out, err := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return Clients{}, &picket.Error{Code: picket.EUNAVAILABLE,
					Message: "Picket could not tell which AWS account it runs in (sts:GetCallerIdentity failed).", Err: err}
			}
			self = aws.ToString(out.Account)
		}
		key := account + "/" + region
		if c, ok := cache[key]; ok {
			return c, nil
		}
		cfg := base.Copy()
		if region != "" {
			cfg.Region = region
		}
		if account != self {
			r, ok := roles[account]
			if !ok {
				return Clients{}, picket.Errorf(picket.EUNAUTHORIZED,
					"Picket has no role in account %s (it runs in %s); add the account under responses.accounts.", account, self)
			}
			p, ok := creds[account]
			if !ok {
				p = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsc, r.RoleARN, func(o *stscreds.AssumeRoleOptions) {
					o.RoleSessionName = "picket"
					if r.ExternalID != "" {
						o.ExternalID = aws.String(r.ExternalID)
					}
				}))
				creds[account] = p
			}
			cfg.Credentials = p
		}
		c := Clients{
			IAM:         iam.NewFromConfig(cfg),
			EC2:         ec2.NewFromConfig(cfg),
			AutoScaling: autoscaling.NewFromConfig(cfg),
			SecurityHub: securityhub.NewFromConfig(cfg),
			GuardDuty:   guardduty.NewFromConfig(cfg),
			Detective:   detective.NewFromConfig(cfg),
			SNS:         sns.NewFromConfig(cfg),

			AccessAnalyzer: accessanalyzer.NewFromConfig(cfg),
			SSM:            ssm.NewFromConfig(cfg),
			S3:             s3.NewFromConfig(cfg),
			S3Control:      s3control.NewFromConfig(cfg),
		}
		cache[key] = c
		return c, nil
	}
}
