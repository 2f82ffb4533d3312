package main

import (
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// runOptions is everything a command reads from its flags and environment.
// Resolution (which source wins, defaults) happens in prepare, not here.
type runOptions struct {
	fleetPath     string // --fleet, explicit
	dsn           string // --dsn, explicit
	migrationsDir string
	format        string
	reportPath    string
	to            int64 // meaningful when toSet
	toSet         bool
	parallel      int // 0: not given
	durations     map[string]time.Duration
	selectors     []string
	globs         []string
	shard         string
	txMode        string
	maxFailures   string
	rollbackHalt  bool
	retries       int
	retriesSet    bool
	all           bool     // --all: the table lists every target
	yes           bool     // --yes: consent to a destructive command without a terminal
	wave          string   // up --wave
	after         []string // up --after
	undo          []string // down --undo
	// maxExclusiveRows: plan --max-exclusive-rows; nil when not given.
	maxExclusiveRows *int64
	verbose          bool
	quiet            bool
	stdout           io.Writer
	stderr           io.Writer
	lookup           env
}

// Duration flags that override the fleet file's defaults.
const (
	flagLockTimeout      = "lock-timeout"
	flagStatementTimeout = "statement-timeout"
	flagConnectTimeout   = "connect-timeout"
	flagLockWait         = "lock-wait"
	flagTimeout          = "timeout"
	flagStallTimeout     = "stall-timeout"
)

func targetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "fleet", Aliases: []string{"f"}, Usage: "fleet file (env ORCH_FLEET)"},
		&cli.StringFlag{Name: "dsn", Usage: "one target without a fleet file (env DATABASE_URL)"},
		&cli.StringSliceFlag{Name: "select", Usage: "only targets whose labels match key=value[,key=value] (repeatable: any may match)"},
		&cli.StringSliceFlag{Name: "target", Usage: "only targets whose name matches this glob (repeatable: any may match)"},
		&cli.StringFlag{Name: "shard", Usage: "i/n: run the i-th of n stable shards of the selected targets (n alone: i from JOB_COMPLETION_INDEX)"},
		&cli.StringFlag{Name: "format", Value: "table", Usage: "stdout format: table, json, junit, markdown or csv"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "debug logs on stderr"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only warnings and errors on stderr"},
	}
}

func migrationsFlag() cli.Flag {
	return &cli.StringFlag{Name: "migrations", Aliases: []string{"m"}, EnvVars: []string{"ORCH_MIGRATIONS"},
		Usage: "migration directory, goose or golang-migrate layout (default: the set built into the binary)"}
}

// offlineFlags are the flags of commands that open no connection: where
// the targets and the migrations come from, and the output.
func offlineFlags() []cli.Flag {
	return append(targetFlags(), migrationsFlag())
}

func commonFlags() []cli.Flag {
	b := fleet.BuiltinDefaults()
	// The help shows the fleet file's key and the built-in value of each.
	fromFleet := func(key string, d time.Duration) string {
		return "fleet's " + key + ", else " + shortDuration(d)
	}
	return append(offlineFlags(),
		allFlag(),
		&cli.IntFlag{Name: "parallel", Aliases: []string{"p"}, DefaultText: fmt.Sprintf("the fleet's parallelism, else %d", b.Parallelism), Usage: "targets in flight at once"},
		&cli.StringFlag{Name: "report", EnvVars: []string{"ORCH_REPORT"}, Usage: "also write the JSON report to this file"},
		&cli.DurationFlag{Name: flagLockTimeout, DefaultText: fromFleet("lock_timeout", b.LockTimeout), Usage: "PostgreSQL lock_timeout for each statement"},
		&cli.DurationFlag{Name: flagStatementTimeout, DefaultText: fromFleet("statement_timeout", b.StatementTimeout), Usage: "PostgreSQL statement_timeout"},
		&cli.DurationFlag{Name: flagConnectTimeout, DefaultText: fromFleet("connect_timeout", b.ConnectTimeout), Usage: "time to connect to a target"},
		&cli.DurationFlag{Name: flagLockWait, DefaultText: fromFleet("lock_wait", b.LockWait), Usage: "how long to wait for a target held by another run, then report it locked"},
		&cli.DurationFlag{Name: flagTimeout, DefaultText: fromFleet("timeout", b.Timeout), Usage: "whole time budget per target, read-back included"},
		&cli.DurationFlag{Name: flagStallTimeout, DefaultText: fromFleet("stall_timeout", b.StallTimeout),
			Usage: "no bytes from a waited-for server this long: ask the server over a second connection, and give up on a stalled path"},
	)
}

