// Package drift inspects a target's schema and version history and compares
// them with what the migration set says they should be.
//
// It finds three kinds of drift, each reported as a [Finding] that names the
// object and says how it differs:
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
// A target's schema is compared on its tables, columns (type, nullability,
// default, identity, generation), indexes (definition, uniqueness,
// validity), constraints (primary key, unique, check, foreign key with its
// actions, exclusion) and sequences. Views, functions, triggers, types,
// extensions, privileges and column order are not compared. It needs
// PostgreSQL 13 or later.
package drift
