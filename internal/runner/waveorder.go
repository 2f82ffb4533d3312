package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/dsn"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
)

// sizeQueryTimeout bounds the one query per server that reads a wave's sizes.
const sizeQueryTimeout = 30 * time.Second

// readSizes reads the size of every target (by name) for a wave of order
// size: pg_database_size for a database target, the total size of a
// schema's tables (with indexes and TOAST) for a schema target. One query
// per group of targets that one session can measure: the databases of a
// server, the schemas of a database. A group whose sizes could not be read
// is left out, and the reason logged.
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
