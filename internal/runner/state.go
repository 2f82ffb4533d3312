package runner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"

	"github.com/orchestrator-dev/orchestrator/internal/ledger"
)

// lockKey is the advisory lock key taken per target. It is goose's own
// default key, so a goose run and ours on the same database exclude each
// other too.
const lockKey = lock.DefaultLockID

// errLocked reports that another session held the target's advisory lock
// for the whole lock wait.
var errLocked = errors.New("another run holds the target's migration lock")

// acquireLock takes the target's advisory lock by polling
// pg_try_advisory_lock, never a blocking pg_advisory_lock: a blocking wait
// would sit behind a stuck run forever, and it could not tell "held by
// another run" apart from any other error. goose's session locker polls too,
// but it gives up with an untyped error; the report needs `locked` as an
// outcome of its own. The same query says which bookkeeping tables exist,
// as seen under the lock, which saves a round trip per target.
func acquireLock(ctx context.Context, conn *sql.Conn, key int64, wait time.Duration) (ledger.Presence, error) {
	deadline := time.Now().Add(wait)
	pause := 25 * time.Millisecond
	for {
		var ok bool
		dest, presence := ledger.PresenceDest()
		err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1), "+ledger.PresenceExprs, key).Scan(append([]any{&ok}, dest...)...)
		have := presence()
		if err != nil {
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

// state is what a target's bookkeeping tables say.
type state struct {
	initialized bool           // the version table exists
	checksums   bool           // the checksum table exists
	applied     map[int64]bool // versions currently applied (0 excluded)
	current     int64          // highest applied version, 0 when none
	book        ledger.State   // everything read, to tell who manages the target
}

// fromLedger folds what the ledger read into a state.
func fromLedger(ls ledger.State) state {
	st := state{initialized: ls.Version, checksums: ls.Checksums, applied: map[int64]bool{}, current: ls.Current, book: ls}
	for _, a := range ls.Applied {
		st.applied[a.Version] = true
	}
	return st
}

// readState reads which bookkeeping tables exist, then their rows.
func readState(ctx context.Context, db database.DBTxConn) (state, error) {
	ls, err := ledger.Read(ctx, db)
	return fromLedger(ls), err
}

// readVersionRows reads the rows of the tables have says exist.
func readVersionRows(ctx context.Context, db database.DBTxConn, have ledger.Presence) (state, error) {
	ls, err := ledger.ReadRows(ctx, db, have)
	return fromLedger(ls), err
}

// currentVersion re-reads the highest applied version: what a report states
// as to_version is read back from the database, never assumed.
func currentVersion(ctx context.Context, db database.DBTxConn) (int64, error) {
	st, err := readState(ctx, db)
	return st.current, err
}
