-- Inbound webhooks and outbound delivery.

-- `secrets` is a vault envelope of {"secrets": [current, previous?], "verify_token": …}.
CREATE TABLE webhook_endpoints (
    id            TEXT   PRIMARY KEY,
    org           TEXT   NOT NULL,
    provider      TEXT   NOT NULL,
    scheme        TEXT   NOT NULL,
    connection_id TEXT,
    secrets       BYTEA   NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_org ON webhook_endpoints (org, id);

-- One received webhook (or lifecycle event), stored before it is acknowledged. A provider's repeat of
-- the same event id at the same endpoint hits the unique index and is not stored again.
CREATE TABLE events (
    id                TEXT   PRIMARY KEY,
    org               TEXT,
    source            TEXT   NOT NULL,
    endpoint_id       TEXT,
    provider          TEXT   NOT NULL,
    event_type        TEXT   NOT NULL,
    provider_event_id TEXT,
    dedupe_scope      TEXT   NOT NULL,
    dedupe_key        TEXT   NOT NULL,
    connection_id     TEXT,
    headers           TEXT   NOT NULL,
    body              BYTEA   NOT NULL,
    received_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX events_dedupe ON events (dedupe_scope, dedupe_key);
CREATE INDEX events_by_org ON events (org, id);
CREATE INDEX events_by_endpoint ON events (endpoint_id, id);

-- `secret` is a vault envelope of the whsec_ signing secret.
CREATE TABLE subscriptions (
    id              TEXT   PRIMARY KEY,
    url             TEXT   NOT NULL,
    org             TEXT,
    endpoint_id     TEXT,
    event_types     TEXT   NOT NULL,
    secret          BYTEA   NOT NULL,
    status          TEXT   NOT NULL,
    disabled_reason TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- One event to one subscription. next_attempt_at is NULL once it succeeded or was given up.
CREATE TABLE deliveries (
    id              TEXT    PRIMARY KEY,
    event_id        TEXT    NOT NULL,
    subscription_id TEXT    NOT NULL,
    org             TEXT,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT,
    lease_owner     TEXT,
    lease_until     BIGINT,
    last_status     INTEGER,
    last_error      TEXT,
    last_latency_ms INTEGER,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX deliveries_by_subscription ON deliveries (subscription_id, id);
CREATE INDEX deliveries_by_event ON deliveries (event_id);

CREATE TABLE delivery_attempts (
    delivery_id TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    at          BIGINT  NOT NULL,
    status_code INTEGER,
    latency_ms  INTEGER NOT NULL,
    error       TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
