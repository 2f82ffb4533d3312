package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// The JUnit XML shapes, as Jenkins, GitLab and the GitHub test reporters read
// them (the Ant/Surefire dialect): one suite per run, one case per target.
// Child elements are declared in the order the schema wants them.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
	SystemOut junitText   `xml:"system-out,omitempty"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitOutcome `xml:"skipped,omitempty"`
	Error     *junitOutcome `xml:"error,omitempty"`
	Failure   *junitOutcome `xml:"failure,omitempty"`
	SystemOut junitText     `xml:"system-out,omitempty"`
}

// junitOutcome is a <failure>, <error> or <skipped> element: a one-line
// message and type, and the full account as its text.
type junitOutcome struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// MarshalXML writes the element like encoding/xml would, except that
// newlines in the text stay literal (encoding/xml writes &#xA; for them in
// chardata fields), so the raw file reads well in a CI log.
func (o junitOutcome) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	start.Attr = nil
	if o.Message != "" {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "message"}, Value: o.Message})
	}
	if o.Type != "" {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Local: "type"}, Value: o.Type})
	}
	return encodeText(e, start, o.Text)
}

// junitText is character data with literal newlines (see junitOutcome).
type junitText string

// MarshalXML writes t as the element's escaped text.
func (t junitText) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return encodeText(e, start, string(t))
}

func encodeText(e *xml.Encoder, start xml.StartElement, text string) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if text != "" {
		if err := e.EncodeToken(xml.CharData(text)); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// WriteJUnit renders r as JUnit XML, one test case per target, so a CI
// system shows each tenant as a test: applied, up_to_date, pending and clean
// pass; rolled_back, failed, locked and drifted fail; error (a target drift
// could not inspect) is an error; skipped and cancelled are skipped. Every
// text is escaped by encoding/xml, after dropping the characters XML 1.0
// cannot carry.
func WriteJUnit(w io.Writer, r *Report) error {
	suiteName := "orchestrator " + r.Command
	suite := junitSuite{
		Name:      printable(suiteName),
		Tests:     len(r.Targets),
		Time:      seconds(r.DurationMS),
		Timestamp: junitTimestamp(r),
		SystemOut: junitText(printable(strings.Join(r.Notes, "\n"))),
	}
	for _, t := range r.Targets {
		c := junitTestCase(r.Command, t)
		switch {
		case c.Failure != nil:
			suite.Failures++
		case c.Error != nil:
			suite.Errors++
		case c.Skipped != nil:
			suite.Skipped++
		}
		suite.Cases = append(suite.Cases, c)
	}
	return encodeJUnit(w, junitSuites{
		Name: suite.Name, Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite},
	})
}

// junitTimestamp is the run's start in the schema's format: UTC, without a
// zone designator (the Ant schema allows none).
func junitTimestamp(r *Report) string {
	if r.StartedAt.IsZero() {
		return ""
	}
	return r.StartedAt.UTC().Format("2006-01-02T15:04:05")
}

// junitTestCase maps one target to its test case.
func junitTestCase(command string, t Target) junitCase {
	class := "orchestrator." + command
	if t.Wave != "" {
		class += "." + t.Wave
	}
	c := junitCase{Classname: printable(class), Name: printable(t.Name), Time: seconds(t.DurationMS)}
	body := strings.Join(outcomeLines(t), "\n")
	kind := string(t.Status)
	if t.Error != nil && t.Error.Class != "" {
		kind += "/" + t.Error.Class
	}
	kind = printable(kind)
	switch t.Status {
	case StatusApplied, StatusUpToDate, StatusPending, StatusClean, StatusReverted:
		c.SystemOut = junitText(printable(passOutput(t)))
	case StatusRolledBack, StatusFailed, StatusLocked, StatusUnadopted:
		c.Failure = &junitOutcome{Message: headline(t), Type: kind, Text: body}
	case StatusDrifted:
		c.Failure = &junitOutcome{
			Message: fmt.Sprintf("%d drift finding(s)", len(t.Findings)), Type: kind, Text: body}
	case StatusSkipped, StatusCancelled:
		c.Skipped = &junitOutcome{Message: headline(t)}
		c.SystemOut = junitText(body)
	default: // StatusError, and any status this renderer does not know
		msg := headline(t)
		if _, known := statusMeanings[t.Status]; !known && t.Error == nil {
			msg = "unknown status " + printable(string(t.Status))
		}
		c.Error = &junitOutcome{Message: msg, Type: kind, Text: body}
	}
	return c
}

// passOutput lists, for a passing target, the migrations it applied or has
// pending, one per line, with a plan's rehearsal notes.
func passOutput(t Target) string {
	var lines []string
	for _, m := range t.Applied {
		line := "applied " + migrationName(m.Version, m.Name)
		if m.DurationMS != nil {
			line += " in " + formatMS(*m.DurationMS)
		}
		lines = append(lines, line)
	}
	if t.Status == StatusReverted {
		for _, m := range t.Reverted {
			lines = append(lines, "reverted "+migrationName(m.Version, m.Name))
		}
	}
	for _, m := range t.Revert {
		lines = append(lines, "would revert "+migrationName(m.Version, m.Name))
	}
	for _, m := range t.Pending {
		line := "pending " + migrationName(m.Version, m.Name)
		if m.Note != "" {
			line += ": " + m.Note
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// encodeJUnit writes the XML declaration and the document, indented, with a
// final newline.
func encodeJUnit(w io.Writer, doc junitSuites) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// writeTargetsJUnit renders the resolved target list as one passing test
// case per target, so `targets --format junit` still yields a valid file.
func writeTargetsJUnit(w io.Writer, list []TargetInfo) error {
	suite := junitSuite{Name: "orchestrator targets", Tests: len(list), Time: seconds(0)}
	for _, t := range list {
		out := fmt.Sprintf("dsn: %s\nlabels: %s\norigin: %s", t.DSN, labelString(t.Labels), t.Origin)
		suite.Cases = append(suite.Cases, junitCase{
			Classname: "orchestrator.targets", Name: printable(t.Name), Time: seconds(0),
			SystemOut: junitText(printable(out)),
		})
	}
	return encodeJUnit(w, junitSuites{Name: suite.Name, Tests: suite.Tests, Time: suite.Time, Suites: []junitSuite{suite}})
}
