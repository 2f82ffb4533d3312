package drift

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// recorder collects the names of the scratch databases a Reference creates.
type recorder struct {
	mu    sync.Mutex
	names []string
}

func (r *recorder) add(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names = append(r.names, name)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.names)
}

// newTestReference returns a Reference on the test server that records the
// scratch databases it creates, and checks when the test ends that none of
// them is left.
func newTestReference(t *testing.T, set *source.Set) (*Reference, *recorder) {
	t.Helper()
	cfg := serverConfig(t)
	ref := NewReference(pgtest.DSN(), set)
	rec := &recorder{}
	ref.created = rec.add
	t.Cleanup(func() {
		if err := ref.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertDropped(t, cfg, rec.list())
	})
	return ref, rec
}

// assertDropped fails the test if any database of names exists.
func assertDropped(t *testing.T, cfg *pgx.ConnConfig, names []string) {
	t.Helper()
	conn := connectConfig(t, cfg)
	var left []string
	err := conn.QueryRow(context.Background(),
		`SELECT coalesce(array_agg(datname ORDER BY datname), '{}') FROM pg_database WHERE datname = ANY($1)`, names).Scan(&left)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("scratch databases left on the server: %v", left)
	}
}

func TestReferenceAt(t *testing.T) {
	set := seedSet(t)
	ref, rec := newTestReference(t, set)
	ctx := testContext(t)

	at4, err := ref.At(ctx, 4)
	if err != nil {
		t.Fatalf("At(4): %v", err)
	}
	migrated := snapshotOf(t, migratedDatabase(t, set, 4), "public")
	if fs := Compare(migrated, at4); len(fs) != 0 {
		t.Errorf("migrated database against At(4) = %q, want no findings", findingStrings(fs))
	}
	if migrated.Fingerprint() != at4.Fingerprint() {
		t.Error("At(4) and a migrated database have different fingerprints")
	}

	at2, err := ref.At(ctx, 2)
	if err != nil {
		t.Fatalf("At(2): %v", err)
	}
	want := []string{"table sessions unexpected", "table usage_records unexpected"}
	if got := findingStrings(Compare(migrated, at2)); !slices.Equal(got, want) {
		t.Errorf("migrated database against At(2) = %q, want %q", got, want)
	}

	// Versions the set does not have share the build of the version below.
	for _, v := range []int64{4, 5, 99} {
		got, err := ref.At(ctx, v)
		if err != nil || got != at4 {
			t.Errorf("At(%d) = %p, %v; want At(4)'s snapshot %p", v, got, err, at4)
		}
	}
	if n := len(rec.list()); n != 2 {
		t.Errorf("%d scratch databases created, want 2 (versions 4 and 2)", n)
	}
	assertDropped(t, serverConfig(t), rec.list())

	at0, err := ref.At(ctx, 0)
	if err != nil {
		t.Fatalf("At(0): %v", err)
	}
	if fs := Compare(snapshotOf(t, newDatabase(t), "public"), at0); len(fs) != 0 {
		t.Errorf("fresh database against At(0) = %q, want no findings", findingStrings(fs))
	}
}

func TestReferenceConcurrent(t *testing.T) {
	ref, rec := newTestReference(t, seedSet(t))
	ctx := testContext(t)

	const callers = 8
	snaps := make([]*Snapshot, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { snaps[i], errs[i] = ref.At(ctx, 4) })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if snaps[i] != snaps[0] {
			t.Errorf("caller %d got a different snapshot", i)
		}
	}
	if n := len(rec.list()); n != 1 {
		t.Errorf("%d scratch databases created for %d concurrent callers, want 1", n, callers)
	}
}

func TestReferenceFailingMigration(t *testing.T) {
	set, err := source.Load(fstest.MapFS{
		"001_ok.up.sql":      {Data: []byte("CREATE TABLE a (id int);\n")},
		"001_ok.down.sql":    {Data: []byte("DROP TABLE a;\n")},
		"002_bad.up.sql":     {Data: []byte("CREATE TABLE b (id no_such_type);\n")},
		"002_bad.down.sql":   {Data: []byte("DROP TABLE b;\n")},
		"003_after.up.sql":   {Data: []byte("CREATE TABLE c (id int);\n")},
		"003_after.down.sql": {Data: []byte("DROP TABLE c;\n")},
	}, ".")
	if err != nil {
		t.Fatal(err)
	}
	ref, rec := newTestReference(t, set)
	ctx := testContext(t)

	_, err = ref.At(ctx, 3)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42704" {
		t.Fatalf("At(3) error = %v, want the server's undefined_object error", err)
	}
	if errors.Is(err, ErrNoScratch) {
		t.Errorf("At(3) error %v wraps ErrNoScratch", err)
	}
	t.Logf("error: %v", err)
	if _, again := ref.At(ctx, 3); again == nil || len(rec.list()) != 1 {
		t.Errorf("second At(3) = %v after %d builds, want the remembered error and 1 build", again, len(rec.list()))
	}
	if snap, err := ref.At(ctx, 1); err != nil || snap.Tables["a"] == nil {
		t.Errorf("At(1) = %v, %v; want table a", snap, err)
	}
	assertDropped(t, serverConfig(t), rec.list())
}

// TestReferenceCanceled cancels the caller's context right after the
// scratch database is created: it is dropped all the same, and the next
// caller builds again instead of getting the canceled build's error.
func TestReferenceCanceled(t *testing.T) {
	ref, rec := newTestReference(t, seedSet(t))
	ctx, cancel := context.WithCancel(testContext(t))
	ref.created = func(name string) {
		rec.add(name)
		cancel()
	}
	if _, err := ref.At(ctx, 4); !errors.Is(err, context.Canceled) {
		t.Fatalf("At with a context canceled mid-build: err = %v, want context.Canceled", err)
	}
	assertDropped(t, serverConfig(t), rec.list())

	ref.created = rec.add
	if _, err := ref.At(testContext(t), 4); err != nil {
		t.Fatalf("At after a canceled build: %v", err)
	}
	if n := len(rec.list()); n != 2 {
		t.Errorf("%d builds, want 2", n)
	}
}

// TestReferenceNoScratch connects as a role without CREATEDB: At fails
// with ErrNoScratch, the server's error reachable.
func TestReferenceNoScratch(t *testing.T) {
	cfg := serverConfig(t)
	admin := connectConfig(t, cfg)
	role := pgtest.Name("drift_test")
	password := pgtest.Name("pw")
	if _, err := admin.Exec(context.Background(),
		fmt.Sprintf("CREATE ROLE %s LOGIN NOCREATEDB PASSWORD '%s'", role, password)); err != nil {
		t.Skipf("cannot create a role to test with: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	dsn := fmt.Sprintf("host=%s port=%d dbname=%s user=%s password=%s sslmode=prefer",
		cfg.Host, cfg.Port, cfg.Database, role, password)
	if conn, err := pgx.Connect(context.Background(), dsn); err != nil {
		t.Skipf("cannot connect as the test role (pg_hba.conf?): %v", err)
	} else {
		_ = conn.Close(context.Background())
	}

	ref := NewReference(dsn, seedSet(t))
	_, err := ref.At(testContext(t), 4)
	if !errors.Is(err, ErrNoScratch) {
		t.Fatalf("At as a role without CREATEDB: err = %v, want ErrNoScratch", err)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("err = %v, want the server's 42501 reachable", err)
	}
	if got := err.Error(); strings.Contains(got, password) {
		t.Errorf("error %q quotes the DSN or its password", got)
	}
	if err := ref.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
}
