package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
)

var _ picket.LeaseStore = (*DB)(nil)

// lease is the stored form of one lease.
type lease struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

// TakeLease implements picket.LeaseStore. A bbolt file is open in one
// process only, so the leases here are shared by the dispatchers of that
// process; the update is one serialized transaction, so of two concurrent
// takers exactly one wins.
func (db *DB) TakeLease(name, owner string, now, until time.Time) (bool, error) {
	if name == "" || owner == "" {
		return false, picket.Errorf(picket.EINVALID, "lease needs a name and an owner")
	}
	ok := false
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLeases)
		if v := b.Get([]byte(name)); v != nil {
			var cur lease
			if err := json.Unmarshal(v, &cur); err != nil {
				return fmt.Errorf("decode lease %s: %w", name, err)
			}
			if cur.Owner != owner && now.Before(cur.Until) {
				return nil
			}
		}
		v, err := json.Marshal(lease{Owner: owner, Until: until.UTC()})
		if err != nil {
			return err
		}
		ok = true
		return b.Put([]byte(name), v)
	})
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", name, err)
	}
	return ok, nil
}

// ReleaseLease implements picket.LeaseStore.
func (db *DB) ReleaseLease(name, owner string) error {
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLeases)
		v := b.Get([]byte(name))
		if v == nil {
			return nil
		}
		var cur lease
		if err := json.Unmarshal(v, &cur); err != nil {
			return fmt.Errorf("decode lease %s: %w", name, err)
		}
		if cur.Owner != owner {
			return nil
		}
		return b.Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}
