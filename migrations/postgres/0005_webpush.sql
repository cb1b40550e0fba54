-- Web Push subscriptions, one per device a person turned push on for (see
-- migrations/0012_webpush.sql, the same table on SQLite). Times are
-- integer unix seconds, UTC.

CREATE TABLE webpush_subscriptions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person     TEXT   NOT NULL,
    endpoint   TEXT   NOT NULL UNIQUE,
    p256dh     TEXT   NOT NULL,
    auth       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX webpush_subscriptions_person ON webpush_subscriptions (person);
