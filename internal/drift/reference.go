package drift

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/orchestrator-dev/orchestrator/internal/apply"
	"github.com/orchestrator-dev/orchestrator/internal/pgsession"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// ScratchPrefix starts the name of every scratch database a Reference
// creates, so that one left behind (the server died mid-build) is easy to
// find: SELECT datname FROM pg_database WHERE datname LIKE 'orch\_scratch\_%'.
const ScratchPrefix = "orch_scratch_"

// ErrNoScratch reports that the server refused to create a scratch
// database: the user lacks CREATEDB (SQLSTATE 42501), or the server is
// read-only (25006). Callers fall back to comparing targets with each
// other (Peers) and say so. The server's *pgconn.PgError stays reachable
// with errors.As. A server that cannot be reached is not ErrNoScratch.
var ErrNoScratch = errors.New("cannot create a scratch database")

// dropTimeout bounds dropping a scratch database, which runs even after the
// caller's context is done.
const dropTimeout = 30 * time.Second

// Reference builds the schema the migration set produces at a version, by
// applying the set to a scratch database, reading its snapshot and dropping
// it. Each version is built once and remembered; concurrent callers asking
// for the same version wait for the one build. It is safe for concurrent
// use. Each build in progress holds two connections to the server, one to
// create and drop the scratch database and one inside it.
type Reference struct {
	serverDSN string
	set       *source.Set
	// created, when set, is told the name of each scratch database right
	// after it is created; tests use it to check that they are dropped.
	created func(name string)

	mu     sync.Mutex
	builds map[int64]*build
	live   map[string]bool // scratch databases created and not yet dropped
}

// build is one version's snapshot, being built or built.
type build struct {
	done chan struct{} // closed when the fields below are set
	snap *Snapshot
	err  error
	// retry is set when the build failed because its caller's context
	// ended: those waiting for it build again with their own.
	retry bool
}

// NewReference returns a Reference for set that creates its scratch
// databases on the server of serverDSN, which names any database there
// where the user may run CREATE DATABASE. Nothing is connected until At.
func NewReference(serverDSN string, set *source.Set) *Reference {
	return &Reference{serverDSN: serverDSN, set: set, builds: map[int64]*build{}, live: map[string]bool{}}
}

// At returns the snapshot of the "public" schema of a fresh database (made
// from the server's default template) after the ups of every migration
// with a version up to version have run. A version the set does not have
// gives the schema at the highest version below it; 0 gives the template's.
//
// The result is built once per version and shared: do not modify it. A
// failure is remembered too when it would happen again (a migration that
// fails, a server that refuses CREATE DATABASE); other failures (the server
// unreachable, the caller's context ended) are retried by the next call.
// The error wraps ErrNoScratch when the server refused CREATE DATABASE.
func (r *Reference) At(ctx context.Context, version int64) (*Snapshot, error) {
	v := r.effective(version)
	for {
		r.mu.Lock()
		b, ok := r.builds[v]
		if !ok {
			b = &build{done: make(chan struct{})}
			r.builds[v] = b
			r.mu.Unlock()
			var final bool
			b.snap, final, b.err = r.build(ctx, v)
			if b.err != nil && !final {
				r.mu.Lock()
				delete(r.builds, v)
				r.mu.Unlock()
				b.retry = ctx.Err() != nil
			}
			close(b.done)
			return b.snap, b.err
		}
		r.mu.Unlock()
		select {
		case <-b.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if !b.retry {
			return b.snap, b.err
		}
	}
}

// effective returns the highest version of the set not above version, 0
// when there is none: versions with the same migrations share a build.
func (r *Reference) effective(version int64) int64 {
	var v int64
	for _, m := range r.set.Migrations {
		if m.Version > version {
			break
		}
		v = m.Version
	}
	return v
}

// Close drops any scratch database still on the server because its drop
// failed during At, and reports what it cannot drop. It does not stop
// builds in progress; those drop their own databases.
func (r *Reference) Close(ctx context.Context) error {
	r.mu.Lock()
	names := make([]string, 0, len(r.live))
	for name := range r.live {
		names = append(names, name)
	}
	r.mu.Unlock()
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	cfg, err := r.config()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		errs = append(errs, r.drop(ctx, nil, cfg, name))
	}
	return errors.Join(errs...)
}

// config parses the server DSN. The error does not quote it: a DSN never
// reaches an error message.
func (r *Reference) config() (*pgx.ConnConfig, error) {
	cfg, _, err := pgsession.Config(r.serverDSN, pgsession.Options{})
	if err != nil {
		return nil, errors.New("reference server: invalid connection string")
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "orchestrator drift"
	}
	return cfg, nil
}

