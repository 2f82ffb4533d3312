package dsn

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Scrub returns s with every occurrence of dsn replaced by the redacted
// DSN (see Redact), and every occurrence of its password replaced by
// "xxxxx", including URL-decoded, URL-encoded, backslash-unescaped and
// %q-quoted forms. Run it on every message that may have seen the DSN
// (connection and driver errors) before showing it. It errs towards masking
// too much.
func Scrub(dsn, s string) string {
	if dsn == "" || s == "" {
		return s
	}
	redacted := Redact(dsn)
	whole := map[string]string{}
	for _, form := range []string{dsn, percentDecode(dsn), quotedForm(dsn)} {
		whole[form] = redacted
	}
	return newMasker(secretForms(passwords(dsn)), whole).Replace(s)
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
			if ext := strings.TrimRight(dsn[v.start+1:nextKeyword(dsn, v.end)], "'"+spaces); ext != v.raw {
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
		k := skipSpaces(dsn, j)
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
