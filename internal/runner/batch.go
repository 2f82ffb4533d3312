package runner

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
)

// batchSize bounds how many tenant schemas one version query reads.
const batchSize = 250

// batchStates reads, for schema-per-tenant targets, every tenant's version
// table in a handful of queries per database instead of a session and three
// round trips per tenant: one query says which schemas have the tool's
// tables, then one UNION ALL query per batchSize schemas reads their rows.
// Targets of other kinds, or of a database that could not be read, are
// absent from the result and are inspected one by one as usual.
func (r *Runner) batchStates(ctx context.Context, targets []fleet.Target) map[string]state {
	groups := map[string][]fleet.Target{}
	var order []string
	for _, t := range targets {
		if t.Schema == "" {
			continue
		}
		if _, ok := groups[t.DSN]; !ok {
			order = append(order, t.DSN)
		}
		groups[t.DSN] = append(groups[t.DSN], t)
	}
	out := map[string]state{}
	if len(order) == 0 {
		return out
	}
	results := make([]map[string]state, len(order))
	var g errgroup.Group
	g.SetLimit(r.parallel)
	for i, dsn := range order {
		g.Go(func() error {
			st, err := r.readGroup(ctx, groups[dsn])
			if err != nil {
				r.log.Debug("batch read failed; reading tenants one by one", "database", groups[dsn][0].DatabaseKey(),
					"error", groups[dsn][0].Scrub(err.Error()))
				return nil
			}
			results[i] = st
			return nil
		})
	}
	_ = g.Wait()
	for _, m := range results {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// readGroup reads the states of the schema targets of one database.
func (r *Runner) readGroup(ctx context.Context, group []fleet.Target) (map[string]state, error) {
	sess, err := r.dial(ctx, group[0], true)
	if err != nil {
		return nil, err
	}
	defer sess.discard()
	schemas := make([]string, len(group))
	for i, t := range group {
		schemas[i] = t.Schema
	}
	rows, err := sess.conn.QueryContext(ctx, `SELECT s.name,
	to_regnamespace(quote_ident(s.name)) IS NOT NULL,
	EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = s.name AND tablename = '`+VersionTable+`'),
	EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = s.name AND tablename = '`+ChecksumTable+`')
FROM unnest($1::text[]) AS s(name)`, schemas)
	if err != nil {
		return nil, err
	}
	states := map[string]state{}
	exists := map[string]bool{}
	var withTable []string
	for rows.Next() {
		var name string
		var nsp bool
		st := state{applied: map[int64]bool{}}
		if err := rows.Scan(&name, &nsp, &st.initialized, &st.checksums); err != nil {
			rows.Close()
			return nil, err
		}
		exists[name] = nsp
		states[name] = st
		if st.initialized {
			withTable = append(withTable, name)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for start := 0; start < len(withTable); start += batchSize {
		if err := readVersions(ctx, sess, withTable[start:min(start+batchSize, len(withTable))], states); err != nil {
			return nil, err
		}
	}
	byTarget := map[string]state{}
	for _, t := range group {
		// A schema that is gone is left to the per-target path, which
		// reports it properly.
		if exists[t.Schema] {
			byTarget[t.Name] = states[t.Schema]
		}
	}
	return byTarget, nil
}

// readVersions reads the version rows of schemas in one query, newest
// first per schema, and folds them as readState does.
func readVersions(ctx context.Context, sess *session, schemas []string, states map[string]state) error {
	var q strings.Builder
	args := make([]any, len(schemas))
	for i, s := range schemas {
		if i > 0 {
			q.WriteString("\nUNION ALL ")
		}
		fmt.Fprintf(&q, "SELECT $%d::text, id, version_id, is_applied FROM %s.%s", i+1,
			fleet.Target{Schema: s}.QuotedSchema(), VersionTable)
		args[i] = s
	}
	q.WriteString("\nORDER BY 1, 2 DESC")
	rows, err := sess.conn.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	seen := map[string]map[int64]bool{}
	for rows.Next() {
		var schema string
		var id, version int64
		var applied bool
		if err := rows.Scan(&schema, &id, &version, &applied); err != nil {
			return err
		}
		if seen[schema] == nil {
			seen[schema] = map[int64]bool{}
		}
		if seen[schema][version] {
			continue
		}
		seen[schema][version] = true
		if applied && version != 0 {
			st := states[schema]
			st.applied[version] = true
			st.current = max(st.current, version)
			states[schema] = st
		}
	}
	return rows.Err()
}
