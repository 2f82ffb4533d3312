package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/schedule"
)

// waveFlags are up's flags for running the waves of a rollout one at a
// time, each on as many machines as it needs.
func waveFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "wave", Usage: "run only this wave of the fleet file (with --shard: this shard of it)"},
		&cli.StringSliceFlag{Name: "after", Usage: "JSON report of the previous wave, one per shard (repeatable): merged and checked against that wave's max_failures first"},
	}
}

// undoFlag is down's flag for rolling back what earlier up runs applied.
func undoFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "undo", Usage: "JSON report of an up run (repeatable: the shards of a wave): bring every target it applied back to its from_version"}
}

// runUpWave runs one wave of the fleet file. With --after it first merges
// the previous wave's shard reports and checks them against that wave's
// budget: over budget, every target of this wave is skipped and nothing is
// touched. The reports must be of the previous wave and cover all its
// shards, or nothing runs (exit 2).
func runUpWave(ctx context.Context, o runOptions) error {
	if o.wave == "" {
		return usagef("--after needs --wave NAME: the wave that follows the wave of the --after reports")
	}
	prior, err := readReports(o.after)
	if err != nil {
		return err
	}
	sel, err := parseSelection(o)
	if err != nil {
		return err
	}
	p, err := prepare(ctx, o)
	if err != nil {
		return err
	}
	seq := waveSequence(p.fleet.Waves)
	at := slices.Index(seq, o.wave)
	if at < 0 {
		return usagef("--wave %s: the fleet file has no such wave (waves, in order: %s)", o.wave, strings.Join(seq, ", "))
	}
	w, err := waveToRun(o, p)
	if err != nil {
		return err
	}
	var rep *report.Report
	if len(prior) > 0 {
		if at == 0 {
			return usagef("--after: wave %s is the first wave; no wave comes before it", o.wave)
		}
		reason, err := barrier(prior, o.after, seq[at-1])
		if err != nil {
			return err
		}
		if reason != "" {
			rep = schedule.Skip("up", []fleet.WaveTargets{w}, "not started: "+reason)
		}
	}
	if rep == nil {
		rep = p.runner.Up(ctx, []fleet.WaveTargets{w}, p.to)
	}
	rep.Wave = o.wave
	if sel.count > 0 {
		rep.Shard = &report.Shard{Index: sel.shard, Count: sel.count}
	}
	return finish(ctx, o, p.format, rep)
}

// waveSequence is the fleet's waves in order, the implicit wave of left
// over targets last when some may be left over.
func waveSequence(waves []fleet.Wave) []string {
	var seq []string
	rest := true
	for _, w := range waves {
		seq = append(seq, w.Name)
		if w.Select == nil {
			rest = false
		}
	}
	if rest {
		seq = append(seq, fleet.RestWave)
	}
	return seq
}

// waveToRun is the wave --wave names with this shard's targets of it; a
// shard may hold none and still reports the wave, so the next wave's
// barrier sees every shard.
func waveToRun(o runOptions, p *prepared) (fleet.WaveTargets, error) {
	for _, w := range p.waves {
		if w.Wave.Name == o.wave {
			return w, nil
		}
	}
	w := fleet.WaveTargets{Wave: fleet.Wave{Name: o.wave}}
	for _, fw := range p.fleet.Waves {
		if fw.Name == o.wave {
			w.Wave = fw
		}
	}
	if o.maxFailures != "" {
		b, err := fleet.ParseFailureBudget(o.maxFailures)
		if err != nil {
			return w, usageError{"--max-failures: " + err.Error()}
		}
		w.Wave.MaxFailures = b
	}
	return w, nil
}

