package drift

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/orchestrator-dev/orchestrator/internal/ledger"
)

// Querier runs one query that returns one row. *pgx.Conn, pgx.Tx and
// *pgxpool.Pool satisfy it. Everything this package reads from a target
// goes through it, so a caller can run the reads in one read-only
// transaction for a consistent view.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// BatchQuerier runs a query whose rows are read as they arrive. *pgx.Conn
// and pgx.Tx satisfy it.
type BatchQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// State is what one target says about itself: its version history and its
// schema.
type State struct {
	Initialized bool      `json:"initialized"`
	Applied     []Applied `json:"applied"`
	// Version is the highest applied version, 0 when none.
	Version int64 `json:"version"`
	// Snapshot is the catalog of the target's schema.
	Snapshot *Snapshot `json:"snapshot"`
	// Invalid lists the INVALID indexes (qualified names) of the schemas
	// the target's session sees, filled by the caller.
	Invalid []string `json:"invalid_indexes,omitempty"`
}

// Inspect reads the version history and the catalog of schema in one
// query, a read: the history and the catalog are of the same moment.
func Inspect(ctx context.Context, q Querier, schema string) (*State, error) {
	return readOne(ctx, q, schema, true)
}

// beginSnapshot starts the transaction every target read runs in: read
// only, and repeatable read, so that all it reads is of one moment and a
// migration committing meanwhile is either wholly seen or not at all.
const beginSnapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

// InspectCurrent reads the session's current schema, its version history,
// checksums and catalog in one round trip: the transaction's BEGIN, the
// query and the COMMIT go to the server as one message. It returns the
// schema's name with its state.
//
// The query is sent with the simple protocol, so it needs no prepare round
// trip, whatever the connection's default. On failure the transaction is
// rolled back, so the connection stays usable. A server built without XML
// support (query_to_xml reads the history) is read in four round trips
// instead, in one such transaction too.
func InspectCurrent(ctx context.Context, conn *pgx.Conn) (string, *State, error) {
	c := conn.PgConn()
	sql := beginSnapshot + ";\n" + currentSQL() + ";\nCOMMIT"
	results, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		if c.TxStatus() != 'I' && !c.IsClosed() {
			_, _ = c.Exec(context.WithoutCancel(ctx), "ROLLBACK").ReadAll()
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "0A000" { // feature_not_supported: a server built without XML
			return inspectWithoutXML(ctx, conn)
		}
		return "", nil, fmt.Errorf("read catalog: %w", err)
	}
	if len(results) != 3 || len(results[1].Rows) != 1 || len(results[1].Rows[0]) != 2 {
		return "", nil, errors.New("read catalog: unexpected reply")
	}
	row := results[1].Rows[0]
	if row[0] == nil {
		return "", nil, fmt.Errorf("read catalog: %w: the search_path names no existing schema", ErrNoSchema)
	}
	schema := string(row[0])
	states, err := decodeCatalog(row[1])
	if err != nil {
		return "", nil, fmt.Errorf("read catalog of schema %q: %w", schema, err)
	}
	st, ok := states[schema]
	if !ok {
		return "", nil, fmt.Errorf("read catalog of schema %q: %w", schema, ErrNoSchema)
	}
	return schema, st, nil
}

// inspectWithoutXML is InspectCurrent for a server built without XML
// support, where query_to_xml cannot read the history inside the catalog
// statement: the same reads in one read-only repeatable-read transaction,
// in four round trips (the schema, the history's tables, the history, the
// catalog).
func inspectWithoutXML(ctx context.Context, conn *pgx.Conn) (string, *State, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return "", nil, fmt.Errorf("read catalog: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var schema *string
	if err := tx.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", nil, fmt.Errorf("read current schema: %w", err)
	}
	if schema == nil {
		return "", nil, fmt.Errorf("read catalog: %w: the search_path names no existing schema", ErrNoSchema)
	}
	initialized, applied, err := ledger.ReadHistory(ctx, tx, *schema)
	if err != nil {
		return "", nil, err
	}
	snap, err := ReadSnapshot(ctx, tx, *schema)
	if err != nil {
		return "", nil, err
	}
	st := &State{Initialized: initialized, Applied: applied, Snapshot: snap}
	for _, a := range applied {
		st.Version = max(st.Version, a.Version)
	}
	return *schema, st, tx.Commit(ctx)
}

// currentSQL reads current_schema() and the catalog document of it.
func currentSQL() string {
	return "SELECT current_schema(), (" + catalogSQL("ARRAY[current_schema()::text]", true) + ")"
}

// ReadStates reads the version history and the catalog of each of schemas
// in one query, by schema name; a schema that does not exist has no entry.
// Run it in a read-only repeatable-read transaction to read several
// batches of one database as of one moment; each batch is of one moment
// whatever the transaction.
//
// Names outside the session's search_path are qualified by the server and
// each schema's own qualification is stripped, as in ReadSnapshot.
//
// The reply is a row per schema (about 20 KB each for the built-in set),
// each decoded where the driver read it as it arrives: a batch never
// arrives, nor is held, as one message the size of the whole batch.
func ReadStates(ctx context.Context, q BatchQuerier, schemas []string) (map[string]*State, error) {
	states, err := readStates(ctx, q, schemas)
	if err != nil {
		return nil, fmt.Errorf("read catalogs of %d schemas: %w", len(schemas), err)
	}
	return states, nil
}

func readStates(ctx context.Context, q BatchQuerier, schemas []string) (map[string]*State, error) {
	rows, err := q.Query(ctx, catalogRowsSQL("$1::text[]"), schemas)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]*State, len(schemas))
	for rows.Next() {
		// Valid until the next call on rows, which is after the decode.
		var name string
		var raw pgtype.DriverBytes
		if err := rows.Scan(&name, &raw); err != nil {
			return nil, err
		}
		states, err := decodeCatalog(raw)
		if err != nil {
			return nil, fmt.Errorf("schema %q: %w", name, err)
		}
		if st, ok := states[name]; ok {
			out[name] = st
		}
	}
	return out, rows.Err()
}
