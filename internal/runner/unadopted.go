package runner

import (
	"fmt"

	"github.com/orchestrator-dev/orchestrator/internal/ledger"
	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// ClassUnadopted is the error class of a target another tool or a person
// migrated: nothing was touched, `orchestrator adopt` takes it over.
const ClassUnadopted = "unadopted"

// have says which bookkeeping tables a write must create, and whether it
// keeps golang-migrate's table in step.
func (r *Runner) have(st state) ledger.Have {
	return ledger.Have{Version: st.initialized, Checksums: st.checksums, SyncMigrate: r.syncMigrate(st.book)}
}

// syncMigrate: the target has golang-migrate's table, of golang-migrate's
// shape, and the run keeps it in step.
func (r *Runner) syncMigrate(b ledger.State) bool {
	return r.keepMigrate && b.Migrate && b.MigrateProblem() == ""
}

// unadopted returns the result for a target the tool must not migrate
// because another tool or a person did (golang-migrate's table, or tables
// without any version table), or because golang-migrate's table, kept in
// step, no longer agrees with goose's. nil when the tool manages the target
// or it is empty. Such a target is never reported at version 0 with
// everything pending: running 001 on it would fail, or worse.
func (r *Runner) unadopted(st state) *report.Target {
	b := st.book
	claim := b.MigrateClaim()
	res := &report.Target{Status: report.StatusUnadopted, ManagedBy: string(ledger.ManagedByGolangMigrate), ClaimedVersion: &claim}
	if st.initialized {
		// goose's table says something too (it disagrees with golang-migrate's);
		// without it the tool has no version of its own to report.
		res.FromVersion, res.ToVersion = report.V(st.current), report.V(st.current)
	}
	var msg string
	switch b.Manager() {
	case ledger.ManagedByTool:
		if !r.syncMigrate(b) {
			return nil
		}
		switch {
		case b.MigrateRow != nil && b.MigrateRow.Dirty:
			msg = fmt.Sprintf("%s is dirty at version %d (a golang-migrate run failed halfway on it) while %s says version %d: "+
				"check which of version %d's changes are on the target, repair it, then run `orchestrator adopt --version V`",
				ledger.MigrateTable, claim, ledger.VersionTable, st.current, claim)
		case claim != st.current:
			msg = fmt.Sprintf("%s says version %d but %s says version %d: golang-migrate moved the target since; "+
				"check which is true, then run `orchestrator adopt --version V`", ledger.VersionTable, st.current, ledger.MigrateTable, claim)
		default:
			return nil
		}
	case ledger.ManagedByGolangMigrate:
		switch {
		case b.MigrateProblem() != "":
			res.ClaimedVersion = nil
			msg = b.MigrateProblem() + "; no version table of goose either: run `orchestrator adopt` (it then proves the version from the schema), or `orchestrator adopt --version V`"
			res.ManagedBy = string(ledger.ManagedByHand)
		case b.MigrateRow != nil && b.MigrateRow.Dirty:
			msg = fmt.Sprintf("managed by golang-migrate and dirty at version %d (%s): its migration %d failed halfway; "+
				"check by hand which of version %d's changes are on the target and repair them, then run `orchestrator adopt --version V`",
				claim, ledger.MigrateTable, claim, claim)
		default:
			msg = fmt.Sprintf("managed by golang-migrate at version %d (%s), not by orchestrator: "+
				"run `orchestrator adopt` to prove that version against the schema and take the target over", claim, ledger.MigrateTable)
		}
	case ledger.ManagedByHand:
		res.ManagedBy, res.ClaimedVersion = string(ledger.ManagedByHand), nil
		msg = "holds tables but no version table: it was migrated by hand (psql -f) or by a tool that keeps no record; " +
			"run `orchestrator adopt` to find its version from its schema"
	default:
		return nil
	}
	res.Error = &report.Error{Class: ClassUnadopted, Message: msg}
	return res
}
