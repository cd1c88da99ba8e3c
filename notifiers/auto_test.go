package notifiers_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/notifiers"
)

func autoNoticeCases() []struct {
	name   string
	notice picket.AutoNotice
} {
	req := func(kind picket.ActionKind, target picket.Resource) picket.ActionRequest {
		return picket.ActionRequest{ID: "auto-1-0", Kind: kind, FindingKey: "fk-1", Target: target, Account: account, Region: "us-east-1",
			Actor: picket.RuleActor("malicious-ip-caller")}
	}
	disable := picket.Plan{Request: req(picket.ActionDisableUser, userResource("alice")),
		Steps: []picket.PlanStep{{Operation: "iam:UpdateAccessKey", Description: "Deactivate access key AKIAEXAMPLE"},
			{Operation: "iam:PutUserPolicy", Description: "Attach an inline deny-all policy for sessions issued before now"}},
		Undo: "Re-activate the keys and remove the policy."}
	escalate := picket.Plan{Request: req(picket.ActionEscalate, userResource("alice")),
		Steps: []picket.PlanStep{{Operation: "detective:StartInvestigation", Description: "Start a Detective investigation"}}}
	refused := picket.Plan{Request: req(picket.ActionDisableUser, userResource("break-glass-1")),
		Refusal: `IAM user break-glass-1 is protected (it matches "break-glass-*" in the guardrails), so Picket will not act on it.`, Alternative: picket.ActionEscalate}
	hostile := picket.Plan{Request: req(picket.ActionDisableUser, userResource("<!channel>")),
		Steps: []picket.PlanStep{{Operation: "iam:UpdateAccessKey", Description: "Deactivate <https://evil.example|key> & co"}}}
	type tc = struct {
		name   string
		notice picket.AutoNotice
	}
	return []tc{
		{"auto_notify", picket.AutoNotice{Rule: "malicious-ip-caller", FindingKey: "fk-1", Mode: picket.AutoModeNotify, Plans: []picket.Plan{disable, escalate}}},
		{"auto_budget", picket.AutoNotice{Rule: "malicious-ip-caller", FindingKey: "fk-1", Mode: picket.AutoModeAuto,
			Why: "rule malicious-ip-caller already responded automatically to 5 findings in the last hour, its budget", Plans: []picket.Plan{disable}}},
		{"auto_refused", picket.AutoNotice{Rule: "malicious-ip-caller", FindingKey: "fk-1", Mode: picket.AutoModeNotify, Plans: []picket.Plan{refused}}},
		{"auto_notes", picket.AutoNotice{Rule: "malicious-ip-caller", FindingKey: "fk-1", Mode: picket.AutoModeAuto,
			Notes: []string{"Disable user: alice is already disabling alice (started 09:00:00 UTC)."}}},
		{"auto_hostile", picket.AutoNotice{Rule: "r", FindingKey: "fk-1", Mode: picket.AutoModeNotify, Why: "<!here> said so", Plans: []picket.Plan{hostile}}},
	}
}

func TestRenderAutoNoticeGolden(t *testing.T) {
	for _, tc := range autoNoticeCases() {
		t.Run(tc.name, func(t *testing.T) {
			m := notifiers.RenderAutoNotice(tc.notice)
			checkGolden(t, filepath.Join("testdata", "golden_reply", tc.name+".json"), m)
			checkLimits(t, marshalMessage(t, m))
		})
	}
}

func TestRenderAutoNoticeContent(t *testing.T) {
	cases := map[string]picket.AutoNotice{}
	for _, c := range autoNoticeCases() {
		cases[c.name] = c.notice
	}
	tests := []struct {
		name    string
		want    []string
		notWant []string
	}{
		{"auto_notify", []string{
			"*Automatic rule* `malicious-ip-caller` matched this finding. It proposes the plan below.",
			`"action_id": "picket.disable_user"`, `"action_id": "picket.escalate"`, `"value": "fk-1"`,
			"*Undo* would re-activate the keys", "the actor in the audit trail is `rule:malicious-ip-caller`",
		}, []string{"did not"}},
		{"auto_budget", []string{"It is set to run automatically, but did not: rule malicious-ip-caller already responded automatically to 5 findings"}, nil},
		{"auto_refused", []string{"Refused by a guardrail", "Use *Escalate to Detective* instead."}, []string{`"action_id"`}},
		{"auto_notes", []string{"Not done: Disable user: alice is already disabling alice"}, []string{`"action_id"`}},
		{"auto_hostile", []string{"&lt;!here&gt; said so", "&lt;!channel&gt;", "&lt;https://evil.example|key&gt; &amp; co"}, []string{"<!here>", "<!channel>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(marshalMessage(t, notifiers.RenderAutoNotice(cases[tt.name])))
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("message lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("message has %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestTerminalAnnounceAuto(t *testing.T) {
	var b bytes.Buffer
	term := notifiers.NewTerminal(&b)
	n := autoNoticeCases()[0].notice
	if err := term.AnnounceAuto(context.Background(), picket.MessageRef{Channel: "#sec", TS: "1.2"}, n); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"reply in thread of #sec", "Automatic rule malicious-ip-caller matched", "[Run disable user]", "[Run escalate to detective]"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("terminal output lacks %q:\n%s", w, b.String())
		}
	}
	if err := term.AnnounceAuto(context.Background(), picket.MessageRef{}, n); picket.ErrorCode(err) != picket.ENOTFOUND {
		t.Errorf("no alert: %v, want %s", err, picket.ENOTFOUND)
	}
}
