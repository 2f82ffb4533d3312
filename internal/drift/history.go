package drift

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// historyTablesSQL says which of the two history tables exist in schema $1.
const historyTablesSQL = `SELECT
	coalesce(bool_or(c.relname = '` + versionTable + `'), false),
	coalesce(bool_or(c.relname = '` + checksumTable + `'), false)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
	AND c.relname IN ('` + versionTable + `', '` + checksumTable + `')`

// ReadHistory reads what schema records as applied: whether goose's version
// table exists (initialized), and each applied version with the checksums
// orchestrator recorded beside it. As in goose, the newest row of a version
// says whether it is applied; version 0, goose's marker row, is left out.
// Applied is ordered by version.
//
// It runs two queries, one to find the tables and one to read them, and
// changes nothing.
func ReadHistory(ctx context.Context, q Querier, schema string) (initialized bool, applied []Applied, err error) {
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
// one JSON array of Applied. Table names cannot be parameters; the schema is
// quoted as an identifier.
func historySQL(schema string, hasChecksums bool) string {
	checksums := `'', '', false`
	join := ""
	if hasChecksums {
		checksums = `coalesce(m.up_sha256, ''), coalesce(m.down_sha256, ''), m.version_id IS NOT NULL`
		join = "LEFT JOIN " + pgx.Identifier{schema, checksumTable}.Sanitize() + " m ON m.version_id = v.version_id"
	}
	return `SELECT coalesce(json_agg(json_build_object(
		'version', v.version_id, 'up_sha256', c.up, 'down_sha256', c.down, 'has_checksum', c.has
	) ORDER BY v.version_id), '[]')::text
FROM (
	SELECT DISTINCT ON (version_id) version_id, is_applied
	FROM ` + pgx.Identifier{schema, versionTable}.Sanitize() + `
	ORDER BY version_id, id DESC
) v
` + join + `
CROSS JOIN LATERAL (SELECT ` + checksums + `) AS c(up, down, has)
WHERE v.is_applied AND v.version_id <> 0`
}
