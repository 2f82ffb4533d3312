// Package drift inspects a target's schema and version history and compares
// them with what the migration set says they should be.
//
// It finds three kinds of drift, each reported as a [report.Finding] that
// names the object and says how it differs:
//
//   - version drift ([VersionFindings]): versions pending, applied versions
//     the set does not have, gaps below the current version, a target never
//     migrated;
//   - checksum drift ([VersionFindings]): a migration whose file changed
//     after it was applied, by the checksums recorded at apply time;
//   - schema drift ([Compare]): the target's catalog ([ReadSnapshot]) against
//     the schema the set produces at the target's version ([Reference]),
//     or, where no scratch database can be had, against the schema most
//     targets at the same version share ([Peers]).
//
// Everything this package runs on a target is a catalog read: it creates,
// locks and changes nothing there. The only writes are the scratch databases
// a [Reference] creates on the server it is given, and always drops.
//
// A target's schema is compared on every object kind pg_dump
// --schema-only emits for it: tables and partitions (with their bounds),
// columns (type, nullability, default, identity, generation, collation),
// indexes (definition, uniqueness, validity), constraints (primary key,
// unique, check, foreign key with its actions, exclusion), sequences (and
// the column owning them), views and materialized views (definition, and a
// materialized view's indexes), functions and procedures (signature, body
// and the rest of their definition), triggers (definition, enabled), types
// (enum labels and their order, composite attributes, domains with their
// constraints, ranges), the extensions installed in the schema (and their
// versions), row-level security (enabled, forced, policies) and the
// privileges granted on tables, views, sequences and functions, with each
// object's owner written "owner" so that owners may differ. Column order,
// comments and the privileges on types are not compared. The version
// history and the catalog are read by one statement, inside one read-only
// repeatable-read transaction ([InspectCurrent]). It needs PostgreSQL 13 or
// later.
package drift
