package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/picketsec/picket"
)

var _ picket.ActionStore = (*DB)(nil)

// ClaimAction stores rec under rec.Request.ID and takes the claim for
// rec.Request.ClaimKey(), in one transaction, unless an Active record holds
// that claim: then it returns that record with ok false and stores nothing.
// Of any number of concurrent claims for one claim key, exactly one gets ok.
// A retried claim with the same request id while its record is Active gets
// its own record back with ok false. A record that is not Active itself
// (denied, refused) is stored but takes no claim.
func (db *DB) ClaimAction(rec picket.ActionRecord) (holder picket.ActionRecord, ok bool, err error) {
	id := rec.Request.ID
	if id == "" {
		return picket.ActionRecord{}, false, picket.Errorf(picket.EINVALID, "action request has no id")
	}
	claim := []byte(rec.Request.ClaimKey())
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		claims := tx.Bucket(bucketClaims)
		if held := claims.Get(claim); held != nil {
			cur, found, err := getAction(tx, string(held))
			if err != nil {
				return err
			}
			// A claim whose record is gone is stale: take it over.
			if found && cur.Active() {
				holder = cur
				return nil
			}
		}
		if err := putAction(tx, rec); err != nil {
			return err
		}
		ok = true
		if !rec.Active() {
			return nil
		}
		return claims.Put(claim, []byte(id))
	})
	if err != nil {
		return picket.ActionRecord{}, false, fmt.Errorf("claim action %s: %w", id, err)
	}
	return holder, ok, nil
}

// PutAction replaces the record stored under rec.Request.ID (storing it if
// new). When rec is no longer Active (failed, refused, rejected, undone) it
// releases its claim, so that the action can be tried again. It never takes
// a claim: that is ClaimAction's job.
func (db *DB) PutAction(rec picket.ActionRecord) error {
	id := rec.Request.ID
	if id == "" {
		return picket.Errorf(picket.EINVALID, "action request has no id")
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		return putAction(tx, rec)
	})
	if err != nil {
		return fmt.Errorf("put action %s: %w", id, err)
	}
	return nil
}

// Action returns the record of the request requestID; ok is false when
// there is none.
func (db *DB) Action(requestID string) (rec picket.ActionRecord, ok bool, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		rec, ok, err = getAction(tx, requestID)
		return err
	})
	if err != nil {
		return picket.ActionRecord{}, false, fmt.Errorf("get action %s: %w", requestID, err)
	}
	return rec, ok, nil
}

// ActionsForFinding returns the records of the finding findingKey in the
// order they were first stored, oldest first.
func (db *DB) ActionsForFinding(findingKey string) ([]picket.ActionRecord, error) {
	var out []picket.ActionRecord
	err := db.bolt.View(func(tx *bolt.Tx) error {
		prefix := append([]byte(findingKey), 0)
		c := tx.Bucket(bucketFindingActs).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			// The rest must be exactly the sequence, or k belongs to a
			// longer finding key that happens to contain a NUL.
			if len(k) != len(prefix)+8 {
				continue
			}
			rec, found, err := getAction(tx, string(v))
			if err != nil {
				return err
			}
			if found {
				out = append(out, rec)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list actions for finding %s: %w", findingKey, err)
	}
	return out, nil
}

// PendingActions returns the records awaiting approval
// (picket.OutcomePending), soonest to expire first (by ApproveBy, then
// request id), for the sweep that expires unapproved requests.
func (db *DB) PendingActions() ([]picket.ActionRecord, error) {
	out, err := db.actionsWithStatus(picket.OutcomePending)
	if err != nil {
		return nil, fmt.Errorf("list pending actions: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.ApproveBy.Equal(b.ApproveBy) {
			return a.ApproveBy.Before(b.ApproveBy)
		}
		return a.Request.ID < b.Request.ID
	})
	return out, nil
}

// RunningActions returns the records whose execution was under way, in
// request id order. After a restart these are actions the process stopped
// in the middle of.
func (db *DB) RunningActions() ([]picket.ActionRecord, error) {
	out, err := db.actionsWithStatus(picket.StatusRunning)
	if err != nil {
		return nil, fmt.Errorf("list running actions: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Request.ID < out[j].Request.ID })
	return out, nil
}

func (db *DB) actionsWithStatus(status picket.ActionOutcome) ([]picket.ActionRecord, error) {
	var out []picket.ActionRecord
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketActions).ForEach(func(k, v []byte) error {
			rec, err := decodeAction(v)
			if err != nil {
				return fmt.Errorf("decode action %s: %w", k, err)
			}
			if rec.Status == status {
				out = append(out, rec)
			}
			return nil
		})
	})
	return out, err
}

// putAction stores rec, indexes a new record under its finding, and
// releases the claim of a record that is no longer Active.
func putAction(tx *bolt.Tx, rec picket.ActionRecord) error {
	id := []byte(rec.Request.ID)
	if len(id) == 0 {
		return picket.Errorf(picket.EINVALID, "action request has no id")
	}
	v, err := encodeAction(rec)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	actions := tx.Bucket(bucketActions)
	old, existed, err := getAction(tx, rec.Request.ID)
	if err != nil {
		return err
	}
	if err := actions.Put(id, v); err != nil {
		return err
	}
	if !existed && rec.Request.FindingKey != "" {
		idx := tx.Bucket(bucketFindingActs)
		seq, err := idx.NextSequence()
		if err != nil {
			return fmt.Errorf("index by finding: %w", err)
		}
		k := binary.BigEndian.AppendUint64(append([]byte(rec.Request.FindingKey), 0), seq)
		if err := idx.Put(k, id); err != nil {
			return fmt.Errorf("index by finding: %w", err)
		}
	}
	if rec.Active() {
		return nil
	}
	keys := []string{rec.Request.ClaimKey()}
	if existed {
		if k := old.Request.ClaimKey(); k != keys[0] {
			keys = append(keys, k)
		}
	}
	claims := tx.Bucket(bucketClaims)
	for _, k := range keys {
		if bytes.Equal(claims.Get([]byte(k)), id) {
			if err := claims.Delete([]byte(k)); err != nil {
				return fmt.Errorf("release claim %s: %w", k, err)
			}
		}
	}
	return nil
}

func getAction(tx *bolt.Tx, id string) (picket.ActionRecord, bool, error) {
	v := tx.Bucket(bucketActions).Get([]byte(id))
	if v == nil {
		return picket.ActionRecord{}, false, nil
	}
	rec, err := decodeAction(v)
	if err != nil {
		return picket.ActionRecord{}, false, fmt.Errorf("decode action %s: %w", id, err)
	}
	return rec, true, nil
}

// encodeAction writes rec as JSON with HTML escaping off, so that text from
// findings is stored as it came.
func encodeAction(rec picket.ActionRecord) ([]byte, error) {
	return encodeJSON(&rec)
}

func decodeAction(v []byte) (picket.ActionRecord, error) {
	var rec picket.ActionRecord
	err := json.Unmarshal(v, &rec)
	return rec, err
}

// encodeJSON is json.Marshal without HTML escaping.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
