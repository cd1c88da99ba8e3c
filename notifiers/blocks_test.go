package notifiers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/event"
	"github.com/picketsec/picket/notifiers"
	"github.com/slack-go/slack"
)

// slackNative rebuilds blocks with slack-go's own block types in place of
// notifiers.ContextBlock and notifiers.ActionBlock: the message as it was
// built before those types existed.
func slackNative(tb testing.TB, blocks []slack.Block) []slack.Block {
	tb.Helper()
	if blocks == nil {
		return nil
	}
	out := make([]slack.Block, len(blocks))
	for i, b := range blocks {
		switch b := b.(type) {
		case *notifiers.ContextBlock:
			var elems []slack.MixedElement
			for _, e := range b.Elements {
				elems = append(elems, e)
			}
			out[i] = slack.NewContextBlock(b.BlockID, elems...)
		case *notifiers.ActionBlock:
			var elems []slack.BlockElement
			for _, e := range b.Elements {
				elems = append(elems, e)
			}
			out[i] = slack.NewActionBlock(b.BlockID, elems...)
		case *slack.HeaderBlock, *slack.SectionBlock:
			out[i] = b
		default:
			tb.Fatalf("block %d: got type %T, want one Render writes", i, b)
		}
	}
	return out
}

// checkSameJSON checks that m encodes to the same bytes as the message
// with slack-go's block types, both as json.Marshal of the message and as
// the attachments the Slack sender posts.
func checkSameJSON(tb testing.TB, m notifiers.Message) {
	tb.Helper()
	native := m
	native.Blocks = slackNative(tb, m.Blocks)
	pairs := []struct {
		what      string
		got, want any
	}{
		{"message", m, native},
		{"attachments", attachments(m.Text, m.Color, m.Blocks), attachments(native.Text, native.Color, native.Blocks)},
	}
	for _, p := range pairs {
		got, err := json.Marshal(p.got)
		if err != nil {
			tb.Fatalf("encode %s: %v", p.what, err)
		}
		want, err := json.Marshal(p.want)
		if err != nil {
			tb.Fatalf("encode %s with slack-go's blocks: %v", p.what, err)
		}
		if !bytes.Equal(got, want) {
			tb.Errorf("%s: got\n%s\nwant (slack-go's blocks)\n%s", p.what, got, want)
		}
	}
}

// attachments is what the Slack sender encodes for chat.postMessage.
func attachments(text, color string, blocks []slack.Block) []slack.Attachment {
	return []slack.Attachment{{Color: color, Fallback: text, Blocks: slack.Blocks{BlockSet: blocks}}}
}

// TestBlocksEncodeAsSlackGo renders every golden case (alerts, corpus
// samples, action replies, escalation notices) and checks that the bytes
// sent are exactly those slack-go's own block types give.
func TestBlocksEncodeAsSlackGo(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) { checkSameJSON(t, notifiers.Render(tc.alert)) })
	}
	for _, tc := range replyCases() {
		t.Run("reply_"+tc.name, func(t *testing.T) { checkSameJSON(t, notifiers.RenderActionReply(tc.rec)) })
	}
	f := baseFinding("UnauthorizedAccess:IAMUser/TorIPCaller", "<!channel> & co", userResource("alice"))
	rec := picket.ActionRecord{Request: picket.ActionRequest{ID: "req-esc-9", Kind: picket.ActionEscalate, Actor: dana, At: t1},
		Status: picket.OutcomeSucceeded}
	t.Run("escalation", func(t *testing.T) {
		checkSameJSON(t, notifiers.RenderEscalation(picket.MessageRef{Channel: "C0SEC", TS: "1.2"}, f, rec))
	})
	paths, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			body, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := event.Decode(body)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			for i := range fs {
				checkSameJSON(t, notifiers.Render(picket.Alert{Finding: &fs[i], Channel: "C0SEC"}))
			}
		})
	}
}

// TestSlackPostsSlackGoJSON checks the request itself: the attachments the
// sender posts are byte for byte those slack-go's own block types encode.
func TestSlackPostsSlackGoJSON(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t)
			s := newSender(rec.client(), notifiers.SlackOptions{})
			a := tc.alert
			a.Channel = "C0SEC"
			if _, err := s.sender.PostAlert(context.Background(), a); err != nil {
				t.Fatalf("PostAlert: %v", err)
			}
			reqs := rec.Requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			m := notifiers.Render(a)
			want, err := json.Marshal(attachments(m.Text, m.Color, slackNative(t, m.Blocks)))
			if err != nil {
				t.Fatal(err)
			}
			if got := reqs[0].RawAttach; got != string(want) {
				t.Errorf("got attachments\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// FuzzRender renders alerts built from arbitrary text and checks that the
// message encodes exactly as with slack-go's block types, and keeps within
// Slack's limits with every piece of finding text escaped.
func FuzzRender(f *testing.F) {
	f.Add("API ListBuckets was invoked from a Tor exit node", "A <b>description</b> & more", "UnauthorizedAccess:IAMUser/TorIPCaller",
		"123456789012", "us-east-1", "alice", "i-0abc123def4567890",
		"https://console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=f1", "S0GROUP", uint8(8), false)
	f.Add("<!channel>", "", "", "<!here>", "\xff", "<@U123>", "i-1|x>", "https://evil.example/a|b>c", "<!channel>", uint8(10), true)
	f.Add("", "\u2028\u2029\x00\t\"\\", "T", "", "", "", "", "javascript:alert(1)", "", uint8(0), false)
	f.Fuzz(func(t *testing.T, title, desc, typ, acct, region, user, instance, url, mention string, score uint8, closed bool) {
		fd := &picket.Finding{
			Key: picket.FindingKey("arn:aws:guardduty:us-east-1:123456789012:detector/d/finding/" + title), ID: title + typ,
			Source: picket.SourceGuardDuty, Type: typ, Title: title, Description: desc,
			Severity: picket.SeverityFromGuardDuty(float64(score % 11)), SeverityScore: float64(score % 11),
			Account: acct, Region: region, ConsoleURL: url, RemediationURL: url, ControlID: typ, ComplianceStatus: region,
			FirstSeen: t0, LastSeen: t1, Count: int(score), Sample: closed, CustomAction: desc,
			Resources: []picket.Resource{
				{Kind: picket.ResourceAccessKey, ID: user, UserName: user},
				{Kind: picket.ResourceEC2Instance, ID: instance, ARN: url},
				{Kind: picket.ResourceIAMUser, ID: user, ARN: title},
			},
		}
		if closed {
			fd.WorkflowStatus = picket.WorkflowResolved
		}
		a := picket.Alert{Finding: fd, Channel: "C0SEC", Mention: mention, Enrichment: picket.Enrichment{
			AccountAlias: desc, Missing: []string{title, user},
			User: &picket.UserContext{UserName: user, Groups: []string{title}, AccessKeys: []picket.AccessKey{
				{ID: user, Status: region, CreatedAt: t0.Add(-48 * time.Hour), LastUsedAt: t0, LastService: typ}}},
			Instance: &picket.InstanceContext{InstanceID: instance, Name: title, SecurityGroups: []string{desc}},
		}}
		m := notifiers.Render(a)
		checkSameJSON(t, m)
		checkLimits(t, marshalMessage(t, m))
	})
}
