// Package posturetest registers, on an awsfake.Server, the replies of an
// AWS account that passes every posture check, and builds the replies that
// make single checks fail. Tests of posture, commands and cmd/picket use
// it to run the real checks through real SDK clients.
package posturetest
