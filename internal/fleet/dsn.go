package fleet

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// dsnHint shows both accepted forms; it is fixed text, so it cannot leak.
const dsnHint = "expected postgres://user:password@host:5432/db or host=... dbname=..."

// parseDSN validates dsn the way the run will use it, without connecting.
// On failure it returns a message safe to show: the pgconn error with the
// connection string cut off and the rest scrubbed of the DSN's passwords.
//
// pgconn.ParseConfig reads PG* environment variables and any files the DSN
// names (passfile, service file, TLS certificates), but opens no connection.
func parseDSN(dsn string) (*pgconn.Config, string) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err == nil {
		// pgconn, like libpq, ends the userinfo at the first "@", so an
		// unencoded "@" in a password leaves the rest of it in the host name,
		// where every connection error would print it.
		hosts := []string{cfg.Host}
		for _, fb := range cfg.Fallbacks {
			hosts = append(hosts, fb.Host)
		}
		for _, h := range hosts {
			if strings.Contains(h, "@") {
				return nil, `has "@" in its host name; an "@" in the user name or password must be percent-encoded as %40 (` + dsnHint + ")"
			}
		}
		return cfg, ""
	}
	msg := "is not a valid PostgreSQL connection string"
	detail := dsnErrorDetail(Target{DSN: dsn}, err)
	stranded := strandedAt(dsn)
	if stranded {
		// What pgconn quotes is likely a piece of the password.
		detail = unquote(detail)
	}
	if detail != "" {
		msg += ": " + detail
	}
	if stranded {
		msg += "; a special character in the password (/ ? # @ : % or space) must be percent-encoded, e.g. / as %2F"
	}
	return nil, msg + " (" + dsnHint + ")"
}

// dsnErrorDetail is what went wrong according to pgconn, without the
// connection string pgconn quotes (redacted only on a best-effort basis):
// "cannot parse `...`: invalid port" becomes "invalid port".
func dsnErrorDetail(t Target, err error) string {
	text := err.Error()
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		// Cut at the last "`: " so that anything of the connection string
		// before it is dropped even if the string itself contains "`: ".
		if i := strings.LastIndex(text, "`: "); i >= 0 {
			text = text[i+len("`: "):]
		} else {
			text = ""
		}
	}
	// pgconn quotes the keyword it was reading when a keyword/value string
	// breaks; when a quote inside a password broke it, that "keyword" is the
	// rest of the password. Replace both such messages with advice (which
	// is fixed text, so it is not scrubbed).
	advice := ""
	for _, broken := range []string{`missing "=" after`, "invalid keyword/value"} {
		if i := strings.Index(text, broken); i >= 0 {
			text = text[:i]
			advice = `every setting must be key=value; quote a value containing spaces as '...' and write ' and \ inside it as \' and \\)`
			break
		}
	}
	text = strings.Join(strings.Fields(t.Scrub(text)), " ")
	if advice != "" {
		text += advice
	}
	return truncate(text, 300)
}

// strandedAt reports whether dsn is a URL whose password, as pgconn reads
// it, is cut short by an unencoded "/" or "@": the rest of it then lands in
// the host, port, path or query, where an error message may quote it.
func strandedAt(dsn string) bool {
	rest, ok := cutURLScheme(dsn)
	if !ok {
		return false
	}
	at, ok := userinfoEnd(rest)
	if !ok {
		return false
	}
	i := strings.IndexAny(rest, "@/")
	return rest[i] != '@' || i != at
}

// unquote replaces every "..." in s by "...", dropping what pgconn quoted.
func unquote(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i+1:], '"')
		if j < 0 {
			b.WriteString(s[:i+1] + `..."`)
			return b.String()
		}
		b.WriteString(s[:i] + `"..."`)
		s = s[i+1+j+1:]
	}
}
