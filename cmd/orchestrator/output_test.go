package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const goodReport = `{"schema_version":1,"command":"up","started_at":"2026-01-01T00:00:00Z","duration_ms":1,"summary":{},"targets":[{"name":"a","status":"up_to_date","from_version":4,"to_version":4,"duration_ms":1}]}`

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOutputPathsCheckedFirst: a --report or --prometheus that cannot be
// written is exit 2 before any connection.
func TestOutputPathsCheckedFirst(t *testing.T) {
	dsn, accepted := listener(t)
	fl := fleetAt(t, dsn)
	dir := t.TempDir()
	file := writeTemp(t, "plain", "x")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"report is a directory", []string{"up", "-f", fl, "--report", dir}, "--report " + dir + ": is a directory"},
		{"report parent missing", []string{"status", "-f", fl, "--report", filepath.Join(dir, "no", "r.json")}, "does not exist"},
		{"report parent is a file", []string{"plan", "-f", fl, "--report", filepath.Join(file, "r.json")}, "not a directory"},
		{"prometheus is a directory", []string{"drift", "-f", fl, "--prometheus", dir}, "--prometheus " + dir + ": is a directory"},
		{"prometheus parent missing", []string{"drift", "-f", fl, "--prometheus", "/nonexistent-dir/x.prom"}, "does not exist"},
		{"merge report is a directory", []string{"report", "merge", "--report", dir, writeTemp(t, "a.json", goodReport)}, "is a directory"},
		{"new into a file", []string{"new", "x", "--migrations", file}, file},
	}
	if os.Geteuid() != 0 {
		ro := t.TempDir()
		if err := os.Chmod(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(ro, 0o700) })
		cases = append(cases, struct {
			name string
			args []string
			want string
		}{"report unwritable", []string{"up", "-f", fl, "--report", filepath.Join(ro, "r.json")}, "cannot create a file in"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runApp(t, tc.args...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d (want 2), stderr lacks %q:\n%s\nstdout:\n%s", code, tc.want, errOut, out)
			}
		})
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("opened %d connections", n)
	}
}

// TestReportIntoFIFO: a FIFO is written in place, never replaced by a
// regular file.
func TestReportIntoFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "report.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- string(b)
	}()
	_, errOut, code := runApp(t, "report", "merge", writeTemp(t, "a.json", goodReport), "--report", fifo)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if body := <-got; !strings.Contains(body, `"schema_version": 1`) {
		t.Errorf("the reader got %q", body)
	}
	fi, err := os.Lstat(fifo)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v %v", fi.Mode(), err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestReportWriteFailureIsNotExit1: exit 1 is for targets only.
func TestReportWriteFailureIsNotExit1(t *testing.T) {
	var errb bytes.Buffer
	code := run(context.Background(), []string{"orchestrator", "report", "merge", writeTemp(t, "a.json", goodReport)},
		failingWriter{}, &errb, func(string) (string, bool) { return "", false })
	if code != exitUsage || !strings.Contains(errb.String(), "no space left on device") {
		t.Errorf("exit %d (want 2), stderr %q", code, errb.String())
	}
}

// TestMergeRefusesBadReports: a report read back is validated; the error
// names the file and the field.
func TestMergeRefusesBadReports(t *testing.T) {
	bad := writeTemp(t, "bad.json", strings.Replace(goodReport, `"up_to_date"`, `"weird"`, 1))
	neg := writeTemp(t, "neg.json", strings.Replace(goodReport, `"to_version":4`, `"to_version":-1`, 1))
	for _, tc := range []struct{ file, want string }{
		{bad, `targets[0] ("a").status "weird" is not a status`},
		{neg, `targets[0] ("a").to_version -1 is negative`},
	} {
		out, errOut, code := runApp(t, "report", "merge", tc.file)
		if code != exitUsage || !strings.Contains(errOut, tc.file) || !strings.Contains(errOut, tc.want) {
			t.Errorf("exit %d (want 2), stderr %q lacks %s and %q; stdout %q", code, errOut, tc.file, tc.want, out)
		}
	}
}

// TestNewAfterTheLastVersion: no version follows 9223372036854775807; new
// refuses rather than wrapping around to a negative one.
func TestNewAfterTheLastVersion(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "9223372036854775807_last.sql"),
		[]byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runApp(t, "new", "next_one", "--migrations", dir)
	if code != exitUsage || !strings.Contains(errOut, "no version can follow it") {
		t.Errorf("exit %d (want 2), stdout %q, stderr %q", code, out, errOut)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("new wrote files: %v", entries)
	}
}

// TestDiscoveryFailureIsNotAnInvalidFile: a discover source that cannot be
// reached is a discovery failure (exit 2), not "fleet file is not valid".
func TestDiscoveryFailureIsNotAnInvalidFile(t *testing.T) {
	dsn, _ := listener(t)
	fl := writeTemp(t, "fleet.yaml", "defaults:\n  connect_timeout: 2s\ndiscover:\n  - server: "+dsn+"\n    databases: tenant_%\n")
	_, errOut, code := runApp(t, "status", "-f", fl)
	if code != exitUsage || !strings.Contains(errOut, "discovering the fleet's targets failed") || strings.Contains(errOut, "not valid") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}
