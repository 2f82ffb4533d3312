package lint

import (
	"sync"

	"github.com/orchestrator-dev/orchestrator/internal/report"
)

// Rule names, as reported in a finding's Rule. They are stable: suppressions
// and CI configurations name them.
const (
	// Locks and rewrites on existing tables.
	RuleIndexNotConcurrent     = "index-not-concurrent"
	RuleAddColumnNotNull       = "add-column-not-null-no-default"
	RuleVolatileDefault        = "add-column-volatile-default"
	RuleColumnTypeChange       = "column-type-change"
	RuleVarcharShrink          = "varchar-shrink"
	RuleForeignKeyNotValid     = "foreign-key-not-valid"
	RuleCheckNotValid          = "check-not-valid"
	RuleSetNotNull             = "set-not-null"
	RuleUniqueWithoutIndex     = "unique-without-index"
	RulePrimaryKeyWithoutIndex = "primary-key-without-index"
	RuleReindexNotConcurrent   = "reindex-not-concurrent"
	RuleVacuumFull             = "vacuum-full"
	RuleCluster                = "cluster"
	RuleLockTable              = "lock-table"
	RuleDetachNotConcurrent    = "detach-partition-not-concurrent"
	RuleTrigger                = "trigger-on-existing-table"
	// Behaviour changes for code already running.
	RuleRenameColumn    = "rename-column"
	RuleRenameTable     = "rename-table"
	RuleRenameEnumValue = "rename-enum-value"
	RuleDropNotNull     = "drop-not-null"
	// Data loss.
	RuleDestructiveUp      = "destructive-up"
	RuleTruncateCascade    = "truncate-cascade"
	RuleDeleteWithoutWhere = "delete-without-where"
	RuleUpdateWithoutWhere = "update-without-where"
	// Types.
	RuleIntPrimaryKey = "int-primary-key"
	RuleTimestamp     = "timestamp-without-time-zone"
	RuleCharType      = "char-type"
	RuleJSONType      = "json-type"
	RuleLongName      = "identifier-too-long"
	// Failing or stopping halfway.
	RuleConcurrentlyInTx       = "concurrently-in-transaction"
	RuleVacuumInTx             = "vacuum-in-transaction"
	RuleNoTxMultipleStatements = "no-transaction-multiple-statements"
	RuleMissingDown            = "missing-down"
	RuleScaffoldPlaceholder    = "scaffold-placeholder"
	RuleUnreadableSQL          = "unreadable-sql"
	RuleTxWrapper              = "transaction-wrapper"
	// The batch a target receives.
	RuleEnumValueInBatch = "enum-value-used-in-batch"
	RuleBatchLocks       = "batch-access-exclusive"
	RuleNoTxSplitsBatch  = "no-transaction-splits-batch"
	// The fleet.
	RuleSchemaQualified  = "schema-qualified-name"
	RuleNeedsNewerServer = "needs-newer-server"
	RuleVersionBehaviour = "behaves-differently-across-versions"
	// Suppressions.
	RuleUnusedIgnore    = "unused-lint-ignore"
	RuleMalformedIgnore = "malformed-lint-ignore"
)

// Rule describes one rule: its name, its severity, why it exists and what
// to do instead, as the README's rule table shows them.
type Rule struct {
	Name     string
	Severity report.Severity
	Why      string
	Instead  string
}

