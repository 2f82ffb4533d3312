package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// binDir finds the directory of PostgreSQL's server binaries: that of
// pg_ctl on PATH, else the newest /usr/lib/postgresql/<version>/bin.
func binDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath(filepath.Join(filepath.Dir(p), "initdb")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no initdb and pg_ctl on PATH or in /usr/lib/postgresql/<version>/bin")
}

// Start initializes and starts a private PostgreSQL cluster for the test:
// data and unix socket in a temporary directory, a free loopback port,
// trust authentication for user postgres, maxConnections connections, no
// fsync, and each of settings ("name=value") as a server setting. It is
// stopped and removed when the test ends. Without the server
// binaries the test skips (fails under CI=true). As root, the cluster runs
// as the postgres user, since PostgreSQL refuses to run as root.
func Start(t testing.TB, maxConnections int, settings ...string) *Server {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		Unavailable(t, "private PostgreSQL cluster: %v", err)
	}
	dir := t.TempDir()
	asRoot := os.Geteuid() == 0
	if asRoot {
		// The postgres user must reach dir, whose parent is root's alone.
		if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("chown", "postgres:", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown %s to postgres: %v: %s", dir, err, out)
		}
	}
	// run runs a server binary with args (paths and numbers only) as the
	// user the cluster belongs to.
	run := func(name string, args ...string) error {
		argv := append([]string{filepath.Join(bin, name)}, args...)
		cmd := exec.Command(argv[0], argv[1:]...)
		if asRoot {
			cmd = exec.Command("su", "postgres", "-s", "/bin/sh", "-c", "exec "+shellQuote(argv))
		}
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", name, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	socketDir := dir
	if len(dir) > 80 {
		socketDir = "''" // a socket path this long is refused: TCP only
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c max_connections=%d "+
		"-c shared_buffers=16MB -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, socketDir, maxConnections)
	for _, kv := range settings {
		if strings.ContainsAny(kv, " '\"\\") || !strings.Contains(kv, "=") {
			t.Fatalf("pgtest.Start: setting %q is not name=value without spaces or quotes", kv)
		}
		opts += " -c " + kv
	}
	if err := run("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		t.Fatalf("%v\n%s", err, log)
	}
	t.Cleanup(func() {
		if err := run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", data); err != nil {
			t.Errorf("stop the private cluster: %v", err)
		}
	})
	return &Server{DSN: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), private: true}
}

// shellQuote quotes argv for sh -c.
func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// FreePort returns a loopback TCP port nobody listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
