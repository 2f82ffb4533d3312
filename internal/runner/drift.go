package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/orchestrator-dev/orchestrator/internal/drift"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// DriftOptions configure a drift check.
type DriftOptions struct {
	// ScratchDSN names a database on the server where the reference schemas
	// are built in uniquely named scratch databases, dropped afterwards. The
	// first target's server when empty.
	ScratchDSN string
}

// Drift inspects every target, read-only: its version history against the
// set, the checksums recorded at apply time against the files, and its
// catalog against the schema the set produces at the target's version. The
// reference schema is built once per distinct version; identical catalogs
// are compared once (by fingerprint).
func (r *Runner) Drift(ctx context.Context, targets []fleet.Target, o DriftOptions) *report.Report {
	if len(targets) == 0 {
		return report.New("drift", time.Now(), 0, nil)
	}
	scratch := o.ScratchDSN
	if scratch == "" {
		scratch = targets[0].DSN
	}
	ref := drift.NewReference(scratch, r.set)
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := ref.Close(cctx); err != nil {
			r.log.Warn("a scratch database could not be dropped", "error", targets[0].Scrub(err.Error()))
		}
	}()
	// Most targets are at the set's latest version: build that reference
	// while the targets are being read, not after.
	// Waited for before the reference is closed, so its scratch database
	// is always dropped before the process can exit.
	var prefetch sync.WaitGroup
	prefetch.Go(func() { _, _ = ref.At(ctx, r.set.Latest()) })
	defer prefetch.Wait()

	var mu sync.Mutex
	states := map[string]*drift.State{}
	// Identical catalogs share one snapshot, so a fleet of alike tenants
	// holds one catalog in memory, not one per tenant.
	shared := map[string]*drift.Snapshot{}
	share := func(st *drift.State) {
		fp := st.Snapshot.Fingerprint()
		mu.Lock()
		defer mu.Unlock()
		if snap, ok := shared[fp]; ok {
			st.Snapshot = snap
		} else {
			shared[fp] = st.Snapshot
		}
	}
	// Tenant schemas are read a database at a time, many per query.
	known := r.batchInspect(ctx, targets, share)
	rep := r.run(ctx, "drift", OneWave(targets, fleet.Budget{}), func(ctx context.Context, t fleet.Target, _ *slog.Logger) report.Target {
		st, ok := known[t.Name]
		if !ok {
			var err error
			if st, err = r.inspect(ctx, t); err != nil {
				res := r.failure(ctx, t, report.Target{}, report.StatusError, err)
				if res.Status == report.StatusCancelled {
					return res
				}
				res.Status = report.StatusError
				return res
			}
			share(st)
		}
		mu.Lock()
		states[t.Name] = st
		mu.Unlock()
		return report.Target{Status: report.StatusClean, FromVersion: st.Version, ToVersion: st.Version}
	})
	if len(states) == 0 || ctx.Err() != nil {
		return rep
	}
	t0 := time.Now()
	expected, notes := r.expectedSchemas(ctx, ref, targets[0], states)
	rep.Notes = append(rep.Notes, notes...)
	var cmp drift.Comparer
	for i := range rep.Targets {
		res := &rep.Targets[i]
		st, ok := states[res.Name]
		if !ok {
			continue
		}
		for _, f := range cmp.Check(r.set, st, expected[res.Name]) {
			res.Findings = append(res.Findings, report.Finding{Kind: f.Kind, Object: f.Object, Detail: f.Detail})
		}
		if len(res.Findings) > 0 {
			res.Status = report.StatusDrifted
		}
	}
	rep.DurationMS += time.Since(t0).Milliseconds()
	rep.Summary = report.Summarize(rep.Targets)
	return rep
}

// inspect reads a target's history and catalog on a read-only session, in
// one round trip.
func (r *Runner) inspect(ctx context.Context, t fleet.Target) (*drift.State, error) {
	sess, err := r.open(ctx, t, true)
	if err != nil {
		return nil, err
	}
	defer sess.close()
	var st *drift.State
	err = sess.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		return inspectOn(ctx, c.Conn(), &st)
	})
	return st, err
}

// inspectOn reads the session's schema, history and catalog in one round
// trip, inside one read-only repeatable-read transaction.
func inspectOn(ctx context.Context, c *pgx.Conn, out **drift.State) error {
	_, st, err := drift.InspectCurrent(ctx, c)
	*out = st
	return err
}

// expectedSchemas returns, per target, the schema it should have: built
// from the set in scratch databases, or, when the server refuses to create
// one, the schema most targets at the same version share.
func (r *Runner) expectedSchemas(ctx context.Context, ref *drift.Reference, first fleet.Target, states map[string]*drift.State) (map[string]*drift.Snapshot, []string) {
	byVersion := map[int64][]string{}
	for name, st := range states {
		byVersion[st.Version] = append(byVersion[st.Version], name)
	}
	expected := map[string]*drift.Snapshot{}
	var notes []string
	for v, names := range byVersion {
		snap, err := ref.At(ctx, v)
		if err == nil {
			for _, n := range names {
				expected[n] = snap
			}
			continue
		}
		why := "the reference could not be built"
		if errors.Is(err, drift.ErrNoScratch) {
			why = "no scratch database could be created"
		}
		peers := map[string]*drift.Snapshot{}
		for _, n := range names {
			peers[n] = states[n].Snapshot
		}
		res := drift.Peers(peers)
		for _, n := range names {
			expected[n] = states[res.Baseline].Snapshot
		}
		note := fmt.Sprintf("version %d: %s (%s); compared the %d target(s) at that version with each other instead, taking the schema most share (%s's) as expected",
			v, why, first.Scrub(err.Error()), len(names), res.Baseline)
		if res.Tie {
			note += "; no schema is shared by a majority, so the findings say how targets differ, not which drifted"
		}
		notes = append(notes, note)
	}
	return expected, notes
}
