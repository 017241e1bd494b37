ALTER TABLE incidents ADD COLUMN assignee text, ADD COLUMN rework_count integer NOT NULL DEFAULT 0, ADD COLUMN verified_at timestamptz;
-- 0012: who handles a case (assignee: 'department:<id>' or 'worker:<workers.id>'), its
-- verification on the ground (verified_at, rework_count), handling departments, urgings with their
-- escalation, and photos before/after.

-- Who handled the case (the assignee at feedback): verification must come from someone else.
ALTER TABLE incidents ADD COLUMN handled_by text;
CREATE INDEX incidents_assignee ON incidents (assignee) WHERE assignee IS NOT NULL;

-- Handling departments (处置部门: 城管, 住建, 市场监管 ...): the areas they serve (any level; a
-- scope code covers its subtree) and the case categories they handle. Retired, never deleted: old
-- cases keep naming them.
CREATE TABLE departments (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL,
  scope       text[] NOT NULL CHECK (cardinality(scope) > 0),
  categories  text[] NOT NULL CHECK (cardinality(categories) > 0),
  phone       text,
  version     integer NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  created_by  text NOT NULL,
  retired_at  timestamptz
);
CREATE UNIQUE INDEX departments_current_name ON departments (name) WHERE retired_at IS NULL;
CREATE INDEX departments_categories ON departments USING gin (categories) WHERE retired_at IS NULL;

-- Urgings (督办/催办): who urged, whom (the assignee then), until the case moved on (answered_at).
-- `level` counts the escalations so far: 0 is the assignee, 1 the area above the case's grid, ...
CREATE TABLE incident_urgings (
  id           bigserial PRIMARY KEY,
  incident_id  bigint NOT NULL REFERENCES incidents (id),
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor        text NOT NULL,
  note         text NOT NULL DEFAULT '',
  assignee     text,
  status       text NOT NULL,
  answered_at  timestamptz,
  level        integer NOT NULL DEFAULT 0,
  escalations  jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX incident_urgings_incident ON incident_urgings (incident_id, at);
CREATE INDEX incident_urgings_open ON incident_urgings (at) WHERE answered_at IS NULL;

-- Photos before/after handling, kept in the database with the case they document: they commit,
-- back up and restore with it, and every server process reads the same bytes.
CREATE TABLE incident_attachments (
  id            bigserial PRIMARY KEY,
  incident_id   bigint NOT NULL REFERENCES incidents (id),
  kind          text NOT NULL CHECK (kind IN ('before', 'after')),
  content_type  text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
  size_bytes    integer NOT NULL,
  sha256        text NOT NULL,
  data          bytea NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  created_by    text NOT NULL
);
CREATE INDEX incident_attachments_incident ON incident_attachments (incident_id, id);

-- The incident as the API shows it, now with who handles it and its verification.
CREATE OR REPLACE FUNCTION wg_incident_json(i incidents) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'id', i.id, 'location', ST_AsGeoJSON(i.location, 9, 0)::json, 'category', i.category, 'source', i.source,
    'status', i.status, 'description', i.description, 'reporter', i.reporter,
    'grid', i.grid_code, 'microgrid', i.microgrid_code, 'method', i.method, 'distance_m', i.distance_m,
    'hierarchy', i.hierarchy, 'input_crs', i.input_crs, 'input_coordinates', i.input_coordinates,
    'reported_at', wg_time(i.reported_at), 'dispatched_at', wg_time(i.dispatched_at), 'deadline', wg_time(i.deadline),
    'closed_at', wg_time(i.closed_at), 'held_from', i.held_from, 'version', i.version,
    'overdue', (i.deadline IS NOT NULL AND i.status IN ('dispatch', 'handle', 'hold') AND i.deadline < clock_timestamp()),
    'assignee', i.assignee, 'handled_by', i.handled_by, 'rework_count', i.rework_count, 'verified_at', wg_time(i.verified_at))
$$;
