package actions

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/picketsec/picket"
)

// World ranges: an ingress rule from one of them is open to the internet.
const (
	worldIPv4 = "0.0.0.0/0"
	worldIPv6 = "::/0"
)

// OpenRule is one world-open ingress rule of a security group, recorded
// whole so that Undo can add exactly it again.
type OpenRule struct {
	ID          string `json:"id"`
	Protocol    string `json:"protocol"`
	FromPort    int32  `json:"from_port"`
	ToPort      int32  `json:"to_port"`
	CIDRv4      string `json:"cidr_ipv4,omitempty"`
	CIDRv6      string `json:"cidr_ipv6,omitempty"`
	Description string `json:"description,omitempty"`
	// Revoked says the fix revoked it; Restored that Undo added it again.
	Revoked bool `json:"revoked,omitempty"`
}

// String words the rule: "sgr-1 (tcp 22 from 0.0.0.0/0)".
func (r OpenRule) String() string {
	ports := fmt.Sprintf("%d-%d", r.FromPort, r.ToPort)
	switch {
	case r.Protocol == "-1":
		ports = "all traffic"
	case r.FromPort == r.ToPort:
		ports = fmt.Sprintf("%s %d", r.Protocol, r.FromPort)
	default:
		ports = r.Protocol + " " + ports
	}
	return fmt.Sprintf("%s (%s from %s)", r.ID, ports, r.CIDRv4+r.CIDRv6)
}

// sgFix revokes the ingress rules of a security group that are open to the
// world on the ports the control names, one call per rule by its
// SecurityGroupRuleId, so that each is recorded and one failure does not
// hide the others. Undo authorizes exactly the revoked rules again (with
// their descriptions; the re-added rules get new ids).
type sgFix struct {
	GroupID   string            `json:"group_id"`
	GroupName string            `json:"group_name,omitempty"`
	ARN       string            `json:"arn,omitempty"`
	VPC       string            `json:"vpc_id,omitempty"`
	Account   string            `json:"account"`
	Region    string            `json:"region"`
	Tags      map[string]string `json:"tags,omitempty"`
	Ports     []int32           `json:"ports"`
	Protocols []string          `json:"protocols"`
	IPv4      bool              `json:"ipv4,omitempty"`
	IPv6      bool              `json:"ipv6,omitempty"`
	Rules     []OpenRule        `json:"rules"`
}

func (s *sgFix) missing(c Clients) string {
	if c.EC2 == nil {
		return "EC2"
	}
	return ""
}

// protocolName turns protocol numbers into the names the control uses.
func protocolName(p string) string {
	switch p {
	case "6":
		return "tcp"
	case "17":
		return "udp"
	}
	return strings.ToLower(p)
}

// offends reports whether an ingress rule opens one of the control's ports
// to the world.
func (s *sgFix) offends(r ec2types.SecurityGroupRule) bool {
	if aws.ToBool(r.IsEgress) {
		return false
	}
	world := (s.IPv4 && aws.ToString(r.CidrIpv4) == worldIPv4) || (s.IPv6 && aws.ToString(r.CidrIpv6) == worldIPv6)
	proto := protocolName(aws.ToString(r.IpProtocol))
	if !world || !slices.Contains(s.Protocols, proto) {
		return false
	}
	if proto == "-1" {
		return true
	}
	from, to := aws.ToInt32(r.FromPort), aws.ToInt32(r.ToPort)
	return slices.ContainsFunc(s.Ports, func(p int32) bool { return from <= p && p <= to })
}

