package notifiers

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	picket "github.com/picketsec/picket"
)

// Action ids of the buttons on an alert. The bot dispatches on them; the
// value of these is the finding key (picket.Finding.Key).
const (
	ActionDisableUser        = "picket.disable_user"
	ActionQuarantineInstance = "picket.quarantine_instance"
	ActionRevokeSessions     = "picket.revoke_role_sessions"
	ActionSuppress           = "picket.suppress"
	ActionEscalate           = "picket.escalate"
	// ActionPatchInstance is Patch instance, on Amazon Inspector
	// package-vulnerability findings about an EC2 instance.
	ActionPatchInstance = "picket.patch_instance"
	// ActionSuppressSimilar is the group message's Suppress button: the
	// dialog starts with "suppress similar" chosen.
	ActionSuppressSimilar = "picket.suppress_similar"
)

// Action ids of the fix buttons on failed Security Hub control findings
// (see picket.Fixes); their value is the finding key too.
const (
	ActionFixBucketPublicAccess  = "picket." + string(picket.ActionFixBucketPublicAccess)
	ActionFixAccountPublicAccess = "picket." + string(picket.ActionFixAccountPublicAccess)
	ActionFixSecurityGroup       = "picket." + string(picket.ActionFixSecurityGroup)
	ActionFixEBSEncryption       = "picket." + string(picket.ActionFixEBSEncryption)
)

// Action ids of the buttons that act on an earlier request: Undo on an
// alert, Approve and Reject on a thread reply awaiting approval. Their value
// is the request id (picket.ActionRequest.ID) they act on.
const (
	ActionUndo    = "picket.undo"
	ActionApprove = "picket.approve"
	ActionReject  = "picket.reject"
)

// view is what an alert says, worked out once from the alert and shared by
// the Slack and the terminal renderers so both offer the same facts and the
// same actions. Every string in it is raw: each renderer escapes for its own
// medium.
type view struct {
	severity    picket.Severity
	title       string
	closed      []string // why the finding is closed; empty when open
	account     string   // "Production (123456789012)"
	region      string
	facts       []fact
	description string
	resources   []resourceView
	user        *section
	instance    *section
	compliance  *section
	// product is what the finding's product says that no other finding
	// does: the vulnerability of an Inspector finding.
	product     *section
	missing     []string
	console     string // a safe http(s) URL or ""
	remediation string // a safe https URL on an AWS documentation or console host, or ""
	// remediationHost is the host of a remediation URL that is not on an
	// AWS host: it is shown as text, never as a link.
	remediationHost string
	notes           []string
	findingID       string
	actions         []action
	// records are the responses taken on the finding, oldest first, and
	// undos the Undo buttons they call for.
	records []picket.ActionRecord
	undos   []undoButton
}

// fact is one labelled value. code asks for monospace where the medium has
// it (ids, ARNs). markup marks a value that Render itself wrote in Slack
// markup (a link), never finding text: it is used without escaping. url,
// when set, is a safe http(s) URL (see safeURL) the value links to.
type fact struct {
	label  string
	value  string
	code   bool
	markup bool
	url    string
}

// section is a titled group of facts about one thing (a user, an instance).
type section struct {
	kind  string // "IAM user"
	name  string // "alice"
	facts []fact
}

type resourceView struct {
	kind    string
	id      string
	arn     string
	owner   string // IAM user owning an access key
	session string // session name of a role session
	// detail says more about the resource: the repository and tags of an
	// ECR image.
	detail string
}

type action struct {
	id           string
	text         string
	danger       bool
	confirmTitle string
	confirmText  string // raw; names finding values, so it is escaped when rendered
	confirmOK    string
}

