package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Severity says how much a diagnostic weighs: whether it makes validate
// fail.
type Severity string

const (
	// SeverityError: the input cannot be used: the fleet file or the
	// migration set is not valid, or a migration will fail or was never
	// finished.
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

// Diagnostic is one thing wrong with an input file: where it is, which
// rule, how bad, and what to do about it. The fleet file's problems, the
// migration set's and the lint's findings are all diagnostics; validate
// reports them in every format.
type Diagnostic struct {
	// File is the file the diagnostic is about, as a path an editor opens
	// (packages that read a file relative to a directory leave the
	// directory to the caller).
	File string `json:"file"`
	// Line is the 1-based line in File; 0 when the diagnostic is about the
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

// Validation is what validate found: what it checked and the diagnostics,
// the model every --format of validate renders.
type Validation struct {
	SchemaVersion int           `json:"schema_version"`
	Command       string        `json:"command"`
	Fleet         *CheckedFleet `json:"fleet"` // null when no fleet was given
	Migrations    CheckedSet    `json:"migrations"`
	// Since is --since: only migrations above it were linted; omitted when 0.
	Since int64 `json:"since,omitempty"`
	// Servers is what --probe-versions found; omitted without it.
	Servers  []ServerVersion   `json:"servers,omitempty"`
	Summary  DiagnosticSummary `json:"summary"`
	Findings []Diagnostic      `json:"findings"`
}

// CheckedFleet is the fleet validate checked.
type CheckedFleet struct {
	Path    string `json:"path,omitempty"` // "" for --dsn / DATABASE_URL
	Targets int    `json:"targets"`        // selected targets; 0 when the fleet is not valid
	// Discover is the number of discovery entries (not run: validate is
	// offline).
	Discover int `json:"discover,omitempty"`
}

// Label names the fleet in output: its path, or --dsn.
func (f *CheckedFleet) Label() string {
	if f.Path == "" {
		return "--dsn"
	}
	return f.Path
}

// CheckedSet is the migration set validate checked.
type CheckedSet struct {
	Dir      string  `json:"dir"`
	Layout   string  `json:"layout,omitempty"` // "" when the set is not valid
	Versions []int64 `json:"versions"`
}

// ServerVersion is what one server of a fleet reported when asked its
// version: validate --probe-versions lints for the versions found.
type ServerVersion struct {
	// Server is "host:port" (the first host when the DSN lists fallbacks).
	Server string `json:"server"`
	// Origin is where the first target or discovery entry on that server
	// was defined.
	Origin string `json:"origin"`
	// Version is server_version_num (150020 for 15.20); 0 when Err is set.
	Version int `json:"version,omitempty"`
	// Err says why the version could not be read, scrubbed of the DSN.
	Err string `json:"error,omitempty"`
}

// DiagnosticSummary is the verdict the diagnostics add up to.
type DiagnosticSummary struct {
	OK       bool `json:"ok"`
	Errors   int  `json:"errors"`
	Warnings int  `json:"warnings"`
	Notes    int  `json:"notes"`
	Strict   bool `json:"strict"` // warnings count as errors
}

// Fails reports whether d counts against the summary's verdict.
func (s DiagnosticSummary) Fails(d Diagnostic) bool {
	return d.Severity == SeverityError || (s.Strict && d.Severity == SeverityWarning)
}

// Tally counts v's findings by severity into its summary and sets the
// verdict: no error and, when strict, no warning.
func (v *Validation) Tally(strict bool) {
	s := DiagnosticSummary{Strict: strict}
	for _, d := range v.Findings {
		switch d.Severity {
		case SeverityError:
			s.Errors++
		case SeverityNote:
			s.Notes++
		default:
			s.Warnings++
		}
	}
	s.OK = s.Errors == 0 && (!strict || s.Warnings == 0)
	v.Summary = s
}

func (s DiagnosticSummary) counts() string {
	out := fmt.Sprintf("%s, %s, %s", Plural(s.Errors, "error"), Plural(s.Warnings, "warning"), Plural(s.Notes, "note"))
	if s.Strict {
		out += " (--strict: warnings count as errors)"
	}
	return out
}

// WriteValidation renders v in format f: json, junit, markdown, github, or
// else (table, csv) the table.
func WriteValidation(w io.Writer, f Format, v *Validation) error {
	switch f {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case FormatJUnit:
		return writeValidationJUnit(w, v)
	case FormatMarkdown:
		return writeValidationMarkdown(w, v)
	case FormatGitHub:
		return writeValidationGitHub(w, v)
	}
	return writeValidationTable(w, v)
}

// writeValidationTable prints one line per diagnostic, "FILE:LINE
// SEVERITY  RULE  MESSAGE", then what was checked and the result.
func writeValidationTable(w io.Writer, v *Validation) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, d := range v.Findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Location(), d.Severity, d.Rule, d.Message)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(v.Findings) > 0 {
		fmt.Fprintln(w)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	switch {
	case v.Fleet == nil:
		fmt.Fprintln(tw, "fleet\tnone given: only the migration set was checked")
	case v.Fleet.Targets == 0 && v.Fleet.Discover == 0:
		fmt.Fprintf(tw, "fleet\t%s: not valid\n", v.Fleet.Label())
	case v.Fleet.Discover > 0:
		fmt.Fprintf(tw, "fleet\t%s: %s, %s (not run: validate is offline)\n", v.Fleet.Label(),
			Plural(v.Fleet.Targets, "listed target"), Plural(v.Fleet.Discover, "discovery source"))
	default:
		fmt.Fprintf(tw, "fleet\t%s: %s\n", v.Fleet.Label(), Plural(v.Fleet.Targets, "target"))
	}
	if v.Migrations.Layout == "" {
		fmt.Fprintf(tw, "migrations\t%s: not valid\n", v.Migrations.Dir)
	} else {
		vs := v.Migrations.Versions
		fmt.Fprintf(tw, "migrations\t%s: %s layout, %s, latest %d\n", v.Migrations.Dir, v.Migrations.Layout,
			Plural(len(vs), "migration"), vs[len(vs)-1])
	}
	if v.Since > 0 {
		fmt.Fprintf(tw, "since\tversion %d: only later migrations were linted\n", v.Since)
	}
	for _, sv := range v.Servers {
		if sv.Err == "" {
			fmt.Fprintf(tw, "server\t%s: server_version_num %d\n", sv.Server, sv.Version)
		}
	}
	result := "ok"
	if !v.Summary.OK {
		result = "failed"
	}
	fmt.Fprintf(tw, "result\t%s: %s\n", result, v.Summary.counts())
	return tw.Flush()
}

// writeValidationJUnit renders v's diagnostics as one JUnit suite with one
// test case per diagnostic (named by location and rule); the diagnostics
// that fail the summary are failures, the others pass with the message as
// output. With no diagnostic there is one passing case, so the file is
// never empty.
func writeValidationJUnit(w io.Writer, v *Validation) error {
	s := v.Summary
	suite := junitSuite{Name: "orchestrator " + v.Command, Time: seconds(0)}
	for _, d := range v.Findings {
		c := junitCase{
			Classname: "orchestrator." + v.Command + "." + printable(d.Rule),
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
		suite.Cases = append(suite.Cases, junitCase{Classname: "orchestrator." + v.Command, Name: "no findings", Time: seconds(0)})
	}
	suite.Tests = len(suite.Cases)
	return encodeJUnit(w, junitSuites{Name: suite.Name, Tests: suite.Tests, Failures: suite.Failures, Time: suite.Time,
		Suites: []junitSuite{suite}})
}

// writeValidationMarkdown renders v as a pull-request comment: a heading
// with the verdict and counts, then one table row per diagnostic, every
// cell escaped.
func writeValidationMarkdown(w io.Writer, v *Validation) error {
	bw := bufio.NewWriter(w)
	verdict := "ok"
	if !v.Summary.OK {
		verdict = "failed"
	}
	fmt.Fprintf(bw, "### orchestrator %s: %s, %s\n\n", mdText(v.Command), verdict, mdText(v.Summary.counts()))
	if len(v.Findings) == 0 {
		bw.WriteString("_No findings._\n")
		return bw.Flush()
	}
	mdRow(bw, []string{"Location", "Severity", "Rule", "Message"})
	mdRow(bw, []string{"---", "---", "---", "---"})
	for _, d := range v.Findings {
		mdRow(bw, []string{mdCode(d.Location()), mdText(string(d.Severity)), mdCode(d.Rule), mdText(d.Message)})
	}
	return bw.Flush()
}

// writeValidationGitHub renders v's diagnostics as GitHub Actions workflow
// commands ("::warning file=F,line=L,title=RULE::MESSAGE"; notes are
// ::notice), one line each, escaped as the runner requires so a message
// cannot end the command or start another.
func writeValidationGitHub(w io.Writer, v *Validation) error {
	bw := bufio.NewWriter(w)
	for _, d := range v.Findings {
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
