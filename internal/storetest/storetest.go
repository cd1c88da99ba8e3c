// Package storetest is the conformance suite of picket.Store: every
// guarantee the rest of Picket relies on, as a test that runs against each
// implementation (store.DB on bbolt, dynamo.Store on DynamoDB).
package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picketsec/picket"
)

// Factory opens stores for the suite.
type Factory struct {
	// Open returns a new, empty store; the factory closes it in t's
	// cleanup.
	Open func(t *testing.T) picket.Store
	// Second returns another client of the store first (another
	// connection, as a second process would have), or nil when the
	// implementation allows one client only: then the tests of several
	// clients use first twice.
	Second func(t *testing.T, first picket.Store) picket.Store
}

// Run runs every conformance test against stores from f.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"FindingRoundTrip", testFindingRoundTrip},
		{"IntakeQueuesAndDedups", testIntakeQueues},
		{"IntakeVersionChecked", testIntakeVersionChecked},
		{"OutboxAckBySeq", testOutboxAck},
		{"Groups", testGroups},
		{"Posts", testPosts},
		{"ClaimOneWinner", testClaimOneWinner},
		{"ClaimReleased", testClaimReleased},
		{"DigestSlotOnce", testDigestSlotOnce},
		{"AuditConcurrentWriters", testAuditConcurrent},
		{"AuditExportMatchesChain", testAuditExport},
		{"Suppressions", testSuppressions},
		{"ProcessedMessages", testProcessedMessages},
		{"AutoRunAddedOnce", testAutoRunOnce},
		{"AutoSwitch", testAutoSwitch},
		{"LeaseOneHolder", testLeaseOneHolder},
		{"PlanTakenOnce", testPlanTakenOnce},
		{"ImportRoundTrip", testImportRoundTrip},
		{"ImportRefusesStoreInUse", testImportRefusesStoreInUse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, f) })
	}
}

