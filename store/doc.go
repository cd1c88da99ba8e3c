// Package store is Picket's embedded database, a single bbolt file that keeps
// the latest state of every finding, which queue messages were fully handled,
// the tamper-evident audit trail, response actions and their claims,
// suppressions and (in later work) digest snapshots.
//
// Only this package imports bbolt. DB implements picket.FindingStore,
// picket.Auditor, picket.ActionStore and picket.SuppressionStore.
//
// Layout, one bucket per kind of data, all created in one transaction when
// the file is opened:
//
//	meta             "schema" -> schema version, 8-byte big-endian
//	                 "audit_head" -> newest audit seq (8-byte big-endian) + its hex hash (or HMAC)
//	findings         finding key -> JSON picket.FindingRecord
//	finding_ids      source finding id (GuardDuty id, ASFF Id) -> finding key
//	messages         queue message id -> 8-byte big-endian Unix nanoseconds (UTC)
//	audit            8-byte big-endian seq (from 1) -> canonical JSON picket.AuditEntry
//	actions          action request id -> JSON picket.ActionRecord
//	claims           ActionRequest.ClaimKey() -> request id of the Active holder
//	finding_actions  finding key + NUL + 8-byte big-endian sequence -> request id
//	suppressions     suppression id -> JSON picket.Suppression
//	digests          daily snapshots ("snap\x00name\x00YYYYMMDD") and last runs ("run\x00name"); see digests.go
//	outbox           finding key -> JSON picket.Pending: the finding waits to be posted or updated in Slack
//	groups           group id ("g" + sequence) -> JSON picket.Group: a group message and its running summary
//	groups_open      group id -> nothing, for groups with work left or still taking members
//	group_members    group id + NUL + 8-byte big-endian member number -> finding key
//	posts            post id -> JSON picket.Post: a Slack post in flight (see picket.Post)
//	channels         configured channel name ("#security") -> the id Slack answered with
//
// The audit trail is a hash chain: each entry holds the hash of the entry
// before it, and its own hash over its canonical encoding (see DB.Audit),
// so VerifyAudit detects a changed, removed or reordered entry. With an
// audit key (Options.AuditKey, kept outside the data directory) the hashes
// are HMAC-SHA-256, so someone who can write the file but does not hold
// the key cannot reseal a changed entry or forge new ones; without a key
// they are plain SHA-256, which anyone can recompute. Either way, cutting
// off the newest entries and rewriting the head record is only seen by
// comparing with a head exported earlier (DB.AuditHead; Picket logs it
// periodically). Fields added to picket.AuditEntry later must be
// omitempty/omitzero, or old entries would no longer hash to their stored
// Hash.
//
// A claim makes an action run at most once: ClaimAction takes it in the
// same transaction that stores the record, and a record that stops being
// Active (failed, refused, rejected, undone) gives it back in PutAction.
//
// Every write is one bbolt read-write transaction that is synced to disk
// before the call returns, because the ingest path deletes a queue message
// only after its outcome is committed here. Intake, the one high-rate
// writer, shares transactions: concurrent Intake calls are committed
// together by one goroutine (group commit), so many queue messages cost one
// fsync, and a call that fails is taken out and the others run again
// without it (see committer).
//
// The file is locked while open. A second Picket (or a second Open in the
// same process) gives up after Options.Timeout with ErrLocked instead of
// hanging.
package store
