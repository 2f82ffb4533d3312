package drift

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestReadSnapshotSeed(t *testing.T) {
	set := seedSet(t)
	a := snapshotOf(t, migratedDatabase(t, set, 4), "public")
	b := snapshotOf(t, migratedDatabase(t, set, 4), "public")

	if fa, fb := a.Fingerprint(), b.Fingerprint(); fa != fb {
		t.Errorf("fingerprints differ for identically migrated databases: %s, %s", fa, fb)
	}
	if fs := Compare(a, b); len(fs) != 0 {
		t.Errorf("Compare of identically migrated databases = %q, want none", findingStrings(fs))
	}

	// Spot checks that the snapshot holds what the built-in migrations create, normalised.
	users := a.Tables["users"]
	if users == nil || len(a.Tables) != 4 {
		t.Fatalf("tables = %v, want users, api_keys, sessions, usage_records", slices.Sorted(maps.Keys(a.Tables)))
	}
	checks := []struct{ what, got, want string }{
		{"users.id default", users.Columns["id"].Default, "nextval('users_id_seq'::regclass)"},
		{"users.email type", users.Columns["email"].Type, "character varying(255)"},
		{"idx_users_email", users.Indexes["idx_users_email"].Definition, "USING btree (email) WHERE (deleted_at IS NULL)"},
		{"users_pkey index", users.Indexes["users_pkey"].Constraint, "users_pkey"},
		{"api_keys fkey", a.Tables["api_keys"].Constraints["api_keys_user_id_fkey"].Definition, "FOREIGN KEY (user_id) REFERENCES users(id)"},
		{"api_keys fkey on delete", a.Tables["api_keys"].Constraints["api_keys_user_id_fkey"].OnDelete, "cascade"},
		{"sequence owner", a.Sequences["usage_records_id_seq"].OwnedBy, "usage_records.id"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
}

// TestCompareTampered changes one thing in one of two identically migrated
// databases and expects exactly the findings that name it.
func TestCompareTampered(t *testing.T) {
	set := seedSet(t)
	tests := []struct {
		name   string
		tamper string
		want   []string
		// superuser marks tampering that needs superuser rights; the
		// subtest is skipped when it is refused.
		superuser bool
	}{
		{
			name:   "column added",
			tamper: `ALTER TABLE users ADD COLUMN nickname text`,
			want:   []string{"column users.nickname unexpected"},
		},
		{
			name:   "serial column added",
			tamper: `ALTER TABLE users ADD COLUMN legacy_id bigserial`,
			want:   []string{"column users.legacy_id unexpected"},
		},
		{
			name:   "column dropped",
			tamper: `ALTER TABLE users DROP COLUMN display_name`,
			want:   []string{"column users.display_name missing"},
		},
		{
			name:   "index dropped",
			tamper: `DROP INDEX idx_api_keys_key_prefix`,
			want:   []string{"index api_keys.idx_api_keys_key_prefix missing"},
		},
		{
			name:   "index added",
			tamper: `CREATE INDEX idx_sessions_revoked_at ON sessions (revoked_at)`,
			want:   []string{"index sessions.idx_sessions_revoked_at unexpected"},
		},
		{
			name:   "column type changed",
			tamper: `ALTER TABLE sessions ALTER COLUMN user_agent TYPE text`,
			want:   []string{"column sessions.user_agent type text, expected character varying(512)"},
		},
		{
			name: "foreign key action changed",
			tamper: `ALTER TABLE usage_records DROP CONSTRAINT usage_records_user_id_fkey;
				ALTER TABLE usage_records ADD CONSTRAINT usage_records_user_id_fkey
					FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE`,
			want: []string{"constraint usage_records.usage_records_user_id_fkey on delete cascade, expected set null"},
		},
		{
			name: "foreign key not validated",
			tamper: `ALTER TABLE api_keys DROP CONSTRAINT api_keys_user_id_fkey;
				ALTER TABLE api_keys ADD CONSTRAINT api_keys_user_id_fkey
					FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE NOT VALID`,
			want: []string{"constraint api_keys.api_keys_user_id_fkey not validated, expected validated"},
		},
		{
			name:   "column made nullable",
			tamper: `ALTER TABLE users ALTER COLUMN username DROP NOT NULL`,
			want:   []string{"column users.username nullable, expected not null"},
		},
		{
			name:   "default changed",
			tamper: `ALTER TABLE api_keys ALTER COLUMN scopes SET DEFAULT '{read}'`,
			want:   []string{"column api_keys.scopes default '{read}'::text[], expected '{}'::text[]"},
		},
		{
			name:   "default dropped",
			tamper: `ALTER TABLE users ALTER COLUMN is_active DROP DEFAULT`,
			want:   []string{"column users.is_active no default, expected default true"},
		},
		{
			name:   "check constraint added",
			tamper: `ALTER TABLE users ADD CONSTRAINT users_email_lower_check CHECK (email = lower(email))`,
			want:   []string{"constraint users.users_email_lower_check unexpected"},
		},
		{
			name: "check constraint changed",
			tamper: `ALTER TABLE usage_records DROP CONSTRAINT usage_records_status_code_check;
				ALTER TABLE usage_records ADD CONSTRAINT usage_records_status_code_check CHECK (status_code BETWEEN 100 AND 999)`,
			want: []string{"constraint usage_records.usage_records_status_code_check definition " +
				"CHECK (((status_code >= 100) AND (status_code <= 999))), expected CHECK (((status_code >= 100) AND (status_code <= 599)))"},
		},
		{
			name:   "primary key dropped",
			tamper: `ALTER TABLE sessions DROP CONSTRAINT sessions_pkey`,
			want:   []string{"constraint sessions.sessions_pkey missing"},
		},
		{
			name: "index no longer unique",
			tamper: `DROP INDEX idx_sessions_token_hash;
				CREATE INDEX idx_sessions_token_hash ON sessions (token_hash)`,
			want: []string{"index sessions.idx_sessions_token_hash not unique, expected unique"},
		},
		{
			name: "index method changed",
			tamper: `DROP INDEX idx_api_keys_key_prefix;
				CREATE INDEX idx_api_keys_key_prefix ON api_keys USING hash (key_prefix)`,
			want: []string{"index api_keys.idx_api_keys_key_prefix definition USING hash (key_prefix), expected USING btree (key_prefix)"},
		},
		{
			name:   "table dropped",
			tamper: `DROP TABLE usage_records`,
			want:   []string{"table usage_records missing"},
		},
		{
			name:   "table added",
			tamper: `CREATE TABLE audit_log (id bigserial PRIMARY KEY, what text)`,
			want:   []string{"table audit_log unexpected"},
		},
		{
			name:   "sequence changed",
			tamper: `ALTER SEQUENCE api_keys_id_seq INCREMENT BY 10`,
			want:   []string{"sequence api_keys_id_seq increment 10, expected 1"},
		},
		{
			name:   "data and sequence values are not schema",
			tamper: `INSERT INTO users (email, username, password_hash) VALUES ('a@example.com', 'a', 'x'); SELECT setval('sessions_id_seq', 1000)`,
		},
		{
			name: "the tool's own tables are ignored",
			tamper: `CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
				CREATE TABLE orchestrator_migrations (version_id bigint PRIMARY KEY, up_sha256 text NOT NULL)`,
		},
		{
			name:      "index invalid",
			tamper:    `UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'idx_users_created_at'::regclass`,
			want:      []string{"index users.idx_users_created_at invalid, expected valid"},
			superuser: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			expected := snapshotOf(t, migratedDatabase(t, set, 4), "public")
			conn := migratedDatabase(t, set, 4)
			if _, err := conn.Exec(context.Background(), tt.tamper); err != nil {
				if tt.superuser {
					t.Skipf("tampering needs superuser rights: %v", err)
				}
				t.Fatalf("tamper: %v", err)
			}
			actual := snapshotOf(t, conn, "public")

			got := findingStrings(Compare(actual, expected))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Compare =\n%q\nwant\n%q", got, tt.want)
			}
			if same := actual.Fingerprint() == expected.Fingerprint(); same != (len(tt.want) == 0) {
				t.Errorf("fingerprints equal = %v, want %v", same, len(tt.want) == 0)
			}
			for _, f := range Compare(actual, expected) {
				if f.Kind != KindSchema {
					t.Errorf("finding %q has kind %q, want %q", f, f.Kind, KindSchema)
				}
			}
		})
	}
}