func (s *sgFix) inspect(ctx context.Context, c Clients, read readFunc, g *Guardrails) (string, error) {
	s.Tags = map[string]string{}
	owner := ""
	err := read("ec2:DescribeSecurityGroups", "Record security group "+s.GroupID, func() (middleware.Metadata, error) {
		out, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{s.GroupID}})
		if err != nil {
			return middleware.Metadata{}, err
		}
		if len(out.SecurityGroups) != 1 {
			return middleware.Metadata{}, fmt.Errorf("describe security group %s: %d groups in the answer", s.GroupID, len(out.SecurityGroups))
		}
		sg := out.SecurityGroups[0]
		owner = aws.ToString(sg.OwnerId)
		s.GroupName, s.VPC = aws.ToString(sg.GroupName), aws.ToString(sg.VpcId)
		for _, t := range sg.Tags {
			s.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		return out.ResultMetadata, nil
	})
	if isCode(err, "InvalidGroup.NotFound", "InvalidGroupId.Malformed") {
		return fmt.Sprintf("Security group %s does not exist in account %s (%s), so there is nothing to fix.", s.GroupID, s.Account, s.Region), nil
	}
	if err != nil {
		return "", err
	}
	if owner != s.Account {
		return fmt.Sprintf("EC2 says security group %s belongs to account %q, not %s as the finding says, so Picket will not act on it.", s.GroupID, owner, s.Account), nil
	}
	if reason, protected := g.SecurityGroupProtected(s.GroupID, s.GroupName, s.ARN, s.Tags); protected {
		return reason, nil
	}
	s.Rules = nil
	err = read("ec2:DescribeSecurityGroupRules", "Record the ingress rules of security group "+s.GroupID, func() (middleware.Metadata, error) {
		in := &ec2.DescribeSecurityGroupRulesInput{Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: []string{s.GroupID}}}}
		var md middleware.Metadata
		for {
			out, err := c.EC2.DescribeSecurityGroupRules(ctx, in)
			if err != nil {
				return md, err
			}
			md = out.ResultMetadata
			for _, r := range out.SecurityGroupRules {
				if aws.ToString(r.GroupId) != s.GroupID || !s.offends(r) {
					continue
				}
				s.Rules = append(s.Rules, OpenRule{ID: aws.ToString(r.SecurityGroupRuleId), Protocol: protocolName(aws.ToString(r.IpProtocol)),
					FromPort: aws.ToInt32(r.FromPort), ToPort: aws.ToInt32(r.ToPort), CIDRv4: aws.ToString(r.CidrIpv4),
					CIDRv6: aws.ToString(r.CidrIpv6), Description: aws.ToString(r.Description)})
			}
			if aws.ToString(out.NextToken) == "" {
				return md, nil
			}
			in.NextToken = out.NextToken
		}
	})
	if err != nil {
		return "", err
	}
	if len(s.Rules) == 0 {
		return fmt.Sprintf("Security group %s has no ingress rule open to %s on port %s any more; there is nothing to fix. The finding may be older than the change.",
			s.GroupID, s.worlds(), picket.PortList(s.Ports)), nil
	}
	return "", nil
}

// worlds names the world ranges the control looks at.
func (s *sgFix) worlds() string {
	switch {
	case s.IPv4 && s.IPv6:
		return worldIPv4 + " or " + worldIPv6
	case s.IPv6:
		return worldIPv6
	}
	return worldIPv4
}

func (s *sgFix) ruleList(revokedOnly bool) string {
	var out []string
	for _, r := range s.Rules {
		if !revokedOnly || r.Revoked {
			out = append(out, r.String())
		}
	}
	return strings.Join(out, ", ")
}

func (s *sgFix) plan() ([]picket.PlanStep, string) {
	steps := []picket.PlanStep{{Operation: "ec2:DescribeSecurityGroupRules",
		Description: fmt.Sprintf("Record security group %s (%s) in %s and its ingress rules open to %s on port %s, as evidence and for Undo.",
			s.GroupID, s.GroupName, s.Region, s.worlds(), picket.PortList(s.Ports))}}
	for _, r := range s.Rules {
		steps = append(steps, picket.PlanStep{Operation: "ec2:RevokeSecurityGroupIngress",
			Description: "Revoke ingress rule " + r.String() + " of security group " + s.GroupID + ". No other rule is touched."})
	}
	return steps, s.undoing() + "."
}

