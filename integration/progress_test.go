package integration

import (
	"strings"
	"testing"
)

// TestProgressPlainWhenNotTerminal: with stderr not a terminal (cron, CI)
// there is no live bar: one plain line per finished target, and nothing at
// all with --quiet.
func TestProgressPlainWhenNotTerminal(t *testing.T) {
	dbs := newDatabases(t, 3)
	dsns := map[string]string{}
	for _, db := range dbs {
		dsns[db] = dsnFor(t, db, "")
	}
	fleetPath := writeFile(t, "fleet.yaml", fleetYAML(dsns, dbs))

	res := runCLI(t, nil, "plan", "--fleet", fleetPath)
	if res.code != 0 {
		t.Fatalf("plan: exit %d\n%s", res.code, res.stderr)
	}
	if strings.ContainsAny(res.stderr, "\r\x1b") || strings.Contains(res.stderr, "%|") {
		t.Errorf("stderr has terminal drawing although it is not a terminal:\n%q", res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
	if len(lines) != len(dbs) {
		t.Errorf("want one line per finished target (%d), got %d:\n%s", len(dbs), len(lines), res.stderr)
	}
	for _, db := range dbs {
		if !strings.Contains(res.stderr, "target="+db) {
			t.Errorf("no progress line for %s:\n%s", db, res.stderr)
		}
	}

	quiet := runCLI(t, nil, "plan", "--fleet", fleetPath, "--quiet")
	if quiet.code != 0 || quiet.stderr != "" {
		t.Errorf("--quiet: exit %d, stderr:\n%s", quiet.code, quiet.stderr)
	}
}
