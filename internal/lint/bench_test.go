package lint

import (
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// benchSet builds a goose set of n migrations shaped like a real history:
// each creates a table with its indexes and changes an older one, every
// tenth is a NO TRANSACTION index build, some carry a lint-ignore, so every
// per-statement rule, the batch rules and the suppressions do their work.
func benchSet(b *testing.B, n int) *source.Set {
	b.Helper()
	fsys := fstest.MapFS{}
	for v := 1; v <= n; v++ {
		var up, down string
		switch {
		case v%10 == 0:
			up = fmt.Sprintf("-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_t%d_name ON t%d (name);\n", v-1, v-1)
			down = fmt.Sprintf("DROP INDEX CONCURRENTLY IF EXISTS idx_t%d_name;\n", v-1)
		default:
			up = fmt.Sprintf("-- +goose Up\n-- t%d holds one kind of tenant record.\nCREATE TABLE t%d (\n"+
				"    id          bigserial PRIMARY KEY,\n    owner_id    bigint NOT NULL REFERENCES t%d (id) ON DELETE CASCADE,\n"+
				"    name        varchar(200) NOT NULL,\n    payload     jsonb NOT NULL DEFAULT '{}',\n"+
				"    created_at  timestamptz NOT NULL DEFAULT now(),\n    CONSTRAINT t%d_name_check CHECK (btrim(name) <> '')\n);\n"+
				"CREATE INDEX idx_t%d_owner ON t%d (owner_id);\nCREATE UNIQUE INDEX idx_t%d_name_live ON t%d (name) WHERE name <> '';\n",
				v, v, max(v-1, 1), v, v, v, v, v)
			if v > 1 {
				up += fmt.Sprintf("-- orchestrator:lint-ignore add-column-volatile-default the table is small everywhere\n"+
					"ALTER TABLE t%d ADD COLUMN note text, ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"+
					"UPDATE t%d SET note = 'migrated' WHERE note IS NULL;\n", v-1, v-1)
			}
			down = fmt.Sprintf("DROP TABLE t%d;\n", v)
		}
		fsys[fmt.Sprintf("%05d_m%d.sql", v, v)] = &fstest.MapFile{Data: []byte(up + "-- +goose Down\n" + down)}
	}
	set, err := source.Load(fsys, ".")
	if err != nil {
		b.Fatal(err)
	}
	return set
}

// BenchmarkCheck lints sets of 100, 1,000 and 10,000 migration files in one
// run and reports the time per file: linear growth keeps ns/file flat.
func BenchmarkCheck(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		set := benchSet(b, n)
		for _, since := range []int64{0, int64(n) - 50} {
			b.Run(fmt.Sprintf("files=%d/since=%d", n, since), func(b *testing.B) {
				var findings int
				b.ReportAllocs()
				for b.Loop() {
					findings = len(CheckWith(set, Options{Since: since}))
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/file")
				b.ReportMetric(float64(findings), "findings")
			})
		}
	}
}
