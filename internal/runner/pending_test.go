package runner

import (
	"errors"
	"slices"
	"testing"

	"github.com/orchestrator-dev/orchestrator/internal/source"
)

func testSet(versions ...int64) *source.Set {
	s := &source.Set{Layout: source.LayoutGoose}
	for _, v := range versions {
		s.Migrations = append(s.Migrations, &source.Migration{Version: v, Name: "m"})
	}
	return s
}

func versionsOf(ms []*source.Migration) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.Version)
	}
	return out
}

func appliedState(vs ...int64) state {
	st := state{initialized: len(vs) > 0, applied: map[int64]bool{}}
	for _, v := range vs {
		st.applied[v] = true
		st.current = max(st.current, v)
	}
	return st
}

func TestPendingUp(t *testing.T) {
	set := testSet(1, 2, 3, 4)
	cases := []struct {
		name    string
		st      state
		to      int64
		want    []int64
		missing []int64
	}{
		{"fresh", appliedState(), 4, []int64{1, 2, 3, 4}, nil},
		{"partway", appliedState(1, 2), 4, []int64{3, 4}, nil},
		{"up to date", appliedState(1, 2, 3, 4), 4, nil, nil},
		{"to a version", appliedState(1), 3, []int64{2, 3}, nil},
		{"to below current", appliedState(1, 2, 3), 2, nil, nil},
		{"ahead of the set", appliedState(1, 2, 3, 4, 5), 4, nil, nil},
		{"hole below current", appliedState(1, 3), 4, nil, []int64{2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pendingUp(set, tc.st, tc.to)
			if tc.missing != nil {
				var ooo *OutOfOrderError
				if !errors.As(err, &ooo) || !slices.Equal(ooo.Missing, tc.missing) {
					t.Fatalf("err = %v, want out of order %v", err, tc.missing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(versionsOf(got), tc.want) {
				t.Errorf("pending %v, want %v", versionsOf(got), tc.want)
			}
		})
	}
}

func TestClassifySQLState(t *testing.T) {
	for code, want := range map[string]string{
		"55P03": ClassLockTimeout, "40P01": ClassDeadlock, "42601": ClassSyntax, "28P01": ClassAuth,
		"3D000": ClassMissingDatabase, "53300": ClassResource, "57P01": ClassConnectionLost,
		"08006": ClassConnectionLost, "57014": ClassStatementTimeout, "42P07": ClassConflict, "22012": ClassOther,
	} {
		if got := classifySQLState(code); got != want {
			t.Errorf("classifySQLState(%s) = %s, want %s", code, got, want)
		}
	}
}

func TestAppName(t *testing.T) {
	if got := AppName("acme"); got != "orchestrator:acme" {
		t.Errorf("AppName = %q", got)
	}
	long := AppName(string(make([]byte, 100)))
	if len(long) != maxIdentifierLen {
		t.Errorf("long name not truncated to %d: %d", maxIdentifierLen, len(long))
	}
}
