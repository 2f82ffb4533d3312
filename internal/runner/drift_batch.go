package runner

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/drift"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
)

// driftBatchBudget bounds how many tenant schemas' catalogs are read and
// decoded at once, over every database: a schema's catalog is about 20 KB
// of reply and as much again decoded, so the budget keeps a run's memory
// flat however many tenants it reads. With one database a query reads
// the whole budget (10,000 tenants cost 50 queries); with several read at
// once, each reads its share, and never fewer than driftBatchMin.
const (
	driftBatchBudget = 200
	driftBatchMin    = 25
)

// driftBatchSize is how many schemas one catalog query of one database
// reads when databases are read at once.
func driftBatchSize(databases int) int {
	return max(driftBatchMin, driftBatchBudget/max(1, databases))
}

// batchInspect reads, for schema-per-tenant targets, every tenant's version
// history and catalog with one session per database, one query (in a
// read-only repeatable-read transaction of its own) per batch of schemas,
// instead of a round trip per tenant. share is called on each state as it
// is read (to share identical snapshots), so that no more than one batch of
// catalogs per database is held unshared at once. Targets of other kinds,
// of a database that could not be read, or whose schema is gone are absent
// from the result, and are inspected one by one as usual.
func (r *Runner) batchInspect(ctx context.Context, targets []fleet.Target, share func(*drift.State)) map[string]*drift.State {
	databases := map[string]bool{}
	for _, t := range targets {
		if t.Schema != "" {
			databases[t.DSN] = true
		}
	}
	size := driftBatchSize(min(len(databases), r.parallel))
	return byDatabase(ctx, r, "batch drift read", targets, func(ctx context.Context, group []fleet.Target) (map[string]*drift.State, error) {
		return r.inspectGroup(ctx, group, size, share)
	})
}

// inspectGroup reads the states of the schema targets of one database.
func (r *Runner) inspectGroup(ctx context.Context, group []fleet.Target, size int, share func(*drift.State)) (map[string]*drift.State, error) {
	sess, err := r.dial(ctx, group[0], true)
	if err != nil {
		return nil, err
	}
	defer sess.discard()
	bySchema := map[string][]string{} // schema -> target names
	var schemas []string
	for _, t := range group {
		if _, ok := bySchema[t.Schema]; !ok {
			schemas = append(schemas, t.Schema)
		}
		bySchema[t.Schema] = append(bySchema[t.Schema], t.Name)
	}
	out := make(map[string]*drift.State, len(group))
	err = sess.native(func(c *pgx.Conn) error {
		for start := 0; start < len(schemas); start += size {
			states, err := readBatch(ctx, c, schemas[start:min(start+size, len(schemas))])
			if err != nil {
				return err
			}
			for schema, st := range states {
				share(st)
				for _, name := range bySchema[schema] {
					out[name] = st
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readBatch reads the states of schemas in a read-only repeatable-read
// transaction of their own. One statement reads each schema's history and
// catalog, so a target is always seen at one moment; a transaction per
// batch, not per database, because a transaction keeps a lock on every
// table it has read until it ends, and the version tables of thousands of
// schemas would exhaust the server's lock table ("out of shared memory").
func readBatch(ctx context.Context, c *pgx.Conn, schemas []string) (map[string]*drift.State, error) {
	tx, err := c.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	states, err := drift.ReadStates(ctx, tx, schemas)
	if err != nil {
		return nil, err
	}
	return states, tx.Commit(ctx)
}
