"""The point layers of the tiles follow the database in every server process: an incident or a
checkpoint written through the API or by hand (SQL) shows in the incidents/checkpoints layers, and
leaves them, within a second (migration 0009's NOTIFY wangge_tiles)."""
import tempfile
import time
import unittest

from harness import ApiTestCase, Server
from test_tiles import CENTER, decode, fetch, tile_of


class TileFeeds(ApiTestCase):
    def layer(self, server, name, z, x, y):
        status, _, body = fetch(server, f"/tiles/{name}/{z}/{x}/{y}.mvt", self.admin)
        self.assertIn(status, (200, 204))
        return decode(body, z, x, y, self.tmp).get(name, []) if status == 200 else []

    def wait_for(self, server, name, tile, predicate, seconds):
        """Polls the layer of one tile until `predicate(features)` holds; returns the time it took,
        measured to the moment the answering request was sent. Decoding a tile (ogrinfo, a
        process) can itself take a second on a loaded machine: a request sent within `seconds`
        must see the change, however long its answer takes to read."""
        started = time.time()
        while True:
            sent = time.time()
            features = self.layer(server, name, *tile)
            if predicate(features):
                return sent - started
            if sent - started > seconds:
                self.fail(f"{name} {tile} did not follow within {seconds} s: {features}")
            time.sleep(0.05)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="wangge-feeds-")

    def test_incidents_and_checkpoints_reach_every_process(self):
        lon, lat = CENTER[0] + 0.0003, CENTER[1] - 0.0002
        z15 = tile_of(lon, lat, 15)
        z12 = tile_of(lon, lat, 12)
        other = Server(database=self.s.db)  # a second process on the same database
        try:
            def ids(features):
                return {f["properties"].get("id") for f in features}

            def total(features):
                return sum(f["properties"].get("count", 0) for f in features)

            clustered_before = total(self.layer(other, "incidents", *z12))
            grid = self.s.sql(f"SELECT code FROM areas WHERE level = 'grid' AND valid_to IS NULL AND "
                              f"ST_Covers(geom, ST_SetSRID(ST_MakePoint({lon}, {lat}), 4490))")[0][0]
            village = grid[:12]

            def prop(features, code, name):
                return [f["properties"][name] for f in features if f["properties"].get("code") == code][0]

            cases_before = prop(self.layer(other, "grid", *z15), grid, "open_incidents")
            village_cases_before = prop(self.layer(other, "village", *z15), village, "open_incidents")
            r = self.s.request("POST", "/v1/incidents", {
                "location": {"type": "Point", "coordinates": [lon, lat]}, "category": "市容环境", "source": "app",
                "description": "暴露垃圾", "reporter": "12345"}, token=self.admin)
            self.assertEqual(r.status, 201, r)
            incident = r.json["id"]
            took = self.wait_for(self.s, "incidents", z15, lambda f: incident in ids(f), 1.0)
            self.wait_for(other, "incidents", z15, lambda f: incident in ids(f), 1.0)
            # The open-case counts of the grid and of the areas above it follow (in the other process too).
            self.wait_for(other, "grid", z15, lambda f: prop(f, grid, "open_incidents") == cases_before + 1, 1.0)
            self.wait_for(other, "village", z15, lambda f: prop(f, village, "open_incidents") == village_cases_before + 1, 1.0)
            # Below z15 the new case is counted in a cluster.
            self.wait_for(other, "incidents", z12, lambda f: total(f) == clustered_before + 1, 1.0)
            # Cancelled by hand in the database: it leaves the map of both processes.
            self.s.sql(f"UPDATE incidents SET status = 'cancelled' WHERE id = {incident}")
            self.wait_for(self.s, "incidents", z15, lambda f: incident not in ids(f), 1.0)
            self.wait_for(other, "incidents", z15, lambda f: incident not in ids(f), 1.0)
            self.wait_for(other, "grid", z15, lambda f: prop(f, grid, "open_incidents") == cases_before, 1.0)

            # A worker assigned to the grid (by hand): its worker count follows.
            workers_before = prop(self.layer(other, "grid", *z15), grid, "workers")
            worker = int(self.s.sql(f"INSERT INTO workers (name, area_code, created_by) VALUES ('孙八', '{village}', 'test') RETURNING id")[0][0])
            self.s.sql(f"INSERT INTO worker_assignments (worker_id, grid_code, assigned_at, assigned_by) VALUES ({worker}, '{grid}', now(), 'test')")
            self.wait_for(other, "grid", z15, lambda f: prop(f, grid, "workers") == workers_before + 1, 1.0)
            checkpoint = int(self.s.sql(
                f"INSERT INTO checkpoints (grid_code, name, kind, location, frequency) VALUES "
                f"('{grid}', '新巡查点', 'other', ST_SetSRID(ST_MakePoint({lon}, {lat}), 4490), 'daily') RETURNING id")[0][0])
            self.wait_for(self.s, "checkpoints", z15, lambda f: checkpoint in ids(f), 1.0)
            self.wait_for(other, "checkpoints", z15, lambda f: checkpoint in ids(f), 1.0)
            self.s.sql(f"DELETE FROM checkpoints WHERE id = {checkpoint}")
            self.wait_for(other, "checkpoints", z15, lambda f: checkpoint not in ids(f), 1.0)
            print(f"\n[ tile feeds ] a new incident reached the writer's tiles in {took:.3f} s")
        finally:
            other.stop()


if __name__ == "__main__":
    unittest.main()
