// Package lint flags migration patterns that hurt in production, offline.
//
// Check reads a loaded source.Set and reports, per statement, what would
// lock a busy tenant table, fail at run time, leave a target half-migrated
// or destroy data: a CREATE INDEX without CONCURRENTLY on a table that
// already exists, CONCURRENTLY in a migration that runs in a transaction, a
// NO TRANSACTION migration with several statements, ADD COLUMN ... NOT NULL
// without a default, a column type change, DROP TABLE / DROP COLUMN in an up
// section, a missing or empty down section, and the placeholder `orchestrator
// new` leaves in a migration it scaffolds.
//
// A table "already exists" unless an earlier statement of the same section
// created it: a table created by an earlier migration holds tenant data by
// the time a later one runs.
//
// Up sections get every rule. Down sections, the way back, only get the
// rules about failing or stopping halfway (CONCURRENTLY in a transaction,
// several NO TRANSACTION statements, the placeholder) and the empty-down
// check: a down that drops what its up created is what it is for. An empty
// down holding a comment says on purpose that there is nothing to undo, and
// is not flagged.
//
// The rules read statements through a small tokenizer (keywords folded to
// lower case, quoted and schema-qualified names, comments, strings and
// dollar-quoted bodies skipped), not a SQL parser: they recognise the shapes
// of the statements they care about and ignore everything else.
package lint

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// Severity says whether a finding makes validate fail.
type Severity string

const (
	// SeverityWarning: the migration works, but may hurt in production.
	SeverityWarning Severity = "warning"
	// SeverityError: the migration will fail, or was never finished.
	SeverityError Severity = "error"
)

// Rule names, as reported in Finding.Rule.
const (
	RuleIndexNotConcurrent     = "index-not-concurrent"
	RuleConcurrentlyInTx       = "concurrently-in-transaction"
	RuleNoTxMultipleStatements = "no-transaction-multiple-statements"
	RuleAddColumnNotNull       = "add-column-not-null-no-default"
	RuleColumnTypeChange       = "column-type-change"
	RuleDestructiveUp          = "destructive-up"
	RuleMissingDown            = "missing-down"
	RuleScaffoldPlaceholder    = "scaffold-placeholder"
	RuleUnreadableSQL          = "unreadable-sql"
)

// Finding is one thing Check flags: where it is, which rule, how bad, and
// what to do about it.
type Finding struct {
	// File is the migration file, relative to the set's directory
	// (source.Migration.UpFile or DownFile).
	File string `json:"file"`
	// Line is the 1-based line in File of the statement (its first word,
	// past any leading comment), or of the ALTER TABLE clause, the finding
	// is about; for a missing down, the -- +goose Up or Down annotation, or
	// line 1 of an empty .down.sql.
	Line     int      `json:"line"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String formats f as "file:line: severity: rule: message".
func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %s: %s: %s", f.File, f.Line, f.Severity, f.Rule, f.Message)
}

// Check lints every migration of set and returns the findings sorted by
// file, then line. It reads nothing but set; a nil set has no findings.
func Check(set *source.Set) []Finding {
	if set == nil {
		return nil
	}
	var out []Finding
	for _, m := range set.Migrations {
		out = append(out, checkMigration(m)...)
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	return out
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

func checkMigration(m *source.Migration) []Finding {
	out := checkSection(direction{up: true, file: m.UpFile, sql: m.Up, first: m.UpLine, noTx: m.NoTx})
	if !m.HasDown {
		// Only goose layout can lack a down: point at its Up annotation.
		return append(out, Finding{
			File: m.UpFile, Line: max(m.UpLine-1, 1), Rule: RuleMissingDown, Severity: SeverityWarning,
			Message: "no down section: `orchestrator down` cannot revert this migration; add '-- +goose Down' at the " +
				"end of the file, followed by the SQL that reverses the up section",
		})
	}
	down := direction{file: m.DownFile, sql: m.Down, first: m.DownLine, noTx: m.DownNoTx, emptyAt: 1}
	if m.DownFile == m.UpFile {
		down.emptyAt = max(m.DownLine-1, 1) // goose: the Down annotation
	}
	return append(out, checkSection(down)...)
}
