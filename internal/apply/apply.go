// Package apply runs the statements of migrations on a PostgreSQL
// connection, one query per statement: the runner's up and down, its
// rehearsals and drift's reference schema all apply migrations through it.
// It groups migrations into transactions, checks after every statement of
// a transaction that the transaction is still open, runs NO TRANSACTION
// sections statement by statement, and names the failing statement (its
// line in the file, and, outside a transaction, which of how many it was).
// Opening and ending transactions, locks and version rows are the caller's.
package apply

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// Batches groups items into transactions: with shared, consecutive
// transactional items share one; an item noTx says is NO TRANSACTION always
// stands alone. Without shared every item has a batch of its own.
func Batches[S any](items []S, noTx func(S) bool, shared bool) [][]S {
	var out [][]S
	for _, s := range items {
		n := len(out)
		if shared && !noTx(s) && n > 0 && !noTx(out[n-1][0]) {
			out[n-1] = append(out[n-1], s)
			continue
		}
		out = append(out, []S{s})
	}
	return out
}

// Run runs the up (or, with down, the down) section of m on c, statement by
// statement, and returns how many statements completed. A transactional
// section runs in the transaction the caller opened on c, and a statement
// after which the server no longer reports that transaction open (a COMMIT
// or ROLLBACK in the migration) is a *TxEndedError. A NO TRANSACTION
// section runs outside any transaction, and its error says which statement
// of how many failed. Every error is a *MigrationError.
func Run(ctx context.Context, c *pgx.Conn, m *source.Migration, down bool) (ran int, err error) {
	stmts, noTx := m.UpStatements, m.NoTx
	if down {
		stmts, noTx = m.DownStatements, m.DownNoTx
	}
	list, err := stmts()
	if err != nil {
		return 0, &MigrationError{Migration: m, Down: down, Err: err}
	}
	for i, st := range list {
		_, err := c.Exec(ctx, st.SQL)
		if status := c.PgConn().TxStatus(); err == nil && !noTx && status != 'T' {
			err = &TxEndedError{Status: status}
		}
		if err != nil {
			e := &MigrationError{Migration: m, Down: down, Line: st.Line, Stmt: st.SQL, Err: err}
			if noTx {
				e.Index, e.Total = i+1, len(list)
			}
			return i, e
		}
	}
	return len(list), nil
}

// TxEndedError is a statement of a migration that ended the transaction it
// ran in (a COMMIT or ROLLBACK that reached the server): what the
// transaction ran before it is committed, or gone, without version rows.
type TxEndedError struct{ Status byte }

func (e *TxEndedError) Error() string {
	return "this statement ended the tool's transaction (transaction control inside a migration): the target stopped here, " +
		"and what the transaction ran before this statement may be committed without its version rows"
}

// MigrationError is a failure inside one migration. The PostgreSQL error
// stays reachable through Unwrap so its SQLSTATE reaches the report.
type MigrationError struct {
	Migration *source.Migration
	Down      bool   // the failure was in the down section
	Line      int    // line in the file of the statement that failed; 0 when not one statement's
	Stmt      string // that statement's text
	// Index and Total: the statement was the Index-th (from 1) of Total
	// run one by one outside a transaction (NO TRANSACTION); 0 otherwise.
	Index, Total int
	Err          error
}

func (e *MigrationError) Error() string {
	dir := "up"
	if e.Down {
		dir = "down"
	}
	return "migration " + e.Migration.Name + " (" + dir + "): " + e.Where() + e.Err.Error()
}

func (e *MigrationError) Unwrap() error { return e.Err }

// Where names the failing statement of a NO TRANSACTION section,
// "statement 2 of 3 (line 7): ", to put before the error's message; "" for
// any other failure.
func (e *MigrationError) Where() string {
	if e.Total == 0 {
		return ""
	}
	return fmt.Sprintf("statement %d of %d (line %d): ", e.Index, e.Total, e.Line)
}

// FileLine converts PostgreSQL's error position (1-based, in characters)
// to a line of the migration file. The position is in the text the server
// was sent: the failing statement when it ran on its own (Stmt), else the
// whole section.
func (e *MigrationError) FileLine(pos int) int {
	if e.Stmt != "" {
		return lineOf(e.Stmt, pos, e.Line)
	}
	if e.Down {
		return lineOf(e.Migration.Down, pos, e.Migration.DownLine)
	}
	return lineOf(e.Migration.Up, pos, e.Migration.UpLine)
}

// lineOf converts a position in text to a line of the file text starts at
// line first of.
func lineOf(text string, pos, first int) int {
	line := first
	for i := 0; i < len(text) && pos > 1; {
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == '\n' {
			line++
		}
		i += size
		pos--
	}
	return line
}
