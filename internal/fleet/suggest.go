package fleet

import (
	"fmt"
	"slices"
	"strings"
)

// unknownKeyMsg explains an unknown key: the closest known key within edit
// distance 2 as a suggestion, else the list of known keys.
func unknownKeyMsg(key, where string, known []string) string {
	if s := suggest(key, known); s != "" {
		return fmt.Sprintf("unknown key %q %s (did you mean %q?)", key, where, s)
	}
	return fmt.Sprintf("unknown key %q %s (known keys: %s)", key, where, strings.Join(known, ", "))
}

// suggest returns the known key closest to key, if it is within edit
// distance 2, or a known key that key is a common alias for; else "".
func suggest(key string, known []string) string {
	for _, alias := range aliasesFor(key) {
		if slices.Contains(known, alias) {
			return alias
		}
	}
	best, bestDist := "", 3
	lower := strings.ToLower(key)
	for _, k := range known {
		if d := editDistance(lower, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// aliasesFor maps names people plausibly write (PostgreSQL's own setting
// names, other tools' spellings) to ours, best first; the first one known
// where key was written is suggested. Too far apart for edit distance.
func aliasesFor(key string) []string {
	switch strings.ToLower(key) {
	case "idle_in_transaction_session_timeout":
		return []string{"idle_in_transaction_timeout"}
	case "parallel", "concurrency", "jobs", "workers":
		return []string{"parallelism"}
	case "url", "uri", "database_url", "connection_string", "conn", "connstring":
		return []string{"dsn", "server"}
	case "dsn", "host", "cluster":
		return []string{"server"}
	case "sql", "catalog":
		return []string{"query"}
	case "discovery", "sources":
		return []string{"discover"}
	case "target", "tenants":
		return []string{"targets"}
	case "default", "settings":
		return []string{"defaults"}
	case "label", "tags":
		return []string{"labels", "select"}
	case "wave", "stages", "phases", "rollout":
		return []string{"waves"}
	case "labels", "selector", "match", "matches", "where", "filter":
		return []string{"select"}
	case "budget", "failure_budget", "failures", "max_failed", "max_errors", "allowed_failures", "max_fail":
		return []string{"max_failures"}
	}
	return nil
}

// editDistance is the Levenshtein distance between a and b, over bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
