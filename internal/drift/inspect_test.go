package drift

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// historyTables creates the runner's history tables in conn's public
// schema, recording versions 1..upTo as applied.
func historyTables(t *testing.T, exec func(string), upTo int64) {
	t.Helper()
	exec(`CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL,
		is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
		CREATE TABLE orchestrator_migrations (version_id bigint PRIMARY KEY, name text NOT NULL,
		up_sha256 text NOT NULL, down_sha256 text NOT NULL);
		INSERT INTO goose_db_version (version_id, is_applied) SELECT v, true FROM generate_series(0, ` +
		strconv.FormatInt(upTo, 10) + `) AS v`)
}

// TestInspectCurrentDuringUp proves that an up committing while a target
// is read cannot make the read see half of it: the up's transaction holds
// the version table, drift's read waits for it mid-statement, the up
// commits migration 4 and its version row, and the read still returns one
// moment: version 3 with the schema of version 3, which is clean.
func TestInspectCurrentDuringUp(t *testing.T) {
	set := seedSet(t)
	ctx := testContext(t)
	target := migratedDatabase(t, set, 3)
	historyTables(t, func(q string) { execSQL(t, target, q) }, 3)
	expected3 := snapshotOf(t, migratedDatabase(t, set, 3), "public")
	expected4 := snapshotOf(t, migratedDatabase(t, set, 4), "public")

	reader, app, tx := lockedUp(t, ctx, target, "public")
	st := duringUp(t, ctx, target, app, tx, set, func() (*State, error) {
		_, st, err := InspectCurrent(ctx, reader)
		return st, err
	})
	if st.Version != 3 {
		t.Errorf("read during the up: version %d, want 3 (the moment the read began)", st.Version)
	}
	if fs := findingStrings(new(Comparer).Check(set, st, expected3)); !slices.Equal(fs, []string{"version 4 pending (004_create_usage_records_table)"}) {
		t.Errorf("read during the up: findings %q, want only version 4 pending", fs)
	}

	// The next read sees the up whole.
	_, st, err := InspectCurrent(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	if fs := findingStrings(new(Comparer).Check(set, st, expected4)); st.Version != 4 || len(fs) != 0 {
		t.Errorf("read after the up: version %d, findings %q; want 4 and none", st.Version, fs)
	}
	if st := reader.PgConn().TxStatus(); st != 'I' {
		t.Errorf("transaction status after the read %q, want idle", st)
	}
}

// TestReadStatesDuringUp is TestInspectCurrentDuringUp for tenant schemas
// read many to a query: an up of one tenant commits while the batch's
// statement waits for it, and the batch still returns every tenant as of
// the moment its statement began (history and catalog are read by that one
// statement), each clean at version 3 with only version 4 pending; the
// next batch sees the up whole.
func TestReadStatesDuringUp(t *testing.T) {
	set := seedSet(t)
	ctx := testContext(t)
	expected3 := snapshotOf(t, migratedDatabase(t, set, 3), "public")
	expected4 := snapshotOf(t, migratedDatabase(t, set, 4), "public")
	target := newDatabase(t)
	schemas := []string{"tenant_a", "tenant_b", "tenant_c"}
	for _, schema := range schemas {
		migrate(t, target, set, 3, schema)
		execSQL(t, target, "SET search_path TO "+schema)
		historyTables(t, func(q string) { execSQL(t, target, q) }, 3)
	}
	execSQL(t, target, "RESET search_path")

	reader, app, tx := lockedUp(t, ctx, target, "tenant_b")

	read := func() (map[string]*State, error) {
		rtx, err := reader.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return nil, err
		}
		defer rtx.Rollback(context.Background())
		return ReadStates(ctx, rtx, schemas)
	}
	during := duringUp(t, ctx, target, app, tx, set, read)
	for _, schema := range schemas {
		st := during[schema]
		if st == nil {
			t.Fatalf("%s: no state", schema)
		}
		fs := findingStrings(new(Comparer).Check(set, st, expected3))
		if st.Version != 3 || !slices.Equal(fs, []string{"version 4 pending (004_create_usage_records_table)"}) {
			t.Errorf("%s read during the up: version %d, findings %q; want 3 with only version 4 pending", schema, st.Version, fs)
		}
	}

	states, err := read()
	if err != nil {
		t.Fatal(err)
	}
	if st := states["tenant_b"]; st.Version != 4 || len(findingStrings(new(Comparer).Check(set, st, expected4))) != 0 {
		t.Errorf("tenant_b read after the up: version %d, findings %q; want 4 and none",
			st.Version, findingStrings(new(Comparer).Check(set, st, expected4)))
	}
}

