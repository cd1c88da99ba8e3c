package picket

import "encoding/json"

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

// Porter moves a whole store out and in. store.DB and dynamo.Store
// implement it.
type Porter interface {
	// ExportItems calls fn for every item, audit entries in sequence
	// order, finding actions in the order they were stored.
	ExportItems(fn func(StoreItem) error) error
	// ImportItems stores the items next yields (ok false: no more) into
	// an empty store and returns how many it stored. It refuses a store
	// that holds a finding or an audit entry.
	ImportItems(next func() (it StoreItem, ok bool, err error)) (int, error)
}
