// Package demo shows the product end to end on a local server: it creates a
// handful of tenant databases, writes the fleet file it uses, and runs plan,
// up and status over them, saying what each step showed.
package demo

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/runner"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// DefaultPrefix starts the name of every database the demo creates; nothing
// else on the server is touched.
const DefaultPrefix = "orch_demo_"

// Tenants are the demo's tenants; the first is the canary.
var Tenants = []string{"acme", "globex", "initech", "umbrella", "hooli"}

// DefaultServer is used when DATABASE_URL is not set: the loopback server,
// as the current OS user, like psql.
const DefaultServer = "postgres://127.0.0.1:5432/postgres?sslmode=disable"

// Options configure a demo run.
type Options struct {
	Server string      // a connection string to any database of the server
	Dir    string      // where the fleet file is written
	Set    *source.Set // the migration set to apply
	Prefix string      // database name prefix; DefaultPrefix when empty
	Clean  bool        // drop the demo databases and files instead
	Out    io.Writer   // the narration and reports (stdout)
	Runner runner.Options
}

// Run performs the demo. It is idempotent: every run starts from freshly
// created demo databases.
func Run(ctx context.Context, o Options) error {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	admin, err := pgx.Connect(ctx, o.Server)
	if err != nil {
		return fmt.Errorf("demo needs a PostgreSQL server where it may create databases (set DATABASE_URL): %s",
			fleet.Target{DSN: o.Server}.Scrub(err.Error()))
	}
	defer admin.Close(context.WithoutCancel(ctx))

	if o.Clean {
		for _, t := range Tenants {
			if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{o.Prefix + t}.Sanitize()+" WITH (FORCE)"); err != nil {
				return fmt.Errorf("drop %s%s: %w", o.Prefix, t, err)
			}
		}
		if err := os.RemoveAll(o.Dir); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "Dropped the %d demo databases (%s*) and removed %s.\n", len(Tenants), o.Prefix, o.Dir)
		return nil
	}

	say(o.Out, "1/5", "Creating %d empty tenant databases on the server: %s%s ... (the first is the canary).",
		len(Tenants), o.Prefix, strings.Join(Tenants, ", "+o.Prefix))
	for _, t := range Tenants {
		name := pgx.Identifier{o.Prefix + t}.Sanitize()
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("reset %s%s: %w", o.Prefix, t, err)
		}
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			return fmt.Errorf("create %s%s: %w", o.Prefix, t, err)
		}
	}
	path, shown, err := writeFleet(o.Server, o.Dir, o.Prefix)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "\nThe fleet file, %s (passwords shown as xxxxx):\n\n%s\n", path, indent(shown))
	fl, err := fleet.Load(path, os.LookupEnv)
	if err != nil {
		return err
	}
	ro := o.Runner
	ro.Set = o.Set
	ro.Parallelism = fl.Defaults.Parallelism
	ro.Settings = runner.SettingsFrom(fl.Defaults)
	ro.SharedSchemas = fl.Defaults.SharedSchemas
	r, err := runner.New(ro)
	if err != nil {
		return err
	}

	say(o.Out, "2/5", "orchestrator plan --fleet %s\nRead-only: what up would apply on each tenant. Nothing is created, not even the version table.", path)
	if err := show(o.Out, r.Plan(ctx, fl.Targets, runner.PlanOptions{To: -1})); err != nil {
		return err
	}
	say(o.Out, "3/5", "orchestrator up --fleet %s\nEach tenant gets all pending migrations in ONE transaction with its version rows:\na failure leaves that tenant exactly as it was, and the others carry on.", path)
	up := r.Up(ctx, runner.OneWave(fl.Targets, fleet.Budget{}), -1)
	if err := show(o.Out, up); err != nil {
		return err
	}
	say(o.Out, "4/5", "orchestrator status --fleet %s\nEvery tenant at the latest version; goose_db_version is goose's own table, so `goose status` agrees.", path)
	if err := show(o.Out, r.Status(ctx, fl.Targets)); err != nil {
		return err
	}
	if !up.OK() {
		return fmt.Errorf("the demo's up did not succeed on every tenant: see the report above")
	}

	tampered := Tenants[1]
	say(o.Out, "5/5", "Someone edits %s by hand: ALTER TABLE users ADD COLUMN nickname text; DROP INDEX idx_api_keys_key_prefix.\n"+
		"orchestrator drift --fleet %s\nRead-only: versions, checksums and every table, column, index and constraint are compared with\n"+
		"the schema the migrations produce (built once in a scratch database, dropped after). Exit code 3 means drift.", tampered, path)
	conn, err := pgx.Connect(ctx, fl.Targets[1].DSN)
	if err != nil {
		return fmt.Errorf("connect to %s: %s", tampered, fl.Targets[1].Scrub(err.Error()))
	}
	_, err = conn.Exec(ctx, "ALTER TABLE users ADD COLUMN nickname text; DROP INDEX idx_api_keys_key_prefix")
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("tamper with %s: %w", tampered, err)
	}
	drifted := r.Drift(ctx, fl.Targets, runner.DriftOptions{})
	if err := show(o.Out, drifted); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "\nDrift was found on %s only, naming each object. Try next:\n"+
		"  orchestrator up --fleet %s --format json     # everything up to date: exit 0\n"+
		"  orchestrator drift --fleet %s --format junit # the same findings for a CI system\n"+
		"  orchestrator demo --clean                     # drop the demo databases\n", tampered, path, path)
	return nil
}

func say(w io.Writer, step, format string, args ...any) {
	fmt.Fprintf(w, "\n== step %s: %s\n\n", step, fmt.Sprintf(format, args...))
}

func show(w io.Writer, r *report.Report) error { return report.WriteTable(w, r) }

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// writeFleet writes the demo's fleet file, each tenant's DSN being the
// server's with the database swapped in. It returns the file's text with
// passwords redacted, for showing.
func writeFleet(server, dir, prefix string) (path, shown string, err error) {
	var b, redacted strings.Builder
	header := "# Written by `orchestrator demo`; safe to delete (`orchestrator demo --clean`).\n" +
		"defaults:\n  parallelism: 4\n  lock_timeout: 2s\n  statement_timeout: 1m\n  connect_timeout: 5s\ntargets:\n"
	b.WriteString(header)
	redacted.WriteString(header)
	for i, t := range Tenants {
		dsn, err := withDatabase(server, prefix+t)
		if err != nil {
			return "", "", err
		}
		tier := "standard"
		if i == 0 {
			tier = "canary"
		}
		entry := "  - name: %s\n    dsn: %s\n    labels: {tier: %s}\n"
		fmt.Fprintf(&b, entry, t, dsn, tier)
		fmt.Fprintf(&redacted, entry, t, fleet.RedactDSN(dsn), tier)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, "fleet.yaml")
	return path, redacted.String(), os.WriteFile(path, []byte(b.String()), 0o600)
}

// withDatabase returns server with its database replaced. Only URL-form
// connection strings are supported here; the demo's own default is one.
func withDatabase(server, db string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("demo: DATABASE_URL must be a postgres:// URL")
	}
	u.Path = "/" + db
	return u.String(), nil
}
