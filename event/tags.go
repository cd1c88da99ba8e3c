package event

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/picketsec/picket"
)

// tagList is the tags of one resource. GuardDuty writes them as a list of
// {key, value}, OCSF as a list of {name, value}, Inspector as an object.
type tagList map[string]string

// UnmarshalJSON reads any of the three forms; a shape it does not know
// leaves the list empty, since tags only narrow automatic response rules.
func (l *tagList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var m map[string]string
		if json.Unmarshal(b, &m) == nil {
			*l = m
		}
		return nil
	}
	var list []struct {
		Key   string `json:"key"`
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	if json.Unmarshal(b, &list) != nil || len(list) == 0 {
		return nil
	}
	m := make(map[string]string, len(list))
	for _, t := range list {
		k := t.Key
		if k == "" {
			k = t.Name
		}
		if k != "" {
			m[k] = t.Value
		}
	}
	*l = m
	return nil
}

func (l tagList) add(out []map[string]string) []map[string]string {
	if len(l) == 0 {
		return out
	}
	return append(out, l)
}

// ResourceTags returns the tags of each resource of f that carries any,
// as the finding reports them (f.Raw): an ASFF finding's Resources[].Tags,
// a GuardDuty finding's instance, bucket or EKS cluster tags, an OCSF or
// Inspector finding's resources[].tags. A field of another shape than
// these (an IAM Access Analyzer finding's resource is a string) is
// skipped, not a reason to drop the tags found elsewhere. It decodes Raw only when asked: automatic
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
		if _, wrongType := errors.AsType[*json.UnmarshalTypeError](err); !wrongType {
			return nil
		}
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
