package fleet

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseWaves(t *testing.T) {
	const targets = "targets:\n  - name: a\n    dsn: postgres://db/a\n"
	tests := []struct {
		name string
		src  string // appended to targets, which take lines 1-3
		vars map[string]string
		want []Wave
	}{
		{name: "no waves key", src: "", want: nil},
		{name: "null waves", src: "waves:\n", want: nil},
		{name: "empty list", src: "waves: []\n", want: nil},
		{
			name: "the design's example",
			src: `waves:
  - name: canary
    select: {tier: canary}
    max_failures: 0
  - name: everyone
    max_failures: 2%
`,
			want: []Wave{
				{Name: "canary", Select: map[string]string{"tier": "canary"}, MaxFailures: FailureBudget{Limited: true}, Line: 5},
				{Name: "everyone", MaxFailures: FailureBudget{Limited: true, Percent: 2}, Line: 8},
			},
		},
		{
			name: "max_failures as a YAML int, a string, a quoted count and a variable",
			src: `waves:
  - {name: a, select: {tier: a}, max_failures: 3}
  - {name: b, select: {tier: b}, max_failures: "3"}
  - {name: c, select: {tier: c}, max_failures: '12.5%'}
  - {name: d, select: {tier: d}, max_failures: 0%}
  - {name: e, select: {tier: e}, max_failures: "${MAX}"}
  - {name: f}
`,
			vars: map[string]string{"MAX": "10%"},
			want: []Wave{
				{Name: "a", Select: map[string]string{"tier": "a"}, MaxFailures: FailureBudget{Limited: true, Count: 3}, Line: 5},
				{Name: "b", Select: map[string]string{"tier": "b"}, MaxFailures: FailureBudget{Limited: true, Count: 3}, Line: 6},
				{Name: "c", Select: map[string]string{"tier": "c"}, MaxFailures: FailureBudget{Limited: true, Percent: 12.5}, Line: 7},
				{Name: "d", Select: map[string]string{"tier": "d"}, MaxFailures: FailureBudget{Limited: true}, Line: 8},
				{Name: "e", Select: map[string]string{"tier": "e"}, MaxFailures: FailureBudget{Limited: true, Percent: 10}, Line: 9},
				{Name: "f", Line: 10},
			},
		},
		{
			name: "select with several labels, an empty value and a variable",
			src: `waves:
  - name: eu-canary
    select:
      tier: canary
      region: ${REGION}
      note: ""
`,
			vars: map[string]string{"REGION": "eu"},
			want: []Wave{
				{Name: "eu-canary", Select: map[string]string{"tier": "canary", "region": "eu", "note": ""}, Line: 5},
			},
		},
		{
			name: "max_failures shared through an anchor, and a last wave named rest",
			src: `waves:
  - name: canary
    select: {tier: canary}
    max_failures: &strict 0
  - name: canary-eu
    select: {tier: canary-eu}
    max_failures: *strict
  - name: rest
`,
			want: []Wave{
				{Name: "canary", Select: map[string]string{"tier": "canary"}, MaxFailures: FailureBudget{Limited: true}, Line: 5},
				{Name: "canary-eu", Select: map[string]string{"tier": "canary-eu"}, MaxFailures: FailureBudget{Limited: true}, Line: 8},
				{Name: "rest", Line: 11},
			},
		},
		{
			name: "orders",
			src: `waves:
  - {name: canary, select: {tier: canary}, order: size}
  - {name: eu, select: {region: eu}, order: name}
  - {name: rest}
`,
			want: []Wave{
				{Name: "canary", Select: map[string]string{"tier": "canary"}, Order: OrderSize, Line: 5},
				{Name: "eu", Select: map[string]string{"region": "eu"}, Order: OrderName, Line: 6},
				{Name: "rest", Line: 7},
			},
		},
		{
			name: "overlapping selects where neither covers the other",
			src: `waves:
  - {name: eu, select: {region: eu}}
  - {name: canary, select: {tier: canary}}
`,
			want: []Wave{
				{Name: "eu", Select: map[string]string{"region": "eu"}, Line: 5},
				{Name: "canary", Select: map[string]string{"tier": "canary"}, Line: 6},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseString(t, targets+tt.src, tt.vars)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(f.Waves, tt.want) {
				t.Errorf("Waves =\n %+v\nwant\n %+v", f.Waves, tt.want)
			}
		})
	}
}

