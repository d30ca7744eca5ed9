-- Fixes of a security review. Keep in step with the other backend's tree.

-- Sessions get a public id, so they can be listed and revoked. Rows made before carry one derived
-- from their digest (a prefix of the SHA-256 of the token: it opens nothing).
ALTER TABLE sessions ADD COLUMN id TEXT;
UPDATE sessions SET id = 'ses_' || substr(digest, 1, 26) WHERE id IS NULL;
CREATE UNIQUE INDEX sessions_by_id ON sessions (id);
CREATE INDEX sessions_by_org ON sessions (org, expires_at);

-- Who started a connect flow (the actor of its callback's audit entry), whether re-authorising may
-- sign in to another account, and the digest of the browser cookie the flow is bound to.
ALTER TABLE oauth_handshakes ADD COLUMN started_by TEXT NOT NULL DEFAULT 'system';
ALTER TABLE oauth_handshakes ADD COLUMN replace_account INTEGER NOT NULL DEFAULT 0;
ALTER TABLE oauth_handshakes ADD COLUMN browser_digest TEXT;

-- Stored event bodies per org, for the storage quota: kept in step by the transactions that store
-- and purge events.
CREATE TABLE event_usage (
    org    TEXT   PRIMARY KEY,
    bytes  BIGINT NOT NULL,
    events BIGINT NOT NULL
);
INSERT INTO event_usage (org, bytes, events)
    SELECT org, SUM(length(body)), COUNT(*) FROM events WHERE org IS NOT NULL GROUP BY org;
CREATE INDEX events_by_age ON events (received_at);
