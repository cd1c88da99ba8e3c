package picket

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Source names the AWS service a finding was first reported by.
type Source string

// Sources Picket understands.
const (
	SourceGuardDuty   Source = "guardduty"
	SourceSecurityHub Source = "securityhub"
	// SourceInspector, SourceMacie and SourceAccessAnalyzer are findings
	// those services sent directly to EventBridge, not through Security
	// Hub.
	SourceInspector      Source = "inspector"
	SourceMacie          Source = "macie"
	SourceAccessAnalyzer Source = "access-analyzer"
)

// Severity is a finding's severity on one scale shared by every source.
// The zero value is SeverityInformational.
type Severity int

// Severities from least to most urgent.
const (
	SeverityInformational Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"Informational", "Low", "Medium", "High", "Critical"}

// String returns the severity as a person reads it, e.g. "High".
func (s Severity) String() string {
	if s < SeverityInformational || s > SeverityCritical {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalText encodes the severity as its upper-case label ("HIGH"), the form
// AWS uses in ASFF.
func (s Severity) MarshalText() ([]byte, error) {
	if s < SeverityInformational || s > SeverityCritical {
		return nil, fmt.Errorf("invalid severity %d", int(s))
	}
	return []byte(strings.ToUpper(severityNames[s])), nil
}

// UnmarshalText accepts any label ParseSeverity accepts.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity reads a severity label in any letter case. "info" and
// "informational" are the same.
func ParseSeverity(label string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "informational", "info":
		return SeverityInformational, nil
	case "low":
		return SeverityLow, nil
	case "medium":
		return SeverityMedium, nil
	case "high":
		return SeverityHigh, nil
	case "critical":
		return SeverityCritical, nil
	}
	return 0, fmt.Errorf("unknown severity %q (want informational, low, medium, high or critical)", label)
}

// SeverityFromGuardDuty maps a GuardDuty score (1.0 to 10.0) to a Severity:
// 1.0-3.9 Low, 4.0-6.9 Medium, 7.0-8.9 High, 9.0 and above Critical.
// A score below 1 is Informational.
func SeverityFromGuardDuty(score float64) Severity {
	switch {
	case score >= 9:
		return SeverityCritical
	case score >= 7:
		return SeverityHigh
	case score >= 4:
		return SeverityMedium
	case score >= 1:
		return SeverityLow
	}
	return SeverityInformational
}

// SeverityFromNormalized maps an ASFF normalized score (0 to 100) to a
// Severity: 0 Informational, 1-39 Low, 40-69 Medium, 70-89 High, 90-100
// Critical.
func SeverityFromNormalized(n int) Severity {
	switch {
	case n >= 90:
		return SeverityCritical
	case n >= 70:
		return SeverityHigh
	case n >= 40:
		return SeverityMedium
	case n >= 1:
		return SeverityLow
	}
	return SeverityInformational
}

// ResourceKind classifies what a finding is about, so that the alert offers
// only the responses that make sense for it.
type ResourceKind string

// Resource kinds Picket distinguishes. Anything else is ResourceOther with
// the AWS type kept in Resource.Type.
const (
	ResourceIAMUser   ResourceKind = "iam_user"
	ResourceAccessKey ResourceKind = "access_key"
	ResourceIAMRole   ResourceKind = "iam_role"
	// ResourceRoleSession is an assumed-role session (temporary
	// credentials, principal type AssumedRole): ID is the name of the role
	// that issued it, Session the session name. It is contained by revoking
	// the role's sessions, never by disabling an IAM user.
	ResourceRoleSession ResourceKind = "role_session"
	// ResourceFederatedUser is a federated user session (principal type
	// FederatedUser, from sts:GetFederationToken): ID is its name.
	ResourceFederatedUser ResourceKind = "federated_user"
	ResourceRoot          ResourceKind = "root"
	ResourceEC2Instance   ResourceKind = "ec2_instance"
	ResourceS3Bucket      ResourceKind = "s3_bucket"
	ResourceSecurityGrp   ResourceKind = "security_group"
	ResourceAccount       ResourceKind = "account"
	// ResourceECRImage is a container image in ECR: ID is the image
	// digest, Repository its repository, ImageTags its tags.
	ResourceECRImage ResourceKind = "ecr_image"
	// ResourceLambda is a Lambda function: ID is its name.
	ResourceLambda ResourceKind = "lambda_function"
	ResourceOther  ResourceKind = "other"
)

// Label returns the kind as a person reads it ("IAM user"), or "" for
// ResourceOther and kinds Picket does not know.
func (k ResourceKind) Label() string {
	switch k {
	case ResourceIAMUser:
		return "IAM user"
	case ResourceAccessKey:
		return "Access key"
	case ResourceIAMRole:
		return "IAM role"
	case ResourceRoleSession:
		return "Role session"
	case ResourceFederatedUser:
		return "Federated user"
	case ResourceRoot:
		return "Root user"
	case ResourceEC2Instance:
		return "EC2 instance"
	case ResourceS3Bucket:
		return "S3 bucket"
	case ResourceSecurityGrp:
		return "Security group"
	case ResourceAccount:
		return "Account"
	case ResourceECRImage:
		return "ECR image"
	case ResourceLambda:
		return "Lambda function"
	}
	return ""
}

// Resource is one AWS resource a finding concerns.
type Resource struct {
	Kind ResourceKind `json:"kind"`
	// Type is the AWS resource type as reported (e.g. "AwsIamAccessKey",
	// "Instance", "AWS::S3::Bucket").
	Type string `json:"type,omitempty"`
	// ID is the short identifier: user name, access key id, instance id,
	// bucket name.
	ID  string `json:"id"`
	ARN string `json:"arn,omitempty"`
	// UserName is set for access keys of IAM users: the IAM user that owns
	// the key. It is empty for keys of any other principal (a role session,
	// a federated user, root), whatever name the finding gives them.
	UserName string `json:"user_name,omitempty"`
	Region   string `json:"region,omitempty"`
	// PrincipalType is the kind of principal behind an access key or
	// session as AWS reports it: "IAMUser", "AssumedRole",
	// "FederatedUser", "Root", "AWSService", ...; empty when not reported.
	PrincipalType string `json:"principal_type,omitempty"`
	// PrincipalID is the principal's unique id as reported ("AIDA...", or
	// "AROA...:session" for a role session).
	PrincipalID string `json:"principal_id,omitempty"`
	// Session is the session name of a role session.
	Session string `json:"session,omitempty"`
	// Repository is the ECR repository of an ECR image.
	Repository string `json:"repository,omitempty"`
	// ImageTags are the tags of an ECR image.
	ImageTags []string `json:"image_tags,omitempty"`
	// Mismatch says why the finding's name for the resource and its ARN
	// disagree; actions refuse to act on such a resource.
	Mismatch string `json:"mismatch,omitempty"`
}

// Principal types as GuardDuty (resource.accessKeyDetails.userType) and
// ASFF (AwsIamAccessKey.PrincipalType) report them.
const (
	PrincipalIAMUser       = "IAMUser"
	PrincipalAssumedRole   = "AssumedRole"
	PrincipalFederatedUser = "FederatedUser"
	PrincipalRoot          = "Root"
)

// Record states and workflow statuses as ASFF spells them. GuardDuty findings
// are mapped onto them: archived findings are ARCHIVED.
const (
	RecordActive   = "ACTIVE"
	RecordArchived = "ARCHIVED"

	WorkflowNew        = "NEW"
	WorkflowNotified   = "NOTIFIED"
	WorkflowResolved   = "RESOLVED"
	WorkflowSuppressed = "SUPPRESSED"
)

// Finding is one security finding normalised from GuardDuty or Security Hub.
type Finding struct {
	// Key is the stable dedup key: the same finding seen again, through
	// either source, has the same Key. See FindingKey.
	Key string `json:"key"`
	// ID is the source's own identifier (GuardDuty id, ASFF Id).
	ID      string `json:"id"`
	Source  Source `json:"source"`
	Product string `json:"product,omitempty"`
	// ProductARN is the Security Hub product ARN that, with the GuardDuty
	// finding ARN or the ASFF Id, identifies the finding in Security Hub
	// (BatchUpdateFindings needs both).
	ProductARN string `json:"product_arn,omitempty"`
	// ARN is the GuardDuty finding ARN for GuardDuty findings (native or
	// through Security Hub); empty for others.
	ARN string `json:"arn,omitempty"`
	// GeneratorID is the ASFF GeneratorId (the rule or control that made
	// the finding); empty for native GuardDuty findings.
	GeneratorID string `json:"generator_id,omitempty"`
	// Type is the GuardDuty finding type or the first ASFF type.
	Type          string     `json:"type"`
	Title         string     `json:"title"`
	Description   string     `json:"description,omitempty"`
	Severity      Severity   `json:"severity"`
	SeverityScore float64    `json:"severity_score"`
	Account       string     `json:"account"`
	Region        string     `json:"region"`
	Resources     []Resource `json:"resources"`

	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	// Count is how many times the activity was seen (GuardDuty
	// service.count); 1 when the source does not say.
	Count int `json:"count"`

	RecordState      string `json:"record_state,omitempty"`
	WorkflowStatus   string `json:"workflow_status,omitempty"`
	ComplianceStatus string `json:"compliance_status,omitempty"`
	ControlID        string `json:"control_id,omitempty"`

	RemediationURL string `json:"remediation_url,omitempty"`
	ConsoleURL     string `json:"console_url,omitempty"`
	// Sample is true for findings AWS generated as samples.
	Sample bool `json:"sample,omitempty"`
	// CustomAction is the Security Hub custom action name when a person sent
	// the finding to Picket from the console ("Security Hub Findings -
	// Custom Action" events).
	CustomAction string `json:"custom_action,omitempty"`
	// Vulnerabilities are the software vulnerabilities a vulnerability
	// finding (Inspector) reports.
	Vulnerabilities []Vulnerability `json:"vulnerabilities,omitempty"`
	// Data is what a data security finding (Macie) says about an S3 bucket
	// and the sensitive data in it.
	Data *DataFinding `json:"data,omitempty"`
	// Access is what an IAM Access Analyzer finding says about who can
	// reach a resource, or which access goes unused.
	Access *AccessFinding `json:"access,omitempty"`
	// EventID is the EventBridge event id the finding arrived in.
	EventID string `json:"event_id,omitempty"`
	// Raw is the finding object as received (the GuardDuty finding or the
	// ASFF finding, without envelopes), kept for the audit trail.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// Closed reports whether the finding no longer needs action: archived,
// resolved, suppressed, or a passed compliance check.
func (f *Finding) Closed() bool {
	return f.RecordState == RecordArchived ||
		f.WorkflowStatus == WorkflowResolved ||
		f.WorkflowStatus == WorkflowSuppressed ||
		f.ComplianceStatus == "PASSED"
}

// NewerThan reports whether f is a later version of the same finding than
// old: a later UpdatedAt, or the same UpdatedAt with a higher Count or a
// different state. It decides whether an out-of-order delivery is ignored.
func (f *Finding) NewerThan(old *Finding) bool {
	if !f.UpdatedAt.Equal(old.UpdatedAt) {
		return f.UpdatedAt.After(old.UpdatedAt)
	}
	if f.Count != old.Count {
		return f.Count > old.Count
	}
	return f.RecordState != old.RecordState || f.WorkflowStatus != old.WorkflowStatus ||
		f.ComplianceStatus != old.ComplianceStatus
}

// HasResource reports whether any resource of the finding is of kind k.
func (f *Finding) HasResource(k ResourceKind) bool {
	for _, r := range f.Resources {
		if r.Kind == k {
			return true
		}
	}
	return false
}

// FindingKey returns the dedup key for a finding identity. identity must be
// the same string for the same finding whatever source delivered it: for
// GuardDuty findings, native or imported into Security Hub, it is the
// GuardDuty finding ARN; for other Security Hub findings it is the ASFF
// ProductArn and Id joined by a newline. The key is short enough to travel
// in a Slack button value.
func FindingKey(identity string) string {
	sum := sha256.Sum256([]byte(identity))
	return hex.EncodeToString(sum[:12])
}

// Vulnerability is one software vulnerability (a CVE or a vendor advisory)
// that a finding reports, with what fixes it.
type Vulnerability struct {
	// ID is the vulnerability id, e.g. "CVE-2023-4863".
	ID string `json:"id"`
	// URL is a link to the vulnerability's description (https only).
	URL string `json:"url,omitempty"`
	// CVSS is the base score (0 to 10) of CVSSVersion; 0 when not given.
	CVSS        float64 `json:"cvss,omitempty"`
	CVSSVersion string  `json:"cvss_version,omitempty"`
	// EPSS is the probability (0 to 1) of exploitation in the next 30
	// days; HasEPSS tells 0 from absent.
	EPSS    float64 `json:"epss,omitempty"`
	HasEPSS bool    `json:"has_epss,omitempty"`
	// ExploitAvailable and FixAvailable are "YES", "NO" or (fix only)
	// "PARTIAL" as Inspector reports them; "" when not reported.
	ExploitAvailable string `json:"exploit_available,omitempty"`
	FixAvailable     string `json:"fix_available,omitempty"`
	// Packages are the vulnerable packages found.
	Packages []Package `json:"packages,omitempty"`
}

// Package is one vulnerable software package.
type Package struct {
	Name string `json:"name"`
	// Version is the installed version; FixedIn the version that fixes
	// the vulnerability ("" when there is none).
	Version string `json:"version,omitempty"`
	FixedIn string `json:"fixed_in,omitempty"`
	// Manager is the package manager ("OS", "NPM", "PYTHONPKG", ...).
	Manager string `json:"manager,omitempty"`
	// Path is the file the package was found in, for language packages.
	Path string `json:"path,omitempty"`
}

// DataFinding is what a Macie finding says: a sensitive-data finding names
// the object and what was found in it; a policy finding (the bucket made
// public, encryption disabled, ...) names the bucket and its state.
type DataFinding struct {
	// Category is "CLASSIFICATION" for sensitive data, "POLICY" for a
	// bucket policy finding.
	Category string `json:"category,omitempty"`
	Bucket   string `json:"bucket,omitempty"`
	// ObjectKey is the object the sensitive data is in, for sensitive-data
	// findings.
	ObjectKey string `json:"object_key,omitempty"`
	// Public is the bucket's effective permission: "PUBLIC",
	// "NOT_PUBLIC" or "UNKNOWN"; "" when not reported.
	Public string `json:"public,omitempty"`
	// Encryption is the bucket's default server-side encryption: "NONE",
	// "AES256", "aws:kms", "aws:kms:dsse"; "" when not reported.
	Encryption string `json:"encryption,omitempty"`
	// UnencryptedUploads says whether the bucket policy allows unencrypted
	// uploads: "TRUE", "FALSE" or "UNKNOWN".
	UnencryptedUploads string `json:"unencrypted_uploads,omitempty"`
	// Detections are the types of sensitive data found, with how many
	// occurrences of each; Total is their sum as Macie reports it.
	Detections []DataDetection `json:"detections,omitempty"`
	Total      int             `json:"total,omitempty"`
}

// DataDetection is one type of sensitive data found.
type DataDetection struct {
	// Category is the category of a managed data identifier
	// ("FINANCIAL_INFORMATION", "PERSONAL_INFORMATION", "CREDENTIALS",
	// ...) or "CUSTOM_IDENTIFIER".
	Category string `json:"category"`
	// Type is the managed identifier ("CREDIT_CARD_NUMBER") or the name of
	// the custom data identifier.
	Type  string `json:"type"`
	Count int    `json:"count"`
}

// Kinds of IAM Access Analyzer findings.
const (
	AccessExternal = "external"
	AccessInternal = "internal"
	AccessUnused   = "unused"
)

// AccessFinding is what an IAM Access Analyzer finding says: for external
// and internal access, which principals (or everyone, when public) are
// granted which actions on the resource under which condition; for unused
// access, which role, key, password or permissions went unused and since
// when.
type AccessFinding struct {
	// Kind is AccessExternal, AccessInternal or AccessUnused.
	Kind string `json:"kind"`
	// Analyzer is the ARN of the analyzer that made the finding.
	Analyzer string `json:"analyzer,omitempty"`
	// ResourceType is the CloudFormation-style type ("AWS::S3::Bucket").
	ResourceType string `json:"resource_type,omitempty"`
	// Principals are who is granted access ("AWS 444455556666").
	Principals []string `json:"principals,omitempty"`
	Public     bool     `json:"public,omitempty"`
	Actions    []string `json:"actions,omitempty"`
	// Condition is the condition of the grant as JSON or as reported;
	// "" when there is none.
	Condition string `json:"condition,omitempty"`
	// FindingType is the unused-access finding type ("UnusedIAMRole",
	// "UnusedIAMUserAccessKey", "UnusedIAMUserPassword",
	// "UnusedPermission").
	FindingType string `json:"finding_type,omitempty"`
	// Unused lists what went unused: access key ids, or services with
	// their unused actions.
	Unused []string `json:"unused,omitempty"`
	// LastAccessed is when the unused access was last used; zero when
	// never (or not reported).
	LastAccessed time.Time `json:"last_accessed,omitzero"`
	// Error is why the analyzer could not analyze the resource
	// ("ACCESS_DENIED").
	Error string `json:"error,omitempty"`
}
