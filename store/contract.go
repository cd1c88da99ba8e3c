package store

import (
	"context"
	"fmt"

	"github.com/picketsec/picket"
)

var _ picket.Store = (*DB)(nil)

// Ping checks that the store can be read: the /readyz check.
func (db *DB) Ping(context.Context) error {
	if _, err := db.CountFindings(); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}
