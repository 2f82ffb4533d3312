package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
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
	if err := rep.Validate(); err != nil {
		return nil, err
	}
	return &rep, nil
}

// Validate checks a report against the schema: a command, and for every
// target a name, a known status, versions that are null or not negative,
// and migrations with a version and a name. The error names the field, as
// a JSON path.
func (r *Report) Validate() error {
	if r.Command == "" {
		return fmt.Errorf("command is missing")
	}
	if r.Targets == nil {
		return fmt.Errorf("targets is missing")
	}
	for i, t := range r.Targets {
		at := fmt.Sprintf("targets[%d]", i)
		if t.Name != "" {
			at += fmt.Sprintf(" (%q)", t.Name)
		}
		switch {
		case t.Name == "":
			return fmt.Errorf("%s.name is missing", at)
		case t.Status == "":
			return fmt.Errorf("%s.status is missing", at)
		case !t.Status.Known():
			return fmt.Errorf("%s.status %q is not a status (known: %s)", at, t.Status, statusList())
		case t.FromVersion != nil && *t.FromVersion < 0:
			return fmt.Errorf("%s.from_version %d is negative", at, *t.FromVersion)
		case t.ToVersion != nil && *t.ToVersion < 0:
			return fmt.Errorf("%s.to_version %d is negative", at, *t.ToVersion)
		case t.DurationMS < 0:
			return fmt.Errorf("%s.duration_ms %d is negative", at, t.DurationMS)
		}
		for _, list := range []struct {
			field string
			ms    []Migration
		}{{"applied", t.Applied}, {"pending", t.Pending}, {"reverted", t.Reverted}, {"revert", t.Revert}} {
			field := list.field
			for j, m := range list.ms {
				switch {
				case m.Version < 0:
					return fmt.Errorf("%s.%s[%d].version %d is negative", at, field, j, m.Version)
				case m.Name == "":
					return fmt.Errorf("%s.%s[%d].name is missing", at, field, j)
				}
			}
		}
	}
	return nil
}

func statusList() string {
	names := make([]string, len(Statuses))
	for i, s := range Statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
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
