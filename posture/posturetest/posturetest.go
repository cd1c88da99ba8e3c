package posturetest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/picketsec/picket/internal/awsfake"
)

// Account is the account the fake answers for.
const Account = "123456789012"

// User is one row of a credential report.
type User struct {
	Name, ARN    string
	Created      time.Time
	Password     bool // console password enabled
	PasswordUsed time.Time
	MFA          bool
	Key1, Key2   bool // access key active
	Key1Rotated  time.Time
	Key1Used     time.Time
	Key2Rotated  time.Time
	Key2Used     time.Time
	// Root marks the root row, whose password_enabled is "not_supported".
	Root bool
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return t.Format(time.RFC3339)
}

// reportCSV renders the CSV IAM returns, base64-encoded as in the XML.
func reportCSV(users ...User) string {
	var b strings.Builder
	b.WriteString("user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed," +
		"password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date," +
		"access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated," +
		"access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active," +
		"cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n")
	for _, u := range users {
		pw := fmt.Sprint(u.Password)
		if u.Root {
			pw = "not_supported"
		}
		used := fmtTime(u.PasswordUsed)
		if u.Password && u.PasswordUsed.IsZero() {
			used = "no_information"
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,N/A,N/A,%t,%t,%s,%s,N/A,N/A,%t,%s,%s,N/A,N/A,false,N/A,false,N/A\n",
			u.Name, u.ARN, fmtTime(u.Created), pw, used, u.MFA,
			u.Key1, fmtTime(u.Key1Rotated), fmtTime(u.Key1Used),
			u.Key2, fmtTime(u.Key2Rotated), fmtTime(u.Key2Used))
	}
	return base64.StdEncoding.EncodeToString([]byte(b.String()))
}

// DaysAgo is n days before now.
func DaysAgo(now time.Time, n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }

// HealthyUsers are the root user and two users that pass every
// credential check at now; index 0 is root, 1 alice (console and key), 2
// deploy (key only).
func HealthyUsers(now time.Time) []User {
	return []User{
		{Name: "<root_account>", ARN: "arn:aws:iam::" + Account + ":root", Created: DaysAgo(now, 900),
			Root: true, PasswordUsed: DaysAgo(now, 3), MFA: true},
		{Name: "alice", ARN: "arn:aws:iam::" + Account + ":user/alice", Created: DaysAgo(now, 400),
			Password: true, PasswordUsed: DaysAgo(now, 1), MFA: true,
			Key1: true, Key1Rotated: DaysAgo(now, 30), Key1Used: DaysAgo(now, 1)},
		{Name: "deploy", ARN: "arn:aws:iam::" + Account + ":user/deploy", Created: DaysAgo(now, 200),
			Key1: true, Key1Rotated: DaysAgo(now, 80), Key1Used: DaysAgo(now, 2),
			Key2: false, Key2Rotated: DaysAgo(now, 190)},
	}
}

// CredentialReport is the GetCredentialReport reply listing users.
func CredentialReport(now time.Time, users ...User) awsfake.Response {
	return awsfake.QueryResult("GetCredentialReport",
		"<Content>"+reportCSV(users...)+"</Content><ReportFormat>text/csv</ReportFormat>"+
			"<GeneratedTime>"+now.Format(time.RFC3339)+"</GeneratedTime>")
}

// PasswordPolicy is the GetAccountPasswordPolicy reply with the given
// minimum length and reuse prevention.
func PasswordPolicy(length, reuse int) awsfake.Response {
	return awsfake.QueryResult("GetAccountPasswordPolicy", fmt.Sprintf(
		"<PasswordPolicy><MinimumPasswordLength>%d</MinimumPasswordLength><PasswordReusePrevention>%d</PasswordReusePrevention>"+
			"<RequireSymbols>true</RequireSymbols><AllowUsersToChangePassword>true</AllowUsersToChangePassword></PasswordPolicy>", length, reuse))
}

