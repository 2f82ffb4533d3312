-- 004: usage_records - API usage tracking.
--
-- One row per API request: request/response sizes, duration, and error
-- details. Records outlive the user and the API key that made them
-- (ON DELETE SET NULL), so usage history survives account cleanup.
--
-- Consider partitioning this table by created_at (e.g. monthly range
-- partitions) for large datasets. It is deliberately NOT partitioned here.

CREATE TABLE usage_records (
    id            BIGSERIAL                NOT NULL,
    user_id       BIGINT,
    api_key_id    BIGINT,
    method        VARCHAR(10)              NOT NULL,
    endpoint      VARCHAR(512)             NOT NULL,
    status_code   INTEGER                  NOT NULL,
    request_size  BIGINT                   NOT NULL DEFAULT 0,
    response_size BIGINT                   NOT NULL DEFAULT 0,
    duration_ms   INTEGER                  NOT NULL DEFAULT 0,
    error_code    VARCHAR(100),
    error_message TEXT,
    ip_address    INET,
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT usage_records_pkey PRIMARY KEY (id),
    CONSTRAINT usage_records_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT usage_records_api_key_id_fkey FOREIGN KEY (api_key_id)
        REFERENCES api_keys (id) ON DELETE SET NULL,
    CONSTRAINT usage_records_status_code_check CHECK (status_code BETWEEN 100 AND 599),
    CONSTRAINT usage_records_request_size_check CHECK (request_size >= 0),
    CONSTRAINT usage_records_response_size_check CHECK (response_size >= 0),
    CONSTRAINT usage_records_duration_ms_check CHECK (duration_ms >= 0)
);

CREATE INDEX idx_usage_records_user_id_created_at ON usage_records (user_id, created_at);
CREATE INDEX idx_usage_records_api_key_id ON usage_records (api_key_id);
CREATE INDEX idx_usage_records_created_at ON usage_records (created_at);
CREATE INDEX idx_usage_records_endpoint ON usage_records (endpoint);
