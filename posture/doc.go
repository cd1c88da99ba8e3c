// Package posture runs read-only posture checks on an AWS account, in the
// style of the CIS AWS Foundations Benchmark, and reports them as a
// picket.PostureReport.
//
// The checks are a table of definitions (Definitions): each row has an ID,
// a title, a section, a severity, why it matters, how to fix it and the
// function that runs it. A Checker runs the rows concurrently, each with a
// timeout, in every configured region for the regional ones, and caches
// reports briefly so repeated commands do not hammer the APIs. A check that
// cannot run (AccessDenied, a timeout) is reported as an error naming what
// went wrong, and the other checks still complete.
//
// Every AWS service sits behind a narrow interface with the SDK's method
// signatures (IAMAPI, EC2API, ...), gathered in Clients. IAM user checks
// read the credential report rather than calling once per user.
//
// Text renders a report for a terminal; the same report serves Slack.
package posture
