package drift

import (
	"fmt"
	"slices"

	"github.com/orchestrator-dev/orchestrator/internal/ledger"
	"github.com/orchestrator-dev/orchestrator/internal/report"
	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// Applied is one version applied on a target, as its bookkeeping tables
// record it (see the ledger package, which reads them).
type Applied = ledger.Applied

// VersionFindings compares what a target has applied with the set.
//
// A target whose version table does not exist (!initialized) gets one
// uninitialized finding and nothing else: every version is pending, and
// saying so once is enough. Otherwise, with current the highest applied
// version:
//
//   - each set version above current is pending;
//   - each set version below current that is not applied is a gap;
//   - each applied version the set does not have is unknown_version;
//   - each applied version of the set whose recorded up (or down) checksum
//     differs from the file's is a checksum_mismatch. Versions without a
//     recorded checksum are not checked.
//
// Version 0, goose's marker row, is ignored. Findings are ordered by
// version.
func VersionFindings(set *source.Set, initialized bool, applied []Applied) []report.Finding {
	if !initialized {
		return []report.Finding{{Kind: KindUninitialized, Object: "table " + ledger.VersionTable, Detail: "missing: the target was never migrated"}}
	}
	byVersion := make(map[int64]Applied, len(applied))
	var current int64
	for _, a := range applied {
		if a.Version == 0 {
			continue
		}
		if prev, dup := byVersion[a.Version]; dup && prev.HasChecksum {
			continue // keep the entry that can be checked
		}
		byVersion[a.Version] = a
		current = max(current, a.Version)
	}

	versions := make([]int64, 0, len(byVersion)+len(set.Migrations))
	for v := range byVersion {
		versions = append(versions, v)
	}
	for _, m := range set.Migrations {
		if _, ok := byVersion[m.Version]; !ok {
			versions = append(versions, m.Version)
		}
	}
	slices.Sort(versions)

	var fs []report.Finding
	for _, v := range versions {
		object := fmt.Sprintf("version %d", v)
		a, isApplied := byVersion[v]
		m, inSet := set.Find(v)
		switch {
		case !inSet:
			fs = append(fs, report.Finding{Kind: KindUnknownVersion, Object: object, Detail: "applied, but not in the migration set"})
		case !isApplied && v > current:
			fs = append(fs, report.Finding{Kind: KindPending, Object: object, Detail: fmt.Sprintf("pending (%s)", m.Name)})
		case !isApplied:
			fs = append(fs, report.Finding{Kind: KindGap, Object: object,
				Detail: fmt.Sprintf("not applied, below current version %d (%s)", current, m.Name)})
		case a.HasChecksum:
			if a.UpSHA256 != m.UpSHA256 {
				fs = append(fs, report.Finding{Kind: KindChecksum, Object: object,
					Detail: fmt.Sprintf("up section changed since it was applied (%s)", m.Name)})
			}
			if a.DownSHA256 != m.DownSHA256 {
				fs = append(fs, report.Finding{Kind: KindChecksum, Object: object,
					Detail: fmt.Sprintf("down section changed since it was applied (%s)", m.Name)})
			}
		}
	}
	return fs
}
