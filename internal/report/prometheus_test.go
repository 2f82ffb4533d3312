package report

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	promName    = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promLabel   = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	promTypes   = map[string]bool{"counter": true, "gauge": true, "histogram": true, "summary": true, "untyped": true}
	lastRunTime = time.Date(2026, 11, 27, 10, 0, 2, 500_000_000, time.UTC)
)

// promSeries is one parsed sample.
type promSeries struct {
	name   string
	labels map[string]string
	value  float64
}

// parseExposition parses the text exposition format strictly: every line is
// a HELP, a TYPE or a sample; names and label names match the grammar; label
// values use only the three escapes; values are floats without timestamps;
// each family has one TYPE, before its samples, which are contiguous; no
// series appears twice. It returns the samples keyed by their canonical
// series text.
func parseExposition(t *testing.T, text string) map[string]promSeries {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Error("output does not end with a newline")
	}
	typed := map[string]bool{}
	helped := map[string]bool{}
	closed := map[string]bool{} // families whose samples are over
	current := ""
	series := map[string]promSeries{}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fail := func(format string, args ...any) {
			t.Helper()
			t.Errorf("line %d %q: %s", i+1, line, fmt.Sprintf(format, args...))
		}
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			kw, rest, _ := strings.Cut(rest, " ")
			name, arg, _ := strings.Cut(rest, " ")
			if !promName.MatchString(name) {
				fail("bad metric name %q", name)
			}
			switch kw {
			case "HELP":
				if helped[name] {
					fail("second HELP for %s", name)
				}
				helped[name] = true
			case "TYPE":
				if typed[name] {
					fail("second TYPE for %s", name)
				}
				if !promTypes[arg] {
					fail("bad type %q", arg)
				}
				typed[name] = true
			default:
				fail("unknown comment")
			}
			continue
		}
		s, key, err := parseSample(line)
		if err != nil {
			fail("%v", err)
			continue
		}
		if !typed[s.name] {
			fail("%s has no TYPE line before it", s.name)
		}
		if s.name != current {
			if closed[s.name] {
				fail("samples of %s are not contiguous", s.name)
			}
			closed[current] = true
			current = s.name
		}
		if _, dup := series[key]; dup {
			fail("duplicate series %s", key)
		}
		series[key] = s
	}
	return series
}

// parseSample parses `name{l="v",...} value` and returns the sample and a
// canonical key (labels sorted).
func parseSample(line string) (promSeries, string, error) {
	s := promSeries{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return s, "", fmt.Errorf("no value")
	}
	s.name = line[:i]
	if !promName.MatchString(s.name) {
		return s, "", fmt.Errorf("bad metric name %q", s.name)
	}
	rest := line[i:]
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for !strings.HasPrefix(rest, "}") {
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				return s, "", fmt.Errorf("bad label in %q", rest)
			}
			lname := rest[:eq]
			if !promLabel.MatchString(lname) || strings.HasPrefix(lname, "__") {
				return s, "", fmt.Errorf("bad label name %q", lname)
			}
			rest = rest[eq+2:]
			var v strings.Builder
			for {
				if rest == "" {
					return s, "", fmt.Errorf("unterminated label value")
				}
				c := rest[0]
				rest = rest[1:]
				if c == '"' {
					break
				}
				if c == '\n' {
					return s, "", fmt.Errorf("raw newline in label value")
				}
				if c == '\\' {
					if rest == "" {
						return s, "", fmt.Errorf("dangling backslash")
					}
					switch rest[0] {
					case '\\':
						v.WriteByte('\\')
					case '"':
						v.WriteByte('"')
					case 'n':
						v.WriteByte('\n')
					default:
						return s, "", fmt.Errorf("bad escape \\%c", rest[0])
					}
					rest = rest[1:]
					continue
				}
				v.WriteByte(c)
			}
			if _, dup := s.labels[lname]; dup {
				return s, "", fmt.Errorf("label %s twice", lname)
			}
			s.labels[lname] = v.String()
			rest = strings.TrimPrefix(rest, ",")
		}
		rest = rest[1:]
	}
	value, ok := strings.CutPrefix(rest, " ")
	if !ok || strings.Contains(value, " ") {
		return s, "", fmt.Errorf("want exactly one value and no timestamp, got %q", rest)
	}
	f, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return s, "", fmt.Errorf("bad value %q", value)
	}
	s.value = f
	return s, seriesKey(s.name, s.labels), nil
}

func seriesKey(name string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

func TestPrometheusGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePrometheus(&buf, driftSample(), lastRunTime); err != nil {
		t.Fatal(err)
	}
	parseExposition(t, buf.String())
	checkGolden(t, "drift.prom", buf.Bytes())
}

