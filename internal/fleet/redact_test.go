package fleet

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestNoPasswordInErrors feeds broken DSNs, with passwords of every awkward
// shape, through Parse and Single, and greps every message for the password.
func TestNoPasswordInErrors(t *testing.T) {
	passwords := []string{
		"S3cr3t-Pa55",
		"p@ss w0rd!",
		"p/ss?wo#rd",
		`it's-a\secret`,
		"colon:in:it",
		"per%cent%zz",
	}
	templates := []string{
		"postgres://app:${PW}@db1:notaport/acme",
		"postgres://app:${PW}@db1/acme?sslmode=bogus",
		"postgres://app:${PW}@db1/acme?connect_timeout=soon",
		"postgres://app:${PW}@db1/acme?target_session_attrs=bogus",
		"postgres://app:${PW}@[::1/acme",
		"postgres://app:${PW}@db1/acme?password",
		"postgres://app:${PW}@db1/ac me",
		"postgres://app:${PW}@db1:5432:5433/acme",
		"postgres://app:pa/${PW}@db1/acme",
		"postgres://app@db1/acme?password=${PW}&sslmode=bogus",
		"postgresql://app:${PW}@db1/acme?sslmode=verify-full&sslrootcert=/nonexistent/root.crt",
		"host=db1 password=${PW} port=abc",
		"host=db1 password='${PW}",
		"host=db1 password='${PW}' dbname=acme sslmode=bogus",
		"host=db1 password=${PW} dbname=acme extra",
		"password=${PW}",
	}
	for _, pw := range passwords {
		quoted := strconv.Quote(pw)
		forms := []string{pw, url.QueryEscape(pw), url.PathEscape(pw), quoted[1 : len(quoted)-1]}
		for _, frag := range strings.FieldsFunc(pw, func(r rune) bool { return strings.ContainsRune("/?#@:,&='\"\\ \t\n\r\v\f", r) }) {
			if len(frag) >= 4 {
				forms = append(forms, frag)
			}
		}
		for _, tmpl := range templates {
			dsn := strings.ReplaceAll(tmpl, "${PW}", pw)
			src := "targets:\n  - name: acme\n    dsn: '" + strings.ReplaceAll(tmpl, "'", "''") + "'\n"
			_, perr := parseString(t, src, map[string]string{"PW": pw})
			_, serr := Single(dsn)
			for _, err := range []error{perr, serr} {
				if err == nil {
					continue
				}
				msg := err.Error()
				for _, f := range forms {
					if strings.Contains(msg, f) {
						t.Errorf("password %q (as %q) leaked for dsn template %q:\n%s", pw, f, tmpl, msg)
					}
				}
			}
		}
	}
}
