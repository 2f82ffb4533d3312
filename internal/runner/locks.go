package runner

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/ledger"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// rehearsalTop is how many of the worst tenants a rehearsal's fleet
// summary lists.
const rehearsalTop = 5

// queryer runs a query on the session a rehearsal runs in: the *sql.Tx or
// the *sql.Conn that holds its transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// heldLocksSQL lists the table locks the session's own backend holds (a
// rehearsal holds every lock its migrations took until it rolls back),
// with each table's row estimate and total size. reltuples is -1 for a
// table never vacuumed or analyzed; the caller then takes the server's
// live-row counter (what autovacuum decides by), and the planner's
// page-based estimate when that counter knows nothing (statistics reset),
// unless the table has no pages at all and so no rows. The
// tool's own tables and the system catalogs are left out: they are the
// bookkeeping, not the migration's cost.
var heldLocksSQL = `SELECT n.nspname, c.relname, l.mode, c.reltuples::float8, pg_total_relation_size(c.oid), pg_relation_size(c.oid) = 0,
  pg_stat_get_live_tuples(c.oid)
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND c.relkind IN ('r', 'p', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND c.relname NOT IN ` + ledger.TablesSQLList() + `
ORDER BY n.nspname, c.relname, l.mode`

// heldLock names one lock: a relation in one mode.
type heldLock struct{ schema, table, mode string }

// lockTracker tells, migration after migration of one rehearsal, which
// locks each one added: locks are held to the end of the transaction, so
// what the session holds after migration n includes those of 1 to n-1.
type lockTracker struct {
	seen map[heldLock]bool
}

// rehearsalLocks reads the relation locks q's session holds that it did not
// hold at the previous call, with each locked table's estimated rows and
// total size. It never counts rows: a table's estimate is reltuples, or,
// when the table was never analyzed, the statistics system's live rows, or
// the planner's own page-based estimate. The planner's estimate takes an
// ACCESS SHARE lock, which is not the migration's and is not reported.
func (lt *lockTracker) rehearsalLocks(ctx context.Context, q queryer) ([]report.Lock, error) {
	if lt.seen == nil {
		lt.seen = map[heldLock]bool{}
	}
	rows, err := q.QueryContext(ctx, heldLocksSQL)
	if err != nil {
		return nil, fmt.Errorf("read the rehearsal's locks: %w", err)
	}
	type held struct {
		key       heldLock
		reltuples float64
		bytes     int64
		empty     bool  // no pages in the main fork
		live      int64 // the statistics system's live rows
	}
	var fresh []held
	for rows.Next() {
		var h held
		if err := rows.Scan(&h.key.schema, &h.key.table, &h.key.mode, &h.reltuples, &h.bytes, &h.empty, &h.live); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the rehearsal's locks: %w", err)
		}
		if !lt.seen[h.key] {
			lt.seen[h.key] = true
			fresh = append(fresh, h)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the rehearsal's locks: %w", err)
	}
	estimates := map[[2]string]int64{}
	out := make([]report.Lock, 0, len(fresh))
	for _, h := range fresh {
		table := [2]string{h.key.schema, h.key.table}
		n, ok := estimates[table]
		if !ok {
			switch {
			case h.reltuples >= 0:
				n = int64(math.Round(h.reltuples))
			case h.empty:
				n = 0 // the planner would assume 10 pages; this table has none
			case h.live > 0:
				n = h.live
			default:
				n, err = plannerRows(ctx, q, h.key.schema, h.key.table)
			}
			if err != nil {
				return nil, err
			}
			lt.seen[heldLock{h.key.schema, h.key.table, "AccessShareLock"}] = true
			estimates[table] = n
		}
		out = append(out, report.Lock{Relation: relationName(h.key.schema, h.key.table), Mode: h.key.mode, Rows: n, Bytes: h.bytes})
	}
	return out, nil
}

// plannerRows is the planner's row estimate for a whole table: for a table
// never analyzed it scales the table's current pages by an estimated tuple
// width, which is what a query's plan would assume.
func plannerRows(ctx context.Context, q queryer, schema, table string) (int64, error) {
	rows, err := q.QueryContext(ctx, "EXPLAIN (FORMAT JSON) SELECT * FROM "+pgx.Identifier{schema, table}.Sanitize())
	if err != nil {
		return 0, fmt.Errorf("estimate the rows of %s: %w", table, err)
	}
	defer rows.Close()
	var doc string
	for rows.Next() {
		if err := rows.Scan(&doc); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("estimate the rows of %s: %w", table, err)
	}
	var plan []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(doc), &plan); err != nil || len(plan) == 0 {
		return 0, fmt.Errorf("estimate the rows of %s: unexpected EXPLAIN output", table)
	}
	return int64(math.Round(plan[0].Plan.Rows)), nil
}

// relationName is how a report names a table: schema-qualified unless it
// is in public, the schema a tenant's tables usually share a name with.
func relationName(schema, table string) string {
	if schema == "public" {
		return table
	}
	return schema + "." + table
}

// ExclusiveRowsError is a rehearsal that would hold an ACCESS EXCLUSIVE
// lock on a table larger than the fleet's max_exclusive_rows.
type ExclusiveRowsError struct {
	Migration string
	Lock      report.Lock
	Limit     int64
}

func (e *ExclusiveRowsError) Error() string {
	return fmt.Sprintf("migration %s holds AccessExclusiveLock on %s, about %d rows, more than max_exclusive_rows %d: it would block every reader and writer of that table for the migration's duration",
		e.Migration, e.Lock.Relation, e.Lock.Rows, e.Limit)
}

// checkExclusiveRows fails a rehearsal whose migrations hold an ACCESS
// EXCLUSIVE lock on more rows than limit; nil limit: no check.
func checkExclusiveRows(rehearsed []report.Migration, limit *int64) error {
	if limit == nil {
		return nil
	}
	for _, m := range rehearsed {
		for _, l := range m.Locks {
			if l.Mode == report.AccessExclusive && l.Rows > *limit {
				return &ExclusiveRowsError{Migration: m.Name, Lock: l, Limit: *limit}
			}
		}
	}
	return nil
}
