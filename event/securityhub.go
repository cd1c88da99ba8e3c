package event

import (
	"strconv"
	"strings"
	"time"

	"github.com/picketsec/picket"
)

// guardDutyProduct ends the ProductArn of GuardDuty findings imported into
// Security Hub: arn:aws:securityhub:us-east-1::product/aws/guardduty.
const guardDutyProduct = "product/aws/guardduty"

// asffFinding holds the fields of an ASFF finding that Picket uses, as
// read. Byte slices alias the document unless they had escapes.
type asffFinding struct {
	raw []byte

	id, productARN, productName, region, account []byte
	generatorID                                  []byte
	firstType, title, description                []byte
	createdAt, updatedAt, firstSeen, lastSeen    time.Time

	label         []byte
	normalized    float64
	hasNormalized bool

	remediationURL                    []byte
	pfProductName, pfControlID        []byte
	pfRuleID, pfCount, pfSample       []byte
	complianceStatus, securityControl []byte
	workflowStatus, workflowState     []byte
	recordState                       []byte
	sample                            bool

	resources []asffResource
	// vulns is the Vulnerabilities array, decoded only when present.
	vulns []byte
}

type asffResource struct {
	typ, id, region                        []byte
	userName, principalName, principalType []byte
	principalID                            []byte
	issuerType, issuerName, issuerARN      []byte
	roleName, groupID                      []byte
	repository, functionName               []byte
	imageTags                              [][]byte
	// dataClass is DataClassification (Macie) and other Details.Other
	// (IAM Access Analyzer), decoded only for those products.
	dataClass, other []byte
}

// parseSecurityHubDetail reads the detail of a Security Hub findings event.
func parseSecurityHubDetail(s *scanner) (list []asffFinding, action []byte, err error) {
	seen := false
	for more := s.object("detail"); more; more = s.more() {
		switch string(s.key()) {
		case "findings":
			seen = true
			list, err = parseASFFList(s, "detail.findings")
			if err != nil {
				return nil, nil, err
			}
		case "actionName":
			action = s.strField("detail.actionName")
		default:
			s.skip()
		}
	}
	if !seen && !s.failed() {
		return nil, nil, invalidf("Security Hub event has no detail.findings")
	}
	return list, action, nil
}

// parseASFFList reads an array of ASFF findings. Syntax and type errors are
// left in s; a finding without Id or ProductArn is an error returned here.
func parseASFFList(s *scanner, field string) ([]asffFinding, error) {
	var list []asffFinding
	i := 0
	for more := s.array(field); more; more = s.next() {
		i++
		s.ctx, s.idx = "Security Hub finding", i
		list = append(list, asffFinding{})
		a := &list[len(list)-1]
		s.ws()
		start := s.pos
		parseASFF(s, a)
		if s.failed() {
			return nil, nil
		}
		a.raw = s.data[start:s.pos]
		if len(a.id) == 0 {
			return nil, invalidf("Security Hub finding %d has no Id", i)
		}
		s.ctx, s.idx = "", 0
	}
	return list, nil
}

