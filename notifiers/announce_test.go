package notifiers_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	picket "github.com/picketsec/picket"
	"github.com/picketsec/picket/notifiers"
)

func TestSlackAnnounceActionRepliesInThread(t *testing.T) {
	tests := []struct {
		name string
		rec  picket.ActionRecord
		want []string // in the attachments
	}{
		{"pending", pendingQuarantine(), []string{notifiers.ActionApprove, notifiers.ActionReject, `"value":"req-quar-1"`}},
		{"partial", partialQuarantine(), []string{"request id `5f0c0001-aaaa-4bbb-8ccc-EXAMPLE`", "*What to do:*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t)
			s := newSender(rec.client(), notifiers.SlackOptions{})
			ref := picket.MessageRef{Channel: "C0SEC", TS: "1700000000.000100"}
			if err := s.sender.AnnounceAction(context.Background(), ref, tt.rec); err != nil {
				t.Fatalf("AnnounceAction: %v", err)
			}
			reqs := rec.Requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			got, want := reqs[0], notifiers.RenderActionReply(tt.rec)
			if got.Method != "chat.postMessage" || got.Channel != ref.Channel || got.ThreadTS != ref.TS {
				t.Errorf("got %s to %q in thread %q, want chat.postMessage to %s in thread %s",
					got.Method, got.Channel, got.ThreadTS, ref.Channel, ref.TS)
			}
			if got.Text != want.Text {
				t.Errorf("got text %q, want %q", got.Text, want.Text)
			}
			if len(got.Attachments) != 1 || got.Attachments[0].Color != want.Color {
				t.Fatalf("got attachments %s, want one with colour %s", got.RawAttach, want.Color)
			}
			wantBlocks, err := json.Marshal(want.Blocks)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got.RawAttach, string(wantBlocks)) {
				t.Errorf("got attachments %s, want them to hold the rendered reply %s", got.RawAttach, wantBlocks)
			}
			for _, w := range tt.want {
				if !strings.Contains(jsonUnescaper.Replace(got.RawAttach), w) {
					t.Errorf("got no %q in the request", w)
				}
			}
		})
	}
}

func TestSlackAnnounceActionZeroRef(t *testing.T) {
	rec := newRecorder(t)
	s := newSender(rec.client(), notifiers.SlackOptions{})
	for _, ref := range []picket.MessageRef{{}, {Channel: "C0SEC"}, {TS: "1700000000.000100"}} {
		err := s.sender.AnnounceAction(context.Background(), ref, disableRecord())
		if got := picket.ErrorCode(err); got != picket.ENOTFOUND {
			t.Errorf("ref %+v: got code %q (%v), want %q", ref, got, err, picket.ENOTFOUND)
		}
	}
	if got := len(rec.Requests()); got != 0 {
		t.Errorf("got %d requests, want 0", got)
	}
}

// TestSlackAnnounceSharesThePace checks that a thread reply waits its turn
// behind the alert it follows in the same channel, and is retried like an
// alert.
func TestSlackAnnounceSharesThePace(t *testing.T) {
	rec := newRecorder(t, okReply, rateLimitedReply)
	s := newSender(rec.client(), notifiers.SlackOptions{})
	s.clock.advance = false
	ctx := context.Background()
	ref, err := s.sender.PostAlert(ctx, sampleAlert("C0SEC"))
	if err != nil {
		t.Fatalf("PostAlert: %v", err)
	}
	if err := s.sender.AnnounceAction(ctx, ref, disableRecord()); err != nil {
		t.Fatalf("AnnounceAction: %v", err)
	}
	// The reply waits 1s behind the alert, is rate limited, and its retry
	// waits out the Retry-After of 1s.
	if got, want := s.clock.Sleeps(), []time.Duration{time.Second, 2 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("got sleeps %v, want %v", got, want)
	}
	reqs := rec.Requests()
	if len(reqs) != 3 {
		t.Fatalf("got %d requests, want 3 (alert, reply, retried reply)", len(reqs))
	}
	for _, r := range reqs[1:] {
		if r.ThreadTS != ref.TS {
			t.Errorf("got thread_ts %q, want %q", r.ThreadTS, ref.TS)
		}
	}
	if got := s.retries.Value(); got != 1 {
		t.Errorf("got %d retries, want 1", got)
	}
}

func TestSlackPostEscalation(t *testing.T) {
	rec := newRecorder(t)
	s := newSender(rec.client(), notifiers.SlackOptions{})
	f := baseFinding("UnauthorizedAccess:IAMUser/TorIPCaller", "Tor <!channel> caller", userResource("alice"))
	esc := disableRecord()
	esc.Request.Kind = picket.ActionEscalate
	esc.Result.Summary = "Started Detective investigation 0001: https://console.aws.amazon.com/detective/home?region=us-east-1#entities/AwsUser/alice"
	ref := picket.MessageRef{Channel: "C0SEC", TS: "1700000000.000100"}

	if err := s.sender.PostEscalation(context.Background(), "#sec-escalations", ref, f, esc); err != nil {
		t.Fatalf("PostEscalation: %v", err)
	}
	reqs := rec.Requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if got.Method != "chat.postMessage" || got.Channel != "#sec-escalations" || got.ThreadTS != "" {
		t.Errorf("got %s to %q in thread %q, want chat.postMessage to #sec-escalations, not in a thread", got.Method, got.Channel, got.ThreadTS)
	}
	if want := ":rotating_light: <@U0DANA123> escalated: *High* Tor &lt;!channel&gt; caller in `123456789012`/`us-east-1`"; got.Text != want {
		t.Errorf("got text %q, want %q", got.Text, want)
	}
	attach := jsonUnescaper.Replace(got.RawAttach)
	for _, w := range []string{"<#C0SEC>", "<https://console.aws.amazon.com/detective/home?region=us-east-1#entities/AwsUser/alice|Detective profile>",
		"Started Detective investigation 0001"} {
		if !strings.Contains(attach, w) {
			t.Errorf("got no %q in the attachments %s", w, attach)
		}
	}
	if strings.Contains(got.Text+attach, "<!channel>") {
		t.Errorf("got an unescaped <!channel> in the request")
	}

	err := s.sender.PostEscalation(context.Background(), "", ref, f, esc)
	if code := picket.ErrorCode(err); code != picket.EINVALID {
		t.Errorf("no channel: got code %q (%v), want %q", code, err, picket.EINVALID)
	}
	if got := len(rec.Requests()); got != 1 {
		t.Errorf("got %d requests, want no more after the refused post", got)
	}
}

// jsonUnescaper undoes the HTML escapes of encoding/json, for reading the
// attachments as Slack does.
var jsonUnescaper = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")
