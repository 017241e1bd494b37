-- 0013: what the case statistics need. Each server process keeps the cases' figures in memory
-- (src/stats) and follows every write to incidents through NOTIFY on wangge_stats: one message per
-- statement naming the keys of the rows it touched, a key being the case's grid or, for a case in
-- a gap between grids, the lowest area its location answer found ('' when none). NULL keys stand
-- for "more than 200": the listener then reloads everything.
CREATE FUNCTION wg_stats_key(grid_code text, hierarchy jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(grid_code, hierarchy->-1->>'code', '')
$$;

CREATE FUNCTION wg_notify_stats_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  keys json;
  n bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT json_agg(DISTINCT wg_stats_key(grid_code, hierarchy)), count(*) INTO keys, n FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT json_agg(DISTINCT wg_stats_key(grid_code, hierarchy)), count(*) INTO keys, n FROM old_rows;
  ELSE
    SELECT json_agg(DISTINCT k), count(*) INTO keys, n FROM (
      SELECT wg_stats_key(grid_code, hierarchy) AS k FROM new_rows
      UNION ALL SELECT wg_stats_key(grid_code, hierarchy) FROM old_rows) r;
  END IF;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  PERFORM pg_notify('wangge_stats', json_build_object(
    'keys', CASE WHEN json_array_length(keys) > 200 THEN NULL ELSE keys END)::text);
  RETURN NULL;
END $$;

CREATE TRIGGER incidents_stats_insert AFTER INSERT ON incidents REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wg_notify_stats_rows();
CREATE TRIGGER incidents_stats_update AFTER UPDATE ON incidents REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wg_notify_stats_rows();
CREATE TRIGGER incidents_stats_delete AFTER DELETE ON incidents REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wg_notify_stats_rows();

-- Re-reading the cases of a few keys: grids through incidents_grid, gap cases through this one.
CREATE INDEX incidents_gap_key ON incidents (wg_stats_key(grid_code, hierarchy)) WHERE grid_code IS NULL;
-- The last feedback of each case (timely verification is counted from it) without reading
-- every other event.
CREATE INDEX incident_events_feedback ON incident_events (incident_id, at) WHERE action = 'feedback';
