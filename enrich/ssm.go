package enrich

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/picketsec/picket"
)

// SSMAPI is the part of the Systems Manager API that enrichment reads.
// *ssm.Client satisfies it.
type SSMAPI interface {
	DescribeInstanceInformation(ctx context.Context, params *ssm.DescribeInstanceInformationInput, optFns ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error)
}

var _ SSMAPI = (*ssm.Client)(nil)

// kindSSM caches what Systems Manager knows of an instance.
const kindSSM = "ssm"

// managed asks Systems Manager whether the instance Patch instance would
// patch is managed and Online, so that the alert offers the button only
// when it can work (and says why not otherwise). It runs only for
// findings Patch instance applies to (picket.Finding.PatchTarget), beside
// the other lookups and within the same budget.
func (r *run) managed(t *task, res picket.Resource) {
	f := r.finding
	key := cacheKey{account: f.Account, region: res.Region, kind: kindSSM, id: res.ID}
	if v, ok := r.e.cache.get(key); ok {
		m := v.(picket.ManagedInstance)
		t.update(func() { t.ssm = &m })
		return
	}
	c, err := r.clientsFor(res.Region)
	if err != nil {
		t.fail(r.noClients(err))
		return
	}
	if c.SSM == nil {
		t.fail(t.subject + ": no Systems Manager access configured")
		return
	}
	out, err := c.SSM.DescribeInstanceInformation(r.ctx, &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("InstanceIds"), Values: []string{res.ID}}},
	})
	if err != nil {
		t.fail(r.explain(lookupError{
			subject:  t.subject,
			action:   "ssm:DescribeInstanceInformation",
			want:     "whether Patch instance can run",
			notFound: t.subject + ": not found",
		}, err))
		return
	}
	m := picket.ManagedInstance{InstanceID: res.ID}
	for _, ii := range out.InstanceInformationList {
		if aws.ToString(ii.InstanceId) != res.ID {
			continue
		}
		m.Managed, m.PingStatus = true, string(ii.PingStatus)
		m.Platform = strings.TrimSpace(aws.ToString(ii.PlatformName) + " " + aws.ToString(ii.PlatformVersion))
		m.AgentVersion = aws.ToString(ii.AgentVersion)
	}
	r.e.cache.put(key, m)
	t.update(func() { t.ssm = &m })
}
