package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
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
	smithyendpoints "github.com/aws/smithy-go/endpoints"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/config"
	"github.com/picketsec/picket/posture"
)

// regionList is a repeatable --region flag.
type regionList []string

func (r *regionList) String() string { return strings.Join(*r, ",") }

func (r *regionList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*r = append(*r, s)
		}
	}
	return nil
}

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// checkExitStatuses is what `picket check -h` says about its exit status.
const checkExitStatuses = `
exit status:
  0  every check ran and passed
  1  every check ran and at least one failed
  2  bad flags, configuration or account
  3  at least one check could not run (AccessDenied, throttling, a service
     not answering) or the checks could not start: the report is
     incomplete, so a pipeline gate must not pass, whatever else failed
`

// cmdCheck implements `picket check [--json] [--account ID] [--region R]...
// [CHECK-ID...]`: it runs posture checks and prints the report. It fails
// closed for pipelines: the exit status is exitFailure when every check
// ran and one failed, and exitIncomplete when any check could not run (or
// none could start), since a check that did not run proves nothing.
func cmdCheck(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	path := configFlag(fs, e)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	account := fs.String("account", "", "12-digit `ID` of the account to check (default: the one Picket runs in)")
	var regions regionList
	fs.Var(&regions, "region", "`region` for regional checks; repeat for several (default: the configured region)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: picket check [--json] [--account ID] [--region R]... [--config FILE] [CHECK-ID...|all]")
		fs.PrintDefaults()
		fmt.Fprint(e.stderr, checkExitStatuses)
		fmt.Fprintln(e.stderr, "\nchecks:")
		for _, d := range posture.Definitions() {
			fmt.Fprintf(e.stderr, "  %-32s %s\n", d.ID, d.Title)
		}
	}
	// Flags may come before or after the check ids.
	var ids []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		ids = append(ids, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if *account != "" && !accountID.MatchString(*account) {
		fmt.Fprintf(e.stderr, "picket check: --account %q is not a 12-digit AWS account id\n", *account)
		return exitUsage
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	awsCfg, err := loadAWS(ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "picket check: %v\n", err)
		return exitUsage
	}
	if len(regions) == 0 && awsCfg.Region != "" {
		regions = regionList{awsCfg.Region}
	}
	if len(regions) == 0 {
		fmt.Fprintln(e.stderr, "picket check: no AWS region: set AWS_REGION, aws.region in the configuration, or --region")
		return exitUsage
	}
	checker := posture.New(posture.Options{
		Clients:  postureClients(awsCfg, cfg.AWS.EndpointURL != "", cfg.Responses.Accounts),
		Regions:  regions,
		CacheTTL: -1, // one report per process
		Logger:   newLogger(e.stderr, cfg.Log),
	})
	report, err := checker.Check(ctx, *account, ids)
	if err != nil {
		fmt.Fprintf(e.stderr, "picket check: %s\n", awsFailure(ctx, err, awsCfg))
		switch picket.ErrorCode(err) {
		case picket.EINVALID, picket.EUNAUTHORIZED:
			return exitUsage
		}
		return exitIncomplete
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			fmt.Fprintf(e.stderr, "picket check: %v\n", err)
			return exitIncomplete
		}
	} else {
		fmt.Fprint(e.stdout, posture.Text(report))
	}
	return checkStatus(e, report)
}

// checkStatus is the exit status of a report: an incomplete report (a
// check that could not run, or no check at all) wins over a failed check,
// because the checks that did not run may have failed too.
func checkStatus(e env, report picket.PostureReport) int {
	var notRun []string
	for _, c := range report.Results {
		if c.Status != picket.CheckPass && c.Status != picket.CheckFail {
			notRun = append(notRun, c.ID)
		}
	}
	switch {
	case len(notRun) > 0:
		fmt.Fprintf(e.stderr, "picket check: %d of %d checks could not run (%s): the report is incomplete\n",
			len(notRun), len(report.Results), strings.Join(notRun, ", "))
		return exitIncomplete
	case len(report.Results) == 0:
		fmt.Fprintln(e.stderr, "picket check: no check ran")
		return exitIncomplete
	case report.Failed():
		return exitFailure
	}
	return exitOK
}

// postureClients returns the posture checker's clients: the bot's own
// credentials in the region asked for, or for a member account listed in
// responses.accounts the credentials of its role (STS AssumeRole with the
// external id). Other accounts are refused.
// emulated, when an endpoint override points every client at an emulator,
// makes S3 use path-style addressing and S3 Control leave the account id
// out of the host name, as emulators expect.
func postureClients(awsCfg aws.Config, emulated bool, members []config.Account) func(ctx context.Context, account, region string) (posture.Clients, error) {
	accts := newAccounts(awsCfg, members, "picket-posture")
	return func(ctx context.Context, account, region string) (posture.Clients, error) {
		cfg, err := accts.config(ctx, account, region)
		if err != nil {
			return posture.Clients{}, err
		}
		s3opt := func(o *s3.Options) { o.UsePathStyle = emulated }
		s3controlOpt := func(o *s3control.Options) {
			if emulated {
				o.EndpointResolverV2 = accountlessEndpoints{s3control.NewDefaultEndpointResolverV2()}
			}
		}
		return posture.Clients{
			IAM:            iam.NewFromConfig(cfg),
			EC2:            ec2.NewFromConfig(cfg),
			CloudTrail:     cloudtrail.NewFromConfig(cfg),
			S3:             s3.NewFromConfig(cfg, s3opt),
			S3Control:      s3control.NewFromConfig(cfg, s3controlOpt),
			GuardDuty:      guardduty.NewFromConfig(cfg),
			SecurityHub:    securityhub.NewFromConfig(cfg),
			Config:         configservice.NewFromConfig(cfg),
			KMS:            kms.NewFromConfig(cfg),
			AccessAnalyzer: accessanalyzer.NewFromConfig(cfg),
			STS:            sts.NewFromConfig(cfg),
		}, nil
	}
}

// accountlessEndpoints resolves S3 Control endpoints without the account id
// in front of the host name, which an emulator on 127.0.0.1 cannot serve.
type accountlessEndpoints struct{ s3control.EndpointResolverV2 }

func (r accountlessEndpoints) ResolveEndpoint(ctx context.Context, p s3control.EndpointParameters) (smithyendpoints.Endpoint, error) {
	p.RequiresAccountId = aws.Bool(false)
	return r.EndpointResolverV2.ResolveEndpoint(ctx, p)
}