// parseASFF reads one ASFF finding object at s into a.
func parseASFF(s *scanner, a *asffFinding) {
	for more := s.object("finding"); more; more = s.more() {
		switch string(s.key()) {
		case "Id":
			a.id = s.strField("Id")
		case "ProductArn":
			a.productARN = s.strField("ProductArn")
		case "ProductName":
			a.productName = s.strField("ProductName")
		case "GeneratorId":
			a.generatorID = s.strField("GeneratorId")
		case "Region":
			a.region = s.strField("Region")
		case "AwsAccountId":
			a.account = s.strField("AwsAccountId")
		case "Types":
			for more := s.array("Types"); more; more = s.next() {
				t := s.strField("Types[]")
				if a.firstType == nil {
					a.firstType = t
				}
			}
		case "Title":
			a.title = s.strField("Title")
		case "Description":
			a.description = s.strField("Description")
		case "CreatedAt":
			a.createdAt = s.time("CreatedAt")
		case "UpdatedAt":
			a.updatedAt = s.time("UpdatedAt")
		case "FirstObservedAt":
			a.firstSeen = s.time("FirstObservedAt")
		case "LastObservedAt":
			a.lastSeen = s.time("LastObservedAt")
		case "Severity":
			for more := s.object("Severity"); more; more = s.more() {
				switch string(s.key()) {
				case "Label":
					a.label = s.strField("Severity.Label")
				case "Normalized":
					if s.peek() != 'n' {
						a.hasNormalized = true
					}
					a.normalized = s.float("Severity.Normalized")
				default:
					s.skip()
				}
			}
		case "Remediation":
			for more := s.object("Remediation"); more; more = s.more() {
				if string(s.key()) != "Recommendation" {
					s.skip()
					continue
				}
				for more := s.object("Remediation.Recommendation"); more; more = s.more() {
					if string(s.key()) == "Url" {
						a.remediationURL = s.strField("Remediation.Recommendation.Url")
					} else {
						s.skip()
					}
				}
			}
		case "ProductFields":
			parseProductFields(s, a)
		case "Resources":
			for more := s.array("Resources"); more; more = s.next() {
				a.resources = append(a.resources, asffResource{})
				parseASFFResource(s, &a.resources[len(a.resources)-1])
			}
		case "Compliance":
			for more := s.object("Compliance"); more; more = s.more() {
				switch string(s.key()) {
				case "Status":
					a.complianceStatus = s.strField("Compliance.Status")
				case "SecurityControlId":
					a.securityControl = s.strField("Compliance.SecurityControlId")
				default:
					s.skip()
				}
			}
		case "Workflow":
			for more := s.object("Workflow"); more; more = s.more() {
				if string(s.key()) == "Status" {
					a.workflowStatus = s.strField("Workflow.Status")
				} else {
					s.skip()
				}
			}
		case "WorkflowState":
			a.workflowState = s.strField("WorkflowState")
		case "RecordState":
			a.recordState = s.strField("RecordState")
		case "Sample":
			a.sample = s.bool("Sample")
		case "Vulnerabilities":
			p := rawSpan(s)
			a.vulns = s.data[p.start:p.end]
		default:
			s.skip()
		}
	}
}

// parseProductFields picks the few ProductFields Picket uses. GuardDuty
// flattened its fields under "aws/guardduty/service/..." from 2020; older
// imports used bare names ("count").
func parseProductFields(s *scanner, a *asffFinding) {
	for more := s.object("ProductFields"); more; more = s.more() {
		switch string(s.key()) {
		case "aws/securityhub/ProductName":
			a.pfProductName = s.strField("ProductFields aws/securityhub/ProductName")
		case "ControlId":
			a.pfControlID = s.strField("ProductFields ControlId")
		case "RuleId":
			a.pfRuleID = s.strField("ProductFields RuleId")
		case "aws/guardduty/service/count", "count":
			a.pfCount = s.strField("ProductFields count")
		case "aws/guardduty/service/additionalInfo/sample":
			a.pfSample = s.strField("ProductFields sample")
		default:
			s.skip()
		}
	}
}

