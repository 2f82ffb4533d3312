package ledger

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3/database"
)

// Have records which bookkeeping tables a target has, as seen under its
// lock, and whether golang-migrate's is to be kept in step.
type Have struct {
	Version   bool // goose_db_version exists
	Checksums bool // orchestrator_migrations exists
	// SyncMigrate: schema_migrations exists and every write sets it to the
	// target's new version (dirty false), in the same transaction.
	SyncMigrate bool
}

// EnsureVersionTable creates goose's version table, through goose's store,
// when the target has none. It reports whether it created the table (its
// version-0 row, which goose writes with it, is then the caller's to record
// with Record's ZeroRow).
func EnsureVersionTable(ctx context.Context, store database.StoreExtender, tx database.DBTxConn, have Have) (bool, error) {
	if have.Version {
		return false, nil
	}
	return true, store.CreateVersionTable(ctx, tx)
}

// Entry is one migration whose version a write records or removes.
type Entry struct {
	Version    int64
	Name       string
	UpSHA256   string
	DownSHA256 string
}

// Write is what one transaction records.
type Write struct {
	Down    bool    // remove the entries' rows (a down), else insert them
	Entries []Entry // ascending for ups
	// ZeroRow adds goose's version-0 marker row (to a version table just
	// created, or rewritten by Replace).
	ZeroRow bool
	// Replace empties goose_db_version and the checksum record first:
	// adoption stating a version over a history that disagrees.
	Replace bool
	Have    Have
}

// Record writes w in one statement: goose's version rows (inserted for ups,
// deleted for downs: the rows goose itself would write, one per version;
// goose's store sends one statement per row, and in one transaction the same
// rows can go in one round trip), the checksum record (created first if the
// target has none yet), and, when kept in step, golang-migrate's row set to
// the highest version now applied.
func Record(ctx context.Context, tx database.DBTxConn, w Write) error {
	var q strings.Builder
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !w.Have.Checksums {
		q.WriteString(createChecksumTable + ";\n")
	}
	if w.Replace {
		fmt.Fprintf(&q, "DELETE FROM %s;\nDELETE FROM %s;\n", VersionTable, ChecksumTable)
	}
	switch {
	case w.Down:
		var list []string
		for _, e := range w.Entries {
			list = append(list, arg(e.Version))
		}
		in := strings.Join(list, ", ")
		fmt.Fprintf(&q, "DELETE FROM %s WHERE version_id IN (%s);\nDELETE FROM %s WHERE version_id IN (%s);\n",
			VersionTable, in, ChecksumTable, in)
	default:
		var versions, sums []string
		if w.ZeroRow {
			versions = append(versions, "(0, true)")
		}
		for _, e := range w.Entries {
			versions = append(versions, "("+arg(e.Version)+", true)")
			sums = append(sums, fmt.Sprintf("(%s, %s, %s, %s)", arg(e.Version), arg(e.Name), arg(e.UpSHA256), arg(e.DownSHA256)))
		}
		if len(versions) > 0 {
			fmt.Fprintf(&q, "INSERT INTO %s (version_id, is_applied) VALUES %s;\n", VersionTable, strings.Join(versions, ", "))
		}
		if len(sums) > 0 {
			fmt.Fprintf(&q, "INSERT INTO %s (version_id, name, up_sha256, down_sha256) VALUES %s\n", ChecksumTable, strings.Join(sums, ", "))
			q.WriteString("ON CONFLICT (version_id) DO UPDATE SET name = EXCLUDED.name, up_sha256 = EXCLUDED.up_sha256,\n" +
				"\tdown_sha256 = EXCLUDED.down_sha256, applied_at = now(), applied_by = EXCLUDED.applied_by;\n")
		}
	}
	if w.Have.SyncMigrate {
		// golang-migrate's own SetVersion empties the table and inserts one
		// row; no row is its "no migration".
		fmt.Fprintf(&q, "DELETE FROM %s;\nINSERT INTO %s (version, dirty) SELECT max(version_id), false FROM %s "+
			"WHERE version_id > 0 AND is_applied HAVING max(version_id) IS NOT NULL",
			MigrateTable, MigrateTable, VersionTable)
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("record versions %s: %w", describe(w), err)
	}
	return nil
}

func describe(w Write) string {
	names := make([]string, len(w.Entries))
	dir := "up"
	if w.Down {
		dir = "down"
	}
	for i, e := range w.Entries {
		names[i] = e.Name + " (" + dir + ")"
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}
