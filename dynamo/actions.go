package dynamo

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/picketsec/picket"
)

// staleClaim is how old a claim whose record is missing must be before
// another request may take it over: the holder writes its record right
// after its claim, so a younger one is a claim being made, not a stale one.
const staleClaim = time.Minute

func actionPK(id string) string { return shard("a", id) }

func (s *Store) getAction(id string) (picket.ActionRecord, bool, error) {
	it, ok, err := s.get(actionPK(id), id)
	if err != nil || !ok {
		return picket.ActionRecord{}, false, err
	}
	var rec picket.ActionRecord
	if err := json.Unmarshal(getB(it, "v"), &rec); err != nil {
		return picket.ActionRecord{}, false, fmt.Errorf("decode action %s: %w", id, err)
	}
	return rec, true, nil
}

// ClaimAction stores rec and takes the claim for rec.Request.ClaimKey()
// unless an Active record holds it: then it returns that record with ok
// false and stores nothing. The claim is one item written on condition
// that it is free (absent, or held by a record that is no longer Active,
// or whose record never appeared): of concurrent claimants in any number
// of processes exactly one wins. The claim item carries a copy of the
// winner's record, so the others can name the holder before its own record
// is written.
func (s *Store) ClaimAction(rec picket.ActionRecord) (picket.ActionRecord, bool, error) {
	id := rec.Request.ID
	if id == "" {
		return picket.ActionRecord{}, false, picket.Errorf(picket.EINVALID, "action request has no id")
	}
	holder, ok, err := s.claimAction(rec)
	if err != nil {
		return picket.ActionRecord{}, false, fmt.Errorf("claim action %s: %w", id, err)
	}
	return holder, ok, nil
}

func (s *Store) claimAction(rec picket.ActionRecord) (picket.ActionRecord, bool, error) {
	id := rec.Request.ID
	claimPK := "c#" + rec.Request.ClaimKey()
	v, err := encodeJSON(&rec)
	if err != nil {
		return picket.ActionRecord{}, false, fmt.Errorf("encode: %w", err)
	}
	for range maxRetries {
		it, held, err := s.get(claimPK, "-")
		if err != nil {
			return picket.ActionRecord{}, false, err
		}
		c := &cond{expr: "attribute_not_exists(pk)"}
		if held {
			holderID := getS(it, "holder")
			cur, found, err := s.getAction(holderID)
			if err != nil {
				return picket.ActionRecord{}, false, err
			}
			if !found {
				// The holder's record is not written yet, or never will
				// be (its process died in between).
				if err := json.Unmarshal(getB(it, "v"), &cur); err != nil {
					return picket.ActionRecord{}, false, fmt.Errorf("decode claim %s: %w", claimPK, err)
				}
				found = s.now().Sub(time.Unix(0, getN(it, "at"))) < staleClaim
			}
			if found && cur.Active() {
				return cur, false, nil
			}
			c = &cond{expr: "holder = :h AND #at = :at", names: map[string]string{"#at": "at"},
				values: item{":h": attrS(holderID), ":at": it["at"]}}
		}
		if !rec.Active() {
			// Stored, but takes no claim.
			return picket.ActionRecord{}, true, s.putAction(rec)
		}
		err = s.put(item{"pk": attrS(claimPK), "sk": attrS("-"), "holder": attrS(id),
			"at": attrN(s.now().UnixNano()), "v": attrB(v)}, c)
		if errors.Is(err, errConflict) {
			continue
		}
		if err != nil {
			return picket.ActionRecord{}, false, err
		}
		return picket.ActionRecord{}, true, s.putAction(rec)
	}
	return picket.ActionRecord{}, false, errors.New("too many concurrent claimants")
}

// PutAction replaces the record stored under rec.Request.ID; a record no
// longer Active releases its claim.
func (s *Store) PutAction(rec picket.ActionRecord) error {
	if rec.Request.ID == "" {
		return picket.Errorf(picket.EINVALID, "action request has no id")
	}
	if err := s.putAction(rec); err != nil {
		return fmt.Errorf("put action %s: %w", rec.Request.ID, err)
	}
	return nil
}

