package dsn

import (
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// FuzzRedact puts arbitrary passwords into DSNs of every form, correctly
// encoded and not, and checks that no message or redacted DSN shows them.
func FuzzRedact(f *testing.F) {
	for _, pw := range []string{
		"s3cret", "p@ss w0rd", "p/ss?wo#rd", `it's a \ secret`, "colon:in:it",
		"per%cent%zz", " padded ", "&password=", "'", `\`, "@", "/", "%41",
	} {
		f.Add(pw)
	}
	if os.Getenv("PGPASSWORD") != "" || os.Getenv("PGPASSFILE") != "" || os.Getenv("PGSERVICEFILE") != "" {
		f.Skip("PG* environment variables can supply a password the DSN does not contain")
	}
	// Fixed texts of our own messages: a password that happens to be part
	// of them is "found" without having leaked.
	fixed := strings.Join([]string{
		"the database URL (--dsn or DATABASE_URL) is not a valid PostgreSQL connection string",
		Hint,
		"; a special character in the password (/ ? # @ : % or space) must be percent-encoded, e.g. / as %2F",
		`every setting must be key=value; quote a value containing spaces as '...' and write ' and \ inside it as \' and \\)`,
		`has "@" in its host name; an "@" in the user name or password must be percent-encoded as %40`,
		`"..."`,
	}, "\n")
	kvQuote := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	f.Fuzz(func(t *testing.T, pw string) {
		if strings.Contains(pw, "x") || strings.ContainsRune(pw, 0) || strings.TrimSpace(pw) == "" {
			return
		}
		// Each form writes the password in its own way; skeleton is the
		// DSN with no password, to tell a leak from a password that merely
		// looks like part of the DSN's structure (e.g. "@").
		forms := []struct{ prefix, written, suffix string }{
			{"postgres://app:", strings.TrimPrefix(url.UserPassword("", pw).String(), ":"), "@db1:5432/acme?sslmode=disable"},
			{"postgres://app@db1/acme?sslmode=disable&password=", url.QueryEscape(pw), ""},
			{"host=db1 user=app password='", kvQuote.Replace(pw), "' dbname=acme sslmode=disable"},
			{"postgres://app:", pw, "@db1:5432/acme"},
			{"host=db1 user=app password=", pw, " dbname=acme"},
			{"host=db1 user=app password='", pw, "' dbname=acme"},
		}
		for _, form := range forms {
			dsn := form.prefix + form.written + form.suffix
			skeleton := form.prefix + form.suffix
			if _, msg := Parse(dsn); msg != "" {
				if strings.Contains(msg, pw) && !strings.Contains(fixed, pw) && !strings.Contains(skeleton, pw) {
					t.Fatalf("Parse(%q) error shows the password %q:\n%s", dsn, pw, msg)
				}
				continue
			}
			cfg, err := pgconn.ParseConfig(dsn)
			if err != nil {
				t.Fatalf("Parse accepted %q but pgconn does not: %v", dsn, err)
			}
			secret := cfg.Password // what would be sent to the server
			if secret == "" || strings.Contains(secret, "x") || strings.Contains(skeleton, secret) {
				continue
			}
			if got := Redact(dsn); strings.Contains(got, secret) {
				t.Fatalf("Redact() = %q shows the password %q (dsn %q)", got, secret, dsn)
			}
			if got := Scrub(dsn, "auth failed: "+secret+" at "+dsn); strings.Contains(got, secret) {
				t.Fatalf("Scrub() = %q shows the password %q (dsn %q)", got, secret, dsn)
			}
		}
	})
}
