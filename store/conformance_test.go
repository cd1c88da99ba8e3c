package store_test

import (
	"path/filepath"
	"testing"

	"github.com/picketsec/picket"
	"github.com/picketsec/picket/internal/storetest"
	"github.com/picketsec/picket/store"
)

// TestConformance runs the picket.Store conformance suite on bbolt. The
// file allows one client, so the several-clients tests share it.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Factory{Open: func(t *testing.T) picket.Store {
		db, err := store.Open(filepath.Join(t.TempDir(), "picket.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}})
}
