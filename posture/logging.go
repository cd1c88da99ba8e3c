package posture

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/picketsec/picket"
)

// runCloudTrail passes when at least one trail is multi-region, validates
// its log files, encrypts them with KMS and is logging.
func runCloudTrail(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	if c.CloudTrail == nil {
		return "", nil, nil, missing("CloudTrail")
	}
	out, err := c.CloudTrail.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		return "", nil, nil, fmt.Errorf("describe trails: %w", err)
	}
	if len(out.TrailList) == 0 {
		return picket.CheckFail, []string{"no CloudTrail trail exists"}, []string{"CloudTrail"}, nil
	}
	var ev, fail []string
	good := false
	for _, t := range out.TrailList {
		name := aws.ToString(t.TrailARN)
		if name == "" {
			name = aws.ToString(t.Name)
		}
		var missing []string
		if !aws.ToBool(t.IsMultiRegionTrail) {
			missing = append(missing, "not multi-region")
		}
		if !aws.ToBool(t.LogFileValidationEnabled) {
			missing = append(missing, "no log file validation")
		}
		if aws.ToString(t.KmsKeyId) == "" {
			missing = append(missing, "not encrypted with KMS")
		}
		st, err := c.CloudTrail.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(name)})
		if err != nil {
			return "", nil, nil, fmt.Errorf("get trail status %s: %w", name, err)
		}
		if !aws.ToBool(st.IsLogging) {
			missing = append(missing, "not logging")
		}
		if len(missing) == 0 {
			good = true
			ev = append(ev, fmt.Sprintf("trail %s is multi-region, logging, validated and KMS-encrypted", aws.ToString(t.Name)))
			continue
		}
		ev = append(ev, fmt.Sprintf("trail %s: %s", aws.ToString(t.Name), joinComma(missing)))
		fail = append(fail, name)
	}
	if good {
		return picket.CheckPass, ev, nil, nil
	}
	return picket.CheckFail, ev, fail, nil
}

// runConfigRecorder passes when a configuration recorder records every
// supported resource type and is recording.
func runConfigRecorder(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	if c.Config == nil {
		return "", nil, nil, missing("AWS Config")
	}
	recs, err := c.Config.DescribeConfigurationRecorders(ctx, &configservice.DescribeConfigurationRecordersInput{})
	if err != nil {
		return "", nil, nil, fmt.Errorf("describe configuration recorders: %w", err)
	}
	if len(recs.ConfigurationRecorders) == 0 {
		return picket.CheckFail, []string{"no AWS Config recorder exists"}, []string{"AWS Config recorder"}, nil
	}
	sts, err := c.Config.DescribeConfigurationRecorderStatus(ctx, &configservice.DescribeConfigurationRecorderStatusInput{})
	if err != nil {
		return "", nil, nil, fmt.Errorf("describe configuration recorder status: %w", err)
	}
	recording := map[string]bool{}
	for _, s := range sts.ConfigurationRecordersStatus {
		recording[aws.ToString(s.Name)] = s.Recording
	}
	var ev, fail []string
	for _, r := range recs.ConfigurationRecorders {
		name := aws.ToString(r.Name)
		all := r.RecordingGroup != nil && r.RecordingGroup.AllSupported
		ev = append(ev, fmt.Sprintf("recorder %s: recording %t, all resource types %t", name, recording[name], all))
		if recording[name] && all {
			return picket.CheckPass, ev, nil, nil
		}
		fail = append(fail, name)
	}
	return picket.CheckFail, ev, fail, nil
}

// runFlowLogs passes when every VPC has an active flow log.
func runFlowLogs(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	if c.EC2 == nil {
		return "", nil, nil, missing("EC2")
	}
	var vpcs []string
	vp := ec2.NewDescribeVpcsPaginator(c.EC2, &ec2.DescribeVpcsInput{})
	for vp.HasMorePages() {
		page, err := vp.NextPage(ctx)
		if err != nil {
			return "", nil, nil, fmt.Errorf("describe vpcs: %w", err)
		}
		for _, v := range page.Vpcs {
			vpcs = append(vpcs, aws.ToString(v.VpcId))
		}
	}
	if len(vpcs) == 0 {
		return picket.CheckPass, []string{"no VPCs"}, nil, nil
	}
	logged := map[string]bool{}
	fp := ec2.NewDescribeFlowLogsPaginator(c.EC2, &ec2.DescribeFlowLogsInput{})
	for fp.HasMorePages() {
		page, err := fp.NextPage(ctx)
		if err != nil {
			return "", nil, nil, fmt.Errorf("describe flow logs: %w", err)
		}
		for _, f := range page.FlowLogs {
			if aws.ToString(f.FlowLogStatus) == "ACTIVE" {
				logged[aws.ToString(f.ResourceId)] = true
			}
		}
	}
	var fail []string
	for _, v := range vpcs {
		if !logged[v] {
			fail = append(fail, v)
		}
	}
	ev := []string{fmt.Sprintf("%d of %d VPCs have no active flow log", len(fail), len(vpcs))}
	if len(fail) > 0 {
		return picket.CheckFail, ev, fail, nil
	}
	return picket.CheckPass, ev, nil, nil
}

// runKeyRotation passes when every enabled customer managed symmetric KMS
// key with key material from KMS rotates automatically.
func runKeyRotation(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	if c.KMS == nil {
		return "", nil, nil, missing("KMS")
	}
	var fail []string
	checked := 0
	p := kms.NewListKeysPaginator(c.KMS, &kms.ListKeysInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", nil, nil, fmt.Errorf("list keys: %w", err)
		}
		for _, k := range page.Keys {
			d, err := c.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
			if err != nil {
				return "", nil, nil, fmt.Errorf("describe key %s: %w", aws.ToString(k.KeyId), err)
			}
			m := d.KeyMetadata
			if m == nil || m.KeyManager != kmstypes.KeyManagerTypeCustomer || m.KeySpec != kmstypes.KeySpecSymmetricDefault ||
				m.KeyState != kmstypes.KeyStateEnabled || m.Origin != kmstypes.OriginTypeAwsKms {
				continue
			}
			checked++
			rot, err := c.KMS.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: k.KeyId})
			if err != nil {
				return "", nil, nil, fmt.Errorf("get key rotation status %s: %w", aws.ToString(k.KeyId), err)
			}
			if !rot.KeyRotationEnabled {
				fail = append(fail, orDefault(aws.ToString(m.Arn), aws.ToString(k.KeyId)))
			}
		}
	}
	ev := []string{fmt.Sprintf("%d of %d customer managed symmetric keys do not rotate", len(fail), checked)}
	if len(fail) > 0 {
		return picket.CheckFail, ev, fail, nil
	}
	return picket.CheckPass, ev, nil, nil
}
