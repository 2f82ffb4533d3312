package runner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

// VersionTable is goose's version table name: sharing it means `goose
// status` on a target agrees with us, and a fleet already migrated by goose
// is adopted without a baseline step.
const VersionTable = "goose_db_version"

// ChecksumTable is the companion record of what each applied migration's
// text was, so drift can tell a file edited after it was applied. goose's
// table has no room for it, and adding columns to goose's table would break
// goose's own expectations of it.
const ChecksumTable = "orchestrator_migrations"

// The column types are bounded so that rows can never need TOAST: the
// server then creates no TOAST table and index beside it, which is most of
// the cost of creating the table on every new tenant.
const createChecksumTable = `CREATE TABLE IF NOT EXISTS ` + ChecksumTable + ` (
	version_id  bigint PRIMARY KEY,
	name        varchar(255) NOT NULL,
	up_sha256   char(64) NOT NULL,
	down_sha256 varchar(64) NOT NULL,
	applied_at  timestamptz NOT NULL DEFAULT now(),
	applied_by  varchar(63) NOT NULL DEFAULT current_setting('application_name')
)`

// lockKey is the advisory lock key taken per target. It is goose's own
// default key, so a goose run and ours on the same database exclude each
// other too.
const lockKey = lock.DefaultLockID

// errLocked reports that another session held the target's advisory lock
// for the whole lock wait.
var errLocked = errors.New("another run holds the target's migration lock")

// newStore returns goose's PostgreSQL version-table store.
func newStore() (database.StoreExtender, error) {
	st, err := database.NewStore(database.DialectPostgres, VersionTable)
	if err != nil {
		return nil, err
	}
	ext, ok := st.(database.StoreExtender)
	if !ok {
		return nil, fmt.Errorf("goose store %T cannot check whether its table exists", st)
	}
	return ext, nil
}

// acquireLock takes the target's advisory lock by polling
// pg_try_advisory_lock, never a blocking pg_advisory_lock: a blocking wait
// would sit behind a stuck run forever, and it could not tell "held by
// another run" apart from any other error. goose's session locker polls too,
// but it gives up with an untyped error; the report needs `locked` as an
// outcome of its own. The same query says which of the tool's tables
// exist, as seen under the lock, which saves a round trip per target.
func acquireLock(ctx context.Context, conn *sql.Conn, key int64, wait time.Duration) (tables, error) {
	deadline := time.Now().Add(wait)
	pause := 25 * time.Millisecond
	for {
		var ok bool
		var have tables
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1), "+tablesExprs, key).Scan(&ok, &have.version, &have.checksums); err != nil {
			return have, fmt.Errorf("take advisory lock: %w", err)
		}
		if ok {
			return have, nil
		}
		if !time.Now().Add(pause).Before(deadline) {
			return have, errLocked
		}
		select {
		case <-ctx.Done():
			return have, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(pause*2, time.Second)
	}
}

// releaseLock gives the advisory lock back. It runs on a context detached
// from cancellation, so an interrupted run still unlocks; closing the
// session would release it too, this only makes it prompt.
func releaseLock(ctx context.Context, conn *sql.Conn, key int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", key)
}

// state is what a target's version table says.
type state struct {
	initialized bool           // the version table exists
	checksums   bool           // the checksum table exists
	applied     map[int64]bool // versions currently applied (0 excluded)
	current     int64          // highest applied version, 0 when none
}

// tablesExprs say whether the tool's tables exist in the session's current
// schema (the tenant's, for schema-per-tenant). to_regclass on the qualified
// name is a catalog cache lookup; the pg_tables view goose's TableExists
// reads costs a plan and a scan on every fresh session.
const tablesExprs = `to_regclass(quote_ident(current_schema()) || '.` + VersionTable + `') IS NOT NULL,
	to_regclass(quote_ident(current_schema()) || '.` + ChecksumTable + `') IS NOT NULL`

// readState reads which of the tool's tables exist, then the version rows.
func readState(ctx context.Context, store database.StoreExtender, db database.DBTxConn) (state, error) {
	var have tables
	if err := db.QueryRowContext(ctx, "SELECT "+tablesExprs).Scan(&have.version, &have.checksums); err != nil {
		return state{applied: map[int64]bool{}}, fmt.Errorf("read version table: %w", err)
	}
	return readVersionRows(ctx, store, db, have)
}

// readVersionRows reads, with goose's store, the version rows newest first,
// when the version table exists. As in goose, the newest row of a version
// says whether it is applied.
func readVersionRows(ctx context.Context, store database.StoreExtender, db database.DBTxConn, have tables) (state, error) {
	st := state{initialized: have.version, checksums: have.checksums, applied: map[int64]bool{}}
	if !st.initialized {
		return st, nil
	}
	rows, err := store.ListMigrations(ctx, db)
	if err != nil {
		return st, fmt.Errorf("read version table: %w", err)
	}
	seen := map[int64]bool{}
	for _, r := range rows {
		if seen[r.Version] {
			continue
		}
		seen[r.Version] = true
		if r.IsApplied && r.Version != 0 {
			st.applied[r.Version] = true
			st.current = max(st.current, r.Version)
		}
	}
	return st, nil
}

// currentVersion re-reads the highest applied version: what a report states
// as to_version is read back from the database, never assumed.
func currentVersion(ctx context.Context, store database.StoreExtender, db database.DBTxConn) (int64, error) {
	st, err := readState(ctx, store, db)
	return st.current, err
}
