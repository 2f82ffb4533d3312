-- 001: users - user accounts and authentication.
--
-- Soft delete via deleted_at: email and username are unique among live rows
-- only (partial unique indexes), so a soft-deleted account does not block
-- re-registration. Verification is tracked by is_verified/email_verified_at.
-- No BEGIN/COMMIT: this file runs standalone (psql -f) or inside a caller's
-- transaction.

CREATE TABLE users (
    id                            BIGSERIAL                NOT NULL,
    email                         VARCHAR(255)             NOT NULL,
    username                      VARCHAR(50)              NOT NULL,
    password_hash                 VARCHAR(255)             NOT NULL,
    first_name                    VARCHAR(100),
    last_name                     VARCHAR(100),
    display_name                  VARCHAR(100),
    is_active                     BOOLEAN                  NOT NULL DEFAULT TRUE,
    is_verified                   BOOLEAN                  NOT NULL DEFAULT FALSE,
    email_verified_at             TIMESTAMP WITH TIME ZONE,
    verification_token_hash       VARCHAR(255),
    verification_token_expires_at TIMESTAMP WITH TIME ZONE,
    last_login_at                 TIMESTAMP WITH TIME ZONE,
    created_at                    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at                    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    deleted_at                    TIMESTAMP WITH TIME ZONE,

    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_not_blank_check CHECK (btrim(email) <> ''),
    CONSTRAINT users_username_not_blank_check CHECK (btrim(username) <> '')
);

-- Uniqueness among live (not soft-deleted) rows; these also serve the
-- login lookups by email and username.
CREATE UNIQUE INDEX idx_users_email ON users (email) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX idx_users_username ON users (username) WHERE deleted_at IS NULL;

-- Verification link lookups.
CREATE UNIQUE INDEX idx_users_verification_token_hash ON users (verification_token_hash)
    WHERE verification_token_hash IS NOT NULL;

-- Listing and purging.
CREATE INDEX idx_users_created_at ON users (created_at);
CREATE INDEX idx_users_deleted_at ON users (deleted_at) WHERE deleted_at IS NOT NULL;
