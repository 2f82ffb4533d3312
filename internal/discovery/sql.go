package discovery

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/orchestrator-dev/orchestrator/internal/dsn"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/pgsession"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

const (
	// discoverAppName is the application_name of discovery sessions, so an
	// operator can tell them from the runner's in pg_stat_activity.
	discoverAppName = "orchestrator:discover"
	// discoverQueryTimeout bounds each discovery statement: listing a
	// catalog is quick, and a hung discovery should fail, not stall a run.
	discoverQueryTimeout = 30 * time.Second
	// cleanupTimeout bounds a rollback or close after the work is done.
	cleanupTimeout = 5 * time.Second
	// maxRowProblems is how many bad rows of one query are reported one by
	// one; the rest are counted.
	maxRowProblems = 20
)

// databasesSQL lists the databases a pattern discovers. Templates,
// databases that refuse connections and the maintenance databases of
// PostgreSQL and of the managed services (RDS, Azure, Cloud SQL) never match.
// name compares in the "C" collation, so the order is stable.
const databasesSQL = `SELECT datname::text FROM pg_catalog.pg_database
WHERE datname LIKE $1::text
  AND NOT datistemplate AND datallowconn
  AND datname NOT IN ('postgres', 'template0', 'template1', 'rdsadmin', 'azure_maintenance', 'azure_sys', 'cloudsqladmin')
ORDER BY datname`

// schemasSQL lists the schemas a pattern discovers; system schemas (pg_*,
// which users cannot create, and information_schema) never match. left()
// rather than LIKE 'pg\_%' does not depend on standard_conforming_strings.
const schemasSQL = `SELECT nspname::text FROM pg_catalog.pg_namespace
WHERE nspname LIKE $1::text
  AND left(nspname, 3) <> 'pg_' AND nspname <> 'information_schema'
ORDER BY nspname`

// discoverSource runs one source. Its problems are on the source's line.
func discoverSource(ctx context.Context, src fleet.DiscoverySource, d fleet.Defaults) found {
	ctx, cancel := context.WithTimeout(ctx, d.ConnectBound()+2*queryTimeout(d)+cleanupTimeout)
	defer cancel()
	conn, err := connectDiscovery(ctx, src.Server, d)
	if err != nil {
		return found{probs: []report.Diagnostic{failure(src, "cannot connect to the server", err)}}
	}
	defer cleanup(ctx, conn.Close)
	switch {
	case src.Databases != "":
		return discoverDatabases(ctx, conn, src, d)
	case src.Schemas != "":
		return discoverSchemas(ctx, conn, src, d)
	default:
		return discoverQuery(ctx, conn, src, d)
	}
}

func queryTimeout(d fleet.Defaults) time.Duration {
	if d.StatementTimeout > 0 {
		return min(d.StatementTimeout, discoverQueryTimeout)
	}
	return discoverQueryTimeout
}

// discoverOptions are the session options of discovery: its own
// application_name, one unprepared extended-protocol statement per query
// (the operator's query cannot smuggle a second statement, and poolers in
// transaction mode are fine), and its limits, set per transaction.
func discoverOptions(d fleet.Defaults) pgsession.Options {
	return pgsession.Options{
		AppName:                  discoverAppName,
		ConnectTimeout:           d.ConnectBound(),
		LockTimeout:              d.LockTimeout,
		StatementTimeout:         queryTimeout(d),
		IdleInTransactionTimeout: queryTimeout(d),
		StallTimeout:             d.StallTimeout,
		ExtendedProtocol:         true,
	}
}

