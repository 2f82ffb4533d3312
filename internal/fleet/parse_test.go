package fleet

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseValid(t *testing.T) {
	src := `# tenants
defaults:
  parallelism: 4
  lock_timeout: 2s
  statement_timeout: 5m
  connect_timeout: 15s
  idle_in_transaction_timeout: 1m
  lock_wait: 45s
  timeout: 10m
targets:
  - name: acme
    dsn: postgres://app:${ACME_PASSWORD}@db1:5432/acme?sslmode=require
    labels: {tier: canary, region: eu}
  - dsn: "host=db2 dbname=globex user=app password='${GLOBEX_PASSWORD}'"
    name: globex
    labels:
      tier: main
      shard: 3
  - name: initech
    dsn: postgres://app@db3/initech
`
	f, err := parseString(t, src, map[string]string{
		"ACME_PASSWORD":   "s3cret",
		"GLOBEX_PASSWORD": "an other",
	})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Fleet{
		Path: "fleet.yaml",
		Defaults: Defaults{
			Parallelism:              4,
			LockTimeout:              2 * time.Second,
			StatementTimeout:         5 * time.Minute,
			ConnectTimeout:           15 * time.Second,
			IdleInTransactionTimeout: time.Minute,
			LockWait:                 45 * time.Second,
			Timeout:                  10 * time.Minute,
			StallTimeout:             time.Minute,
		},
		Targets: []Target{
			{
				Name:   "acme",
				DSN:    "postgres://app:s3cret@db1:5432/acme?sslmode=require",
				Labels: map[string]string{"tier": "canary", "region": "eu"},
				Origin: "fleet.yaml:11",
			},
			{
				Name:   "globex",
				DSN:    "host=db2 dbname=globex user=app password='an other'",
				Labels: map[string]string{"tier": "main", "shard": "3"},
				Origin: "fleet.yaml:14",
			},
			{
				Name:   "initech",
				DSN:    "postgres://app@db3/initech",
				Labels: map[string]string{},
				Origin: "fleet.yaml:19",
			},
		},
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", f, want)
	}
}

func TestParseDefaults(t *testing.T) {
	const targets = "targets:\n  - name: a\n    dsn: postgres://db/a\n"
	builtin := BuiltinDefaults()
	tests := []struct {
		name string
		src  string
		vars map[string]string
		want func(d *Defaults)
	}{
		{name: "no defaults key", src: targets, want: func(*Defaults) {}},
		{name: "empty defaults", src: "defaults:\n" + targets, want: func(*Defaults) {}},
		{name: "empty mapping", src: "defaults: {}\n" + targets, want: func(*Defaults) {}},
		{
			name: "partial override keeps the rest",
			src:  "defaults:\n  lock_timeout: 500ms\n" + targets,
			want: func(d *Defaults) { d.LockTimeout = 500 * time.Millisecond },
		},
		{
			name: "zero durations",
			src:  "defaults:\n  timeout: 0s\n  lock_wait: 0\n" + targets,
			want: func(d *Defaults) { d.Timeout, d.LockWait = 0, 0 },
		},
		{
			name: "values from variables",
			src:  "defaults:\n  parallelism: ${PAR}\n  statement_timeout: ${ST}\n" + targets,
			vars: map[string]string{"PAR": "32", "ST": "1h30m"},
			want: func(d *Defaults) { d.Parallelism, d.StatementTimeout = 32, 90*time.Minute },
		},
		{
			name: "quoted values",
			src:  "defaults:\n  parallelism: \"2\"\n  connect_timeout: '3s'\n" + targets,
			want: func(d *Defaults) { d.Parallelism, d.ConnectTimeout = 2, 3*time.Second },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseString(t, tt.src, tt.vars)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := builtin
			tt.want(&want)
			if !reflect.DeepEqual(f.Defaults, want) {
				t.Errorf("Defaults = %+v, want %+v", f.Defaults, want)
			}
		})
	}
}

func TestBuiltinDefaults(t *testing.T) {
	want := Defaults{
		Parallelism:              8,
		LockTimeout:              5 * time.Second,
		StatementTimeout:         30 * time.Minute,
		ConnectTimeout:           10 * time.Second,
		IdleInTransactionTimeout: 10 * time.Minute,
		LockWait:                 30 * time.Second,
		Timeout:                  0,
		StallTimeout:             60 * time.Second,
	}
	if got := BuiltinDefaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("BuiltinDefaults() = %+v, want %+v", got, want)
	}
}

