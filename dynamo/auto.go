package dynamo

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/picketsec/picket"
)

var _ picket.AutoStore = (*Store)(nil)

// Automatic runs are items in the "auto" partitions (sharded by run id),
// sorted by id; a run not yet announced also has an index item in
// "autoopen", so that the autopilot's poll reads only open runs. The kill
// switch is one item.
const (
	autoPrefix     = "auto"
	autoOpenPrefix = "autoopen"
)

func autoRunItem(run picket.AutoRun) (item, error) {
	v, err := json.Marshal(run)
	if err != nil {
		return nil, err
	}
	return item{"pk": attrS(shard(autoPrefix, run.ID)), "sk": attrS(run.ID), "v": attrB(v),
		"q": attrS(run.Queued.UTC().Format(time.RFC3339Nano))}, nil
}

// AddAutoRun stores run unless a run with its ID exists: a conditional
// put, so of two intakes of one finding exactly one adds it. The open
// index item is written before the run (and again by each replica that
// tries), so a crash between the two leaves an index item for a run that
// is either added later or not there (and skipped by OpenAutoRuns).
func (s *Store) AddAutoRun(run picket.AutoRun) (bool, error) {
	if run.ID == "" {
		return false, picket.Errorf(picket.EINVALID, "automatic run has no id")
	}
	it, err := autoRunItem(run)
	if err != nil {
		return false, fmt.Errorf("add automatic run %s: %w", run.ID, err)
	}
	if run.Announced.IsZero() {
		if err := s.put(item{"pk": attrS(shard(autoOpenPrefix, run.ID)), "sk": attrS(run.ID)}, nil); err != nil {
			return false, fmt.Errorf("add automatic run %s: %w", run.ID, err)
		}
	}
	err = s.put(it, &cond{expr: "attribute_not_exists(pk)"})
	if errors.Is(err, errConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("add automatic run %s: %w", run.ID, err)
	}
	return true, nil
}

// PutAutoRun replaces the run with the same ID; an announced run leaves
// the open index (after the run is written, so an open run is never
// unindexed).
func (s *Store) PutAutoRun(run picket.AutoRun) error {
	if run.ID == "" {
		return picket.Errorf(picket.EINVALID, "automatic run has no id")
	}
	it, err := autoRunItem(run)
	if err == nil && run.Announced.IsZero() {
		err = s.put(item{"pk": attrS(shard(autoOpenPrefix, run.ID)), "sk": attrS(run.ID)}, nil)
	}
	if err == nil {
		err = s.put(it, nil)
	}
	if err == nil && !run.Announced.IsZero() {
		err = s.del(shard(autoOpenPrefix, run.ID), run.ID, nil)
	}
	if err != nil {
		return fmt.Errorf("put automatic run %s: %w", run.ID, err)
	}
	return nil
}

func (s *Store) autoRun(id string) (picket.AutoRun, bool, error) {
	it, ok, err := s.get(shard(autoPrefix, id), id)
	if err != nil || !ok {
		return picket.AutoRun{}, ok, err
	}
	var run picket.AutoRun
	if err := json.Unmarshal(getB(it, "v"), &run); err != nil {
		return picket.AutoRun{}, false, fmt.Errorf("decode automatic run %s: %w", id, err)
	}
	return run, true, nil
}

// OpenAutoRuns returns the runs not yet announced, oldest queued first.
func (s *Store) OpenAutoRuns() ([]picket.AutoRun, error) {
	var out []picket.AutoRun
	_, err := s.queryShards(autoOpenPrefix, queryOpts{}, func(it item) (bool, error) {
		run, ok, err := s.autoRun(getS(it, "sk"))
		if err != nil {
			return false, err
		}
		if ok && run.Announced.IsZero() {
			out = append(out, run)
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list open automatic runs: %w", err)
	}
	picket.SortAutoRuns(out)
	return out, nil
}

// AutoRunsSince returns the runs queued at or after t, oldest first (for
// the digest: a filtered Query of each partition).
func (s *Store) AutoRunsSince(t time.Time) ([]picket.AutoRun, error) {
	var out []picket.AutoRun
	filter := &cond{expr: "#q >= :q", names: map[string]string{"#q": "q"},
		values: item{":q": attrS(t.UTC().Format(time.RFC3339Nano))}}
	_, err := s.queryShards(autoPrefix, queryOpts{filter: filter}, func(it item) (bool, error) {
		var run picket.AutoRun
		if err := json.Unmarshal(getB(it, "v"), &run); err != nil {
			return false, fmt.Errorf("decode automatic run %s: %w", getS(it, "sk"), err)
		}
		if !run.Queued.Before(t) {
			out = append(out, run)
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list automatic runs: %w", err)
	}
	picket.SortAutoRuns(out)
	return out, nil
}

// AutoSwitch returns the kill switch as last stored (zero when never set).
func (s *Store) AutoSwitch() (picket.AutoSwitch, error) {
	var sw picket.AutoSwitch
	it, ok, err := s.get("meta", "autoswitch")
	if err == nil && ok {
		err = json.Unmarshal(getB(it, "v"), &sw)
	}
	if err != nil {
		return picket.AutoSwitch{}, fmt.Errorf("get automatic response switch: %w", err)
	}
	return sw, nil
}

// PutAutoSwitch stores the kill switch.
func (s *Store) PutAutoSwitch(sw picket.AutoSwitch) error {
	v, err := json.Marshal(sw)
	if err == nil {
		err = s.put(item{"pk": attrS("meta"), "sk": attrS("autoswitch"), "v": attrB(v)}, nil)
	}
	if err != nil {
		return fmt.Errorf("put automatic response switch: %w", err)
	}
	return nil
}
