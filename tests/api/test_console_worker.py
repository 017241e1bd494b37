"""The console's grid-worker view (网格员) on a phone, walked in Debian's Chromium with the browser's
geolocation granted and set (tests/browser/console_worker_check.mjs): today's due checkpoints, the
tour on the map in the API's order with its arrival times, a visit recorded, a case reported at
the worker's position; each result checked here through the API."""
import json
import os
import subprocess
import unittest

from harness import ApiTestCase
from test_console import PASSWORD, artefact_dir, npm_dir


def point(xy):
    return {"type": "Point", "coordinates": xy}


class WorkerPhone(ApiTestCase):
    def setUp(self):
        if not os.path.exists(os.path.join(npm_dir(), "node_modules", "playwright-core")):
            self.fail("playwright-core is not installed (tools/test installs it into build/npm)")

    def tour(self, here, due):
        return self.s.request("POST", "/v1/patrol/tour", {
            "crs": "EPSG:4326", "profile": "foot", "start": point(here),
            "checkpoints": [{"id": c["id"], "location": c["location"], "service_minutes": 5} for c in due]}, token=self.admin)

    def scene(self):
        """A grid with a worker and at least two checkpoints due today that a tour from a point in
        the grid reaches: the grid, the worker, the point and the due checkpoints."""
        rows = self.s.sql("SELECT c.grid_code, min(a.worker_id) FROM checkpoints c JOIN worker_assignments a "
                          "ON a.grid_code = c.grid_code AND a.unassigned_at IS NULL GROUP BY c.grid_code "
                          "HAVING count(DISTINCT c.id) >= 2 ORDER BY c.grid_code LIMIT 20")
        for grid, worker in rows:
            due = [c for c in self.get(f"/v1/patrol/due?grid={grid}").json["checkpoints"] if not c["done"]]
            if len(due) < 2:
                continue
            # Where the worker stands: on a street of the grid (a phone's fix is where a person walks).
            found = self.s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_ClosestPoint(s.geom, ST_PointOnSurface(g.geom)) p "
                               f"FROM streets s, (SELECT geom FROM areas WHERE code = '{grid}' AND valid_to IS NULL) g "
                               f"WHERE ST_Intersects(s.geom, g.geom) ORDER BY s.geom <-> ST_PointOnSurface(g.geom) LIMIT 1) x")
            if not found:
                continue
            here = [round(float(found[0][0]), 7), round(float(found[0][1]), 7)]
            inside = self.s.sql(f"SELECT ST_Covers(geom, ST_SetSRID(ST_MakePoint({here[0]}, {here[1]}), 4490)) "
                                f"FROM areas WHERE code = '{grid}' AND valid_to IS NULL")[0][0]
            if inside == "t" and self.tour(here, due).status == 200:
                return grid, int(worker), here, due
        self.fail("no sample grid has a worker and two due checkpoints reachable on its streets")

    def test_a_worker_sees_the_due_checkpoints_and_the_tour_records_a_visit_and_reports_a_case(self):
        grid, worker, here, due = self.scene()
        # The worker's own account, linked to the worker record: the view opens on that worker.
        done = subprocess.run([self.s.bin, "user", "create", "--login", "wujiu", "--name", "吴九", "--role", "worker",
                               "--scope", grid, "--worker", str(worker), "--password-stdin"], env=self.s.env, input=PASSWORD + "\n",
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        out = self.browse({"login": "wujiu", "password": PASSWORD, "worker": worker, "linked": True, "here": here,
                           "category": "市容环境", "description": "路边垃圾桶满溢"})

        # Nothing to choose: the linked worker, by name; the due list is the API's. The phone
        # offers the worker's own screen only.
        self.assertEqual(out["tabs"], ["worker"])
        self.assertTrue(out["chooser_hidden"])
        self.assertEqual(out["opened_worker"], worker)
        self.assertIn(self.get(f"/v1/workers/{worker}").json["name"], out["who"])
        # Their grid by the name they know it by.
        self.assertIn(self.area(grid)[0]["properties"]["name"], out["who"])
        self.assertEqual(sorted(out["due"]), sorted(c["id"] for c in due))
        self.assertIn(f"今日待巡查 {len(due)} 处", out["due_head"])

        # The tour: the API's order and arrival times from the same start, numbered on the map.
        plan = self.tour(here, due).json
        self.assertEqual([s["id"] for s in out["stops"]], [s["id"] for s in plan["stops"]])
        self.assertEqual([s["arrival"] for s in out["stops"]], [s["arrival"] for s in plan["stops"]])
        self.assertEqual(sorted(out["markers"]), list(range(1, len(plan["stops"]) + 1)))
        self.assertTrue(all("预计" in s["text"] and "到达" in s["text"] for s in out["stops"]), out["stops"])

        # The visit: recorded for the worker by the person, and the checkpoint no longer due today.
        visits = self.get(f"/v1/checkpoints/{out['visited']}/visits").json["visits"]
        self.assertEqual(len(visits), 1, visits)
        self.assertEqual(visits[0]["worker"], worker)
        self.assertEqual(visits[0]["recorded_by"], "wujiu (吴九)")
        after = {c["id"]: c for c in self.get(f"/v1/patrol/due?grid={grid}").json["checkpoints"]}
        self.assertTrue(after[out["visited"]]["done"], after)

        # The case: where the phone said, in the worker's grid, reported by the worker.
        case = self.get(f"/v1/incidents/{out['case']}").json
        self.assertEqual(case["grid"], grid)
        self.assertAlmostEqual(case["location"]["coordinates"][0], here[0], places=7)
        self.assertAlmostEqual(case["location"]["coordinates"][1], here[1], places=7)
        self.assertEqual(case["input_crs"], "EPSG:4326")
        self.assertEqual((case["source"], case["reporter"], case["description"]), ("worker", f"worker:{worker}", "路边垃圾桶满溢"))
        self.assertIn(f"#{out['case']}", out["report_text"])
        # The worker's position went to the server with each fix.
        x, y = self.s.sql(f"SELECT ST_X(location), ST_Y(location) FROM worker_positions WHERE worker_id = {worker} "
                          "ORDER BY at DESC LIMIT 1")[0]
        self.assertAlmostEqual(float(x), here[0], places=7)
        self.assertAlmostEqual(float(y), here[1], places=7)

    def browse(self, plan):
        shots = ["console-worker-signin.png", "console-worker-due.png", "console-worker-tour.png", "console-worker-visited.png",
                 "console-worker-report.png"]
        r = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "..", "browser", "console_worker_check.mjs"), self.s.base,
                            json.dumps(plan), artefact_dir()],
                           env=dict(os.environ, WANGGE_NPM_DIR=npm_dir()), capture_output=True, text=True, timeout=280)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for shot in shots:
            self.assertGreater(os.path.getsize(os.path.join(artefact_dir(), shot)), 5000, shot)
        return json.loads(r.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    unittest.main()
