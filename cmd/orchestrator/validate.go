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

	"github.com/urfave/cli/v2"

	"github.com/orchestrator-dev/orchestrator/internal/discovery"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/lint"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// Rules of the findings validate adds to the lint's: a fleet file or a
// migration set that cannot be used at all, a server --probe-versions could
// not ask.
const (
	ruleFleet        = "fleet"
	ruleMigrationSet = "migration-set"
	ruleProbe        = "probe-versions"
)

// validateOpts are validate's own flags.
type validateOpts struct {
	strict bool  // warnings count as errors
	since  int64 // lint only migrations above this version
	probe  bool  // --probe-versions: ask each server of the fleet its version
}

// validateFlags are the flags validate adds to the common ones.
func validateFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "strict", Usage: "warnings count as errors (exit 2); notes never do"},
		&cli.Int64Flag{Name: "since", Usage: "lint only migrations after version `V` (older ones are history); batch rules see the batch a target at V receives"},
		&cli.BoolFlag{Name: "probe-versions", Usage: "connect once to each server of the --fleet, read server_version_num, and flag statements that behave differently on the versions found (the only mode of validate that connects)"},
	}
}

// validateOptsFrom reads validate's own flags.
func validateOptsFrom(c *cli.Context) validateOpts {
	return validateOpts{strict: c.Bool("strict"), since: c.Int64("since"), probe: c.Bool("probe-versions")}
}

// builtinDir names the migration set built into the binary in output.
const builtinDir = "(built-in)"

// validation is what validate found: the model both renderers print.
type validation struct {
	SchemaVersion int           `json:"schema_version"`
	Command       string        `json:"command"`
	Fleet         *checkedFleet `json:"fleet"` // null when no fleet was given
	Migrations    checkedSet    `json:"migrations"`
	// Since is --since: only migrations above it were linted; omitted when 0.
	Since int64 `json:"since,omitempty"`
	// Servers is what --probe-versions found; omitted without it.
	Servers  []discovery.ServerVersion `json:"servers,omitempty"`
	Summary  validateSummary           `json:"summary"`
	Findings []lint.Finding            `json:"findings"`
}

type checkedFleet struct {
	Path    string `json:"path,omitempty"` // "" for --dsn / DATABASE_URL
	Targets int    `json:"targets"`        // selected targets; 0 when the fleet is not valid
	// Discover is the number of discovery entries (not run: validate is
	// offline).
	Discover int `json:"discover,omitempty"`
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
	Notes    int  `json:"notes"`
	Strict   bool `json:"strict"` // warnings count as errors
}

