-- Contact methods proven (issue 20): test pages, and what became of each
-- (see migrations/0013_proofs.sql for what the columns hold).

ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('page', 'handoff', 'announce', 'test'));

CREATE TABLE test_pages (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person       TEXT   NOT NULL,
    requested_by TEXT   NOT NULL,
    requested_at BIGINT NOT NULL
);

CREATE TABLE proofs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    test_id         BIGINT NOT NULL REFERENCES test_pages (id),
    notification_id BIGINT REFERENCES notifications (id),
    person          TEXT   NOT NULL,
    method          TEXT   NOT NULL,
    destination     TEXT   NOT NULL,
    delivered_at    BIGINT,
    status          TEXT,
    confirmed_at    BIGINT,
    confirmed_by    TEXT
);
CREATE INDEX proofs_test ON proofs (test_id);
CREATE INDEX proofs_confirmed ON proofs (person, method, destination, confirmed_at)
    WHERE confirmed_at IS NOT NULL;
