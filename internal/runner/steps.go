package runner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3/database"

	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// TxMode says how migrations are grouped into transactions.
type TxMode string

// Transaction modes.
const (
	// TxTarget runs all of a target's pending migrations in one
	// transaction, split only around migrations marked NO TRANSACTION.
	TxTarget TxMode = "target"
	// TxMigration runs each migration in a transaction of its own, as goose
	// does; a failure still undoes what the run applied.
	TxMigration TxMode = "migration"
)

// ParseTxMode checks a --tx-mode value.
func ParseTxMode(s string) (TxMode, error) {
	switch TxMode(s) {
	case TxTarget, TxMigration:
		return TxMode(s), nil
	}
	return "", fmt.Errorf("unknown transaction mode %q (use target or migration)", s)
}

// step is one migration run in one direction.
type step struct {
	m    *source.Migration
	down bool
}

func (s step) sql() string {
	if s.down {
		return s.m.Down
	}
	return s.m.Up
}

func (s step) noTx() bool {
	if s.down {
		return s.m.DownNoTx
	}
	return s.m.NoTx
}

func (s step) inverse() step { return step{m: s.m, down: !s.down} }

func (s step) statements() ([]source.Statement, error) {
	if s.down {
		return s.m.DownStatements()
	}
	return s.m.UpStatements()
}

func (s step) report(d time.Duration) report.Migration {
	ms := d.Milliseconds()
	return report.Migration{Version: s.m.Version, Name: s.m.Name, DurationMS: &ms}
}

// batches groups steps into transactions: in TxTarget mode consecutive
// transactional steps share one; a NO TRANSACTION step always stands alone.
func batches(steps []step, mode TxMode) [][]step {
	var out [][]step
	for _, s := range steps {
		n := len(out)
		if mode == TxTarget && !s.noTx() && n > 0 && !out[n-1][0].noTx() {
			out[n-1] = append(out[n-1], s)
			continue
		}
		out = append(out, []step{s})
	}
	return out
}

// outcome is what executing a list of steps did.
type outcome struct {
	done     []report.Migration // steps committed, in order
	steps    []step             // the same, as steps (for compensation)
	attempts int                // most attempts any one transaction needed
	partial  *partialStep       // a NO TRANSACTION step that failed after running statements
	blocked  string             // who held the locks a retried transaction waited for
	err      error
}

// partialStep is a NO TRANSACTION step that stopped halfway.
type partialStep struct {
	step  step
	ran   int // statements that completed
	total int
}

// retryPolicy bounds retries of a transaction that hit a lock timeout or a
// deadlock.
type retryPolicy struct {
	attempts int           // in all, at least 1
	backoff  time.Duration // first pause; doubles, with jitter
}

// executor runs steps on one session of one target. Every transaction it
// opens takes the target's lock inside it (pg_try_advisory_xact_lock,
// released by the commit or rollback whatever sits between us and the
// server) and re-reads the versions there, so the work and its bookkeeping
// stay one transaction on one server connection, PgBouncer's transaction
// pooling included.
type executor struct {
	sess     *session
	store    database.StoreExtender
	tables   tables // which of the tool's tables exist
	mode     TxMode
	policy   retryPolicy
	key      int64         // the target's advisory lock key
	lockWait time.Duration // how long to poll for it
	// sessionLocked: the session also holds the lock at session level,
	// which NO TRANSACTION steps need across their statements.
	sessionLocked bool
	// open: a transaction is open on the session with the lock taken and
	// the versions read in it (migrateTarget's planning transaction); the
	// first transactional batch continues it.
	open bool
}

// tables records which of the tool's tables a target has.
type tables struct{ version, checksums bool }

