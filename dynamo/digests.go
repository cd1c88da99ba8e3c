package dynamo

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/picketsec/picket"
)

const dayLayout = "20060102"

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func dayKey(t time.Time) string { return utcDay(t).Format(dayLayout) }

// PutDigestSnapshot saves the snapshot of schedule name for s.Day.
func (s *Store) PutDigestSnapshot(name string, snap picket.DigestSnapshot) error {
	if snap.Day.IsZero() {
		return picket.Errorf(picket.EINVALID, "digest snapshot for %q has no day", name)
	}
	snap.Day = utcDay(snap.Day)
	v, err := encodeJSON(&snap)
	if err == nil {
		err = s.nameDigest(name)
	}
	if err == nil {
		err = s.put(item{"pk": attrS("ds#" + name), "sk": attrS(dayKey(snap.Day)), "v": attrB(v)}, nil)
	}
	if err != nil {
		return fmt.Errorf("put digest snapshot %s %s: %w", name, snap.Day.Format(time.DateOnly), err)
	}
	return nil
}

func decodeSnap(it item) (picket.DigestSnapshot, error) {
	var snap picket.DigestSnapshot
	if err := json.Unmarshal(getB(it, "v"), &snap); err != nil {
		return snap, fmt.Errorf("decode %s: %w", getS(it, "sk"), err)
	}
	return snap, nil
}

// DigestSnapshots returns the snapshots of name with day in [from, to),
// oldest first.
func (s *Store) DigestSnapshots(name string, from, to time.Time) ([]picket.DigestSnapshot, error) {
	var out []picket.DigestSnapshot
	hi := dayKey(to)
	_, err := s.query("ds#"+name, queryOpts{from: dayKey(from)}, func(it item) (bool, error) {
		if getS(it, "sk") >= hi {
			return false, nil
		}
		snap, err := decodeSnap(it)
		out = append(out, snap)
		return true, err
	})
	if err != nil {
		return nil, fmt.Errorf("list digest snapshots %s: %w", name, err)
	}
	return out, nil
}

// PreviousDigestSnapshot returns the newest snapshot of name from a day
// before before's UTC date.
func (s *Store) PreviousDigestSnapshot(name string, before time.Time) (snap picket.DigestSnapshot, ok bool, err error) {
	_, err = s.query("ds#"+name, queryOpts{before: dayKey(before), reverse: true, limit: 1}, func(it item) (bool, error) {
		snap, err = decodeSnap(it)
		ok = err == nil
		return false, err
	})
	if err != nil {
		return picket.DigestSnapshot{}, false, fmt.Errorf("get previous digest snapshot %s: %w", name, err)
	}
	return snap, ok, nil
}

// LastDigestRun returns the slot of the last run claimed for name.
func (s *Store) LastDigestRun(name string) (time.Time, bool, error) {
	it, ok, err := s.get("dr#"+name, "-")
	if err != nil {
		return time.Time{}, false, fmt.Errorf("get last digest run %s: %w", name, err)
	}
	if !ok {
		return time.Time{}, false, nil
	}
	return time.Unix(0, getN(it, "slot")).UTC(), true, nil
}

// ClaimDigestRun records slot as the last run of name and returns true,
// unless a run at or after slot was claimed: one conditional write, so of
// concurrent claims in any number of processes exactly one gets true.
func (s *Store) ClaimDigestRun(name string, slot time.Time) (bool, error) {
	_, err := s.update("dr#"+name, "-", "SET #slot = :slot",
		&cond{expr: "attribute_not_exists(#slot) OR #slot < :slot"},
		map[string]string{"#slot": "slot"}, item{":slot": attrN(slot.UnixNano())})
	if errors.Is(err, errConflict) {
		return false, nil
	}
	if err == nil {
		// Export finds the schedule by its name.
		err = s.nameDigest(name)
	}
	if err != nil {
		return false, fmt.Errorf("claim digest run %s at %s: %w", name, slot.UTC().Format(time.RFC3339), err)
	}
	return true, nil
}

// ReleaseDigestRun gives back the claim on slot: the last run becomes
// previous (none when zero), unless a later slot was claimed since.
func (s *Store) ReleaseDigestRun(name string, slot, previous time.Time) error {
	names := map[string]string{"#slot": "slot"}
	c := &cond{expr: "#slot = :slot", names: names, values: item{":slot": attrN(slot.UnixNano())}}
	var err error
	if previous.IsZero() {
		err = s.del("dr#"+name, "-", c)
	} else {
		_, err = s.update("dr#"+name, "-", "SET #slot = :prev", c, map[string]string{}, item{":prev": attrN(previous.UnixNano())})
	}
	if err != nil && !errors.Is(err, errConflict) {
		return fmt.Errorf("release digest run %s at %s: %w", name, slot.UTC().Format(time.RFC3339), err)
	}
	return nil
}
