#!/usr/bin/env bash
# seed-compat.sh - check by hand that the migrations in migrations/ (the set
# built into the binary) work the two ways migrations/README.md documents:
# psql file by file (up in order, down in reverse) and the golang-migrate CLI
# (up / version / down).
#
# It creates a uniquely named scratch database, runs both checks against it
# (resetting it in between) and drops it on exit, whatever happens.
#
# Environment:
#   ORCH_TEST_DSN  server URL with a maintenance database
#                  (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
#   MIGRATE        path of the golang-migrate CLI (default: PATH, then $(go env GOPATH)/bin)
set -euo pipefail

ADMIN_DSN=${ORCH_TEST_DSN:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR="$ROOT/migrations"
MIGRATIONS=(
	001_create_users_table
	002_create_api_keys_table
	003_create_sessions_table
	004_create_usage_records_table
)

say() { printf '==> %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

case $ADMIN_DSN in
postgres://* | postgresql://*) ;;
*) die "ORCH_TEST_DSN must be a postgres:// URL" ;;
esac

command -v psql >/dev/null || die "psql not found on PATH"
MIGRATE=${MIGRATE:-$(command -v migrate || true)}
if [[ -z $MIGRATE ]] && command -v go >/dev/null; then
	candidate="$(go env GOPATH | cut -d: -f1)/bin/migrate"
	[[ -x $candidate ]] && MIGRATE=$candidate
fi
[[ -n $MIGRATE ]] || die "golang-migrate CLI not found; install it with: go install -tags postgres github.com/golang-migrate/migrate/v4/cmd/migrate@v4.20.1"

# Build the scratch database URL by replacing the database path of ADMIN_DSN.
DB="orch_seed_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
rest=${ADMIN_DSN#*://}
scheme=${ADMIN_DSN%%://*}
hostpart=${rest%%[/?]*}
query=""
[[ $rest == *\?* ]] && query="?${rest#*\?}"
DSN="$scheme://$hostpart/$DB$query"

admin() { psql -v ON_ERROR_STOP=1 -X -q -At "$ADMIN_DSN" -c "$1"; }
sql() { psql -v ON_ERROR_STOP=1 -X -q -At "$DSN" -c "$1"; }
run_file() {
	say "psql -f migrations/$1"
	psql -v ON_ERROR_STOP=1 -X -q -f "$DIR/$1" "$DSN"
}
# relations and functions left in the public schema (besides any allowed).
leftovers() {
	sql "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	     WHERE n.nspname = 'public' AND c.relname NOT IN ($1)
	     UNION ALL
	     SELECT p.proname || '()' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	     WHERE n.nspname = 'public'
	     ORDER BY 1"
}

cleanup() {
	say "dropping scratch database $DB"
	admin "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" || true
}

say "creating scratch database $DB"
admin "CREATE DATABASE \"$DB\""
trap cleanup EXIT

# --- psql: up in order, down in reverse -----------------------------------
for m in "${MIGRATIONS[@]}"; do
	run_file "$m.up.sql"
done
tables=$(sql "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")
say "tables after up: $tables"
[[ $tables == "api_keys sessions usage_records users" ]] || die "unexpected tables: $tables"

for ((i = ${#MIGRATIONS[@]} - 1; i >= 0; i--)); do
	run_file "${MIGRATIONS[i]}.down.sql"
done
left=$(leftovers "''")
[[ -z $left ]] || die "public schema not empty after downs: $(echo $left)"
say "public schema is empty after downs"

# --- golang-migrate CLI ---------------------------------------------------
say "migrate -path migrations -database <scratch> up"
"$MIGRATE" -path "$DIR" -database "$DSN" up 2>&1

say "migrate -path migrations -database <scratch> version"
version=$("$MIGRATE" -path "$DIR" -database "$DSN" version 2>&1 | tail -n1 | tr -d '[:space:]')
say "version: $version"
[[ $version == 4 ]] || die "migrate version = $version, want 4"

say "migrate -path migrations -database <scratch> down -all"
"$MIGRATE" -path "$DIR" -database "$DSN" down -all 2>&1
left=$(leftovers "'schema_migrations', 'schema_migrations_pkey'")
[[ -z $left ]] || die "public schema not empty after migrate down: $(echo $left)"
say "public schema holds only schema_migrations after migrate down"

say "OK: seed migrations pass with psql and golang-migrate"
