package event

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/picketsec/picket"
)

// Native (not through Security Hub) finding events, their sources and the
// Security Hub product each is imported as.
const (
	detailInspector  = "Inspector2 Finding"
	sourceInspector  = "aws.inspector2"
	productInspector = "aws/inspector"
)

// asffVulnerability is an ASFF Vulnerabilities[] entry.
type asffVulnerability struct {
	ID                 string `json:"Id"`
	VulnerablePackages []struct {
		Name           string `json:"Name"`
		Version        string `json:"Version"`
		Release        string `json:"Release"`
		FixedInVersion string `json:"FixedInVersion"`
		PackageManager string `json:"PackageManager"`
		FilePath       string `json:"FilePath"`
	} `json:"VulnerablePackages"`
	Cvss []struct {
		Version   string  `json:"Version"`
		BaseScore float64 `json:"BaseScore"`
	} `json:"Cvss"`
	Vendor struct {
		URL string `json:"Url"`
	} `json:"Vendor"`
	ReferenceUrls    []string  `json:"ReferenceUrls"`
	FixAvailable     string    `json:"FixAvailable"`
	ExploitAvailable string    `json:"ExploitAvailable"`
	EpssScore        epssScore `json:"EpssScore"`
}

// asffVulnerabilities decodes an ASFF Vulnerabilities array (Inspector
// findings). It runs only for findings that have one.
func asffVulnerabilities(raw []byte, n int) ([]picket.Vulnerability, error) {
	var list []asffVulnerability
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, invalidf("Security Hub finding %d: Vulnerabilities: %s", n, jsonError(err))
	}
	out := make([]picket.Vulnerability, 0, len(list))
	for _, a := range list {
		v := picket.Vulnerability{ID: a.ID, FixAvailable: a.FixAvailable, ExploitAvailable: a.ExploitAvailable}
		for _, c := range a.Cvss {
			if c.Version >= v.CVSSVersion {
				v.CVSS, v.CVSSVersion = c.BaseScore, c.Version
			}
		}
		v.EPSS, v.HasEPSS = epss(a.EpssScore)
		v.URL = firstURL(append([]string{a.Vendor.URL}, a.ReferenceUrls...))
		for _, p := range a.VulnerablePackages {
			v.Packages = append(v.Packages, picket.Package{Name: p.Name, Version: withRelease(p.Version, p.Release),
				FixedIn: p.FixedInVersion, Manager: p.PackageManager, Path: p.FilePath})
		}
		out = append(out, v)
	}
	return out, nil
}

// epssScore is an EPSS score as the services write it: a number, or a
// numeric string (OCSF). Any other value reads as no score: the score
// only adds to an alert, so it must not make the finding undecodable.
type epssScore json.Number

func (e *epssScore) UnmarshalJSON(b []byte) error {
	var n json.Number
	if json.Unmarshal(b, &n) == nil {
		*e = epssScore(n)
	}
	return nil
}

// epss reads an EPSS score, which must lie in 0-1.
func epss(n epssScore) (float64, bool) {
	if n == "" {
		return 0, false
	}
	e, err := json.Number(n).Float64()
	if err != nil || e < 0 || e > 1 {
		return 0, false
	}
	return e, true
}

// firstURL returns the first web link of list.
func firstURL(list []string) string {
	for _, u := range list {
		if w := webURL([]byte(u)); w != "" {
			return w
		}
	}
	return ""
}

// withRelease joins a package version and release as package managers
// print them ("1.4.3-12.amzn2.2").
func withRelease(version, release string) string {
	if release == "" || version == "" {
		return version
	}
	return version + "-" + release
}

