package fleet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

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
func discoverSource(ctx context.Context, src DiscoverySource, d Defaults) found {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout(d)+2*queryTimeout(d)+cleanupTimeout)
	defer cancel()
	conn, err := connectDiscovery(ctx, src.Server, d)
	if err != nil {
		return found{probs: problems{src.failure("cannot connect to the server", err)}}
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	switch {
	case src.Databases != "":
		return discoverDatabases(ctx, conn, src, d)
	case src.Schemas != "":
		return discoverSchemas(ctx, conn, src, d)
	default:
		return discoverQuery(ctx, conn, src, d)
	}
}

func connectTimeout(d Defaults) time.Duration {
	if d.ConnectTimeout > 0 {
		return d.ConnectTimeout
	}
	return BuiltinDefaults().ConnectTimeout
}

func queryTimeout(d Defaults) time.Duration {
	if d.StatementTimeout > 0 {
		return min(d.StatementTimeout, discoverQueryTimeout)
	}
	return discoverQueryTimeout
}

// discoverOptions are the session options of discovery: its own
// application_name, one unprepared extended-protocol statement per query
// (the operator's query cannot smuggle a second statement, and poolers in
// transaction mode are fine), and its limits, set per transaction.
func discoverOptions(d Defaults) pgsession.Options {
	return pgsession.Options{
		AppName:                  discoverAppName,
		ConnectTimeout:           connectTimeout(d),
		LockTimeout:              d.LockTimeout,
		StatementTimeout:         queryTimeout(d),
		IdleInTransactionTimeout: queryTimeout(d),
		StallTimeout:             d.StallTimeout,
		ExtendedProtocol:         true,
	}
}

// connectDiscovery opens one session to a discovery server.
func connectDiscovery(ctx context.Context, dsn string, d Defaults) (*pgx.Conn, error) {
	cfg, _, err := pgsession.Config(dsn, discoverOptions(d))
	if err != nil {
		// Parse validated it; the error may quote the DSN, so drop it.
		return nil, errors.New("the server DSN no longer parses (did a PG* variable or a file it names change since the fleet file was read?)")
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// readTx begins a read-only transaction carrying discovery's limits (SET
// LOCAL: nothing stays on a server connection a pooler shares).
func readTx(ctx context.Context, conn *pgx.Conn, d Defaults) (pgx.Tx, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, discoverOptions(d).SetQuery(conn.PgConn(), true)); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = tx.Rollback(cctx)
		return nil, err
	}
	return tx, nil
}

// failure is the problem "source: what: err", with err scrubbed of the
// server DSN and its password.
func (s DiscoverySource) failure(what string, err error) report.Diagnostic {
	detail := Target{DSN: s.Server}.Scrub(err.Error())
	detail = truncate(strings.Join(strings.Fields(detail), " "), 500)
	return problem(s.Line, fmt.Sprintf("%s: %s: %s", s.Label(), what, detail))
}

// queryNames runs a one-column query with the pattern as $1, in a
// read-only transaction.
func queryNames(ctx context.Context, conn *pgx.Conn, d Defaults, sql, pattern string) ([]string, error) {
	tx, err := readTx(ctx, conn, d)
	if err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = tx.Rollback(cctx)
	}()
	rows, err := tx.Query(ctx, sql, pattern)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func discoverDatabases(ctx context.Context, conn *pgx.Conn, src DiscoverySource, d Defaults) found {
	var r found
	names, err := queryNames(ctx, conn, d, databasesSQL, src.Databases)
	if err != nil {
		r.probs.addProblem(src.failure("cannot list the databases", err))
		return r
	}
	for _, db := range names {
		if why := checkName(db); why != "" {
			r.probs.addf(src.Line, "%s: database %q cannot be a target name: it %s", src.Label(), db, why)
			continue
		}
		dsn, err := withDatabase(src.Server, db)
		if err != nil {
			r.probs.addf(src.Line, "%s: database %q: %v", src.Label(), db, err)
			continue
		}
		r.targets = append(r.targets, src.newTarget(db, dsn, "", 0))
	}
	return r
}

func discoverSchemas(ctx context.Context, conn *pgx.Conn, src DiscoverySource, d Defaults) found {
	var r found
	names, err := queryNames(ctx, conn, d, schemasSQL, src.Schemas)
	if err != nil {
		r.probs.addProblem(src.failure("cannot list the schemas", err))
		return r
	}
	for _, schema := range names {
		if why := checkName(schema); why != "" {
			r.probs.addf(src.Line, "%s: schema %q cannot be a target name: it %s", src.Label(), schema, why)
			continue
		}
		r.targets = append(r.targets, src.newTarget(schema, src.Server, schema, 0))
	}
	return r
}

