-- 003: sessions - user session management.
--
-- Stores hashes of the session (JWT) token and of the optional refresh
-- token, never the tokens themselves. ip_address/user_agent record where the
-- session was opened; expires_at/revoked_at support expiration and
-- revocation. Sessions are deleted with their user (ON DELETE CASCADE).

CREATE TABLE sessions (
    id                 BIGSERIAL                NOT NULL,
    user_id            BIGINT                   NOT NULL,
    token_hash         VARCHAR(255)             NOT NULL,
    refresh_token_hash VARCHAR(255),
    ip_address         INET,
    user_agent         VARCHAR(512),
    expires_at         TIMESTAMP WITH TIME ZONE NOT NULL,
    revoked_at         TIMESTAMP WITH TIME ZONE,
    last_activity_at   TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    created_at         TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE
);

CREATE UNIQUE INDEX idx_sessions_token_hash ON sessions (token_hash);
CREATE INDEX idx_sessions_user_id ON sessions (user_id);
CREATE INDEX idx_sessions_expires_at ON sessions (expires_at);
CREATE UNIQUE INDEX idx_sessions_refresh_token_hash ON sessions (refresh_token_hash)
    WHERE refresh_token_hash IS NOT NULL;
