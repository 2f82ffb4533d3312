package drift

import (
	"cmp"
	"slices"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// Kinds of finding.
const (
	// KindPending: a version of the set above the target's current one is
	// not applied yet.
	KindPending = "pending"
	// KindUnknownVersion: the target has a version applied that the set
	// does not have (a newer release, or a file that was deleted).
	KindUnknownVersion = "unknown_version"
	// KindGap: a version of the set below the target's current one is not
	// applied.
	KindGap = "gap"
	// KindUninitialized: the target has no version table; nothing was ever
	// applied to it by goose or orchestrator.
	KindUninitialized = "uninitialized"
	// KindChecksum: an applied migration's file changed since it was
	// applied.
	KindChecksum = "checksum_mismatch"
	// KindUnadopted: golang-migrate or a person migrated the target, not
	// the tool; its schema is compared with the version it claims.
	KindUnadopted = "unadopted"
	// KindSchema: the target's catalog differs from the expected schema.
	KindSchema = "schema"
	// KindInvalidIndex: the target has an INVALID index (a CREATE INDEX
	// CONCURRENTLY that did not finish): it is not used by queries and
	// blocks a re-run of the migration that names it.
	KindInvalidIndex = "invalid_index"
)

// sortFindings orders findings by object, then detail, so that reports are
// stable from run to run.
func sortFindings(fs []report.Finding) {
	slices.SortFunc(fs, func(a, b report.Finding) int {
		return cmp.Or(cmp.Compare(a.Object, b.Object), cmp.Compare(a.Detail, b.Detail), cmp.Compare(a.Kind, b.Kind))
	})
}
