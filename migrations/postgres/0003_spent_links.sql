-- Action links already used: a link acts once (see migrations/0009_spent_links.sql,
-- the same table on SQLite). Times are integer unix seconds, UTC.

CREATE TABLE spent_links (
    link       TEXT   PRIMARY KEY,
    alert_id   BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    spent_at   BIGINT NOT NULL
);
CREATE INDEX spent_links_expiry ON spent_links (expires_at);
