package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/picketsec/picket"
)

// DefaultIsolationGroup is the name of the empty security group quarantined
// instances are moved to when Quarantine.GroupName is empty. The allow-all
// transition group is named after it with a "-transition" suffix.
const DefaultIsolationGroup = "picket-isolation"

// Quarantine isolates a compromised EC2 instance without ever terminating
// it: it records the instance's state, turns on termination protection,
// detaches it from its Auto Scaling group, moves every network interface to
// an empty security group (through an allow-all one first, so connections
// already open are cut too), snapshots every EBS volume and tags the
// instance. It implements picket.Responder and Undoer.
//
// The Auto Scaling detach keeps the group's desired capacity
// (ShouldDecrementDesiredCapacity=false): the group launches a replacement,
// so the service keeps running while the host is examined, and the detach
// cannot fail because the capacity would drop below the group's minimum,
// which would leave the host in the group where it fails health checks
// once isolated and is terminated, evidence and all.
type Quarantine struct {
	Clients ClientsFunc
	Guard   Guardrails
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// GroupName names the isolation security group; DefaultIsolationGroup
	// when empty.
	GroupName string
}

// InstanceEvidence is the state of an instance recorded when it was
// quarantined, and what the quarantine changed. Undo restores from it.
type InstanceEvidence struct {
	InstanceID         string `json:"instance_id"`
	Name               string `json:"name,omitempty"`
	State              string `json:"state"`
	VPCID              string `json:"vpc_id"`
	InstanceProfileARN string `json:"instance_profile_arn,omitempty"`
	// NetworkInterfaces are the ENIs with the security groups they had.
	NetworkInterfaces []InterfaceEvidence `json:"network_interfaces"`
	// AutoScalingGroup is the group the instance belonged to; Detached
	// says Picket detached it.
	AutoScalingGroup string `json:"auto_scaling_group,omitempty"`
	Detached         bool   `json:"detached,omitempty"`
	// TerminationProtection is whether termination protection was on
	// before; TerminationProtectionKnown is false when Picket could not
	// read it. ProtectionEnabled says Picket turned it on.
	TerminationProtection      bool             `json:"termination_protection"`
	TerminationProtectionKnown bool             `json:"termination_protection_known"`
	ProtectionEnabled          bool             `json:"protection_enabled,omitempty"`
	Volumes                    []VolumeEvidence `json:"volumes,omitempty"`
	// TransitionGroupID and IsolationGroupID are the groups used;
	// GroupsCreated lists those Picket created for this quarantine.
	TransitionGroupID string   `json:"transition_group_id,omitempty"`
	IsolationGroupID  string   `json:"isolation_group_id,omitempty"`
	GroupsCreated     []string `json:"groups_created,omitempty"`
	// Tagged says the quarantine tags were put on the instance.
	Tagged bool `json:"tagged,omitempty"`
	// Intended marks evidence saved before the first change: the change
	// fields then say what the quarantine set out to change, and Undo
	// restores all of it.
	Intended bool `json:"intended,omitempty"`
}

// InterfaceEvidence is one network interface of a quarantined instance.
type InterfaceEvidence struct {
	ID string `json:"id"`
	// Groups are the security group ids it had before the quarantine.
	Groups []string `json:"groups"`
	// Moved says Picket changed its groups (and did not put them back);
	// Isolated says it is in the isolation group.
	Moved    bool `json:"moved,omitempty"`
	Isolated bool `json:"isolated,omitempty"`
}

// VolumeEvidence is one EBS volume of a quarantined instance and the
// snapshot taken of it.
type VolumeEvidence struct {
	VolumeID   string `json:"volume_id"`
	Device     string `json:"device,omitempty"`
	SnapshotID string `json:"snapshot_id,omitempty"`
}

// Tag keys Picket puts on what it quarantines and creates.
const (
	picketTagQuarantined   = "picket:quarantined"
	picketTagQuarantinedBy = "picket:quarantined-by"
	picketTagCase          = "picket:case"
	picketTagInstance      = "picket:instance"
	picketTagFinding       = "picket:finding"
	picketTagManaged       = "picket:managed"
)

// instanceAttributeReader reads termination protection. *ec2.Client has
// it; EC2API does not declare it, so a fake without it leaves the former
// setting unknown (and Undo then leaves protection on).
type instanceAttributeReader interface {
	DescribeInstanceAttribute(ctx context.Context, in *ec2.DescribeInstanceAttributeInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstanceAttributeOutput, error)
}

func (q *Quarantine) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

func (q *Quarantine) groupNames() (isolation, transition string) {
	isolation = q.GroupName
	if isolation == "" {
		isolation = DefaultIsolationGroup
	}
	return isolation, isolation + "-transition"
}

// isolationGroupState is an isolation group as found in the VPC.
type isolationGroupState struct {
	id      string
	found   bool
	ingress []ec2types.IpPermission
	egress  []ec2types.IpPermission
}

// instanceSurvey is what the read-only calls found out about an instance.
type instanceSurvey struct {
	ev   InstanceEvidence
	tags map[string]string
	// asgErr is set when Auto Scaling membership could not be read.
	asgErr error
	// sgErr is set when the isolation groups could not be looked up.
	sgErr                 error
	isolation, transition isolationGroupState
}