// connectDiscovery opens one session to a discovery server.
func connectDiscovery(ctx context.Context, server string, d fleet.Defaults) (*pgx.Conn, error) {
	cfg, _, err := pgsession.Config(server, discoverOptions(d))
	if err != nil {
		// Parse validated it; the error may quote the DSN, so drop it.
		return nil, errors.New("the server DSN no longer parses (did a PG* variable or a file it names change since the fleet file was read?)")
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// readTx begins a read-only transaction carrying discovery's limits (SET
// LOCAL: nothing stays on a server connection a pooler shares).
func readTx(ctx context.Context, conn *pgx.Conn, d fleet.Defaults) (pgx.Tx, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, discoverOptions(d).SetQuery(conn.PgConn(), true)); err != nil {
		cleanup(ctx, tx.Rollback)
		return nil, err
	}
	return tx, nil
}

// cleanup runs fn, a close or a rollback once the work is done, even when
// ctx has ended, for at most cleanupTimeout.
func cleanup(ctx context.Context, fn func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_ = fn(ctx)
}

// failure is the problem "source: what: err", with err scrubbed of the
// server DSN and its password.
func failure(s fleet.DiscoverySource, what string, err error) report.Diagnostic {
	return fleet.Problemf(s.Line, "%s: %s: %s", s.Label(), what, dsn.Oneline(s.Server, err.Error(), 500))
}

// queryNames runs a one-column query with the pattern as $1, in a
// read-only transaction.
func queryNames(ctx context.Context, conn *pgx.Conn, d fleet.Defaults, sql, pattern string) ([]string, error) {
	tx, err := readTx(ctx, conn, d)
	if err != nil {
		return nil, err
	}
	defer cleanup(ctx, tx.Rollback)
	rows, err := tx.Query(ctx, sql, pattern)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func discoverDatabases(ctx context.Context, conn *pgx.Conn, src fleet.DiscoverySource, d fleet.Defaults) found {
	var r found
	names, err := queryNames(ctx, conn, d, databasesSQL, src.Databases)
	if err != nil {
		r.probs = append(r.probs, failure(src, "cannot list the databases", err))
		return r
	}
	for _, db := range names {
		if why := fleet.CheckName(db); why != "" {
			r.probs = append(r.probs, fleet.Problemf(src.Line, "%s: database %q cannot be a target name: it %s", src.Label(), db, why))
			continue
		}
		d, err := dsn.WithDatabase(src.Server, db)
		if err != nil {
			r.probs = append(r.probs, fleet.Problemf(src.Line, "%s: database %q: %v", src.Label(), db, err))
			continue
		}
		r.targets = append(r.targets, newTarget(src, db, d, "", 0))
	}
	return r
}

func discoverSchemas(ctx context.Context, conn *pgx.Conn, src fleet.DiscoverySource, d fleet.Defaults) found {
	var r found
	names, err := queryNames(ctx, conn, d, schemasSQL, src.Schemas)
	if err != nil {
		r.probs = append(r.probs, failure(src, "cannot list the schemas", err))
		return r
	}
	for _, schema := range names {
		if why := fleet.CheckName(schema); why != "" {
			r.probs = append(r.probs, fleet.Problemf(src.Line, "%s: schema %q cannot be a target name: it %s", src.Label(), schema, why))
			continue
		}
		r.targets = append(r.targets, newTarget(src, schema, src.Server, schema, 0))
	}
	return r
}

// discoverQuery runs the operator's catalog query in a read-only
// transaction and turns each row into a target.
func discoverQuery(ctx context.Context, conn *pgx.Conn, src fleet.DiscoverySource, d fleet.Defaults) found {
	var r found
	tx, err := readTx(ctx, conn, d)
	if err != nil {
		r.probs = append(r.probs, failure(src, "cannot start a read-only transaction", err))
		return r
	}
	defer cleanup(ctx, tx.Rollback)
	rows, err := tx.Query(ctx, src.Query)
	if err != nil {
		r.probs = append(r.probs, failure(src, "the query failed", err))
		return r
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	if len(fds) == 0 {
		// A statement that failed before describing its result shows
		// its error only once the rows are read.
		rows.Close()
		if err := rows.Err(); err != nil {
			r.probs = append(r.probs, failure(src, "the query failed", err))
			return r
		}
	}
	cols, msg := findColumns(fds)
	if msg != "" {
		r.probs = append(r.probs, fleet.Problemf(src.Line, "%s: %s", src.Label(), msg))
		return r
	}
	bad := 0
	for row := 1; rows.Next(); row++ {
		t, msg := cols.target(src, row, rows)
		if msg == "" {
			r.targets = append(r.targets, t)
			continue
		}
		if bad++; bad <= maxRowProblems {
			r.probs = append(r.probs, fleet.Problemf(src.Line, "%s: %s", src.Label(), msg))
		}
	}
	if err := rows.Err(); err != nil {
		return found{probs: []report.Diagnostic{failure(src, "the query failed", err)}}
	}
	if bad > maxRowProblems {
		r.probs = append(r.probs, fleet.Problemf(src.Line, "%s: %d more bad rows", src.Label(), bad-maxRowProblems))
	}
	return r
}

// columns are the indexes of a catalog query's columns; labels is -1 when
// the query has none.
type columns struct {
	name, dsn, labels int
	labelsJSON        bool
}

// findColumns finds the name, dsn and labels columns, or says what is wrong.
func findColumns(fds []pgconn.FieldDescription) (columns, string) {
	c := columns{name: -1, dsn: -1, labels: -1}
	var names []string
	for i, fd := range fds {
		names = append(names, strconv.Quote(fd.Name))
		var slot *int
		switch fd.Name {
		case "name":
			slot = &c.name
		case "dsn":
			slot = &c.dsn
		case "labels":
			slot = &c.labels
			c.labelsJSON = fd.DataTypeOID == pgtype.JSONOID || fd.DataTypeOID == pgtype.JSONBOID
		default:
			continue
		}
		if *slot >= 0 {
			return c, fmt.Sprintf("the query returns the column %q twice", fd.Name)
		}
		*slot = i
	}
	if c.name < 0 || c.dsn < 0 {
		got := "no columns"
		if len(names) > 0 {
			got = strings.Join(names, ", ")
		}
		return c, "the query must return the columns name and dsn (and optionally labels), but it returns " + got
	}
	return c, ""
}

// target turns the current row into a target, or says (without quoting
// the DSN) what is wrong with it.
func (c columns) target(src fleet.DiscoverySource, row int, rows pgx.Rows) (fleet.Target, string) {
	subject := "row " + strconv.Itoa(row)
	vals, err := rows.Values()
	if err != nil {
		return fleet.Target{}, fmt.Sprintf("%s: cannot be read: %s", subject, dsn.Oneline(src.Server, err.Error(), 300))
	}
	name, ok := vals[c.name].(string)
	switch {
	case vals[c.name] == nil:
		return fleet.Target{}, subject + ": name is null"
	case !ok:
		return fleet.Target{}, subject + ": name is not text"
	}
	if why := fleet.CheckName(name); why != "" {
		return fleet.Target{}, fmt.Sprintf("%s: name %s", subject, why)
	}
	subject += fmt.Sprintf(" (name %q)", name)

	rowDSN, ok := vals[c.dsn].(string)
	switch {
	case vals[c.dsn] == nil:
		return fleet.Target{}, subject + ": dsn is null"
	case !ok:
		return fleet.Target{}, subject + ": dsn is not text"
	case strings.TrimSpace(rowDSN) == "":
		return fleet.Target{}, subject + ": dsn is empty"
	}
	if _, msg := dsn.Parse(rowDSN); msg != "" {
		return fleet.Target{}, fmt.Sprintf("%s: dsn %s", subject, msg)
	}

	t := newTarget(src, name, rowDSN, "", row)
	if c.labels >= 0 && vals[c.labels] != nil {
		labels, msg := fleet.RowLabels(vals[c.labels], c.labelsJSON)
		if msg != "" {
			return fleet.Target{}, fmt.Sprintf("%s: labels: %s", subject, msg)
		}
		maps.Copy(t.Labels, labels)
	}
	return t, ""
}
