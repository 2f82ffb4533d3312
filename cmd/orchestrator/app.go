package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/orchestrator-dev/orchestrator/internal/demo"
)

// env looks up an environment variable; os.LookupEnv in production.
type env func(string) (string, bool)

// run builds the CLI, runs it and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookup env) int {
	app := newApp(stdout, stderr, lookup)
	return exitCode(app.RunContext(ctx, args), stderr)
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
		OnUsageError:   onUsageError,
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(stderr, "error: unknown command %q; run `orchestrator help` for the list\n", name)
		},
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			{
				Name:      "up",
				Usage:     "apply pending migrations to every target, atomically per target",
				UsageText: "orchestrator up --fleet fleet.yaml [--to V] [--parallel N] [--format table|json] [--report FILE]",
				Description: "Example:\n   orchestrator up --fleet fleet.yaml --parallel 16 --report up.json\n" +
					"   orchestrator up --dsn postgres://app@localhost:5432/acme\n" +
					"   orchestrator up --fleet fleet.yaml --wave everyone --shard 1/4 --after canary.json --report everyone-1.json",
				Flags: append(append(append(append([]cli.Flag{}, common...), rolloutFlags()...),
					toFlag("version to migrate to (default: the latest in the set)")), waveFlags()...),
				Action: func(c *cli.Context) error { return runUp(c.Context, bindRun(c, stdout, stderr, lookup)) },
			},
			{
				Name:        "down",
				Usage:       "roll every target back to version V with the down sections, atomically per target",
				UsageText:   "orchestrator down --fleet fleet.yaml --to V",
				Description: "--to is required: 0 reverts everything.\nExample:\n   orchestrator down --fleet fleet.yaml --to 2 --report down.json",
				Flags: append(append(append([]cli.Flag{}, common...), rolloutFlags()...),
					&cli.Int64Flag{Name: "to", Usage: "version to roll back to (required unless --undo; 0 reverts everything)"}, undoFlag()),
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
				Flags: append(append([]cli.Flag{}, common...), toFlag("version to plan for (default: the latest in the set)"),
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
				UsageText: "orchestrator demo [--dir DIR] [--clean]",
				Description: "Uses DATABASE_URL (or --dsn) as the server, else the loopback server as the current user.\n" +
					"Example:\n   orchestrator demo\n   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres orchestrator demo --clean",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "dsn", Usage: "server to create the demo databases on (env DATABASE_URL)"},
					&cli.StringFlag{Name: "dir", Value: "orchestrator-demo", Usage: "where to write the demo's fleet file"},
					&cli.BoolFlag{Name: "clean", Usage: "drop the demo databases and the fleet file"},
					&cli.StringFlag{Name: "prefix", Value: "orch_demo_", Usage: "name prefix of the demo databases"},
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
				Name:  "report",
				Usage: "work with JSON reports",
				Subcommands: []*cli.Command{{
					Name:        "merge",
					Usage:       "combine the JSON reports of shards of one run into one report (exit code of the merged outcome)",
					UsageText:   "orchestrator report merge [--format F] [--report FILE] shard-0.json shard-1.json ...",
					Description: "Example:\n   orchestrator report merge --report up.json reports/shard-*.json",
					Flags: []cli.Flag{
						&cli.StringFlag{Name: "format", Value: "table", Usage: "stdout format: table, json, junit or markdown"},
						&cli.StringFlag{Name: "report", Usage: "also write the merged JSON report to this file"},
					},
					OnUsageError: onUsageError,
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
				Flags: append(commonFlags(), validateFlags()...),
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
					if c.NArg() != 1 {
						return usagef("new takes one NAME, got %d arguments", c.NArg())
					}
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
	for _, c := range app.Commands {
		// A bad flag value is an error on stderr (exit 2), not a help page
		// on stdout, which carries reports only.
		c.OnUsageError = onUsageError
	}
	return app
}

func onUsageError(_ *cli.Context, err error, _ bool) error {
	return usageError{err.Error()}
}

// version is the module version the binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel-" + s.Value[:12]
		}
	}
	return "(devel)"
}
