package posture

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/picketsec/picket"
)

// adminPorts are the remote administration ports no security group should
// open to the internet (SSH, RDP).
var adminPorts = []int32{22, 3389}

// runAdminPorts fails for every security group with an ingress rule that
// opens 22 or 3389 (TCP, or all traffic) to 0.0.0.0/0 or ::/0.
func runAdminPorts(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	if c.EC2 == nil {
		return "", nil, nil, missing("EC2")
	}
	var fail []string
	groups := 0
	p := ec2.NewDescribeSecurityGroupsPaginator(c.EC2, &ec2.DescribeSecurityGroupsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", nil, nil, fmt.Errorf("describe security groups: %w", err)
		}
		for _, g := range page.SecurityGroups {
			groups++
			for _, perm := range g.IpPermissions {
				for _, port := range openAdminPorts(perm) {
					fail = append(fail, fmt.Sprintf("%s (%s): port %d open to %s",
						aws.ToString(g.GroupId), aws.ToString(g.GroupName), port.port, port.cidr))
				}
			}
		}
	}
	ev := []string{fmt.Sprintf("%d rules in %d security groups open SSH or RDP to the internet", len(fail), groups)}
	if len(fail) > 0 {
		return picket.CheckFail, ev, fail, nil
	}
	return picket.CheckPass, ev, nil, nil
}

type openPort struct {
	port int32
	cidr string
}

// openAdminPorts returns the admin ports a rule opens to the internet.
func openAdminPorts(p ec2types.IpPermission) []openPort {
	proto := aws.ToString(p.IpProtocol)
	all := proto == "-1"
	if !all && proto != "tcp" && proto != "6" {
		return nil
	}
	var cidrs []string
	for _, r := range p.IpRanges {
		if aws.ToString(r.CidrIp) == "0.0.0.0/0" {
			cidrs = append(cidrs, "0.0.0.0/0")
		}
	}
	for _, r := range p.Ipv6Ranges {
		if aws.ToString(r.CidrIpv6) == "::/0" {
			cidrs = append(cidrs, "::/0")
		}
	}
	var out []openPort
	for _, port := range adminPorts {
		if !all && (aws.ToInt32(p.FromPort) > port || aws.ToInt32(p.ToPort) < port) {
			continue
		}
		for _, cidr := range cidrs {
			out = append(out, openPort{port, cidr})
		}
	}
	return out
}

// runDefaultSecurityGroups fails for every default security group that has
// any inbound or outbound rule.
func runDefaultSecurityGroups(ctx context.Context, c Clients, _ string) (picket.CheckStatus, []string, []string, error) {
	if c.EC2 == nil {
		return "", nil, nil, missing("EC2")
	}
	var fail []string
	groups := 0
	p := ec2.NewDescribeSecurityGroupsPaginator(c.EC2, &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{"default"}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", nil, nil, fmt.Errorf("describe default security groups: %w", err)
		}
		for _, g := range page.SecurityGroups {
			groups++
			in, out := len(g.IpPermissions), len(g.IpPermissionsEgress)
			if in+out > 0 {
				fail = append(fail, fmt.Sprintf("%s (%s): %d inbound, %d outbound rules",
					aws.ToString(g.GroupId), aws.ToString(g.VpcId), in, out))
			}
		}
	}
	ev := []string{fmt.Sprintf("%d of %d default security groups allow traffic", len(fail), groups)}
	if len(fail) > 0 {
		return picket.CheckFail, ev, fail, nil
	}
	return picket.CheckPass, ev, nil, nil
}