// putAction indexes the record under its finding (first, and only once, so
// that a crash never leaves a record its finding does not list), stores
// it, and releases the claims it holds once it is no longer Active.
func (s *Store) putAction(rec picket.ActionRecord) error {
	id := rec.Request.ID
	if fk := rec.Request.FindingKey; fk != "" {
		err := s.put(item{"pk": attrS("fa#" + fk), "sk": attrS(id), "at": attrN(s.now().UnixNano())},
			&cond{expr: "attribute_not_exists(pk)"})
		if err != nil && !errors.Is(err, errConflict) {
			return fmt.Errorf("index by finding: %w", err)
		}
	}
	old, existed, err := s.getAction(id)
	if err != nil {
		return err
	}
	v, err := encodeJSON(&rec)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if err := s.put(item{"pk": attrS(actionPK(id)), "sk": attrS(id), "v": attrB(v), "status": attrS(string(rec.Status))}, nil); err != nil {
		return err
	}
	if rec.Active() {
		return nil
	}
	keys := []string{rec.Request.ClaimKey()}
	if existed && old.Request.ClaimKey() != keys[0] {
		keys = append(keys, old.Request.ClaimKey())
	}
	for _, k := range keys {
		err := s.del("c#"+k, "-", &cond{expr: "holder = :h", values: item{":h": attrS(id)}})
		if err != nil && !errors.Is(err, errConflict) {
			return fmt.Errorf("release claim %s: %w", k, err)
		}
	}
	return nil
}

// Action returns the record of request requestID.
func (s *Store) Action(requestID string) (picket.ActionRecord, bool, error) {
	rec, ok, err := s.getAction(requestID)
	if err != nil {
		return picket.ActionRecord{}, false, fmt.Errorf("get action %s: %w", requestID, err)
	}
	return rec, ok, nil
}

// ActionsForFinding returns the records of finding findingKey, oldest
// first.
func (s *Store) ActionsForFinding(findingKey string) ([]picket.ActionRecord, error) {
	type entry struct {
		id string
		at int64
	}
	var idx []entry
	_, err := s.query("fa#"+findingKey, queryOpts{}, func(it item) (bool, error) {
		idx = append(idx, entry{getS(it, "sk"), getN(it, "at")})
		return true, nil
	})
	sort.SliceStable(idx, func(i, j int) bool {
		if idx[i].at != idx[j].at {
			return idx[i].at < idx[j].at
		}
		return idx[i].id < idx[j].id
	})
	var out []picket.ActionRecord
	for _, e := range idx {
		if err != nil {
			break
		}
		var rec picket.ActionRecord
		var ok bool
		if rec, ok, err = s.getAction(e.id); ok {
			out = append(out, rec)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list actions for finding %s: %w", findingKey, err)
	}
	return out, nil
}

func (s *Store) actions(filter *cond) ([]picket.ActionRecord, error) {
	var out []picket.ActionRecord
	_, err := s.queryShards("a", queryOpts{filter: filter}, func(it item) (bool, error) {
		var rec picket.ActionRecord
		if err := json.Unmarshal(getB(it, "v"), &rec); err != nil {
			return false, fmt.Errorf("decode action %s: %w", getS(it, "sk"), err)
		}
		out = append(out, rec)
		return true, nil
	})
	return out, err
}

func statusIs(status picket.ActionOutcome) *cond {
	return &cond{expr: "#st = :st", names: map[string]string{"#st": "status"}, values: item{":st": attrS(string(status))}}
}

// PendingActions returns the records awaiting approval, soonest to expire
// first.
func (s *Store) PendingActions() ([]picket.ActionRecord, error) {
	out, err := s.actions(statusIs(picket.OutcomePending))
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
// request id order.
func (s *Store) RunningActions() ([]picket.ActionRecord, error) {
	out, err := s.actions(statusIs(picket.StatusRunning))
	if err != nil {
		return nil, fmt.Errorf("list running actions: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Request.ID < out[j].Request.ID })
	return out, nil
}

// AllActions returns every action record, in request id order.
func (s *Store) AllActions() ([]picket.ActionRecord, error) {
	out, err := s.actions(nil)
	if err != nil {
		return nil, fmt.Errorf("list actions: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Request.ID < out[j].Request.ID })
	return out, nil
}

// PutSuppression saves s under sup.ID, replacing what was there.
func (s *Store) PutSuppression(sup picket.Suppression) error {
	if sup.ID == "" {
		return picket.Errorf(picket.EINVALID, "suppression has no id")
	}
	v, err := encodeJSON(&sup)
	if err == nil {
		err = s.put(item{"pk": attrS("supp"), "sk": attrS(sup.ID), "v": attrB(v)}, nil)
	}
	if err != nil {
		return fmt.Errorf("put suppression %s: %w", sup.ID, err)
	}
	return nil
}

// Suppressions returns every stored suppression, oldest Created first,
// then by ID: one Query, as intake reads them for every message.
func (s *Store) Suppressions() ([]picket.Suppression, error) {
	var out []picket.Suppression
	_, err := s.query("supp", queryOpts{}, func(it item) (bool, error) {
		var sup picket.Suppression
		if err := json.Unmarshal(getB(it, "v"), &sup); err != nil {
			return false, fmt.Errorf("decode suppression %s: %w", getS(it, "sk"), err)
		}
		out = append(out, sup)
		return true, nil
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
