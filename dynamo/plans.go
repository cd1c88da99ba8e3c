package dynamo

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/picketsec/picket"
)

var _ picket.PlanStore = (*Store)(nil)

// PutPlan implements picket.PlanStore: one item per plan, with a ttl so
// DynamoDB removes the plans of dialogs never confirmed.
func (s *Store) PutPlan(p picket.Plan, expires time.Time) error {
	id := p.Request.ID
	if id == "" {
		return picket.Errorf(picket.EINVALID, "plan has no request id")
	}
	v, err := json.Marshal(p)
	if err == nil {
		err = s.put(item{"pk": attrS(shard("plan", id)), "sk": attrS(id), "v": attrB(v),
			"exp": attrN(expires.UnixMilli()), "ttl": attrN(expires.Add(time.Hour).Unix())}, nil)
	}
	if err != nil {
		return fmt.Errorf("put plan %s: %w", id, err)
	}
	return nil
}

// PreparedPlan implements picket.PlanStore.
func (s *Store) PreparedPlan(id string) (picket.Plan, time.Time, bool, error) {
	it, ok, err := s.get(shard("plan", id), id)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("get plan %s: %w", id, err)
		}
		return picket.Plan{}, time.Time{}, false, err
	}
	var p picket.Plan
	if err := json.Unmarshal(getB(it, "v"), &p); err != nil {
		return picket.Plan{}, time.Time{}, false, fmt.Errorf("decode plan %s: %w", id, err)
	}
	return p, time.UnixMilli(getN(it, "exp")).UTC(), true, nil
}

// DeletePlan implements picket.PlanStore with a delete conditioned on the
// item existing: of concurrent deletes exactly one succeeds.
func (s *Store) DeletePlan(id string) (bool, error) {
	err := s.del(shard("plan", id), id, &cond{expr: "attribute_exists(pk)"})
	if errors.Is(err, errConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete plan %s: %w", id, err)
	}
	return true, nil
}
