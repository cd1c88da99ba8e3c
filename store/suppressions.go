package store

import (
	"encoding/json"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
)

var _ picket.SuppressionStore = (*DB)(nil)

// PutSuppression saves s under s.ID, replacing what was there (lifting a
// rule is saving it again with Lifted set). It returns once the write is on
// disk.
func (db *DB) PutSuppression(s picket.Suppression) error {
	if s.ID == "" {
		return picket.Errorf(picket.EINVALID, "suppression has no id")
	}
	v, err := encodeJSON(&s)
	if err != nil {
		return fmt.Errorf("put suppression %s: encode: %w", s.ID, err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSuppressions).Put([]byte(s.ID), v)
	})
	if err != nil {
		return fmt.Errorf("put suppression %s: %w", s.ID, err)
	}
	return nil
}

// Suppressions returns every stored suppression, lifted and expired ones
// included (callers check Matches), oldest Created first, then by ID.
func (db *DB) Suppressions() ([]picket.Suppression, error) {
	var out []picket.Suppression
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSuppressions).ForEach(func(k, v []byte) error {
			var s picket.Suppression
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("decode suppression %s: %w", k, err)
			}
			out = append(out, s)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list suppressions: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}
