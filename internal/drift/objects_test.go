package drift

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

// objectsFixture creates one object of every kind drift compares beyond
// the built-in tables, in the session's current schema.
const objectsFixture = `
CREATE TYPE mood AS ENUM ('a', 'b', 'c');
CREATE TYPE pair AS (x integer, y text);
CREATE DOMAIN posint AS integer NOT NULL DEFAULT 1 CONSTRAINT posint_check CHECK (VALUE > 0);
CREATE TYPE floatrange AS RANGE (subtype = float8);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.updated_at = now(); RETURN NEW; END$$;
CREATE FUNCTION add_one(i integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT i + 1';
CREATE PROCEDURE noop() LANGUAGE sql AS 'SELECT 1';
CREATE TRIGGER trg BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
CREATE VIEW active_users AS SELECT id, email FROM users WHERE is_active;
GRANT SELECT ON active_users TO PUBLIC;
CREATE MATERIALIZED VIEW key_counts AS SELECT user_id, count(*) AS n FROM api_keys GROUP BY user_id;
CREATE INDEX key_counts_user ON key_counts (user_id);
CREATE TABLE events (id bigint, at date NOT NULL, label text COLLATE "C", m mood, p posint) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE SEQUENCE invoice_no;
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_sessions ON sessions USING (user_id > 0);
`

// fixtureDatabase returns a connection to a new database with the built-in migrations at
// version 4, the objects fixture and hstore 1.7 in public.
func fixtureDatabase(t *testing.T) *pgx.Conn {
	t.Helper()
	conn := migratedDatabase(t, seedSet(t), 4)
	execSQL(t, conn, objectsFixture+`CREATE EXTENSION hstore VERSION '1.7'`)
	return conn
}

// TestCompareObjects changes one object of each kind in one of two
// identical databases (added, removed, changed) and expects exactly the
// findings that name it.
func TestCompareObjects(t *testing.T) {
	tests := []struct {
		name   string
		tamper string
		want   []string
	}{
		{"nothing", `SELECT 1`, nil},
		{"trigger added", `CREATE TRIGGER trg2 BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION touch()`,
			[]string{"trigger users.trg2 unexpected"}},
		{"trigger dropped", `DROP TRIGGER trg ON users`, []string{"trigger users.trg missing"}},
		{"trigger changed", `DROP TRIGGER trg ON users; CREATE TRIGGER trg AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()`,
			[]string{"trigger users.trg definition CREATE TRIGGER trg AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch(), " +
				"expected CREATE TRIGGER trg BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch()"}},
		{"trigger disabled", `ALTER TABLE users DISABLE TRIGGER trg`, []string{"trigger users.trg disabled, expected enabled"}},
		{"function added", `CREATE FUNCTION f(integer) RETURNS integer LANGUAGE sql AS 'SELECT 1'`,
			[]string{"function f(integer) unexpected"}},
		{"function dropped", `DROP FUNCTION add_one(integer)`, []string{"function add_one(integer) missing"}},
		{"function body changed", `CREATE OR REPLACE FUNCTION add_one(i integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT i + 2'`,
			[]string{"function add_one(integer) body differs"}},
		{"function volatility changed", `ALTER FUNCTION add_one(integer) VOLATILE`,
			[]string{"function add_one(integer) definition differs"}},
		{"function grant revoked", `REVOKE EXECUTE ON FUNCTION add_one(integer) FROM PUBLIC`,
			[]string{"function add_one(integer) grant PUBLIC EXECUTE missing"}},
		{"procedure dropped", `DROP PROCEDURE noop()`, []string{"procedure noop() missing"}},
		{"view added", `CREATE VIEW v2 AS SELECT 1 AS x`, []string{"view v2 unexpected"}},
		{"view dropped", `DROP VIEW active_users`, []string{"view active_users missing"}},
		{"view changed", `CREATE OR REPLACE VIEW active_users AS SELECT id, email FROM users WHERE NOT is_active`,
			[]string{"view active_users definition differs"}},
		{"view grant revoked", `REVOKE SELECT ON active_users FROM PUBLIC`,
			[]string{"view active_users grant PUBLIC SELECT missing"}},
		{"materialized view dropped", `DROP MATERIALIZED VIEW key_counts`, []string{"materialized view key_counts missing"}},
		{"materialized view index dropped", `DROP INDEX key_counts_user`, []string{"index key_counts.key_counts_user missing"}},
		{"table grant added", `GRANT SELECT ON users TO PUBLIC`, []string{"table users grant PUBLIC SELECT unexpected"}},
		{"sequence grant added", `GRANT USAGE ON SEQUENCE invoice_no TO PUBLIC`, []string{"sequence invoice_no grant PUBLIC USAGE unexpected"}},
		{"enum label added", `ALTER TYPE mood ADD VALUE 'd'`, []string{"enum mood label 'd' unexpected"}},
		{"enum label renamed", `ALTER TYPE mood RENAME VALUE 'c' TO 'z'`,
			[]string{"enum mood label 'c' missing", "enum mood label 'z' unexpected"}},
		{"enum added", `CREATE TYPE color AS ENUM ('red')`, []string{"enum color unexpected"}},
		{"composite type dropped", `DROP TYPE pair`, []string{"type pair missing"}},
		{"composite type changed", `ALTER TYPE pair ADD ATTRIBUTE z date`,
			[]string{"type pair attributes (x integer, y text, z date), expected (x integer, y text)"}},
		{"domain constraint dropped", `ALTER DOMAIN posint DROP CONSTRAINT posint_check`,
			[]string{"domain posint constraint posint_check missing"}},
		{"domain made nullable", `ALTER DOMAIN posint DROP NOT NULL`, []string{"domain posint nullable, expected not null"}},
		{"domain default changed", `ALTER DOMAIN posint SET DEFAULT 2`, []string{"domain posint default 2, expected 1"}},
		{"range dropped", `DROP TYPE floatrange`, []string{"range floatrange missing"}},
		{"extension added", `CREATE EXTENSION citext`, []string{"extension citext unexpected"}},
		{"extension dropped", `DROP EXTENSION hstore`, []string{"extension hstore missing"}},
		{"extension updated", `ALTER EXTENSION hstore UPDATE TO '1.8'`, []string{"extension hstore version 1.8, expected 1.7"}},
		{"row level security enabled", `ALTER TABLE users ENABLE ROW LEVEL SECURITY`,
			[]string{"table users row level security enabled, expected disabled"}},
		{"row level security forced", `ALTER TABLE sessions FORCE ROW LEVEL SECURITY`,
			[]string{"table sessions row level security forced, expected not forced"}},
		{"policy added", `CREATE POLICY p2 ON sessions FOR SELECT USING (true)`, []string{"policy sessions.p2 unexpected"}},
		{"policy dropped", `DROP POLICY own_sessions ON sessions`, []string{"policy sessions.own_sessions missing"}},
		{"policy changed", `ALTER POLICY own_sessions ON sessions USING (user_id > 1)`,
			[]string{"policy sessions.own_sessions using (user_id > 1), expected (user_id > 0)"}},
		{"partition added", `CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')`,
			[]string{"table events_2027 unexpected"}},
		{"partition detached", `ALTER TABLE events DETACH PARTITION events_2026`,
			[]string{"table events_2026 not a partition, expected partition of events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"}},
		{"collation changed", `ALTER TABLE events ALTER COLUMN label TYPE text COLLATE "POSIX"`,
			[]string{`column events.label collation "POSIX", expected collation "C"`, `column events_2026.label collation "POSIX", expected collation "C"`}},
		{"sequence added", `CREATE SEQUENCE s1`, []string{"sequence s1 unexpected"}},
		{"sequence dropped", `DROP SEQUENCE invoice_no`, []string{"sequence invoice_no missing"}},
		{"sequence ownership changed", `ALTER SEQUENCE api_keys_id_seq OWNED BY NONE`,
			[]string{"sequence api_keys_id_seq owned by no column, expected owned by api_keys.id"}},
	}
	expected := snapshotOf(t, fixtureDatabase(t), "public")
	// Each tamper runs in a transaction of its own on one database, read
	// there and rolled back: DDL is transactional.
	conn := fixtureDatabase(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if _, err := tx.Exec(ctx, tt.tamper); err != nil {
				t.Fatalf("tamper: %v", err)
			}
			actual, err := ReadSnapshot(ctx, tx, "public")
			if err != nil {
				t.Fatal(err)
			}
			got := findingStrings(Compare(actual, expected))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Compare =\n%q\nwant\n%q", got, tt.want)
			}
			if same := actual.Fingerprint() == expected.Fingerprint(); same != (len(tt.want) == 0) {
				t.Errorf("fingerprints equal = %v, want %v", same, len(tt.want) == 0)
			}
		})
	}
}

