package runner

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/orchestrator-dev/orchestrator/internal/apply"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/schedule"
)

// Error classes in reports: what kind of trouble, for alert routing.
const (
	ClassLockTimeout      = "lock_timeout"
	ClassDeadlock         = "deadlock"
	ClassSyntax           = "syntax"
	ClassAuth             = "auth"
	ClassUnreachable      = "unreachable"
	ClassMissingDatabase  = "missing_database"
	ClassResource         = "resource"
	ClassConnectionLost   = "connection_lost"
	ClassStatementTimeout = "statement_timeout"
	ClassTimeout          = "timeout"
	ClassConflict         = "conflict"
	ClassLocked           = "locked"
	ClassVersion          = "version"
	ClassHalted           = schedule.ClassHalted
	ClassCancelled        = "cancelled"
	ClassTxControl        = "transaction_control"
	ClassPooler           = "pooler"
	ClassInvalidIndex     = "invalid_index"
	ClassStalled          = "stalled"
	ClassOther            = schedule.ClassOther
)

// classify names the kind of an error from its SQLSTATE or its Go type.
func classify(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return classifySQLState(pgErr.Code)
	}
	var ooo *OutOfOrderError
	var ve *VersionError
	var te *apply.TxEndedError
	var pe *PoolerError
	var ie *InvalidIndexError
	var se *StallError
	switch {
	case errors.As(err, &te):
		return ClassTxControl
	case errors.As(err, &pe):
		return ClassPooler
	case errors.As(err, &ie):
		return ClassInvalidIndex
	case errors.As(err, &se):
		return ClassStalled
	case errors.As(err, &ve):
		return ClassVersion
	case errors.Is(err, errLocked):
		return ClassLocked
	case errors.As(err, &ooo):
		return ClassVersion
	case errors.Is(err, context.DeadlineExceeded):
		return ClassTimeout
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return ClassUnreachable
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, driver.ErrBadConn) {
		return ClassConnectionLost
	}
	return ClassOther
}

func classifySQLState(code string) string {
	switch {
	case code == "55P03":
		return ClassLockTimeout
	case code == "40P01":
		return ClassDeadlock
	case code == "57014":
		return ClassStatementTimeout
	case code == "3D000":
		return ClassMissingDatabase
	case code == "28P01" || code == "28000":
		return ClassAuth
	case code == "57P01" || code == "57P02" || code == "57P03" || strings.HasPrefix(code, "08"):
		return ClassConnectionLost
	case strings.HasPrefix(code, "53"):
		return ClassResource
	case code == "42601" || code == "42000":
		return ClassSyntax
	case code == "42P07" || code == "42710" || code == "42701" || code == "23505":
		return ClassConflict
	}
	return ClassOther
}

// toReportError turns err into the report's error, scrubbed of the target's
// DSN and password. A failing migration is named; a PostgreSQL error keeps
// its SQLSTATE, detail and hint, and its position becomes a line number in
// the migration file.
func toReportError(t fleet.Target, err error) *report.Error {
	e := &report.Error{Class: classify(err), Message: err.Error()}
	var me *apply.MigrationError
	if errors.As(err, &me) {
		e.Version = me.Migration.Version
		e.Name = me.Migration.Name
		e.Message = me.Where() + me.Err.Error()
		if me.Line > 0 {
			e.Line = me.Line
		}
	}
	var remedied interface{ Remedy() string }
	if errors.As(err, &remedied) {
		e.Remedy = remedied.Remedy()
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		e.SQLState = pgErr.Code
		e.Message = pgErr.Message
		e.Detail = pgErr.Detail
		e.Hint = pgErr.Hint
		if me != nil {
			e.Message = me.Where() + pgErr.Message
			if pgErr.Position > 0 {
				e.Line = me.FileLine(int(pgErr.Position))
			}
		}
	}
	e.Message = t.Scrub(e.Message)
	e.Detail = t.Scrub(e.Detail)
	e.Hint = t.Scrub(e.Hint)
	if e.Remedy == "" {
		e.Remedy = classRemedies[e.Class]
	}
	e.Remedy = t.Scrub(e.Remedy)
	return e
}

// classRemedies say what to do about failures that are not the
// migrations' fault, so every failed target carries a next step.
var classRemedies = map[string]string{
	ClassUnreachable: "the server did not answer: check that it is up and that this host can reach it " +
		"(host, port and sslmode in the target's DSN, firewalls, --connect-timeout), then run again",
	ClassAuth: "the server refused the login: check the user and password of the target's DSN " +
		"(and the variable it comes from) and the server's pg_hba.conf, then run again",
	ClassMissingDatabase: "the database does not exist on that server: create it, or fix the database name in the target's DSN or remove the target",
	ClassLocked: "another run (named under blocked by) holds the target: let it finish and run again, " +
		"or raise --lock-wait; a stuck session can be ended with pg_terminate_backend(pid)",
}
