package runner

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/pgsession"
)

// appNamePrefix starts the application_name of every session the tool opens,
// so an operator can find (and a test can count) our backends in
// pg_stat_activity.
const appNamePrefix = "orchestrator"

// maxIdentifierLen is PostgreSQL's NAMEDATALEN-1: longer application_name
// values are silently truncated by the server; we truncate first so the name
// we report is the name the server shows.
const maxIdentifierLen = 63

// session is one connection to one target. database/sql is used (through
// pgx's stdlib driver) because goose's version-table store speaks
// database/sql; the *sql.Conn pins a single physical connection, so the
// lock, the transaction and the statements all live on one client
// connection. Statements of migrations run on pgx's native connection
// underneath (see native), which reports the transaction status with every
// ReadyForQuery.
type session struct {
	db    *sql.DB
	conn  *sql.Conn
	opts  pgsession.Options
	meter *pgsession.Meter
	pool  *pool   // where close returns the session; nil: close ends it
	key   poolKey // the pool's key for it
	// pid is the server backend of the session, as last seen: a
	// transaction pooler may move the session between transactions, so
	// each lock query refreshes it.
	pid     atomic.Uint32
	watcher *watchdog // the watchdog the session is under; nil for none
}

// AppName is the application_name the tool's sessions carry for target name.
func AppName(target string) string {
	s := appNamePrefix + ":" + target
	for len(s) > maxIdentifierLen {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// sessionOptions are the pgsession options of the run for appName.
func sessionOptions(s fleet.Defaults, appName string, readOnly bool) pgsession.Options {
	return pgsession.Options{
		AppName:                  appName,
		ConnectTimeout:           s.ConnectTimeout,
		LockTimeout:              s.LockTimeout,
		StatementTimeout:         s.StatementTimeout,
		IdleInTransactionTimeout: s.IdleInTransactionTimeout,
		StallTimeout:             s.StallTimeout,
		ReadOnly:                 readOnly,
	}
}

// connectAs opens one connection to t with a given application_name, the
// only startup parameter (a transaction pooler refuses others). The
// session's limits are sent as SQL by whoever uses it: SET LOCAL inside
// each transaction, SET for work outside one.
func connectAs(ctx context.Context, t fleet.Target, s fleet.Defaults, readOnly bool, appName string) (*session, error) {
	opts := sessionOptions(s, appName, readOnly)
	cfg, meter, err := pgsession.Config(t.DSN, opts)
	if err != nil {
		// The fleet was validated before the run; this only happens if a DSN
		// changed meaning between validation and use.
		return nil, fmt.Errorf("dsn of target %q is not valid", t.Name)
	}
	db := sql.OpenDB(stdlib.GetConnector(*cfg))
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	sess := &session{db: db, conn: conn, opts: opts, meter: meter}
	_ = sess.native(func(c *pgx.Conn) error {
		sess.pid.Store(c.PgConn().PID())
		return nil
	})
	return sess, nil
}

// native runs fn on pgx's own connection under the session.
func (s *session) native(fn func(*pgx.Conn) error) error {
	return s.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		return fn(c.Conn())
	})
}

// setQuery is the query that applies the session's limits (pgsession's
// SetQuery), local to the transaction or for the session.
func (s *session) setQuery(local bool) string {
	var q string
	_ = s.native(func(c *pgx.Conn) error {
		q = s.opts.SetQuery(c.PgConn(), local)
		return nil
	})
	return q
}

// setSession applies the session's limits for the session (SET), for work
// outside a transaction of ours.
func (s *session) setSession(ctx context.Context) error {
	if _, err := s.conn.ExecContext(ctx, s.setQuery(false)); err != nil {
		return fmt.Errorf("session settings: %w", err)
	}
	return nil
}

// close ends the session (the server releases session advisory locks with
// it) or, for a pooled session that still answers, returns it to its pool.
func (s *session) close() {
	s.unwatch()
	if s.pool != nil {
		// A connection that died while borrowed is noticed, and replaced,
		// by the next borrower's first query.
		s.pool.put(s)
		return
	}
	s.discard()
}

// discard ends the session whatever its pool.
func (s *session) discard() {
	s.unwatch()
	s.conn.Close()
	s.db.Close()
}
