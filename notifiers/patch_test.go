package notifiers_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/notifiers"
)

// inspectorEC2Finding is an Amazon Inspector package vulnerability on an
// EC2 instance: an OS package with a fix, and a language package Patch
// Manager does not update.
func inspectorEC2Finding() *picket.Finding {
	f := baseFinding("PACKAGE_VULNERABILITY", "CVE-2023-38545 - curl, libcurl", instanceResource("i-0abc123def4567890"))
	f.Source, f.Product, f.Severity, f.SeverityScore = picket.SourceInspector, "Inspector", picket.SeverityCritical, 9.8
	f.Description = "SOCKS5 heap buffer overflow in curl."
	f.Vulnerabilities = []picket.Vulnerability{{ID: "CVE-2023-38545", CVSS: 9.8, CVSSVersion: "3.1", FixAvailable: "YES",
		Packages: []picket.Package{
			{Name: "curl", Version: "7.88.1-1.amzn2023.0.1", FixedIn: "8.3.0-1.amzn2023.0.1", Manager: "OS"},
			{Name: "libcurl", Version: "7.88.1-1.amzn2023.0.1", FixedIn: "8.3.0-1.amzn2023.0.1", Manager: "OS"},
			{Name: "requests", Version: "2.25.0", FixedIn: "2.31.0", Manager: "PYTHONPKG"},
		}}}
	return f
}

func online() *picket.ManagedInstance {
	return &picket.ManagedInstance{InstanceID: "i-0abc123def4567890", Managed: true, PingStatus: "Online", Platform: "Amazon Linux 2023"}
}

// patchAlertCases are the alerts of Patch instance; goldenCases includes
// them.
func patchAlertCases() []struct {
	name  string
	alert picket.Alert
} {
	type tc = struct {
		name  string
		alert picket.Alert
	}
	notManaged := &picket.ManagedInstance{InstanceID: "i-0abc123def4567890"}
	hostile := inspectorEC2Finding()
	hostile.Resources = []picket.Resource{instanceResource("i-<!channel>")}
	hostile.Vulnerabilities[0].Packages[0].Name = "<@U0EVIL> & <https://evil.example|curl>"
	return []tc{
		{"inspector_ec2_patch", picket.Alert{Finding: inspectorEC2Finding(), Channel: "C0SEC", Enrichment: picket.Enrichment{SSM: online()}}},
		{"inspector_ec2_not_managed", picket.Alert{Finding: inspectorEC2Finding(), Channel: "C0SEC", Enrichment: picket.Enrichment{SSM: notManaged}}},
		{"inspector_ec2_hostile", picket.Alert{Finding: hostile, Channel: "C0SEC",
			Enrichment: picket.Enrichment{SSM: &picket.ManagedInstance{InstanceID: "i-<!channel>", Managed: true, PingStatus: "<!here>"}}}},
	}
}

func patchRecord() picket.ActionRecord {
	req := picket.ActionRequest{ID: "req-patch-1", Kind: picket.ActionPatchInstance, FindingKey: inspectorEC2Finding().Key,
		Target: instanceResource("i-0abc123def4567890"), Account: account, Region: "us-east-1", Actor: dana, At: t1}
	plan := picket.Plan{Request: req,
		Steps: []picket.PlanStep{
			{Operation: "ssm:SendCommand", Description: "Run AWS-RunPatchBaseline on instance i-0abc123def4567890 with Operation=Install and RebootOption=RebootIfNeeded (your choice below)."},
			{Operation: "ssm:GetCommandInvocation", Description: "Follow the command to its end and report its outcome and output in the alert's thread."},
		},
		Details: []string{
			"Package curl 7.88.1-1.amzn2023.0.1 installed, fixed in 8.3.0-1.amzn2023.0.1 (CVE-2023-38545)",
			"Systems Manager: instance i-0abc123def4567890 is managed, agent Online, Amazon Linux 2023",
			"Reboot: only if a patch needs it (RebootIfNeeded).",
		}}
	sent := picket.StepResult{Operation: "ssm:SendCommand", Status: picket.StepDone, RequestID: "req-0001", At: t1,
		Description: "Run AWS-RunPatchBaseline on instance i-0abc123def4567890 with Operation=Install and RebootOption=RebootIfNeeded (command 3f1c2d4e-aaaa-bbbb-cccc-111122223333)"}
	done := t1.Add(7 * time.Minute)
	return picket.ActionRecord{Request: req, Plan: plan, Status: picket.OutcomeSucceeded, Updated: done,
		Result: &picket.ActionResult{Request: req, Outcome: picket.OutcomeSucceeded, Started: t1, Finished: done,
			Steps: []picket.StepResult{sent, {Operation: "ssm:GetCommandInvocation", Status: picket.StepDone, RequestID: "req-0007", At: done,
				Description: "Follow command 3f1c2d4e-aaaa-bbbb-cccc-111122223333 to its end: Success"}},
			Summary: "Picket patched instance i-0abc123def4567890: AWS-RunPatchBaseline ended in Success (command 3f1c2d4e-aaaa-bbbb-cccc-111122223333, RebootOption=RebootIfNeeded).",
			Output:  "Installing curl-8.3.0-1.amzn2023.0.1.x86_64\nInstalling libcurl-8.3.0-1.amzn2023.0.1.x86_64\nInstall complete.\nNo reboot needed."}}
}

