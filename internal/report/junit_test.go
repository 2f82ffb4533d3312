package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

// parseJUnit decodes a JUnit document strictly, failing the test on any
// error, and checks what every CI importer relies on: the declaration, one
// suite, and counts that agree with the cases.
func parseJUnit(t *testing.T, data []byte) junitSuites {
	t.Helper()
	if !bytes.HasPrefix(data, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("no XML declaration: %.60q", data)
	}
	var doc junitSuites
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("not valid XML: %v\n%s", err, data)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d testsuite elements, want 1", len(doc.Suites))
	}
	s := doc.Suites[0]
	var failures, errs, skipped int
	for _, c := range s.Cases {
		n := 0
		if c.Failure != nil {
			failures++
			n++
		}
		if c.Error != nil {
			errs++
			n++
		}
		if c.Skipped != nil {
			skipped++
			n++
		}
		if n > 1 {
			t.Errorf("case %q has %d outcomes", c.Name, n)
		}
	}
	if s.Tests != len(s.Cases) || s.Failures != failures || s.Errors != errs || s.Skipped != skipped {
		t.Errorf("suite counts tests=%d failures=%d errors=%d skipped=%d; cases say %d/%d/%d/%d",
			s.Tests, s.Failures, s.Errors, s.Skipped, len(s.Cases), failures, errs, skipped)
	}
	if doc.Tests != s.Tests || doc.Failures != s.Failures || doc.Errors != s.Errors || doc.Skipped != s.Skipped || doc.Time != s.Time || doc.Name != s.Name {
		t.Errorf("testsuites %+v disagrees with its testsuite", doc)
	}
	return doc
}

func TestJUnitOneCasePerTarget(t *testing.T) {
	for name, r := range map[string]*Report{
		"up": sample(), "waves": waveSample(), "drift": driftSample(), "plan": planSample(),
		"empty": New("status", started, 0, nil),
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteJUnit(&buf, r); err != nil {
				t.Fatal(err)
			}
			doc := parseJUnit(t, buf.Bytes())
			s := doc.Suites[0]
			if s.Name != "orchestrator "+r.Command {
				t.Errorf("suite name %q", s.Name)
			}
			if len(s.Cases) != len(r.Targets) {
				t.Fatalf("%d test cases for %d targets", len(s.Cases), len(r.Targets))
			}
			for i, c := range s.Cases {
				tg := r.Targets[i]
				wantClass := "orchestrator." + r.Command
				if tg.Wave != "" {
					wantClass += "." + tg.Wave
				}
				if c.Name != tg.Name || c.Classname != wantClass {
					t.Errorf("case %d: %s/%s, want %s/%s", i, c.Classname, c.Name, wantClass, tg.Name)
				}
			}
		})
	}
}

