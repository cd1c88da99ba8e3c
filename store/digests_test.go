package store_test

import (
	"reflect"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the tests load Europe/Paris on machines without a zone database

	"github.com/picketsec/picket"
)

func snapshot(day time.Time, critical int) picket.DigestSnapshot {
	s := picket.DigestSnapshot{Day: day, PostureScore: 80, HasPosture: true,
		Standards: map[string]float64{"CIS AWS Foundations Benchmark v1.2.0": 75}}
	s.Open[picket.SeverityCritical] = critical
	return s
}

func TestDigestSnapshots(t *testing.T) {
	db, _ := openTemp(t)
	d1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatalf("load Europe/Paris: %v", err)
	}
	puts := []struct {
		name string
		snap picket.DigestSnapshot
	}{
		{"daily", snapshot(d1, 1)},
		{"daily", snapshot(d1.AddDate(0, 0, 1).Add(9*time.Hour).In(paris), 2)}, // stored under its UTC date
		{"daily", snapshot(d1.AddDate(0, 0, 3), 4)},
		{"daily-other", snapshot(d1.AddDate(0, 0, 2), 99)},
		{"dail", snapshot(d1.AddDate(0, 0, 2), 98)},
	}
	for _, p := range puts {
		if err := db.PutDigestSnapshot(p.name, p.snap); err != nil {
			t.Fatalf("PutDigestSnapshot(%s): %v", p.name, err)
		}
	}
	// Replacing a day keeps one snapshot for it.
	if err := db.PutDigestSnapshot("daily", snapshot(d1.AddDate(0, 0, 3).Add(23*time.Hour), 3)); err != nil {
		t.Fatal(err)
	}

	got, err := db.DigestSnapshots("daily", d1, d1.AddDate(0, 0, 30))
	if err != nil {
		t.Fatal(err)
	}
	var crit []int
	for _, s := range got {
		crit = append(crit, s.Open[picket.SeverityCritical])
		if s.Day.Location() != time.UTC || s.Day.Hour() != 0 {
			t.Errorf("snapshot day %v, want a UTC midnight", s.Day)
		}
	}
	if want := []int{1, 2, 3}; !reflect.DeepEqual(crit, want) {
		t.Errorf("DigestSnapshots critical counts: got %v, want %v", crit, want)
	}
	if !reflect.DeepEqual(got[0].Standards, puts[0].snap.Standards) || !got[0].HasPosture {
		t.Errorf("snapshot round trip: got %+v, want %+v", got[0], puts[0].snap)
	}

	tests := []struct {
		name     string
		schedule string
		before   time.Time
		wantOK   bool
		wantCrit int
	}{
		{"before first", "daily", d1, false, 0},
		{"same day excluded", "daily", d1.AddDate(0, 0, 1).Add(5 * time.Hour), true, 1},
		{"gap", "daily", d1.AddDate(0, 0, 3), true, 2},
		{"after last", "daily", d1.AddDate(0, 1, 0), true, 3},
		{"other schedule not mixed", "daily-other", d1.AddDate(0, 0, 2), false, 0},
		{"prefix name not mixed", "dail", d1.AddDate(0, 0, 10), true, 98},
		{"unknown", "weekly", d1.AddDate(0, 1, 0), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok, err := db.PreviousDigestSnapshot(tt.schedule, tt.before)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || s.Open[picket.SeverityCritical] != tt.wantCrit {
				t.Errorf("got ok=%v critical=%d, want ok=%v critical=%d", ok, s.Open[picket.SeverityCritical], tt.wantOK, tt.wantCrit)
			}
		})
	}

	if err := db.PutDigestSnapshot("daily", picket.DigestSnapshot{}); picket.ErrorCode(err) != picket.EINVALID {
		t.Errorf("snapshot without day: got %v, want EINVALID", err)
	}
}

