package drift

import (
	"slices"
	"testing"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// TestPeerFindingsDatabases migrates four databases alike and tampers one:
// only that one has findings.
func TestPeerFindingsDatabases(t *testing.T) {
	set := seedSet(t)
	snaps := map[string]*Snapshot{}
	for _, name := range []string{"acme", "globex", "initech", "hooli"} {
		conn := migratedDatabase(t, set, 4)
		if name == "hooli" {
			execSQL(t, conn, `DROP INDEX idx_api_keys_key_prefix`)
		}
		snaps[name] = snapshotOf(t, conn, "public")
	}

	res := Peers(snaps)
	want := map[string][]report.Finding{"hooli": {{Kind: KindSchema, Object: "index api_keys.idx_api_keys_key_prefix", Detail: "missing"}}}
	if !equalFindings(res.Findings, want) {
		t.Errorf("Peers findings = %v, want %v", res.Findings, want)
	}
	if res.Baseline != "acme" || res.Tie {
		t.Errorf("Peers baseline = %q, tie %v; want acme, no tie", res.Baseline, res.Tie)
	}
	if got := Peers(snaps).Findings; !equalFindings(got, want) {
		t.Errorf("Peers(...).Findings = %v, want %v", got, want)
	}
}

func TestPeers(t *testing.T) {
	plain := testSnapshot()
	nick := testSnapshot()
	nick.Tables["users"].Columns["nickname"] = &Column{Name: "nickname", Type: "text"}
	noEmail := testSnapshot()
	delete(noEmail.Tables["users"].Columns, "email")

	tests := []struct {
		name         string
		snaps        map[string]*Snapshot
		wantBaseline string
		wantTie      bool
		want         map[string][]string
	}{
		{name: "none", snaps: map[string]*Snapshot{}, want: map[string][]string{}},
		{name: "one", snaps: map[string]*Snapshot{"a": nick}, wantBaseline: "a", want: map[string][]string{}},
		{
			name:         "all alike",
			snaps:        map[string]*Snapshot{"a": plain, "b": testSnapshot(), "c": testSnapshot()},
			wantBaseline: "a",
			want:         map[string][]string{},
		},
		{
			name:         "majority wins whatever the names",
			snaps:        map[string]*Snapshot{"a": nick, "b": plain, "c": testSnapshot(), "d": noEmail, "e": nil},
			wantBaseline: "b",
			want: map[string][]string{
				"a": {"column users.nickname unexpected"},
				"d": {"column users.email missing"},
			},
		},
		{
			name:         "tie goes to the first name",
			snaps:        map[string]*Snapshot{"b": plain, "a": nick},
			wantBaseline: "a",
			wantTie:      true,
			want:         map[string][]string{"b": {"column users.nickname missing"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Peers(tt.snaps)
			if res.Baseline != tt.wantBaseline || res.Tie != tt.wantTie {
				t.Errorf("baseline %q, tie %v; want %q, %v", res.Baseline, res.Tie, tt.wantBaseline, tt.wantTie)
			}
			got := map[string][]string{}
			for name, fs := range res.Findings {
				got[name] = findingStrings(fs)
			}
			if len(got) != len(tt.want) {
				t.Errorf("findings = %q, want %q", got, tt.want)
			}
			for name, want := range tt.want {
				if !slices.Equal(got[name], want) {
					t.Errorf("findings of %s = %q, want %q", name, got[name], want)
				}
			}
		})
	}
}

func TestComparer(t *testing.T) {
	var c Comparer
	a, e := testSnapshot(), testSnapshot()
	a.Tables["users"].Columns["nickname"] = &Column{Name: "nickname", Type: "text"}
	first := c.Compare(a, e)
	first[0].Detail = "changed by the caller"
	again := c.Compare(a, e)
	if got, want := findingStrings(again), []string{"column users.nickname unexpected"}; !slices.Equal(got, want) {
		t.Errorf("second Compare = %q, want %q", got, want)
	}
	if fs := c.Compare(e, testSnapshot()); len(fs) != 0 {
		t.Errorf("Compare of equal snapshots = %q", findingStrings(fs))
	}
}

func equalFindings(a, b map[string][]report.Finding) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
