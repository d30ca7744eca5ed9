-- Connections: one authenticated account each. `credentials` is a vault envelope of a JSON object;
-- `params` holds the non-secret fields (shop, host, phone number id…) for display.
CREATE TABLE connections (
    id               TEXT    PRIMARY KEY,
    org              TEXT    NOT NULL,
    owner            TEXT,
    provider         TEXT    NOT NULL,
    integration      TEXT,
    auth_mode        TEXT    NOT NULL,
    label            TEXT    NOT NULL,
    shared           INTEGER NOT NULL,
    status           TEXT    NOT NULL,
    credentials      BYTEA    NOT NULL,
    params           TEXT    NOT NULL,
    scopes           TEXT    NOT NULL,
    expires_at       BIGINT,
    account_id       TEXT,
    account_name     TEXT,
    account_email    TEXT,
    metadata         TEXT    NOT NULL,
    last_error       TEXT,
    failure_count    INTEGER NOT NULL DEFAULT 0,
    last_tested_at   BIGINT,
    last_refreshed_at BIGINT,
    last_sync_at     BIGINT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);
CREATE INDEX connections_by_org ON connections (org, provider, id);
CREATE INDEX connections_by_integration ON connections (integration);
