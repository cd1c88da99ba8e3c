package enrich

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/picketsec/picket"
)

// asgTag is the tag EC2 Auto Scaling puts on the instances it launches.
const asgTag = "aws:autoscaling:groupName"

// instance looks up one EC2 instance with DescribeInstances.
func (r *run) instance(t *task, res picket.Resource) {
	f := r.finding
	key := cacheKey{account: f.Account, region: res.Region, kind: kindInstance, id: res.ID}
	if v, ok := r.e.cache.get(key); ok {
		ic := v.(picket.InstanceContext)
		t.update(func() { t.instance = cloneInstance(&ic) })
		return
	}
	c, err := r.clientsFor(res.Region)
	if err != nil {
		t.fail(r.noClients(err))
		return
	}
	if c.EC2 == nil {
		t.fail(t.subject + ": no EC2 access configured")
		return
	}
	notFound := fmt.Sprintf("%s: not found in account %s (%s)", t.subject, f.Account, res.Region)
	out, err := c.EC2.DescribeInstances(r.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{res.ID}})
	if err != nil {
		t.fail(r.explain(lookupError{
			subject:  t.subject,
			action:   "ec2:DescribeInstances",
			want:     "instance context",
			notFound: notFound,
		}, err))
		return
	}
	for _, rv := range out.Reservations {
		for _, inst := range rv.Instances {
			if aws.ToString(inst.InstanceId) != res.ID {
				continue
			}
			ic := instanceContext(inst)
			r.e.cache.put(key, *cloneInstance(&ic))
			t.update(func() { t.instance = &ic })
			return
		}
	}
	t.fail(notFound)
}

// instanceContext keeps what a responder needs from an instance description.
func instanceContext(inst types.Instance) picket.InstanceContext {
	ic := picket.InstanceContext{
		InstanceID: aws.ToString(inst.InstanceId),
		VPCID:      aws.ToString(inst.VpcId),
		SubnetID:   aws.ToString(inst.SubnetId),
		PublicIP:   aws.ToString(inst.PublicIpAddress),
	}
	if inst.State != nil {
		ic.State = string(inst.State.Name)
	}
	if inst.IamInstanceProfile != nil {
		ic.InstanceProfile = aws.ToString(inst.IamInstanceProfile.Arn)
	}
	for _, g := range inst.SecurityGroups {
		s := aws.ToString(g.GroupId)
		if name := aws.ToString(g.GroupName); name != "" {
			s += " (" + name + ")"
		}
		ic.SecurityGroups = append(ic.SecurityGroups, s)
	}
	tags := make(map[string]string, len(inst.Tags))
	for _, tag := range inst.Tags {
		tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	ic.Name = tags["Name"]
	ic.Owner = owner(inst.Tags)
	ic.AutoScalingGroup = tags[asgTag]
	return ic
}

// owner picks the tag that names who runs the instance: Owner, then any
// spelling of owner, then any spelling of contact, in tag order.
func owner(tags []types.Tag) string {
	for _, match := range []func(string) bool{
		func(k string) bool { return k == "Owner" },
		func(k string) bool { return strings.EqualFold(k, "owner") },
		func(k string) bool { return strings.EqualFold(k, "contact") },
	} {
		for _, tag := range tags {
			if v := aws.ToString(tag.Value); match(aws.ToString(tag.Key)) && v != "" {
				return v
			}
		}
	}
	return ""
}
