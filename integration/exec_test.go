package integration

import (
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
)

// TestExecAcrossFleet: exec answers from each tenant's own data, a writing
// statement fails on every target and changes nothing, and the DSN's
// password appears in no output.
func TestExecAcrossFleet(t *testing.T) {
	const password = "Exec-Secret-4242"
	dbs := newDatabases(t, 3)
	dsns := map[string]string{}
	for _, db := range dbs {
		dsns[db] = dsnFor(t, db, password)
	}
	fleetPath := writeFile(t, "fleet.yaml", fleetYAML(dsns, dbs))
	if res := runCLI(t, nil, "up", "--fleet", fleetPath, "--quiet"); res.code != 0 {
		t.Fatalf("up: exit %d\n%s", res.code, res.stderr)
	}
	// Tenant i has i+1 users, and the last of them has no first name.
	for i, db := range dbs {
		conn := server.Connect(t, db)
		for j := 0; j <= i; j++ {
			first := any(fmt.Sprintf("F%d", j))
			if j == i {
				first = nil
			}
			if _, err := conn.Exec(t.Context(), `INSERT INTO users (email, username, password_hash, first_name) VALUES ($1, $2, 'x', $3)`,
				fmt.Sprintf("u%d@%s.test", j, db), fmt.Sprintf("u%d", j), first); err != nil {
				t.Fatal(err)
			}
		}
	}
	var outputs []string

	t.Run("rows per tenant", func(t *testing.T) {
		res := runCLI(t, nil, "exec", "--fleet", fleetPath, "--format", "json",
			"--sql", "SELECT email, first_name, is_active, id FROM users ORDER BY id")
		outputs = append(outputs, res.stdout, res.stderr)
		if res.code != 0 {
			t.Fatalf("exec: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		rep := parseReport(t, res.stdout)
		if rep.Command != "exec" || rep.Summary["ok"] != len(dbs) {
			t.Fatalf("report: %+v", rep.Summary)
		}
		for i, db := range dbs {
			tr := rep.target(t, db)
			if tr.Status != "ok" || tr.Rows == nil {
				t.Fatalf("%s: %+v", db, tr)
			}
			if got := strings.Join(tr.Rows.Columns, ","); got != "email,first_name,is_active,id" {
				t.Errorf("%s: columns %s", db, got)
			}
			if len(tr.Rows.Values) != i+1 {
				t.Fatalf("%s: %d rows, want its own %d", db, len(tr.Rows.Values), i+1)
			}
			for j, row := range tr.Rows.Values {
				if want := fmt.Sprintf("u%d@%s.test", j, db); row[0] != want {
					t.Errorf("%s row %d: email %v, want %s", db, j, row[0], want)
				}
				if row[2] != true {
					t.Errorf("%s row %d: is_active %v (%T), want the boolean true", db, j, row[2], row[2])
				}
				if _, ok := row[3].(float64); !ok {
					t.Errorf("%s row %d: id %v is %T, want a JSON number", db, j, row[3], row[3])
				}
			}
			if last := tr.Rows.Values[i]; last[1] != nil {
				t.Errorf("%s: NULL first_name came back as %v", db, last[1])
			}
		}
	})

	t.Run("max rows", func(t *testing.T) {
		res := runCLI(t, nil, "exec", "--fleet", fleetPath, "--format", "json", "--max-rows", "2",
			"--sql", "SELECT id FROM users ORDER BY id")
		if res.code != 0 {
			t.Fatalf("exec: exit %d\n%s", res.code, res.stderr)
		}
		rep := parseReport(t, res.stdout)
		last := rep.target(t, dbs[2])
		if len(last.Rows.Values) != 2 || !last.Rows.Truncated {
			t.Errorf("%s: %d rows, truncated %v; want 2 of 3, truncated", dbs[2], len(last.Rows.Values), last.Rows.Truncated)
		}
		if first := rep.target(t, dbs[0]); first.Rows.Truncated {
			t.Errorf("%s has 1 row and is marked truncated", dbs[0])
		}
	})

	t.Run("csv and table", func(t *testing.T) {
		res := runCLI(t, nil, "exec", "--fleet", fleetPath, "--format", "csv",
			"--sql", "SELECT count(*) AS users, count(*) FILTER (WHERE first_name IS NULL) AS no_first_name FROM users")
		outputs = append(outputs, res.stdout, res.stderr)
		if res.code != 0 {
			t.Fatalf("exec: exit %d\n%s", res.code, res.stderr)
		}
		recs, err := csv.NewReader(strings.NewReader(res.stdout)).ReadAll()
		if err != nil {
			t.Fatalf("not CSV: %v\n%s", err, res.stdout)
		}
		want := [][]string{{"target", "users", "no_first_name"}}
		for i, db := range dbs {
			want = append(want, []string{db, fmt.Sprint(i + 1), "1"})
		}
		if fmt.Sprint(recs) != fmt.Sprint(want) {
			t.Errorf("csv:\n%v\nwant\n%v", recs, want)
		}
		table := runCLI(t, nil, "exec", "--fleet", fleetPath, "--sql", "SELECT count(*) AS users FROM users")
		outputs = append(outputs, table.stdout, table.stderr)
		lines := strings.Split(table.stdout, "\n")
		if table.code != 0 || !strings.HasPrefix(lines[0], "TARGET") || !strings.Contains(lines[0], "users") ||
			!strings.HasPrefix(lines[3], dbs[2]) || !strings.HasSuffix(strings.TrimSpace(lines[3]), "3") {
			t.Errorf("table: exit %d\n%s", table.code, table.stdout)
		}
		md := runCLI(t, nil, "exec", "--fleet", fleetPath, "--format", "markdown", "--sql", "SELECT count(*) AS users FROM users")
		if md.code != 0 || !strings.Contains(md.stdout, "| Target | users |") || !strings.Contains(md.stdout, "| "+strings.ReplaceAll(dbs[1], "_", `\_`)+" | 2 |") {
			t.Errorf("markdown: exit %d\n%s", md.code, md.stdout)
		}
	})

	t.Run("writes fail everywhere", func(t *testing.T) {
		for _, q := range []string{"DROP TABLE sessions", "DELETE FROM users", "COMMIT"} {
			res := runCLI(t, nil, "exec", "--fleet", fleetPath, "--format", "json", "--sql", q)
			outputs = append(outputs, res.stdout, res.stderr)
			if res.code != 1 {
				t.Fatalf("%s: exit %d, want 1\n%s", q, res.code, res.stderr)
			}
			rep := parseReport(t, res.stdout)
			for _, db := range dbs {
				tr := rep.target(t, db)
				switch {
				case tr.Status != "failed" || tr.Error == nil:
					t.Errorf("%s on %s: %+v, want failed", q, db, tr)
				case q == "COMMIT" && !strings.Contains(tr.Error.Message, "ended the read-only transaction"):
					t.Errorf("%s on %s: %s, want the transaction control named", q, db, tr.Error.Message)
				case q != "COMMIT" && tr.Error.SQLState != "25006":
					t.Errorf("%s on %s: %+v, want SQLSTATE 25006 (read-only transaction)", q, db, tr.Error)
				}
			}
		}
		for i, db := range dbs {
			if !relationExists(t, db, "sessions") {
				t.Errorf("%s: sessions was dropped", db)
			}
			if n := queryInt(t, server.Connect(t, db), "SELECT count(*) FROM users"); n != int64(i+1) {
				t.Errorf("%s: %d users left, want %d", db, n, i+1)
			}
		}
	})

	t.Run("statement timeout", func(t *testing.T) {
		res := runCLI(t, nil, "exec", "--fleet", fleetPath, "--format", "json", "--statement-timeout", "200ms", "--sql", "SELECT pg_sleep(5)")
		if res.code != 1 {
			t.Fatalf("exit %d, want 1\n%s", res.code, res.stderr)
		}
		for _, tr := range parseReport(t, res.stdout).Targets {
			if tr.Status != "failed" || tr.Error == nil || tr.Error.SQLState != "57014" {
				t.Errorf("%s: %+v, want failed with SQLSTATE 57014 (statement timeout)", tr.Name, tr)
			}
		}
	})

	t.Run("one statement only", func(t *testing.T) {
		res := runCLI(t, nil, "exec", "--fleet", fleetPath, "--sql", "SELECT 1; DROP TABLE sessions")
		if res.code != 2 || !strings.Contains(res.stderr, "2 statements") {
			t.Errorf("exit %d, want 2 naming the statements\n%s", res.code, res.stderr)
		}
		for _, db := range dbs {
			if !relationExists(t, db, "sessions") {
				t.Errorf("%s: sessions was dropped", db)
			}
		}
	})

	for _, out := range outputs {
		if strings.Contains(out, password) {
			t.Fatalf("the DSN's password appears in an output:\n%s", out)
		}
	}
}
