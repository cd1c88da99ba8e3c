package enrich

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/picketsec/picket"
)

// maxPages bounds every IAM list so a misbehaving pager cannot use up the
// budget on one list; IAM users rarely come near one page.
const maxPages = 10

// alias looks up the account alias: the first of iam:ListAccountAliases, or
// none. An account without an alias is a successful, cached answer.
func (r *run) alias(t *task) {
	f := r.finding
	key := cacheKey{account: f.Account, kind: kindAlias}
	if v, ok := r.e.cache.get(key); ok {
		alias := v.(string)
		t.update(func() { t.alias = &alias })
		return
	}
	c, err := r.clientsFor(f.Region)
	if err != nil {
		t.fail(r.noClients(err))
		return
	}
	if c.IAM == nil {
		t.fail(t.subject + ": no IAM access configured")
		return
	}
	out, err := c.IAM.ListAccountAliases(r.ctx, &iam.ListAccountAliasesInput{})
	if err != nil {
		t.fail(r.explain(lookupError{subject: t.subject, action: "iam:ListAccountAliases", want: "the account alias"}, err))
		return
	}
	var alias string
	if len(out.AccountAliases) > 0 {
		alias = out.AccountAliases[0]
	}
	r.e.cache.put(key, alias)
	t.update(func() { t.alias = &alias })
}

// user looks up the IAM user name: GetUser first (it tells whether the
// user exists), then everything else concurrently.
func (r *run) user(t *task, name string) {
	f := r.finding
	key := cacheKey{account: f.Account, kind: kindUser, id: name}
	if v, ok := r.e.cache.get(key); ok {
		u := v.(picket.UserContext)
		t.update(func() { t.user = cloneUser(&u) })
		return
	}
	c, err := r.clientsFor(f.Region)
	if err != nil {
		t.fail(r.noClients(err))
		return
	}
	if c.IAM == nil {
		t.fail(t.subject + ": no IAM access configured")
		return
	}
	le := func(op string) lookupError {
		return lookupError{
			subject:  t.subject,
			action:   "iam:" + op,
			want:     "user context",
			notFound: fmt.Sprintf("%s: not found in account %s", t.subject, f.Account),
		}
	}
	ctx, api, user := r.ctx, c.IAM, aws.String(name)

	out, err := api.GetUser(ctx, &iam.GetUserInput{UserName: user})
	if err != nil {
		t.fail(r.explain(le("GetUser"), err))
		return
	}
	u := &picket.UserContext{UserName: name}
	if out.User != nil {
		u.ARN = aws.ToString(out.User.Arn)
		u.CreatedAt = aws.ToTime(out.User.CreateDate)
	}
	t.update(func() { t.user = u })

	var wg sync.WaitGroup
	part := func(op string, fn func() error) {
		wg.Go(func() {
			if err := fn(); err != nil {
				t.fail(r.explain(le(op), err))
			}
		})
	}
	part("ListGroupsForUser", func() error {
		var groups []string
		p := iam.NewListGroupsForUserPaginator(api, &iam.ListGroupsForUserInput{UserName: user})
		for i := 0; p.HasMorePages() && i < maxPages; i++ {
			page, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, g := range page.Groups {
				groups = append(groups, aws.ToString(g.GroupName))
			}
		}
		t.update(func() { t.user.Groups = groups })
		return nil
	})
	part("ListAttachedUserPolicies", func() error {
		var policies []string
		p := iam.NewListAttachedUserPoliciesPaginator(api, &iam.ListAttachedUserPoliciesInput{UserName: user})
		for i := 0; p.HasMorePages() && i < maxPages; i++ {
			page, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, ap := range page.AttachedPolicies {
				policies = append(policies, aws.ToString(ap.PolicyName))
			}
		}
		t.update(func() { t.user.AttachedPolicies = policies })
		return nil
	})
	part("ListUserPolicies", func() error {
		var names []string
		p := iam.NewListUserPoliciesPaginator(api, &iam.ListUserPoliciesInput{UserName: user})
		for i := 0; p.HasMorePages() && i < maxPages; i++ {
			page, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			names = append(names, page.PolicyNames...)
		}
		t.update(func() { t.user.InlinePolicies = names })
		return nil
	})
	part("ListAccessKeys", func() error {
		return r.accessKeys(t, api, user, le)
	})
	part("ListMFADevices", func() error {
		n := 0
		p := iam.NewListMFADevicesPaginator(api, &iam.ListMFADevicesInput{UserName: user})
		for i := 0; p.HasMorePages() && i < maxPages; i++ {
			page, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			n += len(page.MFADevices)
		}
		t.update(func() { t.user.MFADevices = n })
		return nil
	})
	part("GetLoginProfile", func() error {
		_, err := api.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: user})
		switch {
		case err == nil:
			t.update(func() { t.user.ConsoleAccess = true })
		case isCode(err, noSuchEntity):
			// A user without a login profile has no console password.
		default:
			return err
		}
		return nil
	})
	wg.Wait()

	t.mu.Lock()
	complete := !t.failed
	done := *cloneUser(t.user)
	t.mu.Unlock()
	if complete {
		r.e.cache.put(key, done)
	}
}

// accessKeys lists the user's keys, then asks for each key's last use
// concurrently.
func (r *run) accessKeys(t *task, api IAMAPI, user *string, le func(string) lookupError) error {
	var keys []picket.AccessKey
	p := iam.NewListAccessKeysPaginator(api, &iam.ListAccessKeysInput{UserName: user})
	for i := 0; p.HasMorePages() && i < maxPages; i++ {
		page, err := p.NextPage(r.ctx)
		if err != nil {
			return err
		}
		for _, k := range page.AccessKeyMetadata {
			keys = append(keys, picket.AccessKey{
				ID:        aws.ToString(k.AccessKeyId),
				Status:    string(k.Status),
				CreatedAt: aws.ToTime(k.CreateDate),
			})
		}
	}
	t.update(func() { t.user.AccessKeys = keys })

	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() {
			used, err := lastUsed(r.ctx, api, k.ID)
			if err != nil {
				t.fail(r.explain(le("GetAccessKeyLastUsed"), err))
				return
			}
			t.update(func() {
				t.user.AccessKeys[i].LastUsedAt = used.LastUsedAt
				t.user.AccessKeys[i].LastService = used.LastService
			})
		})
	}
	wg.Wait()
	return nil
}

func lastUsed(ctx context.Context, api IAMAPI, id string) (picket.AccessKey, error) {
	out, err := api.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)})
	if err != nil {
		return picket.AccessKey{}, err
	}
	var k picket.AccessKey
	if u := out.AccessKeyLastUsed; u != nil {
		k.LastUsedAt = aws.ToTime(u.LastUsedDate)
		// IAM says "N/A" for a key that was never used.
		if s := aws.ToString(u.ServiceName); s != "N/A" {
			k.LastService = s
		}
	}
	return k, nil
}