// build creates a scratch database, applies the set up to version v, reads
// its snapshot and drops it, whatever happened in between. final reports
// that the outcome would be the same on every later call: a snapshot, a
// refused CREATE DATABASE, a migration that fails.
func (r *Reference) build(ctx context.Context, v int64) (snap *Snapshot, final bool, err error) {
	cfg, err := r.config()
	if err != nil {
		return nil, false, err
	}
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, false, fmt.Errorf("reference server: %w", err)
	}
	defer closeConn(ctx, admin)

	name, err := scratchName()
	if err != nil {
		return nil, false, err
	}
	r.track(name, true)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// The server answered: the database does not exist.
		r.track(name, false)
		if pgErr.Code == "42501" || pgErr.Code == "25006" { // insufficient_privilege, read_only_sql_transaction
			return nil, true, fmt.Errorf("%w: %w", ErrNoScratch, err)
		}
		return nil, false, fmt.Errorf("create scratch database: %w", err)
	}
	// On any other error the CREATE may or may not have run: drop anyway.
	// A failed drop leaves the name in r.live, for Close to retry and
	// report; the snapshot, read before, is good either way.
	defer func() { _ = r.drop(ctx, admin, cfg, name) }()
	if err != nil {
		return nil, false, fmt.Errorf("create scratch database: %w", err)
	}
	if r.created != nil {
		r.created(name)
	}

	scfg := cfg.Copy()
	scfg.Database = name
	// The set is written for the default schema: whatever the DSN sets,
	// its objects belong in public.
	scfg.RuntimeParams["search_path"] = "public"
	conn, err := pgx.ConnectConfig(ctx, scfg)
	if err != nil {
		return nil, false, fmt.Errorf("connect to scratch database: %w", err)
	}
	defer closeConn(ctx, conn)
	if err := applyUps(ctx, conn, r.set, v); err != nil {
		// A migration that fails fails again; unless it was cut short.
		return nil, ctx.Err() == nil && !isConnError(err), fmt.Errorf("reference at version %d: %w", v, err)
	}
	if snap, err = ReadSnapshot(ctx, conn, "public"); err != nil {
		return nil, false, fmt.Errorf("reference at version %d: %w", v, err)
	}
	return snap, true, nil
}

// isConnError reports whether err is a failure of the connection rather
// than an error the server returned for the SQL, or a statement that ended
// the transaction it ran in.
func isConnError(err error) bool {
	var pgErr *pgconn.PgError
	var ended *apply.TxEndedError
	return !errors.As(err, &pgErr) && !errors.As(err, &ended)
}

// applyUps runs the up sections of set's migrations up to version v as up
// runs them, through package apply: consecutive transactional migrations in
// one transaction, a NO TRANSACTION one on its own, statement by statement
// (CREATE INDEX CONCURRENTLY cannot run in a transaction). The database is
// thrown away afterwards, so nothing needs undoing on failure.
func applyUps(ctx context.Context, conn *pgx.Conn, set *source.Set, v int64) error {
	var ms []*source.Migration
	for _, m := range set.Migrations {
		if m.Version > v {
			break
		}
		ms = append(ms, m)
	}
	for _, batch := range apply.Batches(ms, func(m *source.Migration) bool { return m.NoTx }, true) {
		inTx := !batch[0].NoTx
		if inTx {
			if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
				return fmt.Errorf("begin: %w", err)
			}
		}
		for _, m := range batch {
			if _, err := apply.Run(ctx, conn, m, false); err != nil {
				var me *apply.MigrationError
				if errors.As(err, &me) {
					if err = me.Err; me.Line > 0 {
						err = fmt.Errorf("line %d: %w", me.Line, me.Err)
					}
				}
				return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
			}
		}
		if inTx {
			if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
				return fmt.Errorf("commit: %w", err)
			}
		}
	}
	return nil
}

// drop drops the scratch database name, through admin when it is still
// usable, else through a new connection. It runs on a context detached from
// ctx's cancellation, so that an interrupted build still cleans up.
func (r *Reference) drop(ctx context.Context, admin *pgx.Conn, cfg *pgx.ConnConfig, name string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dropTimeout)
	defer cancel()
	if admin == nil || admin.IsClosed() {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return fmt.Errorf("drop scratch database %s: %w", name, err)
		}
		defer closeConn(ctx, conn)
		admin = conn
	}
	// FORCE ends the sessions still in it (PostgreSQL 13 and later).
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop scratch database %s: %w", name, err)
	}
	r.track(name, false)
	return nil
}

// track records that the scratch database name exists (or no longer does).
func (r *Reference) track(name string, exists bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if exists {
		r.live[name] = true
	} else {
		delete(r.live, name)
	}
}

// scratchName returns a new scratch database name: ScratchPrefix and 16
// random hex digits, lower case so that it never needs quoting.
func scratchName() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("scratch database name: %w", err)
	}
	return ScratchPrefix + hex.EncodeToString(b[:]), nil
}

// closeConn closes conn on a context detached from ctx's cancellation.
func closeConn(ctx context.Context, conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
