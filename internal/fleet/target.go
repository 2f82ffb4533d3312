package fleet

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/orchestrator-dev/orchestrator/internal/dsn"
)

// maxNameLen bounds a target name, in bytes: names end up in reports, file
// names and metric labels.
const maxNameLen = 200

// Target is one database the run migrates, or one schema of a database
// when tenants share a database (schema-per-tenant, see Schema).
//
// DSN is a secret: never print it, log it or put it in an error. Use
// RedactedDSN to show where a target points and Scrub on any text that may
// quote the DSN (driver errors, for one) before it is shown. Its methods
// only read it, so a Target is safe for concurrent use.
type Target struct {
	Name string
	DSN  string // ${VAR}-expanded; never print it: use RedactedDSN / Scrub
	// DirectDSN, when set, reaches the same database without a
	// transaction pooler in between (PgBouncer in transaction mode): NO
	// TRANSACTION migrations, which need one session, run on it. A secret
	// like DSN; Scrub masks it too.
	DirectDSN string
	Labels    map[string]string // never nil
	Origin    string            // where it was defined, e.g. "fleet.yaml:12", "fleet.yaml:14 (databases tenant_%)" or "--dsn"

	// Schema is the tenant's schema when tenants share a database: the
	// version table, checksums and advisory lock live in it, and it leads the
	// search_path. "" means the connection's default schema. It is a raw
	// name (it may hold quotes, spaces, anything): use QuotedSchema in SQL.
	// Every schema target of one server has that server's DSN.
	Schema string
}

// QuotedSchema returns Schema as a quoted SQL identifier, safe to put in a
// statement whatever the name holds (a quote is doubled, a NUL, which no
// name can hold, dropped); "" when Schema is "".
func (t Target) QuotedSchema() string {
	if t.Schema == "" {
		return ""
	}
	return `"` + strings.NewReplacer(`"`, `""`, "\x00", "").Replace(t.Schema) + `"`
}

// DatabaseKey identifies the database the target lives on, as
// "host:port/database" from its DSN (the first host when there are
// fallbacks): schema targets of one database share it, so the runner can
// share their connections. It identifies a database, not credentials; two
// targets with one key may still connect as different users. It returns ""
// only when the DSN does not parse, which Parse, Single and discovery.Discover rule
// out.
func (t Target) DatabaseKey() string {
	server, db := dsn.Server(t.DSN)
	if server == "" {
		return ""
	}
	return server + "/" + db
}

// RedactedDSN returns the target's DSN with its passwords replaced by
// "xxxxx" (see dsn.Redact). It is safe to show.
func (t Target) RedactedDSN() string { return dsn.Redact(t.DSN) }

// Scrub returns s with the target's DSN and DirectDSN, and their passwords,
// masked (see dsn.Scrub). Run it on every message that may have seen the
// DSN (connection and driver errors) before showing it.
func (t Target) Scrub(s string) string {
	if t.DirectDSN != "" && t.DirectDSN != t.DSN {
		s = dsn.Scrub(t.DirectDSN, s)
	}
	return dsn.Scrub(t.DSN, s)
}

// CheckName returns why name cannot be a target name (of a listed or a
// discovered target), or "" if it can.
func CheckName(name string) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > maxNameLen:
		return fmt.Sprintf("is %d bytes long; the limit is %d", len(name), maxNameLen)
	case !utf8.ValidString(name):
		return "is not valid UTF-8"
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Sprintf("contains the control character %U; names must be printable", r)
		}
	}
	return ""
}
