package runner

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/dsn"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// sizeQueryTimeout bounds the one query per server that reads a wave's sizes.
const sizeQueryTimeout = 30 * time.Second

// orderWave puts the wave's targets in the order it asks for and returns
// the size of each target it read (by name). With OrderSize the sizes are
// read in one query per server (per database for schema targets) before
// the wave starts: pg_database_size for a database target, the total size
// of a schema's tables (with indexes and TOAST) for a schema target.
// Smallest start first; a target whose size could not be read starts after
// the others, in fleet order, and the reason is logged.
func (r *Runner) orderWave(ctx context.Context, w Wave) (Wave, map[string]int64) {
	switch w.Order {
	case fleet.OrderName:
		w.Targets = slices.Clone(w.Targets)
		slices.SortStableFunc(w.Targets, func(a, b fleet.Target) int { return cmp.Compare(a.Name, b.Name) })
		return w, nil
	case fleet.OrderSize:
	default:
		return w, nil
	}
	sizes := r.readSizes(ctx, w.Targets)
	w.Targets = slices.Clone(w.Targets)
	slices.SortStableFunc(w.Targets, func(a, b fleet.Target) int {
		sa, okA := sizes[a.Name]
		sb, okB := sizes[b.Name]
		switch {
		case okA && okB:
			return cmp.Compare(sa, sb)
		case okA:
			return -1
		case okB:
			return 1
		}
		return 0
	})
	return w, sizes
}

// readSizes reads every target's size, one query per group of targets that
// one session can measure: the databases of a server, the schemas of a
// database.
func (r *Runner) readSizes(ctx context.Context, targets []fleet.Target) map[string]int64 {
	type group struct {
		schemas bool
		members []fleet.Target
		keys    []string // database or schema names, parallel to members
	}
	var order []string
	groups := map[string]*group{}
	for _, t := range targets {
		server, name := dsn.Server(t.DSN)
		key := "server " + server
		if t.Schema != "" {
			key, name = "database "+t.DatabaseKey()+" as "+t.DSN, t.Schema
		}
		g, ok := groups[key]
		if !ok {
			g = &group{schemas: t.Schema != ""}
			groups[key] = g
			order = append(order, key)
		}
		g.members = append(g.members, t)
		g.keys = append(g.keys, name)
	}
	sizes := map[string]int64{}
	for _, key := range order {
		g := groups[key]
		got, err := r.sizesOn(ctx, g.members[0], g.schemas, g.keys)
		if err != nil {
			r.log.Warn("order: size: could not read sizes; these targets start after the others",
				"targets", len(g.members), "first", g.members[0].Name, "error", g.members[0].Scrub(err.Error()))
			continue
		}
		for i, t := range g.members {
			if n, ok := got[g.keys[i]]; ok {
				sizes[t.Name] = n
			}
		}
	}
	return sizes
}

const (
	databaseSizesSQL = `SELECT datname, pg_database_size(oid) FROM pg_database
WHERE datname IN (SELECT jsonb_array_elements_text($1::jsonb))`
	schemaSizesSQL = `SELECT n.nspname, coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'm')
WHERE n.nspname IN (SELECT jsonb_array_elements_text($1::jsonb))
GROUP BY n.nspname`
)

// sizesOn measures names (databases, or schemas when schemas) in one query
// on a read-only session to via's server.
func (r *Runner) sizesOn(ctx context.Context, via fleet.Target, schemas bool, names []string) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, sizeQueryTimeout)
	defer cancel()
	sess, err := r.dial(ctx, via, true)
	if err != nil {
		return nil, err
	}
	defer sess.discard()
	list, err := json.Marshal(names)
	if err != nil {
		return nil, err
	}
	q := databaseSizesSQL
	if schemas {
		q = schemaSizesSQL
	}
	rows, err := sess.conn.QueryContext(ctx, q, string(list))
	if err != nil {
		return nil, fmt.Errorf("read sizes: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, err
		}
		out[name] = n
	}
	return out, rows.Err()
}

// withSizes records in each result the size its wave's order used.
func withSizes(results []report.Target, sizes map[string]int64) {
	for i := range results {
		if n, ok := sizes[results[i].Name]; ok {
			results[i].SizeBytes = &n
		}
	}
}

// namedWaves is the report's per-wave record: only for runs whose waves
// have names (a fleet file's waves), not for the one wave of a plain run.
func namedWaves(ws []report.WaveResult) []report.WaveResult {
	for _, w := range ws {
		if w.Name != "" {
			return ws
		}
	}
	return nil
}

// startedAt is a result's start time as the report shows it.
func startedAt(t time.Time) *time.Time {
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}
