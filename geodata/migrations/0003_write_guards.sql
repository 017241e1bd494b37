-- 0003: guards for writes: transforms that answer NULL instead of aborting the transaction, and the
-- service area every stored geometry must lie in.

-- ST_Transform raises for coordinates outside a projection's domain; a raise would abort the whole
-- write transaction with an internal error. Here it becomes NULL, which the caller reports as 422.
CREATE FUNCTION wg_try_transform(g geometry, srid integer) RETURNS geometry LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
  RETURN ST_Transform(g, srid);
EXCEPTION WHEN OTHERS THEN
  RETURN NULL;
END $$;

-- China and its surroundings, in EPSG:4490: metric computations (Gauss-Krüger zones) stay valid.
CREATE FUNCTION wg_in_service_area(g geometry) RETURNS boolean LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT ST_XMin(g) >= 70 AND ST_XMax(g) <= 140 AND ST_YMin(g) >= 0 AND ST_YMax(g) <= 60
$$;
