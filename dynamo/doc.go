// Package dynamo is Picket's shared store: picket.Store on one DynamoDB
// table, so that several Picket processes can work on one queue. Only this
// package imports the DynamoDB client.
//
// It uses single-item conditional writes and Query only: no transactions
// (DynamoDB-compatible test servers lack them, and they cost twice) and no
// Scan. Every item has a string partition key "pk" and sort key "sk".
// Kinds that must be listed are spread over 16 partitions ("f#07") by a
// hash of their key and listed with one Query per partition:
//
//	f#NN        finding key          v: JSON picket.FindingRecord, ver: version,
//	                                 p: JSON picket.Pending when it waits in the outbox
//	fid#NN      source finding id    k: finding key
//	o#NN        finding key          seq: outbox index entry (see Intake)
//	m#NN        queue message id     at: Unix ns, ttl: expiry (Unix s)
//	a#NN        action request id    v: JSON picket.ActionRecord, status
//	c#CLAIMKEY  "-"                  holder: request id, at, v: the holder's record
//	fa#KEY      request id           at: when first stored (ActionsForFinding order)
//	supp        suppression id       v: JSON picket.Suppression
//	ds#NAME     YYYYMMDD             v: JSON picket.DigestSnapshot
//	dr#NAME     "-"                  slot: Unix ns of the last slot claimed
//	g#ID        "-"                  v: JSON picket.Group, ver
//	gopen       group id             gver: group version that opened it
//	gm#ID       member number (12 digits)  k: finding key
//	posts       post id              v: JSON picket.Post
//	chan        channel name         id: the id Slack gave it
//	audit       seq (20 digits)      v: the entry's sealed bytes
//	audit_head  "-"                  seq, hash: newest entry written (a lower bound)
//	counter     "groups"             n: last group number
//	meta        "-"                  schema
//
// Updates of one item that depend on what it holds (a finding's record, a
// group's summary) read it, change it and write it back on condition that
// its version "ver" is unchanged, retrying on conflict. Claims (actions,
// digest slots) are conditional puts: of concurrent writers exactly one
// wins, across processes. The audit chain is one chain with any number of
// writers: each appends entry n+1 with attribute_not_exists, and a writer
// that loses reads the new head and tries again.
//
// Items that expire (processed message ids) carry a "ttl" attribute in Unix
// seconds for the table's time-to-live, and readers treat an expired item as
// absent, because DynamoDB deletes expired items only eventually.
package dynamo