// newView works out what an alert says. It reads no clock: key ages are
// measured against the finding's own last-seen (or updated, or created)
// time.
func newView(a picket.Alert) view {
	f := a.Finding
	if f == nil {
		f = &picket.Finding{}
	}
	v := view{
		severity:    f.Severity,
		title:       f.Title,
		account:     accountLabel(f.Account, a.Enrichment.AccountAlias),
		region:      f.Region,
		description: f.Description,
		missing:     a.Enrichment.Missing,
		console:     safeURL(f.ConsoleURL),
		findingID:   f.ID,
	}
	v.remediation, v.remediationHost = remediationLink(f.RemediationURL)
	if v.title == "" {
		v.title = f.Type
	}
	if v.title == "" {
		v.title = "Untitled finding"
	}
	v.closed = closedReasons(f)

	v.facts = make([]fact, 0, 8)
	v.facts = append(v.facts, fact{label: "Account", value: v.account})
	if f.Region != "" {
		v.facts = append(v.facts, fact{label: "Region", value: f.Region})
	}
	if f.Type != "" {
		v.facts = append(v.facts, fact{label: "Type", value: f.Type})
	}
	v.facts = append(v.facts, fact{label: "Source", value: sourceLabel(f)})
	sev := f.Severity.String()
	if f.SeverityScore > 0 {
		sev += " (" + strconv.FormatFloat(f.SeverityScore, 'f', -1, 64) + ")"
	}
	v.facts = append(v.facts, fact{label: "Severity", value: sev})
	if s := formatTime(f.FirstSeen); s != "" {
		v.facts = append(v.facts, fact{label: "First seen", value: s})
	}
	if s := formatTime(f.LastSeen); s != "" {
		v.facts = append(v.facts, fact{label: "Last seen", value: s})
	}
	if f.Count > 0 {
		v.facts = append(v.facts, fact{label: "Count", value: strconv.Itoa(f.Count)})
	}

	if len(f.Resources) > 0 {
		v.resources = make([]resourceView, len(f.Resources))
		for i, r := range f.Resources {
			v.resources[i] = resourceView{kind: resourceLabel(r), id: r.ID, arn: r.ARN, owner: r.UserName, session: r.Session, detail: resourceDetail(r)}
		}
	}
	v.product = vulnerabilitySection(f.Vulnerabilities)
	if v.product == nil {
		v.product = dataSection(f.Data)
	}
	if v.product == nil {
		v.product = accessSection(f.Access)
	}

	ref := f.LastSeen
	if ref.IsZero() {
		ref = f.UpdatedAt
	}
	if ref.IsZero() {
		ref = f.CreatedAt
	}
	if u := a.Enrichment.User; u != nil {
		v.user = userSection(u, ref)
	}
	if in := a.Enrichment.Instance; in != nil {
		v.instance = instanceSection(in)
	}
	if f.ControlID != "" || f.ComplianceStatus != "" {
		c := &section{kind: "Compliance"}
		if f.ControlID != "" {
			c.facts = append(c.facts, fact{label: "Control", value: f.ControlID, code: true})
		}
		if f.ComplianceStatus != "" {
			c.facts = append(c.facts, fact{label: "Compliance status", value: f.ComplianceStatus})
		}
		v.compliance = c
	}

	if f.Sample {
		v.notes = append(v.notes, "Sample finding generated by AWS")
	}
	if f.CustomAction != "" {
		v.notes = append(v.notes, "Sent from Security Hub with the custom action "+f.CustomAction)
	}
	v.notes = append(v.notes, manualContainment(f)...)
	if n := patchUnavailable(f, a.Enrichment); n != "" && len(v.closed) == 0 {
		v.notes = append(v.notes, n)
	}

	if f.Key != "" { // a button without the key could not say which finding it is for
		v.actions = actions(f, a.Enrichment, v.account, len(v.closed) > 0, a.Actions)
	}
	v.records = a.Actions
	v.undos = undoButtons(a.Actions)
	return v
}

