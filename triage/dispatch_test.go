package triage_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/triage"
)

// burst returns n findings of one type and account, distinct keys and
// instances, at severity sev.
func burst(prefix string, n int, typ string, sev picket.Severity) []picket.Finding {
	out := make([]picket.Finding, n)
	for i := range out {
		f := finding("2026-11-22T08:00:00Z", 1, sev)
		f.Key, f.ID, f.Type = fmt.Sprintf("%s-%03d", prefix, i), fmt.Sprintf("id-%s-%03d", prefix, i), typ
		f.Resources = []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: fmt.Sprintf("i-%s%03d", prefix, i)}}
		out[i] = *f
	}
	return out
}

var testGrouping = triage.Grouping{Enabled: true, MinSize: 3, MaxSeverity: picket.SeverityHigh,
	Window: time.Hour, UpdateInterval: time.Minute, ListSize: 5}

func (r *rig) intake(t *testing.T, fs ...picket.Finding) []picket.Outcome {
	t.Helper()
	out, err := r.p.HandleMessage(context.Background(), "", fs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (r *rig) drain(t *testing.T) {
	t.Helper()
	if err := r.d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestDispatchMostSevereFirst(t *testing.T) {
	r := newRig(t, triage.Grouping{})
	var fs []picket.Finding
	for i, sev := range []picket.Severity{picket.SeverityMedium, picket.SeverityMedium, picket.SeverityHigh, picket.SeverityMedium} {
		f := finding("2026-11-22T08:00:00Z", 1, sev)
		f.Key = fmt.Sprintf("k-%d", i)
		fs = append(fs, *f)
	}
	r.intake(t, fs...)
	r.drain(t)
	var got []string
	for _, c := range r.snd.snapshot() {
		got = append(got, c.key)
	}
	if want := []string{"k-2", "k-0", "k-1", "k-3"}; !slices.Equal(got, want) {
		t.Errorf("post order = %v, want %v (High first, then in arrival order)", got, want)
	}
}

func TestDispatchFoldsBurstIntoOneGroup(t *testing.T) {
	r := newRig(t, testGrouping)
	fs := burst("p", 12, "Recon:EC2/PortProbeUnprotectedPort", picket.SeverityMedium)
	crit := fs[0]
	crit.Key, crit.Severity = "crit-1", picket.SeverityCritical
	r.intake(t, append(fs, crit)...)
	r.drain(t)

	var groups, lists, singles []sendCall
	listed := map[string]int{}
	for _, c := range r.snd.snapshot() {
		switch c.op {
		case "group":
			groups = append(groups, c)
		case "list":
			lists = append(lists, c)
			for _, k := range c.members {
				listed[k]++
			}
		case "post":
			singles = append(singles, c)
		}
	}
	if len(groups) != 1 || groups[0].size != 12 {
		t.Fatalf("group posts = %+v, want one of 12 findings", groups)
	}
	if len(singles) != 1 || singles[0].key != "crit-1" {
		t.Errorf("single posts = %+v, want only the Critical finding (never folded)", singles)
	}
	if len(lists) != 3 {
		t.Errorf("list replies = %d, want 3 (12 members, 5 per reply)", len(lists))
	}
	for _, f := range fs {
		if listed[f.Key] != 1 {
			t.Errorf("finding %s listed %d times, want once", f.Key, listed[f.Key])
		}
	}
	// Every member's record points at the group message.
	rec, _, _ := r.db.Finding(fs[5].Key)
	if rec.Group == "" || rec.Ref.TS != groups[0].ts {
		t.Errorf("member record: group %q ref %+v, want the group's message %s", rec.Group, rec.Ref, groups[0].ts)
	}
	if pending, _ := r.db.Outbox(); len(pending) != 0 {
		t.Errorf("outbox after drain = %+v, want empty", pending)
	}

	// A newer version of a member updates the group, never a new post.
	before := len(r.snd.snapshot())
	upd := fs[3]
	upd.UpdatedAt, upd.RecordState = upd.UpdatedAt.Add(time.Hour), picket.RecordArchived
	if out := r.intake(t, upd); out[0] != picket.OutcomeUpdated {
		t.Fatalf("member update outcome %q, want updated", out[0])
	}
	r.drain(t)
	after := r.snd.snapshot()[before:]
	if len(after) != 1 || after[0].op != "group-update" || after[0].ts != groups[0].ts || !after[0].closed {
		t.Errorf("calls after a member update = %+v, want one update of the group message showing a closed member", after)
	}
}

func TestDispatchLoneFindingPostsItsOwnAlert(t *testing.T) {
	r := newRig(t, testGrouping)
	r.intake(t, burst("solo", 1, "Recon:EC2/PortProbeUnprotectedPort", picket.SeverityMedium)...)
	r.intake(t, burst("two", 2, "Other:Type", picket.SeverityMedium)...)
	r.drain(t)
	for _, c := range r.snd.snapshot() {
		if c.op != "post" {
			t.Errorf("call %+v, want only single posts below the group threshold", c)
		}
	}
	if got := len(r.snd.snapshot()); got != 3 {
		t.Errorf("posts = %d, want 3", got)
	}
}

func TestDispatchLateFindingsJoinTheOpenGroup(t *testing.T) {
	r := newRig(t, testGrouping)
	r.intake(t, burst("a", 4, "Recon:EC2/PortProbeUnprotectedPort", picket.SeverityMedium)...)
	r.drain(t)
	late := burst("b", 2, "Recon:EC2/PortProbeUnprotectedPort", picket.SeverityMedium)
	r.intake(t, late...)
	r.drain(t)
	groups, updates := 0, 0
	listed := map[string]bool{}
	for _, c := range r.snd.snapshot() {
		switch c.op {
		case "group":
			groups++
		case "group-update":
			updates++
			if c.size != 6 {
				t.Errorf("group update shows %d members, want 6", c.size)
			}
		case "post":
			t.Errorf("single post %s: a late finding of an open group's kind must join it", c.key)
		case "list":
			for _, k := range c.members {
				listed[k] = true
			}
		}
	}
	if groups != 1 || updates != 1 {
		t.Errorf("group posts %d, updates %d; want 1 and 1", groups, updates)
	}
	for _, f := range late {
		if !listed[f.Key] {
			t.Errorf("late finding %s not listed in the thread", f.Key)
		}
	}
}

func TestDispatchSettlesInterruptedPosts(t *testing.T) {
	for _, found := range []bool{true, false} {
		t.Run(fmt.Sprintf("found=%v", found), func(t *testing.T) {
			r := newRig(t, triage.Grouping{})
			r.intake(t, *finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh))
			pending, _ := r.db.Outbox()
			post := picket.Post{ID: fmt.Sprintf("a:k1:%d", pending[0].Seq), Kind: picket.PostAlert, Channel: "#security",
				Started: time.Now(), Key: "k1", Seq: pending[0].Seq}
			if err := r.db.BeginPost(post); err != nil {
				t.Fatal(err)
			}
			if found {
				r.snd.found = map[string]picket.MessageRef{post.ID: {Channel: "C1", TS: "1.5"}}
			}
			// A new dispatcher, as after a restart.
			d, err := triage.NewDispatcher(triage.DispatchOptions{Store: r.db, Alerts: r.snd, Groups: r.snd})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Load(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := d.Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
			posts := len(r.snd.snapshot())
			rec, _, _ := r.db.Finding("k1")
			if found && (posts != 0 || rec.Ref.TS != "1.5") {
				t.Errorf("interrupted post found in Slack: %d new posts, ref %+v; want none and the found message", posts, rec.Ref)
			}
			if !found && (posts != 1 || rec.Ref.Zero()) {
				t.Errorf("interrupted post not in Slack: %d posts, ref %+v; want it posted once", posts, rec.Ref)
			}
			if left, _ := r.db.Posts(); len(left) != 0 {
				t.Errorf("posts in flight after settling = %+v, want none", left)
			}
		})
	}
}

func TestDispatchOneChannelNeverDelaysAnother(t *testing.T) {
	r := newRig(t, triage.Grouping{})
	gate := make(chan struct{})
	r.snd.block = map[string]chan struct{}{"#security": gate}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.d.Run(ctx) }()
	defer func() {
		close(gate)
		cancel()
		<-done
	}()
	stuck := finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh)
	r.intake(t, *stuck)
	crit := finding("2026-11-22T08:00:00Z", 1, picket.SeverityCritical)
	crit.Key = "k-crit"
	r.intake(t, *crit)
	deadline := time.Now().Add(5 * time.Second)
	for {
		calls := r.snd.snapshot()
		if len(calls) == 1 && calls[0].channel == "#crit" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls = %+v, want the #crit post while #security is stuck", calls)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDispatchSetsAsideAMessageSlackRefuses(t *testing.T) {
	r := newRig(t, triage.Grouping{})
	r.snd.refuse = map[string]error{"k-bad": picket.Errorf(picket.EINVALID, "Slack refused the message (invalid_blocks).")}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	bad := finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh)
	bad.Key = "k-bad"
	r.intake(t, *bad)
	var later []picket.Finding
	for i := range 3 {
		f := finding("2026-11-22T08:00:00Z", 1, picket.SeverityMedium)
		f.Key = fmt.Sprintf("k-%d", i)
		later = append(later, *f)
	}
	r.intake(t, later...)
	deadline := time.Now().Add(5 * time.Second)
	for len(r.snd.snapshot()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("posts = %+v, want the 3 others posted while the refused one waits", r.snd.snapshot())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The last post is recorded just after Slack saw it: wait for that.
	for {
		pending, _ := r.db.Outbox()
		if len(pending) == 1 && pending[0].Key == "k-bad" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox = %+v, want only the refused finding, kept for a later try", pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDispatchAsksSlackBeforeRetryingAnUncertainPost: a post whose answer
// was lost (a timeout) may have landed; the retry looks for it first.
func TestDispatchAsksSlackBeforeRetryingAnUncertainPost(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, triage.Grouping{})
	r.snd.fail = picket.Errorf(picket.EUNAVAILABLE, "timeout")
	r.intake(t, *finding("2026-11-22T08:00:00Z", 1, picket.SeverityHigh))
	pending, _ := r.db.Outbox()
	if err := r.d.Drain(ctx); err == nil {
		t.Fatal("Drain succeeded although the post failed")
	}
	// It had reached Slack after all.
	r.snd.found = map[string]picket.MessageRef{fmt.Sprintf("a:k1:%d", pending[0].Seq): {Channel: "C1", TS: "7.7"}}
	r.drain(t)
	if n := len(r.snd.snapshot()); n != 0 {
		t.Errorf("posts = %d, want none: the first attempt landed", n)
	}
	if rec, _, _ := r.db.Finding("k1"); rec.Ref.TS != "7.7" {
		t.Errorf("ref = %+v, want the message the first attempt made", rec.Ref)
	}
}

// TestDispatchMemberTurningCriticalGetsItsOwnAlert: Critical findings are
// never folded, also when a grouped finding becomes Critical later.
func TestDispatchMemberTurningCriticalGetsItsOwnAlert(t *testing.T) {
	r := newRig(t, testGrouping)
	fs := burst("p", 4, "Recon:EC2/PortProbeUnprotectedPort", picket.SeverityMedium)
	r.intake(t, fs...)
	r.drain(t)
	before := len(r.snd.snapshot())
	up := fs[2]
	up.UpdatedAt, up.Severity = up.UpdatedAt.Add(time.Hour), picket.SeverityCritical
	if out := r.intake(t, up); out[0] != picket.OutcomeQueued {
		t.Fatalf("outcome %q, want queued for its own alert", out[0])
	}
	r.drain(t)
	var own, groupUpdates int
	for _, c := range r.snd.snapshot()[before:] {
		switch {
		case c.op == "post" && c.key == up.Key:
			own++
			if c.channel != "#crit" || c.mention != "S1" {
				t.Errorf("own alert to %s mentioning %q, want #crit and the on-call group S1", c.channel, c.mention)
			}
		case c.op == "group-update":
			groupUpdates++
			if c.sev != picket.SeverityCritical {
				t.Errorf("group update shows max severity %s, want Critical counted", c.sev)
			}
		}
	}
	if own != 1 || groupUpdates != 1 {
		t.Errorf("own alerts %d, group updates %d; want 1 and 1", own, groupUpdates)
	}
	rec, _, _ := r.db.Finding(up.Key)
	if rec.Group != "" || rec.Ref.Channel != "#crit" {
		t.Errorf("record: group %q ref %+v, want out of the group with its own alert", rec.Group, rec.Ref)
	}
}
