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
			if f.Defaults != want {
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
	}
	if got := BuiltinDefaults(); got != want {
		t.Errorf("BuiltinDefaults() = %+v, want %+v", got, want)
	}
}

// TestParseProblems checks each rule's message and line. want is the whole
// Error() text, one line per problem.
func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		vars map[string]string
		want string
	}{
		{
			name: "unknown key in defaults with suggestion",
			src: `defaults:
  paralellism: 8
targets:
  - name: acme
    dsn: postgres://db1/acme
`,
			want: `fleet.yaml:2: unknown key "paralellism" in defaults (did you mean "parallelism"?)`,
		},
		{
			name: "unknown key in defaults without suggestion",
			src: `defaults:
  retries: 3
targets:
  - name: acme
    dsn: postgres://db1/acme
`,
			want: `fleet.yaml:2: unknown key "retries" in defaults (known keys: parallelism, lock_timeout, statement_timeout, connect_timeout, idle_in_transaction_timeout, lock_wait, timeout)`,
		},
		{
			name: "PostgreSQL setting name suggests ours",
			src: `defaults:
  idle_in_transaction_session_timeout: 1m
targets:
  - name: acme
    dsn: postgres://db1/acme
`,
			want: `fleet.yaml:2: unknown key "idle_in_transaction_session_timeout" in defaults (did you mean "idle_in_transaction_timeout"?)`,
		},
		{
			name: "unknown top-level keys, reserved ones included",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
waves:
  - name: canary
discover: []
targetz: []
`,
			want: `fleet.yaml:4: unknown key "waves" at top level (known keys: defaults, targets)
fleet.yaml:6: unknown key "discover" at top level (known keys: defaults, targets)
fleet.yaml:7: unknown key "targetz" at top level (did you mean "targets"?)`,
		},
		{
			name: "unknown key in a target",
			src: `targets:
  - nmae: acme
    dsn: postgres://db1/acme
    lables: {tier: canary}
`,
			want: `fleet.yaml:2: unknown key "nmae" in targets[0] (did you mean "name"?)
fleet.yaml:2: targets[0] has no name
fleet.yaml:4: unknown key "lables" in targets[0] (did you mean "labels"?)`,
		},
		{
			name: "same target name twice",
			src: `# Tenants of cluster A.
defaults:
  parallelism: 8
  lock_timeout: 2s

targets:
  - name: acme
    dsn: postgres://db1/acme
  - name: acme
    dsn: postgres://db2/acme
`,
			want: `fleet.yaml:9: target "acme" is defined twice (first at line 7)`,
		},
		{
			name: "target without dsn",
			src: `targets:
  - name: acme
    labels: {tier: canary}
`,
			want: `fleet.yaml:2: target "acme" has no dsn`,
		},
		{
			name: "target without name or dsn",
			src: `targets:
  - labels: {tier: canary}
`,
			want: `fleet.yaml:2: targets[0] has no name
fleet.yaml:2: targets[0] has no dsn`,
		},
		{
			name: "undefined variable",
			src: `targets:
  - name: acme
    dsn: postgres://app:${ACME_PASSWORD}@db1/acme
`,
			want: `fleet.yaml:3: undefined variable ${ACME_PASSWORD} in targets[0].dsn`,
		},
		{
			name: "undefined variable reported once per value",
			src: `targets:
  - name: ${TENANT}
    dsn: postgres://${USER}:${PW}@db1/${TENANT}?user=${USER}
`,
			want: `fleet.yaml:2: undefined variable ${TENANT} in targets[0].name
fleet.yaml:3: undefined variable ${USER} in targets[0].dsn
fleet.yaml:3: undefined variable ${PW} in targets[0].dsn
fleet.yaml:3: undefined variable ${TENANT} in targets[0].dsn`,
		},
		{
			name: "unterminated reference",
			src: `targets:
  - name: acme
    dsn: postgres://app:${ACME_PASSWORD@db1/acme
`,
			want: `fleet.yaml:3: unterminated "${" at byte 16 of targets[0].dsn (close it with "}", or write "$$" for a literal "$")`,
		},
		{
			name: "invalid variable names",
			src: `targets:
  - name: ${1TENANT}
    dsn: postgres://app:${ACME-PASSWORD}@db1/acme
    labels: {tier: "${}"}
`,
			want: `fleet.yaml:2: invalid variable reference "${1TENANT}" in targets[0].name (a name is letters, digits and _, not starting with a digit; write $$ for a literal $)
fleet.yaml:3: invalid variable reference at byte 16 in targets[0].dsn (a name is letters, digits and _, not starting with a digit; write $$ for a literal $)
fleet.yaml:4: invalid variable reference "${}" in targets[0].labels.tier (a name is letters, digits and _, not starting with a digit; write $$ for a literal $)`,
		},
		{
			name: "lock_timeout is not a duration",
			src: `defaults:
  parallelism: 8
  statement_timeout: 5m
  lock_timeout: soon
targets:
  - name: acme
    dsn: postgres://db1/acme
`,
			want: `fleet.yaml:4: defaults.lock_timeout: "soon" is not a duration (use e.g. 500ms, 2s, 5m)`,
		},
		{
			name: "bad durations",
			src: `defaults:
  lock_timeout: 5
  statement_timeout: -1s
  connect_timeout:
  lock_wait: [1s]
  timeout: ${T}
targets:
  - name: acme
    dsn: postgres://db1/acme
`,
			vars: map[string]string{"T": "ten minutes"},
			want: `fleet.yaml:2: defaults.lock_timeout: "5" is not a duration (use e.g. 500ms, 2s, 5m)
fleet.yaml:3: defaults.statement_timeout: "-1s" is negative; it must be 0 or more
fleet.yaml:4: defaults.connect_timeout is empty (use e.g. 500ms, 2s, 5m)
fleet.yaml:5: defaults.lock_wait must be a duration (use e.g. 500ms, 2s, 5m), got a list
fleet.yaml:6: defaults.timeout: "ten minutes" is not a duration (use e.g. 500ms, 2s, 5m)`,
		},
		{
			name: "parallelism not a positive integer",
			src: `defaults:
  parallelism: 0
targets:
  - name: acme
    dsn: postgres://db1/acme
`,
			want: `fleet.yaml:2: defaults.parallelism: "0" is not a positive integer`,
		},
		{
			name: "parallelism of the wrong kind",
			src: `defaults:
  parallelism: {max: 4}
targets:
  - name: acme
    dsn: postgres://db1/acme
`,
			want: `fleet.yaml:2: defaults.parallelism must be a positive integer, got a mapping`,
		},
		{
			name: "parallelism not a number",
			src: `defaults:
  parallelism: 2.5
targets:
  - name: acme
    dsn: postgres://db1/acme
`,
			want: `fleet.yaml:2: defaults.parallelism: "2.5" is not a positive integer`,
		},
		{
			name: "defaults not a mapping",
			src: `defaults: [parallelism]
targets:
  - name: acme
    dsn: postgres://db1/acme
`,
			want: `fleet.yaml:1: defaults must be a mapping of settings (parallelism, lock_timeout, statement_timeout, connect_timeout, idle_in_transaction_timeout, lock_wait, timeout), got a list`,
		},
		{
			name: "malformed YAML",
			src: `defaults:
  parallelism: 8
targets:
  - name: acme
    dsn: postgres://db1/acme
   labels: {tier: canary}
`,
			want: `fleet.yaml:6: invalid YAML: did not find expected '-' indicator`,
		},
		{
			name: "malformed YAML with a mapping in a scalar",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
    labels: tier: canary
`,
			want: `fleet.yaml:4: invalid YAML: mapping values are not allowed in this context`,
		},
		{
			name: "tab indentation",
			src:  "targets:\n\t- name: acme\n",
			want: `fleet.yaml:2: invalid YAML: found character that cannot start any token (this line is indented with a tab; YAML needs spaces)`,
		},
		{
			name: "unknown anchor",
			src:  "targets: *all\n",
			want: `fleet.yaml: invalid YAML: unknown anchor 'all' referenced`,
		},
		{
			name: "two YAML documents",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
---
targets: []
`,
			want: `fleet.yaml:4: a fleet file holds one YAML document, but another starts here (remove the "---")`,
		},
		{
			name: "empty file",
			src:  "",
			want: `fleet.yaml: no targets (add a "targets:" list; each entry needs a name and a dsn)`,
		},
		{
			name: "comments only",
			src:  "# nothing yet\n\n",
			want: `fleet.yaml: no targets (add a "targets:" list; each entry needs a name and a dsn)`,
		},
		{
			name: "defaults only",
			src:  "defaults:\n  parallelism: 2\n",
			want: `fleet.yaml: no targets (add a "targets:" list; each entry needs a name and a dsn)`,
		},
		{
			name: "empty targets list",
			src:  "defaults: {}\ntargets: []\n",
			want: `fleet.yaml:2: no targets (add a "targets:" list; each entry needs a name and a dsn)`,
		},
		{
			name: "null targets",
			src:  "targets:\n",
			want: `fleet.yaml:1: no targets (add a "targets:" list; each entry needs a name and a dsn)`,
		},
		{
			name: "file is a list",
			src:  "- name: acme\n  dsn: postgres://db1/acme\n",
			want: `fleet.yaml:1: a fleet file must be a mapping with the keys defaults and targets, got a list`,
		},
		{
			name: "targets not a list",
			src: `targets:
  acme:
    dsn: postgres://db1/acme
`,
			want: `fleet.yaml:2: targets must be a list (each entry "- name: ..." with a dsn), got a mapping`,
		},
		{
			name: "target entry not a mapping",
			src: `targets:
  - acme
  - name: globex
    dsn: postgres://db1/globex
`,
			want: `fleet.yaml:2: targets[0] must be a mapping with a name and a dsn, got a string`,
		},
		{
			name: "name problems",
			src: `targets:
  - name: ""
    dsn: postgres://db1/a
  - name: "bell\a"
    dsn: postgres://db1/b
  - name: [c]
    dsn: postgres://db1/c
  - name: ` + strings.Repeat("n", 201) + `
    dsn: postgres://db1/d
  - name: ` + strings.Repeat("n", 200) + `
    dsn: postgres://db1/e
`,
			want: `fleet.yaml:2: targets[0].name is empty
fleet.yaml:4: targets[1].name contains the control character U+0007; names must be printable
fleet.yaml:6: targets[2].name must be a string, got a list
fleet.yaml:8: targets[3].name is 201 bytes long; the limit is 200`,
		},
		{
			name: "empty dsn",
			src: `targets:
  - name: acme
    dsn: ""
  - name: globex
    dsn: ${GLOBEX_DSN}
  - name: initech
    dsn:
`,
			vars: map[string]string{"GLOBEX_DSN": ""},
			want: `fleet.yaml:3: target "acme": dsn is empty
fleet.yaml:5: target "globex": dsn is empty
fleet.yaml:7: target "initech": dsn is empty`,
		},
		{
			name: "invalid dsn",
			src: `targets:
  - name: acme
    dsn: postgres://app:${PW}@db1:five/acme
`,
			vars: map[string]string{"PW": "s3cret"},
			want: `fleet.yaml:3: target "acme": dsn is not a valid PostgreSQL connection string: invalid port (expected postgres://user:password@host:5432/db or host=... dbname=...)`,
		},
		{
			name: "unencoded slash in a URL password",
			src: `targets:
  - name: acme
    dsn: postgres://app:${PW}@db1/acme
`,
			vars: map[string]string{"PW": "se/cret"},
			want: `fleet.yaml:3: target "acme": dsn is not a valid PostgreSQL connection string: invalid port; a special character in the password (/ ? # @ : % or space) must be percent-encoded, e.g. / as %2F (expected postgres://user:password@host:5432/db or host=... dbname=...)`,
		},
		{
			name: "unencoded at sign in a URL password",
			src: `targets:
  - name: acme
    dsn: postgres://app:${PW}@db1/acme
`,
			vars: map[string]string{"PW": "se@cret"},
			want: `fleet.yaml:3: target "acme": dsn has "@" in its host name; an "@" in the user name or password must be percent-encoded as %40 (expected postgres://user:password@host:5432/db or host=... dbname=...)`,
		},
		{
			name: "unencoded at sign and space in a URL password",
			src: `targets:
  - name: acme
    dsn: postgres://app:${PW}@db1/acme
`,
			vars: map[string]string{"PW": "p@ss w0rd"},
			want: `fleet.yaml:3: target "acme": dsn is not a valid PostgreSQL connection string: failed to parse as URL (unexpected spaces found in "...", use percent-encoded spaces (%20) instead); a special character in the password (/ ? # @ : % or space) must be percent-encoded, e.g. / as %2F (expected postgres://user:password@host:5432/db or host=... dbname=...)`,
		},
		{
			name: "quote inside a quoted keyword/value password",
			src: `targets:
  - name: acme
    dsn: host=db1 password='${PW}' dbname=acme
`,
			vars: map[string]string{"PW": "it's secret"},
			want: `fleet.yaml:3: target "acme": dsn is not a valid PostgreSQL connection string: failed to parse as keyword/value (every setting must be key=value; quote a value containing spaces as '...' and write ' and \ inside it as \' and \\) (expected postgres://user:password@host:5432/db or host=... dbname=...)`,
		},
		{
			name: "labels not a mapping",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
    labels: [canary, eu]
`,
			want: `fleet.yaml:4: targets[0].labels must be a mapping of key: value, got a list`,
		},
		{
			name: "label problems",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
    labels:
      tier: [canary]
      region:
      "": x
      a=b: y
      shard: 1
      shard: 2
      ? [k]
      : v
      "odd key": {x: 1}
`,
			want: `fleet.yaml:5: targets[0].labels.tier must be a string, got a list
fleet.yaml:6: targets[0].labels.region has no value (write "" for an empty one)
fleet.yaml:7: targets[0].labels: label key "" is empty
fleet.yaml:8: targets[0].labels: label key "a=b" contains "=", which --select key=value cannot match
fleet.yaml:10: targets[0].labels: label "shard" is defined twice (first at line 9)
fleet.yaml:11: a key in targets[0].labels must be a plain name, got a list
fleet.yaml:13: targets[0].labels["odd key"] must be a string, got a mapping`,
		},
		{
			name: "duplicate keys",
			src: `defaults:
  parallelism: 2
  parallelism: 3
targets:
  - name: acme
    dsn: postgres://db1/acme
    name: acme2
`,
			want: `fleet.yaml:3: duplicate key "parallelism" in defaults (first at line 2)
fleet.yaml:7: duplicate key "name" in targets[0] (first at line 5)`,
		},
		{
			name: "merge keys",
			src: `base: &base
  dsn: postgres://db1/acme
targets:
  - <<: *base
    name: acme
`,
			want: `fleet.yaml:1: unknown key "base" at top level (known keys: defaults, targets)
fleet.yaml:4: merge keys ("<<") are not supported in targets[0]; write the keys out
fleet.yaml:4: target "acme" has no dsn`,
		},
		{
			name: "several problems at once",
			src: `defaults:
  paralellism: 8
  lock_timeout: soon
targets:
  - name: acme
    dsn: postgres://app:${ACME_PASSWORD}@db1:5432/acme
  - name: acme
    dsn: postgres://db1/acme2
  - name: globex
    labels: {tier: [canary]}
`,
			want: `fleet.yaml:2: unknown key "paralellism" in defaults (did you mean "parallelism"?)
fleet.yaml:3: defaults.lock_timeout: "soon" is not a duration (use e.g. 500ms, 2s, 5m)
fleet.yaml:6: undefined variable ${ACME_PASSWORD} in targets[0].dsn
fleet.yaml:7: target "acme" is defined twice (first at line 5)
fleet.yaml:9: target "globex" has no dsn
fleet.yaml:10: targets[2].labels.tier must be a string, got a list`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseString(t, tt.src, tt.vars)
			if f != nil {
				t.Errorf("Parse returned a fleet with an error: %+v", f)
			}
			fe := asError(t, err)
			if fe.Path != "fleet.yaml" {
				t.Errorf("Path = %q, want fleet.yaml", fe.Path)
			}
			if got := fe.Error(); got != tt.want {
				t.Errorf("Error():\n got: %s\nwant: %s", got, tt.want)
			}
			for i := 1; i < len(fe.Problems); i++ {
				if fe.Problems[i-1].Line > fe.Problems[i].Line {
					t.Errorf("problems not sorted by line: %+v", fe.Problems)
				}
			}
		})
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
	if got, want := asError(t, err).Error(), `line 1: no targets (add a "targets:" list; each entry needs a name and a dsn)`; got != want {
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