// discoverQuery runs the operator's catalog query in a read-only
// transaction and turns each row into a target.
func discoverQuery(ctx context.Context, conn *pgx.Conn, src DiscoverySource, d Defaults) found {
	var r found
	tx, err := readTx(ctx, conn, d)
	if err != nil {
		r.probs.addProblem(src.failure("cannot start a read-only transaction", err))
		return r
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = tx.Rollback(cctx)
	}()
	rows, err := tx.Query(ctx, src.Query)
	if err != nil {
		r.probs.addProblem(src.failure("the query failed", err))
		return r
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	if len(fds) == 0 {
		// A statement that failed before describing its result shows
		// its error only once the rows are read.
		rows.Close()
		if err := rows.Err(); err != nil {
			r.probs.addProblem(src.failure("the query failed", err))
			return r
		}
	}
	cols, msg := findColumns(fds)
	if msg != "" {
		r.probs.addf(src.Line, "%s: %s", src.Label(), msg)
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
			r.probs.addf(src.Line, "%s: %s", src.Label(), msg)
		}
	}
	if err := rows.Err(); err != nil {
		return found{probs: problems{src.failure("the query failed", err)}}
	}
	if bad > maxRowProblems {
		r.probs.addf(src.Line, "%s: %d more bad rows", src.Label(), bad-maxRowProblems)
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
func (c columns) target(src DiscoverySource, row int, rows pgx.Rows) (Target, string) {
	subject := "row " + strconv.Itoa(row)
	vals, err := rows.Values()
	if err != nil {
		return Target{}, fmt.Sprintf("%s: cannot be read: %s", subject, truncate(strings.Join(strings.Fields(err.Error()), " "), 300))
	}
	name, ok := vals[c.name].(string)
	switch {
	case vals[c.name] == nil:
		return Target{}, subject + ": name is null"
	case !ok:
		return Target{}, subject + ": name is not text"
	}
	if why := checkName(name); why != "" {
		return Target{}, fmt.Sprintf("%s: name %s", subject, why)
	}
	subject += fmt.Sprintf(" (name %q)", name)

	dsn, ok := vals[c.dsn].(string)
	switch {
	case vals[c.dsn] == nil:
		return Target{}, subject + ": dsn is null"
	case !ok:
		return Target{}, subject + ": dsn is not text"
	case strings.TrimSpace(dsn) == "":
		return Target{}, subject + ": dsn is empty"
	}
	if _, msg := parseDSN(dsn); msg != "" {
		return Target{}, fmt.Sprintf("%s: dsn %s", subject, msg)
	}

	t := src.newTarget(name, dsn, "", row)
	if c.labels >= 0 && vals[c.labels] != nil {
		labels, msg := rowLabels(vals[c.labels], c.labelsJSON)
		if msg != "" {
			return Target{}, fmt.Sprintf("%s: labels: %s", subject, msg)
		}
		maps.Copy(t.Labels, labels)
	}
	return t, ""
}

const labelsHint = "(give a jsonb object of strings, or text like tier=canary,region=eu)"

// rowLabels reads a query row's labels: a decoded json/jsonb object of
// strings, or text of k=v pairs joined by commas.
func rowLabels(v any, isJSON bool) (map[string]string, string) {
	if !isJSON {
		s, ok := v.(string)
		if !ok {
			return nil, "neither jsonb nor text " + labelsHint
		}
		return parseLabelText(s)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, "not a JSON object " + labelsHint
	}
	out := make(map[string]string, len(obj))
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if why := checkLabelKey(k); why != "" {
			return nil, fmt.Sprintf("key %q %s", k, why)
		}
		s, ok := obj[k].(string)
		if !ok {
			return nil, fmt.Sprintf("the value of %q is not a string %s", k, labelsHint)
		}
		out[k] = s
	}
	return out, ""
}

// parseLabelText reads "k=v,k=v" (spaces around keys and values are
// ignored; "" is no labels).
func parseLabelText(s string) (map[string]string, string) {
	out := make(map[string]string)
	if strings.TrimSpace(s) == "" {
		return out, ""
	}
	for pair := range strings.SplitSeq(s, ",") {
		pair = strings.TrimSpace(pair)
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Sprintf("%q is not key=value %s", truncate(pair, 40), labelsHint)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if why := checkLabelKey(k); why != "" {
			return nil, fmt.Sprintf("key %q %s", k, why)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Sprintf("the key %q is given twice", k)
		}
		out[k] = v
	}
	return out, ""
}