func parseASFFResource(s *scanner, r *asffResource) {
	for more := s.object("Resources[]"); more; more = s.more() {
		switch string(s.key()) {
		case "Type":
			r.typ = s.strField("Resources[].Type")
		case "Id":
			r.id = s.strField("Resources[].Id")
		case "Region":
			r.region = s.strField("Resources[].Region")
		case "DataClassification":
			p := rawSpan(s)
			r.dataClass = s.data[p.start:p.end]
		case "Details":
			for more := s.object("Resources[].Details"); more; more = s.more() {
				switch string(s.key()) {
				case "AwsIamAccessKey":
					for more := s.object("Details.AwsIamAccessKey"); more; more = s.more() {
						switch string(s.key()) {
						case "PrincipalName":
							r.principalName = s.strField("Details.AwsIamAccessKey.PrincipalName")
						case "UserName":
							r.userName = s.strField("Details.AwsIamAccessKey.UserName")
						case "PrincipalType":
							r.principalType = s.strField("Details.AwsIamAccessKey.PrincipalType")
						case "PrincipalId":
							r.principalID = s.strField("Details.AwsIamAccessKey.PrincipalId")
						case "SessionContext":
							parseSessionContext(s, r)
						default:
							s.skip()
						}
					}
				case "AwsIamUser":
					for more := s.object("Details.AwsIamUser"); more; more = s.more() {
						if string(s.key()) == "UserName" {
							r.userName = s.strField("Details.AwsIamUser.UserName")
						} else {
							s.skip()
						}
					}
				case "AwsIamRole":
					for more := s.object("Details.AwsIamRole"); more; more = s.more() {
						if string(s.key()) == "RoleName" {
							r.roleName = s.strField("Details.AwsIamRole.RoleName")
						} else {
							s.skip()
						}
					}
				case "AwsEcrContainerImage":
					for more := s.object("Details.AwsEcrContainerImage"); more; more = s.more() {
						switch string(s.key()) {
						case "RepositoryName":
							r.repository = s.strField("Details.AwsEcrContainerImage.RepositoryName")
						case "ImageTags":
							for more := s.array("Details.AwsEcrContainerImage.ImageTags"); more; more = s.next() {
								r.imageTags = append(r.imageTags, s.strField("Details.AwsEcrContainerImage.ImageTags[]"))
							}
						default:
							s.skip()
						}
					}
				case "AwsLambdaFunction":
					for more := s.object("Details.AwsLambdaFunction"); more; more = s.more() {
						if string(s.key()) == "FunctionName" {
							r.functionName = s.strField("Details.AwsLambdaFunction.FunctionName")
						} else {
							s.skip()
						}
					}
				case "Other":
					p := rawSpan(s)
					r.other = s.data[p.start:p.end]
				case "AwsEc2SecurityGroup":
					for more := s.object("Details.AwsEc2SecurityGroup"); more; more = s.more() {
						if string(s.key()) == "GroupId" {
							r.groupID = s.strField("Details.AwsEc2SecurityGroup.GroupId")
						} else {
							s.skip()
						}
					}
				default:
					s.skip()
				}
			}
		default:
			s.skip()
		}
	}
}

// parseSessionContext reads the issuer of a session from
// Details.AwsIamAccessKey.SessionContext.
func parseSessionContext(s *scanner, r *asffResource) {
	for more := s.object("AwsIamAccessKey.SessionContext"); more; more = s.more() {
		if string(s.key()) != "SessionIssuer" {
			s.skip()
			continue
		}
		for more := s.object("SessionContext.SessionIssuer"); more; more = s.more() {
			switch string(s.key()) {
			case "Type":
				r.issuerType = s.strField("SessionIssuer.Type")
			case "UserName":
				r.issuerName = s.strField("SessionIssuer.UserName")
			case "Arn":
				r.issuerARN = s.strField("SessionIssuer.Arn")
			default:
				s.skip()
			}
		}
	}
}

