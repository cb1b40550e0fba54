-- Sessions and per-person API tokens, by the digest of their secret (see
-- migrations/0011_credentials.sql, the same table on SQLite). Times are
-- integer unix seconds, UTC.

CREATE TABLE credentials (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT   NOT NULL CHECK (kind = 'session' OR kind = 'token'),
    digest     TEXT   NOT NULL UNIQUE,
    person     TEXT   NOT NULL,
    label      TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    ended_at   BIGINT
);
