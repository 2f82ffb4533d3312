package runner

import (
	"context"
	"database/sql"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/sqlscan"
)

// lockHolder names the session holding the target's advisory lock key, as
// a lock timeout names its blockers: pid, application_name, since when it
// has been connected and in its current state, and its query with string
// literals masked. It is best effort: an error yields "".
func lockHolder(ctx context.Context, conn *sql.Conn, key int64) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	var s sql.NullString
	err := conn.QueryRowContext(ctx, `SELECT string_agg(format('pid %s (%s), connected since %s, %s since %s: %s', a.pid,
		coalesce(nullif(a.application_name, ''), 'no application_name'),
		to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
		coalesce(a.state, 'unknown state'),
		to_char(coalesce(a.state_change, a.backend_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
		left(regexp_replace(coalesce(a.query, ''), '\s+', ' ', 'g'), 200)), '; ')
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = (($1::bigint >> 32) & 4294967295)::oid
  AND l.objid = ($1::bigint & 4294967295)::oid
  AND l.objsubid = 1`, key).Scan(&s)
	if err != nil {
		return ""
	}
	return sqlscan.MaskLiterals(s.String)
}
