package event

import (
	"strings"
	"time"

	"github.com/picketsec/picket"
)

// gdFinding holds the fields of a native GuardDuty finding that Picket
// uses, as read. Byte slices alias the document unless they had escapes.
type gdFinding struct {
	raw []byte

	id, arn, account, region, partition []byte
	typ, title, description             []byte
	severity                            float64

	createdAt, updatedAt time.Time
	firstSeen, lastSeen  time.Time
	count                int
	archived, sample     bool
	detectorID           []byte

	resourceType                    []byte
	accessKeyID, userName, userType []byte
	principalID                     []byte
	instanceID                      []byte
	buckets                         []gdBucket
	otherID, otherARN               []byte
}

type gdBucket struct{ name, arn []byte }

// gdOtherDetails maps the detail objects of other GuardDuty resource types
// to the fields that name the resource.
var gdOtherDetails = map[string][2]string{
	"eksClusterDetails":    {"name", "arn"},
	"lambdaDetails":        {"functionName", "functionArn"},
	"rdsDbInstanceDetails": {"dbInstanceIdentifier", "dbInstanceArn"},
	"ecsClusterDetails":    {"name", "arn"},
	"ebsVolumeDetails":     {"", ""},
}

// parseGuardDuty reads a GuardDuty finding object at s into g.
func parseGuardDuty(s *scanner, g *gdFinding) {
	for more := s.object("finding"); more; more = s.more() {
		switch string(s.key()) {
		case "id":
			g.id = s.strField("id")
		case "arn":
			g.arn = s.strField("arn")
		case "accountId":
			g.account = s.strField("accountId")
		case "region":
			g.region = s.strField("region")
		case "partition":
			g.partition = s.strField("partition")
		case "type":
			g.typ = s.strField("type")
		case "title":
			g.title = s.strField("title")
		case "description":
			g.description = s.strField("description")
		case "severity":
			g.severity = s.float("severity")
		case "createdAt":
			g.createdAt = s.time("createdAt")
		case "updatedAt":
			g.updatedAt = s.time("updatedAt")
		case "resource":
			parseGDResource(s, g)
		case "service":
			parseGDService(s, g)
		default:
			s.skip()
		}
	}
}

func parseGDResource(s *scanner, g *gdFinding) {
	for more := s.object("resource"); more; more = s.more() {
		switch k := s.key(); string(k) {
		case "resourceType":
			g.resourceType = s.strField("resource.resourceType")
		case "accessKeyDetails":
			for more := s.object("resource.accessKeyDetails"); more; more = s.more() {
				switch string(s.key()) {
				case "accessKeyId":
					g.accessKeyID = s.strField("resource.accessKeyDetails.accessKeyId")
				case "userName":
					g.userName = s.strField("resource.accessKeyDetails.userName")
				case "userType":
					g.userType = s.strField("resource.accessKeyDetails.userType")
				case "principalId":
					g.principalID = s.strField("resource.accessKeyDetails.principalId")
				default:
					s.skip()
				}
			}
		case "instanceDetails":
			for more := s.object("resource.instanceDetails"); more; more = s.more() {
				if string(s.key()) == "instanceId" {
					g.instanceID = s.strField("resource.instanceDetails.instanceId")
				} else {
					s.skip()
				}
			}
		case "s3BucketDetails":
			for more := s.array("resource.s3BucketDetails"); more; more = s.next() {
				var b gdBucket
				for more := s.object("resource.s3BucketDetails[]"); more; more = s.more() {
					switch string(s.key()) {
					case "name":
						b.name = s.strField("resource.s3BucketDetails[].name")
					case "arn":
						b.arn = s.strField("resource.s3BucketDetails[].arn")
					default:
						s.skip()
					}
				}
				if len(b.name) > 0 || len(b.arn) > 0 {
					g.buckets = append(g.buckets, b)
				}
			}
		default:
			names, ok := gdOtherDetails[string(k)]
			if !ok || names[0] == "" {
				s.skip()
				continue
			}
			for more := s.object("resource details"); more; more = s.more() {
				switch string(s.key()) {
				case names[0]:
					g.otherID = s.strField(names[0])
				case names[1]:
					g.otherARN = s.strField(names[1])
				default:
					s.skip()
				}
			}
		}
	}
}

func parseGDService(s *scanner, g *gdFinding) {
	for more := s.object("service"); more; more = s.more() {
		switch string(s.key()) {
		case "count":
			g.count = s.int("service.count")
		case "archived":
			g.archived = s.bool("service.archived")
		case "detectorId":
			g.detectorID = s.strField("service.detectorId")
		case "eventFirstSeen":
			g.firstSeen = s.time("service.eventFirstSeen")
		case "eventLastSeen":
			g.lastSeen = s.time("service.eventLastSeen")
		case "additionalInfo":
			for more := s.object("service.additionalInfo"); more; more = s.more() {
				if string(s.key()) == "sample" {
					g.sample = s.bool("service.additionalInfo.sample")
				} else {
					s.skip()
				}
			}
		default:
			s.skip()
		}
	}
}

