package schedule

import (
	"context"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
)

// slots caps, per server, how many targets run at once by what the server
// can still accept (Free), as parallelism above that would only queue on
// "too many connections" errors: one question per server of several
// targets, through its first target; a server that cannot be asked keeps
// the run's parallelism. The result maps each target's name to its
// server's semaphore.
func (c Config) slots(ctx context.Context, targets []fleet.Target) map[string]chan struct{} {
	keys := make([]string, len(targets))
	var servers []string
	first := map[string]fleet.Target{}
	count := map[string]int{}
	for i, t := range targets {
		if c.Server != nil {
			keys[i] = c.Server(t)
		}
		k := keys[i]
		if _, ok := first[k]; !ok {
			first[k] = t
			servers = append(servers, k)
		}
		count[k]++
	}
	perServer := map[string]chan struct{}{}
	for _, k := range servers {
		limit := min(c.Parallel, count[k])
		if count[k] > 1 && c.Free != nil {
			if free, err := c.Free(ctx, first[k]); err == nil && free < limit {
				c.Log.Warn("lowering parallelism for a server short of connections",
					"server", k, "free_connections", free, "parallelism", max(1, free))
				limit = max(1, free)
			}
		}
		perServer[k] = make(chan struct{}, limit)
	}
	slots := make(map[string]chan struct{}, len(targets))
	for i, t := range targets {
		slots[t.Name] = perServer[keys[i]]
	}
	return slots
}
