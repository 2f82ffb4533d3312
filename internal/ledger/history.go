package ledger

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// RowQuerier runs one query that returns one row: *pgx.Conn, pgx.Tx and
// *pgxpool.Pool satisfy it.
type RowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// historyTablesSQL says which of goose's and the checksum tables exist in
// schema $1.
const historyTablesSQL = `SELECT
	coalesce(bool_or(c.relname = '` + VersionTable + `'), false),
	coalesce(bool_or(c.relname = '` + ChecksumTable + `'), false)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
	AND c.relname IN ('` + VersionTable + `', '` + ChecksumTable + `')`

// ReadHistory reads, over a pgx connection, what schema records as applied:
// whether goose's version table exists (initialized), and each applied
// version with the checksums recorded beside it, ordered by version. Two
// queries, both reads.
func ReadHistory(ctx context.Context, q RowQuerier, schema string) (initialized bool, applied []Applied, err error) {
	var hasChecksums bool
	if err := q.QueryRow(ctx, historyTablesSQL, schema).Scan(&initialized, &hasChecksums); err != nil {
		return false, nil, fmt.Errorf("read version history: %w", err)
	}
	if !initialized {
		return false, nil, nil
	}
	var raw []byte
	if err := q.QueryRow(ctx, historySQL(schema, hasChecksums)).Scan(&raw); err != nil {
		return true, nil, fmt.Errorf("read version history: %w", err)
	}
	if err := json.Unmarshal(raw, &applied); err != nil {
		return true, nil, fmt.Errorf("read version history: decode: %w", err)
	}
	return true, applied, nil
}

// historySQL reads the applied versions of schema with their checksums, as
// one JSON array of Applied.
func historySQL(schema string, hasChecksums bool) string {
	checksums := `'', '', false`
	join := ""
	if hasChecksums {
		checksums = `coalesce(m.up_sha256, ''), coalesce(m.down_sha256, ''), m.version_id IS NOT NULL`
		join = "LEFT JOIN " + pgx.Identifier{schema, ChecksumTable}.Sanitize() + " m ON m.version_id = v.version_id"
	}
	return `SELECT coalesce(json_agg(json_build_object(
		'version', v.version_id, 'up_sha256', c.up, 'down_sha256', c.down, 'has_checksum', c.has
	) ORDER BY v.version_id), '[]')::text
FROM (
	SELECT DISTINCT ON (version_id) version_id, is_applied
	FROM ` + pgx.Identifier{schema, VersionTable}.Sanitize() + `
	ORDER BY version_id, id DESC
) v
` + join + `
CROSS JOIN LATERAL (SELECT ` + checksums + `) AS c(up, down, has)
WHERE v.is_applied AND v.version_id <> 0`
}
