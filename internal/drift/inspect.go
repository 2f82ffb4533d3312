package drift

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Querier runs one query that returns one row. *pgx.Conn, pgx.Tx and
// *pgxpool.Pool satisfy it. Everything this package reads from a target
// goes through it, so a caller can run the reads in one read-only
// transaction for a consistent view.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// State is what one target says about itself: its version history and its
// schema.
type State struct {
	Initialized bool      `json:"initialized"`
	Applied     []Applied `json:"applied"`
	// Version is the highest applied version, 0 when none.
	Version int64 `json:"version"`
	// Snapshot is the catalog of the target's schema.
	Snapshot *Snapshot `json:"snapshot"`
	// Invalid lists the INVALID indexes (qualified names) of the schemas
	// the target's session sees, filled by the caller.
	Invalid []string `json:"invalid_indexes,omitempty"`
}

// Inspect reads the version history and the catalog of schema: three
// queries (two for the history, one for the catalog), all reads.
func Inspect(ctx context.Context, q Querier, schema string) (*State, error) {
	initialized, applied, err := ReadHistory(ctx, q, schema)
	if err != nil {
		return nil, err
	}
	snap, err := ReadSnapshot(ctx, q, schema)
	if err != nil {
		return nil, err
	}
	st := &State{Initialized: initialized, Applied: applied, Snapshot: snap}
	for _, a := range applied {
		st.Version = max(st.Version, a.Version)
	}
	return st, nil
}
