// Package dsn reads PostgreSQL connection strings (DSNs), in both forms
// PostgreSQL accepts: postgres:// URLs and keyword/value strings. It
// validates them with pgconn.ParseConfig (which never connects), rewrites
// the database of one, tells which server one reaches, and keeps their
// secrets out of anything shown: Redact masks the passwords of a DSN, Scrub
// masks a DSN and its passwords wherever a message quotes them.
//
// A DSN is a secret: messages of this package never quote one.
package dsn

import (
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// Hint shows both accepted forms; it is fixed text, so it cannot leak.
const Hint = "expected postgres://user:password@host:5432/db or host=... dbname=..."

// Parse validates dsn the way the run will use it, without connecting.
// On failure it returns a message safe to show: the pgconn error with the
// connection string cut off and the rest scrubbed of the DSN's passwords.
//
// pgconn.ParseConfig reads PG* environment variables and any files the DSN
// names (passfile, service file, TLS certificates), but opens no connection.
func Parse(dsn string) (*pgconn.Config, string) {
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
				return nil, `has "@" in its host name; an "@" in the user name or password must be percent-encoded as %40 (` + Hint + ")"
			}
		}
		return cfg, ""
	}
	msg := "is not a valid PostgreSQL connection string"
	detail := errorDetail(dsn, err)
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
	return nil, msg + " (" + Hint + ")"
}

// errorDetail is what went wrong according to pgconn, without the
// connection string pgconn quotes (redacted only on a best-effort basis):
// "cannot parse `...`: invalid port" becomes "invalid port".
func errorDetail(dsn string, err error) string {
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
	return report.Truncate(Oneline(dsn, text, 0)+advice, 300)
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

// quoted matches what pgconn quotes, "..." (or an unclosed " and the rest).
var quoted = regexp.MustCompile(`"[^"]*("|$)`)

// unquote replaces every "..." in s by "...", dropping what pgconn quoted.
func unquote(s string) string { return quoted.ReplaceAllLiteralString(s, `"..."`) }

// Oneline is text on one line (runs of whitespace become one space),
// scrubbed of dsn and its passwords (see Scrub) and cut to n bytes when n is
// above 0: a driver error fit to show.
func Oneline(dsn, text string, n int) string {
	text = strings.Join(strings.Fields(Scrub(dsn, text)), " ")
	if n > 0 {
		text = report.Truncate(text, n)
	}
	return text
}

// Server returns "host:port" of dsn's first host (a Unix socket directory
// as "/dir:port"), which names the server, and the database dsn names;
// "", "" when dsn does not parse.
func Server(dsn string) (hostPort, database string) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "", ""
	}
	port := strconv.Itoa(int(cfg.Port))
	if strings.HasPrefix(cfg.Host, "/") {
		return cfg.Host + ":" + port, cfg.Database
	}
	return net.JoinHostPort(cfg.Host, port), cfg.Database
}
