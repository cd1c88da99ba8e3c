package actions

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go/middleware"

	"github.com/picketsec/picket"
)

// ebsFix turns on EBS encryption by default in one account and region.
// Volumes created afterwards are encrypted with the region's default EBS
// key; existing volumes are not changed.
type ebsFix struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	// Previous is the setting before the fix (always false when the fix
	// ran: Picket refuses when it is on already).
	Previous bool `json:"previous"`
	Enabled  bool `json:"enabled,omitempty"`
}

func (e *ebsFix) missing(c Clients) string {
	if c.EC2 == nil {
		return "EC2"
	}
	return ""
}

func (e *ebsFix) inspect(ctx context.Context, c Clients, read readFunc, _ *Guardrails) (string, error) {
	err := read("ec2:GetEbsEncryptionByDefault", "Record whether EBS encryption by default is on in "+e.Region, func() (middleware.Metadata, error) {
		out, err := c.EC2.GetEbsEncryptionByDefault(ctx, &ec2.GetEbsEncryptionByDefaultInput{})
		if err != nil {
			return middleware.Metadata{}, err
		}
		e.Previous = aws.ToBool(out.EbsEncryptionByDefault)
		return out.ResultMetadata, nil
	})
	if err != nil {
		return "", fmt.Errorf("get EBS encryption by default: %w", err)
	}
	if e.Previous {
		return fmt.Sprintf("EBS encryption by default is already on in account %s, region %s; there is nothing to fix. The finding may be older than the setting.", e.Account, e.Region), nil
	}
	return "", nil
}

func (e *ebsFix) plan() ([]picket.PlanStep, string) {
	return []picket.PlanStep{
		{Operation: "ec2:GetEbsEncryptionByDefault", Description: fmt.Sprintf("Record that EBS encryption by default is off in account %s, region %s, as evidence and for Undo.", e.Account, e.Region)},
		{Operation: "ec2:EnableEbsEncryptionByDefault", Description: fmt.Sprintf("Turn on EBS encryption by default in account %s, region %s: new volumes and snapshot copies are encrypted with the region's default EBS key. Existing volumes are not changed.", e.Account, e.Region)},
	}, e.undoing() + "."
}

func (e *ebsFix) intend() { e.Enabled = true }

func (e *ebsFix) apply(ctx context.Context, c Clients, st *steps) {
	if st.call("ec2:EnableEbsEncryptionByDefault", "Turn on EBS encryption by default in "+e.Region, func() (middleware.Metadata, error) {
		out, err := c.EC2.EnableEbsEncryptionByDefault(ctx, &ec2.EnableEbsEncryptionByDefaultInput{})
		if err != nil {
			return middleware.Metadata{}, err
		}
		if !aws.ToBool(out.EbsEncryptionByDefault) {
			return middleware.Metadata{}, fmt.Errorf("enable EBS encryption by default: EC2 answered that it is still off")
		}
		return out.ResultMetadata, nil
	}) && !st.dryRun {
		e.Enabled = true
	}
}

func (e *ebsFix) changed() bool { return e.Enabled }

func (e *ebsFix) doing() string {
	return "turn on EBS encryption by default in account " + e.Account + ", region " + e.Region
}

func (e *ebsFix) done() string {
	return "Turned on EBS encryption by default in account " + e.Account + ", region " + e.Region + " (it was off); existing volumes are not changed."
}

func (e *ebsFix) undoPlan() []picket.PlanStep {
	return []picket.PlanStep{{Operation: "ec2:DisableEbsEncryptionByDefault",
		Description: "Turn EBS encryption by default off again in account " + e.Account + ", region " + e.Region + ", as it was before the fix. Volumes encrypted meanwhile stay encrypted."}}
}

func (e *ebsFix) revert(ctx context.Context, c Clients, st *steps) bool {
	return st.call("ec2:DisableEbsEncryptionByDefault", "Turn EBS encryption by default off in "+e.Region, func() (middleware.Metadata, error) {
		out, err := c.EC2.DisableEbsEncryptionByDefault(ctx, &ec2.DisableEbsEncryptionByDefaultInput{})
		return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
	})
}

func (e *ebsFix) undoing() string {
	return "turn EBS encryption by default off again in account " + e.Account + ", region " + e.Region + ", as before the fix"
}

func (e *ebsFix) undone() string {
	return "Turned EBS encryption by default off again in account " + e.Account + ", region " + e.Region + ", as before the fix."
}
