package main

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
)

// accounts gives the AWS configuration for an account: the bot's own
// credentials in the account it runs in, and for a member account listed
// under responses.accounts the credentials of its role (STS AssumeRole with
// the external id, cached and renewed by the SDK). Lookups and posture
// checks use it; the responses build their own clients the same way
// (actions.NewClientsFunc).
type accounts struct {
	base  aws.Config
	stsc  *sts.Client
	roles map[string]aws.CredentialsProvider

	mu   sync.Mutex
	self string // the account Picket runs in, once known
}

func newAccounts(base aws.Config, members []config.Account, session string) *accounts {
	a := &accounts{base: base, stsc: sts.NewFromConfig(base), roles: map[string]aws.CredentialsProvider{}}
	for _, m := range members {
		a.roles[m.ID] = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(a.stsc, m.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = session
			if m.ExternalID != "" {
				o.ExternalID = aws.String(m.ExternalID)
			}
		}))
	}
	return a
}

// own returns the account Picket runs in. Only a success is remembered: a
// failed look-up is tried again next time.
func (a *accounts) own(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.self == "" {
		out, err := a.stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return "", &picket.Error{Code: picket.EUNAVAILABLE,
				Message: "Picket could not tell which AWS account it runs in (sts:GetCallerIdentity failed)", Err: err}
		}
		a.self = aws.ToString(out.Account)
	}
	return a.self, nil
}

// config returns the configuration for account ("" for Picket's own) in
// region ("" to keep the default).
func (a *accounts) config(ctx context.Context, account, region string) (aws.Config, error) {
	cfg := a.base.Copy()
	if region != "" {
		cfg.Region = region
	}
	if account == "" {
		return cfg, nil
	}
	if creds, member := a.roles[account]; member {
		cfg.Credentials = creds
		return cfg, nil
	}
	self, err := a.own(ctx)
	if err != nil {
		return aws.Config{}, err
	}
	if account != self {
		return aws.Config{}, picket.Errorf(picket.EUNAUTHORIZED,
			"no access to account %s (Picket runs in %s); add the account under responses.accounts", account, self)
	}
	return cfg, nil
}
