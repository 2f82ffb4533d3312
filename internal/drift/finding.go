package drift

import (
	"cmp"
	"slices"
)

// Finding is one difference between a target and what it should be.
type Finding struct {
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
	// Object names the thing that differs: "column users.nickname",
	// "index api_keys.idx_api_keys_key_prefix", "version 3",
	// "table goose_db_version".
	Object string `json:"object"`
	// Detail says how it differs: "unexpected", "missing",
	// "type text, expected character varying(512)",
	// "on delete cascade, expected set null".
	Detail string `json:"detail"`
}

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
	// KindSchema: the target's catalog differs from the expected schema.
	KindSchema = "schema"
	// KindInvalidIndex: the target has an INVALID index (a CREATE INDEX
	// CONCURRENTLY that did not finish): it is not used by queries and
	// blocks a re-run of the migration that names it.
	KindInvalidIndex = "invalid_index"
)

// String formats f the way an operator would write it:
// "index api_keys.idx_api_keys_key_prefix missing".
func (f Finding) String() string {
	if f.Detail == "" {
		return f.Object
	}
	return f.Object + " " + f.Detail
}

// sortFindings orders findings by object, then detail, so that reports are
// stable from run to run.
func sortFindings(fs []Finding) {
	slices.SortFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Object, b.Object), cmp.Compare(a.Detail, b.Detail), cmp.Compare(a.Kind, b.Kind))
	})
}
