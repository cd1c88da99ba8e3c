// Package event decodes what arrives in an SQS message body into
// normalised picket.Finding values. It does no I/O.
//
// Decode accepts an SNS envelope holding an EventBridge event, the
// EventBridge event itself (raw message delivery), and, for replaying saved
// findings, bare GuardDuty and ASFF findings and GetFindings responses. It
// tells malformed input (picket.EINVALID) from well-formed input that is not
// a finding (picket.ENOTFINDING) and from formats not handled yet
// (picket.EUNSUPPORTED), with a message that says why.
//
// A finding event is accepted only from the AWS service that sends it
// (source aws.guardduty or aws.securityhub); a Decoder can further require
// the configured SNS topic and refuse bare findings, as the queue's does
// (picket.EUNTRUSTED). The principal behind an access key keeps its type
// (IAM user, role session, federated user, root), so that no response
// mistakes a session for an IAM user of the same name.
//
// The same GuardDuty finding gets the same Finding.Key whether it arrives
// natively or imported into Security Hub: the key is derived from the
// GuardDuty finding ARN in both cases.
//
// Decoding uses a small validating JSON scanner instead of encoding/json:
// it reads only the fields a finding needs and is several times faster (see
// BenchmarkDecode), while still rejecting any syntax error anywhere in the
// input.
package event