// run executes steps in order, batch by batch, and stops at the first
// failure. Committed batches stay committed; undoing them is the caller's
// decision (compensate).
func (e *executor) run(ctx context.Context, steps []step) outcome {
	var out outcome
	defer e.rollback(ctx)
	for _, batch := range batches(steps, e.mode) {
		if batch[0].noTx() {
			e.rollback(ctx)
			d, p, err := e.runNoTx(ctx, batch[0])
			if err != nil {
				out.partial, out.err = p, err
				return out
			}
			out.done = append(out.done, batch[0].report(d))
			out.steps = append(out.steps, batch[0])
			continue
		}
		done, attempts, blocked, err := e.runTxRetrying(ctx, batch)
		out.attempts = max(out.attempts, attempts)
		if blocked != "" {
			out.blocked = blocked
		}
		if err != nil {
			out.err = err
			return out
		}
		out.done = append(out.done, done...)
		out.steps = append(out.steps, batch...)
	}
	return out
}

// runTxRetrying runs one transaction, again after a lock timeout or a
// deadlock, with exponential backoff and jitter: a DDL lock is often held
// only for a moment by live traffic.
func (e *executor) runTxRetrying(ctx context.Context, batch []step) ([]report.Migration, int, string, error) {
	pause := e.policy.backoff
	var blocked string
	for attempt := 1; ; attempt++ {
		done, err := e.runTx(ctx, batch)
		if err == nil || !retryable(err) || attempt >= e.policy.attempts || ctx.Err() != nil {
			return done, attempt, blocked, err
		}
		if b := lockHolders(ctx, e.sess.conn); b != "" {
			blocked = b
		}
		jittered := pause/2 + rand.N(pause)
		select {
		case <-ctx.Done():
			return nil, attempt, blocked, err
		case <-time.After(jittered):
		}
		pause *= 2
	}
}

// begin opens a transaction on the session, applies the session's limits
// to it (SET LOCAL), takes the target's lock in it and reads the versions.
func (e *executor) begin(ctx context.Context) (state, error) {
	if _, err := e.sess.conn.ExecContext(ctx, "BEGIN"); err != nil {
		return state{applied: map[int64]bool{}}, fmt.Errorf("begin transaction: %w", err)
	}
	e.open = true
	have, err := lockInTx(ctx, e.sess, e.key, e.lockWait)
	if err != nil {
		e.rollback(ctx)
		return state{applied: map[int64]bool{}}, err
	}
	st, err := readVersionRows(ctx, e.store, e.sess.conn, have)
	if err != nil {
		e.rollback(ctx)
		return st, err
	}
	e.tables = have
	return st, nil
}

// rollback ends the open transaction, if any, on a context detached from
// cancellation: an interrupted target still leaves its session clean.
func (e *executor) rollback(ctx context.Context) {
	if !e.open {
		return
	}
	e.open = false
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = e.sess.native(func(c *pgx.Conn) error {
		if c.PgConn().TxStatus() != 'I' {
			_, err := c.Exec(rctx, "ROLLBACK")
			return err
		}
		return nil
	})
}

// commit commits the open transaction and checks it ended committed.
func (e *executor) commit(ctx context.Context) error {
	e.open = false
	return e.sess.native(func(c *pgx.Conn) error {
		if _, err := c.Exec(ctx, "COMMIT"); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
}

// runTx runs a batch in one transaction with its version rows: in the open
// planning transaction when there is one, else in a new one that takes
// the lock and checks the batch is still what the versions call for.
func (e *executor) runTx(ctx context.Context, batch []step) ([]report.Migration, error) {
	if !e.open {
		st, err := e.begin(ctx)
		if err != nil {
			return nil, err
		}
		if err := stillDue(st, batch); err != nil {
			e.rollback(ctx)
			return nil, err
		}
	}
	defer e.rollback(ctx) // a no-op after commit
	created, err := ensureVersionTable(ctx, e.store, e.sess.conn, e.tables)
	if err != nil {
		return nil, err
	}
	done := make([]report.Migration, 0, len(batch))
	for _, s := range batch {
		t0 := time.Now()
		stmts, err := s.statements()
		if err != nil {
			return nil, &MigrationError{Migration: s.m, Down: s.down, Err: err}
		}
		for _, st := range stmts {
			if err := e.execInTx(ctx, st.SQL); err != nil {
				return nil, &MigrationError{Migration: s.m, Down: s.down, Line: st.Line, Stmt: st.SQL, Err: err}
			}
		}
		done = append(done, s.report(time.Since(t0)))
	}
	if err := record(ctx, e.sess.conn, batch, created, !e.tables.checksums); err != nil {
		return nil, err
	}
	if err := e.commit(ctx); err != nil {
		return nil, err
	}
	e.tables = tables{true, true}
	return done, nil
}

// execInTx runs one statement of a transactional batch on pgx's own
// connection and checks, from the ReadyForQuery that ends it, that the
// transaction is still open: a statement that committed or rolled it back
// is an error the target stops at.
func (e *executor) execInTx(ctx context.Context, sql string) error {
	return e.sess.native(func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, sql)
		if err != nil {
			return err
		}
		if st := c.PgConn().TxStatus(); st != 'T' {
			e.open = st != 'I'
			return &TxEndedError{Status: st}
		}
		return nil
	})
}

