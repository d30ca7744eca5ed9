-- Action runs kept for Idempotency-Key. Keep in step with the other backend's tree.

-- One row per (connection, key): the digest of the action and input it was first used with, and,
-- once the run ended, its HTTP status and answer, sealed (answers may hold personal data). A row
-- without a status is a run in flight.
CREATE TABLE action_runs (
    id              TEXT    PRIMARY KEY,
    connection_id   TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    org             TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    request_digest  TEXT    NOT NULL,
    status          INTEGER,
    answer          BLOB,
    created_at      BIGINT  NOT NULL
);
CREATE UNIQUE INDEX action_runs_by_key ON action_runs (connection_id, idempotency_key);
CREATE INDEX action_runs_by_age ON action_runs (created_at);
