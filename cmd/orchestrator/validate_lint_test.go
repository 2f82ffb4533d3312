package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestValidateFormats: junit parses as XML with one case per finding and
// the failing ones marked; markdown has one escaped row per finding;
// github has one annotation per finding on its line.
func TestValidateFormats(t *testing.T) {
	dir := writeValidateDir(t, lintSet)
	out := func(format string, vo validateOpts) string {
		o, stdout, _ := validateOptions()
		o.migrationsDir, o.format = dir, format
		if code := validateExit(runValidate(context.Background(), o, vo)); code != exitUsage {
			t.Fatalf("%s: exit %d, want %d", format, code, exitUsage)
		}
		return stdout.String()
	}
	all := len(lintSetWant) + 1 // and the note

	t.Run("junit", func(t *testing.T) {
		for _, strict := range []bool{false, true} {
			var doc struct {
				XMLName xml.Name `xml:"testsuites"`
				Suites  []struct {
					Tests    int `xml:"tests,attr"`
					Failures int `xml:"failures,attr"`
					Cases    []struct {
						Name    string    `xml:"name,attr"`
						Failure *struct{} `xml:"failure"`
					} `xml:"testcase"`
				} `xml:"testsuite"`
			}
			text := out("junit", validateOpts{strict: strict})
			if err := xml.Unmarshal([]byte(text), &doc); err != nil {
				t.Fatalf("not XML: %v\n%s", err, text)
			}
			wantFail := 1
			if strict {
				wantFail = 8 // the error and the 7 warnings; never the note
			}
			s := doc.Suites[0]
			failed := 0
			for _, c := range s.Cases {
				if c.Failure != nil {
					failed++
				}
			}
			if len(doc.Suites) != 1 || s.Tests != all || len(s.Cases) != all || s.Failures != wantFail || failed != wantFail {
				t.Errorf("strict=%v: %d cases, %d failures, want %d and %d\n%s", strict, len(s.Cases), failed, all, wantFail, text)
			}
		}
	})

	t.Run("markdown", func(t *testing.T) {
		text := out("markdown", validateOpts{})
		rows := 0
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "| `") {
				rows++
			}
		}
		if rows != all || !strings.HasPrefix(text, "### orchestrator validate: failed") {
			t.Errorf("%d rows, want %d:\n%s", rows, all, text)
		}
		if !strings.Contains(text, `\_`) {
			t.Errorf("markup is not escaped (want \\_ for the underscores of names):\n%s", text)
		}
	})

	t.Run("github", func(t *testing.T) {
		lines := strings.Split(strings.TrimSuffix(out("github", validateOpts{}), "\n"), "\n")
		if len(lines) != all {
			t.Fatalf("%d annotations, want %d:\n%s", len(lines), all, strings.Join(lines, "\n"))
		}
		want := fmt.Sprintf("::warning file=%s,line=2,title=index-not-concurrent::warning: CREATE INDEX", filepath.Join(dir, "002_index.sql"))
		if !strings.HasPrefix(lines[0], want) {
			t.Errorf("first annotation = %q, want prefix %q", lines[0], want)
		}
		for _, l := range lines {
			if !strings.HasPrefix(l, "::error ") && !strings.HasPrefix(l, "::warning ") && !strings.HasPrefix(l, "::notice ") {
				t.Errorf("not an annotation: %q", l)
			}
		}
	})
}