// patchReplyCases are the thread replies of Patch instance and of an Undo
// of Suppress; replyCases includes them.
func patchReplyCases() []struct {
	name string
	rec  picket.ActionRecord
} {
	type tc = struct {
		name string
		rec  picket.ActionRecord
	}
	running := patchRecord()
	running.Status = picket.StatusRunning
	running.Result.Outcome, running.Result.Steps, running.Result.Output = picket.StatusRunning, running.Result.Steps[:1], ""
	running.Result.Summary = "Picket sent AWS-RunPatchBaseline to instance i-0abc123def4567890 (command 3f1c2d4e-aaaa-bbbb-cccc-111122223333, RebootOption=RebootIfNeeded) and is following it."

	failed := patchRecord()
	failed.Status = picket.OutcomePartial
	failed.Result.Outcome = picket.OutcomePartial
	failed.Result.Steps[1].Status, failed.Result.Steps[1].ErrorCode = picket.StepFailed, "Failed"
	failed.Result.Steps[1].Error = "Failed. yum: Cannot find a valid baseurl for repo: amzn2023-core"
	failed.Result.Summary = "The patch command on instance i-0abc123def4567890 (command 3f1c2d4e-aaaa-bbbb-cccc-111122223333) ended in Failed; some patches may be installed."
	failed.Result.NextStep = "Read the output below and the command in Run Command history, fix the cause, then patch again."
	failed.Result.Output = "Loaded plugins\nError: Cannot find a valid baseurl for repo: amzn2023-core\nfailed to install patches"

	hostile := patchRecord()
	hostile.Result.Output = "pkg <!channel> & <@U0EVIL> <https://evil.example|click>\n```\nbreak out``` *bold* <#C0GENERAL>\n" + strings.Repeat("a&b<c>", 900) + "\nthe end <!here>"

	undo := picket.ActionRecord{Status: picket.OutcomePartial, Updated: t1.Add(time.Minute),
		Request: picket.ActionRequest{ID: "req-undo-sup", Kind: picket.ActionUndo, UndoOf: "req-sup-1", FindingKey: "fk-sh",
			Target: picket.Resource{Kind: picket.ResourceAccount, ID: account}, Account: account, Region: "us-east-1", Actor: erin, At: t1}}
	undo.Result = &picket.ActionResult{Outcome: picket.OutcomePartial, Started: t1, Finished: t1.Add(time.Minute),
		Steps: []picket.StepResult{
			{Operation: "securityhub:BatchDeleteAutomationRules", Description: "Delete Security Hub automation rule arn:aws:securityhub:us-east-1:123456789012:automation-rule/r-1", Status: picket.StepDone, RequestID: "req-0002"},
			{Operation: "securityhub:BatchUpdateFindings", Description: "Set the finding's workflow status in Security Hub back to NEW, with a note", Status: picket.StepFailed,
				RequestID: "req-0003", ErrorCode: "AccessDeniedException", Error: "not authorized"},
		},
		Summary:  "Picket undid the suppression of this finding and similar ones only in part: 1 steps done, 1 failed (securityhub:BatchUpdateFindings: AccessDeniedException). Picket's own rule stays in force until its expiry, when it retries.",
		NextStep: "Finish the failed steps by hand in the console, or grant Picket's role the permissions named."}
	return []tc{
		{"reply_patch_running", running},
		{"reply_patch_succeeded", patchRecord()},
		{"reply_patch_command_failed", failed},
		{"reply_patch_hostile_output", hostile},
		{"reply_suppress_undo_partial", undo},
	}
}

