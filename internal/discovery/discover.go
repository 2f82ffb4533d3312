// Package discovery turns the discover sources of a fleet file into
// targets: it connects to each source's server, lists the databases or
// schemas its pattern matches or runs its catalog query, and merges what it
// finds with the listed targets. It also asks the servers of a fleet their
// versions (ProbeVersions). Package fleet reads the sources; this package
// is where the connections are.
package discovery

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// Discover connects to the server of each of f's discover sources and
// returns a new Fleet whose Targets are f's listed targets followed by the
// targets each source found, source by source in file order (each source's
// in name order, or in its query's row order). The returned Fleet has no
// Discover sources, so its Targets are final; f itself is not modified.
// When f has no sources, Discover returns f and opens no connection.
//
// Sources are queried concurrently, at most f.Defaults.Parallelism at once,
// each on one connection with application_name "orchestrator:discover",
// connect_timeout f.Defaults.ConnectTimeout and a statement timeout of at
// most 30s, in read-only transactions.
//
// Every problem is reported together, as one *fleet.Error (like
// fleet.Parse): an
// unreachable server, a failed query, a bad query row, a target name
// defined twice (naming both origins), or no target at all (a source that
// finds nothing is fine as long as some target remains). Each problem
// is on the line of its source and never holds a DSN or password. If ctx
// ends first, the error wraps ctx.Err() instead and is not a *fleet.Error.
func Discover(ctx context.Context, f *fleet.Fleet) (*fleet.Fleet, error) {
	if len(f.Discover) == 0 {
		return f, nil
	}
	results := make([]found, len(f.Discover))
	var g errgroup.Group
	g.SetLimit(max(1, min(f.Defaults.Parallelism, len(f.Discover))))
	for i, src := range f.Discover {
		g.Go(func() error {
			results[i] = discoverSource(ctx, src, f.Defaults)
			return nil // a failed source is a problem in its slot
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("discover targets: %w", err)
	}
	return merge(f, results)
}

// found is what one source discovered: its targets, or why not.
type found struct {
	targets []fleet.Target
	probs   []report.Diagnostic
}

// merge returns f with the targets of results appended, or a *fleet.Error.
func merge(f *fleet.Fleet, results []found) (*fleet.Fleet, error) {
	out := *f
	out.Discover = nil
	out.Targets = slices.Clone(f.Targets)
	origin := make(map[string]string, len(f.Targets))
	for _, t := range f.Targets {
		origin[t.Name] = t.Origin
	}
	var probs []report.Diagnostic
	for i, r := range results {
		probs = append(probs, r.probs...)
		for _, t := range r.targets {
			if first, dup := origin[t.Name]; dup {
				probs = append(probs, fleet.Problemf(f.Discover[i].Line, "target %q is defined twice: at %s and at %s (target names must be unique; rename one or narrow the source)", t.Name, first, t.Origin))
				continue
			}
			origin[t.Name] = t.Origin
			out.Targets = append(out.Targets, t)
		}
	}
	if len(probs) == 0 && len(out.Targets) == 0 {
		probs = append(probs, fleet.Problemf(0, "no targets: the file lists none and its discover sources found none"))
	}
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
		return nil, fleet.NewError(f.Path, probs...)
	}
	return &out, nil
}

// newTarget is a target found by s, with the source's labels.
func newTarget(s fleet.DiscoverySource, name, dsn, schema string, row int) fleet.Target {
	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	return fleet.Target{
		Name:   name,
		DSN:    dsn,
		Labels: labels,
		Origin: s.TargetOrigin(row),
		Schema: schema,
	}
}