// actions lists the buttons an alert offers. A closed finding offers only
// Escalate: there is nothing left to contain or suppress, but someone may
// still want it investigated. Disable user and Quarantine instance are
// hidden while a record of the same kind is active (awaiting approval,
// running, or done and not undone): a second click could only conflict.
func actions(f *picket.Finding, e picket.Enrichment, account string, closed bool, recs []picket.ActionRecord) []action {
	out := make([]action, 0, 4)
	// An access finding reports a policy or unused access, not a
	// compromise: it is fixed by changing the policy, so no containment is
	// offered for the IAM user or role it names.
	contain := f.Access == nil
	if !closed && contain {
		if role := roleSessionTarget(f); role != "" && !activeOf(recs, picket.ActionRevokeSessions) {
			out = append(out, action{
				id:           ActionRevokeSessions,
				text:         "Revoke role sessions",
				danger:       true,
				confirmTitle: "Revoke role sessions?",
				confirmText: "Deny every session of " + role + " in account " + account + " issued before now? " +
					"Sessions issued afterwards keep working. Picket records the role's state first so this can be undone.",
				confirmOK: "Revoke",
			})
		}
		if user := userTarget(f); user != "" && !activeOf(recs, picket.ActionDisableUser) {
			out = append(out, action{
				id:           ActionDisableUser,
				text:         "Disable user",
				danger:       true,
				confirmTitle: "Disable IAM user?",
				confirmText: "Deactivate every access key of " + user + " in account " + account + " and deny its sessions? " +
					"Picket records the current state first so this can be undone.",
				confirmOK: "Disable",
			})
		}
		if inst := instanceTarget(f, e); inst != "" && !activeOf(recs, picket.ActionQuarantineInstance) {
			out = append(out, action{
				id:           ActionQuarantineInstance,
				text:         "Quarantine instance",
				danger:       true,
				confirmTitle: "Quarantine EC2 instance?",
				confirmText: "Isolate " + inst + " in account " + account + ": detach it from its Auto Scaling group, " +
					"move it to an isolation security group and snapshot its volumes? It is never terminated.",
				confirmOK: "Quarantine",
			})
		}
	}
	if !closed {
		if inst, ok := f.PatchTarget(); ok && patchUnavailable(f, e) == "" && !patched(recs) {
			out = append(out, action{
				id:           ActionPatchInstance,
				text:         "Patch instance",
				danger:       true,
				confirmTitle: "Patch EC2 instance?",
				confirmText: "Plan installing the missing patches on " + shorten(inst.ID, 64) + " in account " + account +
					" with Systems Manager (AWS-RunPatchBaseline)? You choose the reboot option in the next step. Patching cannot be undone.",
				confirmOK: "Plan patch",
			})
		}
		out = append(out, fixActions(f, account, recs)...)
		out = append(out, action{id: ActionSuppress, text: "Suppress"})
	}
	out = append(out, action{id: ActionEscalate, text: "Escalate"})
	return out
}

// patched reports whether recs hold a patch awaiting approval, running or
// done: the alert then offers no second one (a patch done only in part
// can be run again).
func patched(recs []picket.ActionRecord) bool {
	for _, r := range recs {
		if r.Request.Kind == picket.ActionPatchInstance &&
			(r.Status == picket.OutcomePending || r.Status == picket.StatusRunning || r.Status == picket.OutcomeSucceeded) {
			return true
		}
	}
	return false
}

// patchUnavailable is the note that replaces the Patch instance button
// when enrichment found that Systems Manager cannot patch the instance (not
// managed, agent not Online), or "". Without that lookup the button is
// shown, and the plan checks.
func patchUnavailable(f *picket.Finding, e picket.Enrichment) string {
	inst, ok := f.PatchTarget()
	if !ok || e.SSM == nil || e.SSM.InstanceID != inst.ID {
		return ""
	}
	if b := e.SSM.PatchBlocker(); b != "" {
		return "Patch unavailable: " + b + "."
	}
	return ""
}