// survey reads the instance, its Auto Scaling membership and the isolation
// groups of its VPC. An error means the instance itself could not be read:
// *picket.Error ENOTFOUND when it does not exist.
func (q *Quarantine) survey(ctx context.Context, c Clients, id string) (*instanceSurvey, error) {
	out, err := c.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		if isCode(err, "InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed") {
			return nil, &picket.Error{Code: picket.ENOTFOUND, Message: fmt.Sprintf("Instance %s does not exist in this account and region.", id), Err: err}
		}
		return nil, fmt.Errorf("describe instance %s: %w", id, err)
	}
	var inst *ec2types.Instance
	for _, r := range out.Reservations {
		for i := range r.Instances {
			if aws.ToString(r.Instances[i].InstanceId) == id {
				inst = &r.Instances[i]
			}
		}
	}
	if inst == nil {
		return nil, picket.Errorf(picket.ENOTFOUND, "Instance %s does not exist in this account and region.", id)
	}
	s := &instanceSurvey{tags: map[string]string{}}
	for _, t := range inst.Tags {
		s.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	s.ev = InstanceEvidence{InstanceID: id, Name: s.tags["Name"], VPCID: aws.ToString(inst.VpcId)}
	if inst.State != nil {
		s.ev.State = string(inst.State.Name)
	}
	if inst.IamInstanceProfile != nil {
		s.ev.InstanceProfileARN = aws.ToString(inst.IamInstanceProfile.Arn)
	}
	for _, ni := range inst.NetworkInterfaces {
		ie := InterfaceEvidence{ID: aws.ToString(ni.NetworkInterfaceId), Groups: []string{}}
		for _, g := range ni.Groups {
			ie.Groups = append(ie.Groups, aws.ToString(g.GroupId))
		}
		if s.ev.VPCID == "" {
			s.ev.VPCID = aws.ToString(ni.VpcId)
		}
		s.ev.NetworkInterfaces = append(s.ev.NetworkInterfaces, ie)
	}
	for _, bd := range inst.BlockDeviceMappings {
		if bd.Ebs == nil || bd.Ebs.VolumeId == nil {
			continue
		}
		s.ev.Volumes = append(s.ev.Volumes, VolumeEvidence{VolumeID: aws.ToString(bd.Ebs.VolumeId), Device: aws.ToString(bd.DeviceName)})
	}
	if r, ok := c.EC2.(instanceAttributeReader); ok {
		a, err := r.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{
			InstanceId: &id, Attribute: ec2types.InstanceAttributeNameDisableApiTermination,
		})
		if err == nil && a.DisableApiTermination != nil {
			s.ev.TerminationProtection = aws.ToBool(a.DisableApiTermination.Value)
			s.ev.TerminationProtectionKnown = true
		}
	}
	if c.AutoScaling != nil {
		a, err := c.AutoScaling.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			s.asgErr = fmt.Errorf("describe auto scaling membership of %s: %w", id, err)
		} else {
			for _, d := range a.AutoScalingInstances {
				if aws.ToString(d.InstanceId) == id {
					s.ev.AutoScalingGroup = aws.ToString(d.AutoScalingGroupName)
				}
			}
		}
	}
	if s.ev.VPCID != "" {
		iso, trans := q.groupNames()
		g, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{s.ev.VPCID}},
			{Name: aws.String("group-name"), Values: []string{trans, iso}},
		}})
		if err != nil {
			s.sgErr = fmt.Errorf("look up isolation groups in %s: %w", s.ev.VPCID, err)
		} else {
			for _, sg := range g.SecurityGroups {
				st := isolationGroupState{id: aws.ToString(sg.GroupId), found: true, ingress: sg.IpPermissions, egress: sg.IpPermissionsEgress}
				switch aws.ToString(sg.GroupName) {
				case iso:
					s.isolation = st
				case trans:
					s.transition = st
				}
			}
		}
	}
	return s, nil
}

// refusal says why the instance must not be quarantined, or "".
func (q *Quarantine) refusal(s *instanceSurvey) string {
	id := s.ev.InstanceID
	switch ec2types.InstanceStateName(s.ev.State) {
	case ec2types.InstanceStateNameTerminated, ec2types.InstanceStateNameShuttingDown:
		return fmt.Sprintf("Instance %s is %s; there is nothing left to quarantine.", id, s.ev.State)
	}
	if reason, protected := q.Guard.InstanceProtected(id, s.ev.Name, s.tags); protected {
		return reason
	}
	if s.ev.VPCID == "" || len(s.ev.NetworkInterfaces) == 0 {
		return fmt.Sprintf("Instance %s has no network interfaces in a VPC, so Picket cannot isolate it with security groups.", id)
	}
	return ""
}

