-- 0004: incidents (cases) with their location answer, lifecycle, time limits and event log.
ALTER TABLE incidents
  ADD COLUMN microgrid_code text,
  ADD COLUMN method text,
  ADD COLUMN distance_m double precision,
  ADD COLUMN hierarchy jsonb NOT NULL DEFAULT '[]'::jsonb,
  ADD COLUMN input_crs text NOT NULL DEFAULT 'EPSG:4490',
  ADD COLUMN input_coordinates jsonb,
  ADD COLUMN created_by text NOT NULL DEFAULT 'sample',
  ADD COLUMN dispatched_at timestamptz,
  ADD COLUMN deadline timestamptz,
  ADD COLUMN closed_at timestamptz,
  ADD COLUMN held_from text,
  ADD COLUMN version integer NOT NULL DEFAULT 1;
CREATE INDEX incidents_open ON incidents (status, deadline) WHERE status NOT IN ('closed', 'cancelled');

-- Every step of a case: who, when, from which state to which, and why.
CREATE TABLE incident_events (
  id           bigserial PRIMARY KEY,
  incident_id  bigint NOT NULL REFERENCES incidents (id),
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor        text NOT NULL,
  action       text NOT NULL,
  from_status  text,
  to_status    text,
  detail       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, at);

CREATE FUNCTION wg_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- One definition of an incident as the API shows it (location in EPSG:4490).
CREATE FUNCTION wg_incident_json(i incidents) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'id', i.id, 'location', ST_AsGeoJSON(i.location, 9, 0)::json, 'category', i.category, 'source', i.source,
    'status', i.status, 'description', i.description, 'reporter', i.reporter,
    'grid', i.grid_code, 'microgrid', i.microgrid_code, 'method', i.method, 'distance_m', i.distance_m,
    'hierarchy', i.hierarchy, 'input_crs', i.input_crs, 'input_coordinates', i.input_coordinates,
    'reported_at', wg_time(i.reported_at), 'dispatched_at', wg_time(i.dispatched_at), 'deadline', wg_time(i.deadline),
    'closed_at', wg_time(i.closed_at), 'held_from', i.held_from, 'version', i.version,
    'overdue', (i.deadline IS NOT NULL AND i.status IN ('dispatch', 'handle', 'hold') AND i.deadline < clock_timestamp()))
$$;
