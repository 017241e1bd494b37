-- 0005: the street network as a routable road network: imported OSM roads beside the sample's
-- generated streets, per-profile access in each direction, turn restrictions, and change
-- notification so running servers rebuild their graphs (LISTEN wangge_streets).
-- Geometry stays EPSG:4490 lon/lat; OSM's WGS 84 coordinates are stored as they are (the two
-- frames agree to well under a metre, see README "Road network").

-- Access per profile and direction: *_fwd from the first point to the last, *_bwd back. NULL (the
-- sample's streets, and any row written without them) means "by the highway class and `oneway`",
-- the router's defaults. `oneway` stays the car's rule: true when cars may only go forward.
ALTER TABLE streets
  ADD COLUMN source     text NOT NULL DEFAULT 'sample',
  ADD COLUMN osm_id     bigint,
  ADD COLUMN name_zh    text,
  ADD COLUMN from_node  bigint,
  ADD COLUMN to_node    bigint,
  ADD COLUMN foot_fwd   boolean,
  ADD COLUMN foot_bwd   boolean,
  ADD COLUMN ebike_fwd  boolean,
  ADD COLUMN ebike_bwd  boolean,
  ADD COLUMN car_fwd    boolean,
  ADD COLUMN car_bwd    boolean;
CREATE INDEX streets_source ON streets (source);
CREATE INDEX streets_osm_id ON streets (osm_id) WHERE osm_id IS NOT NULL;

-- OSM `type=restriction` relations with a from way, a via node and a to way. Cars only.
CREATE TABLE street_restrictions (
  id        bigserial PRIMARY KEY,
  source    text NOT NULL,
  osm_id    bigint NOT NULL,
  kind      text NOT NULL CHECK (kind IN ('no', 'only')),
  tag       text NOT NULL,           -- the restriction value, e.g. no_left_turn
  from_way  bigint NOT NULL,
  via_node  bigint NOT NULL,
  to_way    bigint NOT NULL
);
CREATE INDEX street_restrictions_source ON street_restrictions (source);

-- Every statement that changes the network bumps the revision and tells the listeners; a
-- notification is delivered at commit, so a rolled-back import is never heard of.
CREATE SEQUENCE streets_revision;
CREATE FUNCTION wg_notify_streets_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('wangge_streets', nextval('streets_revision')::text);
  RETURN NULL;
END $$;
CREATE TRIGGER streets_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON streets
  FOR EACH STATEMENT EXECUTE FUNCTION wg_notify_streets_change();
CREATE TRIGGER street_restrictions_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON street_restrictions
  FOR EACH STATEMENT EXECUTE FUNCTION wg_notify_streets_change();
