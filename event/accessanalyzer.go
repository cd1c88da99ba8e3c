package event

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/picketsec/picket"
)

// IAM Access Analyzer finding events: every detail-type it sends that
// carries a finding ("Access Preview State Change" does not).
const (
	detailAccessExternal = "Access Analyzer Finding"
	detailAccessInternal = "Internal Access Finding"
	detailAccessUnused   = "Unused Access Finding for IAM entities"
	sourceAccessAnalyzer = "aws.access-analyzer"
	productAccess        = "aws/access-analyzer"
)

// accessGrant is what external and internal access findings say about a
// grant, at the top of the detail or in findingDetails.
type accessGrant struct {
	Action    []string          `json:"action"`
	Condition json.RawMessage   `json:"condition"`
	Principal map[string]string `json:"principal"`
	IsPublic  *bool             `json:"isPublic"`
}

// accessLastUsed is the last use of an unused role, key or password.
type accessLastUsed struct {
	AccessKeyID  string  `json:"accessKeyId"`
	LastAccessed awsTime `json:"lastAccessed"`
}

// accessAnalyzerFinding is the detail of an IAM Access Analyzer finding
// event. External access events carry the grant at the top; unused and
// internal access events may carry it, as the API's FindingDetails union,
// in findingDetails.
type accessAnalyzerFinding struct {
	accessGrant
	ID                   string  `json:"id"`
	AccountID            string  `json:"accountId"`
	ResourceOwnerAccount string  `json:"resourceOwnerAccount"`
	Region               string  `json:"region"`
	Resource             string  `json:"resource"`
	ResourceType         string  `json:"resourceType"`
	Status               string  `json:"status"`
	IsDeleted            bool    `json:"isDeleted"`
	Error                string  `json:"error"`
	FindingType          string  `json:"findingType"`
	AnalyzerArn          string  `json:"analyzerArn"`
	CreatedAt            awsTime `json:"createdAt"`
	UpdatedAt            awsTime `json:"updatedAt"`
	AnalyzedAt           awsTime `json:"analyzedAt"`
	FindingDetails       []struct {
		External *accessGrant    `json:"externalAccessDetails"`
		Internal *accessGrant    `json:"internalAccessDetails"`
		Role     *accessLastUsed `json:"unusedIamRoleDetails"`
		Key      *accessLastUsed `json:"unusedIamUserAccessKeyDetails"`
		Password *accessLastUsed `json:"unusedIamUserPasswordDetails"`
		Perm     *struct {
			ServiceNamespace string  `json:"serviceNamespace"`
			LastAccessed     awsTime `json:"lastAccessed"`
			Actions          []struct {
				Action string `json:"action"`
			} `json:"actions"`
		} `json:"unusedPermissionDetails"`
	} `json:"findingDetails"`
}

// decodeAccessAnalyzer returns the decoder of one IAM Access Analyzer
// finding detail-type.
func decodeAccessAnalyzer(kind string) func([]byte, *eventInfo) ([]picket.Finding, error) {
	return func(detail []byte, ev *eventInfo) ([]picket.Finding, error) {
		return accessAnalyzerFindings(detail, ev, kind)
	}
}

