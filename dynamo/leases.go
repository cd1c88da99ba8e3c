package dynamo

import (
	"errors"
	"fmt"
	"time"

	"github.com/picketsec/picket"
)

var _ picket.LeaseStore = (*Store)(nil)

// TakeLease implements picket.LeaseStore with one conditional put: the
// lease item is written when it does not exist, has expired at now, or
// belongs to owner already, so of concurrent takers across processes
// exactly one wins. The item carries a ttl so that DynamoDB's expiry
// removes leases nobody renews.
func (s *Store) TakeLease(name, owner string, now, until time.Time) (bool, error) {
	if name == "" || owner == "" {
		return false, picket.Errorf(picket.EINVALID, "lease needs a name and an owner")
	}
	it := item{"pk": attrS("lease"), "sk": attrS(name), "owner": attrS(owner),
		"until": attrN(until.UnixMilli()), "ttl": attrN(until.Add(time.Hour).Unix())}
	err := s.put(it, &cond{expr: "attribute_not_exists(pk) OR #o = :o OR #u <= :now",
		names:  map[string]string{"#o": "owner", "#u": "until"},
		values: item{":o": attrS(owner), ":now": attrN(now.UnixMilli())}})
	if errors.Is(err, errConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", name, err)
	}
	return true, nil
}

// ReleaseLease implements picket.LeaseStore: a delete conditioned on the
// owner.
func (s *Store) ReleaseLease(name, owner string) error {
	err := s.del("lease", name, &cond{expr: "#o = :o", names: map[string]string{"#o": "owner"},
		values: item{":o": attrS(owner)}})
	if err != nil && !errors.Is(err, errConflict) {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}
