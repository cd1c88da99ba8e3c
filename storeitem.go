package picket

import (
	"encoding/json"
	"errors"
)

// StoreItem is one item of a store export (`picket store export`): what
// both stores keep, in one format, so that a bbolt store can be moved to
// DynamoDB and back. Value is the item's JSON as the store keeps it; audit
// entries keep their exact sealed bytes, so the chain verifies after
// import.
type StoreItem struct {
	// Kind is one of the Item* constants.
	Kind string `json:"kind"`
	// Key identifies the item within its kind (see the constants).
	Key string `json:"key"`
	// Value is the item's JSON.
	Value json.RawMessage `json:"value,omitempty"`
}

// Kinds of StoreItem, with what Key and Value hold.
const (
	ItemFinding        = "finding"         // finding key; FindingRecord
	ItemPending        = "pending"         // finding key; Pending (its outbox entry)
	ItemFindingID      = "finding_id"      // source finding id; the finding key (string)
	ItemMessage        = "message"         // queue message id; Unix ns it was handled (number)
	ItemAction         = "action"          // request id; ActionRecord
	ItemClaim          = "claim"           // claim key; holder request id (string)
	ItemFindingAction  = "finding_action"  // finding key; request id (string), in the order stored
	ItemSuppression    = "suppression"     // suppression id; Suppression
	ItemDigestSnapshot = "digest_snapshot" // schedule name; DigestSnapshot
	ItemDigestRun      = "digest_run"      // schedule name; Unix ns of the last slot (number)
	ItemGroup          = "group"           // group id; Group
	ItemGroupOpen      = "group_open"      // group id; none
	ItemGroupMember    = "group_member"    // group id; GroupMember
	ItemPost           = "post"            // post id; Post
	ItemChannel        = "channel"         // configured channel name; Slack's id (string)
	ItemAudit          = "audit"           // sequence number (decimal); the sealed entry, byte for byte
	ItemCounter        = "counter"         // counter name ("groups", "outbox"); its value (number)
	ItemAutoRun        = "auto_run"        // run id; AutoRun
	ItemAutoSwitch     = "auto_switch"     // "switch"; AutoSwitch (the kill switch)
)

// GroupMember is the Value of an ItemGroupMember: member number N of the
// group is finding Key.
type GroupMember struct {
	N   int    `json:"n"`
	Key string `json:"key"`
}

// ErrStoreNotEmpty is Porter.ImportItems refusing a store in use.
var ErrStoreNotEmpty = errors.New("the store is not empty (it holds findings or audit entries): import only into a new store")

// Porter moves a whole store out and in. store.DB and dynamo.Store
// implement it.
type Porter interface {
	// ExportItems calls fn for every item, audit entries in sequence
	// order, finding actions in the order they were stored.
	ExportItems(fn func(StoreItem) error) error
	// ImportItems stores the items next yields (ok false: no more) into
	// an empty store and returns how many it stored. It refuses a store
	// that holds a finding or an audit entry with ErrStoreNotEmpty.
	ImportItems(next func() (it StoreItem, ok bool, err error)) (int, error)
}

// Check reports whether the item is one a store can hold: a known kind, a
// key, and a Value of the kind's shape (an object of the kind's type, a
// string, a number, or nothing for ItemGroupOpen). `picket store import`
// reads items from a file anyone could have edited; what fails here would
// otherwise be stored as it is and fail only when Picket next reads it.
func (it StoreItem) Check() error {
	if it.Key == "" {
		return Errorf(EINVALID, "%s item with no key", it.Kind)
	}
	var v any
	switch it.Kind {
	case ItemFinding:
		v = new(FindingRecord)
	case ItemPending:
		v = new(Pending)
	case ItemAction:
		v = new(ActionRecord)
	case ItemSuppression:
		v = new(Suppression)
	case ItemDigestSnapshot:
		v = new(DigestSnapshot)
	case ItemGroup:
		v = new(Group)
	case ItemGroupMember:
		v = new(GroupMember)
	case ItemPost:
		v = new(Post)
	case ItemAudit:
		v = new(AuditEntry)
	case ItemAutoRun:
		v = new(AutoRun)
	case ItemAutoSwitch:
		v = new(AutoSwitch)
	case ItemFindingID, ItemClaim, ItemFindingAction, ItemChannel:
		v = new(string)
	case ItemMessage, ItemDigestRun, ItemCounter:
		v = new(int64)
	case ItemGroupOpen:
		return nil
	default:
		return Errorf(EINVALID, "unknown kind of item %q", it.Kind)
	}
	want := "an object"
	switch v.(type) {
	case *string:
		want = "a string"
	case *int64:
		want = "an integer"
	}
	// json.Unmarshal takes null (and an absent value) for any of these.
	if len(it.Value) == 0 || string(it.Value) == "null" {
		return Errorf(EINVALID, "%s %q: value is not %s", it.Kind, it.Key, want)
	}
	if err := json.Unmarshal(it.Value, v); err != nil {
		return Errorf(EINVALID, "%s %q: value is not %s: %v", it.Kind, it.Key, want, err)
	}
	return nil
}
