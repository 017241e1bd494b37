"""Workers' positions and GET /v1/dispatch/nearest-workers: the ranking by network time checked
against pgRouting's pgr_dijkstra (foot) and the Router's own GET /v1/route (foot and car, whose
one-way streets make the graph asymmetric); stale and missing positions listed with a reason."""
import datetime
import unittest

from harness import ApiTestCase
from test_route import PGR_FOOT_TABLES

GRID = "330521104002001"
VILLAGE = "330521104002"


class Dispatch(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s.sql(PGR_FOOT_TABLES)
        centre = f"(SELECT ST_Centroid(geom) FROM areas WHERE code = '{GRID}' AND valid_to IS NULL)"
        # Street nodes by straight-line distance from the grid's centre: the incident at the
        # nearest, workers further out.
        rows = cls.s.sql(f"SELECT id, ST_X(g), ST_Y(g) FROM rt_nodes ORDER BY g <-> {centre}, id LIMIT 80")
        cls.nodes = [(int(r[0]), float(r[1]), float(r[2])) for r in rows]
        cls.incident = cls.nodes[0]
        cls.workers = []
        for name in ("近", "中", "远", "旧", "无"):
            r = cls.s.request("POST", "/v1/workers", {"name": "网格员" + name, "area": VILLAGE}, token=cls.admin)
            assert r.status == 201, r
            cls.workers.append(r.json["id"])
        current = cls.s.request("GET", f"/v1/areas/{GRID}/workers", token=cls.admin).json["workers"]
        r = cls.s.request("PUT", f"/v1/areas/{GRID}/workers", {"workers": [w["id"] for w in current] + cls.workers},
                          token=cls.admin)
        assert r.status == 200, r
        near, middle, far, old = cls.nodes[6], cls.nodes[30], cls.nodes[79], cls.nodes[10]
        two_hours_ago = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)).isoformat()
        cls.at = {}

        def report(i, body):
            r = cls.s.request("POST", f"/v1/workers/{cls.workers[i]}/position", body, token=cls.admin)
            assert r.status == 201, r
            return r.json

        # An earlier position far away for the first worker: only the latest one counts.
        report(0, {"location": {"type": "Point", "coordinates": [far[1], far[2]]}, "at": two_hours_ago})
        report(0, {"location": {"type": "Point", "coordinates": [near[1], near[2]]}})
        report(1, {"lon": middle[1], "lat": middle[2]})
        report(2, {"location": {"type": "Point", "coordinates": [far[1], far[2]]}})
        report(3, {"location": {"type": "Point", "coordinates": [old[1], old[2]]}, "at": two_hours_ago})
        cls.at = {cls.workers[0]: near, cls.workers[1]: middle, cls.workers[2]: far, cls.workers[3]: old}

    def nearest(self, profile="foot", **extra):
        q = f"/v1/dispatch/nearest-workers?lon={self.incident[1]!r}&lat={self.incident[2]!r}&profile={profile}&area={GRID}"
        for k, v in extra.items():
            q += f"&{k}={v}"
        r = self.get(q)
        self.assertEqual(r.status, 200, r)
        return r.json

    def route_duration(self, a, b, profile):
        r = self.get(f"/v1/route?from={a[1]!r},{a[2]!r}&to={b[1]!r},{b[2]!r}&profile={profile}")
        self.assertEqual(r.status, 200, r)
        return r.json["duration"], r.json["distance"]

    def test_foot_ranking_matches_pgr_dijkstra_and_router(self):
        doc = self.nearest()
        mine = [w for w in doc["workers"] if w["id"] in self.workers]
        self.assertEqual({w["id"] for w in mine}, set(self.workers[:3]))
        durations = [w["duration"] for w in doc["workers"]]
        self.assertEqual(durations, sorted(durations))
        for w in mine:
            node = self.at[w["id"]]
            pgr = float(self.s.sql(f"SELECT coalesce(max(agg_cost), 0) FROM pgr_dijkstra("
                                   f"'SELECT id, source, target, cost, reverse_cost FROM rt_edges', {node[0]}, {self.incident[0]}, true)")[0][0])
            self.assertAlmostEqual(w["distance"], pgr, delta=max(0.5, pgr * 0.005), msg=w)
            duration, distance = self.route_duration(node, self.incident, "foot")
            self.assertAlmostEqual(w["duration"], duration, delta=0.15)
            self.assertAlmostEqual(w["distance"], distance, delta=0.05)
            self.assertEqual(w["grids"], [GRID])
            self.assertIsNotNone(w["position_at"])
        # The first worker's latest position is the near one, not the earlier far one.
        self.assertEqual(mine[0]["id"], self.workers[0])
        self.assertAlmostEqual(mine[0]["position"]["coordinates"][0], self.at[self.workers[0]][1], places=8)
        reasons = {w["id"]: w["reason"] for w in doc["without_position"]}
        self.assertEqual(reasons[self.workers[3]], "position_too_old")
        self.assertEqual(reasons[self.workers[4]], "no_position")
        self.assertEqual(doc["without_position_count"], len(doc["without_position"]))

    def test_car_ranking_follows_one_ways(self):
        doc = self.nearest("car", max_age=86400)
        mine = [w for w in doc["workers"] if w["id"] in self.workers]
        self.assertEqual({w["id"] for w in mine}, set(self.workers[:4]))  # the old position is recent enough now
        for w in mine:
            duration, distance = self.route_duration(self.at[w["id"]], self.incident, "car")
            self.assertAlmostEqual(w["duration"], duration, delta=0.15, msg=w)
            self.assertAlmostEqual(w["distance"], distance, delta=0.05, msg=w)
        self.assertEqual([w["duration"] for w in doc["workers"]], sorted(w["duration"] for w in doc["workers"]))
        self.assertEqual(len(self.nearest("car", max_age=86400, k=1)["workers"]), 1)

    def test_history_is_kept(self):
        rows = self.s.sql(f"SELECT count(*) FROM worker_positions WHERE worker_id = {self.workers[0]}")
        self.assertEqual(rows, [["2"]])

    def test_grid_offers_only_workers_the_dispatch_accepts(self):
        # A worker of the neighbouring grid stands right by the incident: nearest by far, but a case
        # in GRID cannot be dispatched to them. grid= ranks only those it can.
        other_grid = next(g for g in self.grids_of(VILLAGE) if g != GRID)
        r = self.s.request("POST", "/v1/workers", {"name": "邻格网格员", "area": other_grid}, token=self.admin)
        self.assertEqual(r.status, 201, r)
        neighbour = r.json["id"]
        here = self.nodes[1]
        self.assertEqual(self.s.request("POST", f"/v1/workers/{neighbour}/position", {"lon": here[1], "lat": here[2]},
                                        token=self.admin).status, 201)
        q = f"/v1/dispatch/nearest-workers?lon={self.incident[1]!r}&lat={self.incident[2]!r}&profile=foot&area={VILLAGE}"
        everyone = self.get(q)
        self.assertEqual(everyone.status, 200, everyone)
        self.assertIn(neighbour, [w["id"] for w in everyone.json["workers"]])
        ranked = self.get(q + f"&grid={GRID}")
        self.assertEqual(ranked.status, 200, ranked)
        ids = [w["id"] for w in ranked.json["workers"]]
        self.assertTrue(ids, ranked.json)
        self.assertNotIn(neighbour, ids + [w["id"] for w in ranked.json["without_position"]])
        self.assertIn(self.workers[0], ids)
        # What the list offers, the dispatch accepts; what it leaves out, the dispatch refuses.
        case = self.s.request("POST", "/v1/incidents", {"location": {"type": "Point", "coordinates": [self.incident[1], self.incident[2]]},
                                                         "category": "市容环境", "source": "hotline"}, token=self.admin)
        self.assertEqual(case.status, 201, case)
        self.assertEqual(case.json["grid"], GRID, case)
        path = f"/v1/incidents/{case.json['id']}"
        self.assertEqual(self.s.request("PATCH", path, {"action": "register"}, token=self.admin).status, 200)
        self.assertProblem(self.s.request("PATCH", path, {"action": "dispatch", "assignee": f"worker:{neighbour}"}, token=self.admin),
                           422, "assignee_out_of_scope")
        r = self.s.request("PATCH", path, {"action": "dispatch", "assignee": f"worker:{ids[0]}"}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertProblem(self.get("/v1/dispatch/nearest-workers?lon=119.9&lat=30.5&grid=abc"), 400, "invalid_parameter")

    def test_errors(self):
        self.assertProblem(self.get("/v1/dispatch/nearest-workers?lat=30.5"), 400, "invalid_parameter")
        self.assertProblem(self.get("/v1/dispatch/nearest-workers?lon=abc&lat=30.5"), 400, "invalid_parameter")
        self.assertProblem(self.get(f"/v1/dispatch/nearest-workers?lon=119.9&lat=30.5&profile=boat"), 400, "unknown_profile")
        self.assertProblem(self.get("/v1/dispatch/nearest-workers?lon=100&lat=30&profile=foot"), 422, "no_route")
        self.assertProblem(self.get(f"/v1/dispatch/nearest-workers?lon=119.9&lat=30.5&k=0"), 400, "invalid_parameter")
        self.assertProblem(self.get(f"/v1/dispatch/nearest-workers?lon=119.9&lat=30.5&crs=EPSG:1"), 400, "unsupported_crs")
        pos = {"lon": self.incident[1], "lat": self.incident[2]}
        self.assertProblem(self.s.request("POST", "/v1/workers/999999999/position", pos, token=self.admin), 404, "worker_not_found")
        r = self.s.request("POST", "/v1/workers", {"name": "网格员测", "area": VILLAGE}, token=self.admin)
        self.assertEqual(r.status, 201, r)
        path = f"/v1/workers/{r.json['id']}/position"
        self.assertProblem(self.s.request("POST", path, pos, token=self.s.token("viewer")), 403, "role_forbidden")
        self.assertProblem(self.s.request("POST", path, {"location": {"type": "Polygon"}}, token=self.admin), 422, "invalid_location")
        self.assertProblem(self.s.request("POST", path, dict(pos, at="2999-01-01T00:00:00Z"), token=self.admin), 422, "invalid_property")
        self.assertProblem(self.s.request("POST", path, dict(pos, speed=3), token=self.admin), 422, "unknown_property")
        self.assertProblem(self.s.request("GET", path, token=self.admin), 405, "method_not_allowed")
        self.assertProblem(self.s.request("POST", path, pos), 401, "unauthorized")
        # A grid worker's token in scope may report.
        self.assertEqual(self.s.request("POST", path, pos, token=self.s.token("worker", scope=VILLAGE)).status, 201)
        self.assertProblem(self.s.request("POST", path, pos, token=self.s.token("worker", scope="330521101")), 403, "outside_scope")


if __name__ == "__main__":
    unittest.main()
