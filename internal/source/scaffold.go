package source

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PlaceholderMarker starts the message of the exception the placeholder
// statements of a scaffolded migration raise. Package lint looks for it to
// report a placeholder nobody replaced.
const PlaceholderMarker = "placeholder left by orchestrator new"

// placeholder is the statement Scaffold puts where the SQL goes. The file
// must hold a statement for Load to accept it, and a migration left as
// scaffolded must fail (and roll back) rather than record a version that
// changed nothing on every tenant. One line, so goose's line-based parser
// sees one statement.
const placeholder = "DO $$ BEGIN RAISE EXCEPTION '" + PlaceholderMarker + ": write the SQL of this migration in its place'; END $$;\n"

// timestampVersion is the smallest version taken for a timestamp
// (YYYYMMDDHHMMSS is 14 digits; a sequence number never gets near 12).
const timestampVersion = 100_000_000_000

// maxNameLen bounds the name part of a scaffolded file name.
const maxNameLen = 100

// Scaffold writes the files of a new migration called name into the OS
// directory dir, creating dir if needed, and returns their paths: one
// annotated file in goose layout, an .up.sql/.down.sql pair in
// golang-migrate layout.
//
// existing is the set already in dir, nil when dir has no migration; its
// layout wins over layout, which only applies to an empty directory. The
// version follows the highest one: the next number, written with as many
// digits as the existing files use (at least 3); or, when the versions are
// timestamps, now in UTC as YYYYMMDDHHMMSS (and above the highest). name is
// turned into snake_case ([a-z0-9_]); one with no letter or digit is an
// error.
//
// No file is ever overwritten: when one already exists, Scaffold fails and
// removes what it wrote.
func Scaffold(dir string, layout Layout, existing *Set, name string, now time.Time) ([]string, error) {
	slug, err := snakeName(name)
	if err != nil {
		return nil, err
	}
	if existing != nil && len(existing.Migrations) > 0 {
		layout = existing.Layout
	}
	version, width, err := nextVersion(existing, now)
	if err != nil {
		return nil, err
	}
	base := fmt.Sprintf("%0*d_%s", width, version, slug)

	var files []struct{ name, text string }
	switch layout {
	case LayoutGoose:
		files = append(files, struct{ name, text string }{base + ".sql", gooseTemplate(base)})
	case LayoutMigrate:
		files = append(files,
			struct{ name, text string }{base + ".up.sql", migrateUpTemplate(base)},
			struct{ name, text string }{base + ".down.sql", migrateDownTemplate(base)})
	default:
		return nil, fmt.Errorf("unknown layout %q (use %s or %s)", layout, LayoutGoose, LayoutMigrate)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create migration directory: %w", err)
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := writeNew(p, f.text); err != nil {
			for _, done := range paths {
				_ = os.Remove(done)
			}
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// writeNew creates path with text, failing if it exists.
func writeNew(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s already exists: not overwriting it", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// nextVersion returns the version after the highest of set, and the number
// of digits to write it with.
func nextVersion(set *Set, now time.Time) (version int64, width int, err error) {
	if set == nil || len(set.Migrations) == 0 {
		return 1, 3, nil
	}
	last := set.Migrations[len(set.Migrations)-1]
	if last.Version == math.MaxInt64 {
		return 0, 0, fmt.Errorf("%s has the highest version there is (%d): no version can follow it; renumber the set or start a new one", last.Name, last.Version)
	}
	width = max(3, len(last.Name)-len(strings.TrimLeft(last.Name, "0123456789")))
	version = last.Version + 1
	if last.Version >= timestampVersion {
		stamp := now.UTC().Format("20060102150405")
		if ts, err := strconv.ParseInt(stamp, 10, 64); err == nil && ts > last.Version {
			version = ts
		}
		width = max(width, len(stamp))
	}
	return version, width, nil
}

// snakeName turns name into the snake_case part of a file name: runs of
// anything but ASCII letters and digits become one '_', and a capital after
// a lower-case letter starts a word ("AddUserEmail" is add_user_email,
// "add2FA" is add2fa).
func snakeName(name string) (string, error) {
	var b strings.Builder
	sep, prevLower := false, false
	for _, r := range name {
		lower, digit, upper := r >= 'a' && r <= 'z', r >= '0' && r <= '9', r >= 'A' && r <= 'Z'
		if !lower && !digit && !upper {
			sep, prevLower = true, false
			continue
		}
		if upper {
			sep = sep || prevLower
			r += 'a' - 'A'
		}
		if sep && b.Len() > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(r)
		sep, prevLower = false, lower
	}
	s := b.String()
	if s == "" {
		return "", fmt.Errorf("migration name %q has no letter or digit: name it after what it does, like add_users_email_index", name)
	}
	if len(s) > maxNameLen {
		s = strings.TrimRight(s[:maxNameLen], "_")
	}
	return s, nil
}

// The templates never write "+goose" in a comment: goose takes any comment
// line containing it for an annotation, and refuses one it does not know.

const txNote = `-- All pending migrations of a target run in one transaction. A statement
-- that refuses one (CREATE INDEX CONCURRENTLY) goes alone in a migration of
-- its own, marked with the goose annotation NO TRANSACTION.
`

const downNote = `-- It runs for orchestrator down, and to undo this migration when a later one
-- fails: write it to be safe to run twice (DROP ... IF EXISTS).
`

func gooseTemplate(base string) string {
	return "-- +goose Up\n" +
		"-- " + base + ": what this migration changes, and why.\n--\n" + txNote + placeholder +
		"\n-- +goose Down\n" +
		"-- The SQL that reverses the up section above.\n" + downNote + placeholder
}

func migrateUpTemplate(base string) string {
	return "-- " + base + ": what this migration changes, and why.\n--\n" + txNote + placeholder
}

func migrateDownTemplate(base string) string {
	return "-- " + base + " down: the SQL that reverses " + base + ".up.sql.\n" + downNote + placeholder
}
