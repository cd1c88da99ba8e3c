// Package ingest consumes the SQS queue that EventBridge findings reach
// through SNS, and hands every decoded finding to a picket.FindingHandler.
//
// The Consumer keeps the queue's promises to the rest of Picket:
//
//   - A message is deleted only after the handler committed every finding in
//     it and the message as done, in one transaction (HandleMessage, then
//     DeleteMessage). The handler does not wait on Slack: findings to show
//     wait in the store's outbox. A redelivered message the store already
//     knows is deleted without being handled again.
//   - A message that cannot be decoded is logged with its id, receive count and
//     reason, counted, and never deleted: the queue's redrive policy moves it to
//     the dead-letter queue after maxReceiveCount receives.
//   - A message whose handling failed is left for redelivery; the handler is
//     idempotent by finding key.
//   - While a message waits to be handled or is being handled, its visibility
//     timeout is extended every third of VisibilityTimeout, so slow work (a
//     slow disk) never makes it visible to another consumer.
//   - On shutdown the consumer stops receiving, returns messages it had not
//     started to the queue, and lets those in progress finish within
//     ShutdownGrace using a context detached from Run's.
//
// The consumer also tells how far behind it is (OldestWait: how long the
// oldest message of its last receive had waited, from SentTimestamp), and a
// DepthWatcher polls the queue's approximate counts and those of the
// dead-letter queue its redrive policy names, for metrics and status.
//
// Decoding the body (SNS envelope or raw delivery, EventBridge, GuardDuty,
// ASFF) is not this package's job: Options.Decode is given a function, in
// production event.Decode.
package ingest
