// Package demo shows the product end to end on a local server: it creates a
// handful of tenant databases, writes the fleet file it uses, and runs plan,
// up and status over them, saying what each step showed.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/dsn"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/ledger"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/runner"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// DefaultPrefix starts the name of every database the demo creates; nothing
// else on the server is touched.
const DefaultPrefix = "orch_demo_"

// DefaultDir is where the demo writes its fleet file unless told otherwise.
const DefaultDir = "orchestrator-demo"

// marker is the comment the demo puts on every database it creates: --clean
// and a re-run drop only databases that carry it, never a database that
// merely shares the name.
const marker = "created by orchestrator demo; dropped by orchestrator demo --clean"

// fleetHeader starts the fleet file the demo writes; --clean removes a
// fleet.yaml only when it starts with it.
const fleetHeader = "# Written by `orchestrator demo`; safe to delete (`orchestrator demo --clean`).\n"

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
		dropped := 0
		for _, t := range Tenants {
			ok, err := dropOwn(ctx, admin, o.Prefix+t)
			if err != nil {
				return err
			}
			if ok {
				dropped++
			}
		}
		removed, err := removeFleetFile(o.Dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "Dropped %d demo database(s) (%s%s) and %s.\n", dropped, o.Prefix, strings.Join(Tenants, ", "+o.Prefix), removed)
		return nil
	}

	say(o.Out, "1/5", "Creating %d empty tenant databases on the server: %s%s ... (the first is the canary).",
		len(Tenants), o.Prefix, strings.Join(Tenants, ", "+o.Prefix))
	for _, t := range Tenants {
		if _, err := dropOwn(ctx, admin, o.Prefix+t); err != nil {
			return err
		}
		name := pgx.Identifier{o.Prefix + t}.Sanitize()
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			return fmt.Errorf("create %s%s: %w", o.Prefix, t, err)
		}
		if _, err := admin.Exec(ctx, "COMMENT ON DATABASE "+name+" IS "+pgQuote(marker)); err != nil {
			return fmt.Errorf("mark %s%s as the demo's: %w", o.Prefix, t, err)
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
	ro.Settings = fl.Defaults
	r, err := runner.New(ro)
	if err != nil {
		return err
	}

	say(o.Out, "2/5", "orchestrator plan --fleet %s\nRead-only: what up would apply on each tenant. Nothing is created, not even the version table.", path)
	if err := show(o.Out, r.Plan(ctx, fl.Targets, runner.PlanOptions{To: -1})); err != nil {
		return err
	}
	say(o.Out, "3/5", "orchestrator up --fleet %s\nEach tenant gets all pending migrations in ONE transaction with its version rows:\na failure leaves that tenant exactly as it was, and the others carry on.", path)
	up := r.Up(ctx, []fleet.WaveTargets{{Targets: fl.Targets}}, -1)
	if err := show(o.Out, up); err != nil {
		return err
	}
	say(o.Out, "4/5", "orchestrator status --fleet %s\nEvery tenant at the latest version; %s is goose's own table, so `goose status` agrees.", path, ledger.VersionTable)
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
		"  %s  # drop the demo databases\n", tampered, path, path, cleanCommand(o))
	return nil
}

// cleanCommand is the command that undoes this demo, with the prefix and
// directory it was given.
func cleanCommand(o Options) string {
	cmd := "orchestrator demo --clean"
	if o.Prefix != DefaultPrefix {
		cmd += " --prefix " + shellQuote(o.Prefix)
	}
	if o.Dir != DefaultDir {
		cmd += " --dir " + shellQuote(o.Dir)
	}
	return cmd
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func pgQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// dropOwn drops the database name if the demo created it (it carries the
// demo's comment). A database of that name the demo did not create is an
// error: it is someone's, and is left alone. It reports whether it dropped.
func dropOwn(ctx context.Context, admin *pgx.Conn, name string) (bool, error) {
	var comment *string
	err := admin.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, name).Scan(&comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up %s: %w", name, err)
	}
	if comment == nil || *comment != marker {
		return false, fmt.Errorf("database %s exists but was not created by the demo: leaving it alone (choose another --prefix)", name)
	}
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return false, fmt.Errorf("drop %s: %w", name, err)
	}
	return true, nil
}

// removeFleetFile removes the fleet file the demo wrote in dir (only if it
// is the demo's, by its first line), then dir if that left it empty. It
// says what it removed.
func removeFleetFile(dir string) (string, error) {
	path := filepath.Join(dir, "fleet.yaml")
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no fleet file to remove", nil
	case err != nil:
		return "", err
	case !strings.HasPrefix(string(data), fleetHeader):
		return "left " + path + " alone (the demo did not write it)", nil
	}
	if err := os.Remove(path); err != nil {
		return "", err
	}
	if err := os.Remove(dir); err == nil {
		return "removed " + path + " and its directory", nil
	}
	return "removed " + path, nil
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
	header := fleetHeader +
		"defaults:\n  parallelism: 4\n  lock_timeout: 2s\n  statement_timeout: 1m\n  connect_timeout: 5s\ntargets:\n"
	b.WriteString(header)
	redacted.WriteString(header)
	for i, t := range Tenants {
		tenant, err := dsn.WithDatabase(server, prefix+t)
		if err != nil {
			return "", "", fmt.Errorf("demo: DATABASE_URL: %w", err)
		}
		tier := "standard"
		if i == 0 {
			tier = "canary"
		}
		entry := "  - name: %s\n    dsn: %s\n    labels: {tier: %s}\n"
		fmt.Fprintf(&b, entry, t, tenant, tier)
		fmt.Fprintf(&redacted, entry, t, dsn.Redact(tenant), tier)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, "fleet.yaml")
	return path, redacted.String(), os.WriteFile(path, []byte(b.String()), 0o600)
}
