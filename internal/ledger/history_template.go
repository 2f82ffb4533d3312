package ledger

// HistoryTemplate is the query that reads a schema's version history as
// one JSON array of Applied, as a format() template whose %1$I is the
// schema: the newest row of each version says whether it is applied, as in
// goose; version 0, goose's marker row, is left out. Drift runs it inside
// its catalog query (through query_to_xml), so history and catalog are of
// one snapshot.
func HistoryTemplate(hasChecksums bool) string {
	checksums := `'', '', false`
	join := ""
	if hasChecksums {
		checksums = `coalesce(m.up_sha256, ''), coalesce(m.down_sha256, ''), m.version_id IS NOT NULL`
		join = "LEFT JOIN %1$I." + ChecksumTable + " m ON m.version_id = v.version_id"
	}
	return `SELECT coalesce(json_agg(json_build_object(
		'version', v.version_id, 'up_sha256', c.up, 'down_sha256', c.down, 'has_checksum', c.has
	) ORDER BY v.version_id), '[]')::text AS j
FROM (
	SELECT DISTINCT ON (version_id) version_id, is_applied
	FROM %1$I.` + VersionTable + `
	ORDER BY version_id, id DESC
) v
` + join + `
CROSS JOIN LATERAL (SELECT ` + checksums + `) AS c(up, down, has)
WHERE v.is_applied AND v.version_id <> 0`
}
