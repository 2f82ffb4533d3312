package discovery

import (
	"context"

	"github.com/orchestrator-dev/orchestrator/internal/dsn"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
)

// ServerVersion is what one server of a fleet reported when asked its
// version: validate --probe-versions lints for the versions found.
type ServerVersion struct {
	// Server is "host:port" (the first host when the DSN lists fallbacks).
	Server string `json:"server"`
	// Origin is where the first target or discovery entry on that server
	// was defined.
	Origin string `json:"origin"`
	// Version is server_version_num (150020 for 15.20); 0 when Err is set.
	Version int `json:"version,omitempty"`
	// Err says why the version could not be read, scrubbed of the DSN.
	Err string `json:"error,omitempty"`
}

// ProbeVersions opens one connection to each distinct server of f (its
// listed targets and the servers its databases: and schemas: entries
// discover on; no discovery runs, so the servers a query: entry would list
// are not asked, nor is its catalog server), reads
// server_version_num and closes it. Servers are asked one at a time, in the
// order the fleet file names them; a server that cannot be asked has Err
// set, and the others are still asked.
func ProbeVersions(ctx context.Context, f *fleet.Fleet) []ServerVersion {
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
	out := make([]ServerVersion, 0, len(order))
	for _, key := range order {
		s := servers[key]
		v, err := readServerVersion(ctx, s.dsn, f.Defaults)
		sv := ServerVersion{Server: key, Origin: s.origin, Version: v}
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
