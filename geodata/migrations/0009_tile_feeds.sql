-- Map tiles follow incidents and checkpoints through NOTIFY (channel wangge_tiles), as the area
-- cache follows areas through wangge_areas: every server process drops the cached tiles around
-- the rows a statement wrote, whoever wrote them (the API, a script, psql). One notification per
-- statement, with the table, the lon/lat extent of the old and new locations (EPSG:4490) and the
-- grid codes concerned (null when there are more than 200: the listener then treats every code as
-- changed), so a bulk update costs one message, well under NOTIFY's 8000-byte limit.
CREATE FUNCTION wg_notify_tile_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  e box2d;
  codes json;
  n bigint;
BEGIN
  -- Only the transition tables of the firing event exist; PL/pgSQL plans a branch when it runs.
  IF TG_OP = 'INSERT' THEN
    SELECT ST_Extent(location), json_agg(DISTINCT grid_code), count(*) INTO e, codes, n FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT ST_Extent(location), json_agg(DISTINCT grid_code), count(*) INTO e, codes, n FROM old_rows;
  ELSE
    SELECT ST_Extent(location), json_agg(DISTINCT grid_code), count(*) INTO e, codes, n
      FROM (SELECT location, grid_code FROM new_rows UNION ALL SELECT location, grid_code FROM old_rows) r;
  END IF;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  PERFORM pg_notify('wangge_tiles', json_build_object(
    'table', TG_TABLE_NAME,
    'box', json_build_array(ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)),
    'codes', CASE WHEN json_array_length(codes) > 200 THEN NULL ELSE codes END)::text);
  RETURN NULL;
END $$;

CREATE TRIGGER incidents_tiles_insert AFTER INSERT ON incidents REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wg_notify_tile_rows();
CREATE TRIGGER incidents_tiles_update AFTER UPDATE ON incidents REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wg_notify_tile_rows();
CREATE TRIGGER incidents_tiles_delete AFTER DELETE ON incidents REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wg_notify_tile_rows();
CREATE TRIGGER checkpoints_tiles_insert AFTER INSERT ON checkpoints REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wg_notify_tile_rows();
CREATE TRIGGER checkpoints_tiles_update AFTER UPDATE ON checkpoints REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wg_notify_tile_rows();
CREATE TRIGGER checkpoints_tiles_delete AFTER DELETE ON checkpoints REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wg_notify_tile_rows();