// TestReadSnapshotSchemaPerTenant checks that the same set applied in a
// tenant schema (off the search_path, so the server qualifies names with
// it) and in public of another database compares equal.
func TestReadSnapshotSchemaPerTenant(t *testing.T) {
	set := seedSet(t)
	public := snapshotOf(t, migratedDatabase(t, set, 4), "public")

	conn := newDatabase(t)
	for _, schema := range []string{"tenant_a", "Tenant B"} {
		migrate(t, conn, set, 4, schema)
	}
	if fs := Compare(snapshotOf(t, conn, "public"), &Snapshot{}); len(fs) != 0 {
		t.Errorf("public of the schema-per-tenant database = %q, want empty", findingStrings(fs))
	}
	for _, schema := range []string{"tenant_a", "Tenant B"} {
		tenant := snapshotOf(t, conn, schema)
		if fs := Compare(tenant, public); len(fs) != 0 {
			t.Errorf("schema %q compared with public = %q, want no findings", schema, findingStrings(fs))
		}
		if tenant.Fingerprint() != public.Fingerprint() {
			t.Errorf("schema %q: fingerprint differs from public's", schema)
		}
	}

	execSQL(t, conn, `ALTER TABLE tenant_a.users ADD COLUMN nickname text`)
	got := findingStrings(Compare(snapshotOf(t, conn, "tenant_a"), public))
	if want := []string{"column users.nickname unexpected"}; !slices.Equal(got, want) {
		t.Errorf("tampered tenant: Compare = %q, want %q", got, want)
	}
}

