-- Areas and distances in metres must measure the shapes as stored: polygons in EPSG:4490 whose edges
-- are straight in longitude/latitude. A Gauss-Krüger transform of only the vertices bends nothing,
-- so a sliver between a 1 km edge and a point 0.02 mm off it (floating point along a cut) came out
-- 1.6 cm wide and 10 m² in projection, and a partition that is exact in the stored CRS looked like
-- it had a gap. Segmentizing in degrees first (segments of at most 0.0005°, about 50 m) keeps every
-- projected edge within 0.03 mm of its stored course, so measured slivers keep their stored size.
CREATE OR REPLACE FUNCTION wg_to_metric(g geometry) RETURNS geometry LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT ST_Transform(ST_Segmentize(g4, 0.0005), wg_metric_srid((ST_XMin(g4) + ST_XMax(g4)) / 2.0))
  FROM (SELECT CASE WHEN ST_SRID(g) = 4490 THEN g ELSE ST_Transform(g, 4490) END AS g4) s
$$;
