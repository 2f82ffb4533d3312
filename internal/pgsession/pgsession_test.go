package pgsession

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

func TestSetExprs(t *testing.T) {
	o := Options{LockTimeout: 2 * time.Second, StatementTimeout: time.Minute, IdleInTransactionTimeout: 10 * time.Minute,
		StallTimeout: 30 * time.Second, ReadOnly: true}
	got := strings.Join(o.SetExprs(nil, true), ", ")
	want := "set_config('lock_timeout', '2000', true), set_config('statement_timeout', '60000', true), " +
		"set_config('idle_in_transaction_session_timeout', '30000', true)"
	if got != want {
		t.Errorf("local: %s\nwant   %s", got, want)
	}
	session := strings.Join(o.SetExprs(nil, false), ", ")
	if !strings.Contains(session, "set_config('default_transaction_read_only', 'on', false)") {
		t.Errorf("a read-only session is not set read-only: %s", session)
	}
	short := Options{IdleInTransactionTimeout: time.Second}
	if got := short.SetExprs(nil, true); len(got) != 1 || got[0] != "set_config('idle_in_transaction_session_timeout', '1000', true)" {
		t.Errorf("a shorter idle timeout than the stall bound is kept: %v", got)
	}
	if (Options{}).Stall() != DefaultStallTimeout {
		t.Error("the default stall bound")
	}
}

func TestMeterSilent(t *testing.T) {
	var m Meter
	now := time.Now()
	if m.Silent(now) != 0 {
		t.Error("a fresh meter is waiting")
	}
	m.lastWrite.Store(now.Add(-3 * time.Second).UnixNano())
	if s := m.Silent(now); s < 3*time.Second {
		t.Errorf("silent %s after a write with no answer", s)
	}
	m.lastRead.Store(now.Add(-time.Second).UnixNano())
	if m.Silent(now) != 0 {
		t.Error("an answered write still counts as waiting")
	}
}

// TestConnect: a session dialed here carries application_name as its only
// startup parameter and the limits as SET, client_connection_check_interval
// included on PostgreSQL 14 and later.
func TestConnect(t *testing.T) {
	dsn := pgtest.Shared(t).DSN
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, m, err := Connect(ctx, dsn, Options{AppName: "orchestrator:pgsession-test", LockTimeout: 1500 * time.Millisecond, StallTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var app, lt, idle, check string
	var major int
	if err := conn.QueryRow(ctx, `SELECT current_setting('application_name'), current_setting('lock_timeout'),
		current_setting('idle_in_transaction_session_timeout'), coalesce(current_setting('client_connection_check_interval', true), ''),
		current_setting('server_version_num')::int / 10000`).Scan(&app, &lt, &idle, &check, &major); err != nil {
		t.Fatal(err)
	}
	if app != "orchestrator:pgsession-test" || lt != "1500ms" || idle != "20s" {
		t.Errorf("application_name %q, lock_timeout %q, idle_in_transaction_session_timeout %q", app, lt, idle)
	}
	if major >= 14 && check != "2s" {
		t.Errorf("client_connection_check_interval %q on PostgreSQL %d, want 2s", check, major)
	}
	if ServerMajor(conn.PgConn()) != major {
		t.Errorf("ServerMajor = %d, want %d", ServerMajor(conn.PgConn()), major)
	}
	if m.lastRead.Load() == 0 || m.Silent(time.Now()) != 0 {
		t.Error("the meter did not see the session's traffic")
	}
}
