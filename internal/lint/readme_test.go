package lint

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeRuleTable: the README's rule table has one row per rule, with
// the rule's severity, why and alternative, and no row for a rule that does
// not exist.
func TestReadmeRuleTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "| `") && strings.Count(l, "|") == 5 {
			name := strings.Trim(strings.SplitN(l, "|", 3)[1], " `")
			rows[name] = l
		}
	}
	for _, r := range Rules() {
		want := "| `" + r.Name + "` | " + string(r.Severity) + " | " + r.Why + " | " + r.Instead + " |"
		if got, ok := rows[r.Name]; !ok || got != want {
			t.Errorf("README row for %s:\n got %q\nwant %q", r.Name, got, want)
		}
		delete(rows, r.Name)
	}
	for name := range rows {
		if _, ok := ruleInfo(name); !ok && !strings.Contains(name, " ") && strings.Contains(name, "-") {
			t.Errorf("README lists rule %s, which does not exist", name)
		}
	}
}