// Plan implements picket.Responder. It reads the instance, its Auto Scaling
// membership and the isolation groups, and lists every call Execute makes.
func (q *Quarantine) Plan(ctx context.Context, req picket.ActionRequest, f *picket.Finding) (picket.Plan, error) {
	plan := picket.Plan{Request: req}
	id := req.Target.ID
	if req.Target.Kind != picket.ResourceEC2Instance || id == "" {
		plan.Refusal = "This finding names no EC2 instance to quarantine."
		return plan, nil
	}
	c, err := q.Clients(ctx, req.Account, req.Region)
	if err != nil {
		return picket.Plan{}, fmt.Errorf("quarantine %s: %w", id, err)
	}
	if c.EC2 == nil {
		plan.Refusal = fmt.Sprintf("Picket has no EC2 access in account %s, region %s.", req.Account, req.Region)
		return plan, nil
	}
	s, err := q.survey(ctx, c, id)
	if err != nil {
		if picket.ErrorCode(err) == picket.ENOTFOUND {
			plan.Refusal = picket.ErrorMessage(err)
			return plan, nil
		}
		code, _ := apiError(err)
		return picket.Plan{}, &picket.Error{Code: picket.EUNAVAILABLE, Err: err,
			Message: fmt.Sprintf("Picket could not read instance %s in account %s (%s), so it cannot plan the quarantine.", id, req.Account, orUnknownCode(code))}
	}
	if r := q.refusal(s); r != "" {
		plan.Refusal = r
		return plan, nil
	}
	iso, trans := q.groupNames()
	add := func(op, desc string) {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: op, Description: desc})
	}
	add("ec2:DescribeInstances", fmt.Sprintf("Record the state of %s: network interfaces and their security groups, instance profile, volumes.", id))
	if _, ok := c.EC2.(instanceAttributeReader); ok {
		add("ec2:DescribeInstanceAttribute", "Record whether termination protection is on.")
	}
	if c.AutoScaling != nil {
		add("autoscaling:DescribeAutoScalingInstances", "Record its Auto Scaling group membership.")
	}
	add("ec2:DescribeSecurityGroups", fmt.Sprintf("Find the isolation groups %s and %s in %s.", trans, iso, s.ev.VPCID))
	if !s.ev.TerminationProtection || !s.ev.TerminationProtectionKnown {
		add("ec2:ModifyInstanceAttribute", "Turn on termination protection so the instance cannot be terminated through the API.")
	}
	switch {
	case s.asgErr != nil:
		add("autoscaling:DetachInstances", "Detach it from its Auto Scaling group, if it has one (membership could not be read while planning).")
	case s.ev.AutoScalingGroup != "":
		add("autoscaling:DetachInstances", fmt.Sprintf("Detach it from Auto Scaling group %s, keeping the desired capacity so the group launches a replacement.", s.ev.AutoScalingGroup))
	}
	if !s.transition.found {
		add("ec2:CreateSecurityGroup", fmt.Sprintf("Create the transition group %s in %s.", trans, s.ev.VPCID))
		add("ec2:AuthorizeSecurityGroupIngress", fmt.Sprintf("Allow all traffic in %s, so moving through it makes open connections untracked.", trans))
	}
	if !s.isolation.found {
		add("ec2:CreateSecurityGroup", fmt.Sprintf("Create the isolation group %s in %s.", iso, s.ev.VPCID))
		add("ec2:RevokeSecurityGroupEgress", fmt.Sprintf("Remove the default outbound rule of %s, so it allows nothing.", iso))
	} else if len(s.isolation.egress) > 0 {
		add("ec2:RevokeSecurityGroupEgress", fmt.Sprintf("Remove the outbound rules found in %s (%s), so it allows nothing.", iso, s.isolation.id))
	}
	for _, ni := range s.ev.NetworkInterfaces {
		add("ec2:ModifyNetworkInterfaceAttribute", fmt.Sprintf("Move %s (now in %s) to %s for an instant.", ni.ID, sgList(ni.Groups), sgRef(trans, s.transition.id)))
		add("ec2:ModifyNetworkInterfaceAttribute", fmt.Sprintf("Move %s to %s: no traffic in or out.", ni.ID, sgRef(iso, s.isolation.id)))
	}
	for _, v := range s.ev.Volumes {
		add("ec2:CreateSnapshot", fmt.Sprintf("Snapshot volume %s (%s), tagged with case %s.", v.VolumeID, v.Device, req.ID))
	}
	add("ec2:CreateTags", fmt.Sprintf("Tag %s with %s=%s and %s=%s.", id, picketTagQuarantined, req.ID, picketTagQuarantinedBy, req.Actor.ID))
	if f != nil && f.ProductARN != "" && c.SecurityHub != nil {
		add("securityhub:BatchUpdateFindings", "Add a note to the finding in Security Hub.")
	}
	plan.Undo = quarantineUndoText(&s.ev, s.ev.AutoScalingGroup != "", !s.ev.TerminationProtection && s.ev.TerminationProtectionKnown)
	return plan, nil
}

// quarantineUndoText says what Undo restores, in the plan shown before quarantine.
func quarantineUndoText(ev *InstanceEvidence, detach, protectionOff bool) string {
	var parts []string
	for _, ni := range ev.NetworkInterfaces {
		parts = append(parts, fmt.Sprintf("%s back to %s", ni.ID, sgList(ni.Groups)))
	}
	b := "Undo puts " + strings.Join(parts, ", ")
	if detach {
		b += fmt.Sprintf(", re-attaches the instance to Auto Scaling group %s (its desired capacity grows by one)", ev.AutoScalingGroup)
	}
	if protectionOff {
		b += ", turns termination protection back off"
	} else {
		b += ", leaves termination protection on"
	}
	b += " and removes the quarantine tags. Snapshots are kept as evidence; the isolation groups stay for reuse."
	return b
}

// Execute implements picket.Responder.
func (q *Quarantine) Execute(ctx context.Context, plan picket.Plan, f *picket.Finding) picket.ActionResult {
	return q.ExecuteWith(ctx, plan, f, nil)
}