// inspectorFinding is the detail of an "Inspector2 Finding" event, as the
// Inspector API (ListFindings) describes a finding.
type inspectorFinding struct {
	FindingArn    string  `json:"findingArn"`
	AwsAccountID  string  `json:"awsAccountId"`
	Title         string  `json:"title"`
	Description   string  `json:"description"`
	Type          string  `json:"type"`
	Severity      string  `json:"severity"`
	Status        string  `json:"status"`
	FirstObserved awsTime `json:"firstObservedAt"`
	LastObserved  awsTime `json:"lastObservedAt"`
	UpdatedAt     awsTime `json:"updatedAt"`
	FixAvailable  string  `json:"fixAvailable"`
	Exploit       string  `json:"exploitAvailable"`
	Epss          *struct {
		Score epssScore `json:"score"`
	} `json:"epss"`
	PackageVulnerabilityDetails *struct {
		VulnerabilityID string   `json:"vulnerabilityId"`
		SourceURL       string   `json:"sourceUrl"`
		ReferenceUrls   []string `json:"referenceUrls"`
		Cvss            []struct {
			BaseScore float64 `json:"baseScore"`
			Version   string  `json:"version"`
		} `json:"cvss"`
		VulnerablePackages []struct {
			Name           string `json:"name"`
			Version        string `json:"version"`
			Release        string `json:"release"`
			FixedInVersion string `json:"fixedInVersion"`
			PackageManager string `json:"packageManager"`
			FilePath       string `json:"filePath"`
		} `json:"vulnerablePackages"`
	} `json:"packageVulnerabilityDetails"`
	Remediation struct {
		Recommendation struct {
			URL string `json:"Url"`
		} `json:"recommendation"`
	} `json:"remediation"`
	Resources []struct {
		Type    string `json:"type"`
		ID      string `json:"id"`
		Region  string `json:"region"`
		Details struct {
			EcrImage *struct {
				RepositoryName string   `json:"repositoryName"`
				ImageTags      []string `json:"imageTags"`
				ImageHash      string   `json:"imageHash"`
			} `json:"awsEcrContainerImage"`
			Lambda *struct {
				FunctionName string `json:"functionName"`
			} `json:"awsLambdaFunction"`
		} `json:"details"`
	} `json:"resources"`
}

// awsTime reads the times of native service events and OCSF: RFC 3339
// (with or without a zone, then UTC), the "Dec 3, 2021, 6:02:30 PM" form
// some EventBridge samples show, or milliseconds since the epoch.
type awsTime struct{ time.Time }

func (t *awsTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] != '"' {
		ms, err := strconv.ParseFloat(string(b), 64)
		if err != nil || ms < 0 || ms > 1e15 {
			return invalidf("time %s is not milliseconds since the epoch", quoteShort(b))
		}
		t.Time = time.UnixMilli(int64(ms)).UTC()
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return invalidf("time %s is not a string", quoteShort(b))
	}
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "Jan 2, 2006, 3:04:05 PM"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return invalidf("time %s is neither RFC 3339 nor like \"Dec 3, 2021, 6:02:30 PM\"", quoteShort([]byte(s)))
}

// nativeIdentity returns the dedup identity the ASFF path gives the same
// finding once imported into Security Hub: its ProductArn (in the region of
// findingARN) and its Id, the service's finding ARN.
func nativeIdentity(findingARN, product, fallbackRegion string) (identity, productARN, partition, region string) {
	partition = arnField(findingARN, 1)
	if partition == "" {
		partition = "aws"
	}
	region = arnField(findingARN, 3)
	if !validRegion(region) {
		region = fallbackRegion
	}
	productARN = "arn:" + partition + ":securityhub:" + region + "::product/" + product
	return productARN + "\n" + findingARN, productARN, partition, region
}