func accessAnalyzerFindings(detail []byte, ev *eventInfo, kind string) ([]picket.Finding, error) {
	var d accessAnalyzerFinding
	if err := json.Unmarshal(detail, &d); err != nil {
		return nil, invalidf("IAM Access Analyzer finding: %s", jsonError(err))
	}
	if d.ID == "" {
		return nil, invalidf("IAM Access Analyzer finding has no id")
	}
	if d.Resource == "" {
		return nil, invalidf("IAM Access Analyzer finding %s has no resource", quoteShort([]byte(d.ID)))
	}
	analyzer := d.AnalyzerArn
	if analyzer == "" {
		for _, r := range ev.resources {
			if arnField(r, 2) == "access-analyzer" {
				analyzer = r
				break
			}
		}
	}
	partition := arnField(analyzer, 1)
	if partition == "" {
		partition = orString([]byte(arnField(d.Resource, 1)), "aws")
	}
	region := validOr(d.Region, ev.region)
	account := firstOf([]byte(d.AccountID), []byte(d.ResourceOwnerAccount), []byte(ev.account))
	productARN := "arn:" + partition + ":securityhub:" + region + "::product/" + productAccess

	a := &picket.AccessFinding{Kind: kind, Analyzer: analyzer, ResourceType: d.ResourceType, FindingType: d.FindingType, Error: d.Error}
	grants := []*accessGrant{&d.accessGrant}
	for _, fd := range d.FindingDetails {
		for _, g := range []*accessGrant{fd.External, fd.Internal} {
			if g != nil {
				grants = append(grants, g)
			}
		}
		for _, u := range []*accessLastUsed{fd.Role, fd.Key, fd.Password} {
			if u == nil {
				continue
			}
			if u.AccessKeyID != "" {
				a.Unused = append(a.Unused, "access key "+u.AccessKeyID)
			}
			a.LastAccessed = later(a.LastAccessed, u.LastAccessed.Time)
		}
		if p := fd.Perm; p != nil {
			actions := make([]string, 0, len(p.Actions))
			for _, x := range p.Actions {
				actions = append(actions, x.Action)
			}
			line := p.ServiceNamespace
			if len(actions) > 0 {
				line += ": " + strings.Join(actions, ", ")
			}
			a.Unused = append(a.Unused, line)
			a.LastAccessed = later(a.LastAccessed, p.LastAccessed.Time)
		}
	}
	for _, g := range grants {
		addGrant(a, g)
	}

	// External access findings have the Id Security Hub gives them, the
	// analyzer ARN and the resource ARN; other kinds are keyed by their own
	// id within the analyzer.
	idPart := d.Resource
	if kind != picket.AccessExternal {
		idPart = d.ID
	}
	identity := productARN + "\n" + analyzer + "/" + idPart
	if analyzer == "" {
		identity = productARN + "\n" + d.ID
	}
	sev := picket.SeverityLow
	switch {
	case a.Public:
		sev = picket.SeverityHigh
	case a.Error != "":
		sev = picket.SeverityInformational
	}
	f := picket.Finding{
		Key:     picket.FindingKey(identity),
		ID:      d.ID,
		Source:  picket.SourceAccessAnalyzer,
		Product: "IAM Access Analyzer",
		// No ProductARN: which Id Security Hub gives this finding is not
		// known for sure, so Picket does not update it there (Suppress
		// offers its own rule instead). The Key still uses the identity.
		Type:          accessType(kind, d.FindingType, a.Public),
		Title:         accessTitle(a, d.Resource),
		Severity:      sev,
		SeverityScore: severityLabels[strings.ToUpper(sev.String())].score,
		Account:       account,
		Region:        region,
		Resources:     []picket.Resource{accessResource(d.ResourceType, d.Resource, region)},
		CreatedAt:     d.CreatedAt.Time,
		UpdatedAt:     d.UpdatedAt.Time,
		LastSeen:      d.AnalyzedAt.Time,
		Count:         1,
		RecordState:   picket.RecordActive,
		ConsoleURL:    accessConsoleURL(partition, region, d.ID),
		EventID:       ev.id,
		Raw:           append(json.RawMessage(nil), bytes.TrimSpace(detail)...),
		Access:        a,
	}
	switch {
	case d.IsDeleted:
		f.RecordState = picket.RecordArchived
	case d.Status == "ARCHIVED":
		f.WorkflowStatus = picket.WorkflowSuppressed
	case d.Status == "RESOLVED":
		f.WorkflowStatus = picket.WorkflowResolved
	}
	return []picket.Finding{f}, nil
}

