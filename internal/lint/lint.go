// Package lint flags migration patterns that hurt in production, offline.
//
// Check reads a loaded source.Set and reports, per statement, what would
// lock a busy tenant table, fail at run time, leave a target half-migrated
// or destroy data; then, across the set in version order as one target
// receives it, what only the whole pending batch shows (an enum value used
// before the transaction that adds it commits, ACCESS EXCLUSIVE locks on
// several tables held to the end of one atomic batch, a NO TRANSACTION
// migration that splits the batch); and, given what the fleet is made of,
// what a shared migration set must not do (schema-qualified names for
// schema-per-tenant fleets, statements that behave differently on the
// PostgreSQL versions the fleet runs). Rules lists every rule.
//
// A table "already exists" unless an earlier statement of the same section
// created it: a table created by an earlier migration holds tenant data by
// the time a later one runs, while an index on a table created three lines
// above blocks nobody.
//
// Up sections get every rule. Down sections, the way back, only get the
// rules about failing or stopping halfway (CONCURRENTLY or VACUUM in a
// transaction, several NO TRANSACTION statements, the placeholder, what
// the fleet's servers cannot run) and the empty-down check: a down that
// drops what its up created is what it is for. An empty down holding a
// comment says on purpose that there is nothing to undo, and is not
// flagged.
//
// A comment "-- orchestrator:lint-ignore RULE[,RULE] reason" among the
// comments directly above a statement silences those rules for that
// statement; an ignore that silences nothing is itself a warning.
//
// The rules read statements as sqlscan tokens (keywords folded to lower
// case, quoted and schema-qualified names, comments, strings and
// dollar-quoted bodies skipped), not through a SQL parser: they recognise
// the shapes of the statements they care about and ignore everything else.
package lint

import (
	"cmp"
	"slices"

	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// FleetKind is what the fleet the set is meant for is made of, as far as
// the fleet-only rules care.
type FleetKind int

const (
	// FleetUnknown: no fleet was given; the set may serve tenant schemas.
	FleetUnknown FleetKind = iota
	// FleetDatabases: every target is a database of its own.
	FleetDatabases
	// FleetSchemas: some targets are tenant schemas sharing a database.
	FleetSchemas
)

// Options narrow and widen what CheckWith looks at. The zero value lints
// every migration for a fleet of unknown kind, without server versions.
type Options struct {
	// Since: lint only migrations with a version above it (the older ones
	// are history); the batch rules then see the batch a target at Since
	// receives.
	Since int64
	// Fleet decides how much a schema-qualified name weighs.
	Fleet FleetKind
	// SharedSchemas are schemas every tenant shares on purpose (where
	// extensions live): names qualified with them are not flagged.
	SharedSchemas []string
	// ServerVersions holds the server_version_num of each distinct server
	// of the fleet (validate --probe-versions); empty means not probed, and
	// the version rules stay silent.
	ServerVersions []int
}

// Check lints every migration of set with the zero Options.
func Check(set *source.Set) []report.Diagnostic { return CheckWith(set, Options{}) }

// CheckWith lints set and returns the findings sorted by file, then line.
// A finding's File is the migration file relative to the set's directory
// (source.Migration.UpFile or DownFile); its Line is the 1-based line of
// the statement (its first word, past any leading comment) or of the ALTER
// TABLE clause the finding is about; for a missing down, the -- +goose Up
// or Down annotation, or line 1 of an empty .down.sql. It reads nothing but
// set and o; a nil set has no findings. Safe for concurrent use.
func CheckWith(set *source.Set, o Options) []report.Diagnostic {
	if set == nil {
		return nil
	}
	l := &linter{opts: o, columns: map[string]map[string]colType{}}
	for _, m := range set.Migrations {
		l.migration(m)
	}
	l.batchRules()
	out := l.suppress()
	slices.SortStableFunc(out, func(a, b report.Diagnostic) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	return out
}

// linter is one run of CheckWith: the findings so far, what the batch
// rules need from each migration, and the column types the set has
// declared so far (for varchar-shrink).
type linter struct {
	opts     Options
	findings []report.Diagnostic
	batch    []*migrationFacts // migrations above Since, in version order
	ignores  []*ignore
	columns  map[string]map[string]colType // table name -> column -> type
}

// direction is one section of a migration.
type direction struct {
	up    bool
	file  string
	sql   string
	first int  // line of sql's first line in file
	noTx  bool // runs outside a transaction
	// emptyAt is the line to point at when the section has no statement.
	emptyAt int
}

func (d direction) name() string {
	if d.up {
		return "up"
	}
	return "down"
}

func (l *linter) migration(m *source.Migration) {
	linted := m.Version > l.opts.Since
	facts := &migrationFacts{m: m}
	up := &section{l: l, dir: direction{up: true, file: m.UpFile, sql: m.Up, first: m.UpLine, noTx: m.NoTx}, facts: facts, report: linted}
	up.check()
	if !linted {
		return
	}
	l.batch = append(l.batch, facts)
	l.wrapper(m.UpWrapped, m.UpFile, m.Up, m.UpLine, "up")
	l.wrapper(m.DownWrapped, m.DownFile, m.Down, m.DownLine, "down")
	if !m.HasDown {
		// Only goose layout can lack a down: point at its Up annotation.
		l.add(report.Diagnostic{
			File: m.UpFile, Line: max(m.UpLine-1, 1), Rule: RuleMissingDown, Severity: report.SeverityWarning,
			Message: "no down section: `orchestrator down` cannot revert this migration; add '-- +goose Down' at the " +
				"end of the file, followed by the SQL that reverses the up section",
		})
		return
	}
	down := direction{file: m.DownFile, sql: m.Down, first: m.DownLine, noTx: m.DownNoTx, emptyAt: 1}
	if m.DownFile == m.UpFile {
		down.emptyAt = max(m.DownLine-1, 1) // goose: the Down annotation
	}
	(&section{l: l, dir: down, report: true}).check()
}

// wrapper notes a section wrapped whole in BEGIN ... COMMIT: the loader
// drops the wrapper (any other transaction control fails the load, so the
// lint never sees it), and the reader of the pull request should know.
func (l *linter) wrapper(wrapped bool, file, sql string, first int, dir string) {
	if !wrapped {
		return
	}
	line := first
	if scan, err := source.FindTxControl(sql, first); err == nil && len(scan.Found) > 0 {
		line = scan.Found[0].Line
	}
	l.add(report.Diagnostic{File: file, Line: line, Rule: RuleTxWrapper, Severity: report.SeverityNote,
		Message: "the " + dir + " section is wrapped in BEGIN ... COMMIT: the wrapper is dropped and the body runs in the tool's own " +
			"transaction, with its version row (the checksum stays that of the file as written)"})
}

func (l *linter) add(f report.Diagnostic) { l.findings = append(l.findings, f) }