// fixActions are the fix buttons of a failed control finding: one per fix
// kind picket.Fixes offers, hidden while a fix of that kind is active.
func fixActions(f *picket.Finding, account string, recs []picket.ActionRecord) []action {
	var out []action
	seen := map[picket.ActionKind]bool{}
	for _, x := range picket.Fixes(f) {
		if seen[x.Kind] || activeOf(recs, x.Kind) {
			continue
		}
		seen[x.Kind] = true
		a := action{id: "picket." + string(x.Kind), text: x.Kind.Label(), danger: true, confirmOK: "Fix"}
		target := shorten(x.Target.ID, 64)
		switch x.Kind {
		case picket.ActionFixBucketPublicAccess:
			a.confirmTitle = "Block public access?"
			a.confirmText = "Turn on all four Block Public Access settings of S3 bucket " + target + " in account " + account +
				" (control " + x.Control + ")? Public ACLs and bucket policies stop working. Picket records the current settings first so Undo restores them."
		case picket.ActionFixAccountPublicAccess:
			a.confirmTitle = "Block public access account-wide?"
			a.confirmText = "Turn on all four S3 Block Public Access settings for every bucket in account " + account +
				" (control " + x.Control + ")? Picket records the current settings first so Undo restores them."
		case picket.ActionFixSecurityGroup:
			a.confirmTitle = "Revoke world-open rules?"
			a.confirmText = "Revoke the ingress rules of security group " + target + " in account " + account + " open to the internet on port " +
				shorten(picket.PortList(x.Ports), 64) + " (control " + x.Control + ")? Picket records each rule first so Undo adds them back."
		case picket.ActionFixEBSEncryption:
			a.confirmTitle = "Encrypt new EBS volumes?"
			a.confirmText = "Turn on EBS encryption by default in account " + account + ", region " + shorten(f.Region, 32) +
				" (control " + x.Control + ")? Existing volumes are not changed; Undo turns it off again."
		}
		out = append(out, a)
	}
	return out
}

// userTarget names the IAM user the Disable button acts on, or "" when the
// finding names none. Only an IAM user is a target: root, a role session,
// a federated user or a key whose owner is not known to be an IAM user
// never is, whatever name the finding gives them. Neither is a user the
// finding names inconsistently (picket.Resource.Mismatch).
func userTarget(f *picket.Finding) string {
	for _, r := range f.Resources {
		if r.Kind == picket.ResourceIAMUser && r.Mismatch == "" &&
			(r.PrincipalType == "" || r.PrincipalType == picket.PrincipalIAMUser) {
			return "IAM user " + shorten(r.ID, 64)
		}
	}
	for _, r := range f.Resources {
		if r.Kind == picket.ResourceAccessKey && r.UserName != "" {
			return "IAM user " + shorten(r.UserName, 64) + " (access key " + shorten(r.ID, 32) + ")"
		}
	}
	return ""
}

// roleSessionTarget names the role whose sessions the Revoke button
// revokes, or "" when the finding names no role session.
func roleSessionTarget(f *picket.Finding) string {
	for _, r := range f.Resources {
		if r.Kind == picket.ResourceRoleSession && r.Mismatch == "" {
			return "IAM role " + shorten(r.ID, 64)
		}
	}
	return ""
}

// manualContainment says why Picket offers no containment for a principal
// it cannot contain, and what to do instead.
func manualContainment(f *picket.Finding) []string {
	var out []string
	seen := map[picket.ResourceKind]bool{}
	for _, r := range f.Resources {
		if seen[r.Kind] {
			continue
		}
		seen[r.Kind] = true
		switch r.Kind {
		case picket.ResourceRoot:
			out = append(out, "Containment is manual: Picket cannot disable the root user (no IAM policy restricts it). "+
				"Escalate, then secure the root user by hand: change its password, check its MFA and delete its access keys.")
		case picket.ResourceFederatedUser:
			out = append(out, "Containment is manual: federated user "+shorten(r.ID, 64)+" has temporary credentials from "+
				"sts:GetFederationToken that Picket cannot revoke on their own. Escalate, then find the IAM user that issued them "+
				"in CloudTrail and deny its sessions issued before now (or disable that user).")
		}
	}
	for _, r := range f.Resources {
		if r.Mismatch != "" {
			out = append(out, "Picket will not act on "+resourceLabel(r)+" "+shorten(r.ID, 64)+": "+r.Mismatch+".")
		}
	}
	return out
}

