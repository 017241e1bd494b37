-- Workers as assigned at a past moment, by grid (the locator's at= answers): the index of current
-- assignments (worker_assignments_current) leaves the closed ones to a scan of the whole table.
CREATE INDEX worker_assignments_grid_time ON worker_assignments (grid_code, assigned_at);
