-- Who may act as a person (issue 19): the web interface's sessions and
-- per-person API tokens. Only the SHA-256 digest of each secret is kept
-- (hex), never the secret: a copy of the database opens no session and
-- acts as nobody.
--
-- `expires_at` is NULL for a token (it lasts until revoked); `ended_at` is
-- when a session was signed out or a token revoked. Times are integer unix
-- seconds, UTC.

CREATE TABLE credentials (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind = 'session' OR kind = 'token'),
    digest     TEXT    NOT NULL UNIQUE,
    person     TEXT    NOT NULL,
    label      TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    ended_at   INTEGER
) STRICT;
