package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orchestrator-dev/orchestrator/internal/drift"
	"github.com/orchestrator-dev/orchestrator/internal/fleet"
	"github.com/orchestrator-dev/orchestrator/internal/ledger"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// AdoptOptions configure adopt.
type AdoptOptions struct {
	// Version states the version to adopt every target at; < 0 finds it:
	// golang-migrate's claim, or the version whose schema the target's
	// catalog matches. A stated version is proven like a found one.
	Version int64
	// Force records the version even when the target's schema differs
	// from the one the set produces at it; the report says so and lists
	// the differences.
	Force bool
	// ScratchDSN is where the reference schemas are built, as for drift;
	// the first target's server when empty.
	ScratchDSN string
}

// Adopt takes over targets that golang-migrate, goose or a person with
// psql migrated. For each it finds the version it is at, proves it (the
// target's catalog equals the schema the set produces at that version, in
// drift's terms), and only then writes goose's version rows 0..V and the
// checksum record in one transaction, keeping golang-migrate's table in step
// where it exists. The target's schema is never touched; a target the tool
// already manages is up_to_date, so running adopt again is harmless.
func (r *Runner) Adopt(ctx context.Context, waves []fleet.WaveTargets, o AdoptOptions) *report.Report {
	var first *fleet.Target
	for _, w := range waves {
		if len(w.Targets) > 0 {
			first = &w.Targets[0]
			break
		}
	}
	if first == nil {
		return report.New("adopt", time.Now(), 0, nil)
	}
	scratch := o.ScratchDSN
	if scratch == "" {
		scratch = first.DSN
	}
	ref := drift.NewReference(scratch, r.set)
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := ref.Close(cctx); err != nil {
			r.log.Warn("a scratch database could not be dropped", "error", first.Scrub(err.Error()))
		}
	}()
	// No reference is built ahead: a fleet already adopted needs none, and
	// the first target that needs one waits for the one build all share.
	var cmp drift.Comparer
	return r.run(ctx, "adopt", waves, func(ctx context.Context, t fleet.Target, log *slog.Logger) report.Target {
		return r.adoptTarget(ctx, t, log, ref, &cmp, o)
	})
}

// adoptTarget adopts one target under its advisory lock.
func (r *Runner) adoptTarget(ctx context.Context, t fleet.Target, log *slog.Logger, ref *drift.Reference, cmp *drift.Comparer, o AdoptOptions) report.Target {
	res := report.Target{}
	// A refusal writes nothing; its class is "version": the version could
	// not be proven.
	refuse := func(format string, args ...any) report.Target {
		return r.failure(ctx, t, res, report.StatusFailed, &VersionError{Msg: fmt.Sprintf(format, args...)})
	}
	if o.Version > 0 {
		if _, ok := r.set.Find(o.Version); !ok {
			return refuse("--version %d is not a version of the migration set (versions: %s)", o.Version, r.versionList())
		}
	}
	sess, err := r.open(ctx, t, false)
	if err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	defer sess.close()
	have, err := acquireLock(ctx, sess.conn, lockKeyFor(t), r.settings.LockWait)
	if err != nil {
		return r.failure(ctx, t, res, lockStatus(err), err)
	}
	if sess.pool != nil {
		defer releaseLock(ctx, sess.conn, lockKeyFor(t))
	}
	st, err := readVersionRows(ctx, sess.conn, have)
	if err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	b := st.book
	res.FromVersion, res.ToVersion = report.V(st.current), report.V(st.current)
	stated := o.Version >= 0
	claim, replace, search := o.Version, false, false
	switch b.Manager() {
	case ledger.ManagedByTool:
		un := r.unadopted(st)
		if un == nil {
			if stated && o.Version != st.current {
				return refuse("%s already says version %d: adopt does not rewrite the history of a target the tool manages; use up or down",
					ledger.VersionTable, st.current)
			}
			res.Status = report.StatusUpToDate
			return res
		}
		res.ManagedBy, res.ClaimedVersion = un.ManagedBy, un.ClaimedVersion
		if !stated {
			return refuse("%s; nothing adopted: state the true version with --version", un.Error.Message)
		}
		replace = true
	case ledger.ManagedByGolangMigrate:
		res.ManagedBy = string(ledger.ManagedByGolangMigrate)
		mv := b.MigrateClaim()
		switch {
		case b.MigrateProblem() != "":
			if !stated {
				return refuse("%s; nothing adopted: state the target's version with --version V (it is still checked against the schema)", b.MigrateProblem())
			}
		case b.MigrateRow != nil && b.MigrateRow.Dirty:
			res.ClaimedVersion = &mv
			if !stated {
				return refuse("%s is dirty at version %d: golang-migrate's migration %d failed halfway; nothing adopted. "+
					"Check by hand which of version %d's changes are on the target and repair them, then run `orchestrator adopt --version V` "+
					"(V is checked against the schema)", ledger.MigrateTable, mv, mv, mv)
			}
		default:
			res.ClaimedVersion = &mv
			if _, ok := r.set.Find(mv); !ok && mv != 0 {
				return refuse("%s says version %d, which the migration set does not contain (versions: %s); nothing adopted: "+
					"use the migration set that built the target, or state its version with --version", ledger.MigrateTable, mv, r.versionList())
			}
			if !stated {
				claim = mv
			}
		}
	case ledger.ManagedByHand:
		res.ManagedBy = string(ledger.ManagedByHand)
		search = !stated
	default:
		if !stated || o.Version == 0 {
			res.Status = report.StatusUpToDate // empty: nothing to adopt, `up` migrates it
			return res
		}
	}

	snap, err := r.readCatalog(ctx, sess, b.Schema)
	if err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	var findings []report.Finding
	if search {
		claim, findings, err = r.matchVersion(ctx, ref, cmp, snap)
	} else {
		findings, err = r.evidence(ctx, ref, cmp, snap, claim)
	}
	if err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	res.ClaimedVersion = &claim
	res.Findings = append(res.Findings, findings...)
	if len(findings) > 0 {
		if !o.Force {
			how := fmt.Sprintf("the schema differs from the one the migration set produces at version %d", claim)
			if search {
				how = fmt.Sprintf("the schema matches no version of the migration set; the closest is version %d", claim)
			}
			return refuse("%s: %s; nothing adopted: repair the schema, or run `orchestrator adopt --force` to adopt it as version %d anyway",
				how, summarize(findings), claim)
		}
		res.Forced = true
		log.Warn("adopting despite schema differences (--force)", "version", claim, "differences", len(findings))
	}

	if err := r.writeAdoption(ctx, sess, st, claim, replace); err != nil {
		return r.failure(ctx, t, res, report.StatusFailed, err)
	}
	res.Status = report.StatusApplied
	v, err := r.readLatest(ctx, t, sess)
	if err != nil {
		res.Status = report.StatusFailed
		res.Error = toReportError(t, fmt.Errorf("adoption committed, but the version could not be read back: %w", err))
		return res
	}
	res.ToVersion = report.V(v)
	return res
}