// runValidate checks the fleet (when one is given), the migration set and
// the migrations' SQL, offline: it opens no connection, unless --probe-versions
// asks each server of the fleet its version. Every problem is a finding on
// stdout, with file and line; errors (and, with strict, warnings) exit 2.
func runValidate(ctx context.Context, o runOptions, vo validateOpts) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	format := report.Format(o.format)
	if format != report.FormatGitHub {
		f, err := report.ParseFormat(o.format)
		if err != nil {
			return usageError{err.Error() + " (validate also writes github)"}
		}
		format = f
	}
	if vo.since < 0 {
		return usagef("--since %d: a version is 0 or more", vo.since)
	}
	if vo.probe && !fleetGiven(o) {
		return usagef("--probe-versions needs --fleet FILE (or --dsn): it asks the fleet's servers their versions")
	}
	v := &validation{SchemaVersion: 1, Command: "validate", Since: vo.since, Findings: []lint.Finding{}}
	lo := lint.Options{Since: vo.since}

	var fl *fleet.Fleet
	if fleetGiven(o) {
		var err error
		fl, err = loadFleetOffline(o)
		var fe *fleet.Error
		switch {
		case errors.As(err, &fe):
			v.Fleet = &checkedFleet{Path: fe.Path}
			v.Findings = append(v.Findings, fleetFindings(fe)...)
			fl = nil
		case err != nil:
			return err // a usage error: --fleet with --dsn, a bad --select, ...
		default:
			v.Fleet = &checkedFleet{Path: fl.Path, Targets: len(fl.Targets), Discover: len(fl.Discover)}
			lo.Fleet = fleetKind(fl)
			lo.SharedSchemas = fl.Defaults.SharedSchemas
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
		if vo.probe && fl != nil {
			v.Servers = discovery.ProbeVersions(ctx, fl)
			for _, sv := range v.Servers {
				if sv.Err != "" {
					v.Findings = append(v.Findings, lint.Finding{File: fleetLabel(v.Fleet), Rule: ruleProbe, Severity: lint.SeverityError,
						Message: fmt.Sprintf("server %s (%s): its version could not be read: %s", sv.Server, sv.Origin, sv.Err)})
					continue
				}
				lo.ServerVersions = append(lo.ServerVersions, sv.Version)
			}
			for _, d := range fl.Discover {
				if d.Query != "" {
					v.Findings = append(v.Findings, lint.Finding{File: fleetLabel(v.Fleet), Line: d.Line, Rule: ruleProbe, Severity: lint.SeverityNote,
						Message: fmt.Sprintf("%s is a catalog query: the servers it lists were not asked their version (validate runs no discovery); "+
							"list one target per server, or run validate where discovery's result is a fleet file", d.Label())})
				}
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		for _, f := range lint.CheckWith(set, lo) {
			f.File = setFilePath(o.migrationsDir, f.File)
			v.Findings = append(v.Findings, f)
		}
	}

	for _, f := range v.Findings {
		switch f.Severity {
		case lint.SeverityError:
			v.Summary.Errors++
		case lint.SeverityNote:
			v.Summary.Notes++
		default:
			v.Summary.Warnings++
		}
	}
	v.Summary.Strict = vo.strict
	v.Summary.OK = v.Summary.Errors == 0 && (!vo.strict || v.Summary.Warnings == 0)

	if err := writeValidation(o.stdout, format, v); err != nil {
		fmt.Fprintf(o.stderr, "error: writing the report to stdout: %v\n", err)
		return exitError{exitFailed}
	}
	if !v.Summary.OK {
		msg := fmt.Sprintf("validate: %s", nounCount(v.Summary.Errors, "error"))
		if vo.strict && v.Summary.Warnings > 0 {
			msg += fmt.Sprintf(" and %s (--strict counts them as errors)", nounCount(v.Summary.Warnings, "warning"))
		}
		fmt.Fprintln(o.stderr, msg+": see the findings on stdout")
		return exitError{exitUsage}
	}
	return nil
}

// loadFleetOffline is loadFleet without discovery: a fleet whose targets
// all come from discovery has none yet, and the selection waits for them.
func loadFleetOffline(o runOptions) (*fleet.Fleet, error) {
	sel, err := parseSelection(o)
	if err != nil {
		return nil, err
	}
	fl, err := readFleet(o)
	if err != nil || (len(fl.Targets) == 0 && len(fl.Discover) > 0) {
		return fl, err
	}
	return sel.apply(fl)
}

// fleetKind tells the lint whether the fleet has tenant schemas: listed or
// discovered (discovery is not run, its entries say what it would find).
func fleetKind(fl *fleet.Fleet) lint.FleetKind {
	for _, t := range fl.Targets {
		if t.Schema != "" {
			return lint.FleetSchemas
		}
	}
	for _, d := range fl.Discover {
		if d.Schemas != "" {
			return lint.FleetSchemas
		}
	}
	return lint.FleetDatabases
}

// writeValidation renders v in format.
func writeValidation(w io.Writer, format report.Format, v *validation) error {
	s := report.DiagnosticSummary{Command: v.Command, OK: v.Summary.OK, Errors: v.Summary.Errors,
		Warnings: v.Summary.Warnings, Notes: v.Summary.Notes, Strict: v.Summary.Strict}
	switch format {
	case report.FormatJSON:
		return writeValidationJSON(w, v)
	case report.FormatJUnit:
		return report.WriteDiagnosticsJUnit(w, s, v.Findings)
	case report.FormatMarkdown:
		return report.WriteDiagnosticsMarkdown(w, s, v.Findings)
	case report.FormatGitHub:
		return report.WriteDiagnosticsGitHub(w, s, v.Findings)
	}
	return writeValidationTable(w, v)
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Location(), f.Severity, f.Rule, f.Message)
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
	if v.Since > 0 {
		fmt.Fprintf(tw, "since\tversion %d: only later migrations were linted\n", v.Since)
	}
	for _, sv := range v.Servers {
		if sv.Err == "" {
			fmt.Fprintf(tw, "server\t%s: server_version_num %d\n", sv.Server, sv.Version)
		}
	}
	counts := nounCount(v.Summary.Errors, "error") + ", " + nounCount(v.Summary.Warnings, "warning") + ", " + nounCount(v.Summary.Notes, "note")
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