// TestCompareObjectsOwnerAndSchema builds the fixture as another role, and
// in tenant schemas of one database, and expects no finding against the
// same built by the superuser in public: owners, OIDs and the schema's name
// are normalised away.
func TestCompareObjectsOwnerAndSchema(t *testing.T) {
	expected := snapshotOf(t, fixtureDatabase(t), "public")
	noExt := func(s *Snapshot) *Snapshot {
		c := *s
		c.Extensions = nil
		return &c
	}

	conn := newDatabase(t)
	ctx := context.Background()
	role := pgtest.Name("test_owner")
	execSQL(t, conn, "CREATE ROLE "+role)
	t.Cleanup(func() {
		admin := connectConfig(t, serverConfig(t))
		_, _ = conn.Exec(context.Background(), "DROP OWNED BY "+role)
		_, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
	})
	execSQL(t, conn, "GRANT CREATE ON DATABASE "+pgx.Identifier{conn.Config().Database}.Sanitize()+" TO "+role+
		"; GRANT ALL ON SCHEMA public TO "+role)
	set := seedSet(t)
	execSQL(t, conn, "SET ROLE "+role)
	migrate(t, conn, set, 4, "public")
	execSQL(t, conn, objectsFixture+"RESET ROLE; CREATE EXTENSION hstore VERSION '1.7'")
	if fs := findingStrings(Compare(snapshotOf(t, conn, "public"), expected)); len(fs) != 0 {
		t.Errorf("built by role %s: Compare = %q, want none", role, fs)
	}

	for _, schema := range []string{"tenant_a", "Tenant B"} {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ident := pgx.Identifier{schema}.Sanitize()
		for _, q := range []string{"SET ROLE " + role, "CREATE SCHEMA " + ident, "SET LOCAL search_path TO " + ident} {
			if _, err := tx.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range set.Migrations {
			if _, err := tx.Exec(ctx, m.Up); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.Exec(ctx, objectsFixture); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		execSQL(t, conn, "RESET ROLE")
		got := snapshotOf(t, conn, schema)
		if fs := findingStrings(Compare(got, noExt(expected))); len(fs) != 0 {
			t.Errorf("schema %q: Compare = %q, want none", schema, fs)
		}
	}
}
