-- 004 down: drop usage_records and its indexes.

DROP INDEX IF EXISTS idx_usage_records_endpoint;
DROP INDEX IF EXISTS idx_usage_records_created_at;
DROP INDEX IF EXISTS idx_usage_records_api_key_id;
DROP INDEX IF EXISTS idx_usage_records_user_id_created_at;
DROP TABLE IF EXISTS usage_records;
