package runner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3/database"

	"github.com/orchestrator-dev/orchestrator/internal/apply"
	"github.com/orchestrator-dev/orchestrator/internal/ledger"
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

func (s step) noTx() bool {
	if s.down {
		return s.m.DownNoTx
	}
	return s.m.NoTx
}

func (s step) inverse() step { return step{m: s.m, down: !s.down} }

// apply runs the statements of s on the session (see apply.Run) and
// returns how many completed.
func (e *executor) apply(ctx context.Context, s step) (ran int, err error) {
	if nerr := e.sess.native(func(c *pgx.Conn) error {
		ran, err = apply.Run(ctx, c, s.m, s.down)
		return nil
	}); nerr != nil {
		return 0, &apply.MigrationError{Migration: s.m, Down: s.down, Err: nerr}
	}
	return ran, err
}

func (s step) report(d time.Duration) report.Migration {
	ms := d.Milliseconds()
	return report.Migration{Version: s.m.Version, Name: s.m.Name, DurationMS: &ms}
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
	tables   ledger.Have // which bookkeeping tables exist
	have     func(state) ledger.Have
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

// run executes steps in order, batch by batch, and stops at the first
// failure. Committed batches stay committed; undoing them is the caller's
// decision (compensate).
func (e *executor) run(ctx context.Context, steps []step) outcome {
	var out outcome
	defer e.rollback(ctx)
	for _, batch := range apply.Batches(steps, step.noTx, e.mode == TxTarget) {
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
	st, err := readVersionRows(ctx, e.sess.conn, have)
	if err != nil {
		e.rollback(ctx)
		return st, err
	}
	e.tables = e.have(st)
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
	created, err := ledger.EnsureVersionTable(ctx, e.store, e.sess.conn, e.tables)
	if err != nil {
		return nil, err
	}
	done := make([]report.Migration, 0, len(batch))
	for _, s := range batch {
		t0 := time.Now()
		if _, err := e.apply(ctx, s); err != nil {
			return nil, err
		}
		done = append(done, s.report(time.Since(t0)))
	}
	if err := record(ctx, e.sess.conn, batch, created, e.tables); err != nil {
		return nil, err
	}
	if err := e.commit(ctx); err != nil {
		return nil, err
	}
	e.tables.Version, e.tables.Checksums = true, true
	return done, nil
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
	ran, err := e.apply(ctx, s)
	if err != nil {
		var me *apply.MigrationError
		var p *partialStep
		// A failed CREATE INDEX CONCURRENTLY leaves an INVALID index
		// behind even as the first statement; only a statement the
		// server rejected before running it leaves nothing.
		if errors.As(err, &me) && me.Total > 0 && (ran > 0 || !rejectedBeforeRunning(err)) {
			p = &partialStep{step: s, ran: ran, total: me.Total}
		}
		return 0, p, err
	}
	ranAll := &partialStep{step: s, ran: ran, total: ran}
	if err := checkInvalidIndexes(ctx, e.sess.conn, s, true); err != nil {
		return 0, ranAll, err
	}
	st, err := e.begin(ctx)
	if err == nil {
		err = stillDue(st, []step{s})
	}
	if err == nil {
		var created bool
		if created, err = ledger.EnsureVersionTable(ctx, e.store, e.sess.conn, e.tables); err == nil {
			if err = record(ctx, e.sess.conn, []step{s}, created, e.tables); err == nil {
				err = e.commit(ctx)
			}
		}
	}
	e.rollback(ctx)
	if err != nil {
		return 0, ranAll, &apply.MigrationError{Migration: s.m, Down: s.down, Err: err}
	}
	e.tables.Version, e.tables.Checksums = true, true
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

// record writes what a batch of steps did through the ledger, in one
// statement: goose's version rows, the checksum record and, when kept in
// step, golang-migrate's row. zeroRow adds goose's version-0 marker row to a
// version table just created.
func record(ctx context.Context, tx database.DBTxConn, batch []step, zeroRow bool, have ledger.Have) error {
	w := ledger.Write{Down: batch[0].down, ZeroRow: zeroRow && !batch[0].down, Have: have}
	for _, s := range batch {
		w.Entries = append(w.Entries, ledger.Entry{Version: s.m.Version, Name: s.m.Name, UpSHA256: s.m.UpSHA256, DownSHA256: s.m.DownSHA256})
	}
	return ledger.Record(ctx, tx, w)
}
