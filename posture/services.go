package posture

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/accessanalyzer"
	aatypes "github.com/aws/aws-sdk-go-v2/service/accessanalyzer/types"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	shtypes "github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/picketsec/picket"
)

// runGuardDuty passes when the region has an enabled GuardDuty detector.
func runGuardDuty(ctx context.Context, c Clients, region string) (picket.CheckStatus, []string, []string, error) {
	if c.GuardDuty == nil {
		return "", nil, nil, missing("GuardDuty")
	}
	var ids []string
	p := guardduty.NewListDetectorsPaginator(c.GuardDuty, &guardduty.ListDetectorsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", nil, nil, fmt.Errorf("list detectors: %w", err)
		}
		ids = append(ids, page.DetectorIds...)
	}
	where := "GuardDuty in " + orDefault(region, "the default region")
	if len(ids) == 0 {
		return picket.CheckFail, []string{"no GuardDuty detector"}, []string{where}, nil
	}
	var ev []string
	for _, id := range ids {
		d, err := c.GuardDuty.GetDetector(ctx, &guardduty.GetDetectorInput{DetectorId: aws.String(id)})
		if err != nil {
			return "", nil, nil, fmt.Errorf("get detector %s: %w", id, err)
		}
		ev = append(ev, fmt.Sprintf("detector %s is %s", id, d.Status))
		if d.Status == gdtypes.DetectorStatusEnabled {
			return picket.CheckPass, ev, nil, nil
		}
	}
	return picket.CheckFail, ev, []string{where}, nil
}

// runSecurityHub passes when Security Hub is enabled with at least one
// standard ready.
func runSecurityHub(ctx context.Context, c Clients, region string) (picket.CheckStatus, []string, []string, error) {
	if c.SecurityHub == nil {
		return "", nil, nil, missing("Security Hub")
	}
	where := "Security Hub in " + orDefault(region, "the default region")
	hub, err := c.SecurityHub.DescribeHub(ctx, &securityhub.DescribeHubInput{})
	if err != nil {
		switch errorCode(err) {
		case "InvalidAccessException", "ResourceNotFoundException":
			return picket.CheckFail, []string{"Security Hub is not enabled"}, []string{where}, nil
		}
		return "", nil, nil, fmt.Errorf("describe hub: %w", err)
	}
	ev := []string{"Security Hub is enabled: " + aws.ToString(hub.HubArn)}
	ready := 0
	p := securityhub.NewGetEnabledStandardsPaginator(c.SecurityHub, &securityhub.GetEnabledStandardsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", nil, nil, fmt.Errorf("get enabled standards: %w", err)
		}
		for _, s := range page.StandardsSubscriptions {
			ev = append(ev, fmt.Sprintf("standard %s is %s", aws.ToString(s.StandardsArn), s.StandardsStatus))
			if s.StandardsStatus == shtypes.StandardsStatusReady {
				ready++
			}
		}
	}
	if ready == 0 {
		ev = append(ev, "no security standard is enabled and ready")
		return picket.CheckFail, ev, []string{where}, nil
	}
	return picket.CheckPass, ev, nil, nil
}

// runAccessAnalyzer passes when the region has an active IAM Access
// Analyzer for the account or the organization.
func runAccessAnalyzer(ctx context.Context, c Clients, region string) (picket.CheckStatus, []string, []string, error) {
	if c.AccessAnalyzer == nil {
		return "", nil, nil, missing("IAM Access Analyzer")
	}
	var ev []string
	p := accessanalyzer.NewListAnalyzersPaginator(c.AccessAnalyzer, &accessanalyzer.ListAnalyzersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", nil, nil, fmt.Errorf("list analyzers: %w", err)
		}
		for _, a := range page.Analyzers {
			ev = append(ev, fmt.Sprintf("analyzer %s (%s) is %s", aws.ToString(a.Name), a.Type, a.Status))
			if a.Status == aatypes.AnalyzerStatusActive && (a.Type == aatypes.TypeAccount || a.Type == aatypes.TypeOrganization) {
				return picket.CheckPass, ev, nil, nil
			}
		}
	}
	ev = append(ev, "no active external access analyzer")
	return picket.CheckFail, ev, []string{"IAM Access Analyzer in " + orDefault(region, "the default region")}, nil
}
