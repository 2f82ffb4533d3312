package runner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// DefaultMaxRows caps the rows exec keeps per target when no limit is given.
const DefaultMaxRows = 100

// ExecOptions say what exec runs and how much of its answer it keeps.
type ExecOptions struct {
	SQL     string // one statement; see CheckQuery
	MaxRows int    // rows kept per target; DefaultMaxRows when 0
}

// CheckQuery accepts the text of one statement (a final ';' and comments
// allowed) and returns it without the ';'. Several statements are refused:
// sent at once they could end the read-only transaction and run the rest
// outside it.
func CheckQuery(q string) (string, error) {
	stmts, err := source.Split(q, 1)
	if err != nil {
		return "", err
	}
	switch len(stmts) {
	case 0:
		return "", errors.New("the query is empty")
	case 1:
		return stmts[0].SQL, nil
	}
	return "", fmt.Errorf("%d statements, at lines %d and %d: exec runs exactly one statement per target", len(stmts), stmts[0].Line, stmts[1].Line)
}

// Exec runs one query on every target in a READ ONLY transaction that is
// always rolled back, with the run's statement timeout, and reports each
// target's rows. A statement that would write fails on the server and is
// reported on its target; nothing changes anywhere. Sessions are read-only
// from their start too, so the only statement ever sent outside the
// transaction is its BEGIN.
func (r *Runner) Exec(ctx context.Context, waves []fleet.WaveTargets, o ExecOptions) *report.Report {
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultMaxRows
	}
	return r.run(ctx, report.CommandExec, waves, func(ctx context.Context, t fleet.Target, _ *slog.Logger) report.Target {
		res := report.Target{}
		sess, err := r.open(ctx, t, true)
		if err != nil {
			return r.failure(ctx, t, res, report.StatusFailed, err)
		}
		defer sess.close()
		rows, err := queryReadOnly(ctx, sess, o)
		if err != nil {
			return r.failure(ctx, t, res, report.StatusFailed, err)
		}
		res.Status = report.StatusOK
		res.Rows = rows
		return res
	})
}

// queryReadOnly runs o.SQL in a read-only transaction carrying the
// session's limits (SET LOCAL, so nothing stays on a connection a pooler
// shares) and keeps up to o.MaxRows rows. The extended protocol carries
// exactly one statement, so the text cannot escape the transaction even if
// CheckQuery was skipped.
func queryReadOnly(ctx context.Context, sess *session, o ExecOptions) (*report.Rows, error) {
	tx, err := sess.conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("begin read-only transaction: %w", err)
	}
	defer tx.Rollback() // always: exec changes nothing
	if _, err := tx.ExecContext(ctx, sess.setQuery(true)); err != nil {
		return nil, fmt.Errorf("session settings: %w", err)
	}
	rows, err := tx.QueryContext(ctx, o.SQL, pgx.QueryExecModeDescribeExec)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := &report.Rows{Columns: cols, Values: [][]any{}}
	for rows.Next() {
		if len(out.Values) == o.MaxRows {
			out.Truncated = true
			break
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			vals[i] = jsonValue(v)
		}
		out.Values = append(out.Values, vals)
	}
	if !out.Truncated {
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if !inTransaction(sess) {
		return nil, errors.New("the query ended the read-only transaction: exec allows no transaction control (COMMIT, ROLLBACK, ...); nothing was kept")
	}
	return out, nil
}

// jsonValue turns what the driver scanned into a value that JSON renders
// as the query meant it: text as strings, integers and floats as numbers,
// times in RFC 3339 (UTC), anything else (numeric, arrays, json) as its
// PostgreSQL text.
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, bool, int64, float64, string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC()
	}
	return fmt.Sprint(v)
}

// inTransaction reports whether the session is still inside its
// transaction, as the server last said.
func inTransaction(sess *session) bool {
	status := byte(0)
	_ = sess.native(func(c *pgx.Conn) error {
		status = c.PgConn().TxStatus()
		return nil
	})
	return status == 'T'
}