// lockedUp returns a reader session on target's database, named app in
// pg_stat_activity, and the transaction of an up that holds schema's
// version table ACCESS EXCLUSIVE, as an up does while it applies; it is
// rolled back when the test ends unless committed.
func lockedUp(t *testing.T, ctx context.Context, target *pgx.Conn, schema string) (reader *pgx.Conn, app string, tx pgx.Tx) {
	t.Helper()
	cfg := target.Config().Copy()
	app = pgtest.Name("drift")
	cfg.RuntimeParams["application_name"] = app
	reader = connectConfig(t, cfg)
	up := connectConfig(t, target.Config().Copy())
	tx, err := up.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+pgx.Identifier{schema}.Sanitize()+"; LOCK TABLE goose_db_version IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	return reader, app, tx
}

// duringUp runs read while tx, an up holding its tenant's version table
// (ACCESS EXCLUSIVE), waits: once the session named app waits for that
// lock, in the middle of its statement, the up applies migration 4 of set
// and its version row and commits, and duringUp returns what read
// returned.
func duringUp[T any](t *testing.T, ctx context.Context, target *pgx.Conn, app string, tx pgx.Tx, set *source.Set, read func() (T, error)) T {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := read()
		done <- result{v, err}
	}()
	for {
		var waiting bool
		if err := target.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock')`, app).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("the read finished without waiting for the up: %v, %v", r.v, r.err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := tx.Exec(ctx, set.Migrations[3].Up); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (4, true)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// TestInspectWithoutXML: the reads for a server built without XML support
// return what the one-statement read does.
func TestInspectWithoutXML(t *testing.T) {
	set := seedSet(t)
	ctx := testContext(t)
	conn := migratedDatabase(t, set, 3)
	historyTables(t, func(q string) { execSQL(t, conn, q) }, 3)
	schema, one, err := InspectCurrent(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	schema2, four, err := inspectWithoutXML(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if schema != "public" || schema2 != schema || one.Version != 3 || four.Version != 3 ||
		!slices.Equal(one.Applied, four.Applied) || one.Snapshot.Fingerprint() != four.Snapshot.Fingerprint() {
		t.Errorf("without XML: %s %+v, want %s %+v", schema2, four, schema, one)
	}
}

// TestReadStates reads several tenant schemas of one database in one query:
// each with its own history and a catalog equal to public's of another
// database; a schema that does not exist has no entry.
func TestReadStates(t *testing.T) {
	set := seedSet(t)
	ctx := testContext(t)
	public := snapshotOf(t, migratedDatabase(t, set, 4), "public")
	conn := newDatabase(t)
	schemas := []string{"tenant_a", "Tenant B", `t"c`}
	for i, schema := range schemas {
		migrate(t, conn, set, int64(i+2), schema)
	}
	execSQL(t, conn, `CREATE TABLE "Tenant B".goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL,
		is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
		INSERT INTO "Tenant B".goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (3, true)`)
	var counter queryCounter
	cfg := conn.Config().Copy()
	cfg.Tracer = &counter
	traced := connectConfig(t, cfg)
	states, err := ReadStates(ctx, traced, append(schemas, "no_such_schema"))
	if err != nil {
		t.Fatal(err)
	}
	if n := counter.n.Load(); n != 1 {
		t.Errorf("ReadStates sent %d queries, want 1", n)
	}
	if len(states) != 3 {
		t.Fatalf("%d states, want 3 (no entry for the missing schema)", len(states))
	}
	if st := states["Tenant B"]; !st.Initialized || st.Version != 3 || len(st.Applied) != 3 {
		t.Errorf("Tenant B: %+v, want initialized at 3", st)
	}
	if st := states["tenant_a"]; st.Initialized || len(st.Snapshot.Tables) != 2 {
		t.Errorf("tenant_a: initialized %v, %d tables; want uninitialized with 2", st.Initialized, len(st.Snapshot.Tables))
	}
	if fs := findingStrings(Compare(states[`t"c`].Snapshot, public)); len(fs) != 0 {
		t.Errorf(`schema t"c against public: %q, want none`, fs)
	}
}
