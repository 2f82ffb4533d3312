package source

import (
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/sqlscan"
)

// TxControl is a transaction-control statement (BEGIN, START TRANSACTION,
// COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE TRANSACTION) at
// the top level of a section. The tool runs every migration in a
// transaction of its own making; a statement like these would end it or
// nest in it.
type TxControl struct {
	Line    int    // line in the file where the statement starts
	Keyword string // the statement's first word, upper case: "COMMIT"
	SQL     string // the statement, trimmed, without its ';'
}

// TxScan is what FindTxControl found in a section.
type TxScan struct {
	// Found lists every transaction-control statement, in order.
	Found []TxControl
	// Wrapped reports that the section's first statement is a plain BEGIN
	// (or START TRANSACTION) and its last a plain COMMIT (or END), with no
	// other transaction control between them: the golang-migrate
	// convention of wrapping a whole file. The wrapper can be dropped and
	// the body run in the tool's transaction.
	Wrapped bool
}

// Stray returns the transaction-control statements that are not part of a
// whole-section wrapper: every one of them is a problem.
func (s TxScan) Stray() []TxControl {
	if s.Wrapped {
		return nil
	}
	return s.Found
}

// FindTxControl lists the transaction-control statements of sql, a section
// starting at line firstLine of its file. Every statement between top-level
// semicolons counts, inside -- +goose StatementBegin/End blocks too (such a
// block is still sent as top-level SQL); what a DO block or a function body
// does is inside a quoted body and is not seen here. It fails only when sql
// cannot be split.
func FindTxControl(sql string, firstLine int) (TxScan, error) {
	if firstLine < 1 {
		firstLine = 1
	}
	var (
		out      TxScan
		lx       = lexer{src: sql, line: firstLine}
		words    []string // the statement's first words, up to three
		start    = -1     // offset of the statement's first SQL token
		line     int
		n        int // statements seen
		firstTxn = -1
		lastTxn  = -1
		plain    []bool // per Found entry: nothing but the keyword (and WORK/TRANSACTION)
	)
	end := func(stop int) {
		if start < 0 {
			return
		}
		text := trimSpace(sql[start:stop])
		if kw, ok := txKeyword(words); ok {
			out.Found = append(out.Found, TxControl{Line: line, Keyword: kw, SQL: text})
			plain = append(plain, plainTxStatement(words, text))
			if firstTxn < 0 {
				firstTxn = n
			}
			lastTxn = n
		}
		n++
		start, words = -1, nil
	}
	for {
		tok, ok, err := lx.next()
		if err != nil {
			return TxScan{}, err
		}
		if !ok {
			break
		}
		switch tok.kind {
		case tokSemicolon:
			end(tok.start)
		case tokSQL:
			if start < 0 {
				start, line = tok.start, tok.line
			}
			if len(words) < 3 {
				words = append(words, sql[tok.start:tok.end])
			}
		}
	}
	end(len(sql))
	if len(out.Found) == 2 && firstTxn == 0 && lastTxn == n-1 && n > 2 && plain[0] && plain[1] {
		first, last := out.Found[0].Keyword, out.Found[1].Keyword
		out.Wrapped = (first == "BEGIN" || first == "START") && (last == "COMMIT" || last == "END")
	}
	return out, nil
}

// txKeyword says whether a statement starting with words is transaction
// control, and its keyword.
func txKeyword(words []string) (string, bool) {
	if len(words) == 0 || !sqlscan.IsIdentStart(words[0][0]) {
		return "", false
	}
	kw := strings.ToUpper(words[0])
	switch kw {
	case "BEGIN", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE":
		return kw, true
	case "START":
		return kw, len(words) > 1 && strings.EqualFold(words[1], "TRANSACTION")
	case "PREPARE":
		return kw, len(words) > 1 && strings.EqualFold(words[1], "TRANSACTION")
	}
	return "", false
}

// plainTxStatement reports a BEGIN/COMMIT with nothing but an optional WORK
// or TRANSACTION after it (START TRANSACTION itself being plain): a wrapper
// with an isolation level or AND CHAIN is not one the tool can drop.
func plainTxStatement(words []string, text string) bool {
	fields := strings.Fields(text)
	switch strings.ToUpper(words[0]) {
	case "START":
		return len(fields) == 2
	case "BEGIN", "COMMIT", "END":
		return len(fields) == 1 || (len(fields) == 2 && (strings.EqualFold(fields[1], "WORK") || strings.EqualFold(fields[1], "TRANSACTION")))
	}
	return false
}

// checkTxControl reports stray transaction control in a section of file
// and says whether the section is wrapped (its wrapper then dropped by the
// Statements methods).
func checkTxControl(file, section, sql string, firstLine int, noTx bool, ps *problems) (wrapped bool) {
	scan, err := FindTxControl(sql, firstLine)
	if err != nil {
		return false // the splitter reports it
	}
	if scan.Wrapped {
		// The wrapper must be statements of their own, not the edges of a
		// StatementBegin/End block, for the splitter's first and last
		// statements to be the ones dropped.
		stmts, err := Split(sql, firstLine)
		if err != nil || len(stmts) < 3 || !strings.HasSuffix(stmts[0].SQL, scan.Found[0].SQL) ||
			!strings.HasSuffix(stmts[len(stmts)-1].SQL, scan.Found[1].SQL) {
			scan.Wrapped = false
		}
	}
	if scan.Wrapped && noTx {
		ps.add(file, scan.Found[0].Line, "the %s section is marked NO TRANSACTION but wrapped in %s ... %s: "+
			"a NO TRANSACTION migration runs outside any transaction; delete the wrapper, or the NO TRANSACTION line",
			section, scan.Found[0].Keyword, scan.Found[1].Keyword)
		return false
	}
	for _, c := range scan.Stray() {
		ps.add(file, c.Line, "transaction control (%s) in the %s section: the tool runs each migration in a transaction "+
			"of its own and records its version in it, so a statement that ends or nests in that transaction would commit "+
			"half a migration without its version row; delete it (a file wrapped as a whole in BEGIN; ... COMMIT; is "+
			"accepted, the wrapper is dropped), or split the file into migrations, marking one -- +goose NO TRANSACTION "+
			"if it must run outside a transaction", c.Keyword, section)
	}
	return scan.Wrapped
}

// unwrap drops the wrapper's first and last statement.
func unwrap(stmts []Statement, wrapped bool) []Statement {
	if !wrapped || len(stmts) < 2 {
		return stmts
	}
	return stmts[1 : len(stmts)-1]
}
