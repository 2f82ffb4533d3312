// Package source reads a migration set from a directory in either goose or
// golang-migrate layout.
//
// Load reads and checks the whole set before anything runs: file names and
// versions, pairing of up and down files, goose annotations, and that every
// section splits into statements. Everything wrong is reported at once in an
// *Error, each problem naming its file and line and saying how to fix it.
// A loaded Set is immutable and safe for concurrent use.
package source

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Layout is how a directory stores its migrations.
type Layout string

const (
	// LayoutMigrate is golang-migrate's: NNN_name.up.sql + NNN_name.down.sql.
	LayoutMigrate Layout = "golang-migrate"
	// LayoutGoose is goose's: NNN_name.sql with -- +goose Up / -- +goose Down.
	LayoutGoose Layout = "goose"
)

// Migration is one version of the set. Immutable after Load; safe for
// concurrent use.
type Migration struct {
	// Version is the number the file name starts with (> 0).
	Version int64
	// Name is the file base without extension(s): "003_create_sessions_table".
	Name string
	// UpFile is the path of the file holding the up section, relative to the
	// fs root given to Load ("migrations/003_x.up.sql", "003_x.sql").
	UpFile string
	// DownFile is the path of the file holding the down section; "" when
	// there is no down. In goose layout it equals UpFile.
	DownFile string
	// Up is the SQL of the up section, exactly as in the file: in goose
	// layout the text between the -- +goose Up and -- +goose Down lines
	// (other annotation lines kept, they are comments), in golang-migrate
	// layout the whole .up.sql.
	Up string
	// Down is the SQL of the down section, likewise.
	Down string
	// UpLine is the 1-based line of UpFile where Up starts (1 in
	// golang-migrate layout).
	UpLine int
	// DownLine is the 1-based line of DownFile where Down starts.
	DownLine int
	// HasDown reports whether a down section or file exists (its text may
	// be empty).
	HasDown bool
	// NoTx reports that the up must run outside a transaction: the file
	// (goose) or the .up.sql (golang-migrate) has a line
	// "-- +goose NO TRANSACTION".
	NoTx bool
	// DownNoTx is NoTx for the down: in goose layout it equals NoTx, in
	// golang-migrate layout it comes from the .down.sql.
	DownNoTx bool
	// UpSHA256 is the hex SHA-256 of Up exactly as stored.
	UpSHA256 string
	// DownSHA256 is the hex SHA-256 of Down; "" when HasDown is false.
	DownSHA256 string
	// UpWrapped reports that Up is wrapped as a whole in BEGIN; ... COMMIT;
	// (the golang-migrate convention): UpStatements leaves the wrapper out,
	// so the body runs in the tool's own transaction. Up and UpSHA256 keep
	// the file as written.
	UpWrapped bool
	// DownWrapped is UpWrapped for the down section.
	DownWrapped bool
}

// UpStatements splits Up into statements, with line numbers in UpFile.
// A whole-section BEGIN ... COMMIT wrapper is left out.
func (m *Migration) UpStatements() ([]Statement, error) {
	stmts, err := Split(m.Up, m.UpLine)
	return unwrap(stmts, m.UpWrapped), err
}

// DownStatements splits Down into statements, with line numbers in
// DownFile; none when HasDown is false.
func (m *Migration) DownStatements() ([]Statement, error) {
	if !m.HasDown {
		return nil, nil
	}
	stmts, err := Split(m.Down, m.DownLine)
	return unwrap(stmts, m.DownWrapped), err
}

// seal computes the checksums once the texts are final.
func (m *Migration) seal() {
	m.UpSHA256 = sha256Hex(m.Up)
	if m.HasDown {
		m.DownSHA256 = sha256Hex(m.Down)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Set is a loaded migration set. Immutable after Load; safe for concurrent
// use.
type Set struct {
	Layout     Layout
	Dir        string       // as given to Load, for messages
	Migrations []*Migration // ascending by Version, versions unique
}

// Latest returns the highest version, 0 for an empty set.
func (s *Set) Latest() int64 {
	if len(s.Migrations) == 0 {
		return 0
	}
	return s.Migrations[len(s.Migrations)-1].Version
}

// Find returns the migration with version v.
func (s *Set) Find(v int64) (*Migration, bool) {
	i, ok := slices.BinarySearchFunc(s.Migrations, v, func(m *Migration, v int64) int {
		switch {
		case m.Version < v:
			return -1
		case m.Version > v:
			return 1
		}
		return 0
	})
	if !ok {
		return nil, false
	}
	return s.Migrations[i], true
}

// Versions returns the versions of the set in ascending order.
func (s *Set) Versions() []int64 {
	vs := make([]int64, len(s.Migrations))
	for i, m := range s.Migrations {
		vs[i] = m.Version
	}
	return vs
}

// fileKind is what a .sql file's name says it is.
type fileKind int

const (
	kindGoose fileKind = iota // NNN_name.sql
	kindUp                    // NNN_name.up.sql
	kindDown                  // NNN_name.down.sql
)

// sqlFile is one migration file of the directory.
type sqlFile struct {
	path    string // relative to the fs root
	base    string // file name
	name    string // base without .sql / .up.sql / .down.sql
	kind    fileKind
	version int64
	text    string
}

// Load reads the migration set in directory dir of fsys ("." for its root).
// It reads every *.sql file directly in dir, ignoring other files (README.md,
// .go files) and subdirectories, and detects the layout: golang-migrate when
// any file ends in .up.sql or .down.sql, goose otherwise.
//
// Any problem with the set (bad names, duplicate versions, unpaired files,
// bad annotations, SQL that cannot be split, an unreadable directory) makes
// Load return a nil Set and an *Error listing all of them.
func Load(fsys fs.FS, dir string) (*Set, error) {
	var ps problems
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		ps.add("", 0, "cannot read the migration directory: %v", err)
		return nil, ps.asError(dir)
	}
	var gooseFiles, migrateFiles []*sqlFile
	nsql := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		nsql++
		f, ok := readSQLFile(fsys, dir, e.Name(), &ps)
		if !ok {
			continue
		}
		if f.kind == kindGoose {
			gooseFiles = append(gooseFiles, f)
		} else {
			migrateFiles = append(migrateFiles, f)
		}
	}
	if nsql == 0 {
		ps.add("", 0, "no migrations found in this directory: expected files named NNN_name.sql (goose) "+
			"or NNN_name.up.sql and NNN_name.down.sql (golang-migrate)")
		return nil, ps.asError(dir)
	}

	set := &Set{Layout: LayoutGoose, Dir: dir}
	if len(migrateFiles) > 0 {
		set.Layout = LayoutMigrate
		if len(gooseFiles) > 0 {
			more := ""
			if n := len(gooseFiles) - 1; n > 0 {
				more = fmt.Sprintf(" (and %d more goose file(s))", n)
			}
			g := gooseFiles[0]
			ps.add(g.path, 1, "mixed layouts: this goose file sits beside golang-migrate files such as %s%s; "+
				"use one layout per directory: split it into %s.up.sql and %s.down.sql, or move it elsewhere",
				migrateFiles[0].base, more, g.name, g.name)
		}
	}
	// Both kinds are checked even when mixed, so every problem shows at once.
	gooseMigs := loadGoose(gooseFiles, &ps)
	migrateMigs := loadMigrate(migrateFiles, &ps)
	if err := ps.asError(dir); err != nil {
		return nil, err
	}
	set.Migrations = gooseMigs
	if set.Layout == LayoutMigrate {
		set.Migrations = migrateMigs
	}
	return set, nil
}

