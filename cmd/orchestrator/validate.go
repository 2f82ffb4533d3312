package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/orchestrator-dev/orchestrator/internal/discovery"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/lint"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// ruleProbe is the rule of validate's own findings: a server
// --probe-versions could not ask, a catalog query it did not.
const ruleProbe = "probe-versions"

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
	v := &report.Validation{SchemaVersion: 1, Command: "validate", Since: vo.since, Findings: []report.Diagnostic{}}
	lo := lint.Options{Since: vo.since}

	var fl *fleet.Fleet
	if fleetGiven(o) {
		var err error
		fl, err = loadFleetOffline(o)
		var fe *fleet.Error
		switch {
		case errors.As(err, &fe):
			v.Fleet = &report.CheckedFleet{Path: fe.Path}
			v.Findings = append(v.Findings, fe.Problems...)
			fl = nil
		case err != nil:
			return err // a usage error: --fleet with --dsn, a bad --select, ...
		default:
			v.Fleet = &report.CheckedFleet{Path: fl.Path, Targets: len(fl.Targets), Discover: len(fl.Discover)}
			lo.Fleet = fleetKind(fl)
			lo.SharedSchemas = fl.Defaults.SharedSchemas
		}
	}

	v.Migrations = report.CheckedSet{Dir: o.migrationsDir, Versions: []int64{}}
	if o.migrationsDir == "" {
		v.Migrations.Dir = builtinDir
	}
	set, err := loadSet(o.migrationsDir)
	var se *source.Error
	var setFindings []report.Diagnostic // their File is relative to the set's directory
	switch {
	case errors.As(err, &se):
		setFindings = se.Problems
	case err != nil:
		return err // the directory does not exist, or is a file
	default:
		v.Migrations.Layout = string(set.Layout)
		v.Migrations.Versions = set.Versions()
		if vo.probe && fl != nil {
			v.Servers = discovery.ProbeVersions(ctx, fl)
			for _, sv := range v.Servers {
				if sv.Err != "" {
					v.Findings = append(v.Findings, report.Diagnostic{File: v.Fleet.Label(), Rule: ruleProbe, Severity: report.SeverityError,
						Message: fmt.Sprintf("server %s (%s): its version could not be read: %s", sv.Server, sv.Origin, sv.Err)})
					continue
				}
				lo.ServerVersions = append(lo.ServerVersions, sv.Version)
			}
			for _, d := range fl.Discover {
				if d.Query != "" {
					v.Findings = append(v.Findings, report.Diagnostic{File: v.Fleet.Label(), Line: d.Line, Rule: ruleProbe, Severity: report.SeverityNote,
						Message: fmt.Sprintf("%s is a catalog query: the servers it lists were not asked their version (validate runs no discovery); "+
							"list one target per server, or run validate where discovery's result is a fleet file", d.Label())})
				}
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		setFindings = lint.CheckWith(set, lo)
	}
	for _, f := range setFindings {
		f.File = setFilePath(o.migrationsDir, f.File)
		v.Findings = append(v.Findings, f)
	}
	v.Tally(vo.strict)

	if err := report.WriteValidation(o.stdout, format, v); err != nil {
		fmt.Fprintf(o.stderr, "error: writing the report to stdout: %v\n", err)
		return exitError{exitFailed}
	}
	if !v.Summary.OK {
		msg := fmt.Sprintf("validate: %s", report.Plural(v.Summary.Errors, "error"))
		if vo.strict && v.Summary.Warnings > 0 {
			msg += fmt.Sprintf(" and %s (--strict counts them as errors)", report.Plural(v.Summary.Warnings, "warning"))
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
