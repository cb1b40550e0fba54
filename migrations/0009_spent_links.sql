-- Action links (`/v1/act/{token}`) already used: a link acts once. Without
-- this, a link replayed later (from a forwarded email, a browser's history,
-- a proxy's log) would acknowledge the alert again after an `ack_timeout`
-- reopened it, silencing the re-page.
--
-- `link` is the token's MAC (base64url), unique to the token. A row is
-- needed only while the link could still verify: rows whose `expires_at`
-- passed are deleted as new ones are written.
--
-- Times are integer unix seconds, UTC.

CREATE TABLE spent_links (
    link       TEXT    PRIMARY KEY,
    alert_id   INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX spent_links_expiry ON spent_links (expires_at);
