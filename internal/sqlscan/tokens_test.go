package sqlscan

import (
	"fmt"
	"slices"
	"testing"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []string // kind:text@line
	}{
		{"keywords fold, quoted names do not",
			`CREATE Index "My""Idx" ON Public."T"`,
			[]string{"w:create@1", "w:index@1", `i:My"Idx@1`, "w:on@1", "w:public@1", "p:.@1", "i:T@1"}},
		{"comments are skipped, lines counted through them",
			"/* a /* nested */\n comment */ -- line\nDROP\n\tTABLE x",
			[]string{"w:drop@3", "w:table@4", "w:x@4"}},
		{"strings and dollar quotes are one token",
			"SELECT 'it''s;', E'a\\'b', $fn$ DROP TABLE x; $fn$, $$\n$$, $1, 1.5e3",
			[]string{"w:select@1", "s:'it''s;'@1", "p:,@1", `s:E'a\'b'@1`, "p:,@1", "s:$fn$ DROP TABLE x; $fn$@1", "p:,@1",
				"s:$$\n$$@1", "p:,@2", "p:$@2", "n:1@2", "p:,@2", "n:1.5e3@2"}},
		{"identifiers with $ and digits",
			"a$b x1 _y é",
			[]string{"w:a$b@1", "w:x1@1", "w:_y@1", "w:é@1"}},
		{"unterminated constructs run to the end",
			"SELECT 'open",
			[]string{"w:select@1", "s:'open@1"}},
	}
	kinds := map[Kind]string{Word: "w", Ident: "i", String: "s", Number: "n", Punct: "p"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, tok := range Tokens(tt.sql, 1) {
				got = append(got, fmt.Sprintf("%s:%s@%d", kinds[tok.Kind], tok.Text, tok.Line))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Tokens(%q)\n got %q\nwant %q", tt.sql, got, tt.want)
			}
		})
	}
}

// TestScan: whitespace and comments are tokens of their own, a construct
// left open says so, and a dollar quote right after a number still opens.
func TestScan(t *testing.T) {
	cases := []struct {
		src    string
		kind   Kind
		text   string
		closed bool
	}{
		{" \t\n x", Space, " \t\n ", true},
		{"-- c;\nx", Comment, "-- c;", true},
		{"/* a /* b */ c */x", Comment, "/* a /* b */ c */", true},
		{"/* open", Comment, "/* open", false},
		{"'it''s' x", String, "'it''s'", true},
		{`E'a\'b' x`, String, `E'a\'b'`, true},
		{"$f$ x; $f$;", String, "$f$ x; $f$", true},
		{"$x$ open", String, "$x$ open", false},
		{`"odd;name"x`, Ident, `"odd;name"`, true},
		{"$1", Punct, "$", true},
		{"1.5e-3$$;$$", Number, "1.5e-3", true},
		{"12abc", Number, "12", true},
		{"a$b$c;", Word, "a$b$c", true},
	}
	for _, tc := range cases {
		kind, end, closed := Scan(tc.src, 0)
		if kind != tc.kind || tc.src[:end] != tc.text || closed != tc.closed {
			t.Errorf("Scan(%q) = %d %q %v, want %d %q %v", tc.src, kind, tc.src[:end], closed, tc.kind, tc.text, tc.closed)
		}
	}
}
