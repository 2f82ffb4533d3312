// Package pgsession sets up every connection the tool opens to PostgreSQL,
// the same way for the runner, discovery and drift: dialing with TCP
// keepalives and tcp_user_timeout (a dead peer is noticed in seconds, not
// after the kernel's two hours), application_name as the only startup
// parameter (what a pooler such as PgBouncer accepts), cancellation that
// reaches the server, and the session's limits sent as SQL: SET for the
// session, or SET LOCAL inside a transaction, which is what survives a
// transaction pooler. A Meter on each connection says when the server last
// sent a byte, for the stall watchdog.
package pgsession

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// Keepalive and dead-peer bounds of every connection.
const (
	keepAliveIdle     = 15 * time.Second
	keepAliveInterval = 5 * time.Second
	keepAliveCount    = 3
	// TCPUserTimeout bounds how long sent data may stay unacknowledged
	// before the kernel gives the connection up.
	TCPUserTimeout = 30 * time.Second
	// CheckInterval is client_connection_check_interval (PostgreSQL 14+):
	// a backend whose client went away stops its statement within it.
	CheckInterval = 2 * time.Second
	// DefaultStallTimeout is the stall bound when none is configured.
	DefaultStallTimeout = 60 * time.Second
)

// Options are what a session is opened with.
type Options struct {
	AppName                  string
	ConnectTimeout           time.Duration
	LockTimeout              time.Duration // lock_timeout; 0 leaves the server's
	StatementTimeout         time.Duration // statement_timeout; 0 leaves the server's
	IdleInTransactionTimeout time.Duration // idle_in_transaction_session_timeout, at most StallTimeout
	StallTimeout             time.Duration // the stall bound; DefaultStallTimeout when 0
	ReadOnly                 bool          // default_transaction_read_only for the session
	// ExtendedProtocol sends one unprepared extended-protocol statement per
	// query (a query can then hold one statement only); the simple protocol
	// otherwise, which migrations with several statements need.
	ExtendedProtocol bool
}

// Stall returns the stall bound in force.
func (o Options) Stall() time.Duration {
	if o.StallTimeout > 0 {
		return o.StallTimeout
	}
	return DefaultStallTimeout
}

// idleInTx is idle_in_transaction_session_timeout: the configured one, but
// never longer than the stall bound, so the server frees a stalled
// session's locks even when no probe gets through to it.
func (o Options) idleInTx() time.Duration {
	if o.IdleInTransactionTimeout > 0 && o.IdleInTransactionTimeout < o.Stall() {
		return o.IdleInTransactionTimeout
	}
	return o.Stall()
}

// Config parses dsn into a pgx configuration with the tool's dialing and
// protocol choices, and returns the meter of the connection it dials. The
// error never quotes the DSN.
func Config(dsn string, o Options) (*pgx.ConnConfig, *Meter, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("the DSN does not parse")
	}
	if o.ConnectTimeout > 0 {
		cfg.ConnectTimeout = o.ConnectTimeout
	}
	if o.AppName != "" {
		cfg.RuntimeParams["application_name"] = o.AppName
	}
	m := &Meter{}
	dialer := &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: keepAliveIdle, Interval: keepAliveInterval, Count: keepAliveCount},
		Control:         setUserTimeout,
	}
	timeout := cfg.ConnectTimeout
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return m.wrap(c), nil
	}
	// Cancellation must reach the server: a cancel request stops the
	// running statement there, where closing the socket alone would leave
	// the backend working (and holding locks) until it next writes.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 5 * time.Second}
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	if o.ExtendedProtocol {
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	return cfg, m, nil
}

// Connect dials dsn and sets the session's limits with SET.
func Connect(ctx context.Context, dsn string, o Options) (*pgx.Conn, *Meter, error) {
	cfg, m, err := Config(dsn, o)
	if err != nil {
		return nil, nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.Exec(ctx, o.SetQuery(conn.PgConn(), false)); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, nil, fmt.Errorf("session settings: %w", err)
	}
	return conn, m, nil
}

// SetExprs returns the set_config calls that apply o on pc's server, for a
// select list: local ones last until the transaction ends (SET LOCAL),
// others for the session. client_connection_check_interval is set on
// PostgreSQL 14 and later only.
func (o Options) SetExprs(pc *pgconn.PgConn, local bool) []string {
	var out []string
	set := func(name, value string) {
		out = append(out, fmt.Sprintf("set_config('%s', '%s', %t)", name, value, local))
	}
	if o.LockTimeout > 0 {
		set("lock_timeout", millis(o.LockTimeout))
	}
	if o.StatementTimeout > 0 {
		set("statement_timeout", millis(o.StatementTimeout))
	}
	set("idle_in_transaction_session_timeout", millis(o.idleInTx()))
	if ServerMajor(pc) >= 14 {
		set("client_connection_check_interval", millis(CheckInterval))
	}
	if o.ReadOnly && !local {
		set("default_transaction_read_only", "on")
	}
	return out
}

// SetQuery is SetExprs as one query.
func (o Options) SetQuery(pc *pgconn.PgConn, local bool) string {
	return "SELECT " + strings.Join(o.SetExprs(pc, local), ", ")
}

// ServerMajor is the server's major version from its server_version
// parameter; 0 when it cannot say.
func ServerMajor(pc *pgconn.PgConn) int {
	if pc == nil {
		return 0
	}
	v := pc.ParameterStatus("server_version")
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		v = v[:end]
	}
	n, _ := strconv.Atoi(v)
	return n
}

func millis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// Meter records when a connection last sent and received bytes. Safe for
// concurrent use.
type Meter struct {
	lastRead  atomic.Int64 // unix nanoseconds
	lastWrite atomic.Int64
	conn      atomic.Pointer[meteredConn]
}

// Silent reports how long the server has sent nothing while the
// connection waits for it; 0 when it is not waiting.
func (m *Meter) Silent(now time.Time) time.Duration {
	w, r := m.lastWrite.Load(), m.lastRead.Load()
	if w == 0 || r >= w {
		return 0
	}
	return now.Sub(time.Unix(0, w))
}

// Sever closes the connection's socket, so whatever waits on it returns.
func (m *Meter) Sever() {
	if c := m.conn.Load(); c != nil {
		c.Conn.Close()
	}
}

// wrap meters the first connection dialed with the meter's config: the
// session's own. Later ones (cancel requests) are left alone.
func (m *Meter) wrap(c net.Conn) net.Conn {
	mc := &meteredConn{Conn: c, m: m}
	if !m.conn.CompareAndSwap(nil, mc) {
		return c
	}
	return mc
}

type meteredConn struct {
	net.Conn
	m *Meter
}

func (c *meteredConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.m.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *meteredConn) Write(b []byte) (int, error) {
	c.m.lastWrite.Store(time.Now().UnixNano())
	return c.Conn.Write(b)
}
