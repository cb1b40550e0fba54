-- Phone numbers proven: verification codes by keyed digest, wrong entries,
-- locks, when verified (see migrations/0014_phone_verification.sql, the
-- same table on SQLite). Times are integer unix seconds, UTC.
--
-- Numbered 0007: 0005 and 0006 are taken by work merged beside this.

CREATE TABLE phone_verifications (
    person       TEXT   NOT NULL,
    phone        TEXT   NOT NULL,
    code_digest  TEXT,
    sent_at      BIGINT,
    expires_at   BIGINT,
    wrong        BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    verified_at  BIGINT,
    PRIMARY KEY (person, phone)
);
