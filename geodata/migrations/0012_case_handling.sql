ALTER TABLE incidents ADD COLUMN assignee text, ADD COLUMN rework_count integer NOT NULL DEFAULT 0, ADD COLUMN verified_at timestamptz;
