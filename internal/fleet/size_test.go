package fleet

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadRefusesHugeFiles: a fleet file over MaxFileSize is refused with a
// pointer to discovery, without being read whole.
func TestLoadRefusesHugeFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.yaml")
	entry := "  - name: t\n    dsn: postgres://h/t\n"
	var b bytes.Buffer
	b.WriteString("targets:\n")
	for b.Len() <= MaxFileSize {
		b.WriteString(entry)
	}
	b.Truncate(MaxFileSize + 1)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") || !strings.Contains(err.Error(), "discover") ||
		!strings.HasPrefix(err.Error(), path+": ") {
		t.Fatalf("got %v", err)
	}
	small := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(small, []byte("targets:\n"+entry), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(small, func(string) (string, bool) { return "", false }); err != nil {
		t.Errorf("small file: %v", err)
	}
}