// TxEndedError is a statement of a migration that ended the tool's
// transaction (a COMMIT or ROLLBACK that reached the server): what the
// transaction ran before it is committed, or gone, without version rows.
type TxEndedError struct{ Status byte }

func (e *TxEndedError) Error() string {
	return "this statement ended the tool's transaction (transaction control inside a migration): the target stopped here, " +
		"and what the transaction ran before this statement may be committed without its version rows"
}

// stillDue checks, under the lock, that every step of batch is still to be
// done: another run may have moved the target between two transactions.
func stillDue(st state, batch []step) error {
	for _, s := range batch {
		if st.applied[s.m.Version] == s.down {
			continue
		}
		return &VersionError{Msg: fmt.Sprintf("migration %s was %s by another run while this one waited between transactions; "+
			"run again to continue from the target's current version", s.m.Name, map[bool]string{false: "applied", true: "reverted"}[s.down])}
	}
	return nil
}

// runNoTx runs a NO TRANSACTION step statement by statement (CREATE INDEX
// CONCURRENTLY refuses a transaction block, and so does a multi-statement
// query) on the session-locked session, then records its version in a
// transaction of its own. It refuses to start while the target has an
// INVALID index, and does not record the step if one is left after it.
func (e *executor) runNoTx(ctx context.Context, s step) (time.Duration, *partialStep, error) {
	t0 := time.Now()
	stmts, err := s.statements()
	if err != nil {
		return 0, nil, &MigrationError{Migration: s.m, Down: s.down, Err: err}
	}
	if !e.sessionLocked {
		if _, err := acquireLock(ctx, e.sess.conn, e.key, e.lockWait); err != nil {
			return 0, nil, err
		}
		e.sessionLocked = true
	}
	if err := e.sess.setSession(ctx); err != nil {
		return 0, nil, err
	}
	if err := checkInvalidIndexes(ctx, e.sess.conn, s, false); err != nil {
		return 0, nil, err
	}
	for i, st := range stmts {
		if _, err := e.sess.conn.ExecContext(ctx, st.SQL); err != nil {
			var p *partialStep
			// A failed CREATE INDEX CONCURRENTLY leaves an INVALID index
			// behind even as the first statement; only a statement the
			// server rejected before running it leaves nothing.
			if i > 0 || !rejectedBeforeRunning(err) {
				p = &partialStep{step: s, ran: i, total: len(stmts)}
			}
			return 0, p, &MigrationError{Migration: s.m, Down: s.down, Line: st.Line, Stmt: st.SQL,
				Err: fmt.Errorf("statement %d of %d (line %d): %w", i+1, len(stmts), st.Line, err)}
		}
	}
	if err := checkInvalidIndexes(ctx, e.sess.conn, s, true); err != nil {
		return 0, &partialStep{step: s, ran: len(stmts), total: len(stmts)}, err
	}
	st, err := e.begin(ctx)
	if err == nil {
		err = stillDue(st, []step{s})
	}
	if err == nil {
		var created bool
		if created, err = ensureVersionTable(ctx, e.store, e.sess.conn, e.tables); err == nil {
			if err = record(ctx, e.sess.conn, []step{s}, created, !e.tables.checksums); err == nil {
				err = e.commit(ctx)
			}
		}
	}
	e.rollback(ctx)
	if err != nil {
		return 0, &partialStep{step: s, ran: len(stmts), total: len(stmts)}, &MigrationError{Migration: s.m, Down: s.down, Err: err}
	}
	e.tables = tables{true, true}
	return time.Since(t0), nil, nil
}

