-- 0001: the area registry, its history, workers, tokens, the audit log, and the sample's
-- companions (streets, incidents, checkpoints) that later capabilities extend.
-- All geometry is stored in CGCS2000 geographic coordinates, EPSG:4490, lon/lat.

CREATE EXTENSION IF NOT EXISTS postgis;

-- One row per version of an area. The current version has valid_to IS NULL; a retired area has no
-- current version. Versions of one code never overlap in time: [valid_from, valid_to).
CREATE TABLE areas (
  id          bigserial PRIMARY KEY,
  code        text NOT NULL,
  version     integer NOT NULL CHECK (version >= 1),
  name        text NOT NULL,
  level       text NOT NULL CHECK (level IN ('province','city','county','township','village','grid','microgrid')),
  parent_code text,
  geom        geometry(MultiPolygon, 4490) NOT NULL,
  households  integer CHECK (households >= 0),
  population  integer CHECK (population >= 0),
  attributes  jsonb NOT NULL DEFAULT '{}'::jsonb,
  valid_from  timestamptz NOT NULL,
  valid_to    timestamptz,
  changed_by  text NOT NULL,
  change      text NOT NULL CHECK (change IN ('create','update','replace','import','sample')),
  retired_by  text,
  UNIQUE (code, version),
  CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX areas_current_code ON areas (code) WHERE valid_to IS NULL;
CREATE INDEX areas_current_parent ON areas (parent_code) WHERE valid_to IS NULL;
CREATE INDEX areas_current_level ON areas (level, code) WHERE valid_to IS NULL;
CREATE INDEX areas_current_geom ON areas USING gist (geom) WHERE valid_to IS NULL;
CREATE INDEX areas_geom ON areas USING gist (geom);
CREATE INDEX areas_code_time ON areas (code, valid_from);
CREATE INDEX areas_parent_time ON areas (parent_code, valid_from);

-- Every committed change bumps the registry revision and notifies listeners (other server
-- processes, caches, the locator) with the code that changed.
CREATE SEQUENCE registry_revision;
CREATE FUNCTION wg_notify_area_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('wangge_areas', json_build_object('code', NEW.code, 'revision', nextval('registry_revision'))::text);
  RETURN NEW;
END $$;
CREATE TRIGGER areas_notify AFTER INSERT OR UPDATE ON areas FOR EACH ROW EXECUTE FUNCTION wg_notify_area_change();

-- A metric CRS for measuring near a longitude: the CGCS2000 3-degree Gauss-Krüger zone without zone
-- prefix (EPSG:4534 = CM 75°E ... 4554 = CM 135°E), so lengths and areas are in metres within China.
CREATE FUNCTION wg_metric_srid(lon double precision) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
  SELECT 4534 + LEAST(20, GREATEST(0, round((lon - 75.0) / 3.0)::integer))
$$;

-- A geometry in that metric CRS (input in any SRID PostGIS knows), for areas in m² and tolerances in m.
CREATE FUNCTION wg_to_metric(g geometry) RETURNS geometry LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT ST_Transform(g4, wg_metric_srid((ST_XMin(g4) + ST_XMax(g4)) / 2.0))
  FROM (SELECT CASE WHEN ST_SRID(g) = 4490 THEN g ELSE ST_Transform(g, 4490) END AS g4) s
$$;

-- The GeoJSON Feature of one area version, in the requested CRS; one definition for every reader.
CREATE FUNCTION wg_area_feature(a areas, out_srid integer) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'type', 'Feature',
    'id', a.code,
    'geometry', ST_AsGeoJSON(CASE WHEN out_srid = 4490 THEN a.geom ELSE ST_Transform(a.geom, out_srid) END,
                             CASE WHEN out_srid IN (4490, 4326) THEN 9 ELSE 3 END, 0)::json,
    'properties', json_build_object(
      'code', a.code, 'name', a.name, 'level', a.level, 'parent', a.parent_code,
      'version', a.version, 'households', a.households, 'population', a.population,
      'attributes', a.attributes,
      'valid_from', to_char(a.valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'valid_to', to_char(a.valid_to AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'changed_by', a.changed_by, 'change', a.change, 'retired_by', a.retired_by,
      'etag', '"' || a.code || '-v' || a.version || '"'))
$$;

CREATE TABLE workers (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL,
  phone       text,
  area_code   text NOT NULL,            -- the area the worker belongs to (scopes who may see/edit them)
  attributes  jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  created_by  text NOT NULL
);
CREATE INDEX workers_area ON workers (area_code);

-- Assignments keep their history too: an unassigned row is closed, never deleted.
CREATE TABLE worker_assignments (
  id            bigserial PRIMARY KEY,
  grid_code     text NOT NULL,
  worker_id     bigint NOT NULL REFERENCES workers (id),
  assigned_at   timestamptz NOT NULL,
  unassigned_at timestamptz,
  assigned_by   text NOT NULL
);
CREATE UNIQUE INDEX worker_assignments_current ON worker_assignments (grid_code, worker_id) WHERE unassigned_at IS NULL;
CREATE INDEX worker_assignments_worker ON worker_assignments (worker_id) WHERE unassigned_at IS NULL;

CREATE TABLE api_tokens (
  id          bigserial PRIMARY KEY,
  token_hash  text NOT NULL UNIQUE,     -- hex SHA-256 of the token; the token itself is never stored
  role        text NOT NULL CHECK (role IN ('admin','manager','dispatcher','analyst','worker','viewer')),
  scope_code  text,                     -- NULL: the whole registry
  name        text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  revoked_at  timestamptz
);

CREATE TABLE audit_log (
  id             bigserial PRIMARY KEY,
  at             timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor          text NOT NULL,
  action         text NOT NULL,
  target_type    text NOT NULL,
  target         text NOT NULL,
  version_before integer,
  version_after  integer,
  detail         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_target ON audit_log (target_type, target, at);

-- The generated or imported street network; routing builds on it.
CREATE TABLE streets (
  id       bigserial PRIMARY KEY,
  name     text,
  highway  text NOT NULL,
  oneway   boolean NOT NULL DEFAULT false,
  geom     geometry(LineString, 4490) NOT NULL
);
CREATE INDEX streets_geom ON streets USING gist (geom);

CREATE TABLE incidents (
  id           bigserial PRIMARY KEY,
  location     geometry(Point, 4490) NOT NULL,
  category     text NOT NULL,
  source       text NOT NULL CHECK (source IN ('hotline','app','worker','video')),
  status       text NOT NULL,
  description  text NOT NULL DEFAULT '',
  reporter     text NOT NULL DEFAULT '',
  grid_code    text,
  reported_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX incidents_location ON incidents USING gist (location);
CREATE INDEX incidents_grid ON incidents (grid_code);

CREATE TABLE checkpoints (
  id         bigserial PRIMARY KEY,
  grid_code  text NOT NULL,
  name       text NOT NULL,
  kind       text NOT NULL,
  location   geometry(Point, 4490) NOT NULL,
  frequency  text NOT NULL CHECK (frequency IN ('daily','weekly','monthly'))
);
CREATE INDEX checkpoints_grid ON checkpoints (grid_code);
CREATE INDEX checkpoints_location ON checkpoints USING gist (location);