func TestParseExpansion(t *testing.T) {
	tests := []struct {
		name       string
		dsn        string
		vars       map[string]string
		wantDSN    string
		labelValue string // the value of label "v" in the file
		wantLabel  string
	}{
		{
			name:    "verbatim value with YAML syntax cannot inject structure",
			dsn:     "postgres://app:${PW}@db1/acme",
			vars:    map[string]string{"PW": "a%3A%20b", "V": "x\n- name: evil\n  dsn: postgres://evil/x"},
			wantDSN: "postgres://app:a%3A%20b@db1/acme", labelValue: "${V}", wantLabel: "x\n- name: evil\n  dsn: postgres://evil/x",
		},
		{
			name:    "a value is not expanded twice",
			dsn:     "postgres://app:${PW}@db1/acme",
			vars:    map[string]string{"PW": "${OTHER}", "OTHER": "nope"},
			wantDSN: "postgres://app:${OTHER}@db1/acme", labelValue: "plain", wantLabel: "plain",
		},
		{
			name:    "dollar escapes and lone dollars",
			dsn:     "postgres://app:pa$$word$@db1/acme",
			wantDSN: "postgres://app:pa$word$@db1/acme", labelValue: "$x $ $$ $${X}", wantLabel: "$x $ $ ${X}",
		},
		{
			name:    "variable defined as empty",
			dsn:     "postgres://app${EMPTY}@db1/acme",
			vars:    map[string]string{"EMPTY": ""},
			wantDSN: "postgres://app@db1/acme", labelValue: "[${EMPTY}]", wantLabel: "[]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "targets:\n  - name: acme\n    dsn: '" + tt.dsn + "'\n    labels: {v: '" + tt.labelValue + "'}\n"
			f, err := parseString(t, src, tt.vars)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(f.Targets) != 1 {
				t.Fatalf("got %d targets, want 1", len(f.Targets))
			}
			if got := f.Targets[0].DSN; got != tt.wantDSN {
				t.Errorf("DSN = %q, want %q", got, tt.wantDSN)
			}
			if got := f.Targets[0].Labels["v"]; got != tt.wantLabel {
				t.Errorf("label = %q, want %q", got, tt.wantLabel)
			}
		})
	}
}

func TestParseAliases(t *testing.T) {
	src := `targets:
  - name: acme
    dsn: postgres://db1/acme
    labels: &eu {region: eu, tier: canary}
  - name: globex
    dsn: postgres://db1/globex
    labels: *eu
`
	f, err := parseString(t, src, nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := map[string]string{"region": "eu", "tier": "canary"}
	for _, tg := range f.Targets {
		if !reflect.DeepEqual(tg.Labels, want) {
			t.Errorf("%s: labels = %v, want %v", tg.Name, tg.Labels, want)
		}
	}
}

func TestParseNilLookup(t *testing.T) {
	_, err := Parse(strings.NewReader("targets:\n  - name: a\n    dsn: postgres://db/${X}\n"), "f.yaml", nil)
	fe := asError(t, err)
	if want := "f.yaml:3: undefined variable ${X} in targets[0].dsn"; fe.Error() != want {
		t.Errorf("Error() = %q, want %q", fe.Error(), want)
	}
}

func TestParseWithoutPath(t *testing.T) {
	f, err := Parse(strings.NewReader("targets:\n  - name: a\n    dsn: postgres://db/a\n"), "", nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := f.Targets[0].Origin; got != "line 2" {
		t.Errorf("Origin = %q, want %q", got, "line 2")
	}
	_, err = Parse(strings.NewReader("targets: []\n"), "", nil)
	if got, want := asError(t, err).Error(), `line 1: no targets (add a "targets:" list, each entry with a name and a dsn, or a "discover:" list)`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errTestRead }

type testError string

func (e testError) Error() string { return string(e) }

const errTestRead = testError("disk on fire")

func TestParseReadError(t *testing.T) {
	_, err := Parse(failingReader{}, "fleet.yaml", nil)
	fe := asError(t, err)
	if want := "fleet.yaml: cannot read fleet file: disk on fire"; fe.Error() != want {
		t.Errorf("Error() = %q, want %q", fe.Error(), want)
	}
}

func TestParseSharedSchemasStallTimeoutDirectDSN(t *testing.T) {
	src := `defaults:
  stall_timeout: 15s
  shared_schemas: [public, extensions]
targets:
  - name: a
    dsn: postgres://u:pw1@bouncer:6432/a
    direct_dsn: postgres://u:pw2@db:5432/a
`
	f, err := Parse(strings.NewReader(src), "fleet.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Defaults.StallTimeout != 15*time.Second || !reflect.DeepEqual(f.Defaults.SharedSchemas, []string{"public", "extensions"}) {
		t.Errorf("defaults = %+v", f.Defaults)
	}
	tg := f.Targets[0]
	if tg.DirectDSN != "postgres://u:pw2@db:5432/a" {
		t.Errorf("direct_dsn = %q", tg.DirectDSN)
	}
	if s := tg.Scrub("failed: postgres://u:pw2@db:5432/a and pw1 and pw2"); strings.Contains(s, "pw1") || strings.Contains(s, "pw2") {
		t.Errorf("Scrub left a password: %q", s)
	}

	bad := `defaults:
  shared_schemas: public
  stall_timeout: soon
targets:
  - name: a
    dsn: postgres://db/a
    direct_dsn: ""
    direct_dns: x
`
	_, err = Parse(strings.NewReader(bad), "fleet.yaml", nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"fleet.yaml:2", "shared_schemas must be a list", "fleet.yaml:3", "stall_timeout", "direct_dsn is empty", "direct_dns"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	dup := "defaults:\n  shared_schemas: [public, public]\ntargets:\n  - name: a\n    dsn: postgres://db/a\n"
	if _, err := Parse(strings.NewReader(dup), "fleet.yaml", nil); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("a duplicate shared schema: %v", err)
	}
}
