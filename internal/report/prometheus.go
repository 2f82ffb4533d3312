package report

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// promFamily is one metric family: its samples are written together under
// one HELP and one TYPE line, as the text exposition format requires.
type promFamily struct {
	name, help string
	samples    []promSample
}

type promSample struct {
	labels [][2]string // name, value; in the order written
	value  string
}

// WritePrometheus renders a drift report in the Prometheus text exposition
// format (version 0.0.4), for node_exporter's textfile collector: per target
// whether it drifted, its findings by kind and in total, whether it could be
// inspected, and its schema version; the targets per outcome; and when the
// check ran (now) and how long it took. All metrics are gauges; series come
// in report order, finding kinds sorted, so the file is deterministic. No
// sample carries a timestamp: the textfile collector rejects them.
//
// A target whose version was not read (it could not be inspected, or the run
// was interrupted first) has no orchestrator_target_version series rather
// than a misleading 0. Two targets with one name are an error: their series
// would collide and the collector would drop the whole file.
func WritePrometheus(w io.Writer, r *Report, now time.Time) error {
	seen := make(map[string]bool, len(r.Targets))
	for _, t := range r.Targets {
		if seen[t.Name] {
			return fmt.Errorf("prometheus: duplicate target name %q", t.Name)
		}
		seen[t.Name] = true
	}
	drifted := promFamily{name: "orchestrator_drift_drifted",
		help: "Whether the last drift check found the target drifted from the migration set (1) or not (0)."}
	findings := promFamily{name: "orchestrator_drift_findings",
		help: "Drift findings on the target in the last drift check, by kind; only kinds found have a series."}
	total := promFamily{name: "orchestrator_drift_findings_total",
		help: "Drift findings on the target in the last drift check, all kinds."}
	inspectErr := promFamily{name: "orchestrator_drift_inspect_error",
		help: "Whether the last drift check could not inspect the target (1) or could (0)."}
	version := promFamily{name: "orchestrator_target_version",
		help: "Schema version of the target, read from its version table by the last drift check."}
	byStatus := map[Status]int{StatusClean: 0, StatusDrifted: 0, StatusError: 0}
	for _, t := range r.Targets {
		target := [2]string{"target", t.Name}
		drifted.add(boolValue(t.Status == StatusDrifted), target)
		counts := map[string]int{}
		for _, f := range t.Findings {
			counts[f.Kind]++
		}
		kinds := make([]string, 0, len(counts))
		for k := range counts {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		for _, k := range kinds {
			findings.add(strconv.Itoa(counts[k]), target, [2]string{"kind", k})
		}
		total.add(strconv.Itoa(len(t.Findings)), target)
		inspected := t.Status == StatusClean || t.Status == StatusDrifted
		inspectErr.add(boolValue(!inspected), target)
		if versionRead(t.Status) && t.ToVersion != nil {
			version.add(strconv.FormatInt(*t.ToVersion, 10), target)
		}
		byStatus[t.Status]++
	}
	targets := promFamily{name: "orchestrator_drift_targets",
		help: "Targets by outcome of the last drift check: clean, drifted, error (and any other status the run ended a target with)."}
	statuses := make([]string, 0, len(byStatus))
	for s := range byStatus {
		statuses = append(statuses, string(s))
	}
	// clean, drifted, error first, always present so alert rules see 0;
	// any other status (cancelled by an interrupt) after them.
	slices.SortFunc(statuses, func(a, b string) int {
		return strings.Compare(statusRank(a), statusRank(b))
	})
	for _, s := range statuses {
		targets.add(strconv.Itoa(byStatus[Status(s)]), [2]string{"status", s})
	}
	lastRun := promFamily{name: "orchestrator_drift_last_run_timestamp_seconds",
		help: "When the last drift check finished, in seconds since the Unix epoch."}
	lastRun.add(strconv.FormatFloat(float64(now.UnixMilli())/1000, 'f', -1, 64))
	duration := promFamily{name: "orchestrator_drift_last_run_duration_seconds",
		help: "How long the last drift check took, in seconds."}
	duration.add(strconv.FormatFloat(float64(r.DurationMS)/1000, 'f', -1, 64))

	bw := bufio.NewWriter(w)
	for _, f := range []promFamily{drifted, findings, total, inspectErr, version, targets, lastRun, duration} {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s gauge\n", f.name, promHelpEscaper.Replace(f.help), f.name)
		for _, s := range f.samples {
			bw.WriteString(f.name)
			if len(s.labels) > 0 {
				bw.WriteByte('{')
				for i, l := range s.labels {
					if i > 0 {
						bw.WriteByte(',')
					}
					fmt.Fprintf(bw, `%s="%s"`, l[0], promLabelValue(l[1]))
				}
				bw.WriteByte('}')
			}
			fmt.Fprintf(bw, " %s\n", s.value)
		}
	}
	return bw.Flush()
}

func (f *promFamily) add(value string, labels ...[2]string) {
	f.samples = append(f.samples, promSample{labels: labels, value: value})
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// versionRead reports whether a target's to_version was read from its
// database, as opposed to left at zero because the target was never reached.
func versionRead(s Status) bool {
	switch s {
	case StatusClean, StatusDrifted, StatusApplied, StatusUpToDate, StatusPending, StatusRolledBack, StatusReverted:
		return true
	}
	return false
}

func statusRank(s string) string {
	switch Status(s) {
	case StatusClean:
		return "0"
	case StatusDrifted:
		return "1"
	case StatusError:
		return "2"
	}
	return "3" + s
}

// The exposition format escapes backslash and newline in HELP text, and
// backslash, double quote and newline in label values.
var (
	promHelpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	promLabelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
)

// promLabelValue escapes a label value; invalid UTF-8, which the format
// does not allow, becomes U+FFFD.
func promLabelValue(s string) string {
	return promLabelEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD"))
}
