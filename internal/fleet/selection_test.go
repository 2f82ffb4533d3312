package fleet

import (
	"reflect"
	"testing"
)

func TestParseSelector(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Selector
	}{
		{name: "one pair", in: "tier=canary", want: Selector{"tier": "canary"}},
		{name: "several pairs", in: "tier=canary,region=eu", want: Selector{"tier": "canary", "region": "eu"}},
		{name: "spaces around pairs, keys and values", in: " tier = canary , region=eu ", want: Selector{"tier": "canary", "region": "eu"}},
		{name: "empty value", in: "note=", want: Selector{"note": ""}},
		{name: "value containing =", in: "expr=a=b", want: Selector{"expr": "a=b"}},
		{name: "same pair twice", in: "tier=canary,tier=canary", want: Selector{"tier": "canary"}},
		{name: "key with dots and slashes", in: "example.com/team=db", want: Selector{"example.com/team": "db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSelector(tt.in)
			if err != nil {
				t.Fatalf("ParseSelector(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseSelector(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseSelectorErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "empty",
			in:   " ",
			want: "empty selector (want key=value, or several joined by commas like tier=canary,region=eu)",
		},
		{
			name: "missing =",
			in:   "tier=canary,eu",
			want: `"tier=canary,eu": "eu" is not key=value (want key=value, or several joined by commas like tier=canary,region=eu)`,
		},
		{
			name: "empty key",
			in:   "=canary",
			want: `"=canary": the key of "=canary" is empty`,
		},
		{
			name: "empty pair",
			in:   "tier=canary,",
			want: `"tier=canary," has an empty pair (want key=value, or several joined by commas like tier=canary,region=eu)`,
		},
		{
			name: "control character in the key",
			in:   "ti\ter=canary",
			want: `"ti\ter=canary": the key of "ti\ter=canary" contains a control character`,
		},
		{
			name: "duplicate key with different values",
			in:   "tier=canary,region=eu,tier=main",
			want: `"tier=canary,region=eu,tier=main": key "tier" is given twice, as "canary" and "main"; a target has one value per label (to select either, repeat the flag: one selector each)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSelector(tt.in)
			if err == nil {
				t.Fatalf("ParseSelector(%q) = %v, want an error", tt.in, got)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseSelector(%q) error:\n got: %s\nwant: %s", tt.in, err, tt.want)
			}
		})
	}
}

func TestSelectorString(t *testing.T) {
	for _, in := range []string{"tier=canary", "region=eu,tier=canary", "note="} {
		t.Run(in, func(t *testing.T) {
			s, err := ParseSelector(in)
			if err != nil {
				t.Fatal(err)
			}
			if s.String() != in {
				t.Errorf("String() = %q, want %q", s.String(), in)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	tg := func(name string, labels ...string) Target {
		t := Target{Name: name, Labels: map[string]string{}}
		for i := 0; i+1 < len(labels); i += 2 {
			t.Labels[labels[i]] = labels[i+1]
		}
		return t
	}
	fleet := []Target{
		tg("acme", "tier", "canary", "region", "eu"),
		tg("globex", "tier", "main", "region", "us"),
		tg("initech", "tier", "main", "region", "eu"),
		tg("tenant_1", "tier", "canary", "region", "us"),
		tg("tenant_2"),
		tg("team/x", "tier", "main"),
	}
	tests := []struct {
		name      string
		selectors []Selector
		globs     []string
		want      []string
	}{
		{name: "no filters: all", want: []string{"acme", "globex", "initech", "tenant_1", "tenant_2", "team/x"}},
		{name: "one selector", selectors: []Selector{{"tier": "canary"}}, want: []string{"acme", "tenant_1"}},
		{name: "all pairs of a selector must match", selectors: []Selector{{"tier": "main", "region": "eu"}}, want: []string{"initech"}},
		{
			name:      "any selector may match, fleet order kept",
			selectors: []Selector{{"region": "us"}, {"tier": "canary"}},
			want:      []string{"acme", "globex", "tenant_1"},
		},
		{name: "empty selector matches all", selectors: []Selector{{}}, want: []string{"acme", "globex", "initech", "tenant_1", "tenant_2", "team/x"}},
		{name: "missing label does not match an empty value", selectors: []Selector{{"tier": ""}}, want: nil},
		{name: "one glob", globs: []string{"tenant_*"}, want: []string{"tenant_1", "tenant_2"}},
		{name: "any glob may match", globs: []string{"acme", "g*", "?nitech"}, want: []string{"acme", "globex", "initech"}},
		{name: "class and escape", globs: []string{"tenant_[2-9]", `acm\e`}, want: []string{"acme", "tenant_2"}},
		{name: "star does not cross a slash", globs: []string{"team*"}, want: nil},
		{name: "star inside a path segment", globs: []string{"team/*"}, want: []string{"team/x"}},
		{
			name:      "selectors and globs must both match",
			selectors: []Selector{{"tier": "canary"}},
			globs:     []string{"tenant_*"},
			want:      []string{"tenant_1"},
		},
		{name: "nothing selected is not an error", selectors: []Selector{{"tier": "gold"}}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(fleet, tt.selectors, tt.globs)
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			var names []string
			for _, t := range got {
				names = append(names, t.Name)
			}
			if !reflect.DeepEqual(names, tt.want) {
				t.Errorf("Select = %q, want %q", names, tt.want)
			}
		})
	}
}

func TestSelectErrors(t *testing.T) {
	fleet := []Target{{Name: "acme", Labels: map[string]string{}}}
	tests := []struct {
		name  string
		globs []string
		want  string
	}{
		{
			name:  "malformed glob",
			globs: []string{"acme", "tenant_[0-9"},
			want:  `target name pattern "tenant_[0-9" is malformed (use * and ? as wildcards, [a-z] or [^a-z] for a class, \ to escape)`,
		},
		{
			name:  "malformed past a part that does not match",
			globs: []string{`zzz\`},
			want:  `target name pattern "zzz\\" is malformed (use * and ? as wildcards, [a-z] or [^a-z] for a class, \ to escape)`,
		},
		{
			name:  "empty glob",
			globs: []string{""},
			want:  `target name pattern "" is empty`,
		},
		{
			name:  "every bad glob is reported",
			globs: []string{"[", "ok*", ""},
			want: `target name pattern "[" is malformed (use * and ? as wildcards, [a-z] or [^a-z] for a class, \ to escape)
target name pattern "" is empty`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(fleet, nil, tt.globs)
			if err == nil {
				t.Fatalf("Select(%q) = %v, want an error", tt.globs, got)
			}
			if err.Error() != tt.want {
				t.Errorf("Select(%q) error:\n got: %s\nwant: %s", tt.globs, err, tt.want)
			}
		})
	}
}
