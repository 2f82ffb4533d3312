package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Read decodes a JSON report, refusing a schema version it does not know.
func Read(r io.Reader) (*Report, error) {
	var rep Report
	dec := json.NewDecoder(r)
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("not a JSON report: %w", err)
	}
	if rep.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("report schema_version %d, this tool reads %d", rep.SchemaVersion, SchemaVersion)
	}
	return &rep, nil
}

// Merge combines the reports of shards of one run (same command) into one:
// targets in the order given, the summary recomputed, started_at the
// earliest start and duration_ms up to the latest end. A target reported
// twice means the shards overlapped: that is an error, not a guess.
func Merge(reports []*Report) (*Report, error) {
	if len(reports) == 0 {
		return nil, fmt.Errorf("no reports to merge")
	}
	command := reports[0].Command
	var start, end time.Time
	var targets []Target
	var notes []string
	seen := map[string]int{}
	for i, r := range reports {
		if r.Command != command {
			return nil, fmt.Errorf("report %d is of command %q, report 1 of %q: only shards of one run merge", i+1, r.Command, command)
		}
		rs := r.StartedAt
		re := rs.Add(time.Duration(r.DurationMS) * time.Millisecond)
		if start.IsZero() || rs.Before(start) {
			start = rs
		}
		if re.After(end) {
			end = re
		}
		for _, t := range r.Targets {
			if j, dup := seen[t.Name]; dup {
				return nil, fmt.Errorf("target %q is in report %d and report %d: the shards overlap", t.Name, j+1, i+1)
			}
			seen[t.Name] = i
			targets = append(targets, t)
		}
		notes = append(notes, r.Notes...)
	}
	merged := New(command, start, end.Sub(start), targets)
	merged.Notes = notes
	waves, err := mergeWaves(reports)
	if err != nil {
		return nil, err
	}
	merged.Waves = waves
	merged.Wave = reports[0].Wave
	for _, r := range reports[1:] {
		if r.Wave != merged.Wave {
			merged.Wave = ""
		}
	}
	return merged, nil
}
