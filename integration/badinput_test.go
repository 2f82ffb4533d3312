package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

// countingListener accepts TCP connections on loopback and counts them: a
// target DSN pointing at it proves whether a command opened a connection.
func countingListener(t *testing.T) (port int, accepted *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port, accepted
}

// TestBadInputTouchesNothing: every bad input exits 2 with an error naming
// what and where, before a single connection is opened.
func TestBadInputTouchesNothing(t *testing.T) {
	pgtest.Shared(t)
	port, accepted := countingListener(t)
	dsn := fmt.Sprintf("postgres://app:pw@127.0.0.1:%d/acme?sslmode=disable", port)
	good := fmt.Sprintf("targets:\n  - name: acme\n    dsn: %s\n", dsn)

	dupDir := t.TempDir()
	for name, body := range map[string]string{
		"001_a.sql": "-- +goose Up\nCREATE TABLE a (id int);\n-- +goose Down\nDROP TABLE a;\n",
		"001_b.sql": "-- +goose Up\nCREATE TABLE b (id int);\n-- +goose Down\nDROP TABLE b;\n",
	} {
		if err := os.WriteFile(filepath.Join(dupDir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	emptyDir := t.TempDir()

	cases := []struct {
		name  string
		fleet string
		args  []string
		want  []string // substrings of stderr
	}{
		{"malformed yaml", "targets:\n  - name: acme\n    dsn: [unclosed\n", nil, []string{"fleet.yaml:3"}},
		{"unknown key", "defaults:\n  paralellism: 4\n" + good, nil, []string{"fleet.yaml:2", `"paralellism"`, "parallelism"}},
		{"duplicate target", good + "  - name: acme\n    dsn: " + dsn + "\n", nil, []string{"fleet.yaml:4", "acme", "line 2"}},
		{"target without dsn", "targets:\n  - name: acme\n", nil, []string{"fleet.yaml:2", "dsn"}},
		{"undefined variable", "targets:\n  - name: acme\n    dsn: postgres://app:${ORCH_IT_UNSET_VAR}@127.0.0.1/x\n", nil, []string{"fleet.yaml:3", "ORCH_IT_UNSET_VAR"}},
		{"bad duration", "defaults:\n  lock_timeout: soon\n" + good, nil, []string{"fleet.yaml:2", "lock_timeout", "soon"}},
		{"duplicate version", good, []string{"--migrations", dupDir}, []string{"001_a.sql", "001_b.sql", "duplicate"}},
		{"empty migration dir", good, []string{"--migrations", emptyDir}, []string{"no migrations"}},
		{"unknown --to", good, []string{"--to", "9"}, []string{"--to 9", "1, 2, 3, 4"}},
		{"bad --format", good, []string{"--format", "yaml"}, []string{"yaml", "table"}},
		{"no targets at all", "", nil, []string{"--fleet"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"up"}
			if tc.fleet != "" {
				args = append(args, "--fleet", writeFile(t, "fleet.yaml", tc.fleet))
			}
			args = append(args, tc.args...)
			before := accepted.Load()
			res := runCLI(t, nil, args...)
			if res.code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, res.stderr)
				}
			}
			if res.stdout != "" {
				t.Errorf("stdout must stay empty on a usage error, got:\n%s", res.stdout)
			}
			if n := accepted.Load() - before; n != 0 {
				t.Errorf("%d connection(s) opened for a bad input", n)
			}
		})
	}
}
