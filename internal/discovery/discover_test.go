package discovery

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
)

// discover runs Discover with the test's context.
func discover(t *testing.T, f *fleet.Fleet) (*fleet.Fleet, error) {
	t.Helper()
	return Discover(testContext(t), f)
}

// discoverError runs Discover, which must fail with an *fleet.Error that shows
// none of secrets.
func discoverError(t *testing.T, f *fleet.Fleet, secrets ...string) *fleet.Error {
	t.Helper()
	got, err := discover(t, f)
	if got != nil {
		t.Errorf("Discover returned a fleet with an error: %+v", got)
	}
	fe := asError(t, err)
	for _, s := range secrets {
		if strings.Contains(fe.Error(), s) {
			t.Errorf("the error shows the secret %q:\n%s", s, fe.Error())
		}
	}
	return fe
}

// wantProblem asserts that fe has a problem on line containing msg.
func wantProblem(t *testing.T, fe *fleet.Error, line int, msg string) {
	t.Helper()
	for _, p := range fe.Problems {
		if p.Line == line && strings.Contains(p.Message, msg) {
			return
		}
	}
	t.Errorf("no problem on line %d containing %q in:\n%s", line, msg, fe.Error())
}

func TestDiscoverDatabases(t *testing.T) {
	cfg := serverConfig(t)
	prefix := "orch_disc_" + randomSuffix(t)
	hostile := prefix + `_it's a "db" \ /x%`
	for _, db := range []string{prefix + "_c", prefix + "_a", hostile, prefix + "_b", "orch_dother_" + prefix} {
		createDatabase(t, cfg, db, "")
	}
	createDatabase(t, cfg, prefix+"_tpl", "IS_TEMPLATE true")
	createDatabase(t, cfg, prefix+"_noconn", "ALLOW_CONNECTIONS false")

	servers := map[string]string{
		"url":           testDSN(),
		"keyword/value": keywordValueDSN(cfg, cfg.Database),
	}
	for kind, server := range servers {
		t.Run(kind, func(t *testing.T) {
			src := `targets:
  - name: listed
    dsn: postgres://app@elsewhere/listed
discover:
  - server: ${SERVER}
    databases: '` + prefix + `\_%'
    labels: {tier: main}
`
			f := fleetWith(t, src, map[string]string{"SERVER": server})
			got, err := discover(t, f)
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			want := []string{"listed", prefix + "_a", prefix + "_b", prefix + "_c", hostile}
			if !slices.Equal(names(got.Targets), want) {
				t.Fatalf("targets = %q, want %q", names(got.Targets), want)
			}
			if len(f.Targets) != 1 || len(f.Discover) != 1 || got.Discover != nil {
				t.Errorf("Discover changed its input or kept the sources: input %d targets, %d sources; result %d sources", len(f.Targets), len(f.Discover), len(got.Discover))
			}
			serverCfg, err := pgconn.ParseConfig(server)
			if err != nil {
				t.Fatal(err)
			}
			keys := map[string]bool{}
			for _, tg := range got.Targets[1:] {
				wantOrigin := fmt.Sprintf(`fleet.yaml:5 (databases %s\_%%)`, prefix)
				if tg.Origin != wantOrigin || tg.Schema != "" || !maps.Equal(tg.Labels, map[string]string{"tier": "main"}) {
					t.Errorf("target %q: Origin %q, Schema %q, Labels %v; want %q, \"\", tier=main", tg.Name, tg.Origin, tg.Schema, tg.Labels, wantOrigin)
				}
				if isURL := strings.HasPrefix(tg.DSN, "postgres"); isURL != (kind == "url") {
					t.Errorf("target %q: DSN changed form", tg.Name)
				}
				c, err := pgconn.ParseConfig(tg.DSN)
				if err != nil {
					t.Fatalf("target %q: DSN does not parse: %v", tg.Name, tg.Scrub(err.Error()))
				}
				if c.User != serverCfg.User || c.Password != serverCfg.Password || c.Host != serverCfg.Host || c.Port != serverCfg.Port {
					t.Errorf("target %q: DSN points elsewhere than the server", tg.Name)
				}
				keys[tg.DatabaseKey()] = true
				// The DSN reaches the database it is named after.
				conn, err := pgx.Connect(testContext(t), tg.DSN)
				if err != nil {
					t.Fatalf("target %q: connect: %v", tg.Name, tg.Scrub(err.Error()))
				}
				var db string
				err = conn.QueryRow(testContext(t), "SELECT current_database()").Scan(&db)
				_ = conn.Close(context.Background())
				if err != nil || db != tg.Name {
					t.Errorf("target %q: connected to database %q (%v)", tg.Name, db, err)
				}
			}
			if len(keys) != 4 {
				t.Errorf("4 databases have %d distinct DatabaseKeys: %v", len(keys), keys)
			}
		})
	}
}

