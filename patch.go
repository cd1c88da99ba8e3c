package picket

import "strings"

// PatchTarget returns the EC2 instance that Patch instance applies to for
// f: f reports a package vulnerability (Amazon Inspector) with a fix
// available, in at least one operating-system package, on an EC2 instance
// the finding names consistently. ok is false otherwise: Patch Manager
// installs operating-system updates only, so a finding about language
// packages (npm, pip, jar, ...) is fixed by rebuilding the application,
// not by patching.
func (f *Finding) PatchTarget() (Resource, bool) {
	if len(PatchablePackages(f)) == 0 {
		return Resource{}, false
	}
	for _, r := range f.Resources {
		if r.Kind == ResourceEC2Instance && r.ID != "" && r.Mismatch == "" {
			if r.Region == "" {
				r.Region = f.Region
			}
			return r, true
		}
	}
	return Resource{}, false
}

// PatchablePackages lists the vulnerable operating-system packages of f
// that have a fix (package manager "OS", or not reported), each with the
// vulnerability ids it fixes, in the order the finding gives them.
func PatchablePackages(f *Finding) []PackageFix {
	var out []PackageFix
	for _, v := range f.Vulnerabilities {
		if strings.EqualFold(v.FixAvailable, "NO") {
			continue
		}
		for _, p := range v.Packages {
			if p.Name == "" || (p.Manager != "" && !strings.EqualFold(p.Manager, "OS")) {
				continue
			}
			i := 0
			for i < len(out) && (out[i].Name != p.Name || out[i].Version != p.Version) {
				i++
			}
			if i == len(out) {
				out = append(out, PackageFix{Package: p})
			}
			if v.ID != "" && !containsString(out[i].Vulnerabilities, v.ID) {
				out[i].Vulnerabilities = append(out[i].Vulnerabilities, v.ID)
			}
			if out[i].FixedIn == "" {
				out[i].FixedIn = p.FixedIn
			}
		}
	}
	return out
}

// PackageFix is one vulnerable package and the vulnerabilities updating it
// fixes.
type PackageFix struct {
	Package
	Vulnerabilities []string
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ManagedInstance is what AWS Systems Manager knows of an EC2 instance
// (ssm:DescribeInstanceInformation): whether its agent is registered, and
// whether it answers. Patch instance needs both.
type ManagedInstance struct {
	InstanceID string `json:"instance_id"`
	// Managed is true when the instance is registered with Systems
	// Manager.
	Managed bool `json:"managed"`
	// PingStatus is the agent's state: "Online", "ConnectionLost" or
	// "Inactive"; empty when not managed.
	PingStatus string `json:"ping_status,omitempty"`
	// Platform is the operating system ("Amazon Linux 2023").
	Platform string `json:"platform,omitempty"`
	// AgentVersion is the Systems Manager agent's version.
	AgentVersion string `json:"agent_version,omitempty"`
}

// PatchBlocker says why Patch instance cannot run on the instance, or ""
// when it can (managed and Online).
func (m *ManagedInstance) PatchBlocker() string {
	switch {
	case !m.Managed:
		return "instance " + m.InstanceID + " is not managed by Systems Manager (no SSM Agent registered with an instance profile that allows it)"
	case m.PingStatus != "Online":
		status := m.PingStatus
		if status == "" {
			status = "not answering"
		}
		return "the Systems Manager agent on instance " + m.InstanceID + " is " + status + ", not Online"
	}
	return ""
}