// shortDuration writes d as a fleet file would: "none" for 0, whole
// minutes above one minute as "30m", whole seconds as "60s".
func shortDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "none"
	case d > time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// rolloutFlags are the flags of commands that change targets.
func rolloutFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "tx-mode", Value: "target", Usage: "target: all of a target's migrations in one transaction; migration: one transaction each, as goose does"},
		&cli.StringFlag{Name: "max-failures", Usage: "halt the run after more than this many failed targets: a count or a percentage like 2% (runs without waves)"},
		&cli.BoolFlag{Name: "rollback-on-halt", Usage: "when the rollout halts, roll back the targets this run already applied"},
		&cli.IntFlag{Name: "retries", Value: fleet.DefaultRetries, Usage: "extra attempts of a target's transaction after a lock timeout or deadlock"},
	}
}

func allFlag() cli.Flag {
	return &cli.BoolFlag{Name: "all", Usage: fmt.Sprintf("table: list every target (above %d targets the table groups them by outcome and version and lists only those needing attention)", report.GroupAbove)}
}

func toFlag(usage string) cli.Flag {
	return &cli.Int64Flag{Name: "to", DefaultText: "the latest version in the set", Usage: usage}
}

// bindRun copies flags into runOptions. Only flags given on the command line
// count as "set"; environment fallbacks are resolved in prepare.
func bindRun(c *cli.Context, stdout, stderr io.Writer, lookup env) runOptions {
	o := runOptions{
		fleetPath:     c.String("fleet"),
		dsn:           c.String("dsn"),
		migrationsDir: c.String("migrations"),
		format:        c.String("format"),
		reportPath:    c.String("report"),
		all:           c.Bool("all"),
		yes:           c.Bool("yes"),
		verbose:       c.Bool("verbose"),
		quiet:         c.Bool("quiet"),
		durations:     map[string]time.Duration{},
		stdout:        stdout,
		stderr:        stderr,
		lookup:        lookup,
	}
	if c.IsSet("to") {
		o.to, o.toSet = c.Int64("to"), true
	}
	o.selectors = c.StringSlice("select")
	o.globs = c.StringSlice("target")
	o.shard = c.String("shard")
	o.txMode = c.String("tx-mode")
	o.maxFailures = c.String("max-failures")
	o.rollbackHalt = c.Bool("rollback-on-halt")
	o.wave, o.after, o.undo = c.String("wave"), c.StringSlice("after"), c.StringSlice("undo")
	if c.IsSet("retries") {
		o.retries, o.retriesSet = c.Int("retries"), true
	}
	if c.IsSet("parallel") {
		o.parallel = c.Int("parallel")
	}
	for _, name := range []string{flagLockTimeout, flagStatementTimeout, flagConnectTimeout, flagLockWait, flagTimeout, flagStallTimeout} {
		if c.IsSet(name) {
			o.durations[name] = c.Duration(name)
		}
	}
	return o
}

// flagMaxExclusiveRows is plan's limit on the rows an ACCESS EXCLUSIVE lock
// of a rehearsal may cover.
const flagMaxExclusiveRows = "max-exclusive-rows"

func maxExclusiveRowsFlag() cli.Flag {
	return &cli.Int64Flag{Name: flagMaxExclusiveRows, DefaultText: "the fleet's max_exclusive_rows, else none",
		Usage: "with --verify: fail a target where a migration would hold an ACCESS EXCLUSIVE lock on a table of more estimated rows"}
}
