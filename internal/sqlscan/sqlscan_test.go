package sqlscan

import "testing"

func TestSkipQuoted(t *testing.T) {
	cases := []struct {
		s         string
		i         int
		q         byte
		backslash bool
		end       int
		ok        bool
	}{
		{`'abc' x`, 1, '\'', false, 5, true},
		{`'it''s' x`, 1, '\'', false, 7, true},
		{`'a\'b' x`, 1, '\'', true, 6, true},
		{`"a""b" x`, 1, '"', false, 6, true},
		{`'open`, 1, '\'', false, 5, false},
	}
	for _, tc := range cases {
		end, ok := SkipQuoted(tc.s, tc.i, tc.q, tc.backslash)
		if end != tc.end || ok != tc.ok {
			t.Errorf("SkipQuoted(%q) = %d, %v; want %d, %v", tc.s, end, ok, tc.end, tc.ok)
		}
	}
}

func TestSkipBlockComment(t *testing.T) {
	for s, want := range map[string]int{"/* a */x": 7, "/* a /* b */ c */x": 17, "/* open": -1} {
		end, ok := SkipBlockComment(s, 0)
		if want < 0 && (ok || end != len(s)) || want >= 0 && (!ok || end != want) {
			t.Errorf("SkipBlockComment(%q) = %d, %v; want %d", s, end, ok, want)
		}
	}
}

func TestDollarTag(t *testing.T) {
	for s, want := range map[string]string{"$$ body": "$$", "$fn$ body": "$fn$", "$1": "", "$a b$": "", "$é$": "$é$"} {
		if got := DollarTag(s); got != want {
			t.Errorf("DollarTag(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestMaskLiterals(t *testing.T) {
	cases := map[string]string{
		`ALTER ROLE app PASSWORD 'hunter2'`:                                    `ALTER ROLE app PASSWORD '...'`,
		`SELECT 'a''b', "col'x", E'x\'y' FROM t`:                               `SELECT '...', "col'x", E'...' FROM t`,
		`INSERT INTO t VALUES ($$secret$$, $f$x$f$, $1)`:                       `INSERT INTO t VALUES ('...', '...', $1)`,
		`SELECT 1 -- it's a comment` + "\n" + `, 'v'`:                          `SELECT 1 -- it's a comment` + "\n" + `, '...'`,
		`UPDATE users SET token = 'abc`:                                        `UPDATE users SET token = '...'`,
		`SELECT U&'d\0061t' , X'1F', name FROM "weird""tbl"`:                   `SELECT U&'...' , X'...', name FROM "weird""tbl"`,
		`SELECT a$b FROM t WHERE x = 'y'`:                                      `SELECT a$b FROM t WHERE x = '...'`,
		`pid 42 (psql): ALTER ROLE x PASSWORD 's3cr3t'; pid 7 (app): SELECT 1`: `pid 42 (psql): ALTER ROLE x PASSWORD '...'; pid 7 (app): SELECT 1`,
	}
	for in, want := range cases {
		if got := MaskLiterals(in); got != want {
			t.Errorf("MaskLiterals(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}