// instanceTarget names the instance the Quarantine button acts on, with its
// Name tag when enrichment found it, or "" when the finding names none.
func instanceTarget(f *picket.Finding, e picket.Enrichment) string {
	for _, r := range f.Resources {
		if r.Kind != picket.ResourceEC2Instance {
			continue
		}
		s := "instance " + shorten(r.ID, 32)
		if in := e.Instance; in != nil && in.InstanceID == r.ID && in.Name != "" {
			s += " (" + shorten(in.Name, 64) + ")"
		}
		return s
	}
	return ""
}

func userSection(u *picket.UserContext, ref time.Time) *section {
	s := &section{kind: "IAM user details", name: u.UserName}
	add := func(label, value string) {
		s.facts = append(s.facts, fact{label: label, value: value})
	}
	add("Groups", listOrNone(u.Groups))
	add("Attached policies", listOrNone(u.AttachedPolicies))
	if len(u.InlinePolicies) > 0 {
		add("Inline policies", strings.Join(u.InlinePolicies, ", "))
	}
	switch {
	case u.MFADevices == 1:
		add("MFA", "Yes (1 device)")
	case u.MFADevices > 1:
		add("MFA", fmt.Sprintf("Yes (%d devices)", u.MFADevices))
	default:
		add("MFA", "No")
	}
	add("Console access", yesNo(u.ConsoleAccess))
	if !u.CreatedAt.IsZero() {
		add("Created", formatDate(u.CreatedAt))
	}
	if len(u.AccessKeys) == 0 {
		add("Access keys", "none")
	} else {
		lines := make([]string, 0, len(u.AccessKeys))
		for _, k := range u.AccessKeys {
			lines = append(lines, accessKeyLine(k, ref))
		}
		add("Access keys", strings.Join(lines, "\n"))
	}
	return s
}

func accessKeyLine(k picket.AccessKey, ref time.Time) string {
	parts := []string{k.ID}
	if k.Status != "" {
		parts = append(parts, k.Status)
	}
	if !k.CreatedAt.IsZero() {
		created := "created " + formatDate(k.CreatedAt)
		if !ref.IsZero() && ref.After(k.CreatedAt) {
			created += fmt.Sprintf(" (%d days old)", int(ref.Sub(k.CreatedAt).Hours()/24))
		}
		parts = append(parts, created)
	}
	switch {
	case k.LastUsedAt.IsZero():
		parts = append(parts, "never used")
	case k.LastService != "":
		parts = append(parts, "last used "+formatDate(k.LastUsedAt)+" ("+k.LastService+")")
	default:
		parts = append(parts, "last used "+formatDate(k.LastUsedAt))
	}
	return strings.Join(parts, ", ")
}

func instanceSection(in *picket.InstanceContext) *section {
	s := &section{kind: "EC2 instance details", name: in.InstanceID}
	add := func(label, value string, code bool) {
		if value != "" {
			s.facts = append(s.facts, fact{label: label, value: value, code: code})
		}
	}
	add("Name", in.Name, false)
	add("Owner", in.Owner, false)
	add("State", in.State, false)
	add("VPC", in.VPCID, true)
	add("Subnet", in.SubnetID, true)
	add("Security groups", strings.Join(in.SecurityGroups, ", "), false)
	add("Public IP", in.PublicIP, true)
	add("Instance profile", in.InstanceProfile, false)
	add("Auto Scaling group", in.AutoScalingGroup, false)
	return s
}

// closedReasons says why a finding needs no more action, in the words shown
// to people; nil when it is open. It agrees with picket.Finding.Closed.
func closedReasons(f *picket.Finding) []string {
	if !f.Closed() {
		return nil
	}
	var out []string
	if f.RecordState == picket.RecordArchived {
		out = append(out, "archived")
	}
	switch f.WorkflowStatus {
	case picket.WorkflowResolved:
		out = append(out, "resolved")
	case picket.WorkflowSuppressed:
		out = append(out, "suppressed")
	}
	if f.ComplianceStatus == "PASSED" {
		out = append(out, "passed its compliance check")
	}
	return out
}

func accountLabel(account, alias string) string {
	switch {
	case account == "" && alias == "":
		return "unknown"
	case alias == "":
		return account
	case account == "":
		return alias
	}
	return alias + " (" + account + ")"
}