// barrier merges the reports of wave prev and says why the next wave must
// not start ("" when it may). A report of another command or wave, shards
// missing or given twice, are errors: the check would mean nothing.
func barrier(reps []*report.Report, files []string, prev string) (string, error) {
	var count int
	seen := map[int]string{}
	for i, r := range reps {
		switch {
		case r.Command != "up":
			return "", usagef("--after %s: a report of %s, not of up", files[i], r.Command)
		case r.Wave == "":
			return "", usagef("--after %s: not a report of one wave; run wave %s with up --wave %s", files[i], prev, prev)
		case r.Wave != prev:
			return "", usagef("--after %s: a report of wave %s, but the wave before this one is %s", files[i], r.Wave, prev)
		}
		if r.Shard == nil {
			if len(reps) > 1 {
				return "", usagef("--after %s: covers all of wave %s (no shard), yet %d reports were given", files[i], prev, len(reps))
			}
			continue
		}
		if count == 0 {
			count = r.Shard.Count
		}
		if r.Shard.Count != count {
			return "", usagef("--after %s: shard %d/%d, but %s is of %d shards", files[i], r.Shard.Index, r.Shard.Count, files[0], count)
		}
		if other, dup := seen[r.Shard.Index]; dup {
			return "", usagef("--after %s and %s: both are shard %d/%d", other, files[i], r.Shard.Index, count)
		}
		seen[r.Shard.Index] = files[i]
	}
	var missing []string
	for i := 0; i < count; i++ {
		if _, ok := seen[i]; !ok {
			missing = append(missing, fmt.Sprintf("%d/%d", i, count))
		}
	}
	if len(missing) > 0 {
		return "", usagef("--after: wave %s ran as %d shards, and the report of shard %s is missing (give one --after per shard)", prev, count, strings.Join(missing, ", "))
	}
	merged, err := report.Merge(reps)
	if err != nil {
		return "", usagef("--after: %v", err)
	}
	var wr *report.WaveResult
	for i := range merged.Waves {
		if merged.Waves[i].Name == prev {
			wr = &merged.Waves[i]
		}
	}
	if wr == nil {
		return "", usagef("--after: the reports hold no record of wave %s's failures", prev)
	}
	if wr.Halted {
		return "rollout halted across all shards: " + wr.Reason(), nil
	}
	unfinished := 0
	for _, t := range merged.Targets {
		if t.Status == report.StatusSkipped || t.Status == report.StatusCancelled {
			unfinished++
		}
	}
	if unfinished > 0 {
		return fmt.Sprintf("wave %s did not finish: %d of its %d target(s) were skipped or cancelled", prev, unfinished, len(merged.Targets)), nil
	}
	return "", nil
}

// runUndo is down --undo: every target the reports show applied goes back
// to its from_version.
func runUndo(ctx context.Context, o runOptions) error {
	if o.toSet {
		return usagef("give either --to or --undo, not both")
	}
	if !o.yes && !stdinIsTerminal() {
		return usagef("down --undo reverts migrations and their data: with no terminal to confirm on, give --yes (nothing was touched)")
	}
	reps, err := readReports(o.undo)
	if err != nil {
		return err
	}
	for i, r := range reps {
		if r.Command != "up" {
			return usagef("--undo %s: a report of %s, not of up", o.undo[i], r.Command)
		}
	}
	merged, err := report.Merge(reps)
	if err != nil {
		return usagef("--undo: %v", err)
	}
	sel, err := parseSelection(o)
	if err != nil {
		return err
	}
	p, err := prepare(ctx, o)
	if err != nil {
		return err
	}
	if sel.count == 0 && len(o.selectors) == 0 && len(o.globs) == 0 {
		in := map[string]bool{}
		for _, t := range p.fleet.Targets {
			in[t.Name] = true
		}
		for _, t := range merged.Targets {
			if t.Status == report.StatusApplied && !in[t.Name] {
				return usagef("--undo: target %s of the reports is not in the fleet; nothing was rolled back", t.Name)
			}
		}
	}
	if !o.yes {
		n := 0
		for _, t := range merged.Targets {
			if t.Status == report.StatusApplied {
				n++
			}
		}
		prompt := fmt.Sprintf("down --undo would bring %s the reports show applied back to their from_version.\nType yes to go ahead: ", report.Plural(n, "target"))
		if !confirm(o.stderr, prompt) {
			fmt.Fprintln(o.stderr, "down not confirmed: nothing was touched")
			return exitError{exitUsage}
		}
	}
	rep := p.runner.Undo(ctx, p.fleet.Targets, merged.Targets)
	markReverted(rep)
	return finish(ctx, o, p.format, rep)
}

// readReports reads JSON reports; a file that cannot be read is exit 2.
func readReports(files []string) ([]*report.Report, error) {
	var reps []*report.Report
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, usagef("%v", err)
		}
		rep, err := report.Read(f)
		f.Close()
		if err != nil {
			return nil, usagef("%s: %v", name, err)
		}
		reps = append(reps, rep)
	}
	return reps, nil
}