func TestDiscoverSchemas(t *testing.T) {
	cfg := serverConfig(t)
	db := "orch_disc_" + randomSuffix(t)
	createDatabase(t, cfg, db, "")
	const hostile = `a"; DROP TABLE x; --`
	conn := connectTo(t, cfg, db)
	exec(t, conn,
		"CREATE TABLE public.x (id int)",
		"CREATE SCHEMA tenant_b", "CREATE SCHEMA tenant_a", "CREATE SCHEMA other",
		"CREATE SCHEMA "+pgx.Identifier{hostile}.Sanitize(),
	)
	server := keywordValueDSN(cfg, db)

	tests := []struct {
		pattern string
		want    []string
	}{
		{`tenant\_%`, []string{"tenant_a", "tenant_b"}},
		{`%`, []string{hostile, "other", "public", "tenant_a", "tenant_b"}},
		{`a"; DROP%`, []string{hostile}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			src := "discover:\n  - server: ${SERVER}\n    schemas: '" + tt.pattern + "'\n    labels: {layout: shared}\n"
			got, err := discover(t, fleetWith(t, src, map[string]string{"SERVER": server}))
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			if !slices.Equal(names(got.Targets), tt.want) {
				t.Fatalf("targets = %q, want %q", names(got.Targets), tt.want)
			}
			for _, tg := range got.Targets {
				if tg.Schema != tg.Name || tg.DSN != server || tg.DatabaseKey() != got.Targets[0].DatabaseKey() || tg.Labels["layout"] != "shared" {
					t.Errorf("target %q: Schema %q, Labels %v, key %q; want the schema, the server's DSN and key, layout=shared", tg.Name, tg.Schema, tg.Labels, tg.DatabaseKey())
				}
			}
		})
	}

	// The hostile name is one schema, used as one: what the runner does
	// with QuotedSchema creates the version table there and drops nothing.
	got, err := discover(t, fleetWith(t, "discover:\n  - {server: '${SERVER}', schemas: '%DROP%'}\n", map[string]string{"SERVER": server}))
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	tg := got.Targets[0]
	if tg.Name != hostile || tg.Schema != hostile {
		t.Fatalf("got target %q with schema %q, want %q", tg.Name, tg.Schema, hostile)
	}
	exec(t, conn, "SET search_path TO "+tg.QuotedSchema(), "CREATE TABLE goose_db_version (id int)")
	var inSchema, xKept bool
	err = conn.QueryRow(testContext(t), `SELECT
		EXISTS (SELECT FROM pg_tables WHERE schemaname = $1 AND tablename = 'goose_db_version'),
		to_regclass('public.x') IS NOT NULL`, hostile).Scan(&inSchema, &xKept)
	if err != nil || !inSchema || !xKept {
		t.Errorf("version table in the hostile schema: %v, public.x kept: %v (%v)", inSchema, xKept, err)
	}
}

// catalog creates a catalog database with the tables tenants (jsonb
// labels) and tenants_text (text labels), and returns its keyword/value DSN
// and a connection to it.
func catalog(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	cfg := serverConfig(t)
	db := "orch_disc_" + randomSuffix(t)
	createDatabase(t, cfg, db, "")
	conn := connectTo(t, cfg, db)
	exec(t, conn,
		"CREATE TABLE tenants (name text, dsn text, labels jsonb, active bool)",
		`INSERT INTO tenants VALUES
			('globex', 'host=db2 dbname=globex password=''p w''', NULL, true),
			('acme', 'postgres://app:pw1@db1/acme', '{"tier": "canary", "region": "us"}', true),
			('gone', 'postgres://app@db1/gone', NULL, false)`,
		"CREATE TABLE tenants_text (name text, dsn text, labels text)",
		`INSERT INTO tenants_text VALUES
			('initech', 'postgres://db3/initech', ' tier = canary , region=us '),
			('umbrella', 'postgres://db3/umbrella', ''),
			('hooli', 'postgres://db3/hooli', NULL)`,
	)
	return keywordValueDSN(cfg, db), conn
}

