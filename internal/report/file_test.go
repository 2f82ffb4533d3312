package report

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dirEntries lists the names in dir, to prove no temporary file is left.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

func TestWriteFileAtomic(t *testing.T) {
	t.Run("new file is complete, readable by others, no temp left", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "drift.prom")
		big := strings.Repeat("x", 1<<20) // beyond any buffer
		if err := WriteFileAtomic(path, writeString(big)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != big {
			t.Fatalf("read back %d bytes, %v; want %d", len(got), err, len(big))
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
			t.Errorf("mode %v, want 0644", fi.Mode().Perm())
		}
		if names := dirEntries(t, dir); len(names) != 1 {
			t.Errorf("directory holds %v, want only drift.prom", names)
		}
	})

	t.Run("replaces an existing file, keeping its mode", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "report.json")
		if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := WriteFileAtomic(path, writeString("new")); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != "new" {
			t.Errorf("content %q", got)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600 kept", fi.Mode().Perm())
		}
		if names := dirEntries(t, dir); len(names) != 1 {
			t.Errorf("directory holds %v", names)
		}
	})

	failures := map[string]func(io.Writer) error{
		"an error from write": func(w io.Writer) error {
			io.WriteString(w, "half a rep")
			return errors.New("renderer failed")
		},
		"a panic in write": func(w io.Writer) error {
			io.WriteString(w, "half a rep")
			panic("renderer panicked")
		},
	}
	for name, write := range failures {
		t.Run(name+" leaves the old file untouched", func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "report.json")
			if err := os.WriteFile(path, []byte("old report"), 0o644); err != nil {
				t.Fatal(err)
			}
			func() {
				defer func() { recover() }()
				if err := WriteFileAtomic(path, write); err == nil {
					t.Error("no error")
				}
			}()
			if got, _ := os.ReadFile(path); string(got) != "old report" {
				t.Errorf("content %q, want the old report", got)
			}
			if names := dirEntries(t, dir); len(names) != 1 {
				t.Errorf("directory holds %v, want only report.json", names)
			}
		})
	}

	t.Run("follows a symbolic link", func(t *testing.T) {
		dir := t.TempDir()
		real := filepath.Join(dir, "real.prom")
		link := filepath.Join(dir, "link.prom")
		if err := os.WriteFile(real, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(real, link); err != nil {
			t.Skip(err)
		}
		if err := WriteFileAtomic(link, writeString("new")); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the link was replaced: %v %v", fi, err)
		}
		if got, _ := os.ReadFile(real); string(got) != "new" {
			t.Errorf("target content %q", got)
		}
	})

	t.Run("a missing directory is an error", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no", "such", "report.json")
		if err := WriteFileAtomic(path, writeString("x")); err == nil {
			t.Error("no error")
		}
	})

	t.Run("the JSON report round-trips", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "report.json")
		if err := WriteFileAtomic(path, func(w io.Writer) error { return WriteJSON(w, sample()) }); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		WriteJSON(&want, sample())
		if got, _ := os.ReadFile(path); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("file differs from WriteJSON")
		}
	})
}
