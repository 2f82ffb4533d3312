package fleet

import (
	"go/build"
	"strings"
	"testing"
)

// TestNoDatabaseImports keeps this package a configuration package: it
// reads files and opens no connection, so it imports no database driver
// and no session code (package discovery is where the connections are).
func TestNoDatabaseImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{
		"github.com/jackc/pgx/", "database/sql", "github.com/lib/pq",
		"github.com/orchestrator-dev/orchestrator/internal/pgsession",
		"github.com/orchestrator-dev/orchestrator/internal/discovery",
		"golang.org/x/sync/errgroup",
	}
	if len(pkg.Imports) == 0 {
		t.Fatal("found no imports; is this the package's directory?")
	}
	for _, imp := range pkg.Imports {
		for _, f := range forbidden {
			if imp == strings.TrimSuffix(f, "/") || strings.HasPrefix(imp, f) {
				t.Errorf("package fleet imports %s", imp)
			}
		}
	}
}