// ExecuteWith implements CheckpointResponder. It reads the instance again
// (the state recorded is the state at execution) and saves it through save,
// then runs every step it can: a failed step stops only the steps that
// depend on it.
func (q *Quarantine) ExecuteWith(ctx context.Context, plan picket.Plan, f *picket.Finding, save Checkpoint) picket.ActionResult {
	req := plan.Request
	id := req.Target.ID
	res, finish := begin(plan, q.now)
	if plan.Refusal != "" {
		return finish()
	}
	st := &steps{now: q.now, dryRun: req.DryRun}
	c, err := q.Clients(ctx, req.Account, req.Region)
	if err == nil && c.EC2 == nil {
		err = picket.Errorf(picket.EUNAVAILABLE, "Picket has no EC2 access in account %s, region %s.", req.Account, req.Region)
	}
	var s *instanceSurvey
	if err == nil {
		s, err = q.survey(ctx, c, id)
	}
	if err != nil {
		addFailedStep(st, "ec2:DescribeInstances", "Record the state of "+id, err)
		res.Steps, res.Outcome = st.results(), picket.OutcomeFailed
		res.Summary = fmt.Sprintf("Picket could not read instance %s, so it changed nothing.", id)
		res.NextStep = "Check that Picket's role may call ec2:DescribeInstances in account " + req.Account + ", or isolate the instance by hand."
		return finish()
	}
	if r := q.refusal(s); r != "" {
		res.Outcome, res.Summary = picket.OutcomeRefused, r
		return finish()
	}
	ev := &s.ev

	// What the steps below set out to change goes to the store before the
	// first of them, so that an Undo after a restart restores it.
	intended := *ev
	intended.Intended = true
	intended.ProtectionEnabled = ev.TerminationProtectionKnown && !ev.TerminationProtection
	intended.Detached = ev.AutoScalingGroup != "" && c.AutoScaling != nil && s.asgErr == nil
	intended.Tagged = true
	intended.NetworkInterfaces = slices.Clone(ev.NetworkInterfaces)
	for i := range intended.NetworkInterfaces {
		intended.NetworkInterfaces[i].Moved = true
	}
	if err := save.save(req.DryRun, intended); err != nil {
		res.Steps, res.Outcome = st.results(), picket.OutcomeFailed
		res.Summary = fmt.Sprintf("Picket could not save the state of instance %s before changing it, so it changed nothing.", id)
		res.NextStep = "Check the bot's data volume and try again."
		return finish()
	}

	// Termination protection first: nothing after it may end the instance.
	const opModifyInstance = "ec2:ModifyInstanceAttribute"
	descProtect := "Turn on termination protection for " + id
	if ev.TerminationProtectionKnown && ev.TerminationProtection {
		st.skip(opModifyInstance, descProtect, "it was already on")
	} else if st.call(opModifyInstance, descProtect, func() (middleware.Metadata, error) {
		out, err := c.EC2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{
			InstanceId: &id, DisableApiTermination: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)},
		})
		return resultMetadata(out, err, func() middleware.Metadata { return out.ResultMetadata })
	}) && !req.DryRun {
		ev.ProtectionEnabled = ev.TerminationProtectionKnown
	}

	// Detach before isolating: an isolated instance fails its health checks
	// and the group would terminate it (termination protection does not
	// stop Auto Scaling).
	const opDetach = "autoscaling:DetachInstances"
	switch {
	case c.AutoScaling == nil:
		st.skip(opDetach, "Detach "+id+" from its Auto Scaling group, if it has one", "Picket has no Auto Scaling access here, so membership was not checked")
	case s.asgErr != nil:
		addFailedStep(st, "autoscaling:DescribeAutoScalingInstances", "Read the Auto Scaling membership of "+id, s.asgErr)
		st.skip(opDetach, "Detach "+id+" from its Auto Scaling group", "its membership could not be read")
	case ev.AutoScalingGroup != "":
		asg := ev.AutoScalingGroup
		if st.call(opDetach, fmt.Sprintf("Detach %s from Auto Scaling group %s (the group launches a replacement)", id, asg), func() (middleware.Metadata, error) {
			out, err := c.AutoScaling.DetachInstances(ctx, &autoscaling.DetachInstancesInput{
				AutoScalingGroupName: &asg, InstanceIds: []string{id}, ShouldDecrementDesiredCapacity: aws.Bool(false),
			})
			return resultMetadata(out, err, func() middleware.Metadata { return out.ResultMetadata })
		}) && !req.DryRun {
			ev.Detached = true
		}
	}

	isoName, transName := q.groupNames()
	isoUsable, transUsable, why := q.prepareGroups(ctx, c, st, req, s)
	ev.IsolationGroupID, ev.TransitionGroupID = s.isolation.id, s.transition.id

	const opMove = "ec2:ModifyNetworkInterfaceAttribute"
	isoRef, transRef := sgRef(isoName, s.isolation.id), sgRef(transName, s.transition.id)
	for i := range ev.NetworkInterfaces {
		ni := &ev.NetworkInterfaces[i]
		descTrans := fmt.Sprintf("Move %s to the allow-all transition group %s", ni.ID, transRef)
		descIso := fmt.Sprintf("Move %s to the isolation group %s", ni.ID, isoRef)
		if !isoUsable {
			st.skip(opMove, descIso, why)
			continue
		}
		moved := false
		if transUsable {
			moved = st.call(opMove, descTrans, func() (middleware.Metadata, error) {
				return q.setGroups(ctx, c, ni.ID, s.transition.id)
			})
		} else {
			st.skip(opMove, descTrans, "the transition group is not available; moving straight to isolation, so connections already open may persist")
		}
		if st.call(opMove, descIso, func() (middleware.Metadata, error) {
			return q.setGroups(ctx, c, ni.ID, s.isolation.id)
		}) {
			ni.Moved, ni.Isolated = !req.DryRun, !req.DryRun
			continue
		}
		if moved {
			// Never leave an interface in the allow-all group.
			back := st.call(opMove, fmt.Sprintf("Put %s back in %s so it is not left in the allow-all group", ni.ID, sgList(ni.Groups)), func() (middleware.Metadata, error) {
				return q.setGroups(ctx, c, ni.ID, ni.Groups...)
			})
			ni.Moved = !back
		}
	}

	const opSnapshot = "ec2:CreateSnapshot"
	for i := range ev.Volumes {
		v := &ev.Volumes[i]
		st.call(opSnapshot, fmt.Sprintf("Snapshot volume %s (%s) of %s", v.VolumeID, v.Device, id), func() (middleware.Metadata, error) {
			out, err := c.EC2.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{
				VolumeId:    aws.String(v.VolumeID),
				Description: aws.String(fmt.Sprintf("Picket quarantine of %s (case %s)", id, req.ID)),
				TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: []ec2types.Tag{
					ec2Tag(picketTagCase, req.ID), ec2Tag(picketTagInstance, id), ec2Tag(picketTagFinding, req.FindingKey),
				}}},
			})
			if err != nil {
				return middleware.Metadata{}, err
			}
			v.SnapshotID = aws.ToString(out.SnapshotId)
			return out.ResultMetadata, nil
		})
	}

	if st.call("ec2:CreateTags", fmt.Sprintf("Tag %s as quarantined (case %s)", id, req.ID), func() (middleware.Metadata, error) {
		out, err := c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{
			Resources: []string{id},
			Tags:      []ec2types.Tag{ec2Tag(picketTagQuarantined, req.ID), ec2Tag(picketTagQuarantinedBy, req.Actor.ID)},
		})
		return resultMetadata(out, err, func() middleware.Metadata { return out.ResultMetadata })
	}) && !req.DryRun {
		ev.Tagged = true
	}

	if f != nil {
		isolated := isolatedCount(ev)
		note := fmt.Sprintf("Picket quarantine of %s (case %s) at the request of %s: %d of %d network interfaces isolated in %s, %d snapshots taken.",
			id, req.ID, nameOf(req.Actor), isolated, len(ev.NetworkInterfaces), isoRef, snapshotCount(ev))
		noteFinding(ctx, st, c.SecurityHub, f, note, "Picket")
	}

	res.Steps = st.results()
	res.Outcome = picket.OutcomeOf(res.Steps)
	res.Evidence, _ = json.Marshal(ev)
	res.Summary, res.NextStep = quarantineOutcomeSummary(req, ev, res.Outcome, res.Steps, isoRef)
	return finish()
}

