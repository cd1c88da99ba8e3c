package posture

import (
	"context"

	"github.com/picketsec/picket"
)

// Sections group checks as the CIS AWS Foundations Benchmark does.
const (
	SectionIAM        = "Identity and Access Management"
	SectionStorage    = "Storage"
	SectionLogging    = "Logging"
	SectionMonitoring = "Monitoring"
	SectionNetworking = "Networking"
)

// Sections returns the sections in the order reports show them; the
// results of a report come in this order too.
func Sections() []string {
	return []string{SectionIAM, SectionStorage, SectionLogging, SectionMonitoring, SectionNetworking}
}

// Definition is one posture check: what it checks, why, how to fix it, and
// the function that runs it.
type Definition struct {
	// ID is short and stable ("iam.root-mfa"); commands and the CLI select
	// checks by it.
	ID       string
	Title    string
	Section  string
	Severity picket.Severity
	// Why says why it matters; Remediation how to fix it, with the AWS
	// documentation at RemediationURL.
	Why            string
	Remediation    string
	RemediationURL string
	// Regional checks run once in every configured region; the others
	// once per account.
	Regional bool
	// Run performs the check with the clients of one account in region.
	// It returns pass or fail with evidence (what was seen) and the
	// resources that fail, or an error when it could not tell.
	Run func(ctx context.Context, c Clients, region string) (status picket.CheckStatus, evidence, failing []string, err error)
}