func sourceLabel(f *picket.Finding) string {
	s := f.Source.Name()
	if f.Product != "" && !strings.EqualFold(f.Product, s) {
		if s == "" {
			return f.Product
		}
		s += " / " + f.Product
	}
	if s == "" {
		return "unknown"
	}
	return s
}

// resourceDetail says what else a person needs to find the resource: the
// repository and tags of an ECR image.
func resourceDetail(r picket.Resource) string {
	if r.Kind != picket.ResourceECRImage {
		return ""
	}
	var parts []string
	if r.Repository != "" {
		parts = append(parts, "repository "+shorten(r.Repository, 256))
	}
	if len(r.ImageTags) > 0 {
		tags := r.ImageTags
		more := ""
		if len(tags) > maxListed {
			tags, more = tags[:maxListed], fmt.Sprintf(" and %d more", len(r.ImageTags)-maxListed)
		}
		short := make([]string, len(tags))
		for i, t := range tags {
			short[i] = shorten(t, 128)
		}
		parts = append(parts, "tags "+strings.Join(short, ", ")+more)
	}
	return strings.Join(parts, ", ")
}

// maxListed bounds the items of one list an alert shows (packages, tags,
// other vulnerabilities).
const maxListed = 5

// vulnerabilitySection describes the first vulnerability of a finding the
// way a vulnerability team reads it: the CVE and its link, CVSS, EPSS,
// whether an exploit is known and a fix exists, and each package with its
// installed and fixed versions. Further vulnerabilities are listed by id.
func vulnerabilitySection(vs []picket.Vulnerability) *section {
	if len(vs) == 0 {
		return nil
	}
	v := vs[0]
	s := &section{kind: "Vulnerability", name: shorten(v.ID, 64)}
	add := func(label, value string) {
		if value != "" {
			s.facts = append(s.facts, fact{label: label, value: value})
		}
	}
	if v.CVSS > 0 {
		score := strconv.FormatFloat(v.CVSS, 'f', 1, 64)
		if v.CVSSVersion != "" {
			score += " (CVSS " + shorten(v.CVSSVersion, 8) + ")"
		}
		add("CVSS", score)
	}
	if v.HasEPSS {
		add("EPSS", strconv.FormatFloat(v.EPSS*100, 'f', 2, 64)+"% chance of exploitation in 30 days")
	}
	add("Exploit available", availability(v.ExploitAvailable))
	add("Fix available", availability(v.FixAvailable))
	add("Vulnerable packages", listLines(len(v.Packages), func(i int) string {
		p := v.Packages[i]
		line := shorten(p.Name, 128)
		if p.Version != "" {
			line += " " + shorten(p.Version, 64)
		}
		if p.FixedIn != "" {
			line += " → fixed in " + shorten(p.FixedIn, 64)
		}
		return line
	}))
	if u := safeURL(v.URL); u != "" {
		s.facts = append(s.facts, fact{label: "Details", value: shorten(v.ID, 64), url: u})
	}
	if len(vs) > 1 {
		ids := make([]string, 0, maxListed)
		for _, o := range vs[1:min(len(vs), maxListed+1)] {
			ids = append(ids, shorten(o.ID, 64))
		}
		also := strings.Join(ids, ", ")
		if len(vs)-1 > maxListed {
			also += fmt.Sprintf(" and %d more", len(vs)-1-maxListed)
		}
		add("Also", also)
	}
	return s
}

