package event

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/picketsec/picket"
)

// Macie finding events.
const (
	detailMacie  = "Macie Finding"
	sourceMacie  = "aws.macie"
	productMacie = "aws/macie"
)

// macieResult is a sensitive data discovery result: Macie's
// classificationDetails.result and ASFF's DataClassification.Result. Both
// name the same fields, one in camelCase and one in PascalCase, which
// encoding/json matches alike.
type macieResult struct {
	SensitiveData []struct {
		Category   string `json:"category"`
		TotalCount int    `json:"totalCount"`
		Detections []struct {
			Type  string `json:"type"`
			Count int    `json:"count"`
		} `json:"detections"`
	} `json:"sensitiveData"`
	CustomDataIdentifiers struct {
		TotalCount int `json:"totalCount"`
		Detections []struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		} `json:"detections"`
	} `json:"customDataIdentifiers"`
}

// detections lists what r found into d.
func (r *macieResult) detections(d *picket.DataFinding) {
	for _, c := range r.SensitiveData {
		d.Total += c.TotalCount
		for _, x := range c.Detections {
			d.Detections = append(d.Detections, picket.DataDetection{Category: c.Category, Type: x.Type, Count: x.Count})
		}
	}
	d.Total += r.CustomDataIdentifiers.TotalCount
	for _, x := range r.CustomDataIdentifiers.Detections {
		d.Detections = append(d.Detections, picket.DataDetection{Category: "CUSTOM_IDENTIFIER", Type: x.Name, Count: x.Count})
	}
}

// macieFinding is the detail of a "Macie Finding" event, as Macie's
// GetFindings describes a finding.
type macieFinding struct {
	ID          string  `json:"id"`
	AccountID   string  `json:"accountId"`
	Partition   string  `json:"partition"`
	Region      string  `json:"region"`
	Type        string  `json:"type"`
	Title       string  `json:"title"`
	Description string  `json:"description"`
	Category    string  `json:"category"`
	Count       int     `json:"count"`
	Archived    bool    `json:"archived"`
	Sample      bool    `json:"sample"`
	CreatedAt   awsTime `json:"createdAt"`
	UpdatedAt   awsTime `json:"updatedAt"`
	Severity    struct {
		Description string `json:"description"`
		Score       int    `json:"score"`
	} `json:"severity"`
	ResourcesAffected struct {
		S3Bucket *struct {
			Name                           string `json:"name"`
			Arn                            string `json:"arn"`
			AllowsUnencryptedObjectUploads string `json:"allowsUnencryptedObjectUploads"`
			DefaultServerSideEncryption    struct {
				EncryptionType string `json:"encryptionType"`
			} `json:"defaultServerSideEncryption"`
			PublicAccess struct {
				EffectivePermission string `json:"effectivePermission"`
			} `json:"publicAccess"`
		} `json:"s3Bucket"`
		S3Object *struct {
			Key string `json:"key"`
		} `json:"s3Object"`
	} `json:"resourcesAffected"`
	ClassificationDetails *struct {
		Result macieResult `json:"result"`
	} `json:"classificationDetails"`
}

