package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// RowQuerier runs one query that returns one row: *pgx.Conn, pgx.Tx and
// *pgxpool.Pool satisfy it.
type RowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ReadHistory reads, over a pgx connection, what schema records as applied:
// whether goose's version table exists (initialized), and each applied
// version with the checksums recorded beside it, ordered by version. Two
// queries, both reads.
func ReadHistory(ctx context.Context, q RowQuerier, schema string) (initialized bool, applied []Applied, err error) {
	dest, presence := PresenceDest()
	if err := q.QueryRow(ctx, "SELECT "+presenceExprs("$1::text"), schema).Scan(dest...); err != nil {
		return false, nil, fmt.Errorf("read version history: %w", err)
	}
	p := presence()
	if !p.Version {
		return false, nil, nil
	}
	var raw []byte
	history := strings.ReplaceAll(HistoryTemplate(p.Checksums), "%1$I", pgx.Identifier{schema}.Sanitize())
	if err := q.QueryRow(ctx, history).Scan(&raw); err != nil {
		return true, nil, fmt.Errorf("read version history: %w", err)
	}
	if err := json.Unmarshal(raw, &applied); err != nil {
		return true, nil, fmt.Errorf("read version history: decode: %w", err)
	}
	return true, applied, nil
}
