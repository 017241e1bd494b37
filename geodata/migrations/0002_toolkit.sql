-- 0002: the grid managers' toolkit (issue 3): redraw with neighbours, split, merge, re-parent,
-- redistrict. Each committed operation is one row in area_operations; lineage links the versions it
-- retired to the versions it created; reassignments keep who moved (incidents, checkpoints,
-- workers) so a changed grid_code can always be explained.

-- New versions written by the toolkit say which operation made them.
ALTER TABLE areas DROP CONSTRAINT IF EXISTS areas_change_check;
ALTER TABLE areas ADD CONSTRAINT areas_change_check
  CHECK (change IN ('create','update','replace','import','sample',
                    'redraw','adjust','split','merge','reparent','redistrict'));

CREATE TABLE area_operations (
  id        bigserial PRIMARY KEY,
  kind      text NOT NULL CHECK (kind IN ('redraw','split','merge','reparent','redistrict')),
  at        timestamptz NOT NULL,
  actor     text NOT NULL,
  target    text NOT NULL,              -- the area named in the request (the parent for redistrict)
  detail    jsonb NOT NULL DEFAULT '{}'::jsonb  -- the impact report as answered
);
CREATE INDEX area_operations_target ON area_operations (target, at);

-- predecessor (code, version) → successor (code, version). `share` is the part of the predecessor's
-- area that went to the successor (1 for merge and re-parent).
CREATE TABLE area_lineage (
  id                  bigserial PRIMARY KEY,
  operation_id        bigint NOT NULL REFERENCES area_operations (id),
  kind                text NOT NULL,
  at                  timestamptz NOT NULL,
  predecessor         text NOT NULL,
  predecessor_version integer NOT NULL,
  successor           text NOT NULL,
  successor_version   integer NOT NULL,
  share               double precision NOT NULL
);
CREATE INDEX area_lineage_predecessor ON area_lineage (predecessor);
CREATE INDEX area_lineage_successor ON area_lineage (successor);

CREATE TABLE grid_reassignments (
  id            bigserial PRIMARY KEY,
  operation_id  bigint NOT NULL REFERENCES area_operations (id),
  object_type   text NOT NULL CHECK (object_type IN ('incident','checkpoint','worker')),
  object_id     bigint NOT NULL,
  from_grid     text NOT NULL,
  to_grid       text                     -- NULL: left without a grid (a worker whose grid had no successor)
);
CREATE INDEX grid_reassignments_object ON grid_reassignments (object_type, object_id);
CREATE INDEX grid_reassignments_operation ON grid_reassignments (operation_id);

