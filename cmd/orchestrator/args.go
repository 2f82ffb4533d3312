package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs moves every flag of a command (and its value) before the
// command's positional arguments, so flags may come anywhere on the line:
// `new add_user_nickname --migrations DIR` and `report merge a.json b.json
// --format json` mean what they say. urfave/cli stops parsing flags at the
// first positional argument; this puts them all first, followed by "--" and
// the positional arguments in their order. Whatever follows a "--" the user
// wrote stays positional. Unknown flags are left where they are, for the
// parser to reject.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	for _, a := range args {
		if a == "--generate-bash-completion" {
			return args // completion wants the line exactly as typed
		}
	}
	out := []string{args[0]}
	rest := args[1:]
	// Global flags before the command name stay where they are.
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		out, rest = append(out, rest[0]), rest[1:]
	}
	if len(rest) == 0 {
		return out
	}
	cmd := app.Command(rest[0])
	if cmd == nil {
		return args
	}
	out, rest = append(out, rest[0]), rest[1:]
	// Descend into subcommands (report merge): their name is the first
	// positional argument.
	for len(cmd.Subcommands) > 0 {
		var flags []string
		flags, rest = splitFlags(cmd.Flags, rest, true)
		out = append(out, flags...)
		if len(rest) == 0 {
			return out
		}
		sub := cmd.Command(rest[0])
		if sub == nil {
			return append(out, rest...)
		}
		cmd = sub
		out, rest = append(out, rest[0]), rest[1:]
	}
	flags, positional := splitFlags(cmd.Flags, rest, false)
	out = append(out, flags...)
	if len(positional) > 0 {
		out = append(out, "--")
		out = append(out, positional...)
	}
	return out
}

// splitFlags separates the flags in args (each with its value) from the
// positional arguments. With untilPositional, it stops at the first
// positional argument and returns it and everything after it as rest.
func splitFlags(defs []cli.Flag, args []string, untilPositional bool) (flags, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if untilPositional {
				return flags, args[i:]
			}
			return flags, append(rest, args[i+1:]...)
		case len(a) > 1 && strings.HasPrefix(a, "-"):
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if takesValue(defs, name) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			if untilPositional {
				return flags, args[i:]
			}
			rest = append(rest, a)
		}
	}
	return flags, rest
}

// takesValue reports whether the flag called name (or an alias) is one that
// takes a value.
func takesValue(defs []cli.Flag, name string) bool {
	for _, f := range defs {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if v, ok := f.(interface{ TakesValue() bool }); ok {
				return v.TakesValue()
			}
			return false
		}
	}
	return false
}

// positionalArgs is how many positional arguments a command takes, read
// from its ArgsUsage: none when it has none, "NAME" is exactly one, and a
// last word ending in "..." is one or more of it. A command declares its
// arguments there and nowhere else.
func positionalArgs(c *cli.Command) (least, most int) {
	words := strings.Fields(c.ArgsUsage)
	if len(words) == 0 {
		return 0, 0
	}
	if strings.HasSuffix(words[len(words)-1], "...") {
		return len(words), -1
	}
	return len(words), len(words)
}

// checkArgs refuses a command line whose positional arguments do not match
// what the command declares: a stray argument is a usage error, never
// silently ignored.
func checkArgs(c *cli.Context, cmd *cli.Command) error {
	least, most := positionalArgs(cmd)
	n := c.NArg()
	name := commandPath(c)
	switch {
	case most == 0 && n > 0:
		return usagef("%s takes no arguments, got %s (flags are written --name value)",
			name, quoteList(c.Args().Slice()))
	case n < least:
		return usagef("%s needs %s (see orchestrator %s --help)", name, cmd.ArgsUsage, name)
	case most > 0 && n > most:
		return usagef("%s takes %s, got %d arguments: %s", name, cmd.ArgsUsage, n, quoteList(c.Args().Slice()))
	}
	return checkFlagValues(c, cmd)
}

// checkFlagValues refuses flag values no command can use, whatever the
// command: a --parallel below 1.
func checkFlagValues(c *cli.Context, cmd *cli.Command) error {
	for _, f := range cmd.Flags {
		name := f.Names()[0]
		if name == "parallel" && c.IsSet(name) && c.Int(name) < 1 {
			return usagef("--parallel must be at least 1, got %d", c.Int(name))
		}
	}
	return nil
}

func quoteList(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(q, " ")
}

// guardCommands wraps the action of every command and subcommand so its
// positional arguments and flag values are checked before it runs.
func guardCommands(cmds []*cli.Command) {
	for _, cmd := range cmds {
		guardCommands(cmd.Subcommands)
		if cmd.Action == nil {
			continue
		}
		cmd, action := cmd, cmd.Action
		cmd.Action = func(c *cli.Context) error {
			if err := checkArgs(c, cmd); err != nil {
				return err
			}
			return action(c)
		}
	}
}

var badValue = regexp.MustCompile(`^invalid value "(.*)" for flag -([a-z-]+): (.*)$`)

var digitsOnly = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// flagError rewrites urfave/cli's message about a bad flag value into one
// that says what to write instead: a duration without a unit gets the same
// suggestion as in the fleet file.
func flagError(cmds []*cli.Command, err error) error {
	m := badValue.FindStringSubmatch(err.Error())
	if m == nil {
		return usageError{err.Error()}
	}
	value, name := m[1], m[2]
	switch findFlag(cmds, name).(type) {
	case *cli.DurationFlag:
		if digitsOnly.MatchString(value) {
			return usagef("--%s %s: a duration needs a unit: use %ss (e.g. 500ms, 2s, 5m)", name, value, value)
		}
		return usagef("--%s %s: not a duration (use e.g. 500ms, 2s, 5m)", name, value)
	case *cli.IntFlag, *cli.Int64Flag:
		return usagef("--%s %s: not a whole number", name, value)
	}
	return usagef("--%s %s: %s", name, value, m[3])
}

// findFlag finds the flag called name in any command.
func findFlag(cmds []*cli.Command, name string) cli.Flag {
	for _, cmd := range cmds {
		for _, f := range cmd.Flags {
			for _, n := range f.Names() {
				if n == name {
					return f
				}
			}
		}
		if f := findFlag(cmd.Subcommands, name); f != nil {
			return f
		}
	}
	return nil
}

// commandPath is the command's name as typed: "up", "report merge".
func commandPath(c *cli.Context) string {
	var names []string
	for _, ctx := range c.Lineage() {
		if ctx.Command != nil && ctx.Command.Name != "" && ctx.Command.Name != c.App.Name {
			names = append([]string{ctx.Command.Name}, names...)
		}
	}
	return strings.Join(names, " ")
}
