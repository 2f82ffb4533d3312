package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/orchestrator-dev/orchestrator/internal/demo"
)

// env looks up an environment variable; os.LookupEnv in production.
type env func(string) (string, bool)

// run builds the CLI, runs it and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) int {
	app := newApp(stdout, stderr, lookup)
	err := app.RunContext(ctx, reorderArgs(app, args))
	if err == nil && app.Metadata[unknownCommand] != nil {
		return exitUsage
	}
	return exitCode(err, stderr)
}

func newApp(stdout, stderr io.Writer, lookup env) *cli.App {
	common := commonFlags()
	app := &cli.App{
		Name:      "orchestrator",
		Usage:     "bring a fleet of PostgreSQL tenant databases to one schema version",
		Version:   version(),
		Writer:    stdout,
		ErrWriter: stderr,
		// Exit codes are decided in one place (exitCode); urfave/cli must not
		// call os.Exit on its own.
		ExitErrHandler: func(*cli.Context, error) {},
		Metadata:       map[string]any{},
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(stderr, "error: unknown command %q; run `orchestrator help` for the list\n", name)
			c.App.Metadata[unknownCommand] = name
		},
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			{
				Name:      "up",
				Usage:     "apply pending migrations to every target, atomically per target",
				UsageText: "orchestrator up --fleet fleet.yaml [--to V] [--parallel N] [--format table|json|junit|markdown] [--report FILE]",
				Description: "Example:\n   orchestrator up --fleet fleet.yaml --parallel 16 --report up.json\n" +
					"   orchestrator up --dsn postgres://app@localhost:5432/acme\n" +
					"   orchestrator up --fleet fleet.yaml --wave everyone --shard 1/4 --after canary.json --report everyone-1.json",
				Flags: append(append(append(append([]cli.Flag{}, common...), rolloutFlags()...),
					toFlag("version to migrate to")), waveFlags()...),
				Action: func(c *cli.Context) error { return runUp(c.Context, bindRun(c, stdout, stderr, lookup)) },
			},
			{
				Name:      "down",
				Usage:     "roll every target back to version V with the down sections, atomically per target",
				UsageText: "orchestrator down --fleet fleet.yaml --to V [--yes]",
				Description: "--to is required: 0 reverts everything. On a terminal, down shows how many targets and which\n" +
					"versions it would revert and asks; elsewhere it needs --yes. `plan --to V` previews it.\n" +
					"Example:\n   orchestrator plan --fleet fleet.yaml --to 2 --sql\n   orchestrator down --fleet fleet.yaml --to 2 --yes --report down.json",
				Flags: append(append(append([]cli.Flag{}, common...), rolloutFlags()...),
					&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "revert without asking (required when stdin is not a terminal)"},
					&cli.Int64Flag{Name: "to", DefaultText: "none, it must be given unless --undo", Usage: "version to roll back to (required unless --undo; 0 reverts everything)"}, undoFlag()),
				Action: func(c *cli.Context) error { return runDown(c.Context, bindRun(c, stdout, stderr, lookup)) },
			},
			{
				Name:        "status",
				Usage:       "show each target's current version and pending migrations (read-only)",
				UsageText:   "orchestrator status --fleet fleet.yaml",
				Description: "Example:\n   orchestrator status --fleet fleet.yaml --format json",
				Flags:       common,
				Action:      func(c *cli.Context) error { return runStatus(c.Context, bindRun(c, stdout, stderr, lookup)) },
			},
			{
				Name:        "plan",
				Usage:       "list the migrations up would apply on each target (read-only: creates nothing)",
				UsageText:   "orchestrator plan --fleet fleet.yaml [--to V] [--sql] [--verify]",
				Description: "Example:\n   orchestrator plan --fleet fleet.yaml --format json > plan.json\n   orchestrator plan --fleet fleet.yaml --verify   # rehearse on every tenant, then roll back",
				Flags: append(append([]cli.Flag{}, common...), toFlag("version to plan for (below a target's version: the downs that would run)"),
					&cli.BoolFlag{Name: "sql", Usage: "include the statements each target would run, in order"},
					&cli.BoolFlag{Name: "verify", Usage: "rehearse: run the pending migrations in a transaction that is always rolled back"},
					maxExclusiveRowsFlag()),
				Action: func(c *cli.Context) error {
					o := bindRun(c, stdout, stderr, lookup)
					if c.IsSet(flagMaxExclusiveRows) {
						v := c.Int64(flagMaxExclusiveRows)
						o.maxExclusiveRows = &v
					}
					return runPlan(c.Context, o, c.Bool("sql"), c.Bool("verify"))
				},
			},
			{
				Name:      "demo",
				Usage:     "quick start: create demo tenant databases on the local server and run plan, up, status and drift over them",
				UsageText: "orchestrator demo [--prefix P] [--dir DIR] [--clean]",
				Description: "Uses DATABASE_URL (or --dsn) as the server, else the loopback server as the current user.\n" +
					"Example:\n   orchestrator demo\n   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres orchestrator demo --clean",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "dsn", Usage: "server to create the demo databases on (env DATABASE_URL)"},
					&cli.StringFlag{Name: "dir", Value: demo.DefaultDir, Usage: "where to write the demo's fleet file"},
					&cli.BoolFlag{Name: "clean", Usage: "drop the databases this demo created (with the same --prefix) and its fleet file"},
					&cli.StringFlag{Name: "prefix", Value: demo.DefaultPrefix, EnvVars: []string{"ORCH_DEMO_PREFIX"}, Usage: "name prefix of the demo databases (and of nothing else on the server)"},
					&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "debug logs on stderr"},
				},
				Action: func(c *cli.Context) error {
					o := bindRun(c, stdout, stderr, lookup)
					o.quiet = !o.verbose
					return runDemo(c.Context, o, demo.Options{Dir: c.String("dir"), Prefix: c.String("prefix"), Clean: c.Bool("clean")})
				},
			},
			{
				Name:      "drift",
				Usage:     "check every target against the migration set: versions, checksums and schema (read-only)",
				UsageText: "orchestrator drift --fleet fleet.yaml [--scratch-dsn URL] [--prometheus FILE]",
				Description: "Exit 0 clean, 3 drift found, 1 when a target could not be inspected.\nExample (cron):\n" +
					"   orchestrator drift --fleet fleet.yaml --quiet --format json --report /var/lib/orchestrator/drift.json \\\n" +
					"     --prometheus /var/lib/node_exporter/textfile/orchestrator_drift.prom",
				Flags: append(append([]cli.Flag{}, common...),
					&cli.StringFlag{Name: "scratch-dsn", EnvVars: []string{"ORCH_SCRATCH_DSN"},
						Usage: "server where reference schemas are built in scratch databases (default: the first target's server)"},
					&cli.StringFlag{Name: "prometheus", Usage: "also write a node_exporter textfile with drift and version gauges (atomically)"}),
				Action: func(c *cli.Context) error {
					return runDrift(c.Context, bindRun(c, stdout, stderr, lookup), c.String("scratch-dsn"), c.String("prometheus"))
				},
			},
			{
				Name:      "adopt",
				Usage:     "take over targets golang-migrate, goose or psql built: prove each one's version from its schema, then record it",
				UsageText: "orchestrator adopt --fleet fleet.yaml [--version V] [--force] [--scratch-dsn URL]",
				Description: "Writes only the version tables, never the schema, and only after the target's schema was found equal to\n" +
					"the one the migration set produces at that version. Running it again is harmless.\nExample:\n" +
					"   orchestrator adopt --fleet fleet.yaml --report adopt.json\n" +
					"   orchestrator adopt --dsn postgres://app@localhost:5432/acme --version 3",
				Flags: append(append(append([]cli.Flag{}, common...), rolloutFlags()...),
					&cli.Int64Flag{Name: "version", Usage: "the version the targets are at (still checked against their schema); default: found per target"},
					&cli.BoolFlag{Name: "force", Usage: "adopt even where the schema differs from that version's (the report lists the differences and says forced)"},
					&cli.StringFlag{Name: "scratch-dsn", EnvVars: []string{"ORCH_SCRATCH_DSN"},
						Usage: "server where reference schemas are built in scratch databases (default: the first target's server)"}),
				Action: func(c *cli.Context) error {
					v := int64(-1)
					if c.IsSet("version") {
						v = c.Int64("version")
					}
					return runAdopt(c.Context, bindRun(c, stdout, stderr, lookup), v, c.Bool("force"), c.String("scratch-dsn"))
				},
			},
			{
				Name:  "report",
				Usage: "work with JSON reports",
				Subcommands: []*cli.Command{{
					Name:        "merge",
					ArgsUsage:   "FILE...",
					Usage:       "combine the JSON reports of shards of one run into one report (exit code of the merged outcome)",
					UsageText:   "orchestrator report merge [--format F] [--report FILE] shard-0.json shard-1.json ...",
					Description: "Example:\n   orchestrator report merge --report up.json reports/shard-*.json",
					Flags: []cli.Flag{
						&cli.StringFlag{Name: "format", Value: "table", Usage: "stdout format: table, json, junit or markdown"},
						&cli.StringFlag{Name: "report", Usage: "also write the merged JSON report to this file"},
						allFlag(),
					},
					Action: func(c *cli.Context) error {
						return runMerge(c.Context, bindRun(c, stdout, stderr, lookup), c.Args().Slice())
					},
				}},
			},
			{
				Name:      "validate",
				Usage:     "check the fleet file, the migration set and the migrations' SQL, offline (opens no connection unless --probe-versions)",
				UsageText: "orchestrator validate [--fleet FILE] [--migrations DIR] [--strict] [--since V] [--probe-versions] [--format table|json|junit|markdown|github]",
				Description: "Errors exit 2; warnings are listed with file and line and exit 0 unless --strict; notes never fail.\n" +
					"Example:\n   orchestrator validate --fleet fleet.yaml --migrations db/migrations --strict",
				Flags: append(offlineFlags(), validateFlags()...),
				Action: func(c *cli.Context) error {
					return runValidate(c.Context, bindRun(c, stdout, stderr, lookup), validateOptsFrom(c))
				},
			},
			{
				Name:        "new",
				Usage:       "scaffold the next migration in the --migrations directory, in its own layout",
				UsageText:   "orchestrator new --migrations DIR NAME",
				ArgsUsage:   "NAME",
				Description: "Example:\n   orchestrator new --migrations db/migrations add_user_nickname",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "migrations", Aliases: []string{"m"}, EnvVars: []string{"ORCH_MIGRATIONS"},
						Usage: "migration directory (created if missing; goose layout when empty)"},
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no hint on stderr"},
				},
				Action: func(c *cli.Context) error {
					return runNew(c.Context, bindRun(c, stdout, stderr, lookup), c.Args().First())
				},
			},
			{
				Name:        "targets",
				Usage:       "list the resolved targets (discovery included) with their labels and origin, DSNs redacted",
				UsageText:   "orchestrator targets --fleet fleet.yaml",
				Description: "Example:\n   orchestrator targets --fleet fleet.yaml --format json",
				Flags:       targetFlags(),
				Action:      func(c *cli.Context) error { return runTargets(c.Context, bindRun(c, stdout, stderr, lookup)) },
			},
		},
	}
	app.Commands = append(app.Commands, execCommand(func(c *cli.Context) runOptions { return bindRun(c, stdout, stderr, lookup) }))
	app.Commands = append(app.Commands, completionCommand(stdout))
	onUsageError := func(_ *cli.Context, err error, _ bool) error { return flagError(app.Commands, err) }
	app.OnUsageError = onUsageError
	var setUsage func([]*cli.Command)
	setUsage = func(cmds []*cli.Command) {
		for _, c := range cmds {
			// A bad flag value is an error on stderr (exit 2), not a help
			// page on stdout, which carries reports only.
			c.OnUsageError = onUsageError
			setUsage(c.Subcommands)
		}
	}
	setUsage(app.Commands)
	guardCommands(app.Commands)
	return app
}

// unknownCommand is the app's Metadata key set when the command line named
// no known command (exit 2).
const unknownCommand = "unknown-command"

func init() {
	// -v is --verbose in every command; the version has only its long name,
	// so -v never means two things.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version (the VCS revision when built from a checkout)"}
}

// version is the module version the binary was built from.
func version() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(bi)
}

// versionOf names a build: its module version when it has a release one,
// else the VCS revision it was built from, marked "-dirty" when the tree
// had uncommitted changes.
func versionOf(bi *debug.BuildInfo) string {
	if bi == nil {
		return "(devel)"
	}
	release := bi.Main.Version != "" && bi.Main.Version != "(devel)" &&
		!strings.Contains(bi.Main.Version, "-0.") && !strings.HasPrefix(bi.Main.Version, "v0.0.0-")
	if release && !strings.HasSuffix(bi.Main.Version, "+dirty") {
		return bi.Main.Version
	}
	var rev, when string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		if bi.Main.Version != "" {
			return bi.Main.Version
		}
		return "(devel)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v := "devel-" + rev
	if dirty {
		v += "-dirty"
	}
	if when != "" {
		v += " (" + when + ")"
	}
	return v
}
