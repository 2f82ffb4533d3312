package runner

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
)

// pool keeps idle sessions per database for schema-per-tenant targets:
// tenants that share a database share connections, and a borrowed session
// is pointed at its tenant's schema in one round trip instead of a new
// connection per tenant. It never holds more sessions than were in use at
// once, so the run's parallelism bounds it. Safe for concurrent use.
type pool struct {
	mu   sync.Mutex
	idle map[poolKey][]*session
}

// poolKey is the DSN itself, not only the database it names: sessions are
// shared only among targets that connect the same way, as the same user.
type poolKey struct {
	dsn      string
	readOnly bool
}

// get returns an idle session of t's database, or nil.
func (p *pool) get(t fleet.Target, readOnly bool) *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := poolKey{t.DSN, readOnly}
	list := p.idle[k]
	if len(list) == 0 {
		return nil
	}
	s := list[len(list)-1]
	p.idle[k] = list[:len(list)-1]
	return s
}

// put makes s available to the next tenant of its database.
func (p *pool) put(s *session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle == nil {
		p.idle = map[poolKey][]*session{}
	}
	p.idle[s.key] = append(p.idle[s.key], s)
}

// evictOther closes one idle session of another database than t's, if
// there is one. Called before a fresh session is dialed for t, it keeps the
// sessions open (in use and idle) at most the run's parallelism however
// many databases the tenants are spread over: a worker dials only while it
// holds no session, and then either closes an idle one or finds none idle.
func (p *pool) evictOther(t fleet.Target, readOnly bool) {
	p.mu.Lock()
	var victim *session
	k := poolKey{t.DSN, readOnly}
	for key, list := range p.idle {
		if key != k && len(list) > 0 {
			victim = list[0]
			p.idle[key] = list[1:]
			break
		}
	}
	p.mu.Unlock()
	if victim != nil {
		victim.discard()
	}
}

// drain closes every idle session.
func (p *pool) drain() {
	p.mu.Lock()
	all := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, list := range all {
		for _, s := range list {
			s.discard()
		}
	}
}

// errNoSchema reports a schema-per-tenant target whose schema is gone.
var errNoSchema = errors.New("schema does not exist")

// openSchema returns a session of t's database pointed at t's schema. A
// session another tenant used is reset first with DISCARD ALL: whatever
// that tenant's migrations SET (lock_timeout = 0, a role), created
// (temporary tables) or prepared, and any advisory lock, ends there. Then,
// in one query that also checks the schema still exists: search_path (the
// tenant's schema alone, then the fleet's shared_schemas, so an unqualified
// name never reaches another schema by accident) and application_name.
// The tool's limits are set again by each transaction (SET LOCAL).
func (r *Runner) openSchema(ctx context.Context, t fleet.Target, readOnly bool) (*session, error) {
	for attempt := 0; ; attempt++ {
		s := r.pool.get(t, readOnly)
		fresh := s == nil
		if fresh {
			r.pool.evictOther(t, readOnly)
			var err error
			if s, err = r.dial(ctx, t, readOnly); err != nil {
				return nil, err
			}
			s.key = poolKey{t.DSN, readOnly}
		}
		s.pool = &r.pool
		var err error
		if !fresh {
			err = s.reset(ctx)
		}
		var exists bool
		if err == nil {
			err = s.conn.QueryRowContext(ctx, `SELECT set_config('search_path', $1, false),
	set_config('application_name', $2, false), to_regnamespace($3) IS NOT NULL`,
				r.searchPath(t), AppName(t.Name), t.QuotedSchema()).Scan(new(string), new(string), &exists)
		}
		if err != nil {
			s.discard()
			if !fresh && attempt == 0 && ctx.Err() == nil {
				continue // a pooled connection went stale: dial once more
			}
			return nil, err
		}
		if !exists {
			s.close()
			return nil, fmt.Errorf("schema %s: %w", t.QuotedSchema(), errNoSchema)
		}
		return s, nil
	}
}

// searchPath is a tenant's search_path: its schema, then the shared ones.
func (r *Runner) searchPath(t fleet.Target) string {
	parts := []string{t.QuotedSchema()}
	for _, s := range r.sharedSchemas {
		parts = append(parts, fleet.Target{Schema: s}.QuotedSchema())
	}
	return strings.Join(parts, ", ")
}

// reset returns a session another tenant used to a fresh session's state:
// DISCARD ALL (after ending a transaction left open, which DISCARD cannot
// run in).
func (s *session) reset(ctx context.Context) error {
	return s.native(func(c *pgx.Conn) error {
		if c.PgConn().TxStatus() != 'I' {
			if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
				return err
			}
		}
		_, err := c.Exec(ctx, "DISCARD ALL")
		return err
	})
}

// lockKeyFor is the advisory lock key of a target: goose's own key for a
// database, and one derived from the schema name for a tenant schema, so
// tenants sharing a database never wait for each other.
func lockKeyFor(t fleet.Target) int64 {
	if t.Schema == "" {
		return lockKey
	}
	h := fnv.New64a()
	h.Write([]byte(t.Schema))
	return int64(h.Sum64()) ^ lockKey
}