// readSQLFile checks the name of file base in dir and reads it. ok is false
// when it has problems, which are added to ps.
func readSQLFile(fsys fs.FS, dir, base string, ps *problems) (f *sqlFile, ok bool) {
	f = &sqlFile{path: path.Join(dir, base), base: base}
	switch {
	case strings.HasSuffix(base, ".up.sql"):
		f.kind, f.name = kindUp, strings.TrimSuffix(base, ".up.sql")
	case strings.HasSuffix(base, ".down.sql"):
		f.kind, f.name = kindDown, strings.TrimSuffix(base, ".down.sql")
	default:
		f.kind, f.name = kindGoose, strings.TrimSuffix(base, ".sql")
	}
	v, msg := parseVersion(f.name, base)
	if msg != "" {
		ps.add(f.path, 1, "%s", msg)
		return nil, false
	}
	f.version = v
	b, err := fs.ReadFile(fsys, f.path)
	if err != nil {
		ps.add(f.path, 0, "cannot read the file: %v", err)
		return nil, false
	}
	f.text = string(b)
	return f, true
}

// parseVersion returns the version of a migration named name (its file name
// without extensions), or a message saying what is wrong with the name, like
// goose and golang-migrate: leading decimal digits, then "_" and a name.
func parseVersion(name, base string) (int64, string) {
	digits := len(name) - len(strings.TrimLeft(name, "0123456789"))
	ext := strings.TrimPrefix(base, name)
	if digits == 0 {
		return 0, fmt.Sprintf("no version number: migration files are named NNN_name.sql (goose) or "+
			"NNN_name.up.sql + NNN_name.down.sql (golang-migrate); rename it to NNN_%s%s with the next free version "+
			"number, or move it out of the migration directory", name, ext)
	}
	if digits == len(name) || name[digits] != '_' || digits+1 == len(name) {
		return 0, fmt.Sprintf("no name after the version number: the version must be followed by '_' and a name, "+
			"as in %s_create_users%s; rename the file", name[:digits], ext)
	}
	v, err := strconv.ParseInt(name[:digits], 10, 64)
	if err != nil {
		return 0, fmt.Sprintf("version %s does not fit in a 64-bit integer: use a sequence number (005) or a "+
			"timestamp (20240101120000); rename the file", name[:digits])
	}
	if v == 0 {
		return 0, "version 0 is not allowed: goose records version 0 for a database without migrations, so versions " +
			"start at 1; rename the file"
	}
	return v, ""
}

// duplicates reports every file of files (sorted by name) whose version an
// earlier file already has, and returns them.
func duplicates(files []*sqlFile, ps *problems) map[*sqlFile]bool {
	first := map[int64]*sqlFile{}
	dup := map[*sqlFile]bool{}
	for _, f := range files {
		if g, ok := first[f.version]; ok {
			ps.add(f.path, 1, "duplicate version %d (also in %s): every migration needs its own version; "+
				"renumber one of them above the highest version in use", f.version, g.base)
			dup[f] = true
			continue
		}
		first[f.version] = f
	}
	return dup
}

// loadGoose parses goose files and returns their migrations by version.
func loadGoose(files []*sqlFile, ps *problems) []*Migration {
	var migs []*Migration
	dup := duplicates(files, ps)
	for _, f := range files {
		m := parseGoose(f, ps)
		if m != nil && !dup[f] {
			migs = append(migs, m)
		}
	}
	sortByVersion(migs)
	return migs
}

func sortByVersion(migs []*Migration) {
	slices.SortFunc(migs, func(a, b *Migration) int {
		switch {
		case a.Version < b.Version:
			return -1
		case a.Version > b.Version:
			return 1
		}
		return 0
	})
}
