package awsfake

import (
	"maps"
	"testing"
)

func TestCredentialScope(t *testing.T) {
	tests := []struct {
		name, auth, service, region string
	}{
		{"sigv4", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20240101/eu-west-1/iam/aws4_request, SignedHeaders=host, Signature=abc", "iam", "eu-west-1"},
		{"sigv4a", "AWS4-ECDSA-P256-SHA256 Credential=AKIDTEST/20240101/s3/aws4_request, SignedHeaders=host, Signature=abc", "s3", ""},
		{"unsigned", "", "", ""},
		{"malformed", "AWS4-HMAC-SHA256 Credential=AKIDTEST", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			service, region := credentialScope(tt.auth)
			if service != tt.service || region != tt.region {
				t.Errorf("got %q %q, want %q %q", service, region, tt.service, tt.region)
			}
		})
	}
}

func TestMatchSegments(t *testing.T) {
	tests := []struct {
		name, pattern, path string
		want                map[string]string // nil: no match
	}{
		{"literal", "/findings/batchupdate", "/findings/batchupdate", map[string]string{}},
		{"literal mismatch", "/findings/batchupdate", "/findings", nil},
		{"label", "/detector/{DetectorId}/findings/archive", "/detector/d%2F1/findings/archive", map[string]string{"DetectorId": "d/1"}},
		{"label too short", "/detector/{DetectorId}/findings/archive", "/detector/d1/findings", nil},
		{"empty label", "/detector/{DetectorId}", "/detector/", nil},
		{"greedy", "/objects/{Key+}", "/objects/a/b%20c", map[string]string{"Key": "a/b c"}},
		{"greedy empty", "/objects/{Key+}", "/objects", nil},
		{"extra segment", "/findings", "/findings/x", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := matchSegments(splitPath(tt.pattern), splitPath(tt.path))
			if ok != (tt.want != nil) || (ok && !maps.Equal(got, tt.want)) {
				t.Errorf("got %v (match %v), want %v", got, ok, tt.want)
			}
		})
	}
}
