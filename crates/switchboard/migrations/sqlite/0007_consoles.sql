-- The consoles: what a session may see on the integrations page, the single-use links into it and the
-- browser (cookie) sessions they open. Keep in step with the other backend's tree.

-- The providers a session's page shows (a JSON array; NULL for every connectable one), its language,
ALTER TABLE sessions ADD COLUMN providers TEXT;
ALTER TABLE sessions ADD COLUMN locale TEXT;
-- Where the page sends the browser back in a redirect (under SWITCHBOARD_ALLOWED_REDIRECTS), if anywhere.
ALTER TABLE sessions ADD COLUMN return_url TEXT;

-- A connect link: the digest of its `cl_` token, the session it opens, until when, and when it was used
-- (once; a used link is kept until it expires so a second use is told it was used).
CREATE TABLE connect_links (
    digest      TEXT    PRIMARY KEY,
    session_id  TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT
);
CREATE INDEX connect_links_by_expiry ON connect_links (expires_at);

-- A browser session of a console: the digest of its `bs_` cookie, the CSRF token its pages carry, and
-- what it acts as: an end-user session (session_id) or, for the operator console, a secret key (api_key_id).
CREATE TABLE browser_sessions (
    digest      TEXT    PRIMARY KEY,
    session_id  TEXT,
    api_key_id  TEXT,
    csrf        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX browser_sessions_by_expiry ON browser_sessions (expires_at);
CREATE INDEX browser_sessions_by_session ON browser_sessions (session_id);

-- Token refreshes per hour, provider and outcome (`success`, `failure`), for the operator console's charts;
-- kept 15 days.
CREATE TABLE refresh_stats (
    hour      BIGINT  NOT NULL,
    provider  TEXT    NOT NULL,
    outcome   TEXT    NOT NULL,
    count     BIGINT  NOT NULL,
    PRIMARY KEY (hour, provider, outcome)
);
