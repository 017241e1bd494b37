-- A grid worker's account names the worker record it belongs to: the phone view then opens on that
-- worker's grids without asking who is holding the phone, and the account may record visits and
-- positions only as that worker. One account per worker.
ALTER TABLE users ADD COLUMN worker_id bigint REFERENCES workers (id);
CREATE UNIQUE INDEX users_worker ON users (worker_id) WHERE worker_id IS NOT NULL;
