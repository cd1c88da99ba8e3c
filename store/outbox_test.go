package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/picketsec/picket"
)

// queueAll decides that every finding is new and goes to #sec.
func queueAll(f *picket.Finding, prev picket.FindingRecord, found bool) (picket.FindingRecord, picket.Outcome, bool) {
	rec := prev
	rec.Finding = *f
	rec.Route = picket.Route{Channel: "#sec", Rule: "default"}
	if found {
		return rec, picket.OutcomeUpdated, true
	}
	return rec, picket.OutcomeQueued, true
}

func TestIntakeCommitsFindingOutboxAndMessageTogether(t *testing.T) {
	db, _ := openTemp(t)
	at := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	f := picket.Finding{Key: "k1", ID: "id-1", Type: "T", Account: "111111111111", Severity: picket.SeverityLow}
	res, err := db.Intake("m-1", at, []picket.Finding{f}, queueAll)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pending) != 1 || res.Pending[0].Channel != "#sec" || res.Pending[0].Group == "" {
		t.Fatalf("pending = %+v, want one entry for #sec with a group key", res.Pending)
	}
	if done, _ := db.MessageDone("m-1"); !done {
		t.Error("message not marked done by the intake commit")
	}
	// The same message again changes nothing.
	again, err := db.Intake("m-1", at.Add(time.Minute), []picket.Finding{f}, queueAll)
	if err != nil || !again.AlreadyDone || len(again.Pending) != 0 {
		t.Fatalf("redelivered message: %+v, %v; want AlreadyDone and nothing enqueued", again, err)
	}
	// A newer version replaces the entry with a higher Seq and keeps the
	// time it was first queued.
	later, err := db.Intake("m-2", at.Add(time.Hour), []picket.Finding{f}, queueAll)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := db.Outbox()
	if len(out) != 1 || out[0].Seq <= res.Pending[0].Seq || !out[0].Enqueued.Equal(at) || later.Pending[0].Seq != out[0].Seq {
		t.Errorf("outbox = %+v, want one entry with a higher seq than %d, enqueued %s", out, res.Pending[0].Seq, at)
	}
	// Posted at the old Seq: the newer entry stays, to update the message.
	if err := db.AlertPosted("", "k1", res.Pending[0].Seq, picket.MessageRef{Channel: "C1", TS: "1.1"}); err != nil {
		t.Fatal(err)
	}
	if out, _ := db.Outbox(); len(out) != 1 {
		t.Errorf("outbox after posting an older version = %+v, want the newer entry kept", out)
	}
	if err := db.AlertUpdated("k1", later.Pending[0].Seq); err != nil {
		t.Fatal(err)
	}
	if out, _ := db.Outbox(); len(out) != 0 {
		t.Errorf("outbox after the update = %+v, want empty", out)
	}
	rec, _, _ := db.Finding("k1")
	if rec.Ref.TS != "1.1" {
		t.Errorf("ref = %+v, want the posted message", rec.Ref)
	}
	// The post taught the store the id Slack gives #sec: a restart can
	// look for an interrupted post in that channel's history.
	if id, err := db.ChannelID("#sec"); err != nil || id != "C1" {
		t.Errorf("ChannelID(#sec) = %q, %v; want C1", id, err)
	}
	if id, _ := db.ChannelID("#unknown"); id != "#unknown" {
		t.Errorf("ChannelID(#unknown) = %q, want the name back", id)
	}
}

