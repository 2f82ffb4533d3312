package fleet

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/dsn"
)

// Defaults are the settings of a run. BuiltinDefaults is the one table of
// their default values; a fleet file's defaults override it, and flags
// override both.
type Defaults struct {
	Parallelism              int           // targets migrated at once
	LockTimeout              time.Duration // PostgreSQL lock_timeout
	StatementTimeout         time.Duration // PostgreSQL statement_timeout
	ConnectTimeout           time.Duration // connect_timeout
	IdleInTransactionTimeout time.Duration // idle_in_transaction_session_timeout
	LockWait                 time.Duration // how long to poll for the per-target advisory lock
	Timeout                  time.Duration // whole per-target budget; 0 = none
	StallTimeout             time.Duration // no bytes from the server this long: probe the backend
	// SharedSchemas are schemas a schema-per-tenant target's search_path
	// lists after the tenant's own (where shared extensions live); none by
	// default, so an unqualified name resolves in the tenant's schema
	// alone (then pg_catalog).
	SharedSchemas []string
	// GolangMigrateTable is GolangMigrateKeep (the default: where
	// golang-migrate's version table exists, up, down and adopt keep it
	// in step) or GolangMigrateIgnore (leave it alone).
	GolangMigrateTable string
	// MaxExclusiveRows fails a rehearsal (plan --verify) on a target where a
	// migration would hold an ACCESS EXCLUSIVE lock on a table of more
	// estimated rows than this; nil: no limit.
	MaxExclusiveRows *int64
}

// ConnectBound is ConnectTimeout, or the built-in one when that is 0 (no
// bound of the tool's own): for work that must end even when a connect
// does not.
func (d Defaults) ConnectBound() time.Duration {
	if d.ConnectTimeout > 0 {
		return d.ConnectTimeout
	}
	return BuiltinDefaults().ConnectTimeout
}

// DefaultRetries is how many more times a target's transaction is tried
// after a lock timeout or a deadlock when --retries does not say; the
// fleet file has no setting for it.
const DefaultRetries = 2

// The values of defaults.golang_migrate_table.
const (
	GolangMigrateKeep   = "keep"
	GolangMigrateIgnore = "ignore"
)

// BuiltinDefaults returns the settings used where neither the fleet file nor
// a flag sets one.
func BuiltinDefaults() Defaults {
	return Defaults{
		Parallelism:              8,
		LockTimeout:              5 * time.Second,
		StatementTimeout:         30 * time.Minute,
		ConnectTimeout:           10 * time.Second,
		IdleInTransactionTimeout: 10 * time.Minute,
		LockWait:                 30 * time.Second,
		Timeout:                  0,
		StallTimeout:             60 * time.Second,
		GolangMigrateTable:       GolangMigrateKeep,
	}
}

// Fleet is a validated fleet file: the settings and targets of a run.
// Nothing in this package modifies a Fleet after returning it, so it is safe
// for concurrent reads.
type Fleet struct {
	Path     string   // file it came from ("" for --dsn)
	Defaults Defaults // BuiltinDefaults overlaid with the file's defaults
	// Targets are the targets the file lists, in file order; at least one
	// unless Discover has sources. discovery.Discover returns a Fleet whose
	// Targets also hold the discovered ones.
	Targets []Target
	// Discover holds the file's discover sources, in file order; nil when
	// it has none, and in a Fleet returned by discovery.Discover.
	Discover []DiscoverySource
	Waves    []Wave // in file order; nil when the file has none (see AssignWaves)
}

// Parse reads a fleet file from r and validates all of it. path names the
// file in problems and in each Target.Origin. lookup resolves ${NAME}
// references: os.LookupEnv in production, a map in tests; nil means no
// variable is defined.
//
// Every error Parse returns is an *Error listing every problem found.
func Parse(r io.Reader, path string, lookup func(string) (string, bool)) (*Fleet, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, readError(path, err)
	}
	return parse(data, path, lookup)
}

// Load reads and validates the fleet file at path (see Parse). A missing or
// unreadable file is an *Error too, which unwraps to the I/O error (so
// errors.Is(err, fs.ErrNotExist) works).
func Load(path string, lookup func(string) (string, bool)) (*Fleet, error) {
	return load(path, lookup, func(p string) (io.ReadCloser, error) { return os.Open(p) })
}

// load is Load reading the file through open.
func load(path string, lookup func(string) (string, bool), open func(string) (io.ReadCloser, error)) (*Fleet, error) {
	if path == "" {
		return nil, newError("", nil, problem(0, "no fleet file given (use --fleet FILE or ORCH_FLEET, or --dsn for a single database)"))
	}
	data, err := readLimited(open, path, MaxFileSize)
	if err != nil {
		return nil, readError(path, err)
	}
	if len(data) > MaxFileSize {
		return nil, newError(path, nil, problem(0, fmt.Sprintf(
			"the fleet file is larger than %d MiB, the most this tool reads: list big fleets with a discover: source "+
				"(databases: or schemas: patterns, or a query: over your tenant catalog) instead of one entry per target",
			MaxFileSize>>20)))
	}
	return parse(data, path, lookup)
}

// MaxFileSize is the largest fleet file Load reads (16 MiB, some 100,000
// listed targets). A fleet that big belongs in a discover source: parsing
// it whole would cost far more memory than running it.
const MaxFileSize = 16 << 20

// readLimited reads at most limit+1 bytes of path: enough to tell that a
// file is too big without reading all of it.
func readLimited(open func(string) (io.ReadCloser, error), path string, limit int64) ([]byte, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// Single is the fleet of one database given by --dsn or DATABASE_URL: one
// target named after the DSN's database (or "default" when it names none),
// with Origin "--dsn" and the built-in defaults. An invalid DSN is an *Error
// that does not quote it.
func Single(url string) (*Fleet, error) {
	const subject = "the database URL (--dsn or DATABASE_URL)"
	if strings.TrimSpace(url) == "" {
		return nil, newError("", nil, problem(0, subject+" is empty"))
	}
	cfg, msg := dsn.Parse(url)
	if msg != "" {
		return nil, newError("", nil, problem(0, subject+" "+msg))
	}
	name := cfg.Database
	if CheckName(name) != "" {
		name = "default"
	}
	return &Fleet{
		Defaults: BuiltinDefaults(),
		Targets:  []Target{{Name: name, DSN: url, Labels: map[string]string{}, Origin: "--dsn"}},
	}, nil
}

func parse(data []byte, path string, lookup func(string) (string, bool)) (*Fleet, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	w := &walker{path: path, lookup: lookup}
	f := w.file(data)
	if err := w.probs.err(path); err != nil {
		return nil, err
	}
	f.Path = path
	return f, nil
}

// readError is the *Error for a fleet file that cannot be read. The path is
// already the prefix of the message, so only the reason is kept.
func readError(path string, err error) *Error {
	reason := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		reason = pe.Err.Error()
	}
	return newError(path, err, problem(0, "cannot read fleet file: "+reason))
}
