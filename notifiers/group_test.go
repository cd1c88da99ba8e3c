package notifiers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/notifiers"
)

// hostileGroup is a group whose text fields try to mention everyone, link
// elsewhere and break out of code spans.
func hostileGroup() picket.Group {
	g := picket.Group{ID: "g7", Channel: "C0STORM", Key: "k"}
	for i := range 312 {
		f := picket.Finding{
			Key: fmt.Sprintf("key%03d", i), Type: "Recon:EC2/PortProbeUnprotectedPort", Account: "123456789012",
			Source: picket.SourceGuardDuty, Title: "Port probe <!channel> & <https://evil.example|click>",
			Severity: picket.SeverityLow, Region: []string{"us-east-1", "eu-west-1"}[i%2],
			LastSeen:  time.Date(2026, 11, 22, 8, 0, i%60, 0, time.UTC),
			FirstSeen: time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC),
			Resources: []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: fmt.Sprintf("i-%03d`<!here>", i)}},
		}
		if i%50 == 0 {
			f.Severity = picket.SeverityMedium
		}
		g.Add(&f)
	}
	g.Ref = picket.MessageRef{Channel: "C0STORM", TS: "1700000000.000100"}
	return g
}

func groupMembers(n int) []picket.FindingRecord {
	out := make([]picket.FindingRecord, n)
	for i := range out {
		f := picket.Finding{Key: fmt.Sprintf("key%03d", i), Type: "Recon:EC2/PortProbeUnprotectedPort", Account: "123456789012",
			Title: "Port probe <!channel>", Severity: picket.SeverityLow, Region: "us-east-1",
			Resources: []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: fmt.Sprintf("i-%03d", i)}}}
		if i == 1 {
			f.Resources = []picket.Resource{{Kind: picket.ResourceIAMUser, ID: "mallory`<!everyone>"}}
		}
		if i == 2 {
			f.RecordState = picket.RecordArchived
		}
		out[i] = picket.FindingRecord{Finding: f}
	}
	return out
}

func TestRenderGroupGolden(t *testing.T) {
	g := hostileGroup()
	m := notifiers.RenderGroup(g)
	checkGolden(t, "testdata/golden/group.json", m)
	checkLimits(t, marshalMessage(t, m))
	body := string(marshalMessage(t, m))
	for _, bad := range []string{"<!channel>", "<!here>", "<https://evil"} {
		if strings.Contains(body, bad) {
			t.Errorf("group message contains live %q", bad)
		}
	}
	for _, want := range []string{"312 findings", "305 Low", "7 Medium", "eu-west-1, us-east-1", notifiers.ActionSuppressSimilar, notifiers.ActionEscalate} {
		if !strings.Contains(body, want) {
			t.Errorf("group message lacks %q", want)
		}
	}
}

func TestRenderGroupListGolden(t *testing.T) {
	g := hostileGroup()
	m := notifiers.RenderGroupList(g, 40, groupMembers(4))
	checkGolden(t, "testdata/golden/group_list.json", m)
	checkLimits(t, marshalMessage(t, m))
	body := string(marshalMessage(t, m))
	if strings.Contains(body, "<!everyone>") || strings.Contains(body, "<!channel>") {
		t.Error("list reply carries a live mention")
	}
	// Each member has its own actions: a user finding offers Disable user,
	// an instance finding Quarantine, a closed one only Escalate.
	for _, want := range []string{
		"Findings 41–44 of 312", notifiers.RespondValue(notifiers.ActionDisableUser, "key001"),
		notifiers.RespondValue(notifiers.ActionQuarantineInstance, "key000"), notifiers.RespondValue(notifiers.ActionEscalate, "key002"),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("list reply lacks %q", want)
		}
	}
	if strings.Contains(body, notifiers.RespondValue(notifiers.ActionSuppress, "key002")) {
		t.Error("a closed member is offered Suppress")
	}
}

func TestRenderGroupListKeepsToSlackLimits(t *testing.T) {
	m := notifiers.RenderGroupList(hostileGroup(), 0, groupMembers(45))
	checkLimits(t, marshalMessage(t, m))
	if n := len(m.Blocks); n > notifiers.MaxBlocks {
		t.Errorf("blocks = %d, want at most %d", n, notifiers.MaxBlocks)
	}
}

func TestRespondValueRoundTrip(t *testing.T) {
	v := notifiers.RespondValue(notifiers.ActionQuarantineInstance, "3fa9c0")
	id, key, ok := notifiers.ParseRespondValue(v)
	if !ok || id != notifiers.ActionQuarantineInstance || key != "3fa9c0" {
		t.Errorf("ParseRespondValue(%q) = %q, %q, %v", v, id, key, ok)
	}
	for _, bad := range []string{"", "picket.suppress", " key", "picket.suppress key extra"} {
		if _, _, ok := notifiers.ParseRespondValue(bad); ok {
			t.Errorf("ParseRespondValue(%q) accepted", bad)
		}
	}
}

// TestRenderGroupLongFieldsKeepToSlackLimits: a finding's account and
// regions are not validated on decode; a group of such findings must
// still keep each field within Slack's 2,000 characters, or Slack
// refuses the message and the group is never posted.
func TestRenderGroupLongFieldsKeepToSlackLimits(t *testing.T) {
	tests := []struct {
		name   string
		modify func(i int, f *picket.Finding)
	}{
		{"long account", func(_ int, f *picket.Finding) { f.Account = strings.Repeat("1<!channel>", 400) }},
		{"long regions", func(i int, f *picket.Finding) { f.Region = fmt.Sprintf("%02d-", i) + strings.Repeat("r&", 150) }},
		{"long type", func(_ int, f *picket.Finding) { f.Type = strings.Repeat("T`<!here>", 800) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := picket.Group{ID: "g1", Channel: "C1", Key: "k"}
			for i := range 25 {
				f := picket.Finding{Key: fmt.Sprintf("key%03d", i), Type: "Recon:EC2/PortProbeUnprotectedPort", Account: "123456789012",
					Source: picket.SourceGuardDuty, Title: "Port probe", Severity: picket.SeverityLow, Region: "us-east-1",
					Resources: []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: fmt.Sprintf("i-%03d", i)}}}
				tt.modify(i, &f)
				g.Add(&f)
			}
			checkLimits(t, marshalMessage(t, notifiers.RenderGroup(g)))
		})
	}
}