// TestValidateJUnitFleetAndSet: validate --format junit on a fleet file
// with an error and a migration set with an error and warnings is one XML
// suite where every diagnostic is a test case named by its file:line, the
// errors failing (the fleet's and the lint's), the warnings passing unless
// --strict; the exit code stays 2.
func TestValidateJUnitFleetAndSet(t *testing.T) {
	dir := writeValidateDir(t, lintSet)
	fleetPath := filepath.Join(t.TempDir(), "fleet.yaml")
	// Line 4 names a target without a dsn.
	fleetText := "targets:\n  - name: acme\n    dsn: postgres://postgres@127.0.0.1:1/acme\n  - name: globex\n"
	if err := os.WriteFile(fleetPath, []byte(fleetText), 0o600); err != nil {
		t.Fatal(err)
	}
	type junitCase struct {
		Name      string    `xml:"name,attr"`
		Failure   *struct{} `xml:"failure"`
		SystemOut string    `xml:"system-out"`
	}
	for _, strict := range []bool{false, true} {
		o, stdout, _ := validateOptions()
		o.migrationsDir, o.fleetPath, o.format = dir, fleetPath, "junit"
		if code := validateExit(runValidate(context.Background(), o, validateOpts{strict: strict})); code != exitUsage {
			t.Fatalf("strict=%v: exit %d, want %d", strict, code, exitUsage)
		}
		var doc struct {
			XMLName  xml.Name `xml:"testsuites"`
			Failures int      `xml:"failures,attr"`
			Suites   []struct {
				Cases []junitCase `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal(stdout.Bytes(), &doc); err != nil {
			t.Fatalf("strict=%v: not XML: %v\n%s", strict, err, stdout)
		}
		if len(doc.Suites) != 1 {
			t.Fatalf("strict=%v: %d suites\n%s", strict, len(doc.Suites), stdout)
		}
		cases := map[string]junitCase{}
		for _, c := range doc.Suites[0].Cases {
			cases[c.Name] = c
		}
		fails := func(name string) bool {
			c, ok := cases[name]
			if !ok {
				t.Errorf("strict=%v: no test case %q in\n%s", strict, name, stdout)
			}
			return c.Failure != nil
		}
		if !fails(fleetPath + ":4 fleet") {
			t.Errorf("strict=%v: the fleet file's error is not a failure", strict)
		}
		if !fails(filepath.Join(dir, "003_concurrently.sql") + ":2 concurrently-in-transaction") {
			t.Errorf("strict=%v: the lint error is not a failure", strict)
		}
		if got := fails(filepath.Join(dir, "002_index.sql") + ":2 index-not-concurrent"); got != strict {
			t.Errorf("strict=%v: the warning fails: %v", strict, got)
		}
		if fails(filepath.Join(dir, "004_notx.sql")+":3 no-transaction-splits-batch") || cases[filepath.Join(dir, "004_notx.sql")+":3 no-transaction-splits-batch"].SystemOut == "" {
			t.Errorf("strict=%v: the note fails or loses its message", strict)
		}
		wantFail := 2 // the fleet's error and the lint's
		if strict {
			wantFail += len(lintSetWant) - 1 // and every warning
		}
		if len(cases) != len(lintSetWant)+2 || doc.Failures != wantFail {
			t.Errorf("strict=%v: %d cases, %d failures; want %d and %d\n%s", strict, len(cases), doc.Failures, len(lintSetWant)+2, wantFail, stdout)
		}
	}
}

// TestValidateSince: --since V lints only the migrations after V.
func TestValidateSince(t *testing.T) {
	dir := writeValidateDir(t, lintSet)
	o, stdout, _ := validateOptions()
	o.migrationsDir, o.format = dir, "json"
	if code := validateExit(runValidate(context.Background(), o, validateOpts{since: 5, strict: true})); code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	d := decodeValidation(t, stdout)
	want := []string{"006_type.sql:2 warning column-type-change", "007_drop.sql:2 warning destructive-up",
		"007_drop.sql:3 warning destructive-up", "007_drop.sql:3 warning batch-access-exclusive",
		"008_no_down.sql:1 warning missing-down"}
	if got := d.briefs(dir); !slices.Equal(got, want) || d.Since != 5 {
		t.Errorf("findings %q (since %d), want %q", got, d.Since, want)
	}
	o, stdout, _ = validateOptions()
	o.migrationsDir = dir
	if err := runValidate(context.Background(), o, validateOpts{since: 8, strict: true}); err != nil {
		t.Errorf("--since 8 (nothing after it): %v\n%s", err, stdout)
	}
}

// TestValidateSchemaQualifiedByFleet: the same set is a warning for a
// fleet with tenant schemas and a note for one of databases only.
func TestValidateSchemaQualifiedByFleet(t *testing.T) {
	dir := writeValidateDir(t, map[string]string{
		"001_users.sql": "-- +goose Up\nCREATE TABLE public.users (id bigint PRIMARY KEY);\n-- +goose Down\nDROP TABLE users;\n",
	})
	fleets := writeValidateDir(t, map[string]string{
		"dbs.yaml":     "targets:\n  - name: acme\n    dsn: postgres://h/acme\n",
		"schemas.yaml": "discover:\n  - server: postgres://h/app\n    schemas: tenant_%\n",
	})
	for file, want := range map[string]string{"dbs.yaml": "note", "schemas.yaml": "warning"} {
		o, stdout, _ := validateOptions()
		o.migrationsDir, o.format, o.fleetPath = dir, "json", filepath.Join(fleets, file)
		if err := runValidate(context.Background(), o, validateOpts{}); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		d := decodeValidation(t, stdout)
		if len(d.Findings) != 1 || d.Findings[0].Rule != "schema-qualified-name" || d.Findings[0].Severity != want {
			t.Errorf("%s: findings %+v, want one %s", file, d.Findings, want)
		}
	}
}

// countingProxy forwards TCP connections to target and counts them.
func countingProxy(t *testing.T, target string) (port int, accepted *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go func() { _, _ = io.Copy(s, c); s.Close() }()
				_, _ = io.Copy(c, s)
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); wg.Wait() })
	return l.Addr().(*net.TCPAddr).Port, accepted
}

// TestValidateProbeVersions runs --probe-versions against the real server:
// one connection per distinct server (two targets through a counting proxy
// make one server), the version read is the server's, and a statement the
// server is too old for is flagged while one it supports is not.
func TestValidateProbeVersions(t *testing.T) {
	dsn := os.Getenv("ORCH_TEST_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no PostgreSQL at %s and CI=true: %v", dsn, err)
		}
		t.Skipf("no PostgreSQL reachable: %v", err)
	}
	var version int
	err = conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	port, accepted := countingProxy(t, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)))
	viaProxy := fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", cfg.User, port, cfg.Database)
	fleetDir := writeValidateDir(t, map[string]string{
		"fleet.yaml": fmt.Sprintf("targets:\n  - name: acme\n    dsn: %s\n  - name: globex\n    dsn: %s\n", viaProxy, viaProxy),
	})
	// A feature every supported server has, and one newer than any server
	// here (PostgreSQL 99), so the test holds whatever the local version.
	dir := writeValidateDir(t, map[string]string{
		"001_users.sql": validateUsers,
		"002_idx.sql": "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE UNIQUE INDEX CONCURRENTLY u ON users (email) NULLS NOT DISTINCT;\n" +
			"-- +goose Down\nDROP INDEX CONCURRENTLY u;\n",
		"003_expr.sql": "-- +goose Up\nALTER TABLE users ALTER COLUMN email SET EXPRESSION AS (lower(nickname));\n" +
			"-- +goose Down\nSELECT 1;\n",
	})
	o, stdout, stderr := validateOptions()
	o.migrationsDir, o.format, o.fleetPath = dir, "json", filepath.Join(fleetDir, "fleet.yaml")
	err = runValidate(ctx, o, validateOpts{probe: true})
	d := decodeValidation(t, stdout)
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d connections to the one server, want 1", n)
	}
	if len(d.Servers) != 1 || d.Servers[0].Version != version || d.Servers[0].Error != "" ||
		d.Servers[0].Server != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Fatalf("servers = %+v, want one at %d", d.Servers, version)
	}
	var got []string
	for _, f := range d.Findings {
		if f.Rule == "needs-newer-server" || f.Rule == "behaves-differently-across-versions" {
			got = append(got, fmt.Sprintf("%s:%d %s", filepath.Base(f.File), f.Line, f.Rule))
		}
	}
	var want []string
	if version < 150000 {
		want = append(want, "002_idx.sql:3 needs-newer-server")
	}
	if version < 170000 {
		want = append(want, "003_expr.sql:2 needs-newer-server")
	}
	if !slices.Equal(got, want) {
		t.Errorf("version findings %q, want %q\n%s%s", got, want, stdout, stderr)
	}
	if len(want) > 0 && validateExit(err) != exitUsage {
		t.Errorf("exit %d, want %d for an error finding", validateExit(err), exitUsage)
	}
	if strings.Contains(stdout.String()+stderr.String(), viaProxy) {
		t.Error("a DSN reached the output")
	}

	t.Run("a catalog query is not run", func(t *testing.T) {
		catalog, asked := connCounter(t)
		fleetDir := writeValidateDir(t, map[string]string{
			"fleet.yaml": fmt.Sprintf("targets:\n  - name: acme\n    dsn: %s\n"+
				"discover:\n  - server: postgres://app@127.0.0.1:%d/catalog\n    query: SELECT name, dsn FROM tenants\n", viaProxy, catalog),
		})
		o, stdout, _ := validateOptions()
		o.migrationsDir, o.format, o.fleetPath = dir, "json", filepath.Join(fleetDir, "fleet.yaml")
		_ = runValidate(ctx, o, validateOpts{probe: true})
		d := decodeValidation(t, stdout)
		if asked.Load() != 0 || len(d.Servers) != 1 {
			t.Errorf("%d connections to the catalog, servers %+v: want none and the listed target's server", asked.Load(), d.Servers)
		}
		notes := 0
		for _, f := range d.Findings {
			if f.Rule == "probe-versions" && f.Severity == "note" && f.Line == 5 {
				notes++
			}
		}
		if notes != 1 {
			t.Errorf("want one note at the query entry: %+v", d.Findings)
		}
	})

	t.Run("unreachable server", func(t *testing.T) {
		dead, _ := connCounter(t)
		fleetDir := writeValidateDir(t, map[string]string{
			"fleet.yaml": fmt.Sprintf("targets:\n  - name: acme\n    dsn: postgres://app:s3cret@127.0.0.1:%d/acme?sslmode=disable&connect_timeout=2\n", dead),
		})
		o, stdout, stderr := validateOptions()
		o.migrationsDir, o.format, o.fleetPath = dir, "json", filepath.Join(fleetDir, "fleet.yaml")
		if code := validateExit(runValidate(ctx, o, validateOpts{probe: true})); code != exitUsage {
			t.Errorf("exit %d, want %d", code, exitUsage)
		}
		d := decodeValidation(t, stdout)
		if len(d.Servers) != 1 || d.Servers[0].Error == "" || !slices.ContainsFunc(d.Findings, func(f struct {
			File     string `json:"file"`
			Line     int    `json:"line"`
			Rule     string `json:"rule"`
			Severity string `json:"severity"`
			Message  string `json:"message"`
		}) bool {
			return f.Rule == "probe-versions" && f.Severity == "error"
		}) {
			t.Errorf("servers %+v findings %+v", d.Servers, d.Findings)
		}
		if strings.Contains(stdout.String()+stderr.String(), "s3cret") {
			t.Error("the password reached the output")
		}
	})
}
