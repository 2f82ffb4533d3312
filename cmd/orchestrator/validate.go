package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/lint"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// Rules of the findings validate adds to the lint's: a fleet file or a
// migration set that cannot be used at all.
const (
	ruleFleet        = "fleet"
	ruleMigrationSet = "migration-set"
)

// builtinDir names the migration set built into the binary in output.
const builtinDir = "(built-in)"

// validation is what validate found: the model both renderers print.
type validation struct {
	SchemaVersion int             `json:"schema_version"`
	Command       string          `json:"command"`
	Fleet         *checkedFleet   `json:"fleet"` // null when no fleet was given
	Migrations    checkedSet      `json:"migrations"`
	Summary       validateSummary `json:"summary"`
	Findings      []lint.Finding  `json:"findings"`
	Notes         []validateNote  `json:"notes"`
}

// validateNote is something validate says about the set that needs no
// change: it never fails validation, --strict included.
type validateNote struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// wrapperNotes says which sections are wrapped in BEGIN ... COMMIT and will
// run without the wrapper, in the tool's transaction.
func wrapperNotes(dir string, set *source.Set) []validateNote {
	var out []validateNote
	for _, m := range set.Migrations {
		for _, sec := range []struct {
			wrapped bool
			file    string
			text    string
			line    int
			name    string
		}{{m.UpWrapped, m.UpFile, m.Up, m.UpLine, "up"}, {m.DownWrapped, m.DownFile, m.Down, m.DownLine, "down"}} {
			if !sec.wrapped {
				continue
			}
			line := sec.line
			if scan, err := source.FindTxControl(sec.text, sec.line); err == nil && len(scan.Found) > 0 {
				line = scan.Found[0].Line
			}
			out = append(out, validateNote{File: setFilePath(dir, sec.file), Line: line, Message: fmt.Sprintf(
				"the %s section is wrapped in BEGIN ... COMMIT: the wrapper is dropped and the body runs in the tool's own "+
					"transaction, with its version row (the checksum stays that of the file as written)", sec.name)})
		}
	}
	return out
}

type checkedFleet struct {
	Path    string `json:"path,omitempty"` // "" for --dsn / DATABASE_URL
	Targets int    `json:"targets"`        // selected targets; 0 when the fleet is not valid
}

type checkedSet struct {
	Dir      string  `json:"dir"`
	Layout   string  `json:"layout,omitempty"` // "" when the set is not valid
	Versions []int64 `json:"versions"`
}

type validateSummary struct {
	OK       bool `json:"ok"`
	Errors   int  `json:"errors"`
	Warnings int  `json:"warnings"`
	Strict   bool `json:"strict"` // warnings count as errors
}

// runValidate checks the fleet (when one is given), the migration set and
// the migrations' SQL, offline: it opens no connection. Every problem is a
// finding on stdout, with file and line; errors (and, with strict,
// warnings) exit 2.
func runValidate(ctx context.Context, o runOptions, strict bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	format, err := report.ParseFormat(o.format)
	if err != nil {
		return usageError{err.Error()}
	}
	if format != report.FormatTable && format != report.FormatJSON {
		return usagef("validate writes --format table or json, not %s", format)
	}
	v := &validation{SchemaVersion: 1, Command: "validate", Findings: []lint.Finding{}, Notes: []validateNote{}}

	if fleetGiven(o) {
		fl, err := loadFleet(o)
		var fe *fleet.Error
		switch {
		case errors.As(err, &fe):
			v.Fleet = &checkedFleet{Path: fe.Path}
			v.Findings = append(v.Findings, fleetFindings(fe)...)
		case err != nil:
			return err // a usage error: --fleet with --dsn, a bad --select, ...
		default:
			v.Fleet = &checkedFleet{Path: fl.Path, Targets: len(fl.Targets)}
		}
	}

	v.Migrations = checkedSet{Dir: o.migrationsDir, Versions: []int64{}}
	if o.migrationsDir == "" {
		v.Migrations.Dir = builtinDir
	}
	set, err := loadSet(o.migrationsDir)
	var se *source.Error
	switch {
	case errors.As(err, &se):
		v.Findings = append(v.Findings, setFindings(o.migrationsDir, se)...)
	case err != nil:
		return err // the directory does not exist, or is a file
	default:
		v.Migrations.Layout = string(set.Layout)
		v.Migrations.Versions = set.Versions()
		if notes := wrapperNotes(o.migrationsDir, set); notes != nil {
			v.Notes = notes
		}
		for _, f := range lint.Check(set) {
			f.File = setFilePath(o.migrationsDir, f.File)
			v.Findings = append(v.Findings, f)
		}
	}

	for _, f := range v.Findings {
		if f.Severity == lint.SeverityError {
			v.Summary.Errors++
		} else {
			v.Summary.Warnings++
		}
	}
	v.Summary.Strict = strict
	v.Summary.OK = v.Summary.Errors == 0 && (!strict || v.Summary.Warnings == 0)

	if format == report.FormatJSON {
		err = writeValidationJSON(o.stdout, v)
	} else {
		err = writeValidationTable(o.stdout, v)
	}
	if err != nil {
		fmt.Fprintf(o.stderr, "error: writing the report to stdout: %v\n", err)
		return exitError{exitFailed}
	}
	if !v.Summary.OK {
		msg := fmt.Sprintf("validate: %s", nounCount(v.Summary.Errors, "error"))
		if strict && v.Summary.Warnings > 0 {
			msg += fmt.Sprintf(" and %s (--strict counts them as errors)", nounCount(v.Summary.Warnings, "warning"))
		}
		fmt.Fprintln(o.stderr, msg+": see the findings on stdout")
		return exitError{exitUsage}
	}
	return nil
}