// Policy documents and the customer managed policy the healthy users have.
const (
	ReadOnlyDoc     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}]}`
	AllDoc          = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`
	DenyAllDoc      = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`
	CustomPolicyARN = "arn:aws:iam::" + Account + ":policy/reports-read"
)

// UserDetail renders one UserDetailList member.
func UserDetail(name string, inline map[string]string, attached ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<member><UserName>%s</UserName><Arn>arn:aws:iam::%s:user/%s</Arn><UserPolicyList>", name, Account, name)
	for pn, doc := range inline {
		fmt.Fprintf(&b, "<member><PolicyName>%s</PolicyName><PolicyDocument>%s</PolicyDocument></member>", pn, url.PathEscape(doc))
	}
	b.WriteString("</UserPolicyList><AttachedManagedPolicies>")
	for _, arn := range attached {
		fmt.Fprintf(&b, "<member><PolicyName>%s</PolicyName><PolicyArn>%s</PolicyArn></member>", arn[strings.LastIndex(arn, "/")+1:], arn)
	}
	b.WriteString("</AttachedManagedPolicies></member>")
	return b.String()
}

// AuthDetails is the GetAccountAuthorizationDetails reply with the
// UserDetail members given.
func AuthDetails(users ...string) awsfake.Response {
	return awsfake.QueryResult("GetAccountAuthorizationDetails",
		"<UserDetailList>"+strings.Join(users, "")+"</UserDetailList><IsTruncated>false</IsTruncated>")
}

// SecurityGroup renders one EC2 security group item with its ingress and
// egress Rule items.
func SecurityGroup(id, name, vpc, ingress, egress string) string {
	return fmt.Sprintf("<item><groupId>%s</groupId><groupName>%s</groupName><vpcId>%s</vpcId><ownerId>%s</ownerId>"+
		"<ipPermissions>%s</ipPermissions><ipPermissionsEgress>%s</ipPermissionsEgress></item>", id, name, vpc, Account, ingress, egress)
}

// Rule renders one EC2 IpPermission item; empty CIDRs are left out.
func Rule(proto string, from, to int, cidr, cidr6 string) string {
	s := fmt.Sprintf("<item><ipProtocol>%s</ipProtocol><fromPort>%d</fromPort><toPort>%d</toPort><ipRanges>", proto, from, to)
	if cidr != "" {
		s += "<item><cidrIp>" + cidr + "</cidrIp></item>"
	}
	s += "</ipRanges><ipv6Ranges>"
	if cidr6 != "" {
		s += "<item><cidrIpv6>" + cidr6 + "</cidrIpv6></item>"
	}
	return s + "</ipv6Ranges></item>"
}

// SecurityGroups answers DescribeSecurityGroups: the default groups when
// asked with the group-name filter, all groups otherwise.
func SecurityGroups(all, defaults string) awsfake.Handler {
	return func(r *awsfake.Request) awsfake.Response {
		if r.Param("Filter.1.Name") == "group-name" && r.Param("Filter.1.Value.1") == "default" {
			return awsfake.EC2Result("DescribeSecurityGroups", "<securityGroupInfo>"+defaults+"</securityGroupInfo>")
		}
		return awsfake.EC2Result("DescribeSecurityGroups", "<securityGroupInfo>"+all+"</securityGroupInfo>")
	}
}

// Resource ids of the healthy account.
const (
	WebGroup     = "sg-web"
	DefaultGroup = "sg-default"
	TrailARN     = "arn:aws:cloudtrail:us-east-1:" + Account + ":trail/org-trail"
	CMKID        = "1111aaaa-0000-0000-0000-000000000001"
	AWSKeyID     = "2222bbbb-0000-0000-0000-000000000002"
	CMKARN       = "arn:aws:kms:us-east-1:" + Account + ":key/" + CMKID
)

func healthySecurityGroups() awsfake.Handler {
	def := SecurityGroup(DefaultGroup, "default", "vpc-1", "", "")
	web := SecurityGroup(WebGroup, "web", "vpc-1",
		Rule("tcp", 443, 443, "0.0.0.0/0", "::/0")+Rule("tcp", 22, 22, "10.0.0.0/8", ""),
		Rule("-1", 0, 0, "0.0.0.0/0", ""))
	return SecurityGroups(def+web, def)
}

// Trail is the DescribeTrails reply listing the trail TrailARN.
func Trail(multi, validation bool, kmsKey string) awsfake.Response {
	t := map[string]any{
		"Name": "org-trail", "TrailARN": TrailARN, "HomeRegion": "us-east-1", "S3BucketName": "trail-logs",
		"IsMultiRegionTrail": multi, "LogFileValidationEnabled": validation,
	}
	if kmsKey != "" {
		t["KmsKeyId"] = kmsKey
	}
	return awsfake.JSONBody(map[string]any{"trailList": []any{t}})
}

// PublicAccessBlock is the S3 Control GetPublicAccessBlock reply: every
// setting on except RestrictPublicBuckets when restrict is false.
func PublicAccessBlock(restrict bool) awsfake.Response {
	return awsfake.XML(fmt.Sprintf("<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls>"+
		"<IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy>"+
		"<RestrictPublicBuckets>%t</RestrictPublicBuckets></PublicAccessBlockConfiguration>", restrict))
}

// S3Error is an S3 REST-XML error.
func S3Error(status int, code string) awsfake.Response {
	return awsfake.Response{Status: status, Body: "<Error><Code>" + code + "</Code><Message>" + code +
		"</Message><RequestId>" + awsfake.RequestIDPlaceholder + "</RequestId></Error>"}.WithHeader("Content-Type", "application/xml")
}

// PolicyStatus answers GetBucketPolicyStatus: IsPublic for the buckets in
// public, NoSuchBucketPolicy for the others.
func PolicyStatus(public map[string]bool) awsfake.Handler {
	return func(r *awsfake.Request) awsfake.Response {
		pub, ok := public[r.PathParams["Bucket"]]
		if !ok {
			return S3Error(http.StatusNotFound, "NoSuchBucketPolicy")
		}
		return awsfake.XML(fmt.Sprintf("<PolicyStatus><IsPublic>%t</IsPublic></PolicyStatus>", pub))
	}
}

func describeKey(r *awsfake.Request) awsfake.Response {
	switch r.Param("KeyId") {
	case CMKID:
		return awsfake.JSONBody(map[string]any{"KeyMetadata": map[string]any{
			"KeyId": CMKID, "Arn": CMKARN, "KeyManager": "CUSTOMER", "KeySpec": "SYMMETRIC_DEFAULT",
			"KeyState": "Enabled", "Origin": "AWS_KMS", "KeyUsage": "ENCRYPT_DECRYPT"}})
	default:
		return awsfake.JSONBody(map[string]any{"KeyMetadata": map[string]any{
			"KeyId": AWSKeyID, "Arn": "arn:aws:kms:us-east-1:" + Account + ":key/" + AWSKeyID, "KeyManager": "AWS",
			"KeySpec": "SYMMETRIC_DEFAULT", "KeyState": "Enabled", "Origin": "AWS_KMS"}})
	}
}

// Wrap changes every handler Healthy registers.
type Wrap func(awsfake.Handler) awsfake.Handler

// Healthy registers on srv the replies of an account that passes every
// posture check at now, in every region. w, when not nil, wraps each
// handler (to count or hold calls). Register a handler again after Healthy
// to make one check fail.
func Healthy(srv *awsfake.Server, now time.Time, w Wrap) {
	if w == nil {
		w = func(h awsfake.Handler) awsfake.Handler { return h }
	}
	on := func(service, op string, h awsfake.Handler) { srv.On(service, op, w(h)) }
	rest := func(service, op, method, path string, h awsfake.Handler) { srv.OnREST(service, op, method, path, w(h)) }

	on("sts", "GetCallerIdentity", awsfake.Reply(awsfake.QueryResult("GetCallerIdentity",
		"<Arn>arn:aws:sts::"+Account+":assumed-role/picket/bot</Arn><UserId>AROAEXAMPLE:bot</UserId><Account>"+Account+"</Account>")))

	on("iam", "GenerateCredentialReport", awsfake.Reply(awsfake.QueryResult("GenerateCredentialReport",
		"<State>COMPLETE</State><Description>ok</Description>")))
	on("iam", "GetCredentialReport", awsfake.Reply(CredentialReport(now, HealthyUsers(now)...)))
	on("iam", "GetAccountPasswordPolicy", awsfake.Reply(PasswordPolicy(16, 24)))
	on("iam", "GetAccountAuthorizationDetails", awsfake.Reply(AuthDetails(
		UserDetail("alice", map[string]string{"reports": ReadOnlyDoc, "no-delete": DenyAllDoc}, CustomPolicyARN,
			"arn:aws:iam::aws:policy/ReadOnlyAccess"),
		UserDetail("deploy", nil, CustomPolicyARN))))
	on("iam", "GetPolicy", awsfake.Reply(awsfake.QueryResult("GetPolicy",
		"<Policy><PolicyName>reports-read</PolicyName><Arn>"+CustomPolicyARN+"</Arn><DefaultVersionId>v3</DefaultVersionId></Policy>")))
	on("iam", "GetPolicyVersion", awsfake.Reply(awsfake.QueryResult("GetPolicyVersion",
		"<PolicyVersion><Document>"+url.PathEscape(ReadOnlyDoc)+"</Document><VersionId>v3</VersionId><IsDefaultVersion>true</IsDefaultVersion></PolicyVersion>")))

	on("ec2", "GetEbsEncryptionByDefault", awsfake.Reply(awsfake.EC2Result("GetEbsEncryptionByDefault",
		"<ebsEncryptionByDefault>true</ebsEncryptionByDefault><sseType>sse-ebs</sseType>")))
	on("ec2", "DescribeSecurityGroups", healthySecurityGroups())
	on("ec2", "DescribeVpcs", awsfake.Reply(awsfake.EC2Result("DescribeVpcs",
		"<vpcSet><item><vpcId>vpc-1</vpcId><isDefault>true</isDefault></item><item><vpcId>vpc-2</vpcId></item></vpcSet>")))
	on("ec2", "DescribeFlowLogs", awsfake.Reply(awsfake.EC2Result("DescribeFlowLogs",
		"<flowLogSet><item><flowLogId>fl-1</flowLogId><resourceId>vpc-1</resourceId><flowLogStatus>ACTIVE</flowLogStatus></item>"+
			"<item><flowLogId>fl-2</flowLogId><resourceId>vpc-2</resourceId><flowLogStatus>ACTIVE</flowLogStatus></item></flowLogSet>")))

	on("cloudtrail", "DescribeTrails", awsfake.Reply(Trail(true, true, "arn:aws:kms:us-east-1:"+Account+":key/trail")))
	on("cloudtrail", "GetTrailStatus", awsfake.Reply(awsfake.JSONBody(map[string]any{"IsLogging": true})))

	on("config", "DescribeConfigurationRecorders", awsfake.Reply(awsfake.JSONBody(map[string]any{
		"ConfigurationRecorders": []any{map[string]any{"name": "default", "roleARN": "arn:aws:iam::" + Account + ":role/config",
			"recordingGroup": map[string]any{"allSupported": true, "includeGlobalResourceTypes": true}}}})))
	on("config", "DescribeConfigurationRecorderStatus", awsfake.Reply(awsfake.JSONBody(map[string]any{
		"ConfigurationRecordersStatus": []any{map[string]any{"name": "default", "recording": true, "lastStatus": "SUCCESS"}}})))

	on("kms", "ListKeys", awsfake.Reply(awsfake.JSONBody(map[string]any{"Keys": []any{
		map[string]any{"KeyId": CMKID, "KeyArn": CMKARN},
		map[string]any{"KeyId": AWSKeyID},
	}, "Truncated": false})))
	on("kms", "DescribeKey", describeKey)
	on("kms", "GetKeyRotationStatus", awsfake.Reply(awsfake.JSONBody(map[string]any{"KeyRotationEnabled": true, "KeyId": CMKARN})))

	rest("s3", "GetPublicAccessBlock", "GET", "/v20180820/configuration/publicAccessBlock", awsfake.Reply(PublicAccessBlock(true)))
	rest("s3", "ListBuckets", "GET", "/", awsfake.Reply(awsfake.XML(
		`<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>owner</ID></Owner><Buckets>`+
			`<Bucket><Name>logs</Name><BucketRegion>us-east-1</BucketRegion></Bucket>`+
			`<Bucket><Name>site</Name><BucketRegion>eu-west-1</BucketRegion></Bucket></Buckets></ListAllMyBucketsResult>`)))
	rest("s3", "GetBucketPolicyStatus", "GET", "/{Bucket}", PolicyStatus(map[string]bool{"site": false}))

	rest("guardduty", "ListDetectors", "GET", "/detector", awsfake.Reply(awsfake.JSONBody(map[string]any{"detectorIds": []string{"det1"}})))
	rest("guardduty", "GetDetector", "GET", "/detector/{DetectorId}", awsfake.Reply(awsfake.JSONBody(map[string]any{
		"status": "ENABLED", "serviceRole": "arn:aws:iam::" + Account + ":role/gd", "createdAt": "2024-01-01T00:00:00Z"})))

	rest("securityhub", "DescribeHub", "GET", "/accounts", awsfake.Reply(awsfake.JSONBody(map[string]any{
		"HubArn": "arn:aws:securityhub:us-east-1:" + Account + ":hub/default", "SubscribedAt": "2024-01-01T00:00:00.000Z"})))
	rest("securityhub", "GetEnabledStandards", "POST", "/standards/get", awsfake.Reply(awsfake.JSONBody(map[string]any{
		"StandardsSubscriptions": []any{map[string]any{
			"StandardsArn":             "arn:aws:securityhub:us-east-1::standards/aws-foundational-security-best-practices/v/1.0.0",
			"StandardsSubscriptionArn": "arn:aws:securityhub:us-east-1:" + Account + ":subscription/fsbp",
			"StandardsStatus":          "READY", "StandardsInput": map[string]string{}}}})))

	rest("access-analyzer", "ListAnalyzers", "GET", "/analyzer", awsfake.Reply(awsfake.JSONBody(map[string]any{
		"analyzers": []any{map[string]any{"arn": "arn:aws:access-analyzer:us-east-1:" + Account + ":analyzer/acct",
			"name": "acct", "type": "ACCOUNT", "status": "ACTIVE", "createdAt": "2024-01-01T00:00:00Z"}}})))
}
