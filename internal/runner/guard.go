package runner

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/drift"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/ledger"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// lockInTx takes the target's advisory lock inside the open transaction of
// sess by polling pg_try_advisory_xact_lock (so `locked` stays an outcome of
// its own, as with acquireLock), after applying the session's limits to
// the transaction with SET LOCAL, in the same query. The lock ends with the
// transaction: no pooler can leave it behind on a server connection. It
// conflicts with the session-level lock of the same key, which goose and
// the tool's NO TRANSACTION work take.
func lockInTx(ctx context.Context, sess *session, key int64, wait time.Duration) (ledger.Presence, error) {
	// The settings are evaluated in the FROM item, before the lock.
	q := "SELECT pg_try_advisory_xact_lock($1), pg_backend_pid() FROM (" + sess.setQuery(true) + ") AS settings"
	deadline := time.Now().Add(wait)
	pause := 25 * time.Millisecond
	for {
		var ok bool
		var pid int64
		if err := sess.conn.QueryRowContext(ctx, q, key).Scan(&ok, &pid); err != nil {
			return ledger.Presence{}, fmt.Errorf("take advisory lock: %w", err)
		}
		sess.pid.Store(uint32(pid))
		if ok {
			// A statement of its own, after the lock: its catalog snapshot
			// sees what the previous holder committed.
			dest, presence := ledger.PresenceDest()
			if err := sess.conn.QueryRowContext(ctx, "SELECT "+ledger.PresenceExprs).Scan(dest...); err != nil {
				return presence(), fmt.Errorf("read version table: %w", err)
			}
			return presence(), nil
		}
		if !time.Now().Add(pause).Before(deadline) {
			return ledger.Presence{}, errLocked
		}
		select {
		case <-ctx.Done():
			return ledger.Presence{}, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(pause*2, time.Second)
	}
}

// PoolerError refuses NO TRANSACTION work through a transaction pooler.
type PoolerError struct {
	Migration string // the NO TRANSACTION migration that needs a session
	Direct    bool   // the target's direct_dsn is behind a pooler too
}

func (e *PoolerError) Error() string {
	via := "the target's dsn"
	if e.Direct {
		via = "the target's direct_dsn"
	}
	return fmt.Sprintf("%s goes through a transaction pooler (such as PgBouncer with pool_mode = transaction: the server "+
		"backend changed between two transactions on one connection); migration %s is NO TRANSACTION and needs one server "+
		"session throughout (its lock and its statements), which such a pooler cannot give, so nothing was run on this target", via, e.Migration)
}

// Remedy says how to run it.
func (e *PoolerError) Remedy() string {
	return "give this target a direct_dsn: in the fleet file, a DSN that reaches the database without the pooler " +
		"(the server's own host and port); the tool runs NO TRANSACTION migrations on it and everything else through dsn"
}

// transactionPooler reports whether sess reaches its server through a
// transaction pooler: a second connection to the same DSN, inside a
// transaction, gets the backend sess had a moment ago (a pooler hands out
// the server connection sess released), or sess's next statement runs on
// another backend. Directly, two connections never share a backend and one
// connection keeps its own. The answer is kept per DSN for the run.
func (r *Runner) transactionPooler(ctx context.Context, t fleet.Target, sess *session) (bool, error) {
	r.poolerMu.Lock()
	known, ok := r.poolers[t.DSN]
	r.poolerMu.Unlock()
	if ok {
		return known, nil
	}
	pid := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) (int64, error) {
		var p int64
		err := q.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&p)
		return p, err
	}
	p1, err := pid(sess.conn)
	if err != nil {
		return false, err
	}
	other, err := r.dial(ctx, t, true)
	if err != nil {
		return false, err
	}
	defer other.discard()
	tx, err := other.conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	p2, err := pid(tx)
	if err != nil {
		return false, err
	}
	pooled := p2 == p1
	if !pooled {
		p3, err := pid(sess.conn)
		if err != nil {
			return false, err
		}
		pooled = p3 != p1
	}
	r.poolerMu.Lock()
	r.poolers[t.DSN] = pooled
	r.poolerMu.Unlock()
	return pooled, nil
}

// InvalidIndexError is an INVALID index on the target (a failed CREATE
// INDEX CONCURRENTLY leaves one): before a NO TRANSACTION migration it
// would be silently skipped by IF NOT EXISTS or fail every run with
// "already exists"; after one, the migration did not build what it names.
type InvalidIndexError struct {
	Indexes   []string // qualified names
	Migration string
	After     bool // found after the migration ran, rather than before
}

func (e *InvalidIndexError) Error() string {
	if e.After {
		return fmt.Sprintf("migration %s left INVALID index(es) %s (a CREATE INDEX CONCURRENTLY that did not finish): "+
			"it is not recorded as applied", e.Migration, strings.Join(e.Indexes, ", "))
	}
	return fmt.Sprintf("the target has INVALID index(es) %s (left by an earlier CREATE INDEX CONCURRENTLY that failed); "+
		"migration %s (NO TRANSACTION) was not started: CREATE INDEX CONCURRENTLY IF NOT EXISTS would skip it and report "+
		"success with an unusable index", strings.Join(e.Indexes, ", "), e.Migration)
}

