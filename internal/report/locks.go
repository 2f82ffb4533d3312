package report

import (
	"fmt"
	"sort"
	"strings"
)

// Lock is a relation lock a rehearsal's own session held after a migration
// ran, with the locked table's size: Rows is the planner's estimate
// (pg_class.reltuples, or the page-based estimate for a table never
// analyzed), Bytes its total size with indexes and TOAST.
type Lock struct {
	Relation string `json:"relation"`
	Mode     string `json:"mode"`
	Rows     int64  `json:"rows"`
	Bytes    int64  `json:"bytes"`
}

// lockStrength orders PostgreSQL's table lock modes, weakest first.
var lockStrength = map[string]int{
	"AccessShareLock":          1,
	"RowShareLock":             2,
	"RowExclusiveLock":         3,
	"ShareUpdateExclusiveLock": 4,
	"ShareLock":                5,
	"ShareRowExclusiveLock":    6,
	"ExclusiveLock":            7,
	"AccessExclusiveLock":      8,
}

// AccessExclusive is the lock mode that blocks even readers.
const AccessExclusive = "AccessExclusiveLock"

// Strongest is the lock of the strongest mode, the larger table breaking a
// tie; false when there are none.
func Strongest(locks []Lock) (Lock, bool) {
	if len(locks) == 0 {
		return Lock{}, false
	}
	best := locks[0]
	for _, l := range locks[1:] {
		a, b := lockStrength[l.Mode], lockStrength[best.Mode]
		if a > b || a == b && l.Rows > best.Rows {
			best = l
		}
	}
	return best, true
}

// Rehearsal is the fleet's view of a plan --verify: the tenants where the
// release costs most.
type Rehearsal struct {
	MaxExclusiveRows *int64          `json:"max_exclusive_rows,omitempty"` // the limit the rehearsal enforced
	LargestExclusive []ExclusiveLock `json:"largest_exclusive"`            // largest tables under ACCESS EXCLUSIVE, largest first
	Slowest          []SlowTarget    `json:"slowest"`                      // longest rehearsals, slowest first
}

// ExclusiveLock is one ACCESS EXCLUSIVE lock a migration took on a target.
type ExclusiveLock struct {
	Target    string `json:"target"`
	Migration string `json:"migration"`
	Relation  string `json:"relation"`
	Rows      int64  `json:"rows"`
	Bytes     int64  `json:"bytes"`
}

// SlowTarget is a target's rehearsal time: the sum of its migrations'.
type SlowTarget struct {
	Target     string `json:"target"`
	DurationMS int64  `json:"duration_ms"`
}

// SummarizeRehearsal picks the top worst tenants of a rehearsal: per
// target its largest table under ACCESS EXCLUSIVE, and its rehearsal time.
func SummarizeRehearsal(targets []Target, top int, maxExclusiveRows *int64) *Rehearsal {
	s := &Rehearsal{MaxExclusiveRows: maxExclusiveRows, LargestExclusive: []ExclusiveLock{}, Slowest: []SlowTarget{}}
	for _, t := range targets {
		var worst *ExclusiveLock
		var total int64
		rehearsed := false
		for _, m := range t.Pending {
			if m.DurationMS != nil {
				total += *m.DurationMS
				rehearsed = true
			}
			for _, l := range m.Locks {
				if l.Mode == AccessExclusive && (worst == nil || l.Rows > worst.Rows) {
					worst = &ExclusiveLock{Target: t.Name, Migration: m.Name, Relation: l.Relation, Rows: l.Rows, Bytes: l.Bytes}
				}
			}
		}
		if worst != nil {
			s.LargestExclusive = append(s.LargestExclusive, *worst)
		}
		if rehearsed {
			s.Slowest = append(s.Slowest, SlowTarget{Target: t.Name, DurationMS: total})
		}
	}
	sort.SliceStable(s.LargestExclusive, func(i, j int) bool { return s.LargestExclusive[i].Rows > s.LargestExclusive[j].Rows })
	sort.SliceStable(s.Slowest, func(i, j int) bool { return s.Slowest[i].DurationMS > s.Slowest[j].DurationMS })
	if len(s.LargestExclusive) > top {
		s.LargestExclusive = s.LargestExclusive[:top]
	}
	if len(s.Slowest) > top {
		s.Slowest = s.Slowest[:top]
	}
	return s
}

// lockLine is a migration's strongest lock for the table:
// "AccessExclusiveLock on users, 5,000 rows".
func lockLine(locks []Lock) string {
	l, ok := Strongest(locks)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s on %s, %s", l.Mode, l.Relation, rowsText(l.Rows))
}

func rowsText(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return thousands(n) + " rows"
}

// thousands writes n with comma separators: 5,000.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// writeRehearsal prints the fleet summary of a rehearsal.
func writeRehearsal(w interface{ Write([]byte) (int, error) }, s *Rehearsal) {
	if s == nil || len(s.LargestExclusive) == 0 && len(s.Slowest) == 0 {
		return
	}
	fmt.Fprintln(w, "\nrehearsal, worst tenants:")
	if s.MaxExclusiveRows != nil {
		fmt.Fprintf(w, "  max_exclusive_rows: %s\n", thousands(*s.MaxExclusiveRows))
	}
	for _, l := range s.LargestExclusive {
		fmt.Fprintf(w, "  largest under AccessExclusiveLock: %s: %s on %s, %s, %s\n", l.Target, l.Migration, l.Relation, rowsText(l.Rows), bytesText(l.Bytes))
	}
	for _, t := range s.Slowest {
		fmt.Fprintf(w, "  slowest rehearsal: %s: %s\n", t.Target, formatMS(t.DurationMS))
	}
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
