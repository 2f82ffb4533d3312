package source

import (
	"strings"
)

// annotation is a goose annotation line, "-- +goose <word>".
type annotation int

const (
	annNone        annotation = iota // not an annotation
	annUp                            // -- +goose Up
	annDown                          // -- +goose Down
	annBegin                         // -- +goose StatementBegin
	annEnd                           // -- +goose StatementEnd
	annNoTx                          // -- +goose NO TRANSACTION
	annUnsupported                   // -- +goose anything else (ENVSUB ON, typos, ...)
	annMiscased                      // -- +GOOSE ...: goose ignores it, a trap
)

// parseAnnotation classifies line the way goose does: the trimmed line is a
// comment whose text starts with "+goose", and the rest, trimmed, is matched
// case-insensitively. For annUnsupported, word is that rest; for
// annMiscased, the "+GOOSE ..." text.
func parseAnnotation(line string) (a annotation, word string) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "--")
	if !ok {
		return annNone, ""
	}
	rest = strings.TrimLeft(rest, " \t")
	const marker = "+goose"
	if len(rest) < len(marker) || !strings.EqualFold(rest[:len(marker)], marker) {
		return annNone, ""
	}
	if rest[:len(marker)] != marker {
		return annMiscased, strings.TrimSpace(rest)
	}
	word = strings.TrimSpace(rest[len(marker):])
	for _, k := range [...]struct {
		word string
		a    annotation
	}{
		{"Up", annUp},
		{"Down", annDown},
		{"StatementBegin", annBegin},
		{"StatementEnd", annEnd},
		{"NO TRANSACTION", annNoTx},
	} {
		if strings.EqualFold(word, k.word) {
			return k.a, word
		}
	}
	return annUnsupported, word
}

// unsupportedMsg explains an annotation orchestrator does not understand.
func unsupportedMsg(word string) string {
	const known = "orchestrator understands Up, Down, StatementBegin, StatementEnd and NO TRANSACTION"
	switch {
	case word == "":
		return "empty annotation '-- +goose': " + known + "; complete or delete the line"
	case strings.HasPrefix(strings.ToUpper(word), "ENVSUB"):
		return "unsupported annotation +goose " + word + ": environment substitution is not supported, " +
			"the SQL must run as written on every target; write the value into the SQL and delete the line"
	default:
		return "unsupported annotation +goose " + word + ": " + known + "; fix the spelling or delete the line"
	}
}

// miscasedMsg explains "-- +GOOSE ...", which goose takes for a plain comment.
func miscasedMsg(text string) string {
	return "annotation " + text + " is not recognised: goose only sees '+goose' in lower case and takes this line " +
		"for a plain comment; write it as '-- +goose ...'"
}

// line is one line of a file: its text without the newline, and where it
// starts and where the next line starts.
type line struct {
	n          int // 1-based
	text       string
	start, end int
}

func lines(s string) []line {
	var out []line
	off := 0
	for l := range strings.Lines(s) {
		out = append(out, line{n: len(out) + 1, text: strings.TrimRight(l, "\r\n"), start: off, end: off + len(l)})
		off += len(l)
	}
	return out
}

