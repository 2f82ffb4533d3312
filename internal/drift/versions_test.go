package drift

import (
	"slices"
	"testing"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

func TestVersionFindings(t *testing.T) {
	set := seedSet(t)
	// ok returns version v applied with the set's checksums.
	ok := func(v int64) Applied {
		m, found := set.Find(v)
		if !found {
			t.Fatalf("seed set has no version %d", v)
		}
		return Applied{Version: v, UpSHA256: m.UpSHA256, DownSHA256: m.DownSHA256, HasChecksum: true}
	}
	edited := func(a Applied, up, down bool) Applied {
		if up {
			a.UpSHA256 = "0000"
		}
		if down {
			a.DownSHA256 = "0000"
		}
		return a
	}
	tests := []struct {
		name        string
		initialized bool
		applied     []Applied
		want        []report.Finding
	}{
		{
			name: "uninitialized",
			want: []report.Finding{{Kind: KindUninitialized, Object: "table goose_db_version", Detail: "missing: the target was never migrated"}},
		},
		{
			name:        "initialized, nothing applied",
			initialized: true,
			applied:     []Applied{{Version: 0}},
			want: []report.Finding{
				{Kind: KindPending, Object: "version 1", Detail: "pending (001_create_users_table)"},
				{Kind: KindPending, Object: "version 2", Detail: "pending (002_create_api_keys_table)"},
				{Kind: KindPending, Object: "version 3", Detail: "pending (003_create_sessions_table)"},
				{Kind: KindPending, Object: "version 4", Detail: "pending (004_create_usage_records_table)"},
			},
		},
		{
			name:        "up to date",
			initialized: true,
			applied:     []Applied{ok(1), ok(2), ok(3), ok(4)},
		},
		{
			name:        "up to date, order and duplicates do not matter",
			initialized: true,
			applied:     []Applied{ok(4), ok(2), {Version: 2}, ok(1), ok(3), ok(1)},
		},
		{
			name:        "behind",
			initialized: true,
			applied:     []Applied{ok(1), ok(2)},
			want: []report.Finding{
				{Kind: KindPending, Object: "version 3", Detail: "pending (003_create_sessions_table)"},
				{Kind: KindPending, Object: "version 4", Detail: "pending (004_create_usage_records_table)"},
			},
		},
		{
			name:        "gap",
			initialized: true,
			applied:     []Applied{ok(1), ok(3), ok(4)},
			want:        []report.Finding{{Kind: KindGap, Object: "version 2", Detail: "not applied, below current version 4 (002_create_api_keys_table)"}},
		},
		{
			name:        "unknown versions",
			initialized: true,
			applied:     []Applied{ok(1), ok(2), ok(3), ok(4), {Version: 20240101}, {Version: 5, HasChecksum: true}},
			want: []report.Finding{
				{Kind: KindUnknownVersion, Object: "version 5", Detail: "applied, but not in the migration set"},
				{Kind: KindUnknownVersion, Object: "version 20240101", Detail: "applied, but not in the migration set"},
			},
		},
		{
			name:        "unknown version makes the rest gaps",
			initialized: true,
			applied:     []Applied{ok(1), {Version: 7}},
			want: []report.Finding{
				{Kind: KindGap, Object: "version 2", Detail: "not applied, below current version 7 (002_create_api_keys_table)"},
				{Kind: KindGap, Object: "version 3", Detail: "not applied, below current version 7 (003_create_sessions_table)"},
				{Kind: KindGap, Object: "version 4", Detail: "not applied, below current version 7 (004_create_usage_records_table)"},
				{Kind: KindUnknownVersion, Object: "version 7", Detail: "applied, but not in the migration set"},
			},
		},
		{
			name:        "edited up and down",
			initialized: true,
			applied:     []Applied{ok(1), edited(ok(2), true, false), edited(ok(3), false, true), edited(ok(4), true, true)},
			want: []report.Finding{
				{Kind: KindChecksum, Object: "version 2", Detail: "up section changed since it was applied (002_create_api_keys_table)"},
				{Kind: KindChecksum, Object: "version 3", Detail: "down section changed since it was applied (003_create_sessions_table)"},
				{Kind: KindChecksum, Object: "version 4", Detail: "up section changed since it was applied (004_create_usage_records_table)"},
				{Kind: KindChecksum, Object: "version 4", Detail: "down section changed since it was applied (004_create_usage_records_table)"},
			},
		},
		{
			name:        "no recorded checksum is not checked",
			initialized: true,
			applied:     []Applied{ok(1), {Version: 2}, ok(3), ok(4)},
		},
		{
			name:        "checksum and pending together",
			initialized: true,
			applied:     []Applied{edited(ok(1), true, false)},
			want: []report.Finding{
				{Kind: KindChecksum, Object: "version 1", Detail: "up section changed since it was applied (001_create_users_table)"},
				{Kind: KindPending, Object: "version 2", Detail: "pending (002_create_api_keys_table)"},
				{Kind: KindPending, Object: "version 3", Detail: "pending (003_create_sessions_table)"},
				{Kind: KindPending, Object: "version 4", Detail: "pending (004_create_usage_records_table)"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := VersionFindings(set, tt.initialized, tt.applied)
			if !slices.Equal(got, tt.want) {
				t.Errorf("VersionFindings =\n%q\nwant\n%q", findingStrings(got), findingStrings(tt.want))
			}
		})
	}
}

func TestFindingString(t *testing.T) {
	tests := []struct {
		f    report.Finding
		want string
	}{
		{report.Finding{Kind: KindSchema, Object: "index api_keys.idx_api_keys_key_prefix", Detail: "missing"}, "index api_keys.idx_api_keys_key_prefix missing"},
		{report.Finding{Kind: KindSchema, Object: "column sessions.user_agent", Detail: "type text, expected character varying(512)"},
			"column sessions.user_agent type text, expected character varying(512)"},
		{report.Finding{Kind: KindSchema, Object: "table users"}, "table users"},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
