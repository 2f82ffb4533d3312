// Package fleet reads and validates fleet files: the list of PostgreSQL
// targets a run works on.
//
// A fleet file is YAML with the top-level keys defaults, targets, discover
// (servers whose databases, schemas or catalog rows become targets; Parse
// only validates them, package discovery connects and merges what they find
// with the listed targets) and waves (the stages of a rollout, each with a label
// select and a failure budget; AssignWaves splits targets between them). Parse walks the yaml.Node tree
// by hand rather than decoding into structs, so that every problem carries
// the line it was found on and all problems are reported together as one
// *Error. This package opens no connection: it only reads configuration
// (DSNs are checked with package dsn, which parses them without connecting).
//
// Values may reference environment variables as ${NAME}. Expansion happens
// after YAML parsing, on scalar values only, so a variable can never inject
// YAML structure; it is plain substitution, never a shell.
//
// A DSN is a secret. Nothing in this package prints one: problems about a DSN
// are built from fixed text, and anything that may quote a DSN is passed
// through Target.Scrub first. Callers must do the same (Target.RedactedDSN,
// Target.Scrub) before they show anything derived from a DSN.
//
// Select and Shard narrow the targets of a run (--select, --target,
// --shard). Both keep fleet order, and a target's shard depends on its name
// alone, so jobs that each read the same fleet split it without overlap or
// gaps.
package fleet
