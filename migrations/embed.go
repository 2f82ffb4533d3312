// Package migrations holds the tool's own migration set (users, api_keys,
// sessions, usage_records), embedded into the binary.
package migrations

import "embed"

// FS holds the migration files (*.sql only; README.md is not embedded),
// named NNN_description.up.sql / NNN_description.down.sql at its root.
// It is read-only and safe for concurrent use.
//
//go:embed *.sql
var FS embed.FS
