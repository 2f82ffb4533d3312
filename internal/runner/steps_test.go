package runner

import (
	"slices"
	"testing"

	"github.com/orchestrator-dev/orchestrator/internal/apply"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

func TestBatches(t *testing.T) {
	m := func(v int64, noTx bool) step {
		return step{m: &source.Migration{Version: v, NoTx: noTx, DownNoTx: noTx}}
	}
	shape := func(bs [][]step) [][]int64 {
		var out [][]int64
		for _, b := range bs {
			var vs []int64
			for _, s := range b {
				vs = append(vs, s.m.Version)
			}
			out = append(out, vs)
		}
		return out
	}
	cases := []struct {
		name  string
		steps []step
		mode  TxMode
		want  [][]int64
	}{
		{"all transactional", []step{m(1, false), m(2, false), m(3, false)}, TxTarget, [][]int64{{1, 2, 3}}},
		{"split around no-tx", []step{m(1, false), m(2, false), m(3, true), m(4, false)}, TxTarget, [][]int64{{1, 2}, {3}, {4}}},
		{"no-tx first and last", []step{m(1, true), m(2, false), m(3, true)}, TxTarget, [][]int64{{1}, {2}, {3}}},
		{"consecutive no-tx stand alone", []step{m(1, true), m(2, true)}, TxTarget, [][]int64{{1}, {2}}},
		{"per migration", []step{m(1, false), m(2, false)}, TxMigration, [][]int64{{1}, {2}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := shape(apply.Batches(tc.steps, step.noTx, tc.mode == TxTarget))
			if !slices.EqualFunc(got, tc.want, func(a, b []int64) bool { return slices.Equal(a, b) }) {
				t.Errorf("batches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStepsDown(t *testing.T) {
	set := testSet(1, 2, 3, 4)
	for _, m := range set.Migrations {
		m.HasDown = true
	}
	r := &Runner{set: set}
	steps, err := r.stepsDown(appliedState(1, 2, 3, 4), 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, s := range steps {
		if !s.down {
			t.Errorf("step %d is not a down", s.m.Version)
		}
		got = append(got, s.m.Version)
	}
	if !slices.Equal(got, []int64{4, 3, 2}) {
		t.Errorf("down to 1 runs %v, want [4 3 2] (newest first)", got)
	}
	if steps, _ := r.stepsDown(appliedState(1), 2); len(steps) != 0 {
		t.Errorf("below the target version: %d steps", len(steps))
	}
	if _, err := r.stepsDown(appliedState(1, 2, 3, 4, 5), 0); err == nil {
		t.Error("an applied version the set lacks must stop a down")
	}
	set.Migrations[2].HasDown = false
	if _, err := r.stepsDown(appliedState(1, 2, 3, 4), 0); err == nil {
		t.Error("a migration without a down section must stop a down")
	}
}
