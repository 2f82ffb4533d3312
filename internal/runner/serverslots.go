package runner

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
)

// tooManyConnectionsWait bounds how long a target keeps retrying a server
// that answers 53300 (too many connections) before it is reported failed.
const tooManyConnectionsWait = 30 * time.Second

// open connects to t, retrying with backoff while the server has no free
// connection slot (SQLSTATE 53300): another client's burst should delay a
// target, not fail it.
func (r *Runner) open(ctx context.Context, t fleet.Target, readOnly bool) (*session, error) {
	var s *session
	var err error
	if t.Schema != "" {
		s, err = r.openSchema(ctx, t, readOnly)
	} else {
		s, err = r.dial(ctx, t, readOnly)
	}
	if err == nil {
		watch(ctx, s)
	}
	return s, err
}

// dial opens a new session to t's database.
func (r *Runner) dial(ctx context.Context, t fleet.Target, readOnly bool) (*session, error) {
	appName := AppName(t.Name)
	if t.Schema != "" {
		appName = AppName(t.DatabaseKey())
	}
	deadline := time.Now().Add(tooManyConnectionsWait)
	pause := 100 * time.Millisecond
	for {
		s, err := connectAs(ctx, t, r.settings, readOnly, appName)
		if err == nil || !tooManyConnections(err) || time.Now().Add(pause).After(deadline) {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(pause/2 + rand.N(pause)):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

func tooManyConnections(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "53300" || pgErr.Code == "53400")
}

// freeConnections asks a server how many more client connections it takes.
func (r *Runner) freeConnections(ctx context.Context, t fleet.Target) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := connectAs(ctx, t, r.settings, true, AppName(t.Name))
	if err != nil {
		return 0, err
	}
	defer s.close()
	var free int
	err = s.conn.QueryRowContext(ctx, `SELECT current_setting('max_connections')::int
	- current_setting('superuser_reserved_connections')::int
	- coalesce(current_setting('reserved_connections', true)::int, 0)
	- (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int`).Scan(&free)
	// This session is counted as in use but ends before the run starts.
	return free + 1, err
}