func TestAssignWaves(t *testing.T) {
	tg := func(name string, labels ...string) Target {
		t := Target{Name: name, Labels: map[string]string{}}
		for i := 0; i+1 < len(labels); i += 2 {
			t.Labels[labels[i]] = labels[i+1]
		}
		return t
	}
	fleet := []Target{
		tg("a", "tier", "main", "region", "us"),
		tg("b", "tier", "canary", "region", "eu"),
		tg("c", "tier", "main", "region", "eu"),
		tg("d"),
		tg("e", "tier", "canary", "region", "us"),
	}
	canary := Wave{Name: "canary", Select: map[string]string{"tier": "canary"}, MaxFailures: FailureBudget{Limited: true}, Line: 5}
	eu := Wave{Name: "eu", Select: map[string]string{"region": "eu"}, Line: 8}
	everyone := Wave{Name: "everyone", MaxFailures: FailureBudget{Limited: true, Percent: 2}, Line: 10}
	nobody := Wave{Name: "nobody", Select: map[string]string{"tier": "none"}, Line: 12}
	rest := Wave{Name: RestWave}

	// group is a WaveTargets with only the names of its targets.
	type group struct {
		Wave    Wave
		Targets []string
	}
	tests := []struct {
		name    string
		targets []Target
		waves   []Wave
		want    []group
	}{
		{
			name:    "no waves: one unnamed unlimited wave",
			targets: fleet,
			want:    []group{{Wave{}, []string{"a", "b", "c", "d", "e"}}},
		},
		{
			name:  "no targets",
			waves: []Wave{canary, everyone},
			want:  nil,
		},
		{
			name: "no targets and no waves",
			want: nil,
		},
		{
			name:    "canary then everyone",
			targets: fleet,
			waves:   []Wave{canary, everyone},
			want: []group{
				{canary, []string{"b", "e"}},
				{everyone, []string{"a", "c", "d"}},
			},
		},
		{
			name:    "a target goes to the first wave that selects it",
			targets: fleet,
			waves:   []Wave{eu, canary, everyone},
			want: []group{
				{eu, []string{"b", "c"}},
				{canary, []string{"e"}},
				{everyone, []string{"a", "d"}},
			},
		},
		{
			name:    "targets no wave selects form the rest wave",
			targets: fleet,
			waves:   []Wave{canary, eu},
			want: []group{
				{canary, []string{"b", "e"}},
				{eu, []string{"c"}},
				{rest, []string{"a", "d"}},
			},
		},
		{
			name:    "waves without targets are left out",
			targets: fleet,
			waves:   []Wave{nobody, canary, everyone},
			want: []group{
				{canary, []string{"b", "e"}},
				{everyone, []string{"a", "c", "d"}},
			},
		},
		{
			name:    "no rest wave when every target is taken",
			targets: fleet[1:2],
			waves:   []Wave{canary, eu},
			want:    []group{{canary, []string{"b"}}},
		},
		{
			name:    "a label must be present to match, even with an empty value",
			targets: []Target{tg("x"), tg("y", "note", "")},
			waves:   []Wave{{Name: "noted", Select: map[string]string{"note": ""}}},
			want: []group{
				{Wave{Name: "noted", Select: map[string]string{"note": ""}}, []string{"y"}},
				{rest, []string{"x"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AssignWaves(tt.targets, tt.waves)
			var groups []group
			for _, wt := range got {
				var names []string
				for _, t := range wt.Targets {
					names = append(names, t.Name)
				}
				groups = append(groups, group{wt.Wave, names})
			}
			if !reflect.DeepEqual(groups, tt.want) {
				t.Errorf("AssignWaves =\n %+v\nwant\n %+v", groups, tt.want)
			}
		})
	}
}

// TestAssignWavesCopies checks that the result does not share memory with
// the caller's slice, so a caller may reorder one without the other.
func TestAssignWavesCopies(t *testing.T) {
	targets := []Target{{Name: "a"}, {Name: "b"}}
	got := AssignWaves(targets, nil)
	got[0].Targets[0].Name = "changed"
	if targets[0].Name != "a" {
		t.Error("AssignWaves returned the caller's slice")
	}
}

func TestParseWaveOrderProblems(t *testing.T) {
	const head = "targets:\n  - name: a\n    dsn: postgres://db/a\nwaves:\n"
	tests := []struct{ name, src, want string }{
		{"unknown order", "  - {name: w, order: biggest}\n", `fleet.yaml:5: wave "w": order "biggest" is not known (use size: smallest first, or name; leave it out for fleet order)`},
		{"order not a string", "  - name: w\n    order: [size]\n", `fleet.yaml:6: waves[0].order must be size or name`},
		{"order empty", "  - {name: w, order: \"\"}\n", `order "" is not known`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseString(t, head+tt.src, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseMaxExclusiveRows(t *testing.T) {
	f, err := parseString(t, "defaults:\n  max_exclusive_rows: ${LIMIT}\ntargets:\n  - name: a\n    dsn: postgres://db/a\n", map[string]string{"LIMIT": "100000"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Defaults.MaxExclusiveRows == nil || *f.Defaults.MaxExclusiveRows != 100000 {
		t.Errorf("max_exclusive_rows = %v", f.Defaults.MaxExclusiveRows)
	}
	f, err = parseString(t, "targets:\n  - name: a\n    dsn: postgres://db/a\n", nil)
	if err != nil || f.Defaults.MaxExclusiveRows != nil {
		t.Errorf("without the key: %v, %v; want no limit", f.Defaults.MaxExclusiveRows, err)
	}
}