func (s *sgFix) intend() {
	for i := range s.Rules {
		s.Rules[i].Revoked = true
	}
}

func (s *sgFix) apply(ctx context.Context, c Clients, st *steps) {
	for i := range s.Rules {
		r := &s.Rules[i]
		if st.call("ec2:RevokeSecurityGroupIngress", "Revoke ingress rule "+r.String()+" of security group "+s.GroupID, func() (middleware.Metadata, error) {
			out, err := c.EC2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: &s.GroupID, SecurityGroupRuleIds: []string{r.ID}})
			if err != nil {
				return middleware.Metadata{}, err
			}
			if !aws.ToBool(out.Return) || len(out.UnknownIpPermissions) > 0 {
				return middleware.Metadata{}, fmt.Errorf("revoke rule %s: EC2 did not confirm the revoke", r.ID)
			}
			return out.ResultMetadata, nil
		}) && !st.dryRun {
			r.Revoked = true
		}
	}
}

func (s *sgFix) changed() bool {
	return slices.ContainsFunc(s.Rules, func(r OpenRule) bool { return r.Revoked })
}

func (s *sgFix) doing() string {
	return fmt.Sprintf("revoke %d ingress rule(s) of security group %s open to %s on port %s: %s",
		len(s.Rules), s.GroupID, s.worlds(), picket.PortList(s.Ports), s.ruleList(false))
}

func (s *sgFix) done() string {
	n := 0
	for _, r := range s.Rules {
		if r.Revoked {
			n++
		}
	}
	return fmt.Sprintf("Revoked %d of %d world-open ingress rule(s) of security group %s: %s.", n, len(s.Rules), s.GroupID, s.ruleList(true))
}

func (s *sgFix) undoPlan() []picket.PlanStep {
	var out []picket.PlanStep
	for _, r := range s.Rules {
		if r.Revoked {
			out = append(out, picket.PlanStep{Operation: "ec2:AuthorizeSecurityGroupIngress",
				Description: "Add ingress rule " + r.String() + " to security group " + s.GroupID + " again, with its description."})
		}
	}
	return out
}

func (s *sgFix) revert(ctx context.Context, c Clients, st *steps) bool {
	all := true
	for _, r := range s.Rules {
		if !r.Revoked {
			continue
		}
		perm := ec2types.IpPermission{IpProtocol: aws.String(r.Protocol)}
		if r.Protocol != "-1" {
			perm.FromPort, perm.ToPort = aws.Int32(r.FromPort), aws.Int32(r.ToPort)
		}
		var desc *string
		if r.Description != "" {
			desc = aws.String(r.Description)
		}
		if r.CIDRv6 != "" {
			perm.Ipv6Ranges = []ec2types.Ipv6Range{{CidrIpv6: aws.String(r.CIDRv6), Description: desc}}
		} else {
			perm.IpRanges = []ec2types.IpRange{{CidrIp: aws.String(r.CIDRv4), Description: desc}}
		}
		ok := st.call("ec2:AuthorizeSecurityGroupIngress", "Add ingress rule "+r.String()+" to security group "+s.GroupID+" again", func() (middleware.Metadata, error) {
			out, err := c.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &s.GroupID, IpPermissions: []ec2types.IpPermission{perm}})
			if isCode(err, "InvalidPermission.Duplicate") {
				return middleware.Metadata{}, nil // already there: the state is what Undo wants
			}
			return callResult(err, func() middleware.Metadata { return out.ResultMetadata })
		})
		all = all && ok
	}
	return all
}

func (s *sgFix) undoing() string {
	var rs []string
	for _, r := range s.Rules {
		if r.Revoked {
			rs = append(rs, r.String())
		}
	}
	return "add the revoked ingress rule(s) to security group " + s.GroupID + " again: " + strings.Join(rs, ", ")
}

func (s *sgFix) undone() string {
	return "Added the revoked ingress rule(s) to security group " + s.GroupID + " again: " + s.ruleList(true) + " (they have new rule ids)."
}
