package runner

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/ledger"
)

// batchStates reads, for schema-per-tenant targets, every tenant's version
// table in a handful of queries per database instead of a session and three
// round trips per tenant: the ledger reads which schemas have bookkeeping
// tables in one query, then their rows in one query per ledger.BatchSize
// schemas.
// Targets of other kinds, or of a database that could not be read, are
// absent from the result and are inspected one by one as usual.
func (r *Runner) batchStates(ctx context.Context, targets []fleet.Target) map[string]state {
	return byDatabase(ctx, r, "batch read", targets, r.readGroup)
}

// byDatabase groups the schema-per-tenant targets among targets by
// database and calls read on each group, at most r.parallel at once,
// merging what each read returns (keyed by target name). A group whose
// read fails is left out, logged as what failed, so that its targets are
// inspected one by one as usual.
func byDatabase[S any](ctx context.Context, r *Runner, what string, targets []fleet.Target,
	read func(context.Context, []fleet.Target) (map[string]S, error)) map[string]S {
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
	results := make([]map[string]S, len(order))
	var g errgroup.Group
	g.SetLimit(r.parallel)
	for i, dsn := range order {
		g.Go(func() error {
			st, err := read(ctx, groups[dsn])
			if err != nil {
				r.log.Debug(what+" failed; reading tenants one by one", "database", groups[dsn][0].DatabaseKey(),
					"error", groups[dsn][0].Scrub(err.Error()))
				return nil
			}
			results[i] = st
			return nil
		})
	}
	_ = g.Wait()
	out := map[string]S{}
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
	states, err := ledger.ReadSchemas(ctx, sess.conn, schemas)
	if err != nil {
		return nil, err
	}
	byTarget := map[string]state{}
	for _, t := range group {
		// A schema that is gone is left to the per-target path, which
		// reports it properly.
		if ls, ok := states[t.Schema]; ok {
			byTarget[t.Name] = fromLedger(ls)
		}
	}
	return byTarget, nil
}