// finishGuardDuty turns what parseGuardDuty read into a Finding, falling
// back on the event for account and region.
func finishGuardDuty(g *gdFinding, ev *eventInfo, owned bool) (picket.Finding, error) {
	if len(g.id) == 0 {
		return picket.Finding{}, invalidf("GuardDuty finding has no id")
	}
	id := toString(g.id)
	account := orString(g.account, ev.account)
	region := orString(g.region, ev.region)
	partition := orString(g.partition, "aws")
	arn := toString(g.arn)
	if arn == "" {
		if len(g.detectorID) == 0 || account == "" || region == "" {
			return picket.Finding{}, invalidf("GuardDuty finding %s has no arn, and no detectorId, account and region to build one", quoteShort(g.id))
		}
		arn = "arn:" + partition + ":guardduty:" + region + ":" + account + ":detector/" + toString(g.detectorID) + "/finding/" + id
	}
	f := picket.Finding{
		Key:           picket.FindingKey(arn),
		ID:            id,
		Source:        picket.SourceGuardDuty,
		Product:       "GuardDuty",
		ProductARN:    "arn:" + partition + ":securityhub:" + region + "::product/aws/guardduty",
		ARN:           arn,
		Type:          toString(g.typ),
		Title:         toString(g.title),
		Description:   toString(g.description),
		Severity:      picket.SeverityFromGuardDuty(g.severity),
		SeverityScore: g.severity,
		Account:       account,
		Region:        region,
		Resources:     gdResources(g, partition, account, region),
		CreatedAt:     g.createdAt,
		UpdatedAt:     g.updatedAt,
		FirstSeen:     g.firstSeen,
		LastSeen:      g.lastSeen,
		Count:         max(g.count, 1),
		RecordState:   picket.RecordActive,
		ConsoleURL:    guardDutyConsoleURL(partition, region, id),
		Sample:        g.sample,
		EventID:       ev.id,
		Raw:           rawCopy(g.raw, owned),
	}
	if g.archived {
		f.RecordState = picket.RecordArchived
	}
	return f, nil
}

func orString(b []byte, fallback string) string {
	if len(b) == 0 {
		return fallback
	}
	return toString(b)
}

// gdResources maps GuardDuty's resource to Picket resources.
func gdResources(g *gdFinding, partition, account, region string) []picket.Resource {
	typ := toString(g.resourceType)
	switch typ {
	case "":
		return nil
	case "AccessKey":
		return principalResources(partition, account, typ, toString(g.accessKeyID), toString(g.userType),
			toString(g.userName), toString(g.principalID), principalIssuer{})
	case "Instance":
		id := toString(g.instanceID)
		r := picket.Resource{Kind: picket.ResourceEC2Instance, Type: typ, ID: id, Region: region}
		if id != "" && account != "" && region != "" {
			r.ARN = "arn:" + partition + ":ec2:" + region + ":" + account + ":instance/" + id
		}
		return []picket.Resource{r}
	case "S3Bucket":
		rs := make([]picket.Resource, 0, len(g.buckets))
		for _, b := range g.buckets {
			name, arn := toString(b.name), toString(b.arn)
			if name == "" {
				name = afterLast(arn, ':')
			}
			if arn == "" {
				arn = "arn:" + partition + ":s3:::" + name
			}
			rs = append(rs, picket.Resource{Kind: picket.ResourceS3Bucket, Type: typ, ID: name, ARN: arn})
		}
		return rs
	}
	return []picket.Resource{{Kind: picket.ResourceOther, Type: typ, ID: toString(g.otherID), ARN: toString(g.otherARN), Region: region}}
}

// principalIssuer is what ASFF's SessionContext.SessionIssuer says about
// the role behind a session.
type principalIssuer struct {
	typ, name, arn string
}

// principalResources maps an access key and the principal using it to
// Picket resources: the key (owned by an IAM user only when the principal
// is one) and the principal by its type. name is the principal's name as
// the finding gives it: for an assumed role, the name of the role (the
// session's issuer), never the session name, which is the part of
// principalID after the colon.
//
// Without a principal type (Security Hub imports before 2020), only a
// long-term key (AKIA) or no key at all is taken to belong to an IAM user,
// and never when the name is that of the root user.
func principalResources(partition, account, keyType, key, typ, name, principalID string, issuer principalIssuer) []picket.Resource {
	var rs []picket.Resource
	k := picket.Resource{Kind: picket.ResourceAccessKey, Type: keyType, ID: key, PrincipalType: typ, PrincipalID: principalID}
	user := func() {
		k.UserName = name
		rs = append(rs, picket.Resource{Kind: picket.ResourceIAMUser, Type: picket.PrincipalIAMUser, ID: name,
			ARN: iamARN(partition, account, "user/"+name), PrincipalType: typ, PrincipalID: principalID})
	}
	switch typ {
	case picket.PrincipalIAMUser:
		if name != "" {
			user()
		}
	case picket.PrincipalRoot:
		rs = append(rs, picket.Resource{Kind: picket.ResourceRoot, Type: typ, ID: account, ARN: iamARN(partition, account, "root"), PrincipalType: typ})
	case picket.PrincipalAssumedRole:
		role, roleARN := name, ""
		if issuer.arn != "" && (issuer.typ == "" || issuer.typ == "Role") && strings.Contains(issuer.arn, ":role/") {
			roleARN = issuer.arn
			role = afterLast(issuer.arn, '/')
		} else if issuer.name != "" {
			role = issuer.name
		}
		_, session, _ := strings.Cut(principalID, ":")
		if role != "" {
			rs = append(rs, picket.Resource{Kind: picket.ResourceRoleSession, Type: typ, ID: role, ARN: roleARN,
				PrincipalType: typ, PrincipalID: principalID, Session: session})
		}
	case picket.PrincipalFederatedUser:
		if name != "" {
			rs = append(rs, picket.Resource{Kind: picket.ResourceFederatedUser, Type: typ, ID: name, PrincipalType: typ, PrincipalID: principalID})
		}
	case "":
		if name != "" && !strings.HasPrefix(key, "ASIA") && !strings.EqualFold(name, "root") {
			user()
		}
	}
	if key != "" {
		rs = append([]picket.Resource{k}, rs...)
	}
	return rs
}

func iamARN(partition, account, resource string) string {
	if account == "" {
		return ""
	}
	return "arn:" + partition + ":iam::" + account + ":" + resource
}
