"""Two server processes on one database (and changes made straight in SQL): what one writes, the
other serves shortly after, even though current areas are answered from memory."""
import json
import time
import unittest

from harness import ApiTestCase, Server


def poll(fetch, done, seconds=5.0):
    deadline = time.time() + seconds
    while True:
        r = fetch()
        if done(r) or time.time() > deadline:
            return r
        time.sleep(0.1)


class TwoServers(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.b = Server(database=cls.s.db)
        cls.addClassCleanup(cls.b.stop)

    def get_b(self, path):
        return self.b.request("GET", path, token=self.admin)

    def test_own_writes_are_read_at_once(self):
        grid = self.grids_of("330521104004")[0]
        _, etag = self.area(grid)
        r = self.patch(grid, {"properties": {"name": "立即可见"}}, etag)
        self.assertEqual(r.status, 200, r)
        f, etag2 = self.area(grid)
        self.assertEqual((f["properties"]["name"], etag2), ("立即可见", r.header("ETag")))

    def test_patch_on_one_is_served_by_the_other(self):
        grid = self.grids_of("330521104005")[0]
        before = self.get_b("/v1/areas/" + grid)
        self.assertEqual(before.status, 200, before)
        _, etag = self.area(grid)
        r = self.patch(grid, {"properties": {"name": "另一进程"}}, etag)
        self.assertEqual(r.status, 200, r)
        after = poll(lambda: self.get_b("/v1/areas/" + grid), lambda x: x.json["properties"]["name"] == "另一进程")
        self.assertEqual(after.json["properties"]["name"], "另一进程", "server B still serves the old version")
        self.assertEqual(after.header("ETag"), r.header("ETag"))
        self.assertEqual(after.json, self.area(grid)[0])
        # B's writes check against the database, not its memory: A's ETag is the current one there too.
        r2 = self.b.request("PATCH", "/v1/areas/" + grid, {"properties": {"name": "乙写"}}, token=self.admin,
                            headers={"If-Match": etag})
        self.assertProblem(r2, 412, "precondition_failed")
        r2 = self.b.request("PATCH", "/v1/areas/" + grid, {"properties": {"name": "乙写"}}, token=self.admin,
                            headers={"If-Match": r.header("ETag")})
        self.assertEqual(r2.status, 200, r2)
        back = poll(lambda: self.get("/v1/areas/" + grid), lambda x: x.json["properties"]["name"] == "乙写")
        self.assertEqual(back.json["properties"]["name"], "乙写")

    def test_retire_and_create_on_one_are_seen_by_the_other(self):
        village = "330521104006"
        grid = self.grids_of(village)[0]
        self.assertEqual(self.get_b("/v1/areas/" + grid).status, 200)
        geometry = self.retire(grid)
        gone = poll(lambda: self.get_b("/v1/areas/" + grid), lambda x: x.status == 410)
        self.assertProblem(gone, 410, "area_retired")
        r = self.post_area(self.feature(village + "901", "新建", "grid", village, geometry))
        self.assertEqual(r.status, 201, r)
        new = poll(lambda: self.get_b(f"/v1/areas/{village}901"), lambda x: x.status == 200)
        self.assertEqual(new.status, 200, new)
        self.assertEqual(new.json["properties"]["name"], "新建")
        children = [f["properties"]["code"] for f in self.get_b(f"/v1/areas/{village}/children").json["features"]]
        self.assertIn(village + "901", children)
        self.assertNotIn(grid, children)

    def test_a_change_made_in_sql_reaches_both(self):
        grid = self.grids_of("330521104007")[0]
        self.assertEqual(self.get("/v1/areas/" + grid).status, 200)
        self.assertEqual(self.get_b("/v1/areas/" + grid).status, 200)
        self.s.sql(f"UPDATE areas SET name = '直接改' WHERE code = '{grid}' AND valid_to IS NULL")
        for server in (self.s, self.b):
            r = poll(lambda: server.request("GET", "/v1/areas/" + grid, token=self.admin),
                     lambda x: x.json["properties"]["name"] == "直接改")
            self.assertEqual(r.json["properties"]["name"], "直接改", f"server on port {server.port} serves a stale name")

    def test_scope_is_checked_on_cached_reads(self):
        viewer = self.s.token("viewer", "330521110", name="scoped")
        grid = self.grids_of("330521104008")[0]
        self.assertEqual(self.get("/v1/areas/" + grid).status, 200)  # warm
        for server in (self.s, self.b):
            self.assertProblem(server.request("GET", "/v1/areas/" + grid, token=viewer), 403, "outside_scope")


if __name__ == "__main__":
    unittest.main()
