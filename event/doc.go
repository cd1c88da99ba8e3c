// Package event decodes what arrives in an SQS message body into
// normalised picket.Finding values. It does no I/O.
//
// Decode accepts an SNS envelope holding an EventBridge event, the
// EventBridge event itself (raw message delivery), and, for replaying saved
// findings, bare GuardDuty, ASFF, Macie and Inspector findings and
// GetFindings responses. Finding events are GuardDuty's, Security Hub's
// (ASFF, and v2's OCSF "Findings Imported V2"), and those Inspector, Macie
// and IAM Access Analyzer send directly. It tells malformed input
// (picket.EINVALID) from well-formed input that is not a finding
// (picket.ENOTFINDING) and from formats not handled (picket.EUNSUPPORTED),
// with a message that says why.
//
// A finding event is accepted only from the AWS service that sends it
// (source aws.guardduty, aws.securityhub, aws.inspector2, aws.macie or
// aws.access-analyzer); a Decoder can further require
// the configured SNS topic and refuse bare findings, as the queue's does
// (picket.EUNTRUSTED). The principal behind an access key keeps its type
// (IAM user, role session, federated user, root), so that no response
// mistakes a session for an IAM user of the same name.
//
// The same GuardDuty finding gets the same Finding.Key whether it arrives
// natively or imported into Security Hub: the key is derived from the
// GuardDuty finding ARN in both cases. Likewise a finding seen through
// Security Hub v1 (ASFF) and v2 (OCSF), or natively from Inspector, Macie
// or IAM Access Analyzer and through Security Hub, has one Key: every path
// derives the identity Security Hub v1 uses (ProductArn and Id).
//
// Decoding uses a small validating JSON scanner instead of encoding/json:
// it reads only the fields a finding needs and is several times faster (see
// BenchmarkDecode), while still rejecting any syntax error anywhere in the
// input. Sources off that hot path (Security Hub v2, the native Inspector,
// Macie and Access Analyzer events, and the ASFF Vulnerabilities,
// DataClassification and Details.Other of their imported findings) are
// read with encoding/json, and only when present.
package event