func TestReadSnapshotNoSchema(t *testing.T) {
	conn := newDatabase(t)
	_, err := ReadSnapshot(context.Background(), conn, "no_such_schema")
	if !errors.Is(err, ErrNoSchema) {
		t.Fatalf("ReadSnapshot of a missing schema: err = %v, want ErrNoSchema", err)
	}
}

// queryCounter counts the queries a connection sends.
type queryCounter struct{ n atomic.Int64 }

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestReadSnapshotOneQuery counts the queries ReadSnapshot sends: one,
// however many tables there are.
func TestReadSnapshotOneQuery(t *testing.T) {
	set := seedSet(t)
	conn := migratedDatabase(t, set, 4)
	cfg := conn.Config().Copy()
	var counter queryCounter
	cfg.Tracer = &counter
	traced := connectConfig(t, cfg)

	snap := snapshotOf(t, traced, "public")
	if n := counter.n.Load(); n != 1 {
		t.Errorf("ReadSnapshot sent %d queries, want 1", n)
	}
	if len(snap.Tables) != 4 {
		t.Errorf("snapshot has %d tables, want 4", len(snap.Tables))
	}

	counter.n.Store(0)
	if _, err := Inspect(testContext(t), traced, "public"); err != nil {
		t.Fatal(err)
	}
	if n := counter.n.Load(); n > 3 {
		t.Errorf("Inspect sent %d queries, want at most 3", n)
	}
}

// TestInspect reads a target with a history written the way the runner
// writes it.
func TestInspect(t *testing.T) {
	set := seedSet(t)
	conn := migratedDatabase(t, set, 3)
	execSQL(t, conn, `CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL,
		is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
		CREATE TABLE orchestrator_migrations (version_id bigint PRIMARY KEY, name text NOT NULL,
		up_sha256 text NOT NULL, down_sha256 text NOT NULL);
		INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (3, true),
			(4, true), (4, false), (9, true)`)
	for _, m := range set.Migrations[:3] {
		up := m.UpSHA256
		if m.Version == 2 {
			up = strings.Repeat("0", 64)
		}
		if _, err := conn.Exec(context.Background(), `INSERT INTO orchestrator_migrations VALUES ($1, $2, $3, $4)`,
			m.Version, m.Name, up, m.DownSHA256); err != nil {
			t.Fatal(err)
		}
	}

	st, err := Inspect(testContext(t), conn, "public")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Initialized || st.Version != 9 || len(st.Applied) != 4 {
		t.Fatalf("Inspect = initialized %v, version %d, applied %+v; want true, 9, versions 1 2 3 9", st.Initialized, st.Version, st.Applied)
	}
	if a := st.Applied[3]; a.Version != 9 || a.HasChecksum {
		t.Errorf("version 9 = %+v, want no checksum", a)
	}

	expected := snapshotOf(t, migratedDatabase(t, set, 3), "public")
	got := findingStrings(new(Comparer).Check(set, st, expected))
	want := []string{
		"version 2 up section changed since it was applied (002_create_api_keys_table)",
		"version 4 not applied, below current version 9 (004_create_usage_records_table)",
		"version 9 applied, but not in the migration set",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Check =\n%q\nwant\n%q", got, want)
	}

	fresh := newDatabase(t)
	st, err = Inspect(testContext(t), fresh, "public")
	if err != nil {
		t.Fatal(err)
	}
	if st.Initialized || len(st.Applied) != 0 || len(st.Snapshot.Tables) != 0 {
		t.Errorf("fresh database: %+v, want uninitialized and empty", st)
	}
}

func BenchmarkReadSnapshot(b *testing.B) {
	set := seedSet(b)
	conn := migratedDatabase(b, set, 4)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ReadSnapshot(ctx, conn, "public"); err != nil {
			b.Fatal(err)
		}
	}
}
