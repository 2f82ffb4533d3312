package fleet

import (
	"strings"
	"testing"
)

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
			want: `fleet.yaml:2: unknown key "retries" in defaults (known keys: parallelism, lock_timeout, statement_timeout, connect_timeout, idle_in_transaction_timeout, lock_wait, timeout, stall_timeout, shared_schemas, golang_migrate_table, max_exclusive_rows)`,
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
wave:
  - name: canary
discovery: []
targetz: []
`,
			want: `fleet.yaml:4: unknown key "wave" at top level (did you mean "waves"?)
fleet.yaml:6: unknown key "discovery" at top level (did you mean "discover"?)
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
			name: "golang_migrate_table not keep or ignore",
			src: `defaults:
  golang_migrate_table: drop
targets:
  - name: acme
    dsn: postgres://db1/acme
`,
			want: `fleet.yaml:2: defaults.golang_migrate_table: "drop" is not keep or ignore`,
		},
		{
			name: "golang_migrate_table a list",
			src: `defaults:
  golang_migrate_table: [keep]
targets:
  - name: acme
    dsn: postgres://db1/acme
`,
			want: `fleet.yaml:2: defaults.golang_migrate_table must be keep or ignore, got a list`,
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
			name: "max_exclusive_rows not a count",
			src: `defaults:
  max_exclusive_rows: -5
targets:
  - name: acme
    dsn: postgres://db1/acme
`,
			want: `fleet.yaml:2: defaults.max_exclusive_rows: "-5" is not a count of rows (0 or more, like 100000)`,
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
			want: `fleet.yaml:1: defaults must be a mapping of settings (parallelism, lock_timeout, statement_timeout, connect_timeout, idle_in_transaction_timeout, lock_wait, timeout, stall_timeout, shared_schemas, golang_migrate_table, max_exclusive_rows), got a list`,
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
			src:  "targets:\n  - name: acme\n    labels: *eu\n",
			want: `fleet.yaml:3: invalid YAML: unknown anchor 'eu' referenced`,
		},
		{
			name: "control character",
			src:  "targets:\n  - name: acme\x07\n",
			want: `fleet.yaml:2: invalid YAML: control characters are not allowed`,
		},
		{
			name: "unclosed flow sequence",
			src:  "defaults: {}\ntargets: [\n  {name: a, dsn: postgres://db/a}\n",
			want: `fleet.yaml:2: invalid YAML: did not find expected ',' or ']'`,
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
			want: `fleet.yaml: no targets (add a "targets:" list, each entry with a name and a dsn, or a "discover:" list)`,
		},
		{
			name: "comments only",
			src:  "# nothing yet\n\n",
			want: `fleet.yaml: no targets (add a "targets:" list, each entry with a name and a dsn, or a "discover:" list)`,
		},
		{
			name: "defaults only",
			src:  "defaults:\n  parallelism: 2\n",
			want: `fleet.yaml: no targets (add a "targets:" list, each entry with a name and a dsn, or a "discover:" list)`,
		},
		{
			name: "empty targets list",
			src:  "defaults: {}\ntargets: []\n",
			want: `fleet.yaml:2: no targets (add a "targets:" list, each entry with a name and a dsn, or a "discover:" list)`,
		},
		{
			name: "null targets",
			src:  "targets:\n",
			want: `fleet.yaml:1: no targets (add a "targets:" list, each entry with a name and a dsn, or a "discover:" list)`,
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
			want: `fleet.yaml:1: unknown key "base" at top level (known keys: defaults, targets, discover, waves)
fleet.yaml:4: merge keys ("<<") are not supported in targets[0]; write the keys out
fleet.yaml:4: target "acme" has no dsn`,
		},
		{
			name: "waves not a list",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
waves:
  canary: {max_failures: 0}
`,
			want: `fleet.yaml:5: waves must be a list (each entry "- name: ..." with an optional select and max_failures), got a mapping`,
		},
		{
			name: "wave entry not a mapping",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
waves:
  - canary
  - [everyone]
`,
			want: `fleet.yaml:5: waves[0] must be a mapping with a name (and optionally select and max_failures), got a string
fleet.yaml:6: waves[1] must be a mapping with a name (and optionally select and max_failures), got a list`,
		},
		{
			name: "wave name problems",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
waves:
  - select: {tier: canary}
  - name: ""
    select: {tier: eu}
  - name: [main]
    select: {tier: main}
  - name: ${WAVE}
    select: {tier: us}
`,
			want: `fleet.yaml:5: waves[0] has no name
fleet.yaml:6: waves[1].name is empty
fleet.yaml:8: waves[2].name must be a string, got a list
fleet.yaml:10: undefined variable ${WAVE} in waves[3].name`,
		},
		{
			name: "same wave name twice",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
waves:
  - name: canary
    select: {tier: canary}
  - name: canary
    select: {region: eu}
  - name: everyone
`,
			want: `fleet.yaml:7: wave "canary" is defined twice (first at line 5)`,
		},
		{
			name: "unknown keys in a wave",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
waves:
  - name: canary
    selct: {tier: canary}
    max_failure: 0
  - name: eu
    labels: {region: eu}
    budget: 1
  - name: everyone
    retries: 3
`,
			want: `fleet.yaml:6: unknown key "selct" in waves[0] (did you mean "select"?)
fleet.yaml:7: unknown key "max_failure" in waves[0] (did you mean "max_failures"?)
fleet.yaml:9: unknown key "labels" in waves[1] (did you mean "select"?)
fleet.yaml:10: unknown key "budget" in waves[1] (did you mean "max_failures"?)
fleet.yaml:12: unknown key "retries" in waves[2] (known keys: name, select, max_failures, order)`,
		},
		{
			name: "wave select not a mapping of scalars",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
waves:
  - name: canary
    select: [tier, canary]
  - name: eu
    select: tier=eu
  - name: us
    select:
      region: [us]
      tier:
      a=b: c
      "": d
      region: us-east
`,
			want: `fleet.yaml:6: waves[0].select must be a mapping of key: value, got a list
fleet.yaml:8: waves[1].select must be a mapping of key: value, got a string
fleet.yaml:11: waves[2].select.region must be a string, got a list
fleet.yaml:12: waves[2].select.tier has no value (write "" for an empty one)
fleet.yaml:13: waves[2].select: label key "a=b" contains "=", which no target label can
fleet.yaml:14: waves[2].select: label key "" is empty
fleet.yaml:15: waves[2].select: label "region" is defined twice (first at line 11)`,
		},
		{
			name: "empty wave select",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
waves:
  - name: canary
    select: {}
  - name: everyone
    select:
`,
			want: `fleet.yaml:6: wave "canary": select is empty (give the label: value pairs a target must all have, or leave select out so the wave takes every remaining target)
fleet.yaml:8: wave "everyone": select is empty (give the label: value pairs a target must all have, or leave select out so the wave takes every remaining target)`,
		},
		{
			name: "bad max_failures",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
waves:
  - name: a
    select: {tier: a}
    max_failures: two
  - name: b
    select: {tier: b}
    max_failures: 150%
  - name: c
    select: {tier: c}
    max_failures: -1
  - name: d
    select: {tier: d}
    max_failures: 1.5
  - name: e
    select: {tier: e}
    max_failures:
  - name: f
    select: {tier: f}
    max_failures: [1]
  - name: g
    select: {tier: g}
    max_failures: ${MAX}
  - select: {tier: h}
    max_failures: "x%"
`,
			vars: map[string]string{"MAX": "lots"},
			want: `fleet.yaml:7: wave "a": max_failures "two" is neither a count (0, 1, 2...) nor a percentage (like 2%)
fleet.yaml:10: wave "b": max_failures "150%" is not a percentage between 0% and 100%
fleet.yaml:13: wave "c": max_failures "-1" is neither a count (0, 1, 2...) nor a percentage (like 2%)
fleet.yaml:16: wave "d": max_failures "1.5" is neither a count (0, 1, 2...) nor a percentage (like 2%)
fleet.yaml:19: wave "e": max_failures is empty (a count like 0 or 2, or a percentage like 2%; leave it out for no limit)
fleet.yaml:22: waves[5].max_failures must be a count or a percentage (a count like 0 or 2, or a percentage like 2%), got a list
fleet.yaml:25: wave "g": max_failures "lots" is neither a count (0, 1, 2...) nor a percentage (like 2%)
fleet.yaml:26: waves[7] has no name
fleet.yaml:27: waves[7]: max_failures "x%" is not a percentage between 0% and 100%`,
		},
		{
			name: "wave after a wave without select",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
waves:
  - name: canary
    select: {tier: canary}
  - name: everyone
    max_failures: 2%
  - name: stragglers
    select: {tier: late}
  - name: leftovers
`,
			want: `fleet.yaml:9: wave "stragglers" can never receive targets: wave "everyone" above it has no select and takes all the rest
fleet.yaml:11: wave "leftovers" can never receive targets: wave "everyone" above it has no select and takes all the rest`,
		},
		{
			name: "wave whose select an earlier one covers",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
waves:
  - name: canary
    select: {tier: canary}
  - name: eu-canary
    select: {region: eu, tier: canary}
  - name: eu
    select: {region: eu}
  - name: canary-again
    select: {tier: canary}
`,
			want: `fleet.yaml:7: wave "eu-canary" can never receive targets: wave "canary" above it (select tier=canary) takes every target its select matches
fleet.yaml:11: wave "canary-again" can never receive targets: wave "canary" above it (select tier=canary) takes every target its select matches`,
		},
		{
			name: "wave named rest while targets may be left over",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
waves:
  - name: canary
    select: {tier: canary}
  - name: rest
    select: {tier: main}
`,
			want: `fleet.yaml:7: wave name "rest" is reserved for the targets no wave selects (rename this wave, or end the list with a wave without select)`,
		},
		{
			name: "several wave problems at once",
			src: `targets:
  - name: acme
    dsn: postgres://db1/acme
waves:
  - name: canary
    select: {tier: canary}
    max_failures: none
  - name: everyone
    max_failures: 2%
  - name: canary
    selct: {tier: canary}
  - name: late
    select: {tier: late}
`,
			want: `fleet.yaml:7: wave "canary": max_failures "none" is neither a count (0, 1, 2...) nor a percentage (like 2%)
fleet.yaml:10: wave "canary" is defined twice (first at line 5)
fleet.yaml:11: unknown key "selct" in waves[2] (did you mean "select"?)
fleet.yaml:12: wave "late" can never receive targets: wave "everyone" above it has no select and takes all the rest`,
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
