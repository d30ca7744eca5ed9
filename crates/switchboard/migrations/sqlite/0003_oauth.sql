-- OAuth connect flow and token lifecycle.

-- One authorization request in flight. `state_digest` is SHA-256 of the state sent to the provider;
-- `pkce_verifier` is a vault envelope.
CREATE TABLE oauth_handshakes (
    id               TEXT    PRIMARY KEY,
    state_digest     TEXT    NOT NULL UNIQUE,
    org              TEXT    NOT NULL,
    user_id          TEXT,
    integration      TEXT    NOT NULL,
    provider         TEXT    NOT NULL,
    connection_id    TEXT,
    label            TEXT,
    shared           INTEGER NOT NULL,
    redirect_uri     TEXT,
    scopes           TEXT    NOT NULL,
    params           TEXT    NOT NULL,
    pkce_verifier    BLOB,
    expected_issuer  TEXT,
    status           TEXT    NOT NULL,
    error_code       TEXT,
    error_message    TEXT,
    created_at       BIGINT  NOT NULL,
    expires_at       BIGINT  NOT NULL,
    completed_at     BIGINT
);
CREATE INDEX oauth_handshakes_by_expiry ON oauth_handshakes (expires_at);

-- refresh_at: when the refresher should act (token expiry, or the next retry after a failure),
-- NULL when nothing is to be refreshed. The partial index keeps the refresher's query proportional
-- to the connections that are due, not to all of them.
ALTER TABLE connections ADD COLUMN refresh_at BIGINT;
ALTER TABLE connections ADD COLUMN lease_owner TEXT;
ALTER TABLE connections ADD COLUMN lease_until BIGINT;
ALTER TABLE connections ADD COLUMN sync_at BIGINT;
CREATE INDEX connections_refresh_due ON connections (refresh_at) WHERE refresh_at IS NOT NULL;
CREATE INDEX connections_sync_due ON connections (sync_at) WHERE sync_at IS NOT NULL;
