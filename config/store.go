package config

import (
	"net/url"
	"regexp"
)

// Store backends.
const (
	// StoreBolt keeps state in one bbolt file under DataDir: one replica.
	StoreBolt = "bolt"
	// StoreDynamoDB keeps state in a DynamoDB table that several replicas
	// share.
	StoreDynamoDB = "dynamodb"
)

// Store picks where Picket keeps its state.
type Store struct {
	// Backend is "bolt" (default: the file picket.db in data_dir) or
	// "dynamodb". Env PICKET_STORE_BACKEND.
	Backend string `yaml:"backend"`
	// Table is the DynamoDB table (required for dynamodb). Env
	// PICKET_STORE_TABLE.
	Table string `yaml:"table"`
	// Region is the table's region; aws.region when empty. Env
	// PICKET_STORE_REGION.
	Region string `yaml:"region"`
	// Endpoint sends DynamoDB calls elsewhere (a local DynamoDB-compatible
	// server in tests); empty for AWS. Env PICKET_STORE_ENDPOINT.
	Endpoint string `yaml:"endpoint"`
}

// tableNamePattern is DynamoDB's rule for table names.
var tableNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

// store checks the store section.
func (v *checker) store(s Store) {
	switch s.Backend {
	case StoreBolt:
		for key, val := range map[string]string{"store.table": s.Table, "store.endpoint": s.Endpoint} {
			if val != "" {
				v.add(key, "is set, but store.backend is bolt: set store.backend to dynamodb to use a table")
			}
		}
		return
	case StoreDynamoDB:
	default:
		v.add("store.backend", "%q is not a store (want bolt or dynamodb)", s.Backend)
		return
	}
	switch {
	case s.Table == "":
		v.add("store.table", "required with store.backend dynamodb: the DynamoDB table that holds Picket's state")
	case !tableNamePattern.MatchString(s.Table):
		v.add("store.table", "%q is not a DynamoDB table name (3-255 letters, digits, _ . -)", s.Table)
	}
	if s.Region != "" && !regionPattern.MatchString(s.Region) {
		v.add("store.region", "%q is not an AWS region", s.Region)
	}
	if s.Endpoint != "" {
		if u, err := url.Parse(s.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add("store.endpoint", "%q is not an http(s) URL", s.Endpoint)
		}
	}
}