// Definitions returns the table of posture checks, in report order.
func Definitions() []Definition {
	return []Definition{
		{
			ID: "iam.root-mfa", Title: "Root account has MFA", Section: SectionIAM, Severity: picket.SeverityCritical,
			Why:            "The root user can do anything in the account, including closing it; a password alone is one phishing email away.",
			Remediation:    "Sign in as root and assign an MFA device (a hardware key is best) under Security credentials.",
			RemediationURL: "https://docs.aws.amazon.com/IAM/latest/UserGuide/enable-virt-mfa-for-root.html",
			Run:            runRootMFA,
		},
		{
			ID: "iam.root-access-keys", Title: "Root account has no access keys", Section: SectionIAM, Severity: picket.SeverityCritical,
			Why:            "A leaked root access key gives unrestricted, unrevocable-by-policy access to the whole account.",
			Remediation:    "Sign in as root and delete its access keys; use IAM roles or users for programmatic access.",
			RemediationURL: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user_manage_delete-key.html",
			Run:            runRootAccessKeys,
		},
		{
			ID: "iam.password-policy", Title: "Password policy requires 14+ characters and prevents reuse of the last 24", Section: SectionIAM, Severity: picket.SeverityMedium,
			Why:            "Short or reused console passwords are guessed and stuffed from other breaches.",
			Remediation:    "Set the account password policy: minimum length 14, remember 24 previous passwords.",
			RemediationURL: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_account-policy.html",
			Run:            runPasswordPolicy,
		},
		{
			ID: "iam.console-mfa", Title: "Every console user has MFA", Section: SectionIAM, Severity: picket.SeverityHigh,
			Why:            "A console password without MFA is the most common way into an AWS account.",
			Remediation:    "Assign an MFA device to each listed user, or remove their console password.",
			RemediationURL: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable_virtual.html",
			Run:            runConsoleMFA,
		},
		{
			ID: "iam.access-key-age", Title: "Access keys are rotated within 90 days", Section: SectionIAM, Severity: picket.SeverityMedium,
			Why:            "Old keys have had the most time to leak into repositories, laptops and CI logs.",
			Remediation:    "Create a new key, move its users over, then deactivate and delete the old one.",
			RemediationURL: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html#rotating_access_keys_console",
			Run:            runAccessKeyAge,
		},
		{
			ID: "iam.unused-credentials", Title: "Credentials unused for 45 days are disabled", Section: SectionIAM, Severity: picket.SeverityMedium,
			Why:            "Forgotten passwords and keys are attack surface nobody watches.",
			Remediation:    "Remove the console password or deactivate the access key of each listed credential.",
			RemediationURL: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_finding-unused.html",
			Run:            runUnusedCredentials,
		},
		{
			ID: "iam.admin-policies", Title: "No user has a policy allowing \"*:*\"", Section: SectionIAM, Severity: picket.SeverityHigh,
			Why:            "Full administrator rights on a user turn any leak of that user's credentials into a full account compromise.",
			Remediation:    "Replace the listed policies with least-privilege ones; grant admin rights through a role assumed with MFA.",
			RemediationURL: "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege",
			Run:            runAdminPolicies,
		},
		{
			ID: "iam.access-analyzer", Title: "IAM Access Analyzer is enabled", Section: SectionIAM, Severity: picket.SeverityMedium, Regional: true,
			Why:            "Access Analyzer reports resources shared outside the account, such as public buckets and cross-account roles.",
			Remediation:    "Create an account (or organization) analyzer in each region.",
			RemediationURL: "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-getting-started.html",
			Run:            runAccessAnalyzer,
		},
		{
			ID: "s3.account-public-access-block", Title: "S3 Block Public Access is on for the account", Section: SectionStorage, Severity: picket.SeverityHigh,
			Why:            "Account-level Block Public Access stops any bucket from being made public by mistake.",
			Remediation:    "Turn on all four Block Public Access settings for the account in the S3 console.",
			RemediationURL: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/configuring-block-public-access-account.html",
			Run:            runAccountPublicAccessBlock,
		},
		{
			ID: "s3.public-buckets", Title: "No bucket is public", Section: SectionStorage, Severity: picket.SeverityHigh,
			Why:            "A public bucket serves its objects to anyone on the internet.",
			Remediation:    "Remove the public statements from each listed bucket's policy and turn on Block Public Access.",
			RemediationURL: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html",
			Run:            runPublicBuckets,
		},
		{
			ID: "ec2.ebs-default-encryption", Title: "EBS volumes are encrypted by default", Section: SectionStorage, Severity: picket.SeverityMedium, Regional: true,
			Why:            "Unencrypted volumes and their snapshots can be read by anyone who gets hold of a copy.",
			Remediation:    "Turn on EBS encryption by default in each region (EC2 console, Account attributes).",
			RemediationURL: "https://docs.aws.amazon.com/ebs/latest/userguide/encryption-by-default.html",
			Run:            runEBSEncryption,
		},
		{
			ID: "cloudtrail.multi-region", Title: "CloudTrail logs every region, validated and KMS-encrypted", Section: SectionLogging, Severity: picket.SeverityHigh,
			Why:            "Without a complete, tamper-evident trail an incident cannot be investigated.",
			Remediation:    "Create or update a trail: apply to all regions, enable log file validation and SSE-KMS, and start logging.",
			RemediationURL: "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/receive-cloudtrail-log-files-from-multiple-regions.html",
			Run:            runCloudTrail,
		},
		{
			ID: "config.recorder", Title: "AWS Config records all resources", Section: SectionLogging, Severity: picket.SeverityMedium, Regional: true,
			Why:            "AWS Config's history shows what changed, when and by whom: evidence for investigations.",
			Remediation:    "Set up AWS Config in each region recording all supported resource types, and start the recorder.",
			RemediationURL: "https://docs.aws.amazon.com/config/latest/developerguide/gs-console.html",
			Run:            runConfigRecorder,
		},
		{
			ID: "kms.key-rotation", Title: "Customer managed KMS keys rotate", Section: SectionLogging, Severity: picket.SeverityMedium, Regional: true,
			Why:            "Rotation limits how much data one compromised key version protects.",
			Remediation:    "Enable automatic rotation on each listed key.",
			RemediationURL: "https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html",
			Run:            runKeyRotation,
		},
		{
			ID: "vpc.flow-logs", Title: "Every VPC has flow logs", Section: SectionLogging, Severity: picket.SeverityMedium, Regional: true,
			Why:            "Flow logs show which hosts talked to which: the first thing asked after a compromise.",
			Remediation:    "Create a flow log (at least REJECT traffic) for each listed VPC.",
			RemediationURL: "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs.html",
			Run:            runFlowLogs,
		},
		{
			ID: "guardduty.enabled", Title: "GuardDuty is enabled", Section: SectionMonitoring, Severity: picket.SeverityHigh, Regional: true,
			Why:            "GuardDuty is the source of most findings Picket alerts on; a region without it is unwatched.",
			Remediation:    "Enable GuardDuty in each region (or through the organization's delegated administrator).",
			RemediationURL: "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_settingup.html",
			Run:            runGuardDuty,
		},
		{
			ID: "securityhub.enabled", Title: "Security Hub is enabled with a standard", Section: SectionMonitoring, Severity: picket.SeverityMedium, Regional: true,
			Why:            "Security Hub gathers findings and runs the configuration checks of its standards continuously.",
			Remediation:    "Enable Security Hub in each region with at least the AWS Foundational Security Best Practices standard.",
			RemediationURL: "https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-settingup.html",
			Run:            runSecurityHub,
		},
		{
			ID: "ec2.admin-ports-open", Title: "No security group opens SSH or RDP to the internet", Section: SectionNetworking, Severity: picket.SeverityHigh, Regional: true,
			Why:            "Ports 22 and 3389 open to the world are scanned and brute-forced within minutes.",
			Remediation:    "Remove the listed rules; reach hosts through SSM Session Manager or a VPN instead.",
			RemediationURL: "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html",
			Run:            runAdminPorts,
		},
		{
			ID: "ec2.default-security-groups", Title: "Default security groups allow no traffic", Section: SectionNetworking, Severity: picket.SeverityMedium, Regional: true,
			Why:            "Resources land in the default group when nobody chose one; it should let nothing in or out.",
			Remediation:    "Remove every inbound and outbound rule from each listed default security group.",
			RemediationURL: "https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html",
			Run:            runDefaultSecurityGroups,
		},
	}
}

// Permissions returns the IAM actions the checks call, sorted: what the
// role Picket runs as needs for every check to run. sts:GetCallerIdentity
// needs no permission and is not listed.
func Permissions() []string {
	return []string{
		"access-analyzer:ListAnalyzers",
		"cloudtrail:DescribeTrails",
		"cloudtrail:GetTrailStatus",
		"config:DescribeConfigurationRecorderStatus",
		"config:DescribeConfigurationRecorders",
		"ec2:DescribeFlowLogs",
		"ec2:DescribeSecurityGroups",
		"ec2:DescribeVpcs",
		"ec2:GetEbsEncryptionByDefault",
		"guardduty:GetDetector",
		"guardduty:ListDetectors",
		"iam:GenerateCredentialReport",
		"iam:GetAccountAuthorizationDetails",
		"iam:GetAccountPasswordPolicy",
		"iam:GetCredentialReport",
		"iam:GetPolicy",
		"iam:GetPolicyVersion",
		"kms:DescribeKey",
		"kms:GetKeyRotationStatus",
		"kms:ListKeys",
		"s3:GetAccountPublicAccessBlock",
		"s3:GetBucketPolicyStatus",
		"s3:ListAllMyBuckets",
		"securityhub:DescribeHub",
		"securityhub:GetEnabledStandards",
	}
}
