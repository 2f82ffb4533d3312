package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/drift"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/ledger"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/schedule"
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
	// So do identical version histories (their checksums are most of a
	// tenant's state once its catalog is shared).
	histories := map[string][]drift.Applied{}
	others := map[string]*report.Target{} // unadopted targets: who manages them, what they claim
	share := func(st *drift.State) {
		fp := st.Snapshot.Fingerprint()
		var key strings.Builder
		for _, a := range st.Applied {
			fmt.Fprintf(&key, "%d %s %s %t\n", a.Version, a.UpSHA256, a.DownSHA256, a.HasChecksum)
		}
		mu.Lock()
		defer mu.Unlock()
		if snap, ok := shared[fp]; ok {
			st.Snapshot = snap
		} else {
			shared[fp] = st.Snapshot
		}
		if h, ok := histories[key.String()]; ok {
			st.Applied = h
		} else {
			histories[key.String()] = st.Applied
		}
	}
	// Tenant schemas are read a database at a time, many per query. A
	// tenant without goose's table may be another tool's or a person's: it
	// is read on its own, where the ledger tells who manages it.
	known := r.batchInspect(ctx, targets, share)
	for name, st := range known {
		if !st.Initialized {
			delete(known, name)
		}
	}
	invalid := batchInvalidOf(ctx, r, targets, known)
	rep := r.run(ctx, "drift", []fleet.WaveTargets{{Targets: targets}}, func(ctx context.Context, t fleet.Target, _ *slog.Logger) report.Target {
		st, ok := known[t.Name]
		var un *report.Target
		if ok {
			st.Invalid = invalid[t.Name]
		} else {
			var err error
			if st, un, err = r.inspect(ctx, t); err != nil {
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
		if un != nil {
			others[t.Name] = un
		}
		mu.Unlock()
		return report.Target{Status: report.StatusClean, FromVersion: report.V(st.Version), ToVersion: report.V(st.Version)}
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
		res.Findings = append(res.Findings, r.driftFindings(&cmp, st, expected[res.Name], others[res.Name], res)...)
		res.Findings = append(res.Findings, invalidFindings(st.Invalid)...)
		if len(res.Findings) > 0 {
			res.Status = report.StatusDrifted
		}
		log := r.log.With("target", res.Name)
		if res.Wave != "" {
			log = log.With("wave", res.Wave)
		}
		schedule.LogResult(log, *res)
	}
	rep.DurationMS += time.Since(t0).Milliseconds()
	rep.Summary = report.Summarize(rep.Targets)
	return rep
}

// driftFindings are st's findings. A target another tool or a person
// migrated (un) is said to be unadopted instead of never migrated, and its
// schema is compared with the version the other tool claims, when it
// claims one.
func (r *Runner) driftFindings(cmp *drift.Comparer, st *drift.State, expected *drift.Snapshot, un *report.Target, res *report.Target) []report.Finding {
	if un == nil {
		return cmp.Check(r.set, st, expected)
	}
	res.ManagedBy, res.ClaimedVersion = un.ManagedBy, un.ClaimedVersion
	object := "table " + ledger.MigrateTable
	if un.ManagedBy == string(ledger.ManagedByHand) {
		object = "schema"
	}
	var fs []report.Finding
	if st.Initialized {
		fs = cmp.Check(r.set, st, expected)
	} else if un.ClaimedVersion != nil && expected != nil {
		fs = cmp.Compare(st.Snapshot, expected)
	}
	return append([]report.Finding{{Kind: drift.KindUnadopted, Object: object, Detail: un.Error.Message}}, fs...)
}

// inspect reads a target's bookkeeping tables and catalog on a read-only
// session: the ledger's two reads, then the catalog in one query. For a
// target golang-migrate manages, the state's version is the one it claims,
// so its schema is compared with that version's.
func (r *Runner) inspect(ctx context.Context, t fleet.Target) (*drift.State, *report.Target, error) {
	sess, err := r.open(ctx, t, true)
	if err != nil {
		return nil, nil, err
	}
	defer sess.close()
	// One read-only repeatable-read transaction carries the session's
	// limits (SET LOCAL) and gives the bookkeeping rows and the catalog one
	// snapshot: an up committing in between cannot make the target look
	// drifted.
	if err := sess.native(func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	defer sess.native(func(c *pgx.Conn) error {
		if c.PgConn().TxStatus() == 'I' {
			return nil
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, err := c.Exec(rctx, "ROLLBACK")
		return err
	})
	if _, err := sess.conn.ExecContext(ctx, sess.setQuery(true)); err != nil {
		return nil, nil, fmt.Errorf("session settings: %w", err)
	}
	ls, err := ledger.Read(ctx, sess.conn)
	if err != nil {
		return nil, nil, err
	}
	st := &drift.State{Initialized: ls.Version, Applied: ls.Applied, Version: ls.Current}
	un := r.unadopted(fromLedger(ls))
	if un != nil && !ls.Version && un.ClaimedVersion != nil {
		st.Version = *un.ClaimedVersion
	}
	err = sess.native(func(c *pgx.Conn) error {
		var err error
		st.Snapshot, err = drift.ReadSnapshot(ctx, c, ls.Schema)
		return err
	})
	if err != nil {
		return st, un, err
	}
	st.Invalid, err = invalidIndexes(ctx, sess.conn)
	return st, un, err
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