func TestClaimDigestRun(t *testing.T) {
	db, _ := openTemp(t)
	slot1 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	slot2 := slot1.AddDate(0, 0, 1)

	if _, ok, err := db.LastDigestRun("daily"); ok || err != nil {
		t.Fatalf("LastDigestRun on empty store: got ok=%v err=%v, want false, nil", ok, err)
	}
	steps := []struct {
		name string
		slot time.Time
		want bool
	}{
		{"first claim", slot1, true},
		{"same slot again", slot1, false},
		{"earlier slot", slot1.Add(-time.Hour), false},
		{"next slot", slot2, true},
		{"next slot again", slot2, false},
	}
	for _, s := range steps {
		got, err := db.ClaimDigestRun("daily", s.slot)
		if err != nil {
			t.Fatal(err)
		}
		if got != s.want {
			t.Errorf("%s: ClaimDigestRun got %v, want %v", s.name, got, s.want)
		}
	}
	last, ok, err := db.LastDigestRun("daily")
	if err != nil || !ok || !last.Equal(slot2) {
		t.Errorf("LastDigestRun: got %v %v %v, want %v true nil", last, ok, err, slot2)
	}
	if ok, _ := db.ClaimDigestRun("weekly", slot1); !ok {
		t.Errorf("another schedule's claim: got false, want true")
	}

	// A failed post gives the slot back; a stale release does nothing.
	if err := db.ReleaseDigestRun("daily", slot1, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if last, _, _ := db.LastDigestRun("daily"); !last.Equal(slot2) {
		t.Errorf("stale release moved last run to %v, want %v", last, slot2)
	}
	if err := db.ReleaseDigestRun("daily", slot2, slot1); err != nil {
		t.Fatal(err)
	}
	if ok, _ := db.ClaimDigestRun("daily", slot2); !ok {
		t.Errorf("claim after release: got false, want true")
	}
}

func TestClaimDigestRunConcurrent(t *testing.T) {
	db, _ := openTemp(t)
	slot := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	const n = 16
	var wg sync.WaitGroup
	wins := make(chan bool, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := db.ClaimDigestRun("daily", slot)
			if err != nil {
				t.Error(err)
			}
			wins <- ok
		}()
	}
	wg.Wait()
	close(wins)
	won := 0
	for ok := range wins {
		if ok {
			won++
		}
	}
	if won != 1 {
		t.Errorf("concurrent claims won: got %d, want 1", won)
	}
}

func TestAllActions(t *testing.T) {
	db, _ := openTemp(t)
	for _, id := range []string{"r2", "r1"} {
		rec := actionRecord(id, "f-"+id, picket.OutcomeSucceeded)
		rec.Request.Target.ID = "user-" + id // a containment claims its resource: one user per record
		if _, _, err := db.ClaimAction(rec); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.AllActions()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.Request.ID)
	}
	if want := []string{"r1", "r2"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("AllActions ids: got %v, want %v", ids, want)
	}
}

func TestFindingSummaries(t *testing.T) {
	db, _ := openTemp(t)
	raws := map[string]string{
		"k1": `{"a":"x}\"]{","b":[1,{"c":"\\"}],"raw":{"nested":true}}`,
		"k2": "",
		"k3": `{"title":"<b>&"}`,
		"k4": `{"GeneratorId":"pci-dss/v/3.2.1/PCI.S3.1"}`, // a control finding keeps Raw
	}
	for k, raw := range raws {
		rec := record(k, "id-"+k, nil)
		if raw != "" {
			rec.Finding.Raw = []byte(raw)
		}
		if k != "k4" {
			rec.Finding.ComplianceStatus = ""
		}
		if err := db.PutFinding(rec); err != nil {
			t.Fatal(err)
		}
	}
	full := map[string]picket.FindingRecord{}
	if err := db.Findings(func(r picket.FindingRecord) error { full[r.Finding.Key] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := db.FindingSummaries(func(r picket.FindingRecord) error {
		n++
		want := full[r.Finding.Key]
		if want.Finding.ComplianceStatus == "" {
			want.Finding.Raw = nil
		} else if r.Finding.Key == "k4" && len(r.Finding.Raw) == 0 {
			t.Errorf("control finding %s lost its Raw", r.Finding.Key)
		}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("summary of %s: got %+v, want %+v", r.Finding.Key, r, want)
		}
		return nil
	})
	if err != nil || n != len(raws) {
		t.Fatalf("FindingSummaries: got %d records, %v, want %d, nil", n, err, len(raws))
	}
}
