package drift

import (
	"fmt"
	"slices"

	"github.com/orchestrator-dev/orchestrator/internal/source"
)

// versionTable and checksumTable are the tables a migrated target keeps its
// history in: goose's version table, and orchestrator's record of the
// checksums each migration had when it was applied. They match the runner's
// VersionTable and ChecksumTable; they are not part of the schema the set
// describes, so snapshots leave them out.
const (
	versionTable  = "goose_db_version"
	checksumTable = "orchestrator_migrations"
)

// Applied is one version applied on a target, as its goose_db_version and
// orchestrator_migrations tables record it.
type Applied struct {
	Version int64 `json:"version"`
	// UpSHA256 and DownSHA256 are the hex SHA-256 checksums of the up and
	// down sections when the version was applied; meaningful only when
	// HasChecksum is true.
	UpSHA256   string `json:"up_sha256,omitempty"`
	DownSHA256 string `json:"down_sha256,omitempty"`
	// HasChecksum reports that orchestrator_migrations has a row for the
	// version. Versions applied by goose itself, or before orchestrator
	// recorded checksums, have none and cannot be checked.
	HasChecksum bool `json:"has_checksum"`
}

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
func VersionFindings(set *source.Set, initialized bool, applied []Applied) []Finding {
	if !initialized {
		return []Finding{{Kind: KindUninitialized, Object: "table " + versionTable, Detail: "missing: the target was never migrated"}}
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

	var fs []Finding
	for _, v := range versions {
		object := fmt.Sprintf("version %d", v)
		a, isApplied := byVersion[v]
		m, inSet := set.Find(v)
		switch {
		case !inSet:
			fs = append(fs, Finding{Kind: KindUnknownVersion, Object: object, Detail: "applied, but not in the migration set"})
		case !isApplied && v > current:
			fs = append(fs, Finding{Kind: KindPending, Object: object, Detail: fmt.Sprintf("pending (%s)", m.Name)})
		case !isApplied:
			fs = append(fs, Finding{Kind: KindGap, Object: object,
				Detail: fmt.Sprintf("not applied, below current version %d (%s)", current, m.Name)})
		case a.HasChecksum:
			if a.UpSHA256 != m.UpSHA256 {
				fs = append(fs, Finding{Kind: KindChecksum, Object: object,
					Detail: fmt.Sprintf("up section changed since it was applied (%s)", m.Name)})
			}
			if a.DownSHA256 != m.DownSHA256 {
				fs = append(fs, Finding{Kind: KindChecksum, Object: object,
					Detail: fmt.Sprintf("down section changed since it was applied (%s)", m.Name)})
			}
		}
	}
	return fs
}
