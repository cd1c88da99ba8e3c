// Package picket holds the domain of Picket, a ChatOps security bot for AWS:
// findings and their severity, the resources they concern, the context that
// enrichment adds, the alerts that reach people, and the narrow interfaces
// that the adapter packages (ingest, triage, enrich, notifiers, store, bot,
// actions, commands, posture) implement or consume.
//
// This package imports only the standard library. Adapters talk to each other
// through these types, never directly, so that a reader finds "where does
// Slack live?" by folder name and every adapter can be faked in tests.
package picket