// rejectedBeforeRunning reports errors raised before a statement could
// change anything: syntax and name resolution.
func rejectedBeforeRunning(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code[:2] {
	case "42":
		return true
	}
	return false
}

// retryable reports a lock timeout or a deadlock: worth another attempt of
// the whole transaction.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "55P03" || pgErr.Code == "40P01")
}

// lockHolders names the other sessions holding locks on relations of the
// target's schema, from the session's own view after its transaction rolled
// back. It is best effort: an error yields "".
func lockHolders(ctx context.Context, conn *sql.Conn) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	var s sql.NullString
	err := conn.QueryRowContext(ctx, `SELECT string_agg(DISTINCT format('pid %s (%s): %s', a.pid,
		coalesce(nullif(a.application_name, ''), 'no application_name'), left(regexp_replace(a.query, '\s+', ' ', 'g'), 200)), '; ')
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.granted AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND c.relnamespace = ANY (current_schemas(false)::regnamespace[])`).Scan(&s)
	if err != nil {
		return ""
	}
	return s.String
}

// ensureVersionTable creates goose's version table, through goose's store,
// when the target has none; have was read under the target's lock, so it is
// still true. It reports whether it created the table (its version-0 row,
// which goose writes with it, is then the caller's to record).
func ensureVersionTable(ctx context.Context, store database.StoreExtender, tx database.DBTxConn, have tables) (bool, error) {
	if have.version {
		return false, nil
	}
	return true, store.CreateVersionTable(ctx, tx)
}

// record writes what a batch of steps did, in one statement: goose's version
// rows (inserted for ups, deleted for downs: the rows goose itself would
// write, one per version; goose's store sends one statement per row, and in
// one transaction the same rows can go in one round trip) and the checksum
// record, created first if the target has none yet. zeroRow adds goose's
// version-0 marker row to a version table just created.
func record(ctx context.Context, tx database.DBTxConn, batch []step, zeroRow, createChecksums bool) error {
	var q strings.Builder
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if createChecksums {
		q.WriteString(createChecksumTable + ";\n")
	}
	if batch[0].down {
		var list []string
		for _, s := range batch {
			list = append(list, arg(s.m.Version))
		}
		in := strings.Join(list, ", ")
		fmt.Fprintf(&q, "DELETE FROM %s WHERE version_id IN (%s);\nDELETE FROM %s WHERE version_id IN (%s)",
			VersionTable, in, ChecksumTable, in)
	} else {
		var versions, sums []string
		if zeroRow {
			versions = append(versions, "(0, true)")
		}
		for _, s := range batch {
			versions = append(versions, "("+arg(s.m.Version)+", true)")
			sums = append(sums, fmt.Sprintf("(%s, %s, %s, %s)", arg(s.m.Version), arg(s.m.Name), arg(s.m.UpSHA256), arg(s.m.DownSHA256)))
		}
		fmt.Fprintf(&q, "INSERT INTO %s (version_id, is_applied) VALUES %s;\n", VersionTable, strings.Join(versions, ", "))
		fmt.Fprintf(&q, "INSERT INTO %s (version_id, name, up_sha256, down_sha256) VALUES %s\n", ChecksumTable, strings.Join(sums, ", "))
		q.WriteString("ON CONFLICT (version_id) DO UPDATE SET name = EXCLUDED.name, up_sha256 = EXCLUDED.up_sha256,\n" +
			"\tdown_sha256 = EXCLUDED.down_sha256, applied_at = now(), applied_by = EXCLUDED.applied_by")
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("record versions %s: %w", describeSteps(batch), err)
	}
	return nil
}
