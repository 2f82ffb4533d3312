package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestReadValidates(t *testing.T) {
	const head = `{"schema_version":1,"command":"up","started_at":"2026-01-01T00:00:00Z","duration_ms":1,"summary":{},"targets":[`
	cases := []struct {
		name, target, want string
	}{
		{"unknown status", `{"name":"a","status":"weird","from_version":1,"to_version":1}`, `targets[0] ("a").status "weird" is not a status`},
		{"negative from", `{"name":"a","status":"applied","from_version":-1,"to_version":1}`, `targets[0] ("a").from_version -1 is negative`},
		{"negative to", `{"name":"a","status":"applied","from_version":1,"to_version":-4}`, `targets[0] ("a").to_version -4 is negative`},
		{"missing name", `{"status":"applied","from_version":1,"to_version":1}`, `targets[0].name is missing`},
		{"missing status", `{"name":"a","from_version":1,"to_version":1}`, `targets[0] ("a").status is missing`},
		{"migration without name", `{"name":"a","status":"applied","from_version":1,"to_version":2,"applied":[{"version":2}]}`, `targets[0] ("a").applied[0].name is missing`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(head + tc.target + "]}"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
	rep, err := Read(strings.NewReader(head + `{"name":"a","status":"locked","from_version":null,"to_version":null},{"name":"b","status":"reverted","from_version":4,"to_version":2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Targets[0].FromVersion != nil || *rep.Targets[1].ToVersion != 2 {
		t.Errorf("versions: %+v", rep.Targets)
	}
}

func TestTableGroupsBigFleets(t *testing.T) {
	var targets []Target
	for i := range 412 {
		targets = append(targets, Target{Name: fmt.Sprintf("t%03d", i), Status: StatusUpToDate, FromVersion: V(4), ToVersion: V(4)})
	}
	for i := range 3 {
		targets = append(targets, Target{Name: fmt.Sprintf("a%d", i), Status: StatusApplied, FromVersion: V(2), ToVersion: V(4)})
	}
	targets = append(targets,
		Target{Name: "broken", Status: StatusFailed, Error: &Error{Class: "unreachable", Message: "connection refused"}},
		Target{Name: "held", Status: StatusLocked, FromVersion: V(3), ToVersion: V(3), Error: &Error{Message: "held by pid 42"}},
		Target{Name: "odd", Status: "unadopted", FromVersion: V(0), ToVersion: V(0)})
	rep := New("up", time.Now(), time.Second, targets)
	var b bytes.Buffer
	if err := WriteWith(&b, FormatTable, rep, Options{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"412 up_to_date at 4\n", "3 applied 2→4\n", "3 targets need attention", "broken", "connection refused", "held by pid 42", "odd ", "unadopted"} {
		if !strings.Contains(out, want) {
			t.Errorf("grouped table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "t001") || strings.Contains(out, "a1 ") {
		t.Errorf("grouped table lists routine targets:\n%s", out)
	}
	if n := strings.Count(out, "\n"); n > 20 {
		t.Errorf("%d lines for 418 targets:\n%s", n, out)
	}
	b.Reset()
	if err := WriteWith(&b, FormatTable, rep, Options{All: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "t411") || strings.Count(b.String(), "\n") < 418 {
		t.Errorf("--all does not list every target")
	}
	for _, f := range []Format{FormatJSON, FormatJUnit, FormatMarkdown} {
		b.Reset()
		if err := WriteWith(&b, f, rep, Options{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "t411") || !strings.Contains(b.String(), "t000") {
			t.Errorf("%s does not keep one entry per target", f)
		}
	}
}

func TestTableEscapesControlCharacters(t *testing.T) {
	rep := New("up", time.Now(), time.Second, []Target{{
		Name: "evil\x1b[2J", Wave: "w\x07", Status: StatusFailed, FromVersion: V(1), ToVersion: V(1),
		Error: &Error{Version: 2, Name: "002_\x1b]0;pwn\x07", Message: "boom\x1b[31m red\r\nnext", Detail: "d\x00", Hint: "h\x9b",
			BlockedBy: "pid 7 (psql): SELECT '\x1b'", Remedy: "r\x1b"},
		Reverted: []Migration{{Version: 2, Name: "002_x\x1b"}},
	}, {
		Name: "plan", Status: StatusPending, FromVersion: V(1), ToVersion: V(2),
		Pending: []Migration{{Version: 2, Name: "002_\x1b", Statements: []string{"SELECT '\x1b[1m'"}, Note: "n\x1b"}},
	}, {
		Name: "drifted", Status: StatusDrifted, FromVersion: V(1), ToVersion: V(1),
		Findings: []Finding{{Kind: "schema", Object: "table x\x1b", Detail: "unexpected\x1b"}},
	}})
	rep.Notes = []string{"note\x1b"}
	var b bytes.Buffer
	if err := WriteTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, r := range out {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			t.Fatalf("control character %U reached the table:\n%q", r, out)
		}
	}
	if !strings.Contains(out, `evil\x1b[2J`) || !strings.Contains(out, `boom\x1b[31m red\r`) {
		t.Errorf("escapes are not readable:\n%s", out)
	}
	b.Reset()
	if err := WriteTargets(&b, FormatTable, []TargetInfo{{Name: "a\x1b", Labels: map[string]string{"k": "v\x1b[1m"}, DSN: "postgres://h/a", Origin: "f.yaml:3"}}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsRune(b.String(), 0x1b) || !strings.Contains(b.String(), `k=v\x1b[1m`) || !strings.Contains(b.String(), "1 target\n") {
		t.Errorf("targets table: %q", b.String())
	}
}

// TestGroupedPlanKeepsStatements: plan --sql over a big fleet still shows
// the statements, once per group.
func TestGroupedPlanKeepsStatements(t *testing.T) {
	var targets []Target
	for i := range 40 {
		targets = append(targets, Target{Name: fmt.Sprintf("t%02d", i), Status: StatusPending, FromVersion: V(4), ToVersion: V(2),
			Revert: []Migration{{Version: 4, Name: "004_d", Statements: []string{"DROP TABLE d"}}, {Version: 3, Name: "003_c", Statements: []string{"DROP TABLE c"}}}})
	}
	var b bytes.Buffer
	if err := WriteTable(&b, New("plan", time.Now(), time.Second, targets)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"40 pending 4→2", "t00 and 39 more like it (from 4 down to 2):", "DROP TABLE d;", "DROP TABLE c;"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "DROP TABLE d") != 1 {
		t.Errorf("statements repeated:\n%s", out)
	}
	b.Reset()
	if err := WriteMarkdown(&b, New("plan", time.Now(), time.Second, targets[:1])); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Downs from version 4 to 2") || !strings.Contains(b.String(), "DROP TABLE d;") {
		t.Errorf("markdown plan of downs:\n%s", b.String())
	}
}