// Rules lists every rule Check applies, in the README's order. The
// severity of schema-qualified-name is the one it has without a fleet; a
// fleet of database targets only makes it a note.
func Rules() []Rule {
	const e, w, n = report.SeverityError, report.SeverityWarning, report.SeverityNote
	return []Rule{
		{RuleIndexNotConcurrent, w, "the build blocks every write to the table on each tenant until it finishes",
			"CREATE INDEX CONCURRENTLY, alone in a migration marked '-- +goose NO TRANSACTION'"},
		{RuleAddColumnNotNull, w, "it fails on every tenant where the table has rows",
			"give it a DEFAULT, or add it nullable, backfill it, and SET NOT NULL in a later migration"},
		{RuleVolatileDefault, w, "a default computed per row (a volatile function, serial, identity, a stored generated column) rewrites the table under an ACCESS EXCLUSIVE lock",
			"add the column without the default, set the default in a second statement (it applies to new rows only), and backfill in batches"},
		{RuleColumnTypeChange, w, "unless the types are binary-compatible, PostgreSQL rewrites the table and its indexes holding an ACCESS EXCLUSIVE lock",
			"add a new column, backfill it in batches and switch over"},
		{RuleVarcharShrink, w, "a shorter varchar scans and rewrites the table, and fails on every tenant holding a longer value",
			"add a CHECK (length(col) <= n) NOT VALID and VALIDATE it, or keep the longer type"},
		{RuleForeignKeyNotValid, w, "adding a foreign key checks every row while it locks both tables against writes",
			"ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in a later migration"},
		{RuleCheckNotValid, w, "adding a CHECK scans the whole table under an ACCESS EXCLUSIVE lock",
			"ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT in a later migration"},
		{RuleSetNotNull, w, "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock",
			"add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL (PostgreSQL 12+ skips the scan) and drop the check"},
		{RuleUniqueWithoutIndex, w, "the constraint builds its unique index while blocking every write to the table",
			"CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... UNIQUE USING INDEX"},
		{RulePrimaryKeyWithoutIndex, w, "the primary key builds its index while blocking reads and writes of the table",
			"CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX"},
		{RuleReindexNotConcurrent, w, "REINDEX blocks writes to the table, and reads that use the index, until it finishes",
			"REINDEX ... CONCURRENTLY (PostgreSQL 12+), alone in a NO TRANSACTION migration"},
		{RuleVacuumFull, w, "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock",
			"plain VACUUM, or pg_repack outside the migration"},
		{RuleCluster, w, "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock",
			"leave physical ordering to maintenance outside the migration (pg_repack)"},
		{RuleLockTable, w, "an explicit lock in a migration holds tenants' traffic until the batch commits",
			"let each statement take the lock it needs, with lock_timeout set"},
		{RuleDetachNotConcurrent, w, "DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the parent table",
			"DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+), alone in a NO TRANSACTION migration"},
		{RuleTrigger, w, "a trigger takes a lock on a live table and changes what every write on each tenant does",
			"add triggers with the code that relies on them, and say why in a lint-ignore"},
		{RuleRenameColumn, w, "code still running with the old name fails on every tenant the moment the migration commits",
			"add the new column, write both, switch reads, drop the old one later"},
		{RuleRenameTable, w, "code still running with the old name fails on every tenant the moment the migration commits",
			"create the new table (or a view with the old name) and move over in steps"},
		{RuleRenameEnumValue, w, "code still writing the old value fails on every tenant",
			"add the new value, migrate the rows, stop using the old one"},
		{RuleDropNotNull, w, "readers that assume a value start to meet NULLs, and going back needs a full-table scan",
			"make sure every reader handles NULL before the migration runs"},
		{RuleDestructiveUp, w, "it deletes data on every tenant, and no down section can bring it back",
			"deploy code that no longer uses it first, and keep a backup"},
		{RuleTruncateCascade, w, "CASCADE also empties every table with a foreign key to it, on every tenant",
			"TRUNCATE the tables you mean by name, without CASCADE"},
		{RuleDeleteWithoutWhere, w, "it deletes every row on every tenant",
			"add a WHERE clause (WHERE true if every row is meant)"},
		{RuleUpdateWithoutWhere, w, "it rewrites every row on every tenant under row locks held to the end of the batch",
			"add a WHERE clause, and backfill big tables in batches"},
		{RuleIntPrimaryKey, w, "a 32-bit key runs out at 2,147,483,647 rows, and widening it later rewrites the table",
			"bigint (or bigserial, or bigint GENERATED ALWAYS AS IDENTITY)"},
		{RuleTimestamp, w, "timestamp without time zone stores wall-clock times that change meaning with the session's TimeZone",
			"timestamptz"},
		{RuleCharType, w, "char(n) pads with spaces and is no faster than text",
			"text or varchar(n)"},
		{RuleJSONType, w, "json keeps the text as written, cannot be indexed with GIN and compares only as text",
			"jsonb"},
		{RuleLongName, w, "PostgreSQL truncates names to 63 bytes without an error, so two long names can collide on a tenant",
			"a name of at most 63 bytes"},
		{RuleConcurrentlyInTx, e, "CONCURRENTLY cannot run inside a transaction block: it fails on every target",
			"put the statement alone in a migration marked '-- +goose NO TRANSACTION'"},
		{RuleVacuumInTx, e, "VACUUM cannot run inside a transaction block: it fails on every target",
			"put it alone in a migration marked '-- +goose NO TRANSACTION', or leave it to autovacuum"},
		{RuleNoTxMultipleStatements, w, "statements outside a transaction run one by one, so a failure after the first leaves the target half-migrated",
			"give each statement a migration of its own"},
		{RuleMissingDown, w, "`orchestrator down` cannot revert the migration",
			"write the SQL that reverses the up section, or a comment saying there is nothing to undo"},
		{RuleScaffoldPlaceholder, e, "the placeholder `orchestrator new` writes fails on every target",
			"replace it with the migration's SQL"},
		{RuleUnreadableSQL, e, "the section cannot be split into statements",
			"close the string, quote or comment the message names"},
		{RuleTxWrapper, n, "the file carries its own BEGIN ... COMMIT (the golang-migrate convention); the tool drops the wrapper and runs the body in its own transaction, with the version row",
			"nothing to do; any other BEGIN, COMMIT or ROLLBACK is refused when the set is loaded"},
		{RuleEnumValueInBatch, e, "PostgreSQL refuses a new enum value before the transaction that adds it commits, and a target's pending batch is one transaction",
			"mark the ADD VALUE migration '-- +goose NO TRANSACTION', or use the value in a later release"},
		{RuleBatchLocks, w, "in an atomic batch every ACCESS EXCLUSIVE lock is held until the batch commits, so several tables are blocked at once on each tenant",
			"spread the changes over releases, or mark migrations between them NO TRANSACTION so each commits on its own"},
		{RuleNoTxSplitsBatch, n, "a NO TRANSACTION migration commits what comes before it, so a later failure is undone by down sections rather than by a rollback",
			"keep NO TRANSACTION migrations at the end of a release, or accept the split"},
		{RuleSchemaQualified, w, "a schema-qualified name reaches past the tenant's search_path: with schema-per-tenant every tenant would change the same schema",
			"leave names unqualified, so each target's search_path decides"},
		{RuleNeedsNewerServer, e, "some of the fleet's servers are older than the statement needs: it fails there",
			"upgrade those servers first, or use a form every version has"},
		{RuleVersionBehaviour, w, "the statement is cheap on some of the fleet's servers and locks or rewrites on others",
			"write the form that is cheap everywhere, or upgrade the older servers first"},
		{RuleUnusedIgnore, w, "a lint-ignore that silences nothing hides nothing today but may hide a real finding later",
			"delete it, or name the rule that fires on the statement below it"},
		{RuleMalformedIgnore, w, "a lint-ignore must name known rules and say why",
			"-- orchestrator:lint-ignore RULE[,RULE] reason"},
	}
}

// ruleIndex maps each rule's name to its description; built once, never
// changed.
var ruleIndex = sync.OnceValue(func() map[string]Rule {
	m := map[string]Rule{}
	for _, r := range Rules() {
		m[r.Name] = r
	}
	return m
})

// ruleInfo returns the rule called name; false when there is none.
func ruleInfo(name string) (Rule, bool) {
	r, ok := ruleIndex()[name]
	return r, ok
}