// addGrant adds what g grants to a.
func addGrant(a *picket.AccessFinding, g *accessGrant) {
	a.Actions = append(a.Actions, g.Action...)
	if g.IsPublic != nil && *g.IsPublic {
		a.Public = true
	}
	keys := make([]string, 0, len(g.Principal))
	for k := range g.Principal {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a.Principals = append(a.Principals, k+" "+g.Principal[k])
	}
	if c := bytes.TrimSpace(g.Condition); len(c) > 0 && string(c) != "{}" && string(c) != "null" && a.Condition == "" {
		var b bytes.Buffer
		if json.Compact(&b, c) == nil {
			a.Condition = b.String()
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// accessType names the finding as Security Hub's type taxonomy would.
func accessType(kind, findingType string, public bool) string {
	switch {
	case kind == picket.AccessUnused && findingType != "":
		return findingType
	case kind == picket.AccessUnused:
		return "UnusedAccess"
	case kind == picket.AccessInternal:
		return "InternalAccess"
	case public:
		return "ExternalAccess/Public"
	}
	return "ExternalAccess"
}

// accessTitle says what the finding is about in one line.
func accessTitle(a *picket.AccessFinding, resource string) string {
	switch {
	case a.Error != "":
		return resource + " could not be analyzed (" + a.Error + ")"
	case a.Kind == picket.AccessUnused:
		switch a.FindingType {
		case "UnusedIAMRole":
			return "Unused IAM role " + resource
		case "UnusedIAMUserAccessKey":
			return "Unused access key of " + resource
		case "UnusedIAMUserPassword":
			return "Unused console password of " + resource
		case "UnusedPermission":
			return "Unused permissions of " + resource
		}
		return "Unused access of " + resource
	case a.Kind == picket.AccessInternal:
		return resource + " allows access within the zone of trust"
	case a.Public:
		return resource + " allows public access"
	}
	return resource + " allows access from outside the zone of trust"
}

// accessResource maps the finding's resource to a Picket resource. IAM
// users and roles keep their kinds, so that the alert names them, but
// notifiers offers no containment for access findings.
func accessResource(typ, arn, region string) picket.Resource {
	r := picket.Resource{Kind: picket.ResourceOther, Type: typ, ID: arn}
	if strings.HasPrefix(arn, "arn:") {
		r.ARN = arn
	}
	switch typ {
	case "AWS::S3::Bucket":
		r.Kind, r.ID = picket.ResourceS3Bucket, afterLast(arn, ':')
	case "AWS::IAM::Role":
		r.Kind, r.ID = picket.ResourceIAMRole, afterLast(arn, '/')
	case "AWS::IAM::User":
		r.Kind, r.ID = picket.ResourceIAMUser, afterLast(arn, '/')
	case "AWS::Lambda::Function":
		r.Kind, r.ID, r.Region = picket.ResourceLambda, lambdaName(arn), region
	}
	return r
}

// accessConsoleURL links to one finding in the IAM Access Analyzer console,
// as Security Hub's SourceUrl for these findings does.
func accessConsoleURL(partition, region, id string) string {
	base := consoleBase(partition, region)
	if base == "" || id == "" {
		return ""
	}
	return base + "/access-analyzer/home?region=" + region + "#/findings/details/" + escape(id)
}

// asffAccess builds the Access of an IAM Access Analyzer finding imported
// into Security Hub from its resource's Details.Other, which holds the
// grant as flat strings ("External Principal", "Action Granted", ...).
func asffAccess(a *asffFinding, n int) (*picket.AccessFinding, error) {
	out := &picket.AccessFinding{Kind: picket.AccessExternal}
	t := string(a.firstType)
	switch {
	case strings.Contains(t, "Unused"):
		out.Kind = picket.AccessUnused
	case strings.Contains(t, "Internal"):
		out.Kind = picket.AccessInternal
	}
	if i := strings.Index(toString(a.id), "/arn:"); i > 0 && strings.HasPrefix(toString(a.id), "arn:") {
		out.Analyzer = toString(a.id)[:i]
	}
	for i := range a.resources {
		r := &a.resources[i]
		if len(r.other) == 0 {
			continue
		}
		var o map[string]string
		if err := json.Unmarshal(r.other, &o); err != nil {
			return nil, invalidf("Security Hub finding %d: Details.Other: %s", n, jsonError(err))
		}
		if p := o["External Principal"]; p != "" {
			typ := o["External Principal Type"]
			if typ != "" {
				p = typ + " " + p
			}
			out.Principals = append(out.Principals, p)
			if o["External Principal"] == "*" {
				out.Public = true
			}
		}
		if act := o["Action Granted"]; act != "" {
			out.Actions = append(out.Actions, strings.Split(act, ",")...)
		}
		if c := o["Condition"]; c != "" && c != "none" {
			out.Condition = c
		}
	}
	return out, nil
}
