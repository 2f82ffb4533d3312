package fleet

import (
	"context"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// ProbeVersions opens one connection to each distinct server of f (its
// listed targets and the servers its databases: and schemas: entries
// discover on; no discovery runs, so the servers a query: entry would list
// are not asked, nor is its catalog server), reads
// server_version_num and closes it. Servers are asked one at a time, in the
// order the fleet file names them; a server that cannot be asked has Err
// set, and the others are still asked.
func ProbeVersions(ctx context.Context, f *Fleet) []report.ServerVersion {
	type server struct{ dsn, origin string }
	var order []string
	servers := map[string]server{}
	add := func(dsn, origin string) {
		key := serverKey(dsn)
		if key == "" {
			key = "the server of " + origin
		}
		if _, seen := servers[key]; !seen {
			servers[key] = server{dsn, origin}
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
			sv.Err = Target{DSN: s.dsn}.Scrub(strings.Join(strings.Fields(err.Error()), " "))
		}
		out = append(out, sv)
	}
	return out
}

// readServerVersion asks the server behind dsn for server_version_num on a
// read-only session of its own.
func readServerVersion(ctx context.Context, dsn string, d Defaults) (int, error) {
	conn, err := connectDiscovery(ctx, dsn, d)
	if err != nil {
		return 0, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	var v int
	err = conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v)
	return v, err
}

// serverKey is "host:port" of dsn's first host; "" when it does not
// parse (Parse has already refused such a DSN).
func serverKey(dsn string) string {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return ""
	}
	port := strconv.Itoa(int(cfg.Port))
	if strings.HasPrefix(cfg.Host, "/") {
		return cfg.Host + ":" + port
	}
	return net.JoinHostPort(cfg.Host, port)
}
