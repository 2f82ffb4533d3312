// Package report owns the result model of a run (one Report, one Target per
// fleet target) and renders it: JSON (a stable schema that tools and cron jobs
// read), an aligned table for people, JUnit XML for CI test reporters,
// markdown for a pull-request comment, and the Prometheus text format for
// node_exporter's textfile collector. Renderers are pure functions of the
// model; WriteFileAtomic puts a rendering in a file without a reader ever
// seeing half of it.
package report

import (
	"strconv"
	"time"
)

// SchemaVersion is the version of the JSON report schema. It changes only when
// a field is removed or changes meaning; new fields may appear at any time.
const SchemaVersion = 1

// Status is the outcome of one target.
type Status string

// Target statuses, part of the report's contract with its readers.
const (
	StatusApplied    Status = "applied"     // pending migrations were applied
	StatusUpToDate   Status = "up_to_date"  // nothing to do
	StatusRolledBack Status = "rolled_back" // a migration failed; the target is back at from_version
	StatusFailed     Status = "failed"      // failed and not restored (or never reached): needs a person
	StatusSkipped    Status = "skipped"     // never started: a wave halted
	StatusCancelled  Status = "cancelled"   // the run was interrupted
	StatusLocked     Status = "locked"      // another run holds the target's lock
	StatusUnadopted  Status = "unadopted"   // golang-migrate or a person migrated it: run adopt; nothing was touched
	StatusPending    Status = "pending"     // plan/status: migrations are waiting
	StatusClean      Status = "clean"       // drift: the target is what the migration set says
	StatusDrifted    Status = "drifted"     // drift: findings below
	StatusError      Status = "error"       // drift: the target could not be inspected
	StatusReverted   Status = "reverted"    // down: migrations above --to were reverted
	StatusOK         Status = "ok"          // exec: the query ran and its rows are in the report
)

// Statuses lists every status a report may hold, in the order summaries
// count them. A report read back with any other status is refused.
var Statuses = []Status{
	StatusApplied, StatusUpToDate, StatusRolledBack, StatusFailed, StatusSkipped,
	StatusCancelled, StatusLocked, StatusPending, StatusClean, StatusDrifted,
	StatusError, StatusReverted, StatusUnadopted, StatusOK,
}

// Known reports whether s is one of Statuses.
func (s Status) Known() bool {
	for _, k := range Statuses {
		if s == k {
			return true
		}
	}
	return false
}

// Failed reports whether s makes a run exit non-zero.
func (s Status) Failed() bool {
	switch s {
	case StatusRolledBack, StatusFailed, StatusSkipped, StatusCancelled, StatusLocked, StatusError, StatusUnadopted:
		return true
	}
	return false
}

// Report is the result of one command over a fleet. It is built by one
// goroutine after all targets finished; it is not safe for concurrent
// mutation.
type Report struct {
	SchemaVersion int       `json:"schema_version"`
	Command       string    `json:"command"`
	StartedAt     time.Time `json:"started_at"`
	DurationMS    int64     `json:"duration_ms"`
	Summary       Summary   `json:"summary"`
	Notes         []string  `json:"notes,omitempty"` // run-wide remarks, e.g. how drift built its reference
	// Wave and Shard say which part of the fleet a run of one wave (up
	// --wave) covered, so its reports can be merged and checked before the
	// next wave starts. Waves records each wave's failures against its
	// budget. See waves.go.
	Wave     string       `json:"wave,omitempty"`
	Shard    *Shard       `json:"shard,omitempty"`
	Waves    []WaveResult `json:"waves,omitempty"`
	Rehearse *Rehearsal   `json:"rehearsal,omitempty"` // plan --verify: the fleet's worst tenants
	Targets  []Target     `json:"targets"`
}

// Summary counts targets by status. The first seven counts are always
// present in JSON; the others appear when the command produces them.
type Summary struct {
	Targets    int `json:"targets"`
	Applied    int `json:"applied"`
	UpToDate   int `json:"up_to_date"`
	RolledBack int `json:"rolled_back"`
	Failed     int `json:"failed"`
	Skipped    int `json:"skipped"`
	Cancelled  int `json:"cancelled"`
	Locked     int `json:"locked"`
	Unadopted  int `json:"unadopted,omitempty"`
	Pending    int `json:"pending,omitempty"`
	Clean      int `json:"clean,omitempty"`
	Drifted    int `json:"drifted,omitempty"`
	Errors     int `json:"error,omitempty"`
	Reverted   int `json:"reverted,omitempty"`
	OK         int `json:"ok,omitempty"`
}

