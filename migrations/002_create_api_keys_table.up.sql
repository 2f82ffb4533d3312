-- 002: api_keys - API key management per user.
--
-- Only a hash of the key is stored (key_hash, unique); key_prefix is the
-- short clear-text prefix shown to users and used to find candidate keys.
-- scopes controls permissions; expires_at/revoked_at support expiration and
-- revocation. Keys are deleted with their user (ON DELETE CASCADE).

CREATE TABLE api_keys (
    id           BIGSERIAL                NOT NULL,
    user_id      BIGINT                   NOT NULL,
    name         VARCHAR(100)             NOT NULL,
    key_hash     VARCHAR(255)             NOT NULL,
    key_prefix   VARCHAR(16)              NOT NULL,
    scopes       TEXT[]                   NOT NULL DEFAULT '{}',
    expires_at   TIMESTAMP WITH TIME ZONE,
    revoked_at   TIMESTAMP WITH TIME ZONE,
    last_used_at TIMESTAMP WITH TIME ZONE,
    created_at   TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at   TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT api_keys_name_not_blank_check CHECK (btrim(name) <> ''),
    CONSTRAINT api_keys_key_prefix_not_blank_check CHECK (key_prefix <> '')
);

CREATE UNIQUE INDEX idx_api_keys_key_hash ON api_keys (key_hash);
CREATE INDEX idx_api_keys_user_id ON api_keys (user_id);
CREATE INDEX idx_api_keys_key_prefix ON api_keys (key_prefix);
CREATE INDEX idx_api_keys_expires_at ON api_keys (expires_at) WHERE expires_at IS NOT NULL;
