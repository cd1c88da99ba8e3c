package store_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/picketsec/picket"
)

func suppression(id string, created time.Time) picket.Suppression {
	return picket.Suppression{
		ID:         id,
		FindingKey: "f1",
		Source:     picket.SourceGuardDuty,
		Type:       "Recon:EC2/PortProbeUnprotectedPort",
		Account:    "123456789012",
		Region:     "us-east-1",
		ResourceID: "i-0abc",
		Reason:     "scanner <pentest> & friends",
		Actor:      picket.Actor{ID: "U1", Name: "Alice"},
		Created:    created,
		Until:      created.Add(7 * 24 * time.Hour),
		Remote: []picket.RemoteRule{{
			Kind: "guardduty_filter", ID: "picket-s1", Account: "123456789012", Region: "us-east-1", DetectorID: "d1",
		}},
	}
}

func TestSuppressions(t *testing.T) {
	db, _ := openTemp(t)

	got, err := db.Suppressions()
	if err != nil || len(got) != 0 {
		t.Fatalf("Suppressions on empty store: got %d, %v, want 0, nil", len(got), err)
	}

	late := suppression("a-late", t0.Add(2*time.Hour))
	early := suppression("z-early", t0)
	mid := suppression("m-mid", t0.Add(time.Hour))
	tie := suppression("b-tie", t0.Add(time.Hour))
	for _, s := range []picket.Suppression{late, early, mid, tie} {
		if err := db.PutSuppression(s); err != nil {
			t.Fatalf("PutSuppression %s: %v", s.ID, err)
		}
	}
	// Lifting replaces the rule and keeps it listed.
	mid.Lifted = t0.Add(90 * time.Minute)
	if err := db.PutSuppression(mid); err != nil {
		t.Fatal(err)
	}

	got, err = db.Suppressions()
	if err != nil {
		t.Fatal(err)
	}
	want := []picket.Suppression{early, tie, mid, late}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Suppressions:\ngot  %+v\nwant %+v", got, want)
	}

	t.Run("empty id refused", func(t *testing.T) {
		err := db.PutSuppression(suppression("", t0))
		if got := picket.ErrorCode(err); got != picket.EINVALID {
			t.Errorf("error code: got %q (%v), want %q", got, err, picket.EINVALID)
		}
	})
}
