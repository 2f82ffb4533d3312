package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runApp runs the CLI in process with no environment.
func runApp(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"orchestrator"}, args...), &out, &errb,
		func(string) (string, bool) { return "", false })
	return out.String(), errb.String(), code
}

func TestCompletionAndVersion(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		want string // on stdout
	}{
		{"bash", []string{"completion", "bash"}, 0, "complete -o bashdefault -o default -F _orchestrator_complete orchestrator"},
		{"zsh", []string{"completion", "zsh"}, 0, "bashcompinit"},
		{"fish", []string{"completion", "fish"}, 0, "complete -c orchestrator"},
		{"version", []string{"--version"}, 0, "orchestrator version "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runApp(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d (want %d), stdout lacks %q:\n%s\nstderr:\n%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
	out, errOut, code := runApp(t, "completion", "tcsh")
	if code != exitUsage || out != "" || !strings.Contains(errOut, "bash, zsh or fish") {
		t.Errorf("unknown shell: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestHelpTeaches: every command's help has a purpose and an example.
func TestHelpTeaches(t *testing.T) {
	app := newApp(new(bytes.Buffer), new(bytes.Buffer), func(string) (string, bool) { return "", false })
	for _, c := range app.Commands {
		if c.Name == "help" {
			continue
		}
		if c.Usage == "" {
			t.Errorf("%s has no one-line purpose", c.Name)
		}
		text := c.Description
		for _, sub := range c.Subcommands {
			text += sub.Description
		}
		if !strings.Contains(text, "Example") {
			t.Errorf("%s --help has no example", c.Name)
		}
	}
}
