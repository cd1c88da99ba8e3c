package event

import (
	"encoding/json"

	"github.com/picketsec/picket"
)

// tagList is a list of tags as GuardDuty ({key, value}) and OCSF ({name,
// value}) write them.
type tagList []struct {
	Key   string `json:"key"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (l tagList) add(out []map[string]string) []map[string]string {
	if len(l) == 0 {
		return out
	}
	m := make(map[string]string, len(l))
	for _, t := range l {
		k := t.Key
		if k == "" {
			k = t.Name
		}
		if k != "" {
			m[k] = t.Value
		}
	}
	return append(out, m)
}

// ResourceTags returns the tags of each resource of f that carries any,
// as the finding reports them (f.Raw): an ASFF finding's Resources[].Tags,
// a GuardDuty finding's instance, bucket or EKS cluster tags, an OCSF
// finding's resources[].tags. It decodes Raw only when asked: automatic
// response rules that match on tags call it for findings that matched
// everything else.
func ResourceTags(f *picket.Finding) []map[string]string {
	if len(f.Raw) == 0 {
		return nil
	}
	var raw struct {
		Resources []struct {
			Tags map[string]string `json:"Tags"`
		} `json:"Resources"`
		OCSF []struct {
			Tags tagList `json:"tags"`
		} `json:"resources"`
		Resource struct {
			InstanceDetails struct {
				Tags tagList `json:"tags"`
			} `json:"instanceDetails"`
			S3BucketDetails []struct {
				Tags tagList `json:"tags"`
			} `json:"s3BucketDetails"`
			EKSClusterDetails struct {
				Tags tagList `json:"tags"`
			} `json:"eksClusterDetails"`
		} `json:"resource"`
	}
	if err := json.Unmarshal(f.Raw, &raw); err != nil {
		return nil
	}
	var out []map[string]string
	for _, r := range raw.Resources {
		if len(r.Tags) > 0 {
			out = append(out, r.Tags)
		}
	}
	for _, r := range raw.OCSF {
		out = r.Tags.add(out)
	}
	out = raw.Resource.InstanceDetails.Tags.add(out)
	for _, b := range raw.Resource.S3BucketDetails {
		out = b.Tags.add(out)
	}
	out = raw.Resource.EKSClusterDetails.Tags.add(out)
	return out
}
