-- 0015: the case board's page. The board lists open cases by deadline (then reported_at, id) and
-- shows one page of them: with this index the page of all open cases, or of those of a category or
-- a source, is read in order and stops after its rows, instead of sorting every open case.
-- A state's board keeps using incidents_open (status, deadline).
CREATE INDEX incidents_open_deadline ON incidents (deadline, reported_at, id) WHERE status NOT IN ('closed', 'cancelled');
