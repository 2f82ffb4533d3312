package runner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pressly/goose/v3/database"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// Up brings every target to version to (the set's latest when to < 0).
func (r *Runner) Up(ctx context.Context, targets []fleet.Target, to int64) *report.Report {
	if to < 0 {
		to = r.set.Latest()
	}
	return r.run(ctx, "up", targets, func(ctx context.Context, t fleet.Target, log *slog.Logger) report.Target {
		return r.upTarget(ctx, t, to, log)
	})
}

// upTarget migrates one target. All pending migrations and their version
// rows run in one transaction: PostgreSQL's DDL is transactional, so a
// failure anywhere leaves the target exactly as it was.
func (r *Runner) upTarget(ctx context.Context, t fleet.Target, to int64, log *slog.Logger) report.Target {
	res := report.Target{}
	sess, err := connect(ctx, t, r.settings, false)
	if err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	defer sess.close()

	if err := acquireLock(ctx, sess.conn, r.settings.LockWait); err != nil {
		status := report.StatusFailed
		if errors.Is(err, errLocked) {
			status = report.StatusLocked
		}
		return r.failure(ctx, t, res, status, err)
	}
	defer releaseLock(ctx, sess.conn)

	st, err := readState(ctx, r.store, sess.conn)
	if err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	res.FromVersion, res.ToVersion = st.current, st.current
	pending, err := pendingUp(r.set, st, to)
	if err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	if len(pending) == 0 {
		res.Status = report.StatusUpToDate
		return res
	}
	log.Debug("applying", "pending", len(pending), "from", st.current)

	applied, err := r.applyAtomic(ctx, sess.conn, st, pending)
	// Whatever happened, the version is read back from the database.
	now, rerr := r.readBack(ctx, t, sess)
	if err != nil {
		if rerr != nil {
			// The transaction's fate is unknown to us: say so rather than
			// claim a rollback we could not confirm.
			res.Status = report.StatusFailed
			res.Error = toReportError(t, fmt.Errorf("%w (and the version could not be read back: %v)", err, rerr))
			return res
		}
		res.ToVersion = now
		status := report.StatusRolledBack
		if interrupted(ctx) {
			status = report.StatusCancelled
		}
		return r.failure(ctx, t, res, status, err)
	}
	if rerr != nil {
		res.Status = report.StatusFailed
		res.Error = toReportError(t, fmt.Errorf("migrations committed, but the version could not be read back: %w", rerr))
		return res
	}
	res.Status = report.StatusApplied
	res.Applied = applied
	res.ToVersion = now
	return res
}

// failure records err on res with status s.
func (r *Runner) failure(ctx context.Context, t fleet.Target, res report.Target, s report.Status, err error) report.Target {
	if interrupted(ctx) && s != report.StatusLocked {
		s = report.StatusCancelled
	}
	res.Status = s
	res.Error = toReportError(t, cause(ctx, err))
	return res
}

// applyAtomic runs pending in one transaction with their version and
// checksum rows. goose runs each migration in a transaction of its own; one
// transaction for the whole batch is what makes a target all-or-nothing, so
// this loop is ours, while the version rows go through goose's store.
func (r *Runner) applyAtomic(ctx context.Context, conn *sql.Conn, st state, pending []*source.Migration) ([]report.Migration, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	if err := ensureTables(ctx, r.store, tx, st); err != nil {
		return nil, err
	}
	applied := make([]report.Migration, 0, len(pending))
	for _, m := range pending {
		t0 := time.Now()
		if _, err := tx.ExecContext(ctx, m.Up); err != nil {
			return nil, &MigrationError{Migration: m, Err: err}
		}
		if err := recordApplied(ctx, r.store, tx, m); err != nil {
			return nil, &MigrationError{Migration: m, Err: err}
		}
		ms := time.Since(t0).Milliseconds()
		applied = append(applied, report.Migration{Version: m.Version, Name: m.Name, DurationMS: &ms})
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return applied, nil
}

// ensureTables creates goose's version table (with its version-0 row, as
// goose does) when the target has none, and the checksum table.
func ensureTables(ctx context.Context, store database.StoreExtender, tx database.DBTxConn, st state) error {
	if !st.initialized {
		if err := store.CreateVersionTable(ctx, tx); err != nil {
			return err
		}
		if err := store.Insert(ctx, tx, database.InsertRequest{Version: 0}); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, createChecksumTable); err != nil {
		return fmt.Errorf("create %s: %w", ChecksumTable, err)
	}
	return nil
}

// recordApplied writes m's version row (goose's store) and its checksums.
func recordApplied(ctx context.Context, store database.StoreExtender, tx database.DBTxConn, m *source.Migration) error {
	if err := store.Insert(ctx, tx, database.InsertRequest{Version: m.Version}); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, upsertChecksum, m.Version, m.Name, m.UpSHA256, m.DownSHA256); err != nil {
		return fmt.Errorf("record checksum of version %d: %w", m.Version, err)
	}
	return nil
}

// readBack re-reads a target's version after work on it ended, on a context
// detached from cancellation. When the session is no longer usable (the
// connection was lost or the statement cancelled) it reads on a fresh one.
func (r *Runner) readBack(ctx context.Context, t fleet.Target, sess *session) (int64, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	v, err := currentVersion(ctx, r.store, sess.conn)
	if err == nil {
		return v, nil
	}
	fresh, cerr := connect(ctx, t, r.settings, true)
	if cerr != nil {
		return 0, errors.Join(err, cerr)
	}
	defer fresh.close()
	return currentVersion(ctx, r.store, fresh.conn)
}
