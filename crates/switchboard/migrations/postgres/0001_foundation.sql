-- Foundation: the vault's data keys, API keys, sessions, integrations, audit log.
-- Instants are unix milliseconds (BIGINT); ids are TEXT. Keep in step with ../sqlite.

CREATE TABLE data_keys (
    id            BIGINT PRIMARY KEY,
    master_key_id TEXT    NOT NULL,
    wrapped       BYTEA    NOT NULL,
    sealed_count  BIGINT  NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL,
    retired_at    BIGINT
);

CREATE TABLE api_keys (
    id           TEXT   PRIMARY KEY,
    name         TEXT   NOT NULL,
    digest       TEXT   NOT NULL UNIQUE,
    hint         TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE sessions (
    digest     TEXT   PRIMARY KEY,
    org        TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    role       TEXT   NOT NULL,
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE integrations (
    id            TEXT   PRIMARY KEY,
    provider      TEXT   NOT NULL,
    client_id     TEXT   NOT NULL,
    client_secret BYTEA,
    scopes        TEXT   NOT NULL,
    redirect_uri  TEXT,
    settings      TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id          TEXT   PRIMARY KEY,
    at          BIGINT NOT NULL,
    org         TEXT,
    actor       TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    target_kind TEXT   NOT NULL,
    target_id   TEXT   NOT NULL,
    outcome     TEXT   NOT NULL,
    detail      TEXT   NOT NULL
);
CREATE INDEX audit_by_org ON audit_log (org, id);
CREATE INDEX audit_by_target ON audit_log (target_id, id);
