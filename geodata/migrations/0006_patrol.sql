-- 0006: patrols (issue 6): checkpoints as a managed resource with service time, priority, time
-- window and visit frequency; their visits; workers' reported positions for dispatch.
-- Coordinates are CGCS2000 geographic, EPSG:4490, lon/lat.

ALTER TABLE checkpoints DROP CONSTRAINT IF EXISTS checkpoints_frequency_check;
ALTER TABLE checkpoints
  ALTER COLUMN kind SET DEFAULT 'other',
  ADD COLUMN every_days integer CHECK (every_days BETWEEN 1 AND 366),
  ADD COLUMN service_minutes integer NOT NULL DEFAULT 10 CHECK (service_minutes BETWEEN 0 AND 1440),
  ADD COLUMN priority integer NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
  ADD COLUMN window_start time,
  ADD COLUMN window_end time,
  ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
  ADD COLUMN version integer NOT NULL DEFAULT 1,
  ADD COLUMN created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  ADD COLUMN updated_at timestamptz;
ALTER TABLE checkpoints
  ADD CONSTRAINT checkpoints_frequency_check CHECK (
    (frequency IN ('daily', 'weekly', 'monthly') AND every_days IS NULL) OR
    (frequency = 'every_n_days' AND every_days IS NOT NULL)),
  ADD CONSTRAINT checkpoints_window_check CHECK ((window_start IS NULL) = (window_end IS NULL));

-- Visits keep their history; deleting a checkpoint deletes its visits (the audit log keeps the deletion).
CREATE TABLE checkpoint_visits (
  id             bigserial PRIMARY KEY,
  checkpoint_id  bigint NOT NULL REFERENCES checkpoints (id) ON DELETE CASCADE,
  visited_at     timestamptz NOT NULL,
  worker_id      bigint REFERENCES workers (id),
  note           text NOT NULL DEFAULT '',
  recorded_by    text NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX checkpoint_visits_checkpoint ON checkpoint_visits (checkpoint_id, visited_at DESC);

-- Every reported position is kept; the latest of a worker is one index probe.
CREATE TABLE worker_positions (
  id           bigserial PRIMARY KEY,
  worker_id    bigint NOT NULL REFERENCES workers (id),
  location     geometry(Point, 4490) NOT NULL,
  at           timestamptz NOT NULL,
  input_crs    text NOT NULL DEFAULT 'EPSG:4490',
  recorded_by  text NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX worker_positions_latest ON worker_positions (worker_id, at DESC, id DESC);

-- One definition of a checkpoint as the API shows it (location in EPSG:4490).
CREATE FUNCTION wg_checkpoint_json(c checkpoints) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'id', c.id, 'grid', c.grid_code, 'name', c.name, 'kind', c.kind,
    'location', ST_AsGeoJSON(c.location, 9, 0)::json,
    'frequency', c.frequency, 'every_days', c.every_days,
    'service_minutes', c.service_minutes, 'priority', c.priority,
    'time_window', CASE WHEN c.window_start IS NULL THEN NULL
                        ELSE json_build_object('start', to_char(c.window_start, 'HH24:MI'), 'end', to_char(c.window_end, 'HH24:MI')) END,
    'attributes', c.attributes,
    'created_at', wg_time(c.created_at), 'updated_at', wg_time(c.updated_at),
    'last_visit', (SELECT wg_time(max(v.visited_at)) FROM checkpoint_visits v WHERE v.checkpoint_id = c.id),
    'version', c.version,
    'etag', '"cp-' || c.id || '-v' || c.version || '"')
$$;

-- One definition of a visit as the API shows it; `date` is its Asia/Shanghai calendar day.
CREATE FUNCTION wg_visit_json(v checkpoint_visits) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'id', v.id, 'checkpoint', v.checkpoint_id, 'visited_at', wg_time(v.visited_at),
    'date', to_char(v.visited_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD'),
    'worker', v.worker_id, 'note', v.note, 'recorded_by', v.recorded_by)
$$;
