package integration

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
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

// TestProgressCountsOutcomes: on a terminal the live bar counts finished
// targets by outcome as the run goes.
func TestProgressCountsOutcomes(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		pgtest.Unavailable(t, "no script(1) to run the binary on a terminal")
	}
	dbs := newDatabases(t, 3)
	dsns := dsnMap(t, dbs)
	dsns["gone"] = fmt.Sprintf("postgres://app@127.0.0.1:%d/x?sslmode=disable&connect_timeout=2", closedPort(t))
	fleetPath := writeFile(t, "fleet.yaml", fleetYAML(dsns, append(dbs, "gone")))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// script runs the command on a pseudo-terminal and copies what it drew.
	cmd := exec.CommandContext(ctx, script, "-q", "-e", "-c", binary+" up -f "+fleetPath+" --parallel 1 >/dev/null", "/dev/null")
	cmd.Env = append(cleanEnv(), "COLUMNS=200", "TERM=xterm")
	out, _ := cmd.CombinedOutput()
	for _, want := range []string{"1 applied", "3 applied", "3 applied, 1 failed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the bar never showed %q:\n%q", want, out)
		}
	}
}
