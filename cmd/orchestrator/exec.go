package main

import (
	"context"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/orchestrator-dev/orchestrator/internal/runner"
)

// execCommand is `orchestrator exec`: one read-only query across the fleet.
func execCommand(run func(*cli.Context) runOptions) *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run one read-only query on every target and report each target's rows (changes nothing)",
		UsageText: "orchestrator exec --fleet fleet.yaml --sql QUERY | --file q.sql [--max-rows N] [--format table|json|csv|markdown]",
		Description: "The query runs in a READ ONLY transaction with the statement timeout; writing statements fail on the server.\n" +
			"Example:\n   orchestrator exec --fleet fleet.yaml --sql \"SELECT count(*) AS n FROM usage_records\" --format csv",
		Flags: append(commonFlags(),
			&cli.StringFlag{Name: "sql", Usage: "the query: exactly one statement"},
			&cli.StringFlag{Name: "file", Usage: "read the query from this file instead of --sql"},
			&cli.IntFlag{Name: "max-rows", Value: runner.DefaultMaxRows, Usage: "rows kept per target; the rest are not read"}),
		Action: func(c *cli.Context) error {
			return runExec(c.Context, run(c), c.String("sql"), c.String("file"), c.Int("max-rows"))
		},
	}
}

func runExec(ctx context.Context, o runOptions, query, file string, maxRows int) error {
	switch {
	case query != "" && file != "":
		return usagef("give either --sql or --file, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return usagef("--file: %v", err)
		}
		query = string(b)
	case query == "":
		return usagef("exec needs the query: --sql QUERY or --file q.sql")
	}
	if maxRows < 1 {
		return usagef("--max-rows must be at least 1, got %d", maxRows)
	}
	q, err := runner.CheckQuery(query)
	if err != nil {
		return usagef("exec query: %v", err)
	}
	p, err := prepare(ctx, o)
	if err != nil {
		return err
	}
	return finish(ctx, o, p.format, p.runner.Exec(ctx, p.waves, runner.ExecOptions{SQL: q, MaxRows: maxRows}))
}
