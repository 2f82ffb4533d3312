package dsn

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrDerive is the error of WithDatabase. It is fixed text: the DSN it
// concerns is a secret.
var ErrDerive = errors.New("cannot derive its DSN from the server's (the server DSN may name the database in a way that cannot be rewritten; use a discover query instead)")

// WithDatabase returns dsn with its database replaced by db, in dsn's own
// form: for a URL the path is replaced (percent-encoded) and any dbname
// query parameter dropped; for keyword/value every dbname= is dropped and
// dbname='db' appended, quoted as libpq reads it. Everything else, the
// password included, is kept byte for byte.
//
// The result is checked by parsing it: it must name db and the same hosts,
// ports, user and password as dsn, or ErrDerive is returned.
func WithDatabase(dsn, db string) (string, error) {
	before, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "", ErrDerive
	}
	var out string
	if _, isURL := cutURLScheme(dsn); isURL {
		out = urlWithDatabase(dsn, db)
	} else {
		var ok bool
		if out, ok = keywordValueWithDatabase(dsn, db); !ok {
			return "", ErrDerive
		}
	}
	after, err := pgconn.ParseConfig(out)
	if err != nil || after.Database != db || !sameServer(before, after) {
		return "", ErrDerive
	}
	return out, nil
}

// sameServer reports whether a and b reach the same servers as the same
// user with the same password.
func sameServer(a, b *pgconn.Config) bool {
	if a.Host != b.Host || a.Port != b.Port || a.User != b.User || a.Password != b.Password ||
		len(a.Fallbacks) != len(b.Fallbacks) {
		return false
	}
	for i, fa := range a.Fallbacks {
		if fb := b.Fallbacks[i]; fa.Host != fb.Host || fa.Port != fb.Port {
			return false
		}
	}
	return true
}

// urlWithDatabase rewrites a postgres:// URL, splitting it as pgconn (and
// libpq) do: the userinfo ends at an "@" met before any "/", the host list
// runs to the first "/" or "?", the path to the "?".
func urlWithDatabase(dsn, db string) string {
	rest, _ := cutURLScheme(dsn)
	scheme := dsn[:len(dsn)-len(rest)]
	userinfo := ""
	if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
		userinfo, rest = rest[:i+1], rest[i+1:]
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	hosts, rest := rest[:end], rest[end:]
	query := rest // "" or "?..."
	if strings.HasPrefix(rest, "/") {
		query = ""
		if q := strings.IndexByte(rest, '?'); q >= 0 {
			query = rest[q:]
		}
	}
	return scheme + userinfo + hosts + "/" + percentEncode(db) + dropDatabaseParams(query)
}

// dropDatabaseParams removes the dbname (or database) parameters from a URL
// query ("?a=b&dbname=c"), which would override the path.
func dropDatabaseParams(query string) string {
	if query == "" {
		return ""
	}
	var kept []string
	for pair := range strings.SplitSeq(query[1:], "&") {
		key, _, _ := strings.Cut(pair, "=")
		if k := strings.Trim(percentDecode(key), " "); k == "dbname" || k == "database" {
			continue
		}
		kept = append(kept, pair)
	}
	if len(kept) == 0 {
		return ""
	}
	return "?" + strings.Join(kept, "&")
}

// percentEncode encodes every byte of s but the URL-unreserved ones.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// keywordValueWithDatabase drops every dbname= (or database=) pair of a
// keyword/value string and appends dbname='db'. ok is false when dsn does
// not split into pairs the way pgconn reads it.
func keywordValueWithDatabase(dsn, db string) (string, bool) {
	pairs, ok := keywordValuePairs(dsn)
	if !ok {
		return "", false
	}
	var b strings.Builder
	from := 0
	for _, p := range pairs {
		if p.key == "dbname" || p.key == "database" {
			b.WriteString(dsn[from:p.start])
			from = p.next
		}
	}
	b.WriteString(dsn[from:])
	out := strings.TrimRight(b.String(), spaces)
	if out != "" {
		out += " "
	}
	return out + "dbname=" + quoteValue(db), true
}

// kvPair is one key=value of a keyword/value string: dsn[start:next] is the
// pair and the whitespace after it.
type kvPair struct {
	key         string
	start, next int
}

// keywordValuePairs splits s as pgconn's keyword/value parser does.
func keywordValuePairs(s string) ([]kvPair, bool) {
	var out []kvPair
	for i := skipSpaces(s, 0); i < len(s); {
		start := i
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, false
		}
		end, closed := valueEnd(s, skipSpaces(s, i+eq+1))
		if !closed {
			return nil, false
		}
		out = append(out, kvPair{key: strings.Trim(s[i:i+eq], spaces), start: start, next: skipSpaces(s, end)})
		i = skipSpaces(s, end)
	}
	return out, true
}

// valueEnd reads the keyword/value value that starts at s[i] as pgconn
// does: a quoted value runs past its closing quote, an unquoted one to the
// next space, and a backslash escapes the byte after it. It returns where
// the value ends (at most len(s)) and whether a quoted value was closed.
func valueEnd(s string, i int) (end int, closed bool) {
	if i < len(s) && s[i] == '\'' {
		for i++; i < len(s) && s[i] != '\''; i++ {
			if s[i] == '\\' {
				i++
			}
		}
		if i >= len(s) {
			return len(s), false
		}
		return i + 1, true
	}
	for i < len(s) && !isSpace(s[i]) {
		if s[i] == '\\' {
			i++
		}
		i++
	}
	return min(i, len(s)), true
}

// spaces are the bytes that separate keyword/value settings.
const spaces = " \t\n\r\v\f"

func isSpace(c byte) bool { return strings.IndexByte(spaces, c) >= 0 }

// skipSpaces returns the index of the first byte of s from i on that is not
// a space, or len(s).
func skipSpaces(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// quoteValue quotes v as a keyword/value string value: '...', with
// ' and \ written as \' and \\.
func quoteValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