// TestIntakeGroupCommitIsolatesFailures runs many intakes at once, one of
// them invalid: it fails alone and every other commits.
func TestIntakeGroupCommitIsolatesFailures(t *testing.T) {
	db, _ := openTemp(t)
	const n = 64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			f := picket.Finding{Key: fmt.Sprintf("k%02d", i), Type: "T"}
			if i == 17 {
				f.Key = "" // a finding without a key cannot be stored
			}
			_, errs[i] = db.Intake(fmt.Sprintf("m%02d", i), time.Time{}, []picket.Finding{f}, queueAll)
		})
	}
	wg.Wait()
	for i, err := range errs {
		done, _ := db.MessageDone(fmt.Sprintf("m%02d", i))
		if i == 17 {
			if err == nil || done {
				t.Errorf("invalid intake: err %v, done %v; want an error and nothing committed", err, done)
			}
			continue
		}
		if err != nil || !done {
			t.Errorf("intake %d: err %v, done %v; want committed", i, err, done)
		}
	}
	if out, _ := db.Outbox(); len(out) != n-1 {
		t.Errorf("outbox holds %d entries, want %d", len(out), n-1)
	}
}

func TestGroupMembersAndLifecycle(t *testing.T) {
	db, _ := openTemp(t)
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	var fs []picket.Finding
	for i := range 7 {
		fs = append(fs, picket.Finding{Key: fmt.Sprintf("k%d", i), Type: "T", Account: "111111111111",
			Region: []string{"us-east-1", "eu-west-1"}[i%2], Severity: picket.SeverityLow,
			Resources: []picket.Resource{{Kind: picket.ResourceEC2Instance, ID: fmt.Sprintf("i-%d", i)}}})
	}
	res, err := db.Intake("m", now, fs, queueAll)
	if err != nil {
		t.Fatal(err)
	}
	g, joined, err := db.FormGroup(picket.Group{Channel: "#sec", Key: res.Pending[0].Group}, res.Pending[:5], now)
	if err != nil {
		t.Fatal(err)
	}
	if g.ID == "" || len(joined) != 5 || g.Members != 5 || g.BySeverity[picket.SeverityLow] != 5 {
		t.Fatalf("group %+v joined %v, want 5 Low members", g, joined)
	}
	if len(g.Regions) != 2 || g.Regions[0] != "eu-west-1" || len(g.Sample) != 5 || g.Sample[0] != "i-0" {
		t.Errorf("summary regions %v sample %v, want both regions sorted and the members' instances", g.Regions, g.Sample)
	}
	g, err = db.GroupPosted("g-post", g.ID, picket.MessageRef{Channel: "C1", TS: "2.0"}, g.Version, now)
	if err != nil {
		t.Fatal(err)
	}
	// Joining later: the new members get the group's message at once.
	g, joined, err = db.FormGroup(picket.Group{ID: g.ID}, res.Pending[5:], now.Add(time.Minute))
	if err != nil || len(joined) != 2 || g.Members != 7 || g.Shown >= g.Version {
		t.Fatalf("join: %+v %v %v; want 7 members and a version to show", g, joined, err)
	}
	rec, _, _ := db.Finding("k6")
	if rec.Group != g.ID || rec.Ref.TS != "2.0" {
		t.Errorf("late member record: group %q ref %+v, want %s and the group message", rec.Group, rec.Ref, g.ID)
	}
	members, err := db.GroupMembers(g.ID, 3, 10)
	if err != nil || len(members) != 4 || members[0].Finding.Key != "k3" || members[3].Finding.Key != "k6" {
		t.Fatalf("members from 3 = %d (%v), want k3..k6 in joining order", len(members), err)
	}
	if out, _ := db.Outbox(); len(out) != 0 {
		t.Errorf("outbox = %+v, want members taken out of it", out)
	}
	// A group with work stays open; once shown and listed it can close.
	if err := db.CloseGroup(g.ID); err != nil {
		t.Fatal(err)
	}
	if open, _ := db.OpenGroups(); len(open) != 1 {
		t.Fatalf("open groups = %d, want the group kept open while it has work", len(open))
	}
	if _, err := db.GroupShown(g.ID, g.Version, now); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GroupListed("", g.ID, 7); err != nil {
		t.Fatal(err)
	}
	if err := db.CloseGroup(g.ID); err != nil {
		t.Fatal(err)
	}
	if open, _ := db.OpenGroups(); len(open) != 0 {
		t.Errorf("open groups after close = %d, want 0", len(open))
	}
}
