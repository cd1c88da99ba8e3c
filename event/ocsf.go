package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/picketsec/picket"
)

// ocsfFindingsCategory is the OCSF category of every finding class
// (class_uid / 1000): Security Hub v2 documents Vulnerability (2002),
// Compliance (2003) and Detection (2004) Findings.
const ocsfFindingsCategory = 2

// ocsfFinding holds the OCSF attributes Picket uses. Security Hub v2 events
// are not on the hot path of the v1 flow, so they are read with
// encoding/json.
type ocsfFinding struct {
	ClassUID   int    `json:"class_uid"`
	ClassName  string `json:"class_name"`
	ActivityID int    `json:"activity_id"`
	SeverityID int    `json:"severity_id"`
	Status     string `json:"status"`
	StatusID   int    `json:"status_id"`

	FindingInfo struct {
		UID             string   `json:"uid"`
		Title           string   `json:"title"`
		Desc            string   `json:"desc"`
		Types           []string `json:"types"`
		CreatedTime     ocsfTime `json:"created_time"`
		CreatedTimeDT   ocsfTime `json:"created_time_dt"`
		ModifiedTime    ocsfTime `json:"modified_time"`
		ModifiedTimeDT  ocsfTime `json:"modified_time_dt"`
		FirstSeenTime   ocsfTime `json:"first_seen_time"`
		FirstSeenTimeDT ocsfTime `json:"first_seen_time_dt"`
		LastSeenTime    ocsfTime `json:"last_seen_time"`
		LastSeenTimeDT  ocsfTime `json:"last_seen_time_dt"`
	} `json:"finding_info"`

	Metadata struct {
		Product struct {
			Name       string `json:"name"`
			UID        string `json:"uid"`
			VendorName string `json:"vendor_name"`
		} `json:"product"`
	} `json:"metadata"`

	Cloud struct {
		Account struct {
			UID string `json:"uid"`
		} `json:"account"`
		Region string `json:"region"`
	} `json:"cloud"`

	Count int `json:"count"`

	Resources []struct {
		Type           string `json:"type"`
		UID            string `json:"uid"`
		Name           string `json:"name"`
		Region         string `json:"region"`
		CloudPartition string `json:"cloud_partition"`
	} `json:"resources"`

	Compliance struct {
		Control  string `json:"control"`
		Status   string `json:"status"`
		StatusID int    `json:"status_id"`
	} `json:"compliance"`

	Remediation struct {
		References []string `json:"references"`
	} `json:"remediation"`

	Vulnerabilities []ocsfVulnerability `json:"vulnerabilities"`
}

type ocsfVulnerability struct {
	CVE struct {
		UID  string `json:"uid"`
		CVSS []struct {
			BaseScore float64 `json:"base_score"`
			Version   string  `json:"version"`
		} `json:"cvss"`
		EPSS *struct {
			Score epssScore `json:"score"`
		} `json:"epss"`
	} `json:"cve"`
	References         []string `json:"references"`
	IsExploitAvailable *bool    `json:"is_exploit_available"`
	IsFixAvailable     *bool    `json:"is_fix_available"`
	AffectedPackages   []struct {
		Name           string `json:"name"`
		Version        string `json:"version"`
		FixedInVersion string `json:"fixed_in_version"`
		PackageManager string `json:"package_manager"`
		Path           string `json:"path"`
	} `json:"affected_packages"`
}

// ocsfTime reads an OCSF timestamp: milliseconds since the epoch
// (timestamp_t) or an RFC 3339 string (datetime_t).
type ocsfTime = awsTime

// orTime returns t, or u when t is zero.
func orTime(t, u ocsfTime) time.Time {
	if !t.IsZero() {
		return t.Time
	}
	return u.Time
}

