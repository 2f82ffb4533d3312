package pgtest

import (
	"context"
	"regexp"
	"testing"
)

// TestName: names start with ORCH_TEST_PREFIX (or the default) and the
// tag, and never repeat.
func TestName(t *testing.T) {
	t.Setenv("ORCH_TEST_PREFIX", "")
	if n := Name("it"); !regexp.MustCompile(`^orch_it_[0-9a-f]{10}$`).MatchString(n) {
		t.Errorf("default name %q", n)
	}
	t.Setenv("ORCH_TEST_PREFIX", "zz")
	a, b := Name("drift"), Name("drift")
	if !regexp.MustCompile(`^zz_drift_[0-9a-f]{10}$`).MatchString(a) || a == b {
		t.Errorf("names %q and %q with ORCH_TEST_PREFIX=zz", a, b)
	}
	t.Setenv("ORCH_TEST_PREFIX", `Bad"prefix`)
	defer func() {
		if recover() == nil {
			t.Error("a prefix that needs quoting is accepted")
		}
	}()
	Name("x")
}

// TestDSNFor replaces only the database of the server's DSN.
func TestDSNFor(t *testing.T) {
	s := &Server{DSN: "postgres://u:pw@h:5433/postgres?sslmode=disable"}
	if got, want := s.DSNFor("a b"), "postgres://u:pw@h:5433/a%20b?sslmode=disable"; got != want {
		t.Errorf("DSNFor = %q, want %q", got, want)
	}
}

// TestNewDatabases: the databases exist under the prefix until the test
// that made them ends, and are gone after.
func TestNewDatabases(t *testing.T) {
	s := Shared(t)
	t.Setenv("ORCH_TEST_PREFIX", Prefix()+"_pgtest")
	var names []string
	t.Run("create", func(t *testing.T) {
		names = s.NewDatabases(t, "db", 3)
		s.CreateDatabase(t, names[0]+"_tpl", "IS_TEMPLATE true")
		names = append(names, names[0]+"_tpl")
		if n := count(t, s, names); n != 4 {
			t.Errorf("%d of the 4 databases exist", n)
		}
	})
	if n := count(t, s, names); n != 0 {
		t.Errorf("%d databases left after the test", n)
	}
}

func count(t *testing.T, s *Server, names []string) int {
	var n int
	if err := s.Connect(t, "").QueryRow(context.Background(),
		`SELECT count(*) FROM pg_database WHERE datname = ANY($1) AND starts_with(datname, $2)`, names, Prefix()+"_db_").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStart: a private cluster answers on its own port with the
// connection limit asked for, and databases are made on it.
func TestStart(t *testing.T) {
	s := Start(t, 20)
	if s.DSN == DSN() {
		t.Fatal("the private cluster is the shared server")
	}
	db := s.NewDatabase(t, "private")
	var max string
	if err := s.Connect(t, db).QueryRow(context.Background(), "SHOW max_connections").Scan(&max); err != nil {
		t.Fatal(err)
	}
	if max != "20" {
		t.Errorf("max_connections %s, want 20", max)
	}
}