// prepareGroups finds or creates the transition and isolation groups. It
// reports whether each can be used and, when isolation cannot, why.
func (q *Quarantine) prepareGroups(ctx context.Context, c Clients, st *steps, req picket.ActionRequest, s *instanceSurvey) (isoUsable, transUsable bool, why string) {
	isoName, transName := q.groupNames()
	vpc := s.ev.VPCID
	if s.sgErr != nil {
		addFailedStep(st, "ec2:DescribeSecurityGroups", "Find the isolation groups in "+vpc, s.sgErr)
		return false, false, "the isolation groups could not be looked up"
	}
	const opCreate, opAuth, opRevoke = "ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"

	transUsable = s.transition.found
	if !s.transition.found {
		if st.call(opCreate, fmt.Sprintf("Create the transition group %s in %s", transName, vpc), func() (middleware.Metadata, error) {
			return q.createGroup(ctx, c, req, vpc, transName, "Picket quarantine transition: allows all traffic for an instant", &s.transition.id)
		}) {
			if !req.DryRun {
				s.ev.GroupsCreated = append(s.ev.GroupsCreated, s.transition.id)
			}
			transUsable = st.call(opAuth, fmt.Sprintf("Allow all inbound traffic in %s", sgRef(transName, s.transition.id)), func() (middleware.Metadata, error) {
				out, err := c.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
					GroupId: aws.String(s.transition.id), IpPermissions: allTrafficRules(),
				})
				return resultMetadata(out, err, func() middleware.Metadata { return out.ResultMetadata })
			})
		} else {
			st.skip(opAuth, "Allow all inbound traffic in "+transName, "the transition group was not created")
		}
	}

	revoke := func(desc string, perms []ec2types.IpPermission) bool {
		return st.call(opRevoke, desc, func() (middleware.Metadata, error) {
			out, err := c.EC2.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{
				GroupId: aws.String(s.isolation.id), IpPermissions: perms,
			})
			return resultMetadata(out, err, func() middleware.Metadata { return out.ResultMetadata })
		})
	}
	switch {
	case !s.isolation.found:
		if !st.call(opCreate, fmt.Sprintf("Create the isolation group %s in %s", isoName, vpc), func() (middleware.Metadata, error) {
			return q.createGroup(ctx, c, req, vpc, isoName, "Picket quarantine isolation: no rules, no traffic", &s.isolation.id)
		}) {
			st.skip(opRevoke, "Remove the default outbound rule of "+isoName, "the isolation group was not created")
			return false, transUsable, "the isolation group could not be created"
		}
		if !req.DryRun {
			s.ev.GroupsCreated = append(s.ev.GroupsCreated, s.isolation.id)
		}
		// A new group allows all outbound traffic; revoking a rule that does
		// not exist (::/0 in an IPv4-only VPC) is not an error.
		revoke(fmt.Sprintf("Remove the default outbound rule of %s", sgRef(isoName, s.isolation.id)), allTrafficRules())
	case len(s.isolation.ingress) > 0:
		why := fmt.Sprintf("the isolation group %s has inbound rules someone added; remove them and quarantine again", s.isolation.id)
		st.list = append(st.list, picket.StepResult{Operation: "ec2:DescribeSecurityGroups",
			Description: "Check that the isolation group " + s.isolation.id + " allows nothing",
			Status:      picket.StepFailed, ErrorCode: "IsolationGroupNotEmpty", Error: why, At: st.now().UTC()})
		return false, transUsable, why
	case len(s.isolation.egress) > 0:
		revoke(fmt.Sprintf("Remove the outbound rules found in the isolation group %s", s.isolation.id), s.isolation.egress)
	}
	return true, transUsable, ""
}

