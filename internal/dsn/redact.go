package dsn

import (
	"strconv"
	"strings"
)

// mask replaces every password this package redacts.
const mask = "xxxxx"

// Redact returns dsn with its passwords replaced by "xxxxx", in both
// forms PostgreSQL accepts: a URL (the userinfo password and password= or
// sslpassword= query parameters) and keyword/value (password=secret and
// password='se cret'). It is best effort on malformed input, erring towards
// masking too much: a password with an unencoded "/" or "@" in a URL is
// still masked whole.
func Redact(dsn string) string {
	cands := passwords(dsn)
	prefix := ""
	if rest, ok := cutURLScheme(dsn); ok {
		prefix, dsn = dsn[:len(dsn)-len(rest)], rest
	}
	// Mask every password-shaped value first, wherever it occurs, so that a
	// fragment the structural pass would misplace (postgres://u:p@ss@h) is
	// gone before that pass runs; the structural pass then masks whatever is
	// in a password position even if the heuristics missed it. The scheme is
	// kept out of the first pass so that the URL stays recognisable.
	if len(cands) > 0 {
		dsn = newMasker(cands, nil).Replace(dsn)
	}
	if prefix != "" {
		return prefix + redactURL(dsn)
	}
	return redactKeywordValue(dsn)
}

// cutURLScheme returns dsn after "postgres://" or "postgresql://", the only
// prefixes pgconn parses as a URL.
func cutURLScheme(dsn string) (string, bool) {
	if rest, ok := strings.CutPrefix(dsn, "postgresql://"); ok {
		return rest, true
	}
	return strings.CutPrefix(dsn, "postgres://")
}

// redactURL masks the userinfo password and password query values of rest,
// a URL after its scheme.
func redactURL(rest string) string {
	var b strings.Builder
	if at, ok := userinfoEnd(rest); ok {
		user, pw, hasPW := strings.Cut(rest[:at], ":")
		b.WriteString(user)
		if hasPW {
			b.WriteByte(':')
			if pw != "" {
				b.WriteString(mask)
			}
		}
		b.WriteByte('@')
		rest = rest[at+1:]
	}
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		b.WriteString(rest)
		return b.String()
	}
	b.WriteString(rest[:q+1])
	for i, pair := range strings.Split(rest[q+1:], "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		key, _, hasValue := strings.Cut(pair, "=")
		if hasValue && isPasswordKey(percentDecode(key)) {
			b.WriteString(key + "=" + mask)
			continue
		}
		b.WriteString(pair)
	}
	return b.String()
}

// userinfoEnd returns the index of the "@" that ends the userinfo of rest, a
// URL after its scheme. pgconn (like libpq) ends the userinfo at the first
// "@" seen before any "/"; this errs towards a longer password, for masking:
//   - a further "@" before the next "/" or "?" means the password holds an
//     unencoded "@" (host names cannot), so the userinfo runs to the last one;
//   - if a "/" comes first but an "@" follows, and the text before the "/"
//     looks like user:secret rather than host:port, the password holds an
//     unencoded "/", so the userinfo runs to the last "@".
func userinfoEnd(rest string) (int, bool) {
	i := strings.IndexAny(rest, "@/")
	if i < 0 {
		return 0, false
	}
	if rest[i] == '@' {
		stop := strings.IndexAny(rest[i+1:], "/?")
		if stop < 0 {
			stop = len(rest) - i - 1
		}
		if j := strings.LastIndexByte(rest[i+1:i+1+stop], '@'); j >= 0 {
			return i + 1 + j, true
		}
		return i, true
	}
	last := strings.LastIndexByte(rest, '@')
	if last < i {
		return 0, false
	}
	if _, port, ok := strings.Cut(rest[:i], ":"); ok && (port == "" || strings.Trim(port, "0123456789") != "") {
		return last, true
	}
	return 0, false
}

// redactKeywordValue masks the values of password keys in a keyword/value
// connection string.
func redactKeywordValue(dsn string) string {
	var b strings.Builder
	for from := 0; ; {
		v, ok := nextPasswordValue(dsn, from, false)
		if !ok {
			b.WriteString(dsn[from:])
			return b.String()
		}
		b.WriteString(dsn[from:v.start])
		b.WriteString(mask)
		from = v.end
	}
}

// span is a password value found in a connection string: dsn[start:end] is
// the value as written (with quotes), raw is its content.
type span struct {
	start, end int
	raw        string
}

// nextPasswordValue finds, from byte from on, the next value assigned to a
// key ending in "password" (password, sslpassword; any case): the "=" may be
// surrounded by spaces in keyword/value form. A quoted value runs to its
// closing quote (or the end); an unquoted one to whitespace, or to "&" when
// inURL.
func nextPasswordValue(dsn string, from int, inURL bool) (span, bool) {
	for {
		i := indexFold(dsn[from:], "password")
		if i < 0 {
			return span{}, false
		}
		j := from + i + len("password")
		from = j
		if !inURL {
			j = skipSpaces(dsn, j)
		}
		if j >= len(dsn) || dsn[j] != '=' {
			continue
		}
		j++
		if inURL {
			end := len(dsn)
			if k := strings.IndexAny(dsn[j:], spaces+"&"); k >= 0 {
				end = j + k
			}
			return span{start: j, end: end, raw: dsn[j:end]}, true
		}
		j = skipSpaces(dsn, j)
		end, closed := valueEnd(dsn, j)
		raw := dsn[j:end]
		if j < end && dsn[j] == '\'' {
			raw = raw[1:]
			if closed {
				raw = raw[:len(raw)-1]
			}
		}
		return span{start: j, end: end, raw: raw}, true
	}
}

// isPasswordKey reports whether a connection parameter name carries a secret.
func isPasswordKey(key string) bool {
	key = strings.ToLower(strings.TrimSpace(key))
	return key == "password" || key == "sslpassword"
}

// percentDecode decodes every valid %XX in s and leaves anything else as is,
// as pgconn does when it redacts; it never fails.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unescapeKeywordValue removes the backslash escapes of a keyword/value
// connection string value.
func unescapeKeywordValue(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// indexFold is strings.Index with ASCII case folding (sub must be lower case).
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		match := true
		for j := 0; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}