// dataSection describes a Macie finding the way a data protection team
// reads it: for sensitive data, the object and each type found with its
// count; for a policy finding, the bucket. Both say whether the bucket is
// public and how it is encrypted.
func dataSection(d *picket.DataFinding) *section {
	if d == nil {
		return nil
	}
	s := &section{kind: "Sensitive data"}
	if d.Category == "POLICY" {
		s.kind = "Bucket policy"
	}
	if d.Bucket != "" {
		s.name = shorten(d.Bucket, 64)
	}
	add := func(label, value string, code bool) {
		if value != "" {
			s.facts = append(s.facts, fact{label: label, value: value, code: code})
		}
	}
	add("Object", shorten(d.ObjectKey, 512), true)
	add("Found", listLines(len(d.Detections), func(i int) string {
		x := d.Detections[i]
		return fmt.Sprintf("%s: %d (%s)", shorten(dataWords(x.Type), 64), x.Count, shorten(dataWords(x.Category), 64))
	}), false)
	if d.Total > 0 {
		add("Occurrences", strconv.Itoa(d.Total), false)
	}
	switch d.Public {
	case "PUBLIC":
		add("Public access", "Public", false)
	case "NOT_PUBLIC":
		add("Public access", "Not public", false)
	default:
		add("Public access", shorten(dataWords(d.Public), 32), false)
	}
	switch d.Encryption {
	case "NONE":
		add("Default encryption", "None", false)
	default:
		add("Default encryption", shorten(d.Encryption, 32), false)
	}
	switch d.UnencryptedUploads {
	case "TRUE":
		add("Unencrypted uploads", "Allowed", false)
	case "FALSE":
		add("Unencrypted uploads", "Denied", false)
	}
	return s
}

// dataWords turns Macie's SOME_CONSTANT into "Some constant"; other text
// is kept as it is.
func dataWords(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return s
		}
	}
	if s == "" {
		return s
	}
	return s[:1] + strings.ToLower(strings.ReplaceAll(s[1:], "_", " "))
}

// accessSection describes an IAM Access Analyzer finding the way an IAM
// team reads it: who is granted what under which condition, or what went
// unused since when, and the analyzer.
func accessSection(a *picket.AccessFinding) *section {
	if a == nil {
		return nil
	}
	s := &section{kind: "External access"}
	switch a.Kind {
	case picket.AccessInternal:
		s.kind = "Internal access"
	case picket.AccessUnused:
		s.kind = "Unused access"
	}
	add := func(label, value string, code bool) {
		if value != "" {
			s.facts = append(s.facts, fact{label: label, value: value, code: code})
		}
	}
	add("Analysis error", shorten(a.Error, 64), false)
	if a.Public {
		add("Public", "Yes: anyone can access the resource", false)
	}
	add("Granted to", listShort(a.Principals, 256), false)
	add("Actions", listShort(a.Actions, 128), false)
	if a.Condition != "" {
		add("Condition", shorten(a.Condition, 512), true)
	} else if a.Kind != picket.AccessUnused && len(a.Principals) > 0 {
		add("Condition", "None", false)
	}
	add("Finding type", shorten(a.FindingType, 64), false)
	add("Unused", listLines(len(a.Unused), func(i int) string { return shorten(a.Unused[i], 512) }), false)
	if a.Kind == picket.AccessUnused {
		if a.LastAccessed.IsZero() {
			add("Last used", "Never (or not reported)", false)
		} else {
			add("Last used", formatDate(a.LastAccessed), false)
		}
	}
	add("Analyzer", shorten(a.Analyzer, 256), true)
	return s
}

// listLines puts line(i) for each of the first maxListed of n items one a
// line, and says how many more there are; "" when n is 0.
func listLines(n int, line func(i int) string) string {
	if n <= 0 {
		return ""
	}
	lines := make([]string, 0, min(n, maxListed)+1)
	for i := range min(n, maxListed) {
		lines = append(lines, line(i))
	}
	if n > maxListed {
		lines = append(lines, fmt.Sprintf("…and %d more", n-maxListed))
	}
	return strings.Join(lines, "\n")
}

// listShort joins at most maxListed items, each shortened to n runes, and
// says how many more there are.
func listShort(items []string, n int) string {
	if len(items) == 0 {
		return ""
	}
	shown := items[:min(len(items), maxListed)]
	out := make([]string, len(shown))
	for i, it := range shown {
		out[i] = shorten(it, n)
	}
	s := strings.Join(out, ", ")
	if len(items) > maxListed {
		s += fmt.Sprintf(" and %d more", len(items)-maxListed)
	}
	return s
}

