package fleet

import "testing"

func TestDatabaseKey(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"postgres://u:pw@db1:5433/acme", "db1:5433/acme"},
		{"host=db1 dbname=acme user=u", "db1:5432/acme"},
		{"postgres://u@[::1]/acme", "[::1]:5432/acme"},
		{"host=/var/run/postgresql dbname=acme", "/var/run/postgresql:5432/acme"},
		{"postgres://u@h1,h2:5433/acme", "h1:5432/acme"},
		{"%%% not a dsn", ""},
	}
	for _, tt := range tests {
		if got := (Target{DSN: tt.dsn}).DatabaseKey(); got != tt.want {
			t.Errorf("DatabaseKey(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
	}
	a := Target{Name: "a", DSN: "postgres://u:pw@db1/app", Schema: "a"}
	b := Target{Name: "b", DSN: "postgres://u:pw@db1/app", Schema: "b"}
	if a.DatabaseKey() != b.DatabaseKey() {
		t.Errorf("schema targets of one database have different keys: %q, %q", a.DatabaseKey(), b.DatabaseKey())
	}
}

func TestQuotedSchema(t *testing.T) {
	for schema, want := range map[string]string{
		"":                     "",
		"tenant_a":             `"tenant_a"`,
		`a"; DROP TABLE x; --`: `"a""; DROP TABLE x; --"`,
		"Mixed Case":           `"Mixed Case"`,
	} {
		if got := (Target{Schema: schema}).QuotedSchema(); got != want {
			t.Errorf("QuotedSchema(%q) = %s, want %s", schema, got, want)
		}
	}
}

func TestTargetRedaction(t *testing.T) {
	tg := Target{Name: "acme", DSN: "postgres://app:s3cret@pooler/acme", DirectDSN: "host=db1 password='d1rect' dbname=acme"}
	if got, want := tg.RedactedDSN(), "postgres://app:xxxxx@pooler/acme"; got != want {
		t.Errorf("RedactedDSN() = %q, want %q", got, want)
	}
	msg := "via postgres://app:s3cret@pooler/acme: no; direct: password d1rect rejected"
	if got, want := tg.Scrub(msg), "via postgres://app:xxxxx@pooler/acme: no; direct: password xxxxx rejected"; got != want {
		t.Errorf("Scrub(%q) = %q, want %q", msg, got, want)
	}
	if got := (Target{}).Scrub(msg); got != msg {
		t.Errorf("Scrub without a DSN = %q, want it unchanged", got)
	}
}
