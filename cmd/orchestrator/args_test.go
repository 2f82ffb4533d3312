package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
)

// listener counts TCP connections: a target pointing at it proves whether a
// command opened one.
func listener(t *testing.T) (dsn string, accepted *atomic.Int64) {
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
	return fmt.Sprintf("postgres://app@%s/acme?sslmode=disable", l.Addr()), accepted
}

func fleetAt(t *testing.T, dsn string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(path, []byte("targets:\n  - name: acme\n    dsn: "+dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUsageErrorsExit2: unknown commands, stray arguments and bad flag
// values exit 2 with a message naming the mistake, and open no connection.
func TestUsageErrorsExit2(t *testing.T) {
	dsn, accepted := listener(t)
	fl := fleetAt(t, dsn)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"stauts", "-f", fl}, `unknown command "stauts"`},
		{"help unknown", []string{"help", "stauts"}, `unknown command "stauts"`},
		{"unknown subcommand", []string{"report", "mrege", "a.json"}, `unknown command "mrege"`},
		{"stray argument up", []string{"up", "-f", fl, "extra"}, `up takes no arguments, got "extra"`},
		{"stray argument status", []string{"status", "extra", "-f", fl}, `status takes no arguments, got "extra"`},
		{"stray argument plan", []string{"plan", "-f", fl, "--", "x"}, `plan takes no arguments, got "x"`},
		{"stray argument drift", []string{"drift", "-f", fl, "a", "b"}, `drift takes no arguments, got "a" "b"`},
		{"stray argument down", []string{"down", "-f", fl, "--to", "0", "now"}, `down takes no arguments, got "now"`},
		{"stray argument targets", []string{"targets", "-f", fl, "x"}, `targets takes no arguments`},
		{"new two names", []string{"new", "a", "b", "--migrations", t.TempDir()}, `new takes NAME, got 2 arguments`},
		{"new no name", []string{"new", "--migrations", t.TempDir()}, `new needs NAME`},
		{"merge nothing", []string{"report", "merge"}, `report merge needs FILE...`},
		{"parallel zero", []string{"up", "-f", fl, "--parallel", "0"}, "--parallel must be at least 1, got 0"},
		{"parallel negative", []string{"status", "-f", fl, "-p", "-3"}, "--parallel must be at least 1, got -3"},
		{"parallel zero drift", []string{"drift", "-f", fl, "--parallel=0"}, "--parallel must be at least 1, got 0"},
		{"duration without unit", []string{"up", "-f", fl, "--lock-timeout", "5"}, "--lock-timeout 5: a duration needs a unit: use 5s"},
		{"duration garbage", []string{"status", "-f", fl, "--connect-timeout", "soon"}, "--connect-timeout soon: not a duration (use e.g. 500ms, 2s, 5m)"},
		{"int garbage", []string{"up", "-f", fl, "--retries", "many"}, "--retries many: not a whole number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runApp(t, tc.args...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d (want 2), stderr lacks %q:\n%s\nstdout:\n%s", code, tc.want, errOut, out)
			}
			if out != "" {
				t.Errorf("stdout is for reports, got %q", out)
			}
			if strings.Contains(errOut, "orchestrator orchestrator") || strings.HasPrefix(errOut, "error: orchestrator ") {
				t.Errorf("the command is named twice: %s", errOut)
			}
		})
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("usage errors opened %d connections", n)
	}
}

// TestFlagsAnywhere: flags after positional arguments are flags, as the
// README writes them.
func TestFlagsAnywhere(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db", "migrations")
	out, errOut, code := runApp(t, "new", "add_user_nickname", "--migrations", dir, "-q")
	if code != 0 || !strings.Contains(out, "001_add_user_nickname.sql") || errOut != "" {
		t.Fatalf("new NAME --migrations DIR: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	report := filepath.Join(t.TempDir(), "a.json")
	if err := os.WriteFile(report, []byte(`{"schema_version":1,"command":"up","started_at":"2026-01-01T00:00:00Z","duration_ms":1,"summary":{},"targets":[{"name":"a","status":"up_to_date","from_version":4,"to_version":4,"duration_ms":1}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runApp(t, "report", "merge", report, "--format", "json")
	if code != 0 || !strings.Contains(out, `"schema_version": 1`) {
		t.Fatalf("report merge FILE --format json: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A positional argument after "--" stays one, even when it looks like a flag.
	got := reorderArgs(newApp(nil, nil, nil), []string{"orchestrator", "new", "--", "-x", "--migrations", "d"})
	if strings.Join(got, " ") != "orchestrator new -- -x --migrations d" {
		t.Errorf("after --: %q", got)
	}
	got = reorderArgs(newApp(nil, nil, nil), []string{"orchestrator", "report", "merge", "a.json", "--format", "json", "b.json", "--report=x.json"})
	if strings.Join(got, " ") != "orchestrator report merge --format json --report=x.json -- a.json b.json" {
		t.Errorf("merge: %q", got)
	}
}

// TestHelpTextsSayOneThing: one default per flag, no connection flags on
// validate, every format in up's usage line, -v only --verbose.
func TestHelpTextsSayOneThing(t *testing.T) {
	help := func(args ...string) string {
		out, errOut, code := runApp(t, append(args, "--help")...)
		if code != 0 {
			t.Fatalf("%v --help: exit %d: %s", args, code, errOut)
		}
		return out
	}
	v := help("validate")
	for _, flag := range []string{"--parallel", "--lock-timeout", "--statement-timeout", "--connect-timeout", "--lock-wait", "--timeout", "--report"} {
		if strings.Contains(v, flag+" ") {
			t.Errorf("validate --help lists %s, but validate opens no connection", flag)
		}
	}
	for _, cmd := range []string{"up", "plan", "down"} {
		for _, line := range strings.Split(help(cmd), "\n") {
			if strings.Contains(line, "--to value") && strings.Count(line, "default") > 1 {
				t.Errorf("%s --help: %q shows two defaults", cmd, line)
			}
			if cmd == "down" && strings.Contains(line, "--to value") && strings.Contains(line, "default: 0") {
				t.Errorf("down --help: %q says required and default 0", line)
			}
		}
	}
	if !strings.Contains(help("up"), "table|json|junit|markdown") {
		t.Errorf("up's usage line does not list every format")
	}
	if _, errOut, code := runApp(t, "-v"); code != exitUsage {
		t.Errorf("-v at the top level: exit %d (want 2: -v is --verbose in commands, not --version): %s", code, errOut)
	}
}

func TestVersionOf(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	if got := versionOf(bi); !strings.HasPrefix(got, "devel-0123456789ab-dirty") {
		t.Errorf("dirty checkout: %q", got)
	}
	bi.Settings[1].Value = "false"
	if got := versionOf(bi); got != "devel-0123456789ab" {
		t.Errorf("clean checkout: %q", got)
	}
	if got := versionOf(&debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}); got != "v1.2.3" {
		t.Errorf("release: %q", got)
	}
	if got := versionOf(nil); got != "(devel)" {
		t.Errorf("no build info: %q", got)
	}
}
