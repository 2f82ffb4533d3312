-- The floor for drift: the catalog rows a complete drift check of one
-- schema needs, and its version rows, as plain catalog queries in one
-- read-only repeatable-read transaction, sent as one message. The
-- benchmarks run it over one connection per database (8 workers) and
-- beside the tool. :schema is the schema's name as a literal.
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relacl, pg_get_expr(c.relpartbound, c.oid)
FROM pg_class c WHERE c.relnamespace = :schema::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S');
SELECT a.attrelid::regclass, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
	pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, a.attcollation
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = :schema::regnamespace AND c.relkind IN ('r', 'p');
SELECT i.indrelid::regclass, i.indexrelid::regclass, pg_get_indexdef(i.indexrelid), i.indisunique, i.indisvalid
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = :schema::regnamespace;
SELECT con.conrelid::regclass, con.conname, con.contype, pg_get_constraintdef(con.oid), con.convalidated
FROM pg_constraint con WHERE con.connamespace = :schema::regnamespace;
SELECT q.seqrelid::regclass, q.seqtypid, q.seqstart, q.seqincrement, q.seqmin, q.seqmax, q.seqcache, q.seqcycle
FROM pg_sequence q JOIN pg_class c ON c.oid = q.seqrelid WHERE c.relnamespace = :schema::regnamespace;
SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c
WHERE c.relnamespace = :schema::regnamespace AND c.relkind IN ('v', 'm');
SELECT p.oid::regprocedure, p.prokind, p.prosrc, CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END, p.proacl
FROM pg_proc p WHERE p.pronamespace = :schema::regnamespace;
SELECT g.tgrelid::regclass, g.tgname, pg_get_triggerdef(g.oid), g.tgenabled
FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
WHERE c.relnamespace = :schema::regnamespace AND NOT g.tgisinternal;
SELECT t.typname, t.typtype, format_type(t.typbasetype, t.typtypmod), t.typnotnull, t.typdefault,
	(SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
FROM pg_type t WHERE t.typnamespace = :schema::regnamespace AND t.typtype IN ('c', 'd', 'e', 'r');
SELECT x.extname, x.extversion FROM pg_extension x WHERE x.extnamespace = :schema::regnamespace;
SELECT p.polrelid::regclass, p.polname, p.polcmd, p.polpermissive, p.polroles,
	pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = :schema::regnamespace;
SELECT v.version_id, v.is_applied, m.up_sha256, m.down_sha256
FROM :qschema.goose_db_version v LEFT JOIN :qschema.orchestrator_migrations m USING (version_id) ORDER BY v.id;
COMMIT;
