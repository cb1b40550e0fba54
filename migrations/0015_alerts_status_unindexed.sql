-- No index on `alerts.status` (issue 17): every alert inserted paid for an
-- entry in it, about a tenth of the pages the write-ahead log is written per
-- alert under an alert storm, and the store's two readers of it are served as
-- well without it:
-- - the unresolved alerts (a list of open or acknowledged alerts, and the
--   counts per team, severity and status) read the partial index
--   `alerts_unresolved_key`, which holds exactly the unresolved alerts;
-- - the resolved ones, most of the table once it has a history, are found
--   walking the table from its newest row.
-- PostgreSQL keeps its `alerts_status` index (migrations/postgres): its
-- inserts are not the single writer's work.

DROP INDEX alerts_status;
