package discovery

import (
	"context"

	"github.com/orchestrator-dev/orchestrator/internal/dsn"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// ProbeVersions opens one connection to each distinct server of f (its
// listed targets and the servers its databases: and schemas: entries
// discover on; no discovery runs, so the servers a query: entry would list
// are not asked, nor is its catalog server), reads
// server_version_num and closes it. Servers are asked one at a time, in the
// order the fleet file names them; a server that cannot be asked has Err
// set, and the others are still asked.
func ProbeVersions(ctx context.Context, f *fleet.Fleet) []report.ServerVersion {
	type server struct{ dsn, origin string }
	var order []string
	servers := map[string]server{}
	add := func(serverDSN, origin string) {
		key, _ := dsn.Server(serverDSN)
		if key == "" {
			key = "the server of " + origin
		}
		if _, seen := servers[key]; !seen {
			servers[key] = server{serverDSN, origin}
			order = append(order, key)
		}
	}
	for _, t := range f.Targets {
		add(t.DSN, t.Origin)
	}
	for _, s := range f.Discover {
		if s.Query == "" {
			add(s.Server, s.Origin)
		}
	}
	out := make([]report.ServerVersion, 0, len(order))
	for _, key := range order {
		s := servers[key]
		v, err := readServerVersion(ctx, s.dsn, f.Defaults)
		sv := report.ServerVersion{Server: key, Origin: s.origin, Version: v}
		if err != nil {
			sv.Version = 0
			sv.Err = dsn.Oneline(s.dsn, err.Error(), 0)
		}
		out = append(out, sv)
	}
	return out
}

// readServerVersion asks the server behind dsn for server_version_num on a
// read-only session of its own.
func readServerVersion(ctx context.Context, server string, d fleet.Defaults) (int, error) {
	conn, err := connectDiscovery(ctx, server, d)
	if err != nil {
		return 0, err
	}
	defer cleanup(ctx, conn.Close)
	var v int
	err = conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v)
	return v, err
}