// TestPrometheusValues checks every series against the report it came
// from: the exact set, so a series that should be absent (a kind not found,
// a version never read) is checked too.
func TestPrometheusValues(t *testing.T) {
	r := driftSample()
	r.Targets = append(r.Targets, Target{Name: "hooli", Status: StatusCancelled})
	r.Summary = Summarize(r.Targets)
	var buf bytes.Buffer
	if err := WritePrometheus(&buf, r, lastRunTime); err != nil {
		t.Fatal(err)
	}
	got := parseExposition(t, buf.String())
	want := map[string]float64{
		`orchestrator_drift_drifted{target="acme"}`:     0,
		`orchestrator_drift_drifted{target="globex"}`:   1,
		`orchestrator_drift_drifted{target="initech"}`:  1,
		`orchestrator_drift_drifted{target="umbrella"}`: 0,
		`orchestrator_drift_drifted{target="hooli"}`:    0,

		`orchestrator_drift_findings{kind="checksum_mismatch",target="globex"}`: 1,
		`orchestrator_drift_findings{kind="schema",target="globex"}`:            2,
		`orchestrator_drift_findings{kind="pending",target="initech"}`:          1,

		`orchestrator_drift_findings_total{target="acme"}`:     0,
		`orchestrator_drift_findings_total{target="globex"}`:   3,
		`orchestrator_drift_findings_total{target="initech"}`:  1,
		`orchestrator_drift_findings_total{target="umbrella"}`: 0,
		`orchestrator_drift_findings_total{target="hooli"}`:    0,

		`orchestrator_drift_inspect_error{target="acme"}`:     0,
		`orchestrator_drift_inspect_error{target="globex"}`:   0,
		`orchestrator_drift_inspect_error{target="initech"}`:  0,
		`orchestrator_drift_inspect_error{target="umbrella"}`: 1,
		`orchestrator_drift_inspect_error{target="hooli"}`:    1,

		// umbrella and hooli were never read: no version rather than 0
		`orchestrator_target_version{target="acme"}`:    4,
		`orchestrator_target_version{target="globex"}`:  4,
		`orchestrator_target_version{target="initech"}`: 3,

		`orchestrator_drift_targets{status="clean"}`:     1,
		`orchestrator_drift_targets{status="drifted"}`:   2,
		`orchestrator_drift_targets{status="error"}`:     1,
		`orchestrator_drift_targets{status="cancelled"}`: 1,

		`orchestrator_drift_last_run_timestamp_seconds{}`: 1795773602.5,
		`orchestrator_drift_last_run_duration_seconds{}`:  2.5,
	}
	for k, v := range want {
		s, ok := got[k]
		switch {
		case !ok:
			t.Errorf("missing %s", k)
		case s.value != v:
			t.Errorf("%s = %v, want %v", k, s.value, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series %s", k)
		}
	}
}

// TestPrometheusEscaping: label values with a backslash, a double quote and a
// newline are escaped so the file parses and the value round-trips.
func TestPrometheusEscaping(t *testing.T) {
	names := []string{`back\slash`, `quo"te`, "new\nline", "both\\\"\n", "ünï €"}
	var targets []Target
	for _, n := range names {
		targets = append(targets, Target{Name: n, Status: StatusDrifted, Findings: []Finding{{Kind: "sch\"ema"}}})
	}
	var buf bytes.Buffer
	if err := WritePrometheus(&buf, New("drift", started, 0, targets), lastRunTime); err != nil {
		t.Fatal(err)
	}
	got := parseExposition(t, buf.String())
	for _, n := range names {
		key := seriesKey("orchestrator_drift_findings", map[string]string{"target": n, "kind": "sch\"ema"})
		if s, ok := got[key]; !ok || s.value != 1 {
			t.Errorf("target %q: no series %s in\n%s", n, key, buf.String())
		}
	}
}

func TestPrometheusDuplicateTarget(t *testing.T) {
	r := New("drift", started, 0, []Target{{Name: "acme", Status: StatusClean}, {Name: "acme", Status: StatusClean}})
	if err := WritePrometheus(&bytes.Buffer{}, r, lastRunTime); err == nil {
		t.Error("two targets named acme: no error")
	}
}

func TestPrometheusEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := WritePrometheus(&buf, New("drift", started, 0, nil), lastRunTime); err != nil {
		t.Fatal(err)
	}
	got := parseExposition(t, buf.String())
	if s := got[`orchestrator_drift_targets{status="clean"}`]; s.name == "" || s.value != 0 {
		t.Errorf("no zero count of clean targets:\n%s", buf.String())
	}
}