// decodeOCSF decodes the detail of a Security Hub v2 "Findings Imported V2"
// event: {"findings": [OCSF finding, ...]}.
func decodeOCSF(detail []byte, ev *eventInfo) ([]picket.Finding, error) {
	var d struct {
		Findings []json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal(detail, &d); err != nil {
		return nil, invalidf("Security Hub v2 event: %s", jsonError(err))
	}
	if d.Findings == nil {
		return nil, invalidf("Security Hub v2 event has no detail.findings")
	}
	if len(d.Findings) == 0 {
		return nil, notFindingf("%q event with no findings", detailImportedV2)
	}
	out := make([]picket.Finding, 0, len(d.Findings))
	for i, raw := range d.Findings {
		f, err := finishOCSF(raw, i+1, ev)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// jsonError words an encoding/json error.
func jsonError(err error) string {
	var pe *picket.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	return "invalid JSON: " + err.Error()
}

// finishOCSF turns one OCSF finding into a Finding.
func finishOCSF(raw json.RawMessage, n int, ev *eventInfo) (picket.Finding, error) {
	var o ocsfFinding
	if err := json.Unmarshal(raw, &o); err != nil {
		return picket.Finding{}, invalidf("Security Hub v2 finding %d: %s", n, jsonError(err))
	}
	// Detection, Vulnerability and Compliance Findings are what Security
	// Hub documents; any other class of the Findings category (2xxx, such
	// as a Data Security Finding) carries the same base attributes and is
	// decoded from those rather than dropped.
	if o.ClassUID/1000 != ocsfFindingsCategory {
		return picket.Finding{}, unsupportedf("Security Hub v2 finding %d: OCSF class_uid %d is not a finding (the Findings category is 2000-2999)", n, o.ClassUID)
	}
	uid := o.FindingInfo.UID
	if uid == "" {
		return picket.Finding{}, invalidf("Security Hub v2 finding %d has no finding_info.uid", n)
	}
	account := orString([]byte(o.Cloud.Account.UID), ev.account)
	region := o.Cloud.Region
	if region == "" {
		region = ev.region
	}
	partition := "aws"
	if p := arnField(o.Metadata.Product.UID, 1); p != "" {
		partition = p
	}
	productARN := v1ProductARN(o.Metadata.Product.UID, o.Metadata.Product.Name, partition, region)
	guardDuty := strings.HasSuffix(productARN, guardDutyProduct) || arnField(uid, 2) == "guardduty"

	// The identity is the one the ASFF path uses for the same finding, so
	// that a finding seen through v1 and v2 has one Key.
	identity, gdARN := productARN+"\n"+uid, ""
	if guardDuty {
		identity, gdARN = uid, uid
	}
	sev := ocsfSeverity(o.SeverityID)
	var first []byte
	if len(o.FindingInfo.Types) > 0 {
		first = []byte(o.FindingInfo.Types[0])
	} else if o.ClassName != "" {
		first = []byte(o.ClassName) // a finding without types is at least of its class
	}
	var ref string
	if len(o.Remediation.References) > 0 {
		ref = webURL([]byte(o.Remediation.References[0]))
	}
	rs := make([]asffResource, len(o.Resources))
	for i, r := range o.Resources {
		rs[i] = asffResource{typ: []byte(ocsfResourceType(r.Type)), id: []byte(r.UID), region: []byte(r.Region)}
		if !strings.HasPrefix(r.UID, "arn:") && r.Name != "" && r.UID == "" {
			rs[i].id = []byte(r.Name)
		}
	}
	f := picket.Finding{
		Key:              picket.FindingKey(identity),
		ID:               uid,
		Source:           picket.SourceSecurityHub,
		Product:          ocsfProduct(o.Metadata.Product.Name, productARN),
		ProductARN:       productARN,
		ARN:              gdARN,
		Type:             asffType(first, guardDuty),
		Title:            o.FindingInfo.Title,
		Description:      o.FindingInfo.Desc,
		Severity:         sev,
		SeverityScore:    severityLabels[strings.ToUpper(sev.String())].score,
		Account:          account,
		Region:           region,
		Resources:        asffResources(rs, partition, account),
		CreatedAt:        orTime(o.FindingInfo.CreatedTimeDT, o.FindingInfo.CreatedTime),
		UpdatedAt:        orTime(o.FindingInfo.ModifiedTimeDT, o.FindingInfo.ModifiedTime),
		FirstSeen:        orTime(o.FindingInfo.FirstSeenTimeDT, o.FindingInfo.FirstSeenTime),
		LastSeen:         orTime(o.FindingInfo.LastSeenTimeDT, o.FindingInfo.LastSeenTime),
		Count:            1,
		RecordState:      picket.RecordActive,
		WorkflowStatus:   ocsfWorkflow(o.StatusID, o.Status),
		ComplianceStatus: ocsfCompliance(o.Compliance.StatusID, o.Compliance.Status),
		ControlID:        o.Compliance.Control,
		RemediationURL:   ref,
		ConsoleURL:       securityHubConsoleURL(partition, region, uid),
		EventID:          ev.id,
		Raw:              append(json.RawMessage(nil), bytes.TrimSpace(raw)...),
	}
	if o.ActivityID == 3 { // Close
		f.RecordState = picket.RecordArchived
	}
	if guardDuty && o.Count > 1 {
		f.Count = o.Count
	}
	for _, v := range o.Vulnerabilities {
		f.Vulnerabilities = append(f.Vulnerabilities, ocsfVuln(&v))
	}
	return f, nil
}

// v1ProductARN returns the Security Hub (v1, ASFF) ProductArn of the
// product that reported a v2 finding: metadata.product.uid is that ARN, or
// its "productv2/" form; without it the ARN is built from the product name
// for AWS's own products.
func v1ProductARN(uid, name, partition, region string) string {
	if arnField(uid, 2) == "securityhub" {
		return strings.Replace(uid, ":productv2/", ":product/", 1)
	}
	p := ""
	switch strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(name, "Amazon "), "AWS ")) {
	case "guardduty":
		p = "aws/guardduty"
	case "inspector":
		p = "aws/inspector"
	case "macie":
		p = "aws/macie"
	case "iam access analyzer":
		p = "aws/access-analyzer"
	case "security hub", "security hub cspm":
		p = "aws/securityhub"
	case "config":
		p = "aws/config"
	}
	if p == "" {
		if uid != "" {
			return uid
		}
		return name
	}
	return "arn:" + partition + ":securityhub:" + region + "::product/" + p
}

// ocsfProduct names the product, as the ASFF path would.
func ocsfProduct(name, productARN string) string {
	if p := asffProduct(&asffFinding{}, productARN); p != "" && strings.Contains(productARN, ":product/aws/") {
		return p
	}
	return name
}

// ocsfSeverity maps OCSF severity_id (0 Unknown ... 5 Critical, 6 Fatal).
func ocsfSeverity(id int) picket.Severity {
	switch id {
	case 2:
		return picket.SeverityLow
	case 3:
		return picket.SeverityMedium
	case 4:
		return picket.SeverityHigh
	case 5, 6:
		return picket.SeverityCritical
	}
	return picket.SeverityInformational
}

// ocsfWorkflow maps OCSF status_id (1 New, 2 In Progress, 3 Suppressed,
// 4 Resolved) to the ASFF workflow status.
func ocsfWorkflow(id int, name string) string {
	switch id {
	case 1:
		return picket.WorkflowNew
	case 2:
		return picket.WorkflowNotified
	case 3:
		return picket.WorkflowSuppressed
	case 4:
		return picket.WorkflowResolved
	}
	switch strings.ToLower(name) {
	case "new":
		return picket.WorkflowNew
	case "in progress", "in_progress":
		return picket.WorkflowNotified
	case "suppressed":
		return picket.WorkflowSuppressed
	case "resolved":
		return picket.WorkflowResolved
	}
	return ""
}

// ocsfCompliance maps OCSF compliance status_id (1 Pass, 2 Warning, 3 Fail)
// to the ASFF compliance status.
func ocsfCompliance(id int, name string) string {
	switch id {
	case 1:
		return "PASSED"
	case 2:
		return "WARNING"
	case 3:
		return "FAILED"
	}
	switch strings.ToLower(name) {
	case "pass", "passed":
		return "PASSED"
	case "warning":
		return "WARNING"
	case "fail", "failed":
		return "FAILED"
	}
	return ""
}

// ocsfResourceType maps a CloudFormation-style resource type to the ASFF
// name asffResources knows; other types are kept.
func ocsfResourceType(t string) string {
	switch t {
	case "AWS::IAM::User":
		return "AwsIamUser"
	case "AWS::IAM::Role":
		return "AwsIamRole"
	case "AWS::IAM::AccessKey":
		return "AwsIamAccessKey"
	case "AWS::EC2::Instance":
		return "AwsEc2Instance"
	case "AWS::EC2::SecurityGroup":
		return "AwsEc2SecurityGroup"
	case "AWS::S3::Bucket":
		return "AwsS3Bucket"
	case "AWS::ECR::ContainerImage":
		return "AwsEcrContainerImage"
	case "AWS::Lambda::Function":
		return "AwsLambdaFunction"
	case "AWS::::Account":
		return "AwsAccount"
	}
	return t
}

// ocsfVuln maps one OCSF vulnerability.
func ocsfVuln(v *ocsfVulnerability) picket.Vulnerability {
	out := picket.Vulnerability{ID: v.CVE.UID}
	for _, c := range v.CVE.CVSS {
		if c.Version >= out.CVSSVersion {
			out.CVSS, out.CVSSVersion = c.BaseScore, c.Version
		}
	}
	if v.CVE.EPSS != nil {
		out.EPSS, out.HasEPSS = epss(v.CVE.EPSS.Score)
	}
	for _, r := range v.References {
		if u := webURL([]byte(r)); u != "" {
			out.URL = u
			break
		}
	}
	out.ExploitAvailable = yesNo(v.IsExploitAvailable)
	out.FixAvailable = yesNo(v.IsFixAvailable)
	for _, p := range v.AffectedPackages {
		out.Packages = append(out.Packages, picket.Package{Name: p.Name, Version: p.Version, FixedIn: p.FixedInVersion, Manager: p.PackageManager, Path: p.Path})
	}
	return out
}

func yesNo(b *bool) string {
	switch {
	case b == nil:
		return ""
	case *b:
		return "YES"
	}
	return "NO"
}
