package dsn

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestWithDatabase(t *testing.T) {
	tests := []struct {
		name, dsn, db, want string
	}{
		{"url path replaced", "postgres://u:pw@h:5432/postgres?sslmode=disable", "tenant_a", "postgres://u:pw@h:5432/tenant_a?sslmode=disable"},
		{"url without path", "postgres://u@h", "tenant_a", "postgres://u@h/tenant_a"},
		{"url without path with query", "postgresql://h?sslmode=require", "t", "postgresql://h/t?sslmode=require"},
		{"url empty path", "postgres://h/", "t", "postgres://h/t"},
		{"url dbname query dropped", "postgres://h/a?dbname=b&sslmode=disable&database=c", "t", "postgres://h/t?sslmode=disable"},
		{"url only dbname query", "postgres://h/a?dbname=b", "t", "postgres://h/t"},
		{"url name percent-encoded", "postgres://h/a", `it's a "db"/x%?#@ é`, "postgres://h/it%27s%20a%20%22db%22%2Fx%25%3F%23%40%20%C3%A9"},
		{"url odd password kept", "postgres://u:p%40ss%2Fw@h:5433/db", "t", "postgres://u:p%40ss%2Fw@h:5433/t"},
		{"url several hosts", "postgres://u@h1:5432,h2:5433/db?target_session_attrs=any", "t", "postgres://u@h1:5432,h2:5433/t?target_session_attrs=any"},
		{"url ipv6", "postgres://u@[::1]:5432/db", "t", "postgres://u@[::1]:5432/t"},
		{"kv dbname replaced", "host=h dbname=postgres user=u", "tenant_a", "host=h user=u dbname='tenant_a'"},
		{"kv quoted dbname replaced", "host=h dbname = 'my db' password='a b\\'c'", "t", "host=h password='a b\\'c' dbname='t'"},
		{"kv dbname last", "host=h  dbname=x  ", "t", "host=h dbname='t'"},
		{"kv no dbname", "host=h user=u", "t", "host=h user=u dbname='t'"},
		{"kv two dbnames", "dbname=a host=h dbname=b", "t", "host=h dbname='t'"},
		{"kv name escaped", "host=h", `it's \ a "db"`, `host=h dbname='it\'s \\ a "db"'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := WithDatabase(tt.dsn, tt.db)
			if err != nil {
				t.Fatalf("WithDatabase: %v", err)
			}
			if got != tt.want {
				t.Errorf("WithDatabase(%q, %q)\n got %s\nwant %s", tt.dsn, tt.db, got, tt.want)
			}
			cfg, err := pgconn.ParseConfig(got)
			if err != nil {
				t.Fatalf("result does not parse: %v", err)
			}
			if cfg.Database != tt.db {
				t.Errorf("result names database %q, want %q", cfg.Database, tt.db)
			}
		})
	}
}

func TestWithDatabaseRefuses(t *testing.T) {
	for _, dsn := range []string{"not a dsn", "host='unterminated", "postgres://h:port/db"} {
		if got, err := WithDatabase(dsn, "x"); !errors.Is(err, ErrDerive) || got != "" {
			t.Errorf("WithDatabase(%q) = %q, %v; want ErrDerive", dsn, got, err)
		}
	}
}

func TestServer(t *testing.T) {
	tests := []struct{ dsn, server, db string }{
		{"postgres://u:pw@db1:5433/acme", "db1:5433", "acme"},
		{"host=db1 dbname=acme user=u", "db1:5432", "acme"},
		{"postgres://u@[::1]/acme", "[::1]:5432", "acme"},
		{"host=/var/run/postgresql dbname=acme", "/var/run/postgresql:5432", "acme"},
		{"postgres://u@h1,h2:5433/acme", "h1:5432", "acme"},
		{"%%% not a dsn", "", ""},
	}
	for _, tt := range tests {
		if server, db := Server(tt.dsn); server != tt.server || db != tt.db {
			t.Errorf("Server(%q) = %q, %q; want %q, %q", tt.dsn, server, db, tt.server, tt.db)
		}
	}
}