func (q *Quarantine) createGroup(ctx context.Context, c Clients, req picket.ActionRequest, vpc, name, desc string, id *string) (middleware.Metadata, error) {
	out, err := c.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String(name), Description: aws.String(desc), VpcId: aws.String(vpc),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: []ec2types.Tag{
			ec2Tag(picketTagManaged, "true"), ec2Tag(picketTagCase, req.ID),
		}}},
	})
	if err != nil {
		return middleware.Metadata{}, err
	}
	*id = aws.ToString(out.GroupId)
	return out.ResultMetadata, nil
}

func (q *Quarantine) setGroups(ctx context.Context, c Clients, eni string, groups ...string) (middleware.Metadata, error) {
	out, err := c.EC2.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{
		NetworkInterfaceId: aws.String(eni), Groups: groups,
	})
	return resultMetadata(out, err, func() middleware.Metadata { return out.ResultMetadata })
}

// allTrafficRules is every protocol from and to anywhere, IPv4 and IPv6.
func allTrafficRules() []ec2types.IpPermission {
	return []ec2types.IpPermission{{
		IpProtocol: aws.String("-1"),
		IpRanges:   []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}},
		Ipv6Ranges: []ec2types.Ipv6Range{{CidrIpv6: aws.String("::/0")}},
	}}
}

// quarantineOutcomeSummary tells people what happened and what to do now.
func quarantineOutcomeSummary(req picket.ActionRequest, ev *InstanceEvidence, outcome picket.ActionOutcome, st []picket.StepResult, isoRef string) (summary, next string) {
	id := ev.InstanceID
	if ev.Name != "" {
		id += " (" + ev.Name + ")"
	}
	n := len(ev.NetworkInterfaces)
	isolated := isolatedCount(ev)
	switch outcome {
	case picket.OutcomeDryRunned:
		return fmt.Sprintf("Dry run: Picket would quarantine instance %s with %d steps; nothing was changed.", id, countSteps(st, picket.StepDryRun)), ""
	case picket.OutcomeSucceeded:
		var b strings.Builder
		fmt.Fprintf(&b, "Instance %s is quarantined: %d of %d network interfaces are in isolation group %s", id, isolated, n, isoRef)
		if ev.Detached {
			fmt.Fprintf(&b, ", it was detached from Auto Scaling group %s", ev.AutoScalingGroup)
		}
		fmt.Fprintf(&b, ", termination protection is on and %d volume snapshots were started.", snapshotCount(ev))
		return b.String(), "Examine the snapshots; use Undo to restore the instance once it is clean."
	}
	failed := failedCalls(st)
	var b strings.Builder
	if outcome == picket.OutcomeFailed {
		fmt.Fprintf(&b, "Picket could not quarantine instance %s; nothing was changed. Failed: %s.", id, failed)
	} else {
		fmt.Fprintf(&b, "Picket quarantined instance %s only in part: %d steps done, %d failed (%s).",
			id, countSteps(st, picket.StepDone), countSteps(st, picket.StepFailed), failed)
		if isolated == n {
			fmt.Fprintf(&b, " All %d network interfaces are isolated.", n)
		} else {
			fmt.Fprintf(&b, " Only %d of %d network interfaces are isolated.", isolated, n)
		}
	}
	var todo []string
	if isolated < n {
		todo = append(todo, "isolate the instance by hand now (move its network interfaces to an empty security group)")
	}
	if ev.AutoScalingGroup != "" && !ev.Detached {
		todo = append(todo, fmt.Sprintf("detach it from Auto Scaling group %s, whose health checks may otherwise terminate it", ev.AutoScalingGroup))
	}
	todo = append(todo, "finish the failed steps by hand in the AWS console, or grant Picket's role the permissions named")
	return b.String(), strings.ToUpper(todo[0][:1]) + todo[0][1:] + strings.Join(prefixEach("; ", todo[1:]), "") + "."
}

