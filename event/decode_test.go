package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/event"
)

// summary is the part of a Finding the corpus table states per file.
type summary struct {
	ID, Source, Product, Type string
	Severity                  picket.Severity
	Score                     float64
	Account, Region           string
	Count                     int
	Record, Workflow          string
	Compliance, Control       string
	Sample                    bool
	CustomAction, EventID     string
	Resources                 string // "kind:id" joined by spaces
	Updated                   string // RFC 3339
}

func summarize(f *picket.Finding) summary {
	var rs []string
	for _, r := range f.Resources {
		rs = append(rs, string(r.Kind)+":"+r.ID)
	}
	return summary{
		ID: f.ID, Source: string(f.Source), Product: f.Product, Type: f.Type,
		Severity: f.Severity, Score: f.SeverityScore, Account: f.Account, Region: f.Region,
		Count: f.Count, Record: f.RecordState, Workflow: f.WorkflowStatus,
		Compliance: f.ComplianceStatus, Control: f.ControlID, Sample: f.Sample,
		CustomAction: f.CustomAction, EventID: f.EventID, Resources: strings.Join(rs, " "),
		Updated: f.UpdatedAt.Format(time.RFC3339Nano),
	}
}

// corpusCases states the expected result of Decode for every corpus file:
// the number of findings and a summary of the first, or the error code and
// its message.
var corpusCases = []struct {
	file  string
	code  string // "" when the file holds findings
	msg   string // exact error message
	n     int
	first summary
}{
	{file: "access_analyzer/eb_Access_Analyzer_Finding_1__awsdocs-iam.json", n: 1, first: summary{ID: "22222222-dcba-4444-dcba-333333333333", Source: "access-analyzer", Product: "IAM Access Analyzer", Type: "ExternalAccess", Severity: picket.SeverityLow, Score: 1, Account: "111122223333", Region: "us-west-2", Count: 1, Record: "ACTIVE", EventID: "11111111-2222-4444-aaaa-333333333333", Resources: "s3_bucket:my-bucket", Updated: "2019-11-21T01:14:07Z"}},
	{file: "access_analyzer/eb_Access_Analyzer_Finding_2__awsdocs-iam.json", n: 1, first: summary{ID: "22222222-dcba-4444-dcba-333333333333", Source: "access-analyzer", Product: "IAM Access Analyzer", Type: "ExternalAccess", Severity: picket.SeverityInformational, Score: 0, Account: "111122223333", Region: "us-west-2", Count: 1, Record: "ACTIVE", EventID: "11111111-2222-4444-aaaa-333333333333", Resources: "s3_bucket:my-bucket", Updated: "2019-11-21T01:14:07Z"}},
	{file: "access_analyzer/eb_Access_Preview_1__awsdocs-iam.json", code: picket.ENOTFINDING, msg: "EventBridge event \"Access Preview State Change\" from aws.access-analyzer is not a finding"},
	{file: "guardduty/api_GetFindings_UnauthorizedAccess_EC2_RDPBruteForce_sample__awsdocs.json", n: 1, first: summary{ID: "9cb0be64df8ba1df249c45eb8a0bf584", Source: "guardduty", Product: "GuardDuty", Type: "UnauthorizedAccess:EC2/RDPBruteForce", Severity: picket.SeverityLow, Score: 2, Account: "123456789012", Region: "us-west-2", Count: 1, Record: "ACTIVE", Workflow: "", Compliance: "", Control: "", Sample: true, CustomAction: "", EventID: "", Resources: "ec2_instance:i-99999999", Updated: "2018-02-09T22:57:31.927Z"}},
	{file: "guardduty/api_GetFindings_response_syntax_strings__awsdocs.json", code: picket.EINVALID, msg: "GuardDuty finding 1: service.eventFirstSeen \"string\": not an RFC 3339 timestamp"},
	{file: "guardduty/eb_Backdoor_EC2_CnCActivity.B_DNS__c7n.json", n: 1, first: summary{ID: "b4b01b60fc24a199139f8f5f490edd81", Source: "guardduty", Product: "GuardDuty", Type: "Backdoor:EC2/C&CActivity.B!DNS", Severity: picket.SeverityMedium, Score: 5, Account: "883606788610", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "", Compliance: "", Control: "", Sample: true, CustomAction: "", EventID: "8f5fa7d9-5558-33dc-449c-c890a0c38127", Resources: "ec2_instance:i-99999999", Updated: "2017-12-08T15:32:49.865Z"}},
	{file: "guardduty/eb_NOT_A_FINDING_AWS_API_Call_via_CloudTrail_CreateSampleFindings__sumologic.json", code: picket.ENOTFINDING, msg: "EventBridge event \"AWS API Call via CloudTrail\" from aws.guardduty is not a finding"},
	{file: "guardduty/eb_UnauthorizedAccess_IAMUser_TorIPCaller__c7n.json", n: 1, first: summary{ID: "36b01b60fc22bb4edb19d62d9899e953", Source: "guardduty", Product: "GuardDuty", Type: "UnauthorizedAccess:IAMUser/TorIPCaller", Severity: picket.SeverityMedium, Score: 5, Account: "883606788610", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "", Compliance: "", Control: "", Sample: true, CustomAction: "", EventID: "805320a1-2f09-4237-64fc-f3f136e41a69", Resources: "access_key:GeneratedFindingAccessKeyId iam_user:GeneratedFindingUserName", Updated: "2017-12-08T15:32:49.862Z"}},
	{file: "guardduty/eb_partial_region_detail_only_UnauthorizedAccess_EC2_SSHBruteForce__aws-samples-waf-acl.json", code: picket.EINVALID, msg: "EventBridge event has no detail-type (keys \"region\", \"detail\")"},
	{file: "guardduty/finding_Canary_EC2_Stateless.IntegTest__aws-samples-gd-response.json", n: 1, first: summary{ID: "16afba5c5c43e07c9e3e5e2e544e95df", Source: "guardduty", Product: "GuardDuty", Type: "Canary:EC2/Stateless.IntegTest", Severity: picket.SeverityMedium, Score: 5, Account: "123456789012", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "", Compliance: "", Control: "", Sample: false, CustomAction: "", EventID: "", Resources: "ec2_instance:i-05746eb48123455e0", Updated: "2017-10-31T23:16:23.824Z"}},
	{file: "guardduty/finding_PenTest_S3_ParrotLinux_ARCHIVED__aws-samples-gd-response.json", n: 1, first: summary{ID: "2cbf285e52a6e74ff96f4cb3cf93296d", Source: "guardduty", Product: "GuardDuty", Type: "PenTest:S3/ParrotLinux", Severity: picket.SeverityMedium, Score: 5, Account: "123456789012", Region: "us-east-1", Count: 1, Record: "ARCHIVED", Workflow: "", Compliance: "", Control: "", Sample: true, CustomAction: "", EventID: "", Resources: "s3_bucket:bucketName", Updated: "2022-01-13T00:00:47.437Z"}},
	{file: "guardduty/finding_Recon_IAMUser_MaliciousIPCaller.Custom_ARCHIVED__aws-samples-gd-response.json", n: 1, first: summary{ID: "30bf285e52a1e405084ff6ec28e06e17", Source: "guardduty", Product: "GuardDuty", Type: "Recon:IAMUser/MaliciousIPCaller.Custom", Severity: picket.SeverityMedium, Score: 5, Account: "123456789012", Region: "us-east-1", Count: 1, Record: "ARCHIVED", Workflow: "", Compliance: "", Control: "", Sample: true, CustomAction: "", EventID: "", Resources: "access_key:GeneratedFindingAccessKeyId iam_user:GeneratedFindingUserName", Updated: "2022-01-13T00:00:47.427Z"}},
	{file: "inspector/api_inspector2_ListFindings_6_package_vulns__c7n.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"status_code\", \"data\" is not an SNS envelope, an EventBridge event or a finding"},
	{file: "inspector/eb_ECR_Scan_Resource_Change_enhanced__awsdocs-ecr.json", code: picket.ENOTFINDING, msg: "EventBridge event \"ECR Scan Resource Change\" from aws.ecr is not a finding"},
	{file: "inspector/eb_Inspector2_Finding_ECR_package_vulnerability__awsdocs-ecr.json", n: 1, first: summary{ID: "arn:aws:inspector2:us-east-2:123456789012:finding/be674aaddd0f75ac632055EXAMPLE", Source: "inspector", Product: "Inspector", Type: "PACKAGE_VULNERABILITY", Severity: picket.SeverityMedium, Score: 40, Account: "123456789012", Region: "us-east-2", Count: 1, Record: "ACTIVE", EventID: "42dbea55-45ad-b2b4-87a8-afaEXAMPLE", Resources: "ecr_image:sha256:36c7b282abd0186e01419f2e58743e1bf635808231049bbc9d77EXAMPLE", Updated: "2021-12-03T18:02:30Z"}},
	{file: "inspector/eb_Inspector2_Scan_ECR__awsdocs-ecr.json", code: picket.ENOTFINDING, msg: "EventBridge event \"Inspector2 Scan\" from aws.inspector2 is not a finding"},
	{file: "invalid_as_published/asff_aws_health_finding__awsdocs.json.txt", code: picket.EINVALID, msg: "invalid JSON at byte 2801: invalid character ']' after top-level value"},
	{file: "invalid_as_published/asff_consolidated_control_finding__awsdocs.json.txt", code: picket.EINVALID, msg: "invalid JSON at byte 1914: invalid character '\"' after object key:value pair"},
	{file: "invalid_as_published/asff_nist_800-53_control__awsdocs.json.txt", code: picket.EINVALID, msg: "invalid JSON at byte 2501: invalid character '\\u2028' (U+2028) looking for beginning of object key string"},
	{file: "invalid_as_published/custom_action_template_placeholder__awsdocs.json.txt", code: picket.EINVALID, msg: "Security Hub finding 1: invalid JSON at byte 490: invalid character '<' looking for beginning of object key string"},
	{file: "invalid_as_published/eb_macie_finding_truncated_with_dots_and_raw_newline__awsdocs-eventbridge.json.txt", code: picket.EINVALID, msg: "invalid JSON at byte 637: invalid character \"\\n\" in string literal"},
	{file: "invalid_as_published/imported_template_placeholder__awsdocs.json.txt", code: picket.EINVALID, msg: "Security Hub finding 1: invalid JSON at byte 447: invalid character '<' looking for beginning of object key string"},
	{file: "invalid_as_published/sns_envelope_securityhub_announcements_raw_newline__awsdocs.json.txt", code: picket.EINVALID, msg: "invalid JSON at byte 1186: invalid character \"\\n\" in string literal"},
	{file: "macie/eb_macie_classic_alert_created_1__awsdocs-eventbridge.json", code: picket.ENOTFINDING, msg: "Macie Alert events are not handled: only GuardDuty, Security Hub, Inspector, Macie and IAM Access Analyzer"},
	{file: "macie/eb_macie_classic_alert_created_2__awsdocs-eventbridge.json", code: picket.ENOTFINDING, msg: "Macie Alert events are not handled: only GuardDuty, Security Hub, Inspector, Macie and IAM Access Analyzer"},
	{file: "macie/eb_macie_classic_alert_updated_1__awsdocs-eventbridge.json", code: picket.ENOTFINDING, msg: "Macie Alert events are not handled: only GuardDuty, Security Hub, Inspector, Macie and IAM Access Analyzer"},
	{file: "macie/eb_macie_classic_alert_updated_2__awsdocs-eventbridge.json", code: picket.ENOTFINDING, msg: "Macie Alert events are not handled: only GuardDuty, Security Hub, Inspector, Macie and IAM Access Analyzer"},
	{file: "macie/finding_SensitiveData_S3Object_CustomIdentifier__aws-samples-macie-reveal.json", n: 1, first: summary{ID: "00000000000000000000000000000005", Source: "macie", Product: "Macie", Type: "SensitiveData:S3Object/CustomIdentifier", Severity: picket.SeverityMedium, Score: 40, Account: "555555555555", Region: "us-east-1", Count: 1, Record: "ACTIVE", Resources: "s3_bucket:DOC-EXAMPLE-BUCKET1", Updated: "2022-03-11T05:49:17.22Z"}},
	{file: "macie/finding_SensitiveData_S3Object_Multiple_csv__aws-samples-macie-reveal.json", n: 1, first: summary{ID: "00000000000000000000000000000001", Source: "macie", Product: "Macie", Type: "SensitiveData:S3Object/Multiple", Severity: picket.SeverityHigh, Score: 70, Account: "555555555555", Region: "us-east-1", Count: 1, Record: "ACTIVE", Resources: "s3_bucket:DOC-EXAMPLE-BUCKET1", Updated: "2021-10-25T23:25:04.25Z"}},
	{file: "macie/finding_SensitiveData_S3Object_Multiple_parquet__aws-samples-macie-reveal.json", n: 1, first: summary{ID: "00000000000000000000000000000003", Source: "macie", Product: "Macie", Type: "SensitiveData:S3Object/Multiple", Severity: picket.SeverityHigh, Score: 70, Account: "555555555555", Region: "us-east-1", Count: 1, Record: "ACTIVE", Resources: "s3_bucket:DOC-EXAMPLE-BUCKET1", Updated: "2021-11-22T21:22:03.967Z"}},
	{file: "macie/finding_SensitiveData_S3Object_Multiple_path_with_spaces__aws-samples-macie-reveal.json", n: 1, first: summary{ID: "00000000000000000000000000000001", Source: "macie", Product: "Macie", Type: "SensitiveData:S3Object/Multiple", Severity: picket.SeverityHigh, Score: 70, Account: "555555555555", Region: "us-east-1", Count: 1, Record: "ACTIVE", Resources: "s3_bucket:DOC-EXAMPLE-BUCKET1", Updated: "2021-10-25T23:25:04.25Z"}},
	{file: "ndjson/sns_firehose_archived_envelopes__awsdocs-sns.ndjson", code: picket.EINVALID, msg: "invalid JSON at byte 534: invalid character '{' after top-level value"},
	{file: "other/eventbridge_generic__powertools.json", code: picket.ENOTFINDING, msg: "EventBridge event \"EC2 Instance State-change Notification\" from aws.ec2 is not a finding"},
	{file: "securityhub/api_GetFindings_custodian_product_rds__c7n.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"status_code\", \"data\" is not an SNS envelope, an EventBridge event or a finding"},
	{file: "securityhub/api_GetFindings_guardduty_5_findings__c7n.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"status_code\", \"data\" is not an SNS envelope, an EventBridge event or a finding"},
	{file: "securityhub/api_GetFindings_inspector_ecr_1__c7n.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"status_code\", \"data\" is not an SNS envelope, an EventBridge event or a finding"},
	{file: "securityhub/api_GetFindings_inspector_ecr_20_findings_ARCHIVED__c7n.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"status_code\", \"data\" is not an SNS envelope, an EventBridge event or a finding"},
	{file: "securityhub/asff_access_analyzer_finding_typical__awsdocs-iam.json", n: 1, first: summary{ID: "arn:aws:access-analyzer:us-west-2:111122223333:analyzer/my-analyzer/arn:aws:s3:::my-bucket", Source: "securityhub", Product: "IAM Access Analyzer", Type: "Software and Configuration Checks/AWS Security Best Practices/External Access Granted", Severity: picket.SeverityLow, Score: 1, Account: "111122223333", Region: "us-west-2", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "", Control: "", Sample: false, CustomAction: "", EventID: "", Resources: "s3_bucket:my-bucket", Updated: "2020-11-10T16:43:49Z"}},
	{file: "securityhub/asff_aws_config_finding__awsdocs.json", n: 1, first: summary{ID: "arn:aws:config:eu-central-1:123456789012:config-rule/config-rule-mburzq/finding/45g070df80cb50b68fa6a43594kc6fda1e517932", Source: "securityhub", Product: "Config", Type: "Software and Configuration Checks", Severity: picket.SeverityMedium, Score: 40, Account: "123456789012", Region: "eu-central-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "", Sample: false, CustomAction: "", EventID: "", Resources: "s3_bucket:config-integration-demo-bucket", Updated: "2022-04-19T21:20:15.056Z"}},
	{file: "securityhub/asff_cis_1.2.0_control__awsdocs.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-2:123456789012:subscription/cis-aws-foundations-benchmark/v/1.2.0/2.7/finding/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", Severity: picket.SeverityMedium, Score: 40, Account: "123456789012", Region: "us-east-2", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "CloudTrail.2", Sample: false, CustomAction: "", EventID: "", Resources: "other:arn:aws:cloudtrail:us-east-2:123456789012:trail/AWSMacieTrail-DO-NOT-EDIT", Updated: "2021-09-28T16:10:00.087Z"}},
	{file: "securityhub/asff_cis_1.2.0_rule_4.2__asr.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:111111111111:subscription/cis-aws-foundations-benchmark/v/1.2.0/4.2/finding/89b052cd-dd2d-4319-9cee-7a73f5f55ba8", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", Severity: picket.SeverityHigh, Score: 70, Account: "111111111111", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "4.2", Sample: false, CustomAction: "", EventID: "", Resources: "security_group:sg-3d10bb58e8b1355ed", Updated: "2022-04-19T15:22:14.447Z"}},
	{file: "securityhub/asff_cis_1.4.0_control__awsdocs.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:123456789012:subscription/cis-aws-foundations-benchmark/v/1.4.0/3.7/finding/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", Severity: picket.SeverityMedium, Score: 40, Account: "123456789012", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "3.7", Sample: false, CustomAction: "", EventID: "", Resources: "other:arn:aws:cloudtrail:us-west-2:123456789012:trail/AWSMacieTrail-DO-NOT-EDIT", Updated: "2022-12-22T22:24:52.409Z"}},
	{file: "securityhub/asff_cis_1.4.0_sample_eu-west__awsdocs.json", n: 1, first: summary{ID: "arn:aws:securityhub:eu-west-1:123456789012:subscription/cis-aws-foundations-benchmark/v/1.4.0/1.4/finding/aea33149-7039-4138-8e34-00f8fa5026fd", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", Severity: picket.SeverityCritical, Score: 90, Account: "123456789012", Region: "eu-west-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "1.4", Sample: false, CustomAction: "", EventID: "", Resources: "account:123456789012", Updated: "2022-08-16T19:05:32.775Z"}},
	{file: "securityhub/asff_cis_1.6_WARNING__asr.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:111111111111:subscription/cis-aws-foundations-benchmark/v/1.2.0/1.6/finding/3fe13eb6-b093-48b2-ba3b-b975347c3183", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", Severity: picket.SeverityMedium, Score: 40, Account: "111111111111", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "WARNING", Control: "1.6", Sample: false, CustomAction: "", EventID: "", Resources: "account:111111111111", Updated: "2020-06-02T16:00:52.989Z"}},
	{file: "securityhub/asff_fsbp_CloudTrail.2__awsdocs.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-2:123456789012:subscription/aws-foundational-security-best-practices/v/1.0.0/CloudTrail.2/finding/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices", Severity: picket.SeverityMedium, Score: 40, Account: "123456789012", Region: "us-east-2", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "CloudTrail.2", Sample: false, CustomAction: "", EventID: "", Resources: "other:arn:aws:cloudtrail:us-east-2:123456789012:trail/AWSMacieTrail-DO-NOT-EDIT", Updated: "2021-09-28T16:10:00.093Z"}},
	{file: "securityhub/asff_fsbp_EC2.2__asr.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:111111111111:subscription/aws-foundational-security-best-practices/v/1.0.0/EC2.2/finding/835974e0-d335-49a1-af89-e47a5954d46b", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices", Severity: picket.SeverityInformational, Score: 0, Account: "111111111111", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "EC2.2", Sample: false, CustomAction: "", EventID: "", Resources: "security_group:sg-1234123f", Updated: "2021-02-17T08:56:22.772Z"}},
	{file: "securityhub/asff_fsbp_IAM.8__asr.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:111111111111:subscription/aws-foundational-security-best-practices/v/1.0.0/IAM.8/finding/7a04a6d5-07ec-4430-ab8f-67c0119b5acd", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices", Severity: picket.SeverityMedium, Score: 40, Account: "111111111111", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "IAM.8", Sample: false, CustomAction: "", EventID: "", Resources: "iam_user:sharrtest", Updated: "2021-07-21T10:22:13.254Z"}},
	{file: "securityhub/asff_fsbp_IAM.8_no_resource_details__asr.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:111122223333:subscription/aws-foundational-security-best-practices/v/1.0.0/IAM.8/finding/b5f7740e-9302-44f7-a7ba-7e2092946bb0", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices", Severity: picket.SeverityMedium, Score: 40, Account: "111122223333", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "IAM.8", Sample: false, CustomAction: "", EventID: "", Resources: "iam_user:AIDACKCEVSQ6C2EXAMPLE", Updated: "2021-10-28T21:48:59.362Z"}},
	{file: "securityhub/asff_fsbp_S3.2_RESOLVED_PASSED__asr.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:111111111111:subscription/aws-foundational-security-best-practices/v/1.0.0/S3.2/finding/ef33c951-94b7-4d92-acd2-99c2a3e3a78a", Source: "securityhub", Product: "Security Hub", Type: "Effects/Data Exposure/AWS-Foundational-Security-Best-Practices", Severity: picket.SeverityInformational, Score: 0, Account: "111111111111", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "RESOLVED", Compliance: "PASSED", Control: "S3.2", Sample: false, CustomAction: "", EventID: "", Resources: "s3_bucket:so0111-aws-cloudtrail-111111111111", Updated: "2021-07-22T15:22:40.888Z"}},
	{file: "securityhub/asff_guardduty_finding_typical__awsdocs_2021-01.json", n: 1, first: summary{ID: "arn:aws:guardduty:us-east-1:193043430472:detector/d4b040365221be2b54a6264dc9a4bc64/finding/46ba0ac2845071e23ccdeb2ae03bfdea", Source: "securityhub", Product: "GuardDuty", Type: "UnauthorizedAccess:EC2/SSHBruteForce", Severity: picket.SeverityMedium, Score: 40, Account: "193043430472", Region: "us-east-1", Count: 74, Record: "ACTIVE", Workflow: "NEW", Compliance: "", Control: "", Sample: false, CustomAction: "", EventID: "", Resources: "ec2_instance:i-0c10c2c7863d1a356", Updated: "2020-09-30T12:14:00.206Z"}},
	{file: "securityhub/asff_guardduty_finding_typical__awsdocs_2021-04.json", n: 1, first: summary{ID: "arn:aws::guardduty:us-east-1:193043430472:detector/d4b040365221be2b54a6264dc9a4bc64/finding/46ba0ac2845071e23ccdeb2ae03bfdea", Source: "securityhub", Product: "GuardDuty", Type: "UnauthorizedAccess:EC2/SSHBruteForce", Severity: picket.SeverityMedium, Score: 40, Account: "193043430472", Region: "us-east-1", Count: 74, Record: "ACTIVE", Workflow: "NEW", Compliance: "", Control: "", Sample: false, CustomAction: "", EventID: "", Resources: "ec2_instance:i-0c10c2c7863d1a356", Updated: "2020-09-30T12:14:00.206Z"}},
	{file: "securityhub/asff_pci_S3.1_RESOLVED__asr.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:111111111111:subscription/pci-dss/v/3.2.1/PCI.S3.1/finding/3f74c9bf-bbb3-40d8-8781-796096b35571", Source: "securityhub", Product: "Security Hub", Type: "Effects/Data Exposure/PCI-DSS", Severity: picket.SeverityInformational, Score: 0, Account: "111111111111", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "RESOLVED", Compliance: "PASSED", Control: "PCI.S3.1", Sample: false, CustomAction: "", EventID: "", Resources: "s3_bucket:so0111-access-logs-us-east-1-111111111111", Updated: "2021-07-22T15:22:34.224Z"}},
	{file: "securityhub/asff_pci_dss_control__awsdocs.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-2:123456789012:subscription/pci-dss/v/3.2.1/PCI.CloudTrail.1/finding/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/PCI-DSS", Severity: picket.SeverityMedium, Score: 40, Account: "123456789012", Region: "us-east-2", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "PCI.CloudTrail.1", Sample: false, CustomAction: "", EventID: "", Resources: "other:arn:aws:cloudtrail:us-east-2:123456789012:trail/AWSMacieTrail-DO-NOT-EDIT", Updated: "2021-09-28T16:10:00.09Z"}},
	{file: "securityhub/asff_pre2023_cis_1.2.0_control_2.7__awsdocs.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-2:123456789012:subscription/cis-aws-foundations-benchmark/v/1.2.0/2.7/finding/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", Severity: picket.SeverityMedium, Score: 40, Account: "123456789012", Region: "us-east-2", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "2.7", Sample: false, CustomAction: "", EventID: "", Resources: "other:arn:aws:cloudtrail:us-east-2:123456789012:trail/AWSMacieTrail-DO-NOT-EDIT", Updated: "2021-09-28T16:10:00.087Z"}},
	{file: "securityhub/asff_pre2023_cis_1.4.0_control_3.7__awsdocs.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:123456789012:subscription/cis-aws-foundations-benchmark/v/1.4.0/3.7/finding/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", Severity: picket.SeverityMedium, Score: 40, Account: "123456789012", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "3.7", Sample: false, CustomAction: "", EventID: "", Resources: "other:arn:aws:cloudtrail:us-west-2:123456789012:trail/AWSMacieTrail-DO-NOT-EDIT", Updated: "2022-12-22T22:24:52.409Z"}},
	{file: "securityhub/asff_pre2023_control_tower_CT.CloudTrail.2__awsdocs.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:123456789012:subscription/service-managed-aws-control-tower/v/1.0.0/CloudTrail.2/finding/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards", Severity: picket.SeverityMedium, Score: 40, Account: "123456789012", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "CT.CloudTrail.2", Sample: false, CustomAction: "", EventID: "", Resources: "account:123456789012", Updated: "2022-11-17T01:25:30.296Z"}},
	{file: "securityhub/asff_pre2023_fsbp_CloudTrail.2__awsdocs.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-2:123456789012:subscription/aws-foundational-security-best-practices/v/1.0.0/CloudTrail.2/finding/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices", Severity: picket.SeverityMedium, Score: 40, Account: "123456789012", Region: "us-east-2", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "CloudTrail.2", Sample: false, CustomAction: "", EventID: "", Resources: "other:arn:aws:cloudtrail:us-east-2:123456789012:trail/AWSMacieTrail-DO-NOT-EDIT", Updated: "2021-09-28T16:10:00.093Z"}},
	{file: "securityhub/asff_pre2023_pci_dss_PCI.CloudTrail.1__awsdocs.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-2:123456789012:subscription/pci-dss/v/3.2.1/PCI.CloudTrail.1/finding/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/PCI-DSS", Severity: picket.SeverityMedium, Score: 40, Account: "123456789012", Region: "us-east-2", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "PCI.CloudTrail.1", Sample: false, CustomAction: "", EventID: "", Resources: "other:arn:aws:cloudtrail:us-east-2:123456789012:trail/AWSMacieTrail-DO-NOT-EDIT", Updated: "2021-09-28T16:10:00.09Z"}},
	{file: "securityhub/asff_service_managed_control_tower__awsdocs.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:123456789012:subscription/service-managed-aws-control-tower/v/1.0.0/CloudTrail.2/finding/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards", Severity: picket.SeverityMedium, Score: 40, Account: "123456789012", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "CT.CloudTrail.2", Sample: false, CustomAction: "", EventID: "", Resources: "account:123456789012", Updated: "2022-11-17T01:25:30.296Z"}},
	{file: "securityhub/custom_action_2_findings_IAM.6_RDS.4__asr.json", n: 2, first: summary{ID: "arn:aws:securityhub:us-east-1:111111111111:subscription/aws-foundational-security-best-practices/v/1.0.0/IAM.6/finding/9edca51b-6b6e-4307-a634-541603f62fa0", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices", Severity: picket.SeverityCritical, Score: 90, Account: "111111111111", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "IAM.6", Sample: false, CustomAction: "CIS 1.5 - 1.11", EventID: "81ee3cd6-6100-dbb7-5431-adcb1a6550a3", Resources: "account:111111111111", Updated: "2020-12-15T14:56:09.255Z"}},
	{file: "securityhub/custom_action_2_findings_multiselect__asr.json", n: 2, first: summary{ID: "arn:aws:securityhub:us-east-1:111111111111:subscription/cis-aws-foundations-benchmark/v/1.2.0/1.6/finding/3fe13eb6-b093-48b2-ba3b-b975347c3183", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", Severity: picket.SeverityMedium, Score: 40, Account: "111111111111", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "WARNING", Control: "1.6", Sample: false, CustomAction: "CIS 1.5 - 1.11 RR", EventID: "81ee3cd6-6100-dbb7-5431-adcb1a6550a3", Resources: "account:111111111111", Updated: "2020-06-02T16:00:52.989Z"}},
	{file: "securityhub/custom_action_Workflow_NOTIFIED__aws-samples-jira.json", n: 1, first: summary{ID: "arn:aws:securityhub:eu-west-1:123456789012:subscription/aws-foundational-security-best-practices/v/1.0.0/EC2.8/finding/fba5a282-b865-41fe-bc9c-30357a1e87a7", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices", Severity: picket.SeverityHigh, Score: 70, Account: "123456789012", Region: "eu-west-1", Count: 1, Record: "ACTIVE", Workflow: "NOTIFIED", Compliance: "FAILED", Control: "EC2.8", Sample: false, CustomAction: "CreateJiraIssue", EventID: "e215f5c7-a866-e0cd-6d11-fc7ecf97e381", Resources: "ec2_instance:i-0000000aaaaaaaaaa", Updated: "2022-03-13T18:33:38.017Z"}},
	{file: "securityhub/custom_action_cis_1.3_NOTIFIED__asr.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-2:111111111111:subscription/cis-aws-foundations-benchmark/v/1.2.0/1.3/finding/c7f2db95-d33c-41fb-af2f-f3db93d2bc2a", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", Severity: picket.SeverityInformational, Score: 0, Account: "111111111111", Region: "us-east-2", Count: 1, Record: "ACTIVE", Workflow: "NOTIFIED", Compliance: "PASSED", Control: "1.3", Sample: false, CustomAction: "CIS 1.3 & 1.4", EventID: "609185ea-be02-2b86-4187-ce81f45b82a9", Resources: "iam_user:iamuser1", Updated: "2020-06-24T17:57:02.242Z"}},
	{file: "securityhub/custom_action_cis_2.2_cloudtrail_log_validation__c7n.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:644160558196:subscription/cis-aws-foundations-benchmark/v/1.2.0/2.2/finding/c82767be-e5e9-4c4e-a38c-477154ae38a2", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", Severity: picket.SeverityInformational, Score: 0, Account: "644160558196", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "PASSED", Control: "2.2", Sample: false, CustomAction: "Ec2 aws", EventID: "f1575e70-2205-7e04-149e-79dc4d883ba6", Resources: "other:arn:aws:cloudtrail:us-east-1:644160558196:trail/skunk-trails", Updated: "2019-07-11T16:13:05.556Z"}},
	{file: "securityhub/custom_action_cis_unsupported_version_1.7.0__asr.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:111111111111:subscription/cis-aws-foundations-benchmark/v/1.7.0/1.6/finding/524d1058-d8af-4549-80e6-e85872ea571e", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", Severity: picket.SeverityInformational, Score: 0, Account: "111111111111", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "RESOLVED", Compliance: "PASSED", Control: "1.6", Sample: false, CustomAction: "CIS 1.5 - 1.11 RR", EventID: "81ee3cd6-6100-dbb7-5431-adcb1a6550a3", Resources: "account:111111111111", Updated: "2020-06-02T15:36:24.745Z"}},
	{file: "securityhub/custom_action_custom_product_lambda__c7n.json", n: 1, first: summary{ID: "us-east-1/644160558196/356580e4704cf1222cbee13685416652/84a7b9799285262dbf00c7b214463dde", Source: "securityhub", Product: "Default", Type: "Software and Configuration Checks/Custodian/Monkey Lambda", Severity: picket.SeverityLow, Score: 6, Account: "644160558196", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "", Sample: false, CustomAction: "Lambda remediate", EventID: "4fa18fb8-cd5e-ffe6-bb73-36bac665af54", Resources: "other:arn:aws:lambda:us-east-1:644160558196:function:custodian-enterprise-ec2-instances-no-elastic-ip-isolate", Updated: "2020-01-15T15:55:49.624441Z"}},
	{file: "securityhub/custom_action_fsbp_CloudTrail.1_mismatch__asr.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:111111111111:subscription/aws-foundational-security-best-practices/v/1.0.0/CloudTrail.1/finding/6251738d-4a6e-477a-b6e3-247c3e422e8b", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices", Severity: picket.SeverityHigh, Score: 70, Account: "111111111111", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "WARNING", Control: "CloudTrail.1", Sample: false, CustomAction: "CIS 1.3 & 1.4 RR", EventID: "777d101a-d657-ea0b-8a51-09579b2c4fd9", Resources: "account:111111111111", Updated: "2020-05-26T03:52:22.87Z"}},
	{file: "securityhub/custom_action_fsbp_RDS.6__asr.json", n: 1, first: summary{ID: "arn:aws:securityhub:eu-west-1:111111111111:subscription/aws-foundational-security-best-practices/v/1.0.0/RDS.6/finding/613da146-d013-4246-b5ec-da222ea52e65", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices", Severity: picket.SeverityLow, Score: 10, Account: "111111111111", Region: "eu-west-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "RDS.6", Sample: false, CustomAction: "AFSBPrds6", EventID: "4aa7d996-7550-602b-a94b-13910e8798ad", Resources: "other:arn:aws:rds:eu-west-1:111111111111:db:database-1-instance-1", Updated: "2020-11-04T23:43:29.22Z"}},
	{file: "securityhub/custom_action_guardduty_UnauthorizedAccess_IAMUser_ConsoleLogin__c7n.json", n: 1, first: summary{ID: "arn:aws:guardduty:us-east-1:644160558196:detector/06b01209ca77b0865dd973df0355fc1e/finding/4cb5a629e9757b650d102f683cdbcd7b", Source: "securityhub", Product: "GuardDuty", Type: "UnauthorizedAccess:IAMUser/ConsoleLogin", Severity: picket.SeverityMedium, Score: 50, Account: "644160558196", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "", Control: "", Sample: false, CustomAction: "Ec2 aws", EventID: "25a1be76-1141-cb5d-be5c-bbaa5461e626", Resources: "iam_user:kapil", Updated: "2019-06-12T15:34:50.346Z"}},
	{file: "securityhub/eb_legacy_detail-type_Security_Hub_Findings_third_party_sumologic__sumologic.json", n: 1, first: summary{ID: "sumologic:us-east-2:956882702234:InsertFindingsScheduledSearch/finding/eb083fb9-03aa-4840-af0e-eb3ae4adebe9", Source: "securityhub", Product: "Machine Data Analytics", Type: "Software and Configuration Checks/Industry and Regulatory Standards/HIPAA Controls", Severity: picket.SeverityLow, Score: 30, Account: "956882702234", Region: "us-east-2", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "", Sample: false, CustomAction: "", EventID: "f06f61e9-b099-8321-e446-5a20583bd791", Resources: "other:10.178.11.43", Updated: "2019-04-18T14:51:55Z"}},
	{file: "securityhub/imported_ACTIVE_NEW_standard_check__aws-samples-jira.json", n: 1, first: summary{ID: "arn:aws:securityhub:eu-west-1:123456789012:subscription/cis-aws-foundations-benchmark/v/1.2.0/1.22/finding/dedc1e61-e4e6-448e-87d3-c7d1709334a3", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", Severity: picket.SeverityHigh, Score: 70, Account: "123456789012", Region: "eu-west-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "1.22", Sample: false, CustomAction: "", EventID: "8e5622f9-d81c-4d81-612a-9319e7ee2506", Resources: "other:arn:aws:iam::123456789012:policy/AdminAccessCustom", Updated: "2020-11-10T21:07:43.287Z"}},
	{file: "securityhub/imported_RecordState_ARCHIVED_Workflow_NEW__aws-samples-jira.json", n: 1, first: summary{ID: "arn:aws:securityhub:eu-west-1:123456789012:subscription/aws-foundational-security-best-practices/v/1.0.0/EC2.8/finding/fba5a282-b865-41fe-bc9c-30357a1e87a7", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices", Severity: picket.SeverityHigh, Score: 70, Account: "123456789012", Region: "eu-west-1", Count: 1, Record: "ARCHIVED", Workflow: "NEW", Compliance: "FAILED", Control: "EC2.8", Sample: false, CustomAction: "", EventID: "8e5622f9-d81c-4d81-612a-9319e7ee2506", Resources: "ec2_instance:i-0000000aaaaaaaaaa", Updated: "2022-03-13T18:33:38.017Z"}},
	{file: "securityhub/imported_RecordState_ARCHIVED_Workflow_NOTIFIED__aws-samples-jira.json", n: 1, first: summary{ID: "arn:aws:securityhub:eu-west-1:123456789012:subscription/aws-foundational-security-best-practices/v/1.0.0/EC2.8/finding/fba5a282-b865-41fe-bc9c-30357a1e87a7", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices", Severity: picket.SeverityHigh, Score: 70, Account: "123456789012", Region: "eu-west-1", Count: 1, Record: "ARCHIVED", Workflow: "NOTIFIED", Compliance: "FAILED", Control: "EC2.8", Sample: false, CustomAction: "", EventID: "8e5622f9-d81c-4d81-612a-9319e7ee2506", Resources: "ec2_instance:i-0000000aaaaaaaaaa", Updated: "2022-03-13T18:33:38.017Z"}},
	{file: "securityhub/imported_cis_1.2.0_rule_1.3_WARNING__asr.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:111111111111:subscription/cis-aws-foundations-benchmark/v/1.2.0/1.3/finding/6e842abe-6cbf-4bc1-aa55-3b2ae63aabd6", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", Severity: picket.SeverityMedium, Score: 40, Account: "111111111111", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "WARNING", Control: "1.3", Sample: false, CustomAction: "", EventID: "1622bd23-7237-fdec-8fb0-a019cccfd3cb", Resources: "account:111111111111", Updated: "2020-05-27T03:37:35.834Z"}},
	{file: "securityhub/imported_cis_missing_generatorid__asr.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:111111111111:subscription/cis-aws-foundations-benchmark/v/1.2.0/1.3/finding/6e842abe-6cbf-4bc1-aa55-3b2ae63aabd6", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", Severity: picket.SeverityMedium, Score: 40, Account: "111111111111", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "WARNING", Control: "1.3", Sample: false, CustomAction: "", EventID: "1622bd23-7237-fdec-8fb0-a019cccfd3cb", Resources: "account:111111111111", Updated: "2020-05-27T03:37:35.834Z"}},
	{file: "securityhub/imported_fsbp_EC2.7__asr.json", n: 1, first: summary{ID: "arn:aws:securityhub:us-east-1:111111111111:subscription/aws-foundational-security-best-practices/v/1.0.0/EC2.7/finding/0003b335-cf3f-4f93-a025-6b1a7baced06", Source: "securityhub", Product: "Security Hub", Type: "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices", Severity: picket.SeverityInformational, Score: 0, Account: "111111111111", Region: "us-east-1", Count: 1, Record: "ACTIVE", Workflow: "NEW", Compliance: "FAILED", Control: "EC2.7", Sample: false, CustomAction: "", EventID: "1622bd23-7237-fdec-8fb0-a019cccfd3cb", Resources: "account:111111111111", Updated: "2021-02-17T14:56:09.063Z"}},
	{file: "securityhub/insight_results__c7n.json", code: picket.ENOTFINDING, msg: "EventBridge event \"Security Hub Insight Results\" from aws.securityhub is not a finding"},
	{file: "securityhub/insight_results_template__awsdocs.json", code: picket.ENOTFINDING, msg: "EventBridge event \"Security Hub Insight Results\" from aws.securityhub is not a finding"},
	{file: "slack/block_actions_button_slack_docs_example__java-slack-sdk.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"type\", \"team\", \"user\", \"api_app_id\", \"token\", ... is not an SNS envelope, an EventBridge event or a finding"},
	{file: "slack/block_actions_from_remote_function__java-slack-sdk.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"type\", \"team\", \"user\", \"channel\", \"message\", ... is not an SNS envelope, an EventBridge event or a finding"},
	{file: "slack/block_actions_home_view_confirm__java-slack-sdk.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"type\", \"team\", \"user\", \"api_app_id\", \"token\", ... is not an SNS envelope, an EventBridge event or a finding"},
	{file: "slack/block_actions_in_thread__java-slack-sdk.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"type\", \"user\", \"api_app_id\", \"token\", \"container\", ... is not an SNS envelope, an EventBridge event or a finding"},
	{file: "slack/block_actions_minimal_empty_actions__slack-go.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"type\", \"user\", \"actions\" is not an SNS envelope, an EventBridge event or a finding"},
	{file: "slack/block_actions_multi_conversations_select_view_state__slack-go.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"type\", \"actions\", \"container\", \"state\" is not an SNS envelope, an EventBridge event or a finding"},
	{file: "slack/block_actions_org_wide_install__java-slack-sdk.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"type\", \"user\", \"api_app_id\", \"token\", \"container\", ... is not an SNS envelope, an EventBridge event or a finding"},
	{file: "slack/block_actions_with_state__java-slack-sdk.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"type\", \"user\", \"api_app_id\", \"token\", \"container\", ... is not an SNS envelope, an EventBridge event or a finding"},
	{file: "slack/block_suggestion__slack-go.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"type\", \"user\", \"team\", \"api_app_id\", \"block_id\", ... is not an SNS envelope, an EventBridge event or a finding"},
	{file: "slack/dialog_submission__slack-go.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"type\", \"submission\", \"callback_id\", \"team\", \"user\", ... is not an SNS envelope, an EventBridge event or a finding"},
	{file: "slack/slash_command_org_level_enterprise_install.form.txt", code: picket.EINVALID, msg: "not a JSON object: invalid JSON at byte 1: invalid character 'o' in literal true (expecting 'r')"},
	{file: "slack/slash_command_real_modified_empty_text.form.txt", code: picket.EINVALID, msg: "not a JSON object: invalid JSON at byte 1: invalid character 'o' in literal true (expecting 'r')"},
	{file: "slack/slash_command_slack_docs_example.form.txt", code: picket.EINVALID, msg: "not a JSON object: invalid JSON at byte 1: invalid character 'o' in literal true (expecting 'r')"},
	{file: "slack/view_submission_response_urls__slack-go.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"type\", \"team\", \"user\", \"channel\", \"view\", ... is not an SNS envelope, an EventBridge event or a finding"},
	{file: "sns/envelope_as_sqs_body_docs_2019__awsdocs-sns.json", code: picket.ENOTFINDING, msg: "SNS message is plain text, not an EventBridge event"},
	{file: "sns/envelope_as_sqs_body_docs_2021__awsdocs-sns.json", code: picket.ENOTFINDING, msg: "SNS message is plain text, not an EventBridge event"},
	{file: "sns/envelope_fifo_no_signature_sequence_number__powertools.json", code: picket.ENOTFINDING, msg: "SNS message: JSON object with keys \"message\", \"username\" is not an SNS envelope, an EventBridge event or a finding"},
	{file: "sns/envelope_firehose_archived__awsdocs-sns.json", code: picket.ENOTFINDING, msg: "SNS message is plain text, not an EventBridge event"},
	{file: "sns/envelope_guardduty_announcements_NEW_FEATURES__awsdocs.json", code: picket.ENOTFINDING, msg: "SNS message: JSON object with keys \"version\", \"type\", \"featureDetails\" is not an SNS envelope, an EventBridge event or a finding"},
	{file: "sns/envelope_guardduty_announcements_NEW_FINDINGS__awsdocs.json", code: picket.ENOTFINDING, msg: "SNS message: JSON object with keys \"version\", \"type\", \"findingDetails\" is not an SNS envelope, an EventBridge event or a finding"},
	{file: "sns/envelope_guardduty_announcements_UPDATED_FINDINGS__awsdocs.json", code: picket.ENOTFINDING, msg: "SNS message: JSON object with keys \"version\", \"type\", \"findingDetails\" is not an SNS envelope, an EventBridge event or a finding"},
	{file: "sns/envelope_large_payload_s3_pointer__awsdocs-sns.json", code: picket.ENOTFINDING, msg: "SNS message is plain text, not an EventBridge event"},
	{file: "sns/envelope_message_attributes_filter_policy__awsdocs-sns.json", code: picket.ENOTFINDING, msg: "SNS message is plain text, not an EventBridge event"},
	{file: "sns/envelope_real_awsconfig_notification_from_sqs_body__c7n.json", code: picket.ENOTFINDING, msg: "SNS message: JSON object with keys \"configurationItemDiff\", \"configurationItem\", \"notificationCreationTime\", \"messageType\", \"recordVersion\", ... is not an SNS envelope, an EventBridge event or a finding"},
	{file: "sns/envelope_real_signature_from_sqs_body__powertools.json", code: picket.ENOTFINDING, msg: "SNS message: JSON object with keys \"message\", \"username\" is not an SNS envelope, an EventBridge event or a finding"},
	{file: "sns/http_Notification__awsdocs-sns.json", code: picket.ENOTFINDING, msg: "SNS message is plain text, not an EventBridge event"},
	{file: "sns/http_SubscriptionConfirmation__awsdocs-sns.json", code: picket.ENOTFINDING, msg: "SNS SubscriptionConfirmation, not a notification"},
	{file: "sns/http_UnsubscribeConfirmation__awsdocs-sns.json", code: picket.ENOTFINDING, msg: "SNS UnsubscribeConfirmation, not a notification"},
	{file: "sns/lambda_sns_event__powertools.json", code: picket.ENOTFINDING, msg: "Lambda SNS event: send each record's Sns.Message"},
	{file: "sns/lambda_sns_event_crlf_message_casing_variant__rust_runtime.json", code: picket.ENOTFINDING, msg: "Lambda SNS event: send each record's Sns.Message"},
	{file: "sqs/api_ReceiveMessage_Messages__rust_runtime.json", code: picket.ENOTFINDING, msg: "SQS ReceiveMessage response: send each message's Body"},
	{file: "sqs/api_ReceiveMessage_body_base64_zlib_not_json__c7n_placebo.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"status_code\", \"data\" is not an SNS envelope, an EventBridge event or a finding"},
	{file: "sqs/api_ReceiveMessage_body_is_sns_envelope_awsconfig_real__c7n_placebo.json", code: picket.ENOTFINDING, msg: "JSON object with keys \"status_code\", \"data\" is not an SNS envelope, an EventBridge event or a finding"},
	{file: "sqs/lambda_sqs_event_2_records__powertools.json", code: picket.ENOTFINDING, msg: "Lambda SQS event batch: send each record's body"},
	{file: "sqs/lambda_sqs_event_body_is_sns_envelope__powertools.json", code: picket.ENOTFINDING, msg: "Lambda SQS event batch: send each record's body"},
	{file: "sqs/lambda_sqs_event_body_is_sns_fifo_envelope_no_signature__powertools.json", code: picket.ENOTFINDING, msg: "Lambda SQS event batch: send each record's body"},
	{file: "sqs/lambda_sqs_event_dlq__powertools.json", code: picket.ENOTFINDING, msg: "Lambda SQS event batch: send each record's body"},
	{file: "sqs/lambda_sqs_event_message_attributes__lambda_go.json", code: picket.ENOTFINDING, msg: "Lambda SQS event batch: send each record's body"},
}

func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "corpus", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustDecode(tb testing.TB, body []byte) []picket.Finding {
	tb.Helper()
	fs, err := event.Decode(body)
	if err != nil {
		tb.Fatalf("Decode: %v", err)
	}
	return fs
}

// checkError checks that err is a *picket.Error with code and, when msg is
// not empty, a message containing msg.
func checkError(tb testing.TB, err error, code, msg string) {
	tb.Helper()
	var pe *picket.Error
	if !errors.As(err, &pe) {
		tb.Fatalf("got error %v (%T), want a *picket.Error with code %s", err, err, code)
	}
	if pe.Code != code {
		tb.Errorf("got code %s (%s), want %s", pe.Code, pe.Message, code)
	}
	if !strings.Contains(pe.Message, msg) {
		tb.Errorf("got message %q, want it to contain %q", pe.Message, msg)
	}
}

func TestDecodeCorpus(t *testing.T) {
	listed := map[string]bool{}
	for _, tc := range corpusCases {
		listed[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			fs, err := event.Decode(readFile(t, tc.file))
			if tc.code != "" {
				if err == nil {
					t.Fatalf("got %d findings, want error %s", len(fs), tc.code)
				}
				checkError(t, err, tc.code, tc.msg)
				if got := picket.ErrorMessage(err); got != tc.msg {
					t.Errorf("got message %q, want %q", got, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(fs) != tc.n {
				t.Fatalf("got %d findings, want %d", len(fs), tc.n)
			}
			if got := summarize(&fs[0]); got != tc.first {
				t.Errorf("first finding:\ngot  %+v\nwant %+v", got, tc.first)
			}
			for i := range fs {
				checkInvariants(t, &fs[i])
			}
		})
	}
	// Every corpus file must be in the table, so a new sample is looked at.
	err := filepath.WalkDir(filepath.Join("testdata", "corpus"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name, _ := filepath.Rel(filepath.Join("testdata", "corpus"), p)
		name = filepath.ToSlash(name)
		if name == "README.md" || name == "SOURCES.tsv" || strings.HasSuffix(name, ".ndjson") {
			return nil
		}
		if !listed[name] {
			t.Errorf("corpus file %s has no row in corpusCases", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkInvariants checks what must hold for every decoded finding.
func checkInvariants(tb testing.TB, f *picket.Finding) {
	tb.Helper()
	if f.Key == "" || f.ID == "" {
		tb.Errorf("finding has Key %q and ID %q, want both set", f.Key, f.ID)
	}
	switch f.Source {
	case picket.SourceGuardDuty, picket.SourceSecurityHub, picket.SourceInspector, picket.SourceMacie, picket.SourceAccessAnalyzer:
	default:
		tb.Errorf("got Source %q, want guardduty, securityhub, inspector, macie or access-analyzer", f.Source)
	}
	if f.Count < 1 {
		tb.Errorf("got Count %d, want at least 1", f.Count)
	}
	if !json.Valid(f.Raw) || f.Raw[0] != '{' {
		tb.Errorf("Raw is not a JSON object: %.80q", f.Raw)
	}
	if f.ConsoleURL != "" && !strings.HasPrefix(f.ConsoleURL, "https://") {
		tb.Errorf("got ConsoleURL %q, want an https link", f.ConsoleURL)
	}
}

func TestDecodeInvalidAsPublished(t *testing.T) {
	dir := filepath.Join("testdata", "corpus", "invalid_as_published")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no files in invalid_as_published")
	}
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			_, err := event.Decode(readFile(t, "invalid_as_published/"+e.Name()))
			checkError(t, err, picket.EINVALID, "invalid JSON at byte ")
		})
	}
}

func TestDecodeNDJSON(t *testing.T) {
	body := readFile(t, "ndjson/sns_firehose_archived_envelopes__awsdocs-sns.ndjson")
	lines := bytes.Split(bytes.TrimSpace(body), []byte("\n"))
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3", len(lines))
	}
	for i, line := range lines {
		_, err := event.Decode(line)
		checkError(t, err, picket.ENOTFINDING, "SNS message is plain text, not an EventBridge event")
		if t.Failed() {
			t.Logf("line %d", i+1)
		}
	}
	// The whole file is several JSON values, not one.
	_, err := event.Decode(body)
	checkError(t, err, picket.EINVALID, "after top-level value")
}

// filepathWalkCorpus calls fn with every corpus file's contents.
func filepathWalkCorpus(fn func([]byte)) error {
	return filepath.WalkDir(filepath.Join("testdata", "corpus"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fn(b)
		return nil
	})
}