func second(t *testing.T, f Factory, s picket.Store) picket.Store {
	t.Helper()
	if f.Second == nil {
		return s
	}
	return f.Second(t, s)
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func finding(key string, sev picket.Severity, updated time.Time) picket.Finding {
	return picket.Finding{Key: key, ID: "id-" + key, Source: picket.SourceGuardDuty, Type: "Recon:EC2/PortProbeUnprotectedPort",
		Title: "probe <" + key + ">", Severity: sev, Account: "111122223333", Region: "eu-west-1", UpdatedAt: updated,
		Resources: []picket.Resource{{ID: "i-" + key}}}
}

// decide is a small triage: a newer version is stored and shown in
// #sec; the same or an older one is a duplicate.
func decide(f *picket.Finding, prev picket.FindingRecord, found bool) (picket.FindingRecord, picket.Outcome, bool) {
	if found && !f.UpdatedAt.After(prev.Finding.UpdatedAt) {
		prev.Deliveries++
		return prev, picket.OutcomeDuplicate, false
	}
	rec := prev
	rec.Finding, rec.Route = *f, picket.Route{Channel: "#sec"}
	rec.Deliveries++
	if !found {
		return rec, picket.OutcomeQueued, true
	}
	return rec, picket.OutcomeUpdated, true
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testFindingRoundTrip(t *testing.T, fac Factory) {
	s := fac.Open(t)
	f := finding("k1", picket.SeverityHigh, t0)
	f.Raw = []byte(`{"a":"<b>"}`)
	must(t, s.PutFinding(picket.FindingRecord{Finding: f, FirstReceived: t0.In(time.FixedZone("x", 3600)), Deliveries: 1}))
	rec, ok, err := s.Finding("k1")
	must(t, err)
	if !ok || rec.Finding.Title != f.Title || !bytes.Equal(rec.Finding.Raw, f.Raw) || rec.FirstReceived.Location() != time.UTC {
		t.Fatalf("got %+v %v, want the record back with times in UTC", rec, ok)
	}
	if got, ok, err := s.FindingByID("id-k1"); err != nil || !ok || got.Finding.Key != "k1" {
		t.Errorf("FindingByID: got %q %v %v, want k1", got.Finding.Key, ok, err)
	}
	if _, ok, err := s.Finding("nope"); err != nil || ok {
		t.Errorf("missing finding: got ok %v err %v, want false nil", ok, err)
	}
	var recs []picket.FindingRecord
	for _, k := range []string{"k2", "k3", "k4"} {
		recs = append(recs, picket.FindingRecord{Finding: finding(k, picket.SeverityLow, t0)})
	}
	must(t, s.PutFindings(recs))
	var keys []string
	must(t, s.Findings(func(r picket.FindingRecord) error { keys = append(keys, r.Finding.Key); return nil }))
	slices.Sort(keys)
	if want := []string{"k1", "k2", "k3", "k4"}; !slices.Equal(keys, want) {
		t.Errorf("Findings: got %v, want %v", keys, want)
	}
	var raw int
	must(t, s.FindingSummaries(func(r picket.FindingRecord) error { raw += len(r.Finding.Raw); return nil }))
	if raw != 0 {
		t.Errorf("FindingSummaries: got %d bytes of Raw, want none", raw)
	}
	if n, err := s.CountFindings(); err != nil || n != 4 {
		t.Errorf("CountFindings: got %d %v, want 4", n, err)
	}
	if err := s.PutFinding(picket.FindingRecord{}); err == nil {
		t.Error("PutFinding without a key: got nil error, want one")
	}
}

func testIntakeQueues(t *testing.T, fac Factory) {
	s := fac.Open(t)
	fs := []picket.Finding{finding("a", picket.SeverityHigh, t0), finding("b", picket.SeverityLow, t0)}
	res, err := s.Intake("m1", t0, fs, decide)
	must(t, err)
	if res.AlreadyDone || len(res.Pending) != 2 || res.Outcomes[0] != picket.OutcomeQueued {
		t.Fatalf("first intake: got %+v, want two queued", res)
	}
	again, err := s.Intake("m1", t0, fs, decide)
	must(t, err)
	if !again.AlreadyDone {
		t.Errorf("redelivered message: got %+v, want AlreadyDone", again)
	}
	// The same findings in another message are duplicates: nothing new
	// queued, the entries stay as they were.
	dup, err := s.Intake("m2", t0, fs, decide)
	must(t, err)
	if len(dup.Pending) != 0 || dup.Outcomes[0] != picket.OutcomeDuplicate {
		t.Errorf("duplicate: got %+v, want no pending", dup)
	}
	out, err := s.Outbox()
	must(t, err)
	if len(out) != 2 || out[0].Key != "a" || out[1].Key != "b" || out[0].Channel != "#sec" || out[0].Group == "" {
		t.Fatalf("outbox: got %+v, want a and b in #sec, in key order, groupable", out)
	}
	// A newer version replaces the entry with a higher Seq and keeps
	// the first Enqueued time.
	upd, err := s.Intake("m3", t0.Add(time.Minute), []picket.Finding{finding("a", picket.SeverityCritical, t0.Add(time.Hour))}, decide)
	must(t, err)
	if len(upd.Pending) != 1 || upd.Pending[0].Seq <= out[0].Seq || !upd.Pending[0].Enqueued.Equal(out[0].Enqueued) ||
		upd.Pending[0].Severity != picket.SeverityCritical {
		t.Errorf("update: got %+v after %+v, want a higher Seq, the first Enqueued, Critical", upd.Pending, out[0])
	}
	if done, err := s.MessageDone("m3"); err != nil || !done {
		t.Errorf("MessageDone(m3): got %v %v, want true", done, err)
	}
}

func testIntakeVersionChecked(t *testing.T, fac Factory) {
	s := fac.Open(t)
	s2 := second(t, fac, s)
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		st := s
		if i%2 == 1 {
			st = s2
		}
		wg.Go(func() {
			// Every writer delivers a newer version: each must see the
			// one before it, so none is lost.
			_, err := st.Intake(fmt.Sprintf("m%d", i), t0, []picket.Finding{finding("k", picket.SeverityMedium, t0.Add(time.Duration(i+1)*time.Second))},
				func(f *picket.Finding, prev picket.FindingRecord, found bool) (picket.FindingRecord, picket.Outcome, bool) {
					rec := prev
					rec.Deliveries++
					if !found || f.UpdatedAt.After(prev.Finding.UpdatedAt) {
						rec.Finding = *f
					}
					rec.Route.Channel = "#sec"
					return rec, picket.OutcomeUpdated, true
				})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	rec, _, err := s.Finding("k")
	must(t, err)
	if rec.Deliveries != writers || !rec.Finding.UpdatedAt.Equal(t0.Add(writers*time.Second)) {
		t.Errorf("got %d deliveries, version %s; want %d and the newest", rec.Deliveries, rec.Finding.UpdatedAt, writers)
	}
	out, err := s.Outbox()
	must(t, err)
	if len(out) != 1 {
		t.Errorf("outbox: got %d entries, want one per finding", len(out))
	}
}

func testOutboxAck(t *testing.T, fac Factory) {
	s := fac.Open(t)
	res, err := s.Intake("", t0, []picket.Finding{finding("a", picket.SeverityHigh, t0), finding("b", picket.SeverityHigh, t0)}, decide)
	must(t, err)
	pa, pb := res.Pending[0], res.Pending[1]
	ref := picket.MessageRef{Channel: "C123", TS: "1.1"}
	post := picket.Post{ID: "a:a:1", Kind: picket.PostAlert, Channel: "#sec", Key: "a", Seq: pa.Seq, Started: t0}
	must(t, s.BeginPost(post))
	// A newer version of b arrives while its alert is in flight: the
	// acknowledgement of the old Seq must leave the new entry.
	upd, err := s.Intake("", t0, []picket.Finding{finding("b", picket.SeverityHigh, t0.Add(time.Hour))}, decide)
	must(t, err)
	must(t, s.AlertPosted(post.ID, "a", pa.Seq, ref))
	must(t, s.StartAlertPosted("", "b", pb.Seq, picket.MessageRef{Channel: "C123", TS: "2.2"})())
	out, err := s.Outbox()
	must(t, err)
	if len(out) != 1 || out[0].Key != "b" || out[0].Seq != upd.Pending[0].Seq {
		t.Fatalf("outbox after acks: got %+v, want only b's newer entry", out)
	}
	if posts, err := s.Posts(); err != nil || len(posts) != 0 {
		t.Errorf("posts after AlertPosted: got %v %v, want none", posts, err)
	}
	rec, _, err := s.Finding("a")
	must(t, err)
	if rec.Ref != ref {
		t.Errorf("ref: got %+v, want %+v", rec.Ref, ref)
	}
	if id, err := s.ChannelID("#sec"); err != nil || id != "C123" {
		t.Errorf("ChannelID: got %q %v, want C123", id, err)
	}
	must(t, s.AlertUpdated("b", out[0].Seq))
	if out, err := s.Outbox(); err != nil || len(out) != 0 {
		t.Errorf("outbox after AlertUpdated: got %+v %v, want empty", out, err)
	}
	if err := s.AlertPosted("", "nope", 1, ref); err == nil {
		t.Error("AlertPosted for a missing finding: got nil, want an error")
	}
}

func testGroups(t *testing.T, fac Factory) {
	s := fac.Open(t)
	var fs []picket.Finding
	for i := range 4 {
		fs = append(fs, finding(fmt.Sprintf("g%d", i), picket.SeverityLow, t0))
	}
	res, err := s.Intake("", t0, fs, decide)
	must(t, err)
	g, joined, err := s.FormGroup(picket.Group{Channel: "#sec", Key: res.Pending[0].Group}, res.Pending[:3], t0)
	must(t, err)
	if g.ID == "" || g.Members != 3 || len(joined) != 3 || !g.Work() {
		t.Fatalf("FormGroup: got %+v %v, want a new group of 3 with work", g, joined)
	}
	// Already in a group: not again.
	g2, joined2, err := s.FormGroup(picket.Group{Channel: "#sec"}, res.Pending[:1], t0)
	must(t, err)
	if g2.ID != "" || len(joined2) != 0 {
		t.Errorf("second FormGroup of a member: got %+v %v, want no group", g2, joined2)
	}
	// The same members again into their own group, as a replica that
	// takes the channel over with an outbox read from before they joined
	// does: nobody joins again, nobody is listed twice.
	again, joined3, err := s.FormGroup(g, res.Pending[:3], t0)
	must(t, err)
	if again.Members != 3 || len(joined3) != 0 {
		t.Errorf("FormGroup of members into their own group: got %d members, joined %v; want 3, none", again.Members, joined3)
	}
	if all, err := s.GroupMembers(g.ID, 0, 10); err != nil || len(all) != 3 {
		t.Errorf("GroupMembers after a stale FormGroup: got %d, %v; want the 3 members once", len(all), err)
	}
	out, err := s.Outbox()
	must(t, err)
	if len(out) != 1 || out[0].Key != "g3" {
		t.Errorf("outbox: got %+v, want only g3 (members are shown by the group)", out)
	}
	open, err := s.OpenGroups()
	must(t, err)
	if len(open) != 1 || open[0].ID != g.ID {
		t.Fatalf("OpenGroups: got %+v, want %s", open, g.ID)
	}
	ref := picket.MessageRef{Channel: "C1", TS: "9.9"}
	must(t, s.BeginPost(picket.Post{ID: "grp", Kind: picket.PostGroup, Group: g.ID}))
	g, err = s.GroupPosted("grp", g.ID, ref, g.Version, t0)
	must(t, err)
	members, err := s.GroupMembers(g.ID, 1, 10)
	must(t, err)
	if len(members) != 2 || members[0].Finding.Key != "g1" || members[0].Ref != ref || members[0].Group != g.ID {
		t.Fatalf("GroupMembers from 1: got %+v, want g1, g2 with the group's ref", members)
	}
	// A member's update changes the group's summary.
	upd, err := s.Intake("", t0, []picket.Finding{finding("g0", picket.SeverityMedium, t0.Add(time.Hour))}, decide)
	must(t, err)
	if len(upd.Groups) != 1 || upd.Groups[0].BySeverity[picket.SeverityMedium] != 1 || upd.Groups[0].Version <= g.Version {
		t.Errorf("member update: got groups %+v, want the group's counts changed", upd.Groups)
	}
	g, err = s.GroupShown(g.ID, upd.Groups[0].Version, t0)
	must(t, err)
	must(t, s.CloseGroup(g.ID))
	if open, _ := s.OpenGroups(); len(open) != 1 {
		t.Errorf("CloseGroup with members unlisted: got %d open, want it kept open", len(open))
	}
	g, err = s.GroupListed("", g.ID, 3)
	must(t, err)
	must(t, s.CloseGroup(g.ID))
	if open, _ := s.OpenGroups(); len(open) != 0 {
		t.Errorf("CloseGroup without work: got %d open, want 0", len(open))
	}
	if got, ok, err := s.Group(g.ID); err != nil || !ok || got.Listed != 3 {
		t.Errorf("Group: got %+v %v %v, want listed 3", got, ok, err)
	}
}

func testPosts(t *testing.T, fac Factory) {
	s := fac.Open(t)
	must(t, s.BeginPost(picket.Post{ID: "p1", Kind: picket.PostAlert, Channel: "#sec", Started: t0}))
	must(t, s.BeginPost(picket.Post{ID: "p2", Kind: picket.PostGroup, Channel: "#sec", Started: t0}))
	must(t, s.AbandonPost("p1"))
	posts, err := s.Posts()
	must(t, err)
	if len(posts) != 1 || posts[0].ID != "p2" || !posts[0].Started.Equal(t0) {
		t.Errorf("got %+v, want p2", posts)
	}
	if err := s.BeginPost(picket.Post{}); err == nil {
		t.Error("post without id: got nil, want an error")
	}
}

func claimRec(id string, status picket.ActionOutcome) picket.ActionRecord {
	return picket.ActionRecord{Status: status, Request: picket.ActionRequest{ID: id, Kind: picket.ActionSuppress,
		FindingKey: "fk", Target: picket.Resource{ID: "r1"}}}
}

func testClaimOneWinner(t *testing.T, fac Factory) {
	s := fac.Open(t)
	s2 := second(t, fac, s)
	const n = 12
	var wins atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	holders := make(chan string, n)
	for i := range n {
		st := s
		if i%2 == 1 {
			st = s2
		}
		wg.Go(func() {
			h, ok, err := st.ClaimAction(claimRec(fmt.Sprintf("r%02d", i), picket.StatusRunning))
			if ok {
				wins.Add(1)
			} else if err == nil {
				holders <- h.Request.ID
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	close(holders)
	for err := range errs {
		must(t, err)
	}
	if wins.Load() != 1 {
		t.Fatalf("got %d winners of one claim, want exactly 1", wins.Load())
	}
	var winner string
	for h := range holders {
		if winner == "" {
			winner = h
		}
		if h != winner {
			t.Errorf("losers named holders %s and %s, want one", winner, h)
		}
	}
	acts, err := s.ActionsForFinding("fk")
	must(t, err)
	if len(acts) != 1 || acts[0].Request.ID != winner {
		t.Errorf("ActionsForFinding: got %d records, want only the winner %s (losers store nothing)", len(acts), winner)
	}
	// A retry of the winner is refused too, naming itself.
	h, ok, err := s2.ClaimAction(claimRec(winner, picket.StatusRunning))
	if err != nil || ok || h.Request.ID != winner {
		t.Errorf("retried claim: got %s %v %v, want refused naming %s", h.Request.ID, ok, err, winner)
	}
	if run, err := s.RunningActions(); err != nil || len(run) != 1 {
		t.Errorf("RunningActions: got %d %v, want 1", len(run), err)
	}
}

func testClaimReleased(t *testing.T, fac Factory) {
	s := fac.Open(t)
	_, ok, err := s.ClaimAction(claimRec("r1", picket.OutcomePending))
	must(t, err)
	if !ok {
		t.Fatal("first claim refused")
	}
	rec := claimRec("r1", picket.OutcomePending)
	rec.ApproveBy = t0
	must(t, s.PutAction(rec))
	if p, err := s.PendingActions(); err != nil || len(p) != 1 {
		t.Errorf("PendingActions: got %d %v, want 1", len(p), err)
	}
	if _, ok, _ := s.ClaimAction(claimRec("r2", picket.StatusRunning)); ok {
		t.Fatal("claim held by a pending record: got ok, want refused")
	}
	must(t, s.PutAction(claimRec("r1", picket.OutcomeFailed)))
	if _, ok, err := s.ClaimAction(claimRec("r3", picket.StatusRunning)); err != nil || !ok {
		t.Fatalf("claim after the holder failed: got %v %v, want it taken", ok, err)
	}
	all, err := s.AllActions()
	must(t, err)
	var ids []string
	for _, a := range all {
		ids = append(ids, a.Request.ID)
	}
	if want := []string{"r1", "r3"}; !slices.Equal(ids, want) {
		t.Errorf("AllActions: got %v, want %v", ids, want)
	}
	acts, err := s.ActionsForFinding("fk")
	must(t, err)
	if len(acts) != 2 || acts[0].Request.ID != "r1" || acts[1].Request.ID != "r3" {
		t.Errorf("ActionsForFinding: got %d, want r1 then r3", len(acts))
	}
	if got, ok, err := s.Action("r1"); err != nil || !ok || got.Status != picket.OutcomeFailed {
		t.Errorf("Action: got %+v %v %v", got.Status, ok, err)
	}
}

func testDigestSlotOnce(t *testing.T, fac Factory) {
	s := fac.Open(t)
	s2 := second(t, fac, s)
	const n = 10
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		st := s
		if i%2 == 1 {
			st = s2
		}
		wg.Go(func() {
			ok, err := st.ClaimDigestRun("daily", t0)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("got %d claims of one slot, want exactly 1", wins.Load())
	}
	if ok, _ := s.ClaimDigestRun("daily", t0.Add(-time.Hour)); ok {
		t.Error("claim of an earlier slot: got true, want false")
	}
	must(t, s.ReleaseDigestRun("daily", t0, t0.Add(-24*time.Hour)))
	if last, ok, err := s.LastDigestRun("daily"); err != nil || !ok || !last.Equal(t0.Add(-24*time.Hour)) {
		t.Errorf("after release: got %s %v %v, want the previous slot", last, ok, err)
	}
	if ok, _ := s.ClaimDigestRun("daily", t0); !ok {
		t.Error("claim after release: got false, want true")
	}
	must(t, s.ReleaseDigestRun("daily", t0.Add(-time.Hour), time.Time{})) // not the last: no change
	if last, _, _ := s.LastDigestRun("daily"); !last.Equal(t0) {
		t.Errorf("release of another slot changed the last run to %s", last)
	}
	for d := range 3 {
		must(t, s.PutDigestSnapshot("daily", picket.DigestSnapshot{Day: t0.AddDate(0, 0, d).Add(3 * time.Hour), PostureScore: float64(d)}))
	}
	snaps, err := s.DigestSnapshots("daily", t0, t0.AddDate(0, 0, 2))
	must(t, err)
	if len(snaps) != 2 || snaps[1].PostureScore != 1 {
		t.Errorf("DigestSnapshots: got %+v, want days 0 and 1", snaps)
	}
	prev, ok, err := s.PreviousDigestSnapshot("daily", t0.AddDate(0, 0, 2))
	must(t, err)
	if !ok || prev.PostureScore != 1 {
		t.Errorf("PreviousDigestSnapshot: got %+v %v, want day 1", prev, ok)
	}
	if _, ok, _ := s.PreviousDigestSnapshot("daily", t0); ok {
		t.Error("PreviousDigestSnapshot before the first: got one, want none")
	}
}

func testAuditConcurrent(t *testing.T, fac Factory) {
	s := fac.Open(t)
	s2 := second(t, fac, s)
	const writers, each = 4, 8
	var wg sync.WaitGroup
	for w := range writers {
		st := s
		if w%2 == 1 {
			st = s2
		}
		wg.Go(func() {
			for i := range each {
				if _, err := st.Audit(picket.AuditEntry{Event: "executed", Actor: picket.Actor{ID: fmt.Sprintf("U%d", w)}, Detail: fmt.Sprint(i)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	c, err := s2.VerifyAuditChain()
	must(t, err)
	if c.Entries != writers*each || c.Head.Seq != writers*each {
		t.Fatalf("got %d entries, head %d; want %d, one chain", c.Entries, c.Head.Seq, writers*each)
	}
	head, err := s.AuditHead()
	must(t, err)
	if head.Seq != c.Head.Seq || head.Hash != c.Head.Hash {
		t.Errorf("AuditHead: got %+v, want %+v", head, c.Head)
	}
	recent, err := s.RecentAudit(3)
	must(t, err)
	if len(recent) != 3 || recent[2].Seq != writers*each || recent[0].Seq != writers*each-2 {
		t.Errorf("RecentAudit(3): got %d entries ending %d, want the newest three, oldest first", len(recent), recent[len(recent)-1].Seq)
	}
	e, ok, err := s.AuditAt(5)
	must(t, err)
	if !ok || e.Seq != 5 || e.PrevHash == "" {
		t.Errorf("AuditAt(5): got %+v %v", e, ok)
	}
}

func testAuditExport(t *testing.T, fac Factory) {
	s := fac.Open(t)
	for i := range 3 {
		_, err := s.Audit(picket.AuditEntry{Time: t0.Add(time.Duration(i) * time.Hour), Event: "requested", Detail: "a <b> & \xff"})
		must(t, err)
	}
	var buf bytes.Buffer
	n, err := s.ExportAudit(&buf, t0.Add(time.Hour))
	must(t, err)
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if n != 2 || len(lines) != 2 || !bytes.Contains(lines[0], []byte(`"seq":2`)) || !bytes.HasSuffix(lines[1], []byte(`"}`)) {
		t.Errorf("export since entry 2: got %d %q", n, buf.String())
	}
}

func testSuppressions(t *testing.T, fac Factory) {
	s := fac.Open(t)
	must(t, s.PutSuppression(picket.Suppression{ID: "b", Created: t0, Type: "T"}))
	must(t, s.PutSuppression(picket.Suppression{ID: "a", Created: t0.Add(time.Hour)}))
	must(t, s.PutSuppression(picket.Suppression{ID: "c", Created: t0}))
	must(t, s.PutSuppression(picket.Suppression{ID: "b", Created: t0, Type: "T", Lifted: t0.Add(time.Minute)}))
	got, err := s.Suppressions()
	must(t, err)
	var ids []string
	for _, sup := range got {
		ids = append(ids, sup.ID)
	}
	if want := []string{"b", "c", "a"}; !slices.Equal(ids, want) || got[0].Lifted.IsZero() {
		t.Errorf("got %v (b lifted: %v), want %v with b's replacement", ids, !got[0].Lifted.IsZero(), want)
	}
	if err := s.PutSuppression(picket.Suppression{}); err == nil {
		t.Error("suppression without id: got nil, want an error")
	}
}

func testProcessedMessages(t *testing.T, fac Factory) {
	s := fac.Open(t)
	must(t, s.MarkMessageDone("old", t0.Add(-2*time.Hour)))
	must(t, s.MarkMessageDone("new", t0))
	for id, want := range map[string]bool{"old": true, "new": true, "never": false} {
		if got, err := s.MessageDone(id); err != nil || got != want {
			t.Errorf("MessageDone(%s): got %v %v, want %v", id, got, err, want)
		}
	}
	n, err := s.PruneMessages(t0.Add(-time.Hour))
	must(t, err)
	if n != 1 {
		t.Errorf("PruneMessages: got %d, want 1", n)
	}
	if done, _ := s.MessageDone("old"); done {
		t.Error("pruned message: still done")
	}
	if done, _ := s.MessageDone("new"); !done {
		t.Error("newer message: pruned")
	}
	// A pruned message's redelivery runs intake again; its finding is a
	// duplicate, so nothing is queued twice.
	fs := []picket.Finding{finding("x", picket.SeverityHigh, t0)}
	_, err = s.Intake("old", t0, fs, decide)
	must(t, err)
	res, err := s.Intake("old2", t0, fs, decide)
	must(t, err)
	if len(res.Pending) != 0 {
		t.Errorf("redelivered finding: got %d pending, want 0", len(res.Pending))
	}
}

// testAutoRunOnce: of concurrent adds of one automatic run from two
// clients exactly one stores it; open runs are those not announced; runs
// are listed by when they were queued.
func testAutoRunOnce(t *testing.T, fac Factory) {
	s := fac.Open(t)
	s2 := second(t, fac, s)
	run := picket.AutoRun{ID: "rule-a/k1", Rule: "rule-a", FindingKey: "k1", Queued: t0}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 10 {
		st := s
		if i%2 == 1 {
			st = s2
		}
		wg.Go(func() {
			ok, err := st.AddAutoRun(run)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("got %d adds of one run, want exactly 1", wins.Load())
	}
	later := picket.AutoRun{ID: "rule-a/k2", Rule: "rule-a", FindingKey: "k2", Queued: t0.Add(time.Minute)}
	if ok, err := s.AddAutoRun(later); err != nil || !ok {
		t.Fatalf("AddAutoRun(k2) = %v, %v", ok, err)
	}
	open, err := s2.OpenAutoRuns()
	must(t, err)
	if len(open) != 2 || open[0].ID != run.ID || open[1].ID != later.ID {
		t.Fatalf("OpenAutoRuns = %+v, want k1 then k2", open)
	}
	run.Mode, run.Decided, run.Announced = picket.AutoMode("auto"), t0.Add(time.Second), t0.Add(2*time.Second)
	must(t, s.PutAutoRun(run))
	open, err = s2.OpenAutoRuns()
	must(t, err)
	if len(open) != 1 || open[0].ID != later.ID {
		t.Errorf("after announcing k1, OpenAutoRuns = %+v, want only k2", open)
	}
	since, err := s2.AutoRunsSince(t0.Add(30 * time.Second))
	must(t, err)
	if len(since) != 1 || since[0].ID != later.ID {
		t.Errorf("AutoRunsSince(t0+30s) = %+v, want only k2", since)
	}
	all, err := s2.AutoRunsSince(time.Time{})
	must(t, err)
	if len(all) != 2 || all[0].Announced.IsZero() || all[0].Mode != "auto" {
		t.Errorf("AutoRunsSince(zero) = %+v, want both with k1 announced", all)
	}
}

// testAutoSwitch: the kill switch reads back as stored, from another
// client too; never set, it is on.
func testAutoSwitch(t *testing.T, fac Factory) {
	s := fac.Open(t)
	s2 := second(t, fac, s)
	sw, err := s.AutoSwitch()
	must(t, err)
	if sw.Off {
		t.Fatal("a new store's kill switch is off")
	}
	want := picket.AutoSwitch{Off: true, By: picket.Actor{ID: "U1", Name: "alice"}, At: t0}
	must(t, s.PutAutoSwitch(want))
	got, err := s2.AutoSwitch()
	must(t, err)
	if !got.Off || got.By.ID != "U1" || !got.At.Equal(t0) {
		t.Errorf("AutoSwitch = %+v, want %+v", got, want)
	}
}

// testLeaseOneHolder: of concurrent takers of a lease on two clients
// exactly one wins; it renews, others wait for expiry or release, and a
// release by a non-holder changes nothing.
func testLeaseOneHolder(t *testing.T, fac Factory) {
	s := fac.Open(t)
	s2 := second(t, fac, s)
	var winners sync.Map
	var n atomic.Int32
	var wg sync.WaitGroup
	for i := range 10 {
		st := s
		if i%2 == 1 {
			st = s2
		}
		wg.Go(func() {
			owner := fmt.Sprintf("replica-%d", i)
			ok, err := st.TakeLease("channel:#sec", owner, t0, t0.Add(10*time.Second))
			if err != nil {
				t.Error(err)
			}
			if ok {
				n.Add(1)
				winners.Store(owner, true)
			}
		})
	}
	wg.Wait()
	if n.Load() != 1 {
		t.Fatalf("got %d holders of one lease, want exactly 1", n.Load())
	}
	var holder string
	winners.Range(func(k, _ any) bool { holder = k.(string); return false })
	take := func(st picket.Store, owner string, at time.Time) bool {
		t.Helper()
		ok, err := st.TakeLease("channel:#sec", owner, at, at.Add(10*time.Second))
		must(t, err)
		return ok
	}
	if take(s2, "other", t0.Add(5*time.Second)) {
		t.Error("another owner took an unexpired lease")
	}
	if !take(s, holder, t0.Add(5*time.Second)) {
		t.Error("the holder could not renew")
	}
	if take(s2, "other", t0.Add(12*time.Second)) {
		t.Error("another owner took a renewed lease before its new expiry")
	}
	must(t, s2.ReleaseLease("channel:#sec", "other"))
	if take(s2, "other", t0.Add(13*time.Second)) {
		t.Error("a release by a non-holder freed the lease")
	}
	if !take(s2, "other", t0.Add(15*time.Second)) {
		t.Error("an expired lease could not be taken")
	}
	must(t, s2.ReleaseLease("channel:#sec", "other"))
	if !take(s, holder, t0.Add(16*time.Second)) {
		t.Error("a released lease could not be taken at once")
	}
}

// testPlanTakenOnce: a plan kept by one client is read by another with
// its expiry, and of concurrent deletes from both exactly one removes it.
func testPlanTakenOnce(t *testing.T, fac Factory) {
	s := fac.Open(t)
	s2 := second(t, fac, s)
	plan := picket.Plan{Request: picket.ActionRequest{ID: "req-1", Kind: picket.ActionDisableUser, FindingKey: "k1",
		Actor: picket.Actor{ID: "U1"}, Target: picket.Resource{ID: "mallory"}},
		Steps: []picket.PlanStep{{Operation: "iam:PutUserPolicy", Description: "deny <all>"}}}
	must(t, s.PutPlan(plan, t0.Add(30*time.Minute)))
	got, exp, ok, err := s2.PreparedPlan("req-1")
	must(t, err)
	if !ok || !exp.Equal(t0.Add(30*time.Minute)) || got.Request.Actor.ID != "U1" || len(got.Steps) != 1 || got.Steps[0].Description != "deny <all>" {
		t.Fatalf("PreparedPlan = %+v, %s, %v; want the plan as kept", got, exp, ok)
	}
	var n atomic.Int32
	var wg sync.WaitGroup
	for i := range 10 {
		st := s
		if i%2 == 1 {
			st = s2
		}
		wg.Go(func() {
			deleted, err := st.DeletePlan("req-1")
			if err != nil {
				t.Error(err)
			}
			if deleted {
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if n.Load() != 1 {
		t.Fatalf("%d deletes removed the plan, want exactly 1", n.Load())
	}
	if _, _, ok, _ := s.PreparedPlan("req-1"); ok {
		t.Error("the plan is still there after its delete")
	}
}

// exportLines is s's export, one JSON line per item, without counters
// (which each store keeps its own way), sorted.
func exportLines(t *testing.T, s picket.Store) []string {
	t.Helper()
	var out []string
	must(t, s.ExportItems(func(it picket.StoreItem) error {
		if it.Kind != picket.ItemCounter {
			b, err := json.Marshal(it)
			out = append(out, string(b))
			return err
		}
		return nil
	}))
	slices.Sort(out)
	return out
}

// feed yields its items to ImportItems.
func feed(its []picket.StoreItem) func() (picket.StoreItem, bool, error) {
	return func() (picket.StoreItem, bool, error) {
		if len(its) == 0 {
			return picket.StoreItem{}, false, nil
		}
		it := its[0]
		its = its[1:]
		return it, true, nil
	}
}

func testImportRoundTrip(t *testing.T, fac Factory) {
	s := fac.Open(t)
	res, err := s.Intake("m1", t0, []picket.Finding{finding("k1", picket.SeverityHigh, t0), finding("k2", picket.SeverityLow, t0)}, decide)
	must(t, err)
	if len(res.Pending) == 0 {
		t.Fatal("intake queued nothing")
	}
	_, _, err = s.ClaimAction(claimRec("r1", picket.StatusRunning))
	must(t, err)
	must(t, s.PutSuppression(picket.Suppression{ID: "s1", Type: "T", Created: t0}))
	for _, d := range []string{"first", "a <b> & c"} {
		_, err := s.Audit(picket.AuditEntry{Time: t0, Event: "requested", Detail: d})
		must(t, err)
	}
	var items []picket.StoreItem
	must(t, s.ExportItems(func(it picket.StoreItem) error { items = append(items, it); return nil }))
	want := exportLines(t, s)

	s2 := fac.Open(t)
	n, err := s2.ImportItems(feed(items))
	if err != nil || n != len(items) {
		t.Fatalf("import: got %d, %v; want %d items", n, err, len(items))
	}
	if got := exportLines(t, s2); !slices.Equal(got, want) {
		t.Errorf("export after import:\ngot  %q\nwant %q", got, want)
	}
	out, err := s2.Outbox()
	if err != nil || len(out) != len(res.Pending) {
		t.Errorf("outbox after import: got %d entries %v, want %d", len(out), err, len(res.Pending))
	}
	if c, err := s2.VerifyAuditChain(); err != nil || c.Entries != 2 {
		t.Errorf("audit chain after import: got %d entries %v, want 2 intact", c.Entries, err)
	}
	if e, err := s2.Audit(picket.AuditEntry{Time: t0, Event: "requested"}); err != nil || e.Seq != 3 {
		t.Errorf("audit after import: got seq %d %v, want 3 (chained after the imported head)", e.Seq, err)
	}
}

func testImportRefusesStoreInUse(t *testing.T, fac Factory) {
	item := picket.StoreItem{Kind: picket.ItemChannel, Key: "#sec", Value: json.RawMessage(`"C1"`)}
	withFinding := fac.Open(t)
	must(t, withFinding.PutFinding(picket.FindingRecord{Finding: finding("k1", picket.SeverityHigh, t0)}))
	withAudit := fac.Open(t)
	_, err := withAudit.Audit(picket.AuditEntry{Time: t0, Event: "requested"})
	must(t, err)
	for name, s := range map[string]picket.Store{"finding": withFinding, "audit entry": withAudit} {
		if n, err := s.ImportItems(feed([]picket.StoreItem{item})); n != 0 || !errors.Is(err, picket.ErrStoreNotEmpty) {
			t.Errorf("import into a store holding a %s: got %d, %v; want 0, ErrStoreNotEmpty", name, n, err)
		}
		if id, err := s.ChannelID("#sec"); err != nil || id == "C1" {
			t.Errorf("store holding a %s: channel id %q %v after a refused import, want the import's C1 not stored", name, id, err)
		}
	}
}