// decodeInspector decodes the detail of an "Inspector2 Finding" event.
func decodeInspector(detail []byte, ev *eventInfo) ([]picket.Finding, error) {
	var d inspectorFinding
	if err := json.Unmarshal(detail, &d); err != nil {
		return nil, invalidf("Inspector finding: %s", jsonError(err))
	}
	if d.FindingArn == "" {
		return nil, invalidf("Inspector finding has no findingArn")
	}
	identity, productARN, partition, region := nativeIdentity(d.FindingArn, productInspector, ev.region)
	sev, err := picket.ParseSeverity(d.Severity)
	if err != nil && d.Severity != "UNTRIAGED" {
		return nil, invalidf("Inspector finding: severity %s is not a severity", quoteShort([]byte(d.Severity)))
	}
	account := d.AwsAccountID
	if account == "" {
		account = ev.account
	}
	f := picket.Finding{
		Key:           picket.FindingKey(identity),
		ID:            d.FindingArn,
		Source:        picket.SourceInspector,
		Product:       "Inspector",
		ProductARN:    productARN,
		Type:          d.Type,
		Title:         d.Title,
		Description:   strings.TrimSpace(d.Description),
		Severity:      sev,
		SeverityScore: severityLabels[strings.ToUpper(sev.String())].score,
		Account:       account,
		Region:        region,
		CreatedAt:     d.FirstObserved.Time,
		UpdatedAt:     d.UpdatedAt.Time,
		FirstSeen:     d.FirstObserved.Time,
		LastSeen:      d.LastObserved.Time,
		Count:         1,
		RecordState:   picket.RecordActive,
		ConsoleURL:    inspectorConsoleURL(partition, region, d.FindingArn),
		EventID:       ev.id,
		Raw:           append(json.RawMessage(nil), bytes.TrimSpace(detail)...),
	}
	switch d.Status {
	case "SUPPRESSED":
		f.WorkflowStatus = picket.WorkflowSuppressed
	case "CLOSED":
		f.RecordState = picket.RecordArchived
	}
	if p := d.PackageVulnerabilityDetails; p != nil {
		v := picket.Vulnerability{ID: p.VulnerabilityID, FixAvailable: d.FixAvailable, ExploitAvailable: d.Exploit}
		for _, c := range p.Cvss {
			if c.Version >= v.CVSSVersion {
				v.CVSS, v.CVSSVersion = c.BaseScore, c.Version
			}
		}
		if d.Epss != nil {
			v.EPSS, v.HasEPSS = epss(d.Epss.Score)
		}
		v.URL = firstURL(append([]string{p.SourceURL}, p.ReferenceUrls...))
		for _, pk := range p.VulnerablePackages {
			v.Packages = append(v.Packages, picket.Package{Name: pk.Name, Version: withRelease(pk.Version, pk.Release),
				FixedIn: pk.FixedInVersion, Manager: pk.PackageManager, Path: pk.FilePath})
		}
		f.Vulnerabilities = []picket.Vulnerability{v}
	}
	for _, r := range d.Resources {
		res := picket.Resource{Kind: picket.ResourceOther, Type: r.Type, ID: r.ID, Region: validOr(r.Region, region)}
		if strings.HasPrefix(r.ID, "arn:") {
			res.ARN = r.ID
		}
		switch r.Type {
		case "AWS_EC2_INSTANCE":
			res.Kind, res.ID = picket.ResourceEC2Instance, afterLast(r.ID, '/')
		case "AWS_ECR_CONTAINER_IMAGE":
			repo, digest := ecrImage(r.ID)
			res.Kind, res.ID, res.Repository = picket.ResourceECRImage, digest, repo
			if e := r.Details.EcrImage; e != nil {
				res.Repository = orString([]byte(e.RepositoryName), repo)
				res.ImageTags = e.ImageTags
				if res.ID == "" {
					res.ID = e.ImageHash
				}
			}
		case "AWS_LAMBDA_FUNCTION":
			res.Kind, res.ID = picket.ResourceLambda, lambdaName(r.ID)
			if l := r.Details.Lambda; l != nil && l.FunctionName != "" {
				res.ID = l.FunctionName
			}
		}
		f.Resources = append(f.Resources, res)
	}
	return []picket.Finding{f}, nil
}

// validOr returns region when it is a region name, else fallback
// (Inspector reports "N/A" for ECR images).
func validOr(region, fallback string) string {
	if validRegion(region) {
		return region
	}
	return fallback
}

// inspectorConsoleURL links to the findings page of the Inspector console
// in the finding's region (the console has no documented link to one
// finding).
func inspectorConsoleURL(partition, region, arn string) string {
	base := consoleBase(partition, region)
	if base == "" || arn == "" {
		return ""
	}
	return base + "/inspector/v2/home?region=" + region + "#/findings/all"
}