// TestJUnitStatusMapping pins which element each status becomes.
func TestJUnitStatusMapping(t *testing.T) {
	e := &Error{Class: "boom", SQLState: "XX000", Message: "it broke"}
	cases := []struct {
		status Status
		err    *Error
		want   string // element name, "" for a pass
		typ    string
	}{
		{StatusApplied, nil, "", ""},
		{StatusUpToDate, nil, "", ""},
		{StatusPending, nil, "", ""},
		{StatusClean, nil, "", ""},
		{StatusRolledBack, e, "failure", "rolled_back/boom"},
		{StatusFailed, e, "failure", "failed/boom"},
		{StatusLocked, nil, "failure", "locked"},
		{StatusDrifted, nil, "failure", "drifted"},
		{StatusError, e, "error", "error/boom"},
		{StatusSkipped, nil, "skipped", ""},
		{StatusCancelled, nil, "skipped", ""},
		{Status("exploded"), nil, "error", "exploded"},
	}
	for _, tc := range cases {
		t.Run(string(tc.status), func(t *testing.T) {
			tg := Target{Name: "acme", Status: tc.status, Error: tc.err}
			if tc.status == StatusDrifted {
				tg.Findings = []Finding{{Kind: "schema", Object: "table users", Detail: "missing"}}
			}
			var buf bytes.Buffer
			if err := WriteJUnit(&buf, New("up", started, 0, []Target{tg})); err != nil {
				t.Fatal(err)
			}
			c := parseJUnit(t, buf.Bytes()).Suites[0].Cases[0]
			got, typ, msg := "", "", ""
			switch {
			case c.Failure != nil:
				got, typ, msg = "failure", c.Failure.Type, c.Failure.Message
			case c.Error != nil:
				got, typ, msg = "error", c.Error.Type, c.Error.Message
			case c.Skipped != nil:
				got, typ, msg = "skipped", c.Skipped.Type, c.Skipped.Message
			}
			if got != tc.want || typ != tc.typ {
				t.Errorf("got <%s type=%q>, want <%s type=%q>", got, typ, tc.want, tc.typ)
			}
			if got != "" && msg == "" {
				t.Errorf("<%s> has no message", got)
			}
			if tc.status == StatusDrifted && (msg != "1 drift finding(s)" || strings.TrimSpace(c.Failure.Text) != "schema: table users missing") {
				t.Errorf("drifted: message %q, body %q", msg, c.Failure.Text)
			}
		})
	}
}

// TestJUnitEscaping: markup characters survive a round trip, characters XML
// 1.0 cannot carry are dropped rather than breaking the file.
func TestJUnitEscaping(t *testing.T) {
	name := `a<b&c"d'e>]]>f`
	r := New("up", started, time.Second, []Target{{
		Name: name, Wave: `w"1`, Status: StatusRolledBack,
		Error: &Error{Class: "syntax", Message: "bad\x00 byte\x1b[31m here\x07\ttab\nline2 </failure> \uFFFE", Remedy: "]]> & <!-- -->"},
	}})
	r.Notes = []string{"note \x01 with <xml/>"}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"\x00", "\x1b", "\x07", "\x01", "\uFFFE"} {
		if bytes.Contains(buf.Bytes(), []byte(bad)) {
			t.Errorf("output contains %q", bad)
		}
	}
	doc := parseJUnit(t, buf.Bytes())
	c := doc.Suites[0].Cases[0]
	if c.Name != name || c.Classname != `orchestrator.up.w"1` {
		t.Errorf("name %q class %q, want %q", c.Name, c.Classname, name)
	}
	if c.Failure == nil {
		t.Fatalf("no failure: %s", buf.Bytes())
	}
	wantMsg := "bad byte[31m here\ttab\nline2 </failure> "
	if c.Failure.Message != wantMsg {
		t.Errorf("message %q, want %q", c.Failure.Message, wantMsg)
	}
	if !strings.HasPrefix(c.Failure.Text, wantMsg+"\n") || !strings.Contains(c.Failure.Text, "remedy: ]]> & <!-- -->") {
		t.Errorf("body %q", c.Failure.Text)
	}
	if got := string(doc.Suites[0].SystemOut); got != "note  with <xml/>" {
		t.Errorf("suite system-out %q", got)
	}
}

func TestJUnitTargets(t *testing.T) {
	var buf bytes.Buffer
	list := append(targetsSample(), TargetInfo{Name: "x<&>\x02"})
	if err := WriteTargets(&buf, FormatJUnit, list); err != nil {
		t.Fatal(err)
	}
	s := parseJUnit(t, buf.Bytes()).Suites[0]
	if len(s.Cases) != len(list) || s.Failures+s.Errors+s.Skipped != 0 {
		t.Errorf("%d cases (%d failures, %d errors, %d skipped) for %d targets", len(s.Cases), s.Failures, s.Errors, s.Skipped, len(list))
	}
	if s.Cases[2].Name != "x<&>" {
		t.Errorf("name %q", s.Cases[2].Name)
	}
}