// Target is the outcome of one target.
type Target struct {
	Name        string      `json:"name"`
	Wave        string      `json:"wave,omitempty"`
	Status      Status      `json:"status"`
	FromVersion *int64      `json:"from_version"` // null: never read (unreachable, locked, skipped, cancelled first)
	ToVersion   *int64      `json:"to_version"`   // null: never read, or could not be read back (the error says why)
	Applied     []Migration `json:"applied,omitempty"`
	Pending     []Migration `json:"pending,omitempty"`
	Reverted    []Migration `json:"reverted,omitempty"` // undone by down, compensation or --rollback-on-halt
	Revert      []Migration `json:"revert,omitempty"`   // plan --to below the target's version: the downs that would run, newest first
	Attempts    int         `json:"attempts,omitempty"` // transaction attempts, when retried after a lock timeout or deadlock
	Findings    []Finding   `json:"findings,omitempty"` // drift; adopt: the differences a forced adoption accepted, or why one was refused
	// ManagedBy names who manages a target the tool does not (yet):
	// "golang-migrate" (its own version table) or "manual" (tables
	// but no version table: psql -f). Set on unadopted targets, on adopt's
	// results, and on drift's results for unadopted targets.
	ManagedBy string `json:"managed_by,omitempty"`
	// ClaimedVersion is the version the other tool's table claims (or,
	// for adopt, the version the target's schema was proven to be at).
	ClaimedVersion *int64 `json:"claimed_version,omitempty"`
	// Forced: adopt --force recorded the version although the schema
	// differs from it (the differences are in findings).
	Forced     bool       `json:"forced,omitempty"`
	Error      *Error     `json:"error,omitempty"`
	Rows       *Rows      `json:"rows,omitempty"`       // exec: what the query returned
	SizeBytes  *int64     `json:"size_bytes,omitempty"` // waves with an order: the size the order used
	StartedAt  *time.Time `json:"started_at,omitempty"` // when work on the target began
	DurationMS int64      `json:"duration_ms"`
}

// V makes a version field: report.V(4).
func V(n int64) *int64 { return &n }

// VersionText renders a version field for people: the number, or "?" when
// it was never read.
func VersionText(v *int64) string {
	if v == nil {
		return "?"
	}
	return strconv.FormatInt(*v, 10)
}

// Finding is one way a target differs from what the migration set says
// (package drift finds them).
type Finding struct {
	// Kind is one of drift's Kind constants: pending, unknown_version, gap,
	// uninitialized, checksum_mismatch, unadopted, schema, invalid_index.
	Kind string `json:"kind"`
	// Object names the thing that differs: "column users.nickname",
	// "index api_keys.idx_api_keys_key_prefix", "version 3",
	// "table " + ledger.VersionTable.
	Object string `json:"object"`
	// Detail says how it differs: "unexpected", "missing",
	// "type text, expected character varying(512)",
	// "on delete cascade, expected set null".
	Detail string `json:"detail"`
}

// String formats f the way an operator would write it:
// "index api_keys.idx_api_keys_key_prefix missing".
func (f Finding) String() string {
	if f.Detail == "" {
		return f.Object
	}
	return f.Object + " " + f.Detail
}

// Drifted reports whether any target drifted.
func (r *Report) Drifted() bool {
	for _, t := range r.Targets {
		if t.Status == StatusDrifted {
			return true
		}
	}
	return false
}

// Migration names one migration in a target's result. DurationMS is set for
// migrations that ran.
type Migration struct {
	Version    int64    `json:"version"`
	Name       string   `json:"name"`
	DurationMS *int64   `json:"duration_ms,omitempty"`
	Statements []string `json:"statements,omitempty"` // plan --sql: what would run, in order
	Note       string   `json:"note,omitempty"`       // plan --verify: rehearsed, or why not
	Locks      []Lock   `json:"locks,omitempty"`      // plan --verify: relation locks held after the migration ran
}

// Error describes why a target did not succeed. Message never contains a DSN
// or a password: it is scrubbed where the report is built.
type Error struct {
	Version  int64  `json:"version,omitempty"`
	Name     string `json:"name,omitempty"`
	SQLState string `json:"sqlstate,omitempty"`
	Class    string `json:"class,omitempty"`
	Message  string `json:"message"`
	Detail   string `json:"detail,omitempty"`
	Hint     string `json:"hint,omitempty"`
	Line     int    `json:"line,omitempty"`
	// BlockedBy names the sessions that held locks the target waited for.
	BlockedBy string `json:"blocked_by,omitempty"`
	// Remedy says what a person must do when the target was left in a
	// state the tool could not restore (status failed).
	Remedy string `json:"remedy,omitempty"`
}

// New assembles a report from per-target results, in the order given, and
// computes the summary.
func New(command string, started time.Time, elapsed time.Duration, targets []Target) *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Command:       command,
		StartedAt:     started.UTC().Truncate(time.Millisecond),
		DurationMS:    elapsed.Milliseconds(),
		Targets:       targets,
	}
	if r.Targets == nil {
		r.Targets = []Target{}
	}
	r.Summary = Summarize(r.Targets)
	return r
}

// Summarize counts targets by status.
func Summarize(targets []Target) Summary {
	s := Summary{Targets: len(targets)}
	for _, t := range targets {
		switch t.Status {
		case StatusApplied:
			s.Applied++
		case StatusUpToDate:
			s.UpToDate++
		case StatusRolledBack:
			s.RolledBack++
		case StatusFailed:
			s.Failed++
		case StatusSkipped:
			s.Skipped++
		case StatusCancelled:
			s.Cancelled++
		case StatusLocked:
			s.Locked++
		case StatusUnadopted:
			s.Unadopted++
		case StatusPending:
			s.Pending++
		case StatusClean:
			s.Clean++
		case StatusDrifted:
			s.Drifted++
		case StatusError:
			s.Errors++
		case StatusReverted:
			s.Reverted++
		case StatusOK:
			s.OK++
		}
	}
	return s
}

// OK reports whether every target ended well (exit code 0).
func (r *Report) OK() bool {
	for _, t := range r.Targets {
		if t.Status.Failed() {
			return false
		}
	}
	return true
}