// parseGoose reads a goose file: the Up section runs from the line after
// "-- +goose Up" to the line before "-- +goose Down" (or the end), the Down
// section from the line after "-- +goose Down" to the end. It returns nil
// when the file has problems, which it adds to ps.
func parseGoose(f *sqlFile, ps *problems) *Migration {
	before := len(*ps)
	var (
		upAt, downAt, noTxAt int // annotation lines, 0 when absent
		upStart, upEnd       int // offsets of the Up section
		upLineStart          int // offset of the Up annotation line
		downStart            int
		sawUp                bool
	)
	upEnd = len(f.text)
	for _, l := range lines(f.text) {
		a, word := parseAnnotation(l.text)
		switch a {
		case annUp:
			switch {
			case sawUp:
				ps.add(f.path, l.n, "second -- +goose Up (the first is at line %d): a goose file has one Up section; "+
					"delete this line, or move what follows into a new migration", upAt)
			case downAt != 0:
				ps.add(f.path, l.n, "-- +goose Up comes after -- +goose Down (line %d): put the Up section first", downAt)
			default:
				upAt, upStart, upLineStart = l.n, l.end, l.start
			}
			sawUp = true
		case annDown:
			if downAt != 0 {
				ps.add(f.path, l.n, "second -- +goose Down (the first is at line %d): a goose file has one Down section; "+
					"delete this line, or move what follows into a new migration", downAt)
				continue
			}
			downAt, downStart = l.n, l.end
			if upAt != 0 {
				upEnd = l.start
			}
		case annBegin, annEnd:
			if !sawUp {
				ps.add(f.path, l.n, "-- +goose %s before -- +goose Up: it only has meaning inside the Up or Down section; "+
					"move it below -- +goose Up", word)
			}
		case annNoTx:
			if noTxAt == 0 {
				noTxAt = l.n
			}
		case annUnsupported:
			ps.add(f.path, l.n, "%s", unsupportedMsg(word))
		case annMiscased:
			ps.add(f.path, l.n, "%s", miscasedMsg(word))
		}
	}
	if !sawUp {
		ps.add(f.path, 1, "no -- +goose Up annotation: a goose migration needs a line '-- +goose Up' above its up SQL "+
			"(and optionally '-- +goose Down' above its down SQL)")
		return nil
	}
	if upAt == 0 {
		return nil // Up after Down: reported above
	}

	// goose never runs SQL above the Up annotation; it is a mistake to keep.
	if n, found, err := firstSQLLine(f.text[:upLineStart], 1); err != nil {
		ps.addSplit(f.path, err)
	} else if found {
		ps.add(f.path, n, "SQL above -- +goose Up (line %d) is never run: move it below the Up annotation, or delete it", upAt)
	}

	m := &Migration{
		Version: f.version,
		Name:    f.name,
		UpFile:  f.path,
		Up:      f.text[upStart:upEnd],
		UpLine:  upAt + 1,
		NoTx:    noTxAt != 0,
	}
	m.DownNoTx = m.NoTx
	if downAt != 0 {
		m.HasDown = true
		m.DownFile = f.path
		m.Down = f.text[downStart:]
		m.DownLine = downAt + 1
	}

	if up, err := split(m.Up, m.UpLine); err != nil {
		ps.addSplit(f.path, err)
	} else if len(up) == 0 {
		ps.add(f.path, upAt, "empty up section: there is no SQL statement below -- +goose Up; "+
			"write the migration's SQL there, or delete the file")
	} else {
		checkTerminated(f.path, up, ps)
	}
	if m.HasDown {
		if down, err := split(m.Down, m.DownLine); err != nil {
			ps.addSplit(f.path, err)
		} else {
			checkTerminated(f.path, down, ps)
		}
	}
	m.UpWrapped = checkTxControl(f.path, "up", m.Up, m.UpLine, m.NoTx, ps)
	if m.HasDown {
		m.DownWrapped = checkTxControl(f.path, "down", m.Down, m.DownLine, m.DownNoTx, ps)
	}
	if m.NoTx && !m.HasDown {
		ps.add(f.path, noTxAt, "NO TRANSACTION migrations need a down section: the tool undoes them with it when a later "+
			"migration fails; add '-- +goose Down' at the end of the file, followed by the SQL that reverses this one")
	}
	if len(*ps) > before {
		return nil
	}
	m.seal()
	return m
}

// checkTerminated reports a section's last statement when it lacks its ';':
// goose refuses such a file ("missing semicolon?"), and the file must stay
// usable by goose itself.
func checkTerminated(file string, stmts []stmt, ps *problems) {
	if len(stmts) == 0 {
		return
	}
	if last := stmts[len(stmts)-1]; !last.terminated {
		ps.add(file, last.line, "statement has no terminating ';': goose refuses to run a file whose last statement "+
			"is unterminated; add ';' at its end")
	}
}