// availability words Inspector's YES, NO and PARTIAL.
func availability(s string) string {
	switch s {
	case "":
		return ""
	case "YES":
		return "Yes"
	case "NO":
		return "No"
	case "PARTIAL":
		return "Partial"
	}
	return shorten(s, 32)
}

func resourceLabel(r picket.Resource) string {
	if l := r.Kind.Label(); l != "" {
		return l
	}
	if r.Type != "" {
		return r.Type
	}
	return "Resource"
}

// remediationHosts are the hosts whose remediation URLs are shown as links:
// AWS documentation and consoles. Any subdomain of a console host is
// allowed too ("eu-west-1.console.aws.amazon.com").
var remediationHosts = []string{
	"docs.aws.amazon.com", "aws.amazon.com", "console.aws.amazon.com",
	"docs.amazonaws.cn", "console.amazonaws.cn", "console.amazonaws-us-gov.com",
}

// remediationLink splits a finding's remediation URL: an https URL on an
// AWS documentation or console host is returned as link; any other URL
// that parses gives only its host, shown as text so that a finding cannot
// make Picket link to a site of its choosing.
func remediationLink(raw string) (link, host string) {
	u := safeURL(raw)
	if u == "" {
		return "", ""
	}
	p, err := url.Parse(u)
	if err != nil {
		return "", ""
	}
	h := strings.ToLower(p.Host)
	if strings.EqualFold(p.Scheme, "https") && p.Port() == "" && awsHost(h) {
		return u, ""
	}
	return "", h
}

func awsHost(h string) bool {
	for _, a := range remediationHosts {
		if h == a || strings.HasPrefix(a, "console.") && strings.HasSuffix(h, "."+a) {
			return true
		}
	}
	return false
}

// safeURL returns raw when it is an absolute http or https URL, with the
// characters that end a Slack link (| and >) and the other characters Slack
// treats specially percent-encoded, and "" otherwise.
func safeURL(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	if plainURL(raw) {
		return raw
	}
	return parsedURL(raw)
}

// parsedURL is safeURL for any URL: it parses raw and writes it back out.
func parsedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return ""
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return ""
	}
	return urlEscaper.Replace(u.String())
}

// plainURL reports whether raw is an http(s) URL that safeURL would return
// unchanged, without parsing it: a lower-case scheme, a host of letters,
// digits, dots and dashes, then only characters that need no escaping in a
// path, query or fragment, % only before two hex digits, and at most one #
// with a fragment after it. Most console and remediation URLs are such;
// anything else takes the slow path through url.Parse, and
// FuzzSafeURL checks that both agree.
func plainURL(raw string) bool {
	rest, ok := strings.CutPrefix(raw, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(raw, "http://"); !ok {
			return false
		}
	}
	host := 0
	for host < len(rest) && (isAlnum(rest[host]) || rest[host] == '.' || rest[host] == '-') {
		host++
	}
	if host == 0 {
		return false
	}
	rest = rest[host:]
	if rest != "" && rest[0] != '/' && rest[0] != '?' && rest[0] != '#' {
		return false
	}
	hash := false
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case isAlnum(c):
		case c == '#':
			if hash || i == len(rest)-1 {
				return false
			}
			hash = true
		case c == '%':
			if i+2 >= len(rest) || !isHex(rest[i+1]) || !isHex(rest[i+2]) {
				return false
			}
			i += 2
		case strings.IndexByte("-._~/?=&:+,;@!$()*", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

var urlEscaper = strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C", " ", "%20", "\"", "%22", "`", "%60")

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func formatDate(t time.Time) string {
	return t.UTC().Format("2006-01-02")
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// shorten cuts s to at most n runes, ending with an ellipsis when cut. It is
// for raw text; use clip for escaped text.
func shorten(s string, n int) string {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s
	}
	return s[:runeOffset(s, n-1)] + "…"
}

// runeOffset returns the byte offset of rune n of s (len(s) when s is
// shorter).
func runeOffset(s string, n int) int {
	count := 0
	for i := range s {
		if count == n {
			return i
		}
		count++
	}
	return len(s)
}