// Remedy names the statements that clear the way.
func (e *InvalidIndexError) Remedy() string {
	drops := make([]string, len(e.Indexes))
	for i, ix := range e.Indexes {
		drops[i] = "DROP INDEX CONCURRENTLY " + ix + ";"
	}
	return "run " + strings.Join(drops, " ") + " on this target, then run the command again"
}

// schemaIndexes joins schemas (n) to the indexes of their tables (i, and
// the index's pg_class row c) through pg_depend's index on the referenced
// object: no catalog has an index that leads with the namespace, and a
// scan of all of pg_index per tenant grows with every tenant of the
// database. Every relation depends on its schema; an index is in its
// table's schema.
const schemaIndexes = `pg_catalog.pg_namespace n
JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_namespace'::regclass AND d.refobjid = n.oid
  AND d.classid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0
JOIN pg_catalog.pg_index i ON i.indrelid = d.objid
JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid`

// invalidIndexesQuery lists the INVALID indexes in the schemas of the
// session's search_path (the tenant's schema, for a tenant), except those
// being built right now by another session.
const invalidIndexesQuery = `SELECT coalesce(string_agg(format('%I.%I', n.nspname, c.relname), E'\n' ORDER BY 1), '')
FROM ` + schemaIndexes + `
WHERE NOT i.indisvalid AND n.nspname = ANY (current_schemas(false))
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid AND p.pid <> pg_backend_pid())`

// invalidIndexes lists the INVALID indexes of the session's schemas.
func invalidIndexes(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) ([]string, error) {
	var names string
	if err := q.QueryRowContext(ctx, invalidIndexesQuery).Scan(&names); err != nil {
		return nil, fmt.Errorf("list INVALID indexes: %w", err)
	}
	if names == "" {
		return nil, nil
	}
	return strings.Split(names, "\n"), nil
}

// checkInvalidIndexes fails when the target has an INVALID index, before
// or after s ran.
func checkInvalidIndexes(ctx context.Context, conn *sql.Conn, s step, after bool) error {
	names, err := invalidIndexes(ctx, conn)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return nil
	}
	return &InvalidIndexError{Indexes: names, Migration: s.m.Name, After: after}
}

// StallError is a target given up because the path to its server stalled.
type StallError struct {
	Silent     time.Duration // how long the server had sent nothing
	State      string        // what pg_stat_activity said of the backend, or why it could not say
	Terminated bool          // the backend was terminated by the probe
}

func (e *StallError) Error() string {
	s := fmt.Sprintf("the connection stalled: no bytes from the server for %s while waiting for it, and the server says the backend is %s",
		e.Silent.Round(time.Second), e.State)
	if e.Terminated {
		s += "; the backend was terminated, so its locks are released"
	}
	return s
}

// Remedy says what to look at.
func (e *StallError) Remedy() string {
	r := "check the network path to this target (a proxy, NAT or pooler that keeps sockets open but passes no bytes), then run the command again"
	if !e.Terminated {
		r += "; the server ends the backend's transaction itself after idle_in_transaction_session_timeout (set no longer than stall_timeout)"
	}
	return r
}

// batchInvalidOf lists, for the schema-per-tenant targets named in known
// (their state was read in batches, by status or by drift), each tenant's
// INVALID indexes: one query per database.
func batchInvalidOf[S any](ctx context.Context, r *Runner, targets []fleet.Target, known map[string]S) map[string][]string {
	groups := map[string][]fleet.Target{}
	for _, t := range targets {
		if _, ok := known[t.Name]; ok && t.Schema != "" {
			groups[t.DSN] = append(groups[t.DSN], t)
		}
	}
	out := map[string][]string{}
	for _, group := range groups {
		sess, err := r.dial(ctx, group[0], true)
		if err != nil {
			continue
		}
		schemas := make([]string, len(group))
		bySchema := map[string]string{}
		for i, t := range group {
			schemas[i] = t.Schema
			bySchema[t.Schema] = t.Name
		}
		rows, err := sess.conn.QueryContext(ctx, `SELECT n.nspname::text, format('%I.%I', n.nspname, c.relname)
FROM `+schemaIndexes+`
WHERE NOT i.indisvalid AND n.nspname = ANY ($1::text[])
ORDER BY 1, 2`, schemas)
		if err == nil {
			for rows.Next() {
				var schema, name string
				if rows.Scan(&schema, &name) == nil {
					out[bySchema[schema]] = append(out[bySchema[schema]], name)
				}
			}
			rows.Close()
		}
		sess.discard()
	}
	return out
}

// invalidFindings are a status result's findings for INVALID indexes.
func invalidFindings(names []string) []report.Finding {
	var out []report.Finding
	for _, n := range names {
		out = append(out, report.Finding{Kind: drift.KindInvalidIndex, Object: "index " + n,
			Detail: "INVALID (a CREATE INDEX CONCURRENTLY did not finish): DROP INDEX CONCURRENTLY " + n + "; then run up again"})
	}
	return out
}