// PlanUndo implements Undoer: it restores the state recorded in the
// original quarantine's evidence.
func (q *Quarantine) PlanUndo(ctx context.Context, original picket.ActionRecord, req picket.ActionRequest) (picket.Plan, error) {
	plan := picket.Plan{Request: req}
	ev, ok := decodeInstanceEvidence(original)
	if !ok {
		plan.Refusal = "Picket has no record of the instance's state before the quarantine, so it cannot undo it."
		return plan, nil
	}
	c, err := q.Clients(ctx, original.Request.Account, original.Request.Region)
	if err != nil {
		return picket.Plan{}, fmt.Errorf("undo quarantine of %s: %w", ev.InstanceID, err)
	}
	if c.EC2 == nil {
		plan.Refusal = fmt.Sprintf("Picket has no EC2 access in account %s, region %s.", original.Request.Account, original.Request.Region)
		return plan, nil
	}
	out, err := c.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{ev.InstanceID}})
	switch {
	case isCode(err, "InvalidInstanceID.NotFound"):
		plan.Refusal = fmt.Sprintf("Instance %s no longer exists; there is nothing to restore.", ev.InstanceID)
		return plan, nil
	case err != nil:
		code, _ := apiError(err)
		return picket.Plan{}, &picket.Error{Code: picket.EUNAVAILABLE, Err: err,
			Message: fmt.Sprintf("Picket could not read instance %s (%s), so it cannot plan the undo.", ev.InstanceID, orUnknownCode(code))}
	}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			if i.State != nil && (i.State.Name == ec2types.InstanceStateNameTerminated || i.State.Name == ec2types.InstanceStateNameShuttingDown) {
				plan.Refusal = fmt.Sprintf("Instance %s is %s; there is nothing to restore.", ev.InstanceID, i.State.Name)
				return plan, nil
			}
		}
	}
	for _, s := range quarantineUndoSteps(ev) {
		plan.Steps = append(plan.Steps, picket.PlanStep{Operation: s.op, Description: s.desc})
	}
	if len(plan.Steps) == 0 {
		plan.Refusal = "The quarantine changed nothing that Undo could restore."
		return plan, nil
	}
	if snaps := takenSnapshots(ev); len(snaps) > 0 {
		plan.Steps[len(plan.Steps)-1].Description += " Snapshots " + strings.Join(snaps, ", ") + " are kept as evidence."
	}
	return plan, nil
}

type quarantineUndoStep struct {
	op, desc string
	run      func(ctx context.Context, c Clients) (middleware.Metadata, error)
}

// quarantineUndoSteps lists the calls that restore ev, in order: network first, so
// the instance is healthy again before its Auto Scaling group sees it,
// then membership, termination protection and tags.
func quarantineUndoSteps(ev *InstanceEvidence) []quarantineUndoStep {
	id := ev.InstanceID
	var out []quarantineUndoStep
	for _, ni := range ev.NetworkInterfaces {
		if !ni.Moved {
			continue
		}
		ni := ni
		out = append(out, quarantineUndoStep{"ec2:ModifyNetworkInterfaceAttribute", fmt.Sprintf("Put %s back in %s.", ni.ID, sgList(ni.Groups)),
			func(ctx context.Context, c Clients) (middleware.Metadata, error) {
				o, err := c.EC2.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(ni.ID), Groups: ni.Groups})
				return resultMetadata(o, err, func() middleware.Metadata { return o.ResultMetadata })
			}})
	}
	if ev.Detached && ev.AutoScalingGroup != "" {
		asg := ev.AutoScalingGroup
		out = append(out, quarantineUndoStep{"autoscaling:AttachInstances", fmt.Sprintf("Re-attach %s to Auto Scaling group %s (its desired capacity grows by one).", id, asg),
			func(ctx context.Context, c Clients) (middleware.Metadata, error) {
				if c.AutoScaling == nil {
					return middleware.Metadata{}, fmt.Errorf("no auto scaling client")
				}
				o, err := c.AutoScaling.AttachInstances(ctx, &autoscaling.AttachInstancesInput{AutoScalingGroupName: aws.String(asg), InstanceIds: []string{id}})
				return resultMetadata(o, err, func() middleware.Metadata { return o.ResultMetadata })
			}})
	}
	if ev.ProtectionEnabled {
		out = append(out, quarantineUndoStep{"ec2:ModifyInstanceAttribute", fmt.Sprintf("Turn termination protection of %s back off, as it was.", id),
			func(ctx context.Context, c Clients) (middleware.Metadata, error) {
				o, err := c.EC2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{
					InstanceId: aws.String(id), DisableApiTermination: &ec2types.AttributeBooleanValue{Value: aws.Bool(false)},
				})
				return resultMetadata(o, err, func() middleware.Metadata { return o.ResultMetadata })
			}})
	}
	if ev.Tagged {
		out = append(out, quarantineUndoStep{"ec2:DeleteTags", fmt.Sprintf("Remove the quarantine tags from %s.", id),
			func(ctx context.Context, c Clients) (middleware.Metadata, error) {
				o, err := c.EC2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{id},
					Tags: []ec2types.Tag{{Key: aws.String(picketTagQuarantined)}, {Key: aws.String(picketTagQuarantinedBy)}}})
				return resultMetadata(o, err, func() middleware.Metadata { return o.ResultMetadata })
			}})
	}
	return out
}

