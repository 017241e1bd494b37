"""Grid workers: POST /v1/workers, GET /v1/workers/{id}, PUT/GET /v1/areas/{code}/workers (the set of
workers of a grid), validation, scopes, and what retiring a grid does to its assignments."""
import time
import unittest

from harness import ApiTestCase

VILLAGE = "330521103001"


class Workers(ApiTestCase):
    def create(self, body, token=None):
        return self.s.request("POST", "/v1/workers", body, token=token or self.admin)

    def assign(self, grid, ids, token=None):
        return self.s.request("PUT", f"/v1/areas/{grid}/workers", {"workers": ids}, token=token or self.admin)

    def test_create_and_read(self):
        r = self.create({"name": "王小明", "phone": "13800000001", "area": VILLAGE, "attributes": {"vehicle": "e-bike"}})
        self.assertEqual(r.status, 201, r)
        w = r.json
        self.assertIsInstance(w["id"], int)
        self.assertEqual(r.header("Location"), f"{self.s.base}/v1/workers/{w['id']}")
        self.assertEqual((w["name"], w["phone"], w["area"], w["attributes"], w["grids"]),
                         ("王小明", "13800000001", VILLAGE, {"vehicle": "e-bike"}, []))
        self.assertRegex(w["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        g = self.get(f"/v1/workers/{w['id']}")
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.json, w)
        self.assertEqual(self.s.sql(f"SELECT name, area_code FROM workers WHERE id = {w['id']}"), [["王小明", VILLAGE]])
        # Without a phone.
        r = self.create({"name": "李四", "area": VILLAGE})
        self.assertEqual(r.status, 201, r)
        self.assertIsNone(r.json["phone"])

    def test_a_sample_worker(self):
        row = self.s.sql("SELECT w.id, w.name, w.area_code, a.grid_code FROM workers w JOIN worker_assignments a "
                         "ON a.worker_id = w.id AND a.unassigned_at IS NULL ORDER BY w.id LIMIT 1")[0]
        w = self.get(f"/v1/workers/{row[0]}").json
        self.assertEqual((w["id"], w["name"], w["area"]), (int(row[0]), row[1], row[2]))
        self.assertIn(row[3], w["grids"])

    def test_assign_replaces_the_set(self):
        grid = self.grids_of(VILLAGE)[0]
        before = self.get(f"/v1/areas/{grid}/workers")
        self.assertEqual(before.status, 200, before)
        sample_ids = [w["id"] for w in before.json["workers"]]
        expect = [int(r[0]) for r in self.s.sql(f"SELECT worker_id FROM worker_assignments WHERE grid_code = '{grid}' "
                                                f"AND unassigned_at IS NULL ORDER BY worker_id")]
        self.assertEqual(sample_ids, expect)
        self.assertEqual(before.json["grid"], grid)
        new = self.create({"name": "赵六", "area": VILLAGE}).json["id"]
        # Add one.
        r = self.assign(grid, sample_ids + [new])
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["added"], r.json["removed"]), ([new], []))
        self.assertEqual([w["id"] for w in r.json["workers"]], sorted(sample_ids + [new]))
        self.assertEqual(self.get(f"/v1/workers/{new}").json["grids"], [grid])
        # The same set again changes nothing.
        r = self.assign(grid, sample_ids + [new])
        self.assertEqual((r.json["added"], r.json["removed"]), ([], []))
        # Only the new one: the sample workers leave.
        r = self.assign(grid, [new, new])
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["added"], sorted(r.json["removed"])), ([], sorted(sample_ids)))
        self.assertEqual([w["id"] for w in self.get(f"/v1/areas/{grid}/workers").json["workers"]], [new])
        # The history of assignments is kept.
        rows = self.s.sql(f"SELECT count(*) FROM worker_assignments WHERE grid_code = '{grid}' AND unassigned_at IS NOT NULL")
        self.assertEqual(int(rows[0][0]), len(sample_ids))
        # A worker may patrol two grids.
        second = self.grids_of(VILLAGE)[1]
        r = self.assign(second, [new])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.get(f"/v1/workers/{new}").json["grids"], sorted([grid, second]))
        # Empty the grid.
        r = self.assign(grid, [])
        self.assertEqual((r.json["removed"], r.json["workers"]), ([new], []))
        actions = self.s.sql(f"SELECT count(*) FROM audit_log WHERE action = 'area.workers' AND target = '{grid}'")
        self.assertEqual(actions, [["4"]])

    def test_an_unchanged_set_answers_at_once(self):
        # The console's 分配网格员 may be committed without a change; nothing is written then, so
        # there is no reload of the worker directory to wait for.
        grid = self.grids_of(VILLAGE)[2]
        ids = [w["id"] for w in self.get(f"/v1/areas/{grid}/workers").json["workers"]]
        slowest = 0.0
        for _ in range(3):
            started = time.monotonic()
            r = self.assign(grid, ids)
            slowest = max(slowest, time.monotonic() - started)
            self.assertEqual(r.status, 200, r)
            self.assertEqual((r.json["added"], r.json["removed"]), ([], []))
        self.assertLess(slowest, 1.0, "an unchanged assignment waited for a reload that never comes")
        self.assertNotIn("did not reload", self.s.server_log())

    def test_retiring_a_grid_unassigns_its_workers(self):
        village = "330521103003"
        grid = self.grids_of(village)[0]
        w = self.create({"name": "钱七", "area": village}).json["id"]
        self.assertEqual(self.assign(grid, [w]).status, 200)
        self.retire(grid)
        self.assertEqual(self.get(f"/v1/workers/{w}").json["grids"], [])
        # The grid is gone: its worker list and assignments to it answer 410.
        self.assertProblem(self.get(f"/v1/areas/{grid}/workers"), 410, "area_retired")
        self.assertProblem(self.assign(grid, [w]), 410, "area_retired")
        rows = self.s.sql(f"SELECT count(*) FROM worker_assignments WHERE grid_code = '{grid}' AND unassigned_at IS NULL")
        self.assertEqual(rows, [["0"]])

    def test_concurrent_assignments_of_one_grid(self):
        from test_concurrency import race
        village = "330521103005"
        grid = self.grids_of(village)[0]
        w1 = self.create({"name": "甲", "area": village}).json["id"]
        w2 = self.create({"name": "乙", "area": village}).json["id"]
        for _ in range(3):
            a, b = race(lambda: self.assign(grid, [w1]), lambda: self.assign(grid, [w1]))
            self.assertEqual((a.status, b.status), (200, 200), (a, b))
            self.assertEqual(sorted([a.json["added"], b.json["added"]]), [[], [w1]] if a.json["added"] or b.json["added"]
                             else [[], []])
            open_rows = self.s.sql(f"SELECT worker_id FROM worker_assignments WHERE grid_code = '{grid}' AND unassigned_at IS NULL")
            self.assertEqual(open_rows, [[str(w1)]])
            a, b = race(lambda: self.assign(grid, [w1]), lambda: self.assign(grid, [w2]))
            self.assertEqual((a.status, b.status), (200, 200), (a, b))
            open_rows = self.s.sql(f"SELECT worker_id FROM worker_assignments WHERE grid_code = '{grid}' AND unassigned_at IS NULL")
            self.assertEqual(len(open_rows), 1, open_rows)
            self.assertIn(int(open_rows[0][0]), (w1, w2))
            final = [w["id"] for w in self.get(f"/v1/areas/{grid}/workers").json["workers"]]
            self.assertEqual(final, [int(open_rows[0][0])])

    def test_validation(self):
        grid = self.grids_of(VILLAGE)[-1]
        cases = [({"phone": "1"}, 422, "missing_property"), ({"name": ""}, 422, "missing_property"),
                 ({"name": 5, "area": VILLAGE}, 422, "missing_property"),
                 ({"name": "x", "area": VILLAGE, "age": 30}, 422, "unknown_property"),
                 ({"name": "x", "area": VILLAGE, "phone": 138}, 422, "invalid_property"),
                 ({"name": "x", "area": 330521}, 422, "invalid_property"),
                 ({"name": "x", "area": VILLAGE, "attributes": [1]}, 422, "invalid_property"),
                 ({"name": "x"}, 422, "missing_property"),  # an unscoped token must say where
                 ({"name": "x", "area": "330521999999"}, 422, "unknown_area"),
                 ([1, 2], 400, "invalid_body")]
        for body, status, code in cases:
            with self.subTest(body=body):
                self.assertProblem(self.create(body), status, code)
        self.assertProblem(self.get("/v1/workers/999999"), 404, "worker_not_found")
        for bad in ("abc", "0", "-1", "1.5"):
            self.assertProblem(self.get(f"/v1/workers/{bad}"), 400, "invalid_parameter")
        self.assertProblem(self.assign(VILLAGE, []), 422, "not_a_grid")
        self.assertProblem(self.assign("330521103", []), 422, "not_a_grid")
        self.assertProblem(self.assign(grid, [999999]), 422, "unknown_worker")
        self.assertProblem(self.assign(grid, ["1"]), 422, "invalid_property")
        self.assertProblem(self.assign(grid, [0]), 422, "invalid_property")
        self.assertProblem(self.assign("330521103999001", []), 404, "area_not_found")
        self.assertProblem(self.get("/v1/areas/330521103999001/workers"), 404, "area_not_found")
        for body in ({"worker": [1]}, {"workers": 1}, [1]):
            self.assertProblem(self.s.request("PUT", f"/v1/areas/{grid}/workers", body, token=self.admin), 400, "invalid_body")

    def test_scopes(self):
        scope = "330521103"
        manager = self.s.token("manager", scope, name="mgr")
        viewer = self.s.token("viewer", scope, name="viewer")
        # A scoped token's worker belongs to its scope unless it says otherwise.
        r = self.create({"name": "孙八"}, manager)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["area"], scope)
        inside = r.json["id"]
        self.assertProblem(self.create({"name": "x", "area": "330521104001"}, manager), 403, "outside_scope")
        self.assertProblem(self.create({"name": "x", "area": VILLAGE}, viewer), 403, "role_forbidden")
        self.assertEqual(self.get(f"/v1/workers/{inside}", viewer).status, 200)
        outside = self.create({"name": "周九", "area": "330521104001"}).json["id"]
        self.assertProblem(self.get(f"/v1/workers/{outside}", viewer), 403, "outside_scope")
        self.assertProblem(self.get(f"/v1/workers/{outside}", manager), 403, "outside_scope")
        grid = self.grids_of("330521103004")[0]
        # Managers assign their own workers in their scope, not workers they cannot see.
        self.assertProblem(self.assign(grid, [outside], manager), 403, "outside_scope")
        r = self.assign(grid, [inside], manager)
        self.assertEqual(r.status, 200, r)
        self.assertProblem(self.assign(self.grids_of("330521104001")[0], [inside], manager), 403, "outside_scope")
        self.assertProblem(self.s.request("GET", f"/v1/areas/{self.grids_of('330521104001')[0]}/workers", token=viewer),
                           403, "outside_scope")


if __name__ == "__main__":
    unittest.main()
