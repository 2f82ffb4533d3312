package runner

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
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
// database/sql; the *sql.Conn pins a single physical connection, so session
// settings, the advisory lock and the transaction all live on one backend.
type session struct {
	db   *sql.DB
	conn *sql.Conn
	pool *pool   // where close returns the session; nil: close ends it
	key  poolKey // the pool's key for it
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

// connect opens one connection to t with the run's session settings. They
// are sent as startup parameters, which costs no extra round trip and holds
// for every statement of the session, including those goose issues.
func connect(ctx context.Context, t fleet.Target, s Settings, readOnly bool) (*session, error) {
	return connectAs(ctx, t, s, readOnly, AppName(t.Name))
}

// connectAs is connect with a given application_name.
func connectAs(ctx context.Context, t fleet.Target, s Settings, readOnly bool, appName string) (*session, error) {
	cfg, err := pgx.ParseConfig(t.DSN)
	if err != nil {
		// The fleet was validated before the run; this only happens if a DSN
		// changed meaning between validation and use.
		return nil, fmt.Errorf("dsn of target %q is not valid", t.Name)
	}
	if s.ConnectTimeout > 0 {
		cfg.ConnectTimeout = s.ConnectTimeout
	}
	params := cfg.RuntimeParams
	params["application_name"] = appName
	params["lock_timeout"] = millis(s.LockTimeout)
	params["statement_timeout"] = millis(s.StatementTimeout)
	params["idle_in_transaction_session_timeout"] = millis(s.IdleInTransactionTimeout)
	if readOnly {
		params["default_transaction_read_only"] = "on"
	}
	// Cancellation must reach the server: a cancel request stops the running
	// statement there, where closing the socket alone would leave the backend
	// working (and holding locks) until it next writes to the client.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 5 * time.Second}
	}
	// Every statement we send is either migration text (which needs the
	// simple protocol to hold several statements) or carries only integers
	// and hex strings we produced; one round trip each.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol

	db := sql.OpenDB(stdlib.GetConnector(*cfg))
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &session{db: db, conn: conn}, nil
}

// close ends the session (the server releases session advisory locks with
// it) or, for a pooled session that still answers, returns it to its pool.
func (s *session) close() {
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
	s.conn.Close()
	s.db.Close()
}

func millis(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10)
}
