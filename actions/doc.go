// Package actions runs Picket's responses against AWS: Disable user,
// Quarantine instance, Revoke role sessions, Suppress, Escalate to
// Detective, Patch instance, and Undo (of containments and of
// suppressions). Each
// response is a picket.Responder that plans first (read-only calls, guardrail
// checks) and then executes step by step, recording every AWS call with its
// request id so a partial failure is reported truthfully. Service ties the
// responders to authorization, the two-person rule, exactly-once claims,
// the audit trail and the Slack announcements, through the root package's
// interfaces; this package never imports Slack.
//
// Each AWS service sits behind a narrow interface (aws.go) with the SDK's
// exact method signatures, so the real clients satisfy them and tests fake
// only what they use. Clients for another account come from STS AssumeRole
// (clients.go).
//
// A containment (Disable user, Quarantine instance, Revoke role sessions)
// claims its resource, not its finding, so one resource is contained once
// however many findings name it; it saves the state it recorded before its
// first change (a Checkpoint), so Undo works even after a restart cut it
// short. Disable user acts only on IAM users: a role session is contained by
// revoking its role's sessions, and root and federated principals are
// escalated.
//
// Patch instance starts work that ends later (a Run Command invocation): it
// is a Follower. The Service saves the command id, answers the click, and
// follows the command in the background to its end; a restart resumes
// following it (Recover) and never sends it again.
//
// The fix buttons of failed Security Hub controls (Fix, fix.go) share one
// engine: the runbook of each kind (fix_s3.go: bucket and account Block
// Public Access; fix_sg.go: world-open security group rules; fix_ebs.go: EBS
// encryption by default) says what it reads, what it changes and how Undo
// restores it; the engine checks that the finding calls for the fix
// (picket.Fixes), reads the state again at execution, saves it before the
// first change and words the result, partial failures included.
//
// Autopilot carries out automatic response rules (autopilot.go): intake
// tells it which findings it committed, it stores one picket.AutoRun per
// rule and finding, and runs each through Service.Automatic, which applies
// every guardrail a click gets with the rule as the actor (auto.go). It
// keeps each rule's hourly budget and the kill switch, and replies in the
// alert's thread once the alert is posted.
package actions
