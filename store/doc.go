// Package store is Picket's embedded database, a single bbolt file that keeps
// the latest state of every finding, which queue messages were fully handled,
// and (in later work) suppressions, the audit chain and digest snapshots.
//
// Only this package imports bbolt. DB implements picket.FindingStore.
//
// Layout, one bucket per kind of data, all created in one transaction when
// the file is opened:
//
//	meta          "schema" -> schema version, 8-byte big-endian
//	findings      finding key -> JSON picket.FindingRecord
//	finding_ids   source finding id (GuardDuty id, ASFF Id) -> finding key
//	messages      queue message id -> 8-byte big-endian Unix nanoseconds (UTC)
//	audit         reserved
//	suppressions  reserved
//	digests       reserved
//
// Every write is one bbolt read-write transaction that is synced to disk
// before the call returns, because the ingest path deletes a queue message
// only after its outcome is committed here.
//
// The file is locked while open. A second Picket (or a second Open in the
// same process) gives up after Options.Timeout with ErrLocked instead of
// hanging.
package store
