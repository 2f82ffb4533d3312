package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// ignoreMarker starts a suppression comment.
const ignoreMarker = "orchestrator:lint-ignore"

// ignore is one "-- orchestrator:lint-ignore RULE[,RULE] reason" comment
// and the statement it applies to.
type ignore struct {
	file  string
	line  int
	rules []string
	span  stmtSpan
	used  bool
}

// collectIgnores reads the suppression comments in text, the comments and
// whitespace above a statement covering span (text starts on line first).
func (l *linter) collectIgnores(file, text string, first int, span stmtSpan) {
	if !strings.Contains(text, ignoreMarker) {
		return
	}
	line := first
	for raw := range strings.Lines(text) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(raw), "--"); ok {
			if rest, ok = strings.CutPrefix(strings.TrimSpace(rest), ignoreMarker); ok {
				l.parseIgnore(file, line, rest, span)
			}
		}
		line++
	}
}

func (l *linter) parseIgnore(file string, line int, rest string, span stmtSpan) {
	fields := strings.Fields(rest)
	bad := func(msg string) {
		r, _ := ruleInfo(RuleMalformedIgnore)
		l.add(report.Diagnostic{File: file, Line: line, Rule: RuleMalformedIgnore, Severity: r.Severity, Message: msg + "; write: " + r.Instead})
	}
	if len(fields) == 0 {
		bad("lint-ignore names no rule")
		return
	}
	ig := &ignore{file: file, line: line, span: span}
	for _, name := range strings.Split(fields[0], ",") {
		if _, ok := ruleInfo(name); !ok || name == "" {
			bad(fmt.Sprintf("lint-ignore names %q, which is no rule (see the rule table in the README)", name))
			continue
		}
		ig.rules = append(ig.rules, name)
	}
	if len(fields) < 2 {
		bad("lint-ignore gives no reason: say why the finding does not apply, for the next reader")
	}
	if len(ig.rules) > 0 {
		l.ignores = append(l.ignores, ig)
	}
}

// suppress drops the findings an ignore covers and adds one finding per
// ignore that covered nothing.
func (l *linter) suppress() []report.Diagnostic {
	if len(l.ignores) == 0 {
		return l.findings
	}
	byFile := map[string][]*ignore{}
	for _, ig := range l.ignores {
		byFile[ig.file] = append(byFile[ig.file], ig)
	}
	kept := l.findings[:0]
	for _, f := range l.findings {
		silenced := false
		for _, ig := range byFile[f.File] {
			if f.Line >= ig.span.first && f.Line <= ig.span.last && slices.Contains(ig.rules, f.Rule) {
				ig.used, silenced = true, true
			}
		}
		if !silenced {
			kept = append(kept, f)
		}
	}
	r, _ := ruleInfo(RuleUnusedIgnore)
	for _, ig := range l.ignores {
		if !ig.used {
			kept = append(kept, report.Diagnostic{File: ig.file, Line: ig.line, Rule: RuleUnusedIgnore, Severity: r.Severity,
				Message: fmt.Sprintf("lint-ignore %s silences nothing on the statement below it: %s; instead: %s",
					strings.Join(ig.rules, ","), r.Why, r.Instead)})
		}
	}
	return kept
}
