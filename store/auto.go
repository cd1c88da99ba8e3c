package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
)

var _ picket.AutoStore = (*DB)(nil)

var keyAutoSwitch = []byte("switch")

// AddAutoRun stores run unless a run with its ID exists, in one
// transaction, so that of two intakes of one finding (a redelivery, an
// update, two consumers) exactly one queues the rule's response. A run
// not yet announced is also indexed as open.
func (db *DB) AddAutoRun(run picket.AutoRun) (added bool, err error) {
	if run.ID == "" {
		return false, picket.Errorf(picket.EINVALID, "automatic run has no id")
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketAutoRuns).Get([]byte(run.ID)) != nil {
			added = false
			return nil
		}
		added = true
		return putAutoRun(tx, run)
	})
	if err != nil {
		return false, fmt.Errorf("add automatic run %s: %w", run.ID, err)
	}
	return added, nil
}

// PutAutoRun replaces the run with the same ID; an announced run leaves
// the open index.
func (db *DB) PutAutoRun(run picket.AutoRun) error {
	if run.ID == "" {
		return picket.Errorf(picket.EINVALID, "automatic run has no id")
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return putAutoRun(tx, run) }); err != nil {
		return fmt.Errorf("put automatic run %s: %w", run.ID, err)
	}
	return nil
}

func putAutoRun(tx *bolt.Tx, run picket.AutoRun) error {
	b, err := json.Marshal(run)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketAutoRuns).Put([]byte(run.ID), b); err != nil {
		return err
	}
	open := tx.Bucket(bucketAutoOpen)
	if run.Announced.IsZero() {
		return open.Put([]byte(run.ID), nil)
	}
	return open.Delete([]byte(run.ID))
}

// OpenAutoRuns returns the runs not yet announced, oldest queued first.
func (db *DB) OpenAutoRuns() ([]picket.AutoRun, error) {
	var out []picket.AutoRun
	err := db.bolt.View(func(tx *bolt.Tx) error {
		runs := tx.Bucket(bucketAutoRuns)
		return tx.Bucket(bucketAutoOpen).ForEach(func(k, _ []byte) error {
			v := runs.Get(k)
			if v == nil {
				return nil
			}
			var run picket.AutoRun
			if err := json.Unmarshal(v, &run); err != nil {
				return fmt.Errorf("decode automatic run %s: %w", k, err)
			}
			out = append(out, run)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list open automatic runs: %w", err)
	}
	picket.SortAutoRuns(out)
	return out, nil
}

// AutoRunsSince returns the runs queued at or after t, oldest first.
func (db *DB) AutoRunsSince(t time.Time) ([]picket.AutoRun, error) {
	var out []picket.AutoRun
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAutoRuns).ForEach(func(k, v []byte) error {
			var run picket.AutoRun
			if err := json.Unmarshal(v, &run); err != nil {
				return fmt.Errorf("decode automatic run %s: %w", k, err)
			}
			if !run.Queued.Before(t) {
				out = append(out, run)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list automatic runs: %w", err)
	}
	picket.SortAutoRuns(out)
	return out, nil
}

// AutoSwitch returns the kill switch as last stored (zero when never set).
func (db *DB) AutoSwitch() (picket.AutoSwitch, error) {
	var s picket.AutoSwitch
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketAuto).Get(keyAutoSwitch)
		if v == nil {
			return nil
		}
		return json.Unmarshal(v, &s)
	})
	if err != nil {
		return picket.AutoSwitch{}, fmt.Errorf("get automatic response switch: %w", err)
	}
	return s, nil
}

// PutAutoSwitch stores the kill switch.
func (db *DB) PutAutoSwitch(s picket.AutoSwitch) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketAuto).Put(keyAutoSwitch, b) }); err != nil {
		return fmt.Errorf("put automatic response switch: %w", err)
	}
	return nil
}
