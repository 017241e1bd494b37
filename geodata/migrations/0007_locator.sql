-- The locator's worker directory follows assignments through NOTIFY (channel wangge_workers), as
-- the area cache follows areas through wangge_areas: every server process on the database reloads
-- its directory within a moment of a commit instead of polling. One notification per statement
-- (and PostgreSQL folds equal ones of a transaction into one); the payload is empty because a
-- reload reads every current assignment anyway.
CREATE FUNCTION wg_notify_worker_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('wangge_workers', '');
  RETURN NULL;
END $$;
CREATE TRIGGER worker_assignments_notify AFTER INSERT OR UPDATE OR DELETE ON worker_assignments
  FOR EACH STATEMENT EXECUTE FUNCTION wg_notify_worker_change();
-- A worker's name is part of every answer that lists the worker.
CREATE TRIGGER workers_notify AFTER INSERT OR UPDATE OR DELETE ON workers
  FOR EACH STATEMENT EXECUTE FUNCTION wg_notify_worker_change();
