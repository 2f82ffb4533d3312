package fleet

import (
	"reflect"
	"testing"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{
		"A":     "alpha",
		"B_2":   "beta",
		"EMPTY": "",
		"NEST":  "${A}",
		"SPEC":  "p@ss w:rd/$$",
	}
	tests := []struct {
		name     string
		in       string
		want     string
		wantErrs []expandError
	}{
		{name: "no dollar", in: "postgres://db/x", want: "postgres://db/x"},
		{name: "one variable", in: "a-${A}-z", want: "a-alpha-z"},
		{name: "adjacent variables", in: "${A}${B_2}", want: "alphabeta"},
		{name: "empty variable is allowed", in: "[${EMPTY}]", want: "[]"},
		{name: "value inserted verbatim", in: "${SPEC}", want: "p@ss w:rd/$$"},
		{name: "value not expanded again", in: "${NEST}", want: "${A}"},
		{name: "double dollar is a literal dollar", in: "pa$$word", want: "pa$word"},
		{name: "escaped reference", in: "$${A}", want: "${A}"},
		{name: "escape then reference", in: "$$${A}", want: "$alpha"},
		{name: "lone dollar kept", in: "a$b $ c$", want: "a$b $ c$"},
		{name: "shell syntax is not ours", in: "$A $(id) `id` ${A:-x}", want: "$A $(id) `id` ",
			wantErrs: []expandError{{kind: invalidName, ref: "${A:-x}", offset: 14}}},
		{name: "undefined", in: "x${NOPE}y${NOPE}z${ALSO}", want: "xyz",
			wantErrs: []expandError{
				{kind: undefinedVariable, ref: "${NOPE}", offset: 1},
				{kind: undefinedVariable, ref: "${ALSO}", offset: 17},
			}},
		{name: "empty name", in: "${}", want: "", wantErrs: []expandError{{kind: invalidName, ref: "${}", offset: 0}}},
		{name: "leading digit", in: "${1A}", want: "", wantErrs: []expandError{{kind: invalidName, ref: "${1A}", offset: 0}}},
		{name: "nested braces", in: "${A${B_2}}", want: "}",
			wantErrs: []expandError{{kind: invalidName, ref: "${A${B_2}", offset: 0}}},
		{name: "unterminated", in: "ok ${A} then ${B_2", want: "ok alpha then ",
			wantErrs: []expandError{{kind: unterminated, offset: 13}}},
		{name: "dollar brace at the end", in: "x${", want: "x", wantErrs: []expandError{{kind: unterminated, offset: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := expand(tt.in, env(vars))
			if got != tt.want {
				t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !reflect.DeepEqual(errs, tt.wantErrs) {
				t.Errorf("expand(%q) errors = %+v, want %+v", tt.in, errs, tt.wantErrs)
			}
		})
	}
}

func TestExpandErrorMessage(t *testing.T) {
	tests := []struct {
		name   string
		err    expandError
		secret bool
		want   string
	}{
		{
			name: "undefined",
			err:  expandError{kind: undefinedVariable, ref: "${ACME_PASSWORD}", offset: 15},
			want: "undefined variable ${ACME_PASSWORD} in targets[0].dsn",
		},
		{
			name:   "undefined in a secret still names the variable",
			err:    expandError{kind: undefinedVariable, ref: "${ACME_PASSWORD}", offset: 15},
			secret: true,
			want:   "undefined variable ${ACME_PASSWORD} in targets[0].dsn",
		},
		{
			name: "invalid name is quoted",
			err:  expandError{kind: invalidName, ref: "${a b}", offset: 3},
			want: `invalid variable reference "${a b}" in targets[0].dsn (a name is letters, digits and _, not starting with a digit; write $$ for a literal $)`,
		},
		{
			name:   "invalid name in a secret is not quoted",
			err:    expandError{kind: invalidName, ref: "${pass-word}", offset: 3},
			secret: true,
			want:   "invalid variable reference at byte 4 in targets[0].dsn (a name is letters, digits and _, not starting with a digit; write $$ for a literal $)",
		},
		{
			name: "unterminated",
			err:  expandError{kind: unterminated, offset: 0},
			want: `unterminated "${" at byte 1 of targets[0].dsn (close it with "}", or write "$$" for a literal "$")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.message("targets[0].dsn", tt.secret); got != tt.want {
				t.Errorf("message() =\n %s\nwant\n %s", got, tt.want)
			}
		})
	}
}
