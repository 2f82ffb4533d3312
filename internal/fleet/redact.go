package fleet

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// mask replaces every password this package redacts.
const mask = "xxxxx"

// RedactDSN returns dsn with its passwords replaced by "xxxxx", in both
// forms PostgreSQL accepts: a URL (the userinfo password and password= or
// sslpassword= query parameters) and keyword/value (password=secret and
// password='se cret'). It is best effort on malformed input, erring towards
// masking too much: a password with an unencoded "/" or "@" in a URL is
// still masked whole.
func RedactDSN(dsn string) string {
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
	if _, port, ok := strings.Cut(rest[:i], ":"); ok && !allDigits(port) {
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
		for j < len(dsn) && isSpace(dsn[j]) && !inURL {
			j++
		}
		if j >= len(dsn) || dsn[j] != '=' {
			continue
		}
		j++
		for j < len(dsn) && isSpace(dsn[j]) && !inURL {
			j++
		}
		start := j
		if !inURL && j < len(dsn) && dsn[j] == '\'' {
			k := j + 1
			for k < len(dsn) && dsn[k] != '\'' {
				if dsn[k] == '\\' {
					k++
				}
				k++
			}
			end := min(k+1, len(dsn))
			return span{start: start, end: end, raw: dsn[j+1 : min(k, len(dsn))]}, true
		}
		k := j
		for k < len(dsn) && !isSpace(dsn[k]) && !(inURL && dsn[k] == '&') {
			if dsn[k] == '\\' && !inURL {
				k++
			}
			k++
		}
		k = min(k, len(dsn))
		return span{start: start, end: k, raw: dsn[j:k]}, true
	}
}

// passwords returns every string in dsn that is, or may be, a password, as
// written in dsn. It over-reports on purpose: it is used to mask, and masking
// a non-secret costs far less than printing a secret.
func passwords(dsn string) []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	rest, isURL := cutURLScheme(dsn)
	if isURL {
		if at, ok := userinfoEnd(rest); ok {
			_, pw, _ := strings.Cut(rest[:at], ":")
			add(pw)
		}
	}
	for from := 0; ; {
		v, ok := nextPasswordValue(dsn, from, isURL)
		if !ok {
			break
		}
		add(v.raw)
		if !isURL && v.start < len(dsn) && dsn[v.start] == '\'' {
			// A quote inside a quoted value ends it early (password='it's'),
			// stranding the rest; take everything up to the next key=.
			if ext := strings.TrimRight(dsn[v.start+1:nextKeyword(dsn, v.end)], "' \t\n\r\v\f"); ext != v.raw {
				add(ext)
			}
		}
		from = v.end
	}
	// A password broken by an unencoded delimiter is parsed as several
	// components, and an error may quote any one of them.
	for _, pw := range out {
		for _, frag := range strings.FieldsFunc(pw, isDelimiter) {
			if len(frag) >= 3 && frag != pw {
				out = append(out, frag)
			}
		}
	}
	return out
}

// nextKeyword returns the index in dsn, from i on, of the whitespace before
// the next word that looks like "key=", or len(dsn).
func nextKeyword(dsn string, i int) int {
	for j := i; j < len(dsn); j++ {
		if !isSpace(dsn[j]) {
			continue
		}
		k := j
		for k < len(dsn) && isSpace(dsn[k]) {
			k++
		}
		end := k
		for end < len(dsn) && !isSpace(dsn[end]) && dsn[end] != '=' && dsn[end] != '\'' {
			end++
		}
		if end > k && end < len(dsn) && dsn[end] == '=' {
			return j
		}
		j = k - 1
	}
	return len(dsn)
}

// isDelimiter reports whether r separates components of a connection string.
func isDelimiter(r rune) bool {
	return strings.ContainsRune("/?#@:,&='\"\\ \t\n\r\v\f", r)
}

// secretForms returns the ways each password may show up in a message: as
// written, decoded (percent-encoding, "+", backslash escapes), re-encoded for
// a URL, and escaped as by strconv.Quote (%q).
func secretForms(pws []string) []string {
	var out []string
	for _, pw := range pws {
		// pgconn trims spaces around URL components; libpq keyword values
		// lose their backslash escapes.
		decoded := []string{pw, percentDecode(pw), strings.Trim(percentDecode(strings.Trim(pw, " ")), " "), unescapeKeywordValue(pw)}
		if d, err := url.QueryUnescape(pw); err == nil {
			decoded = append(decoded, d)
		}
		for _, d := range decoded {
			out = append(out, d,
				url.QueryEscape(d),
				url.PathEscape(d),
				strings.TrimPrefix(url.UserPassword("", d).String(), ":"),
				quotedForm(d))
		}
	}
	return out
}

// quotedForm is s as it appears inside a %q-formatted string.
func quotedForm(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// newMasker returns a Replacer that replaces each of secrets with mask and
// each key of whole with its value, longest match first, in one pass (so a
// replacement is never itself rewritten).
func newMasker(secrets []string, whole map[string]string) *strings.Replacer {
	repl := make(map[string]string, len(secrets)+len(whole))
	for _, s := range secrets {
		if s != "" {
			repl[s] = mask
		}
	}
	for k, v := range whole {
		if k != "" {
			repl[k] = v
		}
	}
	olds := make([]string, 0, len(repl))
	for k := range repl {
		olds = append(olds, k)
	}
	sort.Slice(olds, func(i, j int) bool {
		if len(olds[i]) != len(olds[j]) {
			return len(olds[i]) > len(olds[j])
		}
		return olds[i] < olds[j]
	})
	args := make([]string, 0, 2*len(olds))
	for _, o := range olds {
		args = append(args, o, repl[o])
	}
	return strings.NewReplacer(args...)
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
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
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

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
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

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
