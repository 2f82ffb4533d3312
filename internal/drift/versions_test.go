package drift

import (
	"slices"
	"testing"
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
		want        []Finding
	}{
		{
			name: "uninitialized",
			want: []Finding{{KindUninitialized, "table goose_db_version", "missing: the target was never migrated"}},
		},
		{
			name:        "initialized, nothing applied",
			initialized: true,
			applied:     []Applied{{Version: 0}},
			want: []Finding{
				{KindPending, "version 1", "pending (001_create_users_table)"},
				{KindPending, "version 2", "pending (002_create_api_keys_table)"},
				{KindPending, "version 3", "pending (003_create_sessions_table)"},
				{KindPending, "version 4", "pending (004_create_usage_records_table)"},
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
			want: []Finding{
				{KindPending, "version 3", "pending (003_create_sessions_table)"},
				{KindPending, "version 4", "pending (004_create_usage_records_table)"},
			},
		},
		{
			name:        "gap",
			initialized: true,
			applied:     []Applied{ok(1), ok(3), ok(4)},
			want:        []Finding{{KindGap, "version 2", "not applied, below current version 4 (002_create_api_keys_table)"}},
		},
		{
			name:        "unknown versions",
			initialized: true,
			applied:     []Applied{ok(1), ok(2), ok(3), ok(4), {Version: 20240101}, {Version: 5, HasChecksum: true}},
			want: []Finding{
				{KindUnknownVersion, "version 5", "applied, but not in the migration set"},
				{KindUnknownVersion, "version 20240101", "applied, but not in the migration set"},
			},
		},
		{
			name:        "unknown version makes the rest gaps",
			initialized: true,
			applied:     []Applied{ok(1), {Version: 7}},
			want: []Finding{
				{KindGap, "version 2", "not applied, below current version 7 (002_create_api_keys_table)"},
				{KindGap, "version 3", "not applied, below current version 7 (003_create_sessions_table)"},
				{KindGap, "version 4", "not applied, below current version 7 (004_create_usage_records_table)"},
				{KindUnknownVersion, "version 7", "applied, but not in the migration set"},
			},
		},
		{
			name:        "edited up and down",
			initialized: true,
			applied:     []Applied{ok(1), edited(ok(2), true, false), edited(ok(3), false, true), edited(ok(4), true, true)},
			want: []Finding{
				{KindChecksum, "version 2", "up section changed since it was applied (002_create_api_keys_table)"},
				{KindChecksum, "version 3", "down section changed since it was applied (003_create_sessions_table)"},
				{KindChecksum, "version 4", "up section changed since it was applied (004_create_usage_records_table)"},
				{KindChecksum, "version 4", "down section changed since it was applied (004_create_usage_records_table)"},
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
			want: []Finding{
				{KindChecksum, "version 1", "up section changed since it was applied (001_create_users_table)"},
				{KindPending, "version 2", "pending (002_create_api_keys_table)"},
				{KindPending, "version 3", "pending (003_create_sessions_table)"},
				{KindPending, "version 4", "pending (004_create_usage_records_table)"},
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
		f    Finding
		want string
	}{
		{Finding{KindSchema, "index api_keys.idx_api_keys_key_prefix", "missing"}, "index api_keys.idx_api_keys_key_prefix missing"},
		{Finding{KindSchema, "column sessions.user_agent", "type text, expected character varying(512)"},
			"column sessions.user_agent type text, expected character varying(512)"},
		{Finding{Kind: KindSchema, Object: "table users"}, "table users"},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
