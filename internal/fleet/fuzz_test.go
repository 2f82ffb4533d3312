package fleet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// FuzzParse checks that Parse never panics, that every error is an *Error
// whose problems all say something, and that every target of a fleet it
// accepts has a name and a DSN. The seeds run as an ordinary test.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"fleet.yaml", "broken.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	seeds := []string{
		"",
		"targets:\n  - name: a\n    dsn: postgres://db/a\n",
		"targets:\n  - name: a\n    dsn: host=db dbname=a password='${PW}'\n    labels: {k: v}\n",
		"defaults:\n  parallelism: ${PAR}\n  lock_timeout: ${EMPTY}1s\ntargets: [{name: x, dsn: 'postgres://u:${PW}@h/x'}]\n",
		"defaults:\n  paralellism: 8\n  lock_timeout: soon\ntargets:\n  - name: a\n  - name: a\n    dsn: ${NOPE}\n",
		"targets:\n  - &t {name: a, dsn: postgres://db/a}\n  - *t\n",
		"targets:\n  - <<: {dsn: postgres://db/a}\n    name: a\n",
		"targets:\n\t- name: a\n",
		"targets: [\n",
		"- a\n- b\n",
		"targets:\n  - name: \"\\x07\"\n    dsn: \"postgres://u:p@ss@h/db\"\n",
		"a: 1\n---\nb: 2\n",
		"targets:\n  - name: a\n    dsn: postgres://u:${PW@h/db\n    labels:\n      ? [x]\n      : y\n",
		"targets: [{name: a, dsn: postgres://db/a, labels: {t: c}}, {name: b, dsn: postgres://db/b}]\nwaves:\n  - {name: c, select: {t: c}, max_failures: 0}\n  - {name: rest, max_failures: 2%}\n",
		"targets: [{name: a, dsn: postgres://db/a}]\nwaves:\n  - {name: x, select: {t: c}}\n  - {name: x, selct: {}}\n  - {max_failures: ${PAR}%}\n  - name: y\n  - name: z\n",
		"targets: [{name: a, dsn: postgres://db/a}]\nwaves:\n  - &w {name: w, select: &s {t: c}}\n  - {name: v, select: *s}\n  - *w\n",
		"discover:\n  - server: postgres://u:${PW}@h/postgres\n    databases: tenant_%\n    labels: {tier: main}\n  - {name: shared, server: 'host=h dbname=app', schemas: 't\\_%'}\n  - {server: postgres://h/catalog, query: SELECT name, dsn FROM tenants}\n",
		"targets: []\ndiscover:\n  - server: ${NOPE}\n    databases: ''\n    schemas: [x]\n  - {name: a, databse: x}\n  - {name: a, server: postgres://h/db, query: 'SELECT 1', databases: x}\n  - 7\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	lookup := env(map[string]string{
		"PW":    "p@ss w0rd/'\\",
		"PAR":   "4",
		"EMPTY": "",
	})
	f.Fuzz(func(t *testing.T, src string) {
		fl, err := Parse(strings.NewReader(src), "fuzz.yaml", lookup)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error is %T, not *Error: %v", err, err)
			}
			if fl != nil {
				t.Fatalf("got both a fleet and an error")
			}
			if len(fe.Problems) == 0 {
				t.Fatalf("*Error without problems")
			}
			for _, p := range fe.Problems {
				if p.Message == "" {
					t.Fatalf("empty problem message at line %d in %q", p.Line, fe.Error())
				}
				if p.Line < 0 {
					t.Fatalf("negative line %d: %s", p.Line, p.Message)
				}
			}
			_ = fe.Error()
			return
		}
		if fl == nil || len(fl.Targets) == 0 && len(fl.Discover) == 0 {
			t.Fatalf("no error, but no targets and no discover sources: %+v", fl)
		}
		for i, s := range fl.Discover {
			if s.Server == "" || s.Labels == nil {
				t.Fatalf("discover[%d] has no server or nil labels", i)
			}
			if n := btoi(s.Databases != "") + btoi(s.Schemas != "") + btoi(s.Query != ""); n != 1 {
				t.Fatalf("discover[%d] has %d of databases, schemas and query", i, n)
			}
			checkSecretHidden(t, Target{Name: s.Label(), DSN: s.Server})
		}
		for i, tg := range fl.Targets {
			if tg.Name == "" || tg.DSN == "" {
				t.Fatalf("targets[%d] has an empty name or dsn: name=%q", i, tg.Name)
			}
			if tg.Labels == nil {
				t.Fatalf("targets[%d] has nil labels", i)
			}
			checkSecretHidden(t, tg)
		}
		checkWavesPartition(t, fl)
	})
}

// checkSecretHidden asserts that the password pgconn reads from a target's
// DSN survives neither RedactedDSN nor Scrub. Passwords containing "x" are
// skipped: next to the "xxxxx" mask they could appear by accident.
func checkSecretHidden(t *testing.T, tg Target) {
	t.Helper()
	if os.Getenv("PGPASSWORD") != "" || os.Getenv("PGPASSFILE") != "" || os.Getenv("PGSERVICEFILE") != "" {
		return // the password may not come from the DSN
	}
	cfg, err := pgconn.ParseConfig(tg.DSN)
	if err != nil {
		t.Fatalf("target %q: Parse accepted a DSN pgconn rejects: %v", tg.Name, tg.Scrub(err.Error()))
	}
	pw := cfg.Password
	if pw == "" || strings.Contains(pw, "x") {
		return
	}
	if got := tg.RedactedDSN(); strings.Contains(got, pw) {
		t.Fatalf("RedactedDSN() = %q contains the password %q", got, pw)
	}
	if got := tg.Scrub("auth failed for " + pw + " via " + tg.DSN); strings.Contains(got, pw) {
		t.Fatalf("Scrub() = %q contains the password %q", got, pw)
	}
}

// checkWavesPartition asserts that the waves of an accepted fleet put every
// target in exactly one wave, none of them empty.
func checkWavesPartition(t *testing.T, fl *Fleet) {
	t.Helper()
	seen := make(map[string]bool)
	for _, wt := range AssignWaves(fl.Targets, fl.Waves) {
		if len(wt.Targets) == 0 {
			t.Fatalf("wave %q has no targets", wt.Wave.Name)
		}
		for _, tg := range wt.Targets {
			if seen[tg.Name] {
				t.Fatalf("target %q is in two waves", tg.Name)
			}
			seen[tg.Name] = true
		}
	}
	if len(seen) != len(fl.Targets) {
		t.Fatalf("the waves hold %d of %d targets", len(seen), len(fl.Targets))
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