func TestDiscoverQuery(t *testing.T) {
	server, _ := catalog(t)
	tests := []struct {
		name, query string
		want        []fleet.Target
	}{
		{
			name:  "jsonb labels",
			query: "SELECT name, dsn, labels FROM tenants WHERE active ORDER BY name",
			want: []fleet.Target{
				{Name: "acme", DSN: "postgres://app:pw1@db1/acme", Labels: map[string]string{"tier": "canary", "region": "us", "source": "catalog"}, Origin: "fleet.yaml:2 (query row 1)"},
				{Name: "globex", DSN: "host=db2 dbname=globex password='p w'", Labels: map[string]string{"region": "eu", "source": "catalog"}, Origin: "fleet.yaml:2 (query row 2)"},
			},
		},
		{
			name:  "text labels, columns in any order",
			query: "SELECT labels, 1 AS extra, dsn, name FROM tenants_text ORDER BY name DESC",
			want: []fleet.Target{
				{Name: "umbrella", DSN: "postgres://db3/umbrella", Labels: map[string]string{"region": "eu", "source": "catalog"}, Origin: "fleet.yaml:2 (query row 1)"},
				{Name: "initech", DSN: "postgres://db3/initech", Labels: map[string]string{"tier": "canary", "region": "us", "source": "catalog"}, Origin: "fleet.yaml:2 (query row 2)"},
				{Name: "hooli", DSN: "postgres://db3/hooli", Labels: map[string]string{"region": "eu", "source": "catalog"}, Origin: "fleet.yaml:2 (query row 3)"},
			},
		},
		{
			name:  "no labels column",
			query: "SELECT name::varchar, dsn FROM tenants WHERE name = 'acme'",
			want: []fleet.Target{
				{Name: "acme", DSN: "postgres://app:pw1@db1/acme", Labels: map[string]string{"region": "eu", "source": "catalog"}, Origin: "fleet.yaml:2 (query row 1)"},
			},
		},
		{
			name:  "session is tagged and read-only",
			query: "SELECT current_setting('application_name') || ' ' || current_setting('transaction_read_only') AS name, 'postgres://h/x' AS dsn",
			want: []fleet.Target{
				{Name: "orchestrator:discover on", DSN: "postgres://h/x", Labels: map[string]string{"region": "eu", "source": "catalog"}, Origin: "fleet.yaml:2 (query row 1)"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "discover:\n  - server: ${SERVER}\n    query: ${QUERY}\n    labels: {region: eu, source: catalog}\n"
			got, err := discover(t, fleetWith(t, src, map[string]string{"SERVER": server, "QUERY": tt.query}))
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			if !reflect.DeepEqual(got.Targets, tt.want) {
				t.Errorf("targets:\n got %+v\nwant %+v", got.Targets, tt.want)
			}
		})
	}
}

func TestDiscoverQueryProblems(t *testing.T) {
	server, conn := catalog(t)
	const secret = "SECRETPW"
	tests := []struct {
		name, query string
		want        []string // each on the source's line
	}{
		{
			name:  "missing column",
			query: "SELECT name, labels FROM tenants",
			want:  []string{`discover[0] (query): the query must return the columns name and dsn (and optionally labels), but it returns "name", "labels"`},
		},
		{
			name:  "column twice",
			query: "SELECT name, dsn, dsn FROM tenants",
			want:  []string{`the query returns the column "dsn" twice`},
		},
		{
			name: "bad rows",
			query: `SELECT * FROM (VALUES
				('ok', 'postgres://h/ok', NULL::jsonb),
				(NULL, 'postgres://h/x', NULL),
				('nodsn', NULL, NULL),
				('baddsn', 'postgres://u:` + secret + `@h:badport/db', NULL),
				('arr', 'postgres://h/a', '[1]'),
				('num', 'postgres://h/n', '{"a": 1}'),
				('ctl' || chr(10), 'postgres://h/c', NULL),
				('badkey', 'postgres://h/k', '{"a=b": "c"}'),
				('emptydsn', ' ', NULL)
			) AS t(name, dsn, labels)`,
			want: []string{
				"row 2: name is null",
				`row 3 (name "nodsn"): dsn is null`,
				`row 4 (name "baddsn"): dsn is not a valid PostgreSQL connection string`,
				`row 5 (name "arr"): labels: not a JSON object`,
				`row 6 (name "num"): labels: the value of "a" is not a string`,
				"row 7: name contains the control character U+000A",
				`row 8 (name "badkey"): labels: key "a=b" contains "="`,
				`row 9 (name "emptydsn"): dsn is empty`,
			},
		},
		{
			name:  "bad text labels",
			query: "SELECT 'a' AS name, 'postgres://h/a' AS dsn, 'tier' AS labels UNION ALL SELECT 'b', 'postgres://h/b', 'k=1,k=2'",
			want:  []string{`row 1 (name "a"): labels: "tier" is not key=value`, `row 2 (name "b"): labels: the key "k" is given twice`},
		},
		{
			name:  "labels of another type",
			query: "SELECT 'a' AS name, 'postgres://h/a' AS dsn, 42 AS labels",
			want:  []string{`row 1 (name "a"): labels: neither jsonb nor text`},
		},
		{
			name:  "many bad rows",
			query: "SELECT 'n' || i AS name, NULL::text AS dsn FROM generate_series(1, 25) AS i",
			want:  []string{"row 20 (name \"n20\"): dsn is null", "discover[0] (query): 5 more bad rows"},
		},
		{
			name:  "failing SQL",
			query: "SELECT name, dsn FROM no_such_table",
			want:  []string{`discover[0] (query): the query failed: ERROR: relation "no_such_table" does not exist (SQLSTATE 42P01)`},
		},
		{
			name:  "writing is refused",
			query: "INSERT INTO tenants (name, dsn) VALUES ('new', 'postgres://h/new') RETURNING name, dsn",
			want:  []string{"read-only transaction"},
		},
		{
			name:  "a second statement is refused",
			query: "SELECT 'a' AS name, 'postgres://h/a' AS dsn; DROP TABLE tenants",
			want:  []string{"discover[0] (query): the query failed: ERROR: cannot insert multiple commands into a prepared statement"},
		},
		{
			name:  "duplicate names",
			query: "SELECT * FROM (VALUES ('dup', 'postgres://h/1'), ('dup', 'postgres://u:" + secret + "@h/2')) AS t(name, dsn)",
			want:  []string{`target "dup" is defined twice: at fleet.yaml:2 (query row 1) and at fleet.yaml:2 (query row 2)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "discover:\n  - server: ${SERVER}\n    query: ${QUERY}\n"
			fe := discoverError(t, fleetWith(t, src, map[string]string{"SERVER": server, "QUERY": tt.query}), secret)
			for _, w := range tt.want {
				wantProblem(t, fe, 2, w)
			}
		})
	}
	var n int
	if err := conn.QueryRow(testContext(t), "SELECT count(*) FROM tenants").Scan(&n); err != nil || n != 3 {
		t.Errorf("tenants has %d rows (%v), want the 3 it started with", n, err)
	}
}

func TestDiscoverDuplicates(t *testing.T) {
	server, _ := catalog(t)
	src := `targets:
  - name: acme
    dsn: postgres://app@db1/acme
discover:
  - server: ${SERVER}
    query: SELECT name, dsn FROM tenants WHERE active ORDER BY name
  - server: ${SERVER}
    query: SELECT 'globex' AS name, 'postgres://h/g' AS dsn
`
	fe := discoverError(t, fleetWith(t, src, map[string]string{"SERVER": server}), "p w")
	wantProblem(t, fe, 5, `target "acme" is defined twice: at fleet.yaml:2 and at fleet.yaml:5 (query row 1)`)
	wantProblem(t, fe, 7, `target "globex" is defined twice: at fleet.yaml:5 (query row 2) and at fleet.yaml:7 (query row 1)`)
	if len(fe.Problems) != 2 {
		t.Errorf("want 2 problems, got:\n%s", fe.Error())
	}
}

// closedPort returns a local TCP port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

func TestDiscoverUnreachable(t *testing.T) {
	const secret, secret2 = "S3cr3tPw", "An0ther pw"
	port := closedPort(t)
	src := `defaults:
  connect_timeout: 2s
targets:
  - {name: listed, dsn: postgres://app@db1/listed}
discover:
  - server: postgres://orch:` + secret + `@127.0.0.1:${PORT}/postgres?sslmode=disable
    databases: tenant_%
  - name: shared
    server: host=127.0.0.1 port=${PORT} user=orch password='` + secret2 + `' sslmode=disable
    schemas: tenant_%
`
	fe := discoverError(t, fleetWith(t, src, map[string]string{"PORT": fmt.Sprint(port)}), secret, secret2)
	wantProblem(t, fe, lineOf(t, src, "server: postgres://orch"), "discover[0] (databases tenant_%): cannot connect to the server: ")
	wantProblem(t, fe, lineOf(t, src, "name: shared"), `discover "shared" (schemas tenant_%): cannot connect to the server: `)
	if len(fe.Problems) != 2 {
		t.Errorf("want 2 problems, got:\n%s", fe.Error())
	}
}

func TestDiscoverFindsNothing(t *testing.T) {
	serverConfig(t)
	pattern := "orch_disc_none_" + randomSuffix(t) + "%"
	src := "discover:\n  - server: ${SERVER}\n    databases: " + pattern + "\n"
	fe := discoverError(t, fleetWith(t, src, map[string]string{"SERVER": testDSN()}))
	if want := "fleet.yaml: no targets: the file lists none and its discover sources found none"; fe.Error() != want {
		t.Errorf("Error() = %q, want %q", fe.Error(), want)
	}

	// With a listed target, a source that matches nothing is fine.
	got, err := discover(t, fleetWith(t, "targets: [{name: a, dsn: postgres://h/a}]\n"+src, map[string]string{"SERVER": testDSN()}))
	if err != nil || !slices.Equal(names(got.Targets), []string{"a"}) {
		t.Errorf("Discover = %v, %v; want the listed target alone", got, err)
	}
}

// TestDiscoverFleet runs every kind of source in one file: targets come
// listed first, then each source's in file order.
func TestDiscoverFleet(t *testing.T) {
	cfg := serverConfig(t)
	catalogDSN, _ := catalog(t)
	prefix := "orch_disc_" + randomSuffix(t)
	createDatabase(t, cfg, prefix+"_db", "")
	shared := prefix + "_shared"
	createDatabase(t, cfg, shared, "")
	exec(t, connectTo(t, cfg, shared), "CREATE SCHEMA tenant_s")
	src := `targets:
  - name: listed
    dsn: postgres://app@db1/listed
discover:
  - server: ${CATALOG}
    query: SELECT name, dsn, labels FROM tenants WHERE active ORDER BY name
  - server: ${SERVER}
    databases: '` + prefix + `\_d%'
  - name: shared
    server: ${SHARED}
    schemas: tenant_%
    labels: {layout: schemas}
`
	got, err := discover(t, fleetWith(t, src, map[string]string{
		"CATALOG": catalogDSN, "SERVER": testDSN(), "SHARED": keywordValueDSN(cfg, shared),
	}))
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	want := []struct{ name, origin string }{
		{"listed", "fleet.yaml:2"},
		{"acme", "fleet.yaml:5 (query row 1)"},
		{"globex", "fleet.yaml:5 (query row 2)"},
		{prefix + "_db", `fleet.yaml:7 (databases ` + prefix + `\_d%)`},
		{"tenant_s", `fleet.yaml:9 (shared: schemas tenant_%)`},
	}
	if len(got.Targets) != len(want) {
		t.Fatalf("targets = %q, want %d", names(got.Targets), len(want))
	}
	for i, w := range want {
		if tg := got.Targets[i]; tg.Name != w.name || tg.Origin != w.origin {
			t.Errorf("targets[%d] = %q from %q, want %q from %q", i, tg.Name, tg.Origin, w.name, w.origin)
		}
	}
	if l := got.Targets[4].Labels; !maps.Equal(l, map[string]string{"layout": "schemas"}) {
		t.Errorf("schema target labels = %v", l)
	}
}

func TestDiscoverWithoutSources(t *testing.T) {
	f := &fleet.Fleet{Targets: []fleet.Target{{Name: "a", DSN: "postgres://h/a", Labels: map[string]string{}}}}
	got, err := Discover(context.Background(), f)
	if err != nil || got != f {
		t.Errorf("Discover = %p, %v; want the fleet itself", got, err)
	}
}

func TestDiscoverCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := fleetWith(t, "discover:\n  - {server: 'postgres://h.invalid/db', databases: t_%}\n", nil)
	got, err := Discover(ctx, f)
	if got != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Discover = %v, %v; want context.Canceled", got, err)
	}
	var fe *fleet.Error
	if errors.As(err, &fe) {
		t.Errorf("a cancelled discovery is an *Error: %v", err)
	}
}
