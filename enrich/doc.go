// Package enrich looks up context about a finding's resources before it is
// shown to people: the account alias, the IAM user behind a user or access
// key finding (groups, policies, keys and their last use, MFA, console
// access), and the EC2 instance behind an instance finding (name, owner,
// network placement, instance profile, Auto Scaling group).
//
// Enricher implements picket.Enricher. Every lookup is read-only, runs
// concurrently with the others inside one time budget per finding, and is
// cached per account, region, kind and id for a TTL measured on the injected
// clock; failures are never cached. Enrich never fails: what it could not
// learn becomes a short sentence in Enrichment.Missing ("IAM user alice:
// access denied (iam:GetUser); grant it to see user context"). Those
// sentences quote names taken from the finding, so renderers must escape
// them like any other finding text.
//
// AWS is reached through the narrow IAMAPI and EC2API interfaces, which
// *iam.Client and *ec2.Client satisfy. Options.Clients picks the clients
// that can see a finding's account and region, so cross-account access
// (STS AssumeRole) lives behind that one function.
package enrich