// decodeMacie decodes the detail of a "Macie Finding" event.
func decodeMacie(detail []byte, ev *eventInfo) ([]picket.Finding, error) {
	var m macieFinding
	if err := json.Unmarshal(detail, &m); err != nil {
		return nil, invalidf("Macie finding: %s", jsonError(err))
	}
	if m.ID == "" {
		return nil, invalidf("Macie finding has no id")
	}
	sev, err := macieSeverity(m.Severity.Description, m.Severity.Score)
	if err != nil {
		return nil, err
	}
	partition := m.Partition
	if partition == "" {
		partition = "aws"
	}
	region := validOr(m.Region, ev.region)
	productARN := "arn:" + partition + ":securityhub:" + region + "::product/" + productMacie // for the Key only
	account := m.AccountID
	if account == "" {
		account = ev.account
	}
	f := picket.Finding{
		Key:     picket.FindingKey(productARN + "\n" + m.ID),
		ID:      m.ID,
		Source:  picket.SourceMacie,
		Product: "Macie",
		// No ProductARN: which Id Security Hub gives this finding is not
		// known for sure, so Picket does not update it there (Suppress
		// offers its own rule instead). The Key still uses the identity.
		Type:          m.Type,
		Title:         m.Title,
		Description:   m.Description,
		Severity:      sev,
		SeverityScore: severityLabels[strings.ToUpper(sev.String())].score,
		Account:       account,
		Region:        region,
		CreatedAt:     m.CreatedAt.Time,
		UpdatedAt:     m.UpdatedAt.Time,
		Count:         max(m.Count, 1),
		RecordState:   picket.RecordActive,
		Sample:        m.Sample,
		ConsoleURL:    macieConsoleURL(partition, region, m.ID),
		EventID:       ev.id,
		Raw:           append(json.RawMessage(nil), bytes.TrimSpace(detail)...),
		Data:          &picket.DataFinding{Category: m.Category},
	}
	if m.Archived {
		f.RecordState = picket.RecordArchived
	}
	if b := m.ResourcesAffected.S3Bucket; b != nil {
		f.Data.Bucket = b.Name
		f.Data.Public = b.PublicAccess.EffectivePermission
		f.Data.Encryption = b.DefaultServerSideEncryption.EncryptionType
		f.Data.UnencryptedUploads = b.AllowsUnencryptedObjectUploads
		arn := b.Arn
		if arn == "" && b.Name != "" {
			arn = "arn:" + partition + ":s3:::" + b.Name
		}
		f.Resources = append(f.Resources, picket.Resource{Kind: picket.ResourceS3Bucket, Type: "AwsS3Bucket", ID: b.Name, ARN: arn})
	}
	if o := m.ResourcesAffected.S3Object; o != nil {
		f.Data.ObjectKey = o.Key
	}
	if c := m.ClassificationDetails; c != nil {
		c.Result.detections(f.Data)
	}
	return []picket.Finding{f}, nil
}

// macieSeverity reads severity.description, else severity.score (1 Low,
// 2 Medium, 3 High).
func macieSeverity(description string, score int) (picket.Severity, error) {
	if description == "" {
		switch score {
		case 1:
			return picket.SeverityLow, nil
		case 2:
			return picket.SeverityMedium, nil
		case 3:
			return picket.SeverityHigh, nil
		}
		return 0, invalidf("Macie finding has no severity (score %d)", score)
	}
	sev, err := picket.ParseSeverity(description)
	if err != nil {
		return 0, invalidf("Macie finding: severity %s is not a severity", quoteShort([]byte(description)))
	}
	return sev, nil
}

// asffDataClassification reads Resources[].DataClassification of an ASFF
// Macie finding into the finding's Data.
func asffDataClassification(raw []byte, n int, d *picket.DataFinding) error {
	var c struct {
		Result macieResult `json:"Result"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return invalidf("Security Hub finding %d: DataClassification: %s", n, jsonError(err))
	}
	c.Result.detections(d)
	return nil
}

// macieConsoleURL links to the findings page of the Macie console in the
// finding's region (Picket knows no documented link to one finding).
func macieConsoleURL(partition, region, id string) string {
	base := consoleBase(partition, region)
	if base == "" || id == "" {
		return ""
	}
	return base + "/macie/home?region=" + region + "#findings"
}

// asffMacie builds the Data of a Macie finding imported into Security Hub:
// the bucket and object from its resources, the category from its type,
// and what was found from each resource's DataClassification.
func asffMacie(a *asffFinding, n int) (*picket.DataFinding, error) {
	d := &picket.DataFinding{}
	switch t := string(a.firstType); {
	case strings.Contains(t, "SensitiveData"):
		d.Category = "CLASSIFICATION"
	case strings.Contains(t, "Policy:"):
		d.Category = "POLICY"
	}
	for i := range a.resources {
		r := &a.resources[i]
		id := toString(r.id)
		switch toString(r.typ) {
		case "AwsS3Bucket":
			d.Bucket = afterLast(id, ':')
		case "AwsS3Object":
			// arn:aws:s3:::bucket/key
			if _, path, ok := strings.Cut(id, ":::"); ok {
				bucket, key, _ := strings.Cut(path, "/")
				d.ObjectKey = key
				if d.Bucket == "" {
					d.Bucket = bucket
				}
			}
		}
		if len(r.dataClass) > 0 {
			if err := asffDataClassification(r.dataClass, n, d); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}