// finishSecurityHub turns parsed ASFF findings into Findings.
func finishSecurityHub(list []asffFinding, ev *eventInfo, owned bool) ([]picket.Finding, error) {
	out := make([]picket.Finding, len(list))
	for i := range list {
		if err := finishASFF(&list[i], i+1, ev, owned, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func finishASFF(a *asffFinding, n int, ev *eventInfo, owned bool, f *picket.Finding) error {
	if len(a.id) == 0 {
		return invalidf("Security Hub finding %d has no Id", n)
	}
	if len(a.productARN) == 0 {
		return invalidf("Security Hub finding %d has no ProductArn", n)
	}
	id := toString(a.id)
	productARN := toString(a.productARN)
	guardDuty := strings.HasSuffix(productARN, guardDutyProduct)

	sev, score, err := asffSeverity(a, n)
	if err != nil {
		return err
	}
	account := orString(a.account, ev.account)
	region := asffRegion(a, productARN, ev.region)
	partition := arnField(productARN, 1)
	if partition == "" {
		partition = "aws"
	}

	identity, gdARN := id, id
	if !guardDuty {
		identity, gdARN = productARN+"\n"+id, ""
	}
	*f = picket.Finding{
		Key:              picket.FindingKey(identity),
		ID:               id,
		Source:           picket.SourceSecurityHub,
		Product:          asffProduct(a, productARN),
		ProductARN:       productARN,
		ARN:              gdARN,
		GeneratorID:      toString(a.generatorID),
		Type:             asffType(a.firstType, guardDuty),
		Title:            toString(a.title),
		Description:      toString(a.description),
		Severity:         sev,
		SeverityScore:    score,
		Account:          account,
		Region:           region,
		Resources:        asffResources(a.resources, partition, account),
		CreatedAt:        a.createdAt,
		UpdatedAt:        a.updatedAt,
		FirstSeen:        a.firstSeen,
		LastSeen:         a.lastSeen,
		Count:            1,
		RecordState:      toString(a.recordState),
		WorkflowStatus:   orString(a.workflowStatus, toString(a.workflowState)),
		ComplianceStatus: toString(a.complianceStatus),
		ControlID:        firstOf(a.pfControlID, a.securityControl, a.pfRuleID),
		RemediationURL:   webURL(a.remediationURL),
		ConsoleURL:       securityHubConsoleURL(partition, region, id),
		Sample:           a.sample || string(a.pfSample) == "true",
		CustomAction:     ev.customAction,
		EventID:          ev.id,
		Raw:              rawCopy(a.raw, owned),
	}
	if guardDuty {
		if c, ok := smallInt(a.pfCount); ok && c > 1 {
			f.Count = c
		}
	}
	if strings.HasSuffix(productARN, ":product/"+productAccess) {
		if f.Access, err = asffAccess(a, n); err != nil {
			return err
		}
	}
	if strings.HasSuffix(productARN, ":product/"+productMacie) {
		if f.Data, err = asffMacie(a, n); err != nil {
			return err
		}
	}
	if len(a.vulns) > 0 && a.vulns[0] == '[' {
		if f.Vulnerabilities, err = asffVulnerabilities(a.vulns, n); err != nil {
			return err
		}
	}
	return nil
}

// severityLabels maps ASFF labels to severities and to the normalized score
// Security Hub assigns when a finding gives only the label.
var severityLabels = map[string]struct {
	sev   picket.Severity
	score float64
}{
	"INFORMATIONAL": {picket.SeverityInformational, 0},
	"LOW":           {picket.SeverityLow, 1},
	"MEDIUM":        {picket.SeverityMedium, 40},
	"HIGH":          {picket.SeverityHigh, 70},
	"CRITICAL":      {picket.SeverityCritical, 90},
}

// asffSeverity reads Severity.Label when present, else Severity.Normalized.
func asffSeverity(a *asffFinding, n int) (picket.Severity, float64, error) {
	if a.hasNormalized && (a.normalized < 0 || a.normalized > 100) {
		return 0, 0, invalidf("Security Hub finding %d: Severity.Normalized %v is outside 0-100", n, a.normalized)
	}
	if len(a.label) > 0 {
		l, ok := severityLabels[string(a.label)]
		if !ok {
			sev, err := picket.ParseSeverity(toString(a.label))
			if err != nil {
				return 0, 0, invalidf("Security Hub finding %d: Severity.Label %s is not a severity", n, quoteShort(a.label))
			}
			l.sev, l.score = sev, severityLabels[strings.ToUpper(sev.String())].score
		}
		if a.hasNormalized {
			return l.sev, a.normalized, nil
		}
		return l.sev, l.score, nil
	}
	return picket.SeverityFromNormalized(int(a.normalized)), a.normalized, nil
}

// asffRegion returns the finding's Region, else the region of its
// Security Hub ProductArn, else that of its first resource, else the
// event's.
func asffRegion(a *asffFinding, productARN, fallback string) string {
	if len(a.region) > 0 {
		return toString(a.region)
	}
	if arnField(productARN, 2) == "securityhub" {
		if r := arnField(productARN, 3); validRegion(r) {
			return r
		}
	}
	if len(a.resources) > 0 && len(a.resources[0].region) > 0 {
		return toString(a.resources[0].region)
	}
	return fallback
}

// asffProduct names the product that reported the finding.
func asffProduct(a *asffFinding, productARN string) string {
	if len(a.productName) > 0 {
		return toString(a.productName)
	}
	if len(a.pfProductName) > 0 {
		return toString(a.pfProductName)
	}
	// arn:aws:securityhub:us-east-1::product/company/product
	_, p, ok := strings.Cut(productARN, ":product/")
	if !ok {
		return ""
	}
	switch p {
	case "aws/guardduty":
		return "GuardDuty"
	case "aws/securityhub":
		return "Security Hub"
	case "aws/inspector":
		return "Inspector"
	case "aws/macie":
		return "Macie"
	case "aws/access-analyzer":
		return "IAM Access Analyzer"
	case "aws/config":
		return "Config"
	case "aws/health":
		return "Health"
	}
	return afterLast(p, '/')
}

// asffType returns the finding type. For GuardDuty it restores the
// GuardDuty type from the ASFF one, so both paths agree:
// "TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce" becomes
// "UnauthorizedAccess:EC2/SSHBruteForce" (Security Hub replaces the "/" of
// the GuardDuty type, since "/" separates ASFF type levels).
func asffType(first []byte, guardDuty bool) string {
	t := toString(first)
	if !guardDuty {
		return t
	}
	last := afterLast(t, '/')
	colon := strings.IndexByte(last, ':')
	if colon < 0 {
		return t
	}
	dash := strings.IndexByte(last[colon:], '-')
	if dash < 0 {
		return last
	}
	dash += colon
	return last[:dash] + "/" + last[dash+1:]
}

// asffResources maps ASFF resources to Picket resources.
func asffResources(list []asffResource, partition, account string) []picket.Resource {
	if len(list) == 0 {
		return nil
	}
	rs := make([]picket.Resource, 0, len(list))
	for i := range list {
		r := &list[i]
		typ, id, region := toString(r.typ), toString(r.id), toString(r.region)
		arn := ""
		if strings.HasPrefix(id, "arn:") {
			arn = id
		}
		switch typ {
		case "AwsIamUser":
			rs = append(rs, picket.Resource{Kind: picket.ResourceIAMUser, Type: typ, ID: orString(r.userName, afterLast(id, '/')), ARN: arn,
				Mismatch: nameMismatch("Details.AwsIamUser.UserName", toString(r.userName), arn, ":user/")})
		case "AwsIamAccessKey":
			// Id is "AWS::IAM::AccessKey:AKIA..." (or ":null" when unknown).
			key := afterLast(id, ':')
			if key == "null" {
				key = ""
			}
			user := orString(r.principalName, toString(r.userName))
			if strings.HasPrefix(key, "ASIA") && len(r.principalType) == 0 {
				// A temporary key without a principal type: whose session it
				// is cannot be told, so it is not taken for an IAM user.
				rs = append(rs, picket.Resource{Kind: picket.ResourceAccessKey, Type: typ, ID: key})
				continue
			}
			rs = append(rs, principalResources(partition, account, typ, key, toString(r.principalType), user, toString(r.principalID),
				principalIssuer{typ: toString(r.issuerType), name: toString(r.issuerName), arn: toString(r.issuerARN)})...)
		case "AwsIamRole":
			rs = append(rs, picket.Resource{Kind: picket.ResourceIAMRole, Type: typ, ID: orString(r.roleName, afterLast(id, '/')), ARN: arn,
				Mismatch: nameMismatch("Details.AwsIamRole.RoleName", toString(r.roleName), arn, ":role/")})
		case "AwsEc2Instance":
			rs = append(rs, picket.Resource{Kind: picket.ResourceEC2Instance, Type: typ, ID: afterLast(id, '/'), ARN: arn, Region: region})
		case "AwsS3Bucket":
			rs = append(rs, picket.Resource{Kind: picket.ResourceS3Bucket, Type: typ, ID: afterLast(id, ':'), ARN: arn})
		case "AwsEc2SecurityGroup":
			rs = append(rs, picket.Resource{Kind: picket.ResourceSecurityGrp, Type: typ, ID: orString(r.groupID, afterLast(id, '/')), ARN: arn, Region: region})
		case "AwsEcrContainerImage":
			repo, digest := ecrImage(id)
			rs = append(rs, picket.Resource{Kind: picket.ResourceECRImage, Type: typ, ID: digest, ARN: arn, Region: region,
				Repository: orString(r.repository, repo), ImageTags: strings8(r.imageTags)})
		case "AwsLambdaFunction":
			rs = append(rs, picket.Resource{Kind: picket.ResourceLambda, Type: typ, ID: orString(r.functionName, lambdaName(id)), ARN: arn, Region: region})
		case "AwsAccount":
			// Id is "AWS::::Account:123456789012".
			rs = append(rs, picket.Resource{Kind: picket.ResourceAccount, Type: typ, ID: afterLast(id, ':')})
		default:
			rs = append(rs, picket.Resource{Kind: picket.ResourceOther, Type: typ, ID: id, ARN: arn, Region: region})
		}
	}
	return rs
}

// ecrImage splits an ECR image ARN,
// arn:aws:ecr:REGION:ACCOUNT:repository/NAME/sha256:DIGEST, into the
// repository name and the digest. An Id that is not such an ARN is the
// digest.
func ecrImage(id string) (repo, digest string) {
	_, rest, ok := strings.Cut(id, ":repository/")
	if !ok {
		return "", id
	}
	i := strings.LastIndex(rest, "/sha256:")
	if i < 0 {
		return rest, ""
	}
	return rest[:i], rest[i+1:]
}

// lambdaName returns the function name of a Lambda function ARN,
// arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER], or id itself.
func lambdaName(id string) string {
	_, rest, ok := strings.Cut(id, ":function:")
	if !ok {
		return id
	}
	name, _, _ := strings.Cut(rest, ":")
	return name
}

// strings8 converts byte slices to strings (nil for none).
func strings8(bs [][]byte) []string {
	if len(bs) == 0 {
		return nil
	}
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = toString(b)
	}
	return out
}

// nameMismatch says how an IAM resource's name in its Details disagrees
// with the ARN in Resources[].Id, or "" when they agree (or either is
// missing). IAM names are unique regardless of case, so case alone is no
// disagreement. An Id that is an ARN of another kind of resource disagrees,
// with or without a Details name.
func nameMismatch(field, name, arn, kind string) string {
	if arn == "" {
		return ""
	}
	if !strings.Contains(arn, kind) {
		// Without a Details name the resource's name is taken from its
		// Id: an Id of another kind would aim the action at a namesake.
		if name == "" {
			return "the resource Id " + strconv.Quote(arn) + " is not an IAM " + strings.Trim(kind, ":/") + " ARN"
		}
		return field + " " + strconv.Quote(name) + " belongs to a resource whose Id " + strconv.Quote(arn) + " is not an IAM " + strings.Trim(kind, ":/") + " ARN"
	}
	if name == "" {
		return ""
	}
	if !strings.EqualFold(afterLast(arn, '/'), name) {
		return field + " " + strconv.Quote(name) + " does not match the resource Id " + strconv.Quote(arn)
	}
	return ""
}

// afterLast returns what follows the last sep in s, or s.
func afterLast(s string, sep byte) string {
	return s[strings.LastIndexByte(s, sep)+1:]
}

// arnField returns field i (0 "arn", 1 partition, 2 service, 3 region,
// 4 account) of an ARN, or "".
func arnField(arn string, i int) string {
	if !strings.HasPrefix(arn, "arn:") {
		return ""
	}
	for ; i > 0; i-- {
		c := strings.IndexByte(arn, ':')
		if c < 0 {
			return ""
		}
		arn = arn[c+1:]
	}
	if c := strings.IndexByte(arn, ':'); c >= 0 {
		return arn[:c]
	}
	return ""
}

func firstOf(bs ...[]byte) string {
	for _, b := range bs {
		if len(b) > 0 {
			return toString(b)
		}
	}
	return ""
}
