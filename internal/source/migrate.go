package source

// loadMigrate checks golang-migrate files, pairs each NNN_name.up.sql with
// its NNN_name.down.sql and returns the migrations by version.
func loadMigrate(files []*sqlFile, ps *problems) []*Migration {
	var ups, downs []*sqlFile
	noTx := map[*sqlFile]bool{}
	wrapped := map[*sqlFile]bool{}
	clean := map[*sqlFile]bool{} // the file's own content has no problem
	for _, f := range files {
		before := len(*ps)
		noTx[f] = checkMigrateFile(f, ps)
		section := "up"
		if f.kind == kindDown {
			section = "down"
		}
		wrapped[f] = checkTxControl(f.path, section, f.text, 1, noTx[f], ps)
		clean[f] = len(*ps) == before
		if f.kind == kindUp {
			ups = append(ups, f)
		} else {
			downs = append(downs, f)
		}
	}

	dup := duplicates(ups, ps)
	upNames := map[string]bool{}
	for _, u := range ups {
		upNames[u.name] = true
	}
	downByName := map[string]*sqlFile{}
	for _, d := range downs {
		downByName[d.name] = d
	}
	paired := map[*sqlFile]bool{}
	var migs []*Migration
	for _, u := range ups {
		d := downByName[u.name]
		if d != nil {
			paired[d] = true
		}
		if dup[u] {
			continue
		}
		if d == nil {
			if alt := misnamedDown(u, downs, upNames, paired); alt != nil {
				ps.add(alt.path, 1, "down file name does not match its up file %s: rename it to %s.down.sql", u.base, u.name)
				paired[alt] = true
				continue
			}
			msg := "no down file (expected %s.down.sql): add it with the SQL that reverses this migration " +
				"(empty if there is nothing to undo)"
			if noTx[u] {
				msg += "; this migration is marked NO TRANSACTION, and the tool undoes such migrations with their down " +
					"when a later migration fails"
			}
			ps.add(u.path, 1, msg, u.name)
			continue
		}
		if !clean[u] || !clean[d] {
			continue
		}
		m := &Migration{
			Version:  u.version,
			Name:     u.name,
			UpFile:   u.path,
			DownFile: d.path,
			Up:       u.text,
			Down:     d.text,
			UpLine:   1,
			DownLine: 1,
			HasDown:  true,
			NoTx:     noTx[u],
			DownNoTx: noTx[d],

			UpWrapped:   wrapped[u],
			DownWrapped: wrapped[d],
		}
		m.seal()
		migs = append(migs, m)
	}
	for _, d := range downs {
		if !paired[d] {
			ps.add(d.path, 1, "down file without an up file (expected %s.up.sql): add the up file, or delete this one", d.name)
		}
	}
	sortByVersion(migs)
	return migs
}

// misnamedDown returns a down file with u's version whose name matches no up
// file: most likely u's down under another name.
func misnamedDown(u *sqlFile, downs []*sqlFile, upNames map[string]bool, paired map[*sqlFile]bool) *sqlFile {
	for _, d := range downs {
		if d.version == u.version && !upNames[d.name] && !paired[d] {
			return d
		}
	}
	return nil
}

// checkMigrateFile checks the annotations and statements of one
// golang-migrate file, and reports whether it is marked NO TRANSACTION.
// golang-migrate itself ignores goose annotations, but this tool honours NO
// TRANSACTION and StatementBegin/End in either layout; Up and Down have no
// place in a file that is all one direction, and a Down in an .up.sql would
// run its SQL on the way up.
func checkMigrateFile(f *sqlFile, ps *problems) (noTx bool) {
	for _, l := range lines(f.text) {
		a, word := parseAnnotation(l.text)
		switch {
		case a == annNoTx:
			noTx = true
		case a == annUp && f.kind == kindUp:
			ps.add(f.path, l.n, "-- +goose Up has no meaning in a golang-migrate file: the whole .up.sql is the up "+
				"migration; delete the line")
		case a == annUp:
			ps.add(f.path, l.n, "-- +goose Up in a .down.sql file: the whole file runs when migrating down; "+
				"move the up SQL into %s.up.sql and delete the line", f.name)
		case a == annDown && f.kind == kindUp:
			ps.add(f.path, l.n, "-- +goose Down in an .up.sql file: the whole file, the SQL below this line included, "+
				"runs when migrating up; move the down SQL into %s.down.sql", f.name)
		case a == annDown:
			ps.add(f.path, l.n, "-- +goose Down has no meaning in a golang-migrate file: the whole .down.sql is the "+
				"down migration; delete the line")
		case a == annUnsupported:
			ps.add(f.path, l.n, "%s", unsupportedMsg(word))
		case a == annMiscased:
			ps.add(f.path, l.n, "%s", miscasedMsg(word))
		}
	}
	stmts, err := split(f.text, 1)
	switch {
	case err != nil:
		ps.addSplit(f.path, err)
	case f.kind == kindUp && len(stmts) == 0:
		ps.add(f.path, 1, "empty up file: it holds no SQL statement; write the migration's SQL, or delete it "+
			"and its .down.sql")
	}
	return noTx
}