func TestRenderPatchButton(t *testing.T) {
	tests := []struct {
		name     string
		alert    picket.Alert
		want     bool
		wantNote string
	}{
		{"managed and online", patchAlertCases()[0].alert, true, ""},
		{"not looked up: the plan checks", picket.Alert{Finding: inspectorEC2Finding()}, true, ""},
		{"not managed", patchAlertCases()[1].alert, false, "Patch unavailable: instance i-0abc123def4567890 is not managed by Systems Manager"},
		{"agent offline", picket.Alert{Finding: inspectorEC2Finding(), Enrichment: picket.Enrichment{SSM: &picket.ManagedInstance{
			InstanceID: "i-0abc123def4567890", Managed: true, PingStatus: "ConnectionLost"}}}, false, "is ConnectionLost, not Online"},
		{"language packages only", func() picket.Alert {
			f := inspectorEC2Finding()
			f.Vulnerabilities[0].Packages = f.Vulnerabilities[0].Packages[2:]
			return picket.Alert{Finding: f, Enrichment: picket.Enrichment{SSM: online()}}
		}(), false, ""},
		{"no fix available", func() picket.Alert {
			f := inspectorEC2Finding()
			f.Vulnerabilities[0].FixAvailable = "NO"
			return picket.Alert{Finding: f, Enrichment: picket.Enrichment{SSM: online()}}
		}(), false, ""},
		{"an image, not an instance", func() picket.Alert {
			f := inspectorEC2Finding()
			f.Resources = []picket.Resource{{Kind: picket.ResourceECRImage, ID: "sha256:abc"}}
			return picket.Alert{Finding: f}
		}(), false, ""},
		{"patch already running", picket.Alert{Finding: inspectorEC2Finding(), Actions: []picket.ActionRecord{func() picket.ActionRecord {
			r := patchRecord()
			r.Status = picket.StatusRunning
			return r
		}()}}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := notifiers.Render(tt.alert)
			ids, _ := buttons(t, m)
			if got := slices.Contains(ids, notifiers.ActionPatchInstance); got != tt.want {
				t.Errorf("got Patch button %v (buttons %v), want %v", got, ids, tt.want)
			}
			js := string(marshalMessage(t, m))
			if tt.wantNote != "" && !strings.Contains(js, tt.wantNote) {
				t.Errorf("got no note %q in\n%s", tt.wantNote, js)
			}
			if tt.wantNote == "" && strings.Contains(js, "Patch unavailable") {
				t.Errorf("got a Patch unavailable note, want none:\n%s", js)
			}
		})
	}
}

// TestRenderPatchOutputIsInert: the output of a command reaches Slack
// escaped, inside one code block it cannot close, within the section
// limit, keeping its end.
func TestRenderPatchOutputIsInert(t *testing.T) {
	rec := patchReplyCases()[3].rec
	js := string(marshalMessage(t, notifiers.RenderActionReply(rec)))
	for _, bad := range []string{"<!channel>", "<@U0EVIL>", "<https://evil.example", "<#C0GENERAL>", "<!here>", "break out```"} {
		if strings.Contains(js, bad) {
			t.Errorf("reply carries %q unescaped", bad)
		}
	}
	if !strings.Contains(js, "the end &lt;!here&gt;```") {
		t.Errorf("reply lost the end of the output:\n%s", js)
	}
	checkLimits(t, []byte(js))
}

// TestRenderDigestNamesPatchesAndUndos: the digest says "Patch instance"
// and what an Undo reversed, escaped.
func TestRenderDigestNamesPatchesAndUndos(t *testing.T) {
	d := picket.Digest{Name: "daily", From: t0, To: t1, Actions: []picket.DigestAction{
		{Time: t1, Kind: picket.ActionPatchInstance, Actor: dana, Target: "i-<!channel>", Outcome: picket.OutcomeSucceeded},
		{Time: t1, Kind: picket.ActionUndo, Undid: picket.ActionSuppress, Actor: erin, Target: account, Outcome: picket.OutcomePartial},
	}, Actors: []picket.NamedCount{{Name: "Dana", Count: 1}, {Name: "Erin", Count: 1}}}
	js := string(marshalMessage(t, notifiers.RenderDigest(d)))
	for _, want := range []string{"Patch instance on `i-&lt;!channel&gt;` (succeeded)", "Undo suppress on `123456789012` (partial)"} {
		if !strings.Contains(js, want) {
			t.Errorf("digest lacks %q:\n%s", want, js)
		}
	}
}
