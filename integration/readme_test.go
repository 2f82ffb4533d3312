package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orchestrator-dev/orchestrator/internal/pgtest"
)

// example is one command of the README, as written, and the code block it
// is in (blocks run in order; each starts from fresh files).
type example struct {
	block int
	lang  string
	line  string
}

// readmeExamples lists every command of the README's code blocks: each line
// of a sh block (a trailing backslash joins the next), the command of each
// crontab line, and each `- run:` step of a workflow.
func readmeExamples(text string) []example {
	var out []example
	block, lang, in := 0, "", false
	var pending string
	runStep := regexp.MustCompile(`^\s*- run: (.+)$`)
	cronLine := regexp.MustCompile(`^(\S+\s+){5}(.+)$`)
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if !in {
				block++
				lang, in = strings.TrimPrefix(line, "```"), true
			} else {
				in = false
			}
			continue
		}
		if !in {
			continue
		}
		switch lang {
		case "sh":
			if pending != "" {
				line = pending + " " + strings.TrimSpace(line)
				pending = ""
			}
			if strings.HasSuffix(line, `\`) {
				pending = strings.TrimSuffix(line, `\`)
				continue
			}
			if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
				out = append(out, example{block, lang, s})
			}
		case "cron":
			if m := cronLine.FindStringSubmatch(line); m != nil && !strings.HasPrefix(line, "#") {
				out = append(out, example{block, lang, strings.TrimSpace(m[2])})
			}
		case "yaml":
			if m := runStep.FindStringSubmatch(line); m != nil {
				out = append(out, example{block, lang, m[1]})
			}
		}
	}
	return out
}

// inlineCommands lists the commands of the README's prose (code spans that
// start with orchestrator, ./orchestrator or go run ./cmd/orchestrator).
func inlineCommands(text string) []string {
	prose := regexp.MustCompile("(?s)```.*?```").ReplaceAllString(text, "")
	var out []string
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(strings.ReplaceAll(prose, "\n", " "), -1) {
		span := strings.Join(strings.Fields(m[1]), " ")
		for _, p := range []string{"orchestrator ", "./orchestrator ", "go run ./cmd/orchestrator "} {
			if strings.HasPrefix(span, p) {
				out = append(out, span)
				break
			}
		}
	}
	return out
}

// inlineExit are the prose commands that are run, after the code blocks, in
// this order, with the exit code each must end with.
var inlineExit = []struct {
	line string
	code int
}{
	{"orchestrator --version", 0},
	{"orchestrator new add_user_nickname --migrations db/migrations", 0},
	{"orchestrator report merge shard-*.json", 0},
	{"orchestrator report merge a.json b.json --format json", 0},
	{"orchestrator stauts", 2},
	{"go run ./cmd/orchestrator demo --clean", 0},
}

// inlineNotRun are prose spans that name a command rather than show one.
var inlineNotRun = map[string]string{
	"orchestrator completion bash|zsh|fish": "a synopsis of three commands",
	"orchestrator down --to N":              "a template: N is the version a remedy names",
	"orchestrator up":                       "names the command",
	"orchestrator drift":                    "names the command",
	"orchestrator adopt":                    "names the command",
	"orchestrator status":                   "names the command",
	"orchestrator down":                     "names the command",
	"orchestrator new":                      "names the command",
}

// notRun are README commands this test does not run, and why.
var notRun = map[string]string{
	"go test -race -count=1 -timeout 45m ./...":                                                                                                    "the test suite this test is part of",
	"ORCH_IT_NORACE=1 go test -run '^$' -bench BenchmarkFleetUp -benchtime 1x -count 2 ./integration":                                              "a benchmark, run by hand",
	"ORCH_IT_NORACE=1 go test -run '^$' -bench BenchmarkDrift -benchtime 1x -count 2 ./integration":                                                "a benchmark, run by hand",
	"ORCH_IT_NORACE=1 go test -run '^$' -bench BenchmarkAdopt -benchtime 1x ./integration":                                                         "a benchmark, run by hand",
	"ORCH_IT_NORACE=1 go test -run '^$' -bench 'BenchmarkDrift$|BenchmarkDriftSchemas|BenchmarkTenants' -benchtime 1x -timeout 150m ./integration": "benchmarks of up to 10,000 tenants, run by hand",
	"ORCH_IT_NORACE=1 go test -run '^$' -bench BenchmarkScale -benchtime 1x -timeout 60m ./integration":                                            "a benchmark of 1,000 databases, run by hand",
	"gh pr comment ${{ github.event.number }} --body-file plan.md":                                                                                 "GitHub's CLI, inside a workflow",
}

// produces lists files a command must leave behind.
var produces = map[string][]string{
	"./orchestrator up   --fleet fleet.example.yaml --format json --report up.json":                                     {"up.json"},
	"orchestrator up --fleet fleet.yaml --parallel 16 --report up.json":                                                 {"up.json"},
	"orchestrator drift --fleet fleet.yaml --format junit > drift.xml":                                                  {"drift.xml"},
	"orchestrator new add_user_nickname --migrations db/migrations":                                                     {"db/migrations/005_add_user_nickname.up.sql"},
	"orchestrator plan --fleet fleet.yaml --migrations db/migrations --verify --format markdown > plan.md":              {"plan.md"},
	"orchestrator up --fleet fleet.yaml --migrations db/migrations --format junit --report up.json > up.xml":            {"up.xml", "up.json"},
	"for i in 0 1 2 3; do orchestrator up -f fleet.yaml --shard $i/4 --format json --report shard-$i.json & done; wait": {"shard-0.json", "shard-3.json"},
	"go build -o orchestrator ./cmd/orchestrator":                                                                       {"orchestrator"},
	"go install ./cmd/orchestrator":                                                                                     {"bin/orchestrator"},
}

// TestREADMECommands runs every command example of the README as written,
// in order, in a directory laid out as the README assumes (a fleet.yaml, a
// db/migrations, the repository's sources for the go commands) against
// databases of its own. The crontab line's absolute paths are taken under
// the test's directory. Every command must exit 0.
func TestREADMECommands(t *testing.T) {
	pgtest.Shared(t)
	for _, tool := range []string{"jq", "go", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			pgtest.Unavailable(t, "no %s: the README's examples need it", tool)
		}
	}
	u, err := url.Parse(server.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != "127.0.0.1:5432" {
		t.Skip("fleet.example.yaml names 127.0.0.1:5432; ORCH_TEST_DSN points elsewhere")
	}
	text, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	examples := readmeExamples(string(text))
	if len(examples) < 20 {
		t.Fatalf("found only %d command examples in the README: is the extraction broken?", len(examples))
	}

	w := t.TempDir()
	for _, p := range []string{"go.mod", "go.sum", "cmd", "internal", "migrations"} {
		copyTree(t, filepath.Join("..", p), filepath.Join(w, p))
	}
	bin := filepath.Join(w, "bin")
	copyTree(t, binary, filepath.Join(bin, "orchestrator"))

	prefix := pgtest.Name("it_rd") + "_"
	example, err := os.ReadFile("../fleet.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeAt(t, filepath.Join(w, "fleet.example.yaml"), strings.ReplaceAll(string(example), "orch_demo_", prefix))
	dbs := newDatabases(t, 4)
	var fl strings.Builder
	fl.WriteString("defaults:\n  parallelism: 4\ntargets:\n")
	for i, name := range []string{"acme", "globex", "initech"} {
		tier := "standard"
		if i == 0 {
			tier = "canary"
		}
		fmt.Fprintf(&fl, "  - name: %s\n    dsn: %s\n    labels: {tier: %s}\n", name, dsnFor(t, dbs[i], ""), tier)
	}
	writeAt(t, filepath.Join(w, "fleet.yaml"), fl.String())
	// The crontab's fleet: the tenants the examples before it leave at the
	// latest version.
	cron := fmt.Sprintf("targets:\n  - name: globex\n    dsn: %s\n  - name: initech\n    dsn: %s\n", dsnFor(t, dbs[1], ""), dsnFor(t, dbs[2], ""))
	writeAt(t, filepath.Join(w, "etc/orchestrator/fleet.yaml"), cron)
	for _, d := range []string{"var/lib/orchestrator", "var/lib/node_exporter/textfile"} {
		if err := os.MkdirAll(filepath.Join(w, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	env := append(cleanEnv(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"DATABASE_URL="+dsnFor(t, dbs[3], ""),
		"ORCH_DEMO_PREFIX="+prefix,
		"GOBIN="+bin,
		"PGUSER="+u.User.Username())
	if pw, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pw)
	}
	t.Cleanup(func() {
		c := exec.Command(binary, "demo", "--clean", "--dir", filepath.Join(w, "orchestrator-demo"))
		c.Env = env
		c.Run()
		for _, tenant := range []string{"acme", "globex", "initech", "umbrella", "hooli"} {
			server.Exec(t, `DROP DATABASE IF EXISTS "`+prefix+tenant+`" WITH (FORCE)`)
		}
	})

	cronPaths := strings.NewReplacer("=/etc/", "="+w+"/etc/", " /var/lib/", " "+w+"/var/lib/",
		"/usr/local/bin/orchestrator", filepath.Join(bin, "orchestrator"))
	block := -1
	ran := 0
	for _, ex := range examples {
		if why, skip := notRun[ex.line]; skip {
			t.Logf("not run (%s): %s", why, ex.line)
			continue
		}
		if ex.block != block {
			// Each block starts from the migration set as it is.
			block = ex.block
			os.RemoveAll(filepath.Join(w, "db"))
			copyTree(t, "../migrations", filepath.Join(w, "db/migrations"))
			os.RemoveAll(filepath.Join(w, "db/migrations/embed.go"))
			os.RemoveAll(filepath.Join(w, "db/migrations/migrations_test.go"))
			os.RemoveAll(filepath.Join(w, "db/migrations/README.md"))
		}
		line := ex.line
		if ex.lang == "cron" {
			line = cronPaths.Replace(line)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "sh", "-c", line)
		cmd.Dir, cmd.Env = w, env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("README command failed (%v):\n  %s\n%s", err, ex.line, out)
			continue
		}
		for _, f := range produces[ex.line] {
			if _, err := os.Stat(filepath.Join(w, f)); err != nil {
				t.Errorf("README command left no %s:\n  %s", f, ex.line)
			}
		}
		t.Logf("ran: %s", ex.line)
		ran++
	}
	// The prose's commands, with the files they speak of: two shards'
	// reports as a.json and b.json.
	copyTree(t, filepath.Join(w, "shard-0.json"), filepath.Join(w, "a.json"))
	copyTree(t, filepath.Join(w, "shard-1.json"), filepath.Join(w, "b.json"))
	os.RemoveAll(filepath.Join(w, "db"))
	copyTree(t, "../migrations", filepath.Join(w, "db/migrations"))
	inline := inlineCommands(string(text))
	for _, span := range inline {
		known := inlineNotRun[span] != ""
		for _, e := range inlineExit {
			known = known || e.line == span
		}
		if !known {
			t.Errorf("README prose shows a command this test neither runs nor explains: %s", span)
		}
	}
	for _, e := range inlineExit {
		if !slices.Contains(inline, e.line) {
			t.Errorf("the test expects a command the README no longer shows: %s", e.line)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "sh", "-c", e.line)
		cmd.Dir, cmd.Env = w, env
		out, err := cmd.CombinedOutput()
		cancel()
		if code := cmd.ProcessState.ExitCode(); code != e.code {
			t.Errorf("README command exited %d (want %d, %v):\n  %s\n%s", code, e.code, err, e.line, out)
			continue
		}
		t.Logf("ran: %s (exit %d)", e.line, e.code)
		ran++
	}
	t.Logf("ran %d README commands", ran)
	for line := range notRun {
		found := false
		for _, ex := range examples {
			found = found || ex.line == line
		}
		if !found {
			t.Errorf("the test skips a README command that is gone: %s", line)
		}
	}
	for line := range produces {
		found := false
		for _, ex := range examples {
			found = found || ex.line == line
		}
		if !found {
			t.Errorf("the test expects a README command that is gone: %s", line)
		}
	}
}

func writeAt(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies a file or a directory tree.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		info, err := src.Stat()
		if err != nil {
			return err
		}
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, src); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}