// fleetGiven reports whether the command line or the environment names
// targets; validate without them checks the migration set alone.
func fleetGiven(o runOptions) bool {
	if o.fleetPath != "" || o.dsn != "" {
		return true
	}
	for _, name := range []string{"ORCH_FLEET", "DATABASE_URL"} {
		if v, ok := o.lookup(name); ok && v != "" {
			return true
		}
	}
	return false
}

// fleetFindings turns a fleet file's problems into error findings. Their
// messages never contain a DSN (package fleet builds them from fixed text).
func fleetFindings(fe *fleet.Error) []lint.Finding {
	file := fe.Path
	if file == "" {
		file = "--dsn"
	}
	out := make([]lint.Finding, 0, len(fe.Problems))
	for _, p := range fe.Problems {
		out = append(out, lint.Finding{File: file, Line: p.Line, Rule: ruleFleet, Severity: lint.SeverityError, Message: p.Msg})
	}
	return out
}

// setFindings turns a migration set's problems into error findings.
func setFindings(dir string, se *source.Error) []lint.Finding {
	out := make([]lint.Finding, 0, len(se.Problems))
	for _, p := range se.Problems {
		out = append(out, lint.Finding{File: setFilePath(dir, p.File), Line: p.Line, Rule: ruleMigrationSet, Severity: lint.SeverityError, Message: p.Msg})
	}
	return out
}

// setFilePath is the path to show for file of the set in dir: one an editor
// opens from the working directory.
func setFilePath(dir, file string) string {
	switch {
	case dir == "" && file == "":
		return builtinDir
	case dir == "":
		return file
	default:
		return filepath.Join(dir, filepath.FromSlash(file))
	}
}

// writeValidationTable prints one line per finding, "FILE:LINE  SEVERITY
// RULE  MESSAGE", then what was checked and the result.
func writeValidationTable(w io.Writer, v *validation) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range v.Findings {
		loc := f.File
		if f.Line > 0 {
			loc = fmt.Sprintf("%s:%d", f.File, f.Line)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", loc, f.Severity, f.Rule, f.Message)
	}
	for _, n := range v.Notes {
		fmt.Fprintf(tw, "%s:%d\tnote\ttx-wrapper\t%s\n", n.File, n.Line, n.Message)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(v.Findings)+len(v.Notes) > 0 {
		fmt.Fprintln(w)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	switch {
	case v.Fleet == nil:
		fmt.Fprintln(tw, "fleet\tnone given: only the migration set was checked")
	case v.Fleet.Targets == 0:
		fmt.Fprintf(tw, "fleet\t%s: not valid\n", fleetLabel(v.Fleet))
	default:
		fmt.Fprintf(tw, "fleet\t%s: %s\n", fleetLabel(v.Fleet), nounCount(v.Fleet.Targets, "target"))
	}
	if v.Migrations.Layout == "" {
		fmt.Fprintf(tw, "migrations\t%s: not valid\n", v.Migrations.Dir)
	} else {
		vs := v.Migrations.Versions
		fmt.Fprintf(tw, "migrations\t%s: %s layout, %s, latest %d\n", v.Migrations.Dir, v.Migrations.Layout,
			nounCount(len(vs), "migration"), vs[len(vs)-1])
	}
	result := "ok"
	if !v.Summary.OK {
		result = "failed"
	}
	counts := nounCount(v.Summary.Errors, "error") + ", " + nounCount(v.Summary.Warnings, "warning")
	if v.Summary.Strict {
		counts += " (--strict: warnings count as errors)"
	}
	fmt.Fprintf(tw, "result\t%s: %s\n", result, counts)
	return tw.Flush()
}

func fleetLabel(f *checkedFleet) string {
	if f.Path == "" {
		return "--dsn"
	}
	return f.Path
}

func writeValidationJSON(w io.Writer, v *validation) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func nounCount(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// runNew scaffolds the next migration called name in the --migrations
// directory, in the directory's own layout (goose for an empty or new
// directory), and prints the paths of the files it created.
func runNew(ctx context.Context, o runOptions, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if strings.TrimSpace(name) == "" {
		return usagef("new needs a NAME for the migration, as in: orchestrator new --migrations DIR add_users_email_index")
	}
	dir := o.migrationsDir
	if dir == "" {
		return usagef("new needs --migrations DIR (or ORCH_MIGRATIONS): the set built into the binary cannot be written to")
	}
	var existing *source.Set
	hasSQL, err := hasSQLFiles(dir)
	if err != nil {
		return usagef("--migrations %s: %v", dir, err)
	}
	if hasSQL {
		// Numbering after a broken set would guess; show what to fix.
		if existing, err = loadSet(dir); err != nil {
			return err
		}
	}
	paths, err := source.Scaffold(dir, source.LayoutGoose, existing, name, time.Now())
	if err != nil {
		return fmt.Errorf("new: %w", err)
	}
	for _, p := range paths {
		fmt.Fprintln(o.stdout, p)
	}
	if !o.quiet {
		fmt.Fprintf(o.stderr, "write the migration's SQL in place of the placeholders, then check it with: orchestrator validate --migrations %s\n", dir)
	}
	return nil
}

// hasSQLFiles reports whether dir holds a *.sql file, as source.Load reads
// them; a directory that does not exist yet has none.
func hasSQLFiles(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sql") {
			return true, nil
		}
	}
	return false, nil
}