// ExecuteUndo implements Undoer. Every restoring step is attempted; the
// snapshots and isolation groups are left in place.
func (q *Quarantine) ExecuteUndo(ctx context.Context, plan picket.Plan, original picket.ActionRecord) picket.ActionResult {
	req := plan.Request
	res, finish := begin(plan, q.now)
	if plan.Refusal != "" {
		return finish()
	}
	ev, ok := decodeInstanceEvidence(original)
	if !ok {
		res.Outcome, res.Summary = picket.OutcomeRefused, "Picket has no record of the instance's state before the quarantine, so it cannot undo it."
		return finish()
	}
	st := &steps{now: q.now, dryRun: req.DryRun}
	c, err := q.Clients(ctx, original.Request.Account, original.Request.Region)
	if err == nil && c.EC2 == nil {
		err = picket.Errorf(picket.EUNAVAILABLE, "Picket has no EC2 access in account %s, region %s.", original.Request.Account, original.Request.Region)
	}
	for _, s := range quarantineUndoSteps(ev) {
		if err != nil {
			addFailedStep(st, s.op, s.desc, err)
			continue
		}
		st.call(s.op, s.desc, func() (middleware.Metadata, error) { return s.run(ctx, c) })
	}
	res.Steps = st.results()
	res.Outcome = picket.OutcomeOf(res.Steps)
	res.Evidence = original.Result.Evidence
	switch res.Outcome {
	case picket.OutcomeDryRunned:
		res.Summary = fmt.Sprintf("Dry run: Picket would restore instance %s with %d steps; nothing was changed.", ev.InstanceID, len(res.Steps))
	case picket.OutcomeSucceeded:
		res.Summary = fmt.Sprintf("Instance %s is restored to its recorded security groups and Auto Scaling membership; the snapshots are kept as evidence.", ev.InstanceID)
	case picket.OutcomeFailed:
		res.Summary = fmt.Sprintf("Picket could not restore instance %s; it is still quarantined. Failed: %s.", ev.InstanceID, failedCalls(res.Steps))
		res.NextStep = "Restore it by hand in the AWS console, or grant Picket's role the permissions named and try Undo again."
	default:
		res.Summary = fmt.Sprintf("Picket restored instance %s only in part: %d steps done, %d failed (%s).",
			ev.InstanceID, countSteps(res.Steps, picket.StepDone), countSteps(res.Steps, picket.StepFailed), failedCalls(res.Steps))
		res.NextStep = "Finish the failed steps by hand in the AWS console, using the recorded state in the audit trail."
	}
	return finish()
}

func decodeInstanceEvidence(rec picket.ActionRecord) (*InstanceEvidence, bool) {
	if rec.Result == nil || len(rec.Result.Evidence) == 0 {
		return nil, false
	}
	var ev InstanceEvidence
	if err := json.Unmarshal(rec.Result.Evidence, &ev); err != nil || ev.InstanceID == "" {
		return nil, false
	}
	return &ev, true
}

// addFailedStep records a call that could not be made or that failed outside
// steps.call (a read whose failure blocks what depends on it).
func addFailedStep(st *steps, op, desc string, err error) {
	r := picket.StepResult{Operation: op, Description: desc, Status: picket.StepFailed, At: st.now().UTC()}
	r.ErrorCode, r.Error = apiError(err)
	if r.ErrorCode == "" {
		r.Error = picket.ErrorMessage(err)
	}
	r.RequestID = requestIDOfError(err)
	st.list = append(st.list, r)
}

// resultMetadata returns the result metadata of a successful call.
func resultMetadata[T any](out *T, err error, md func() middleware.Metadata) (middleware.Metadata, error) {
	if err != nil {
		return middleware.Metadata{}, err
	}
	if out == nil {
		return middleware.Metadata{}, nil
	}
	return md(), nil
}

func ec2Tag(k, v string) ec2types.Tag {
	if len(v) > 256 { // EC2's limit on a tag value
		v = v[:256]
	}
	return ec2types.Tag{Key: aws.String(k), Value: aws.String(v)}
}

func sgList(ids []string) string {
	if len(ids) == 0 {
		return "no security groups"
	}
	return strings.Join(ids, ", ")
}

// sgRef names a group by id when known, else by name (a group a dry
// run or a plan would create).
func sgRef(name, id string) string {
	if id == "" {
		return name
	}
	return id + " (" + name + ")"
}

func isolatedCount(ev *InstanceEvidence) int {
	n := 0
	for _, ni := range ev.NetworkInterfaces {
		if ni.Isolated {
			n++
		}
	}
	return n
}

func snapshotCount(ev *InstanceEvidence) int { return len(takenSnapshots(ev)) }

func takenSnapshots(ev *InstanceEvidence) []string {
	var ids []string
	for _, v := range ev.Volumes {
		if v.SnapshotID != "" {
			ids = append(ids, v.SnapshotID)
		}
	}
	return ids
}

func countSteps(st []picket.StepResult, status picket.StepStatus) int {
	n := 0
	for _, s := range st {
		if s.Status == status {
			n++
		}
	}
	return n
}

// failedCalls lists the failed steps as "operation: code", each once.
func failedCalls(st []picket.StepResult) string {
	var out []string
	for _, s := range st {
		if s.Status != picket.StepFailed {
			continue
		}
		e := s.Operation + ": " + orUnknownCode(s.ErrorCode)
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return strings.Join(out, ", ")
}

func prefixEach(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}
