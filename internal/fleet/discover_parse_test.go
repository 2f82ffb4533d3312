package fleet

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseDiscover(t *testing.T) {
	src := `targets:
  - name: acme
    dsn: postgres://app@db1/acme
discover:
  - server: postgres://app:${PW}@db1:5432/postgres?sslmode=require
    databases: tenant_%
    labels: {tier: main}
  - name: shared
    server: host=db2 dbname=app user=app
    schemas: 't\_%'
  - server: ${CATALOG_DSN}
    query: |
      SELECT name, dsn, labels FROM tenants WHERE active
`
	f, err := parseString(t, src, map[string]string{"PW": "s3cret", "CATALOG_DSN": "postgres://ro@cat/catalog"})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []DiscoverySource{
		{
			Index: 0, Line: 5, Origin: "fleet.yaml:5",
			Server:    "postgres://app:s3cret@db1:5432/postgres?sslmode=require",
			Databases: "tenant_%",
			Labels:    map[string]string{"tier": "main"},
		},
		{
			Name: "shared", Index: 1, Line: 8, Origin: "fleet.yaml:8",
			Server:  "host=db2 dbname=app user=app",
			Schemas: `t\_%`,
			Labels:  map[string]string{},
		},
		{
			Index: 2, Line: 11, Origin: "fleet.yaml:11",
			Server: "postgres://ro@cat/catalog",
			Query:  "SELECT name, dsn, labels FROM tenants WHERE active\n",
			Labels: map[string]string{},
		},
	}
	if !reflect.DeepEqual(f.Discover, want) {
		t.Errorf("Discover:\n got %+v\nwant %+v", f.Discover, want)
	}
	if len(f.Targets) != 1 || f.Targets[0].Name != "acme" {
		t.Errorf("Targets = %+v, want only the listed acme", f.Targets)
	}
	labels := []struct{ kind, label, origin string }{
		{"databases", "discover[0] (databases tenant_%)", "fleet.yaml:5 (databases tenant_%)"},
		{"schemas", `discover "shared" (schemas t\_%)`, `fleet.yaml:8 (shared: schemas t\_%)`},
		{"query", "discover[2] (query)", "fleet.yaml:11 (query row 3)"},
	}
	for i, l := range labels {
		s := f.Discover[i]
		row := 0
		if s.Kind() == "query" {
			row = 3
		}
		if s.Kind() != l.kind || s.Label() != l.label || s.TargetOrigin(row) != l.origin {
			t.Errorf("discover[%d]: Kind, Label, origin = %q, %q, %q; want %q, %q, %q", i, s.Kind(), s.Label(), s.TargetOrigin(row), l.kind, l.label, l.origin)
		}
		if strings.Contains(s.Label(), "s3cret") {
			t.Errorf("Label() %q shows the password", s.Label())
		}
	}
}

func TestParseDiscoverOnly(t *testing.T) {
	for name, src := range map[string]string{
		"no targets key":     "discover:\n  - {server: postgres://h/postgres, databases: t_%}\n",
		"empty targets list": "targets: []\ndiscover:\n  - {server: postgres://h/postgres, databases: t_%}\n",
		"null targets":       "targets:\ndiscover:\n  - {server: postgres://h/postgres, databases: t_%}\n",
	} {
		t.Run(name, func(t *testing.T) {
			f, err := parseString(t, src, nil)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(f.Targets) != 0 || len(f.Discover) != 1 {
				t.Errorf("got %d targets and %d sources, want 0 and 1", len(f.Targets), len(f.Discover))
			}
		})
	}
}

func TestPatternShown(t *testing.T) {
	for p, want := range map[string]string{
		"tenant_%":              "tenant_%",
		"a b":                   `"a b"`,
		"x\ny":                  `"x\ny"`,
		`a"`:                    `"a\""`,
		strings.Repeat("t", 70): strings.Repeat("t", 60) + "...",
	} {
		if got := showPattern(p); got != want {
			t.Errorf("showPattern(%q) = %s, want %s", p, got, want)
		}
	}
}

