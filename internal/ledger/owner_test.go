package ledger

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTablesNamedOnlyHere fails when a bookkeeping table is named in Go
// code (tests aside) outside this package: every read and write of them
// goes through the ledger.
func TestTablesNamedOnlyHere(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	here, _ := filepath.Abs(".")
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == here || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for _, name := range []string{VersionTable, MigrateTable, ChecksumTable} {
			if strings.Contains(string(data), name) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s names %s: use the ledger package's constant and functions instead", rel, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("only %d Go files checked: the walk missed the module", checked)
	}
}
