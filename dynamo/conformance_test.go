package dynamo_test

import (
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/dynamo"
	"github.com/picketsec/picket/internal/dynalite"
	"github.com/picketsec/picket/internal/storetest"
)

// TestConformance runs the picket.Store conformance suite on dynalite, a
// real DynamoDB-compatible server: each test gets a new table, and the
// several-clients tests use a second client of their own, as a second
// process would.
func TestConformance(t *testing.T) {
	srv := dynalite.Shared(t)
	open := func(t *testing.T, table string) picket.Store {
		s, err := dynamo.New(srv.Client(), dynamo.Options{Table: table})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	tables := map[picket.Store]string{}
	storetest.Run(t, storetest.Factory{
		Open: func(t *testing.T) picket.Store {
			table := srv.Table(t)
			s := open(t, table)
			tables[s] = table
			return s
		},
		Second: func(t *testing.T, first picket.Store) picket.Store { return open(t, tables[first]) },
	})
}