// TestParseDiscoverProblems checks each discover rule's message and line.
func TestParseDiscoverProblems(t *testing.T) {
	const secret = "hunter2pw"
	tests := []struct {
		name string
		src  string
		vars map[string]string
		want string
	}{
		{
			name: "discover is not a list",
			src:  "discover:\n  server: postgres://h/db\n",
			want: `fleet.yaml:2: discover must be a list (each entry "- server: ..." with one of databases, schemas or query), got a mapping`,
		},
		{
			name: "empty discover list and no targets",
			src:  "discover: []\n",
			want: `fleet.yaml: no targets (add a "targets:" list, each entry with a name and a dsn, or a "discover:" list)`,
		},
		{
			name: "null discover and empty targets",
			src:  "targets: []\ndiscover:\n",
			want: `fleet.yaml:1: no targets (add a "targets:" list, each entry with a name and a dsn, or a "discover:" list)`,
		},
		{
			name: "entry is not a mapping",
			src:  "discover:\n  - postgres://h/db\n",
			want: `fleet.yaml:2: discover[0] must be a mapping with a server and one of databases, schemas or query, got a string`,
		},
		{
			name: "unknown keys with suggestions",
			src: `discover:
  - server: postgres://h/postgres
    database: t_%
    label: {a: b}
    url: x
    where: x
`,
			want: `fleet.yaml:2: discover[0] needs one of databases (a LIKE pattern over database names), schemas (a LIKE pattern over schema names, one target per schema) or query (SQL returning name and dsn)
fleet.yaml:3: unknown key "database" in discover[0] (did you mean "databases"?)
fleet.yaml:4: unknown key "label" in discover[0] (did you mean "labels"?)
fleet.yaml:5: unknown key "url" in discover[0] (did you mean "server"?)
fleet.yaml:6: unknown key "where" in discover[0] (known keys: name, server, databases, schemas, query, labels)`,
		},
		{
			name: "sql suggests query, dsn suggests server",
			src:  "discover:\n  - {dsn: postgres://h/db, sql: SELECT 1}\n",
			want: `fleet.yaml:2: unknown key "dsn" in discover[0] (did you mean "server"?)
fleet.yaml:2: unknown key "sql" in discover[0] (did you mean "query"?)
fleet.yaml:2: discover[0] has no server (the DSN of the PostgreSQL server to discover targets on)
fleet.yaml:2: discover[0] needs one of databases (a LIKE pattern over database names), schemas (a LIKE pattern over schema names, one target per schema) or query (SQL returning name and dsn)`,
		},
		{
			name: "no server",
			src:  "discover:\n  - name: eu\n    databases: t_%\n",
			want: `fleet.yaml:2: discover "eu" has no server (the DSN of the PostgreSQL server to discover targets on)`,
		},
		{
			name: "empty server",
			src:  "discover:\n  - server: ${EMPTY}\n    databases: t_%\n",
			vars: map[string]string{"EMPTY": ""},
			want: `fleet.yaml:2: discover[0]: server is empty`,
		},
		{
			name: "undefined variable in server",
			src:  "discover:\n  - server: postgres://u:${PW}@h/db\n    databases: t_%\n",
			want: `fleet.yaml:2: undefined variable ${PW} in discover[0].server`,
		},
		{
			name: "invalid server keeps its password hidden",
			src:  "discover:\n  - server: postgres://u:" + secret + "@h:notaport/db\n    databases: t_%\n",
			want: `fleet.yaml:2: discover[0]: server is not a valid PostgreSQL connection string: invalid port (expected postgres://user:password@host:5432/db or host=... dbname=...)`,
		},
		{
			name: "server is a list",
			src:  "discover:\n  - server: [a]\n    databases: t_%\n",
			want: `fleet.yaml:2: discover[0].server must be a string, got a list`,
		},
		{
			name: "two kinds",
			src:  "discover:\n  - server: postgres://h/db\n    databases: t_%\n    query: SELECT 1\n",
			want: `fleet.yaml:4: discover[0] has both databases and query; give exactly one (use another discover entry for the other)`,
		},
		{
			name: "three kinds",
			src:  "discover:\n  - server: postgres://h/db\n    databases: t_%\n    schemas: t_%\n    query: SELECT 1\n",
			want: `fleet.yaml:4: discover[0] has both databases and schemas; give exactly one (use another discover entry for the other)
fleet.yaml:5: discover[0] has both databases and query; give exactly one (use another discover entry for the other)`,
		},
		{
			name: "empty patterns and query",
			src: `discover:
  - {server: postgres://h/db, databases: ""}
  - {server: postgres://h/db, schemas: "  "}
  - {server: postgres://h/db, query: }
`,
			want: `fleet.yaml:2: discover[0]: databases is empty (give a LIKE pattern over database names such as tenant_%, where % matches any run of characters and _ any one)
fleet.yaml:3: discover[1]: schemas is empty (give a LIKE pattern over schema names such as tenant_%, where % matches any run of characters and _ any one)
fleet.yaml:4: discover[2]: query is empty (give SQL returning the columns name and dsn, and optionally labels)`,
		},
		{
			name: "pattern is a mapping",
			src:  "discover:\n  - server: postgres://h/db\n    schemas: {a: b}\n",
			want: `fleet.yaml:3: discover[0].schemas must be a LIKE pattern, got a mapping`,
		},
		{
			name: "bad labels",
			src:  "discover:\n  - server: postgres://h/db\n    databases: t_%\n    labels: {a=b: c, d: }\n",
			want: `fleet.yaml:4: discover[0].labels: label key "a=b" contains "=", which --select key=value cannot match
fleet.yaml:4: discover[0].labels.d has no value (write "" for an empty one)`,
		},
		{
			name: "labels not a mapping",
			src:  "discover:\n  - server: postgres://h/db\n    databases: t_%\n    labels: [a]\n",
			want: `fleet.yaml:4: discover[0].labels must be a mapping of key: value, got a list`,
		},
		{
			name: "bad and duplicate names",
			src: `discover:
  - {name: "", server: postgres://h/db, databases: t_%}
  - {name: eu, server: postgres://h/db, databases: t_%}
  - {name: eu, server: postgres://h/db, schemas: t_%}
`,
			want: `fleet.yaml:2: discover[0].name is empty
fleet.yaml:4: discover source "eu" is defined twice (first at line 3)`,
		},
		{
			name: "misspelled top-level key",
			src:  "discovr:\n  - {server: postgres://h/db, databases: t_%}\n",
			want: `fleet.yaml: no targets (add a "targets:" list, each entry with a name and a dsn, or a "discover:" list)
fleet.yaml:1: unknown key "discovr" at top level (did you mean "discover"?)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseString(t, tt.src, tt.vars)
			if f != nil {
				t.Errorf("Parse returned a fleet with an error: %+v", f)
			}
			got := asError(t, err).Error()
			if got != tt.want {
				t.Errorf("Error():\n got: %s\nwant: %s", got, tt.want)
			}
			if strings.Contains(got, secret) {
				t.Errorf("Error() shows the password: %s", got)
			}
		})
	}
}