// lockStatus is the status of a target whose lock could not be taken.
func lockStatus(err error) report.Status {
	if errors.Is(err, errLocked) {
		return report.StatusLocked
	}
	return report.StatusFailed
}

// readCatalog reads the catalog of schema on the session, as drift does.
func (r *Runner) readCatalog(ctx context.Context, sess *session, schema string) (*drift.Snapshot, error) {
	var snap *drift.Snapshot
	err := sess.native(func(c *pgx.Conn) error {
		var err error
		snap, err = drift.ReadSnapshot(ctx, c, schema)
		return err
	})
	return snap, err
}

// evidence compares a target's catalog with the schema the set produces at
// version v.
func (r *Runner) evidence(ctx context.Context, ref *drift.Reference, cmp *drift.Comparer, snap *drift.Snapshot, v int64) ([]report.Finding, error) {
	expected, err := ref.At(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("build the reference schema at version %d: %w", v, err)
	}
	return cmp.Compare(snap, expected), nil
}

// matchVersion finds the version whose schema the catalog equals, newest
// first. When none does, it returns the closest (fewest differences; the
// newer on a tie) with its differences.
func (r *Runner) matchVersion(ctx context.Context, ref *drift.Reference, cmp *drift.Comparer, snap *drift.Snapshot) (int64, []report.Finding, error) {
	versions := append([]int64{0}, r.set.Versions()...)
	var best int64
	var bestFs []report.Finding
	for i := len(versions) - 1; i >= 0; i-- {
		fs, err := r.evidence(ctx, ref, cmp, snap, versions[i])
		if err != nil {
			return 0, nil, err
		}
		if len(fs) == 0 {
			return versions[i], nil, nil
		}
		if bestFs == nil || len(fs) < len(bestFs) {
			best, bestFs = versions[i], fs
		}
	}
	return best, bestFs, nil
}

// writeAdoption records version v in one transaction: goose's table
// (created when missing) with rows 0..v, the checksum record, and
// golang-migrate's row where it is kept in step. replace rewrites a goose
// history that disagreed with golang-migrate's.
func (r *Runner) writeAdoption(ctx context.Context, sess *session, st state, v int64, replace bool) error {
	tx, err := sess.conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin adoption: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	have := r.have(st)
	created, err := ledger.EnsureVersionTable(ctx, r.store, tx, have)
	if err != nil {
		return fmt.Errorf("create %s: %w", ledger.VersionTable, err)
	}
	w := ledger.Write{ZeroRow: created || replace, Replace: replace, Have: have}
	for _, m := range r.set.Migrations {
		if m.Version > v {
			break
		}
		if !replace && st.applied[m.Version] {
			continue
		}
		w.Entries = append(w.Entries, ledger.Entry{Version: m.Version, Name: m.Name, UpSHA256: m.UpSHA256, DownSHA256: m.DownSHA256})
	}
	if err := ledger.Record(ctx, tx, w); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit adoption: %w", err)
	}
	return nil
}

// versionList lists the set's versions: "1, 2, 3, 4".
func (r *Runner) versionList() string {
	vs := r.set.Versions()
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}

// summarize names the first differences, as drift names them.
func summarize(fs []report.Finding) string {
	const show = 5
	parts := make([]string, 0, show)
	for i, f := range fs {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(fs)-show))
			break
		}
		parts = append(parts, f.String())
	}
	return strings.Join(parts, "; ")
}
