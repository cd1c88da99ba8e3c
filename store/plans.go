package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
)

var _ picket.PlanStore = (*DB)(nil)

// storedPlan is a prepared plan with its expiry.
type storedPlan struct {
	Plan    picket.Plan `json:"plan"`
	Expires time.Time   `json:"expires"`
}

// PutPlan implements picket.PlanStore. Plans that expired before p's are
// removed in the same transaction, so the bucket holds only the plans of
// dialogs still open.
func (db *DB) PutPlan(p picket.Plan, expires time.Time) error {
	id := p.Request.ID
	if id == "" {
		return picket.Errorf(picket.EINVALID, "plan has no request id")
	}
	v, err := json.Marshal(storedPlan{Plan: p, Expires: expires.UTC()})
	if err != nil {
		return fmt.Errorf("put plan %s: encode: %w", id, err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPlans)
		var old [][]byte
		now := db.now()
		if err := b.ForEach(func(k, v []byte) error {
			var sp storedPlan
			if json.Unmarshal(v, &sp) != nil || !now.Before(sp.Expires) {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return b.Put([]byte(id), v)
	})
	if err != nil {
		return fmt.Errorf("put plan %s: %w", id, err)
	}
	return nil
}

// PreparedPlan implements picket.PlanStore.
func (db *DB) PreparedPlan(id string) (picket.Plan, time.Time, bool, error) {
	var sp storedPlan
	found := false
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPlans).Get([]byte(id))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &sp)
	})
	if err != nil {
		return picket.Plan{}, time.Time{}, false, fmt.Errorf("get plan %s: %w", id, err)
	}
	return sp.Plan, sp.Expires, found, nil
}

// DeletePlan implements picket.PlanStore: the check and the delete are one
// transaction.
func (db *DB) DeletePlan(id string) (bool, error) {
	deleted := false
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPlans)
		if b.Get([]byte(id)) == nil {
			return nil
		}
		deleted = true
		return b.Delete([]byte(id))
	})
	if err != nil {
		return false, fmt.Errorf("delete plan %s: %w", id, err)
	}
	return deleted, nil
}
