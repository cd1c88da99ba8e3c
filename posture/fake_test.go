package posture_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/accessanalyzer"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/picketsec/picket/internal/awsfake"
	"github.com/picketsec/picket/posture"
	pt "github.com/picketsec/picket/posture/posturetest"
)

const account = pt.Account

// now is the tests' clock.
var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// clients returns a Clients function whose real SDK clients all talk to
// srv, in the region asked for.
func clients(tb testing.TB, srv *awsfake.Server) func(ctx context.Context, account, region string) (posture.Clients, error) {
	tb.Helper()
	// S3 Control puts the account id in front of the host name, as AWS
	// does; dial the fake whatever the host.
	addr := strings.TrimPrefix(srv.URL(), "http://")
	prefixed := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	tb.Cleanup(prefixed.CloseIdleConnections)
	return func(_ context.Context, _, region string) (posture.Clients, error) {
		cfg := srv.Config()
		if region != "" {
			cfg.Region = region
		}
		return posture.Clients{
			IAM:            iam.NewFromConfig(cfg),
			EC2:            ec2.NewFromConfig(cfg),
			CloudTrail:     cloudtrail.NewFromConfig(cfg),
			S3:             s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
			S3Control:      s3control.NewFromConfig(cfg, func(o *s3control.Options) { o.HTTPClient = prefixed }),
			GuardDuty:      guardduty.NewFromConfig(cfg),
			SecurityHub:    securityhub.NewFromConfig(cfg),
			Config:         configservice.NewFromConfig(cfg),
			KMS:            kms.NewFromConfig(cfg),
			AccessAnalyzer: accessanalyzer.NewFromConfig(cfg),
			STS:            sts.NewFromConfig(cfg),
		}, nil
	}
}

// newChecker returns a Checker on srv with the test clock and one region.
func newChecker(tb testing.TB, srv *awsfake.Server, change ...func(*posture.Options)) *posture.Checker {
	tb.Helper()
	opts := posture.Options{
		Clients: clients(tb, srv),
		Regions: []string{"us-east-1"},
		Now:     func() time.Time { return now },
	}
	for _, c := range change {
		c(&opts)
	}
	return posture.New(opts)
}
