package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Severity says how much a diagnostic weighs: whether it makes validate
// fail.
type Severity string

const (
	// SeverityError: the migration will fail, or was never finished.
	SeverityError Severity = "error"
	// SeverityWarning: the migration works, but may hurt in production;
	// validate --strict fails on it.
	SeverityWarning Severity = "warning"
	// SeverityNote: worth knowing; never makes validate fail.
	SeverityNote Severity = "note"
)

// FormatGitHub is validate's extra --format: GitHub Actions workflow
// commands, one annotation per diagnostic, so a pull request shows each
// finding on its line.
const FormatGitHub Format = "github"

// Diagnostic is one finding about an input file: where it is, which rule,
// how bad, and what to do about it. validate reports the fleet file's, the
// migration set's and the lint's findings as diagnostics, in every format.
type Diagnostic struct {
	// File is the file the diagnostic is about, as a path an editor opens.
	File string `json:"file"`
	// Line is the 1-based line in File; 0 when the finding is about the
	// whole file.
	Line     int      `json:"line"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String formats d as "file:line: severity: rule: message".
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s:%d: %s: %s: %s", d.File, d.Line, d.Severity, d.Rule, d.Message)
}

// Location is "file:line", or the file alone when the line is not known.
func (d Diagnostic) Location() string {
	if d.Line > 0 {
		return d.File + ":" + strconv.Itoa(d.Line)
	}
	return d.File
}

// DiagnosticSummary is the verdict the diagnostics add up to.
type DiagnosticSummary struct {
	Command  string // "validate"
	OK       bool
	Errors   int
	Warnings int
	Notes    int
	Strict   bool // warnings count as errors
}

// Fails reports whether d counts against the summary's verdict.
func (s DiagnosticSummary) Fails(d Diagnostic) bool {
	return d.Severity == SeverityError || (s.Strict && d.Severity == SeverityWarning)
}

func (s DiagnosticSummary) counts() string {
	out := fmt.Sprintf("%s, %s, %s", plural(s.Errors, "error"), plural(s.Warnings, "warning"), plural(s.Notes, "note"))
	if s.Strict {
		out += " (--strict: warnings count as errors)"
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// WriteDiagnosticsJUnit renders ds as one JUnit suite with one test case
// per diagnostic (named by rule and location); the diagnostics that fail
// the summary are failures, the others pass with the message as output. With
// no diagnostic there is one passing case, so the file is never empty.
func WriteDiagnosticsJUnit(w io.Writer, s DiagnosticSummary, ds []Diagnostic) error {
	suite := junitSuite{Name: "orchestrator " + s.Command, Time: seconds(0)}
	for _, d := range ds {
		c := junitCase{
			Classname: "orchestrator." + s.Command + "." + printable(d.Rule),
			Name:      printable(d.Location() + " " + d.Rule), Time: seconds(0),
		}
		text := printable(fmt.Sprintf("%s: %s: %s", d.Location(), d.Severity, d.Message))
		if s.Fails(d) {
			c.Failure = &junitOutcome{Message: printable(firstLine(d.Message)), Type: string(d.Severity), Text: text}
			suite.Failures++
		} else {
			c.SystemOut = junitText(text)
		}
		suite.Cases = append(suite.Cases, c)
	}
	if len(suite.Cases) == 0 {
		suite.Cases = append(suite.Cases, junitCase{Classname: "orchestrator." + s.Command, Name: "no findings", Time: seconds(0)})
	}
	suite.Tests = len(suite.Cases)
	return encodeJUnit(w, junitSuites{Name: suite.Name, Tests: suite.Tests, Failures: suite.Failures, Time: suite.Time,
		Suites: []junitSuite{suite}})
}

// WriteDiagnosticsMarkdown renders ds as a pull-request comment: a heading
// with the verdict and counts, then one table row per diagnostic, every
// cell escaped.
func WriteDiagnosticsMarkdown(w io.Writer, s DiagnosticSummary, ds []Diagnostic) error {
	bw := bufio.NewWriter(w)
	verdict := "ok"
	if !s.OK {
		verdict = "failed"
	}
	fmt.Fprintf(bw, "### orchestrator %s: %s, %s\n\n", mdText(s.Command), verdict, mdText(s.counts()))
	if len(ds) == 0 {
		bw.WriteString("_No findings._\n")
		return bw.Flush()
	}
	mdRow(bw, []string{"Location", "Severity", "Rule", "Message"})
	mdRow(bw, []string{"---", "---", "---", "---"})
	for _, d := range ds {
		mdRow(bw, []string{mdCode(d.Location()), mdText(string(d.Severity)), mdCode(d.Rule), mdText(d.Message)})
	}
	return bw.Flush()
}

// WriteDiagnosticsGitHub renders ds as GitHub Actions workflow commands
// ("::warning file=F,line=L,title=RULE::MESSAGE"; notes are ::notice), one
// line each, escaped as the runner requires so a message cannot end the
// command or start another.
func WriteDiagnosticsGitHub(w io.Writer, s DiagnosticSummary, ds []Diagnostic) error {
	bw := bufio.NewWriter(w)
	for _, d := range ds {
		level := "warning"
		switch d.Severity {
		case SeverityError:
			level = "error"
		case SeverityNote:
			level = "notice"
		}
		props := "file=" + ghProperty(d.File)
		if d.Line > 0 {
			props += ",line=" + strconv.Itoa(d.Line)
		}
		props += ",title=" + ghProperty(d.Rule)
		fmt.Fprintf(bw, "::%s %s::%s\n", level, props, ghData(string(d.Severity)+": "+d.Message))
	}
	return bw.Flush()
}

var (
	ghDataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	ghPropertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func ghData(s string) string     { return ghDataEscaper.Replace(printable(s)) }
func ghProperty(s string) string { return ghPropertyEscaper.Replace(printable(s)) }

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
