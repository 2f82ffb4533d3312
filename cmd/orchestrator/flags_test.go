package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
)

// TestHelpShowsBuiltinDefaults: the flags' help states the built-in
// defaults, which it reads from fleet.BuiltinDefaults.
func TestHelpShowsBuiltinDefaults(t *testing.T) {
	out, errOut, code := runApp(t, "up", "--help")
	if code != 0 {
		t.Fatalf("up --help: exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"(default: the fleet's parallelism, else 8)",
		"(default: fleet's lock_timeout, else 5s)",
		"(default: fleet's statement_timeout, else 30m)",
		"(default: fleet's connect_timeout, else 10s)",
		"(default: fleet's lock_wait, else 30s)",
		"(default: fleet's timeout, else none)",
		"(default: fleet's stall_timeout, else 60s)",
		"after a lock timeout or deadlock (default: 2)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("up --help does not say %q:\n%s", want, out)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                       "none",
		5 * time.Second:         "5s",
		time.Minute:             "60s",
		90 * time.Second:        "90s",
		30 * time.Minute:        "30m",
		1500 * time.Millisecond: "1.5s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestReadmeDefaults: the README's table of timeouts states the built-in
// defaults of fleet.BuiltinDefaults and fleet.DefaultRetries.
func TestReadmeDefaults(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	b := fleet.BuiltinDefaults()
	want := map[string]string{ // the setting column -> the default column
		"lock wait":           shortDuration(b.LockWait),
		"lock timeout":        shortDuration(b.LockTimeout),
		"statement timeout":   shortDuration(b.StatementTimeout),
		"idle in transaction": shortDuration(b.IdleInTransactionTimeout),
		"connect timeout":     shortDuration(b.ConnectTimeout),
		"per-target budget":   shortDuration(b.Timeout),
		"stall bound":         shortDuration(b.StallTimeout),
		"retries":             strconv.Itoa(fleet.DefaultRetries),
	}
	for _, line := range strings.Split(string(data), "\n") {
		cols := strings.Split(line, "|")
		if len(cols) != 7 {
			continue
		}
		setting, def := strings.TrimSpace(cols[1]), strings.TrimSpace(cols[4])
		if w, ok := want[setting]; ok {
			if def != w {
				t.Errorf("README: %s defaults to %q, want %q", setting, def, w)
			}
			delete(want, setting)
		}
	}
	for setting := range want {
		t.Errorf("README's table of timeouts has no row %q", setting)
	}
}
