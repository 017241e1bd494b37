"""POST /v1/patrol/tour on the sample's generated streets: stops, street geometry, distance and
duration consistent with /v1/route/matrix, the shift cap, other CRSs, vary, checkpoints that
cannot be planned, and bad input as problem documents."""
import unittest

from harness import ApiTestCase


def point(lon, lat):
    return {"type": "Point", "coordinates": [lon, lat]}


class PatrolTour(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Midpoints of two-way streets around the middle of the network, a few blocks apart, and a
        # street crossing near them as the start (EPSG:4490).
        rows = cls.s.sql("""
            WITH c AS (SELECT ST_SetSRID(ST_Centroid(ST_Extent(geom)::geometry), 4490) AS g FROM streets),
                 near AS (SELECT ST_LineInterpolatePoint(s.geom, 0.5) AS p, row_number() OVER (ORDER BY s.geom <-> c.g, s.id) AS k
                          FROM streets s, c WHERE NOT s.oneway ORDER BY s.geom <-> c.g, s.id LIMIT 60)
            SELECT ST_X(p), ST_Y(p) FROM near WHERE k % 10 = 1 ORDER BY k""")
        cls.points = [[float(x), float(y)] for x, y in rows]
        start = cls.s.sql("WITH c AS (SELECT ST_SetSRID(ST_Centroid(ST_Extent(geom)::geometry), 4490) AS g FROM streets) "
                          "SELECT ST_X(ST_StartPoint(s.geom)), ST_Y(ST_StartPoint(s.geom)) FROM streets s, c "
                          "ORDER BY ST_StartPoint(s.geom) <-> c.g LIMIT 1")[0]
        cls.start = [float(start[0]), float(start[1])]

    def checkpoints(self, service=2):
        return [{"id": f"cp{i}", "location": point(*p), "service_minutes": service, "priority": 1}
                for i, p in enumerate(self.points)]

    def tour(self, body, query=""):
        return self.s.request("POST", "/v1/patrol/tour" + query, body, token=self.admin)

    def matrix(self, points, profile="foot"):
        r = self.s.request("POST", "/v1/route/matrix", {"points": points, "profile": profile}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        return r.json

    def test_tour_visits_all_with_street_geometry(self):
        self.assertEqual(len(self.points), 6)
        r = self.tour({"checkpoints": self.checkpoints(), "start": point(*self.start), "profile": "foot"})
        self.assertEqual(r.status, 200, r)
        doc = r.json
        self.assertEqual(doc["crs"], "EPSG:4490")
        self.assertEqual(sorted(s["id"] for s in doc["stops"]), [f"cp{i}" for i in range(6)])
        self.assertEqual([s["sequence"] for s in doc["stops"]], [1, 2, 3, 4, 5, 6])
        self.assertEqual(doc["unvisited"], [])
        self.assertTrue(doc["exact"])  # 6 stops: Held-Karp
        self.assertEqual(doc["gap"], 0)
        self.assertLessEqual(doc["lower_bound"], doc["duration"])
        self.assertGreater(doc["lower_bound"], doc["duration"] - 1)
        geometry = doc["geometry"]
        self.assertEqual(geometry["type"], "LineString")
        self.assertGreater(len(geometry["coordinates"]), 6)
        self.assertAlmostEqual(geometry["coordinates"][0][0], self.start[0], places=6)
        self.assertAlmostEqual(geometry["coordinates"][-1][1], self.start[1], places=6)

        # The same legs through the matrix: durations plus 2 minutes' service per stop, distances.
        order = [int(s["id"][2:]) for s in doc["stops"]]
        pts = [self.start] + self.points
        m = self.matrix(pts)
        legs = [0] + [i + 1 for i in order] + [0]
        travel = sum(m["durations"][a][b] for a, b in zip(legs, legs[1:]))
        metres = sum(m["distances"][a][b] for a, b in zip(legs, legs[1:]))
        self.assertAlmostEqual(doc["duration"], travel + 6 * 120, delta=1.0)
        self.assertAlmostEqual(doc["distance"], metres, delta=0.5)
        first = doc["stops"][0]
        self.assertAlmostEqual(first["arrival"], m["durations"][0][order[0] + 1], delta=0.2)
        self.assertAlmostEqual(first["departure"], first["start"] + 120, delta=0.2)
        for a, b in zip(doc["stops"], doc["stops"][1:]):
            self.assertGreater(b["arrival"], a["departure"])
        # No order is shorter: every permutation of the six through the matrix.
        import itertools
        best = min(sum(m["durations"][a][b] for a, b in zip([0, *p, 0], [*p, 0]))
                   for p in itertools.permutations(range(1, 7)))
        self.assertAlmostEqual(travel, best, delta=1.0)

    def test_other_crs_same_tour(self):
        base = self.tour({"checkpoints": self.checkpoints(), "start": point(*self.start)}).json
        # The same points in Web Mercator, converted by PostGIS.
        values = ", ".join(f"({i}, ST_SetSRID(ST_MakePoint({x!r}, {y!r}), 4490))" for i, (x, y) in enumerate([self.start] + self.points))
        rows = self.s.sql(f"SELECT ST_X(ST_Transform(g, 3857)), ST_Y(ST_Transform(g, 3857)) FROM (VALUES {values}) v(i, g) ORDER BY i")
        merc = [[float(x), float(y)] for x, y in rows]
        cps = [{"id": f"cp{i}", "location": point(*p), "service_minutes": 2} for i, p in enumerate(merc[1:])]
        r = self.tour({"checkpoints": cps, "start": point(*merc[0]), "crs": "EPSG:3857"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([s["id"] for s in r.json["stops"]], [s["id"] for s in base["stops"]])
        self.assertAlmostEqual(r.json["duration"], base["duration"], delta=0.5)

    def test_shift_cap_and_priority(self):
        full = self.tour({"checkpoints": self.checkpoints(), "start": point(*self.start)}).json
        cps = self.checkpoints()
        far = max(range(6), key=lambda i: next(s["arrival"] for s in full["stops"] if s["id"] == f"cp{i}"))
        cps[far]["priority"] = 100
        cap = full["duration"] / 60 * 0.6
        r = self.tour({"checkpoints": cps, "start": point(*self.start), "max_minutes": cap})
        self.assertEqual(r.status, 200, r)
        doc = r.json
        self.assertLessEqual(doc["duration"], cap * 60)
        self.assertGreater(len(doc["stops"]), 0)
        self.assertLess(len(doc["stops"]), 6)
        self.assertIn(f"cp{far}", [s["id"] for s in doc["stops"]])
        self.assertEqual(len(doc["stops"]) + len(doc["unvisited"]), 6)
        self.assertEqual({u["reason"] for u in doc["unvisited"]}, {"shift"})

    def test_end_time_windows_and_unplannable_checkpoints(self):
        cps = self.checkpoints()
        cps.append({"id": "far", "location": point(121.5, 29.0)})  # far from every street
        cps.append({"id": "early", "location": point(*self.points[3]), "time_window": [0, 0.1]})
        end = self.points[5]
        r = self.tour({"checkpoints": cps, "start": point(*self.start), "end": point(*end)})
        self.assertEqual(r.status, 200, r)
        doc = r.json
        self.assertEqual(doc["unvisited"], [{"id": "far", "reason": "too_far_from_street"},
                                            {"id": "early", "reason": "time_window"}])
        self.assertEqual(len(doc["stops"]), 6)
        self.assertAlmostEqual(doc["geometry"]["coordinates"][-1][0], end[0], places=6)

    def test_vary(self):
        body = {"checkpoints": self.checkpoints(), "start": point(*self.start)}
        base = self.tour(body).json
        orders = {tuple(s["id"] for s in base["stops"])}
        for seed in range(1, 6):
            doc = self.tour(body, f"?vary={seed}").json
            self.assertEqual(len(doc["stops"]), 6)
            self.assertLessEqual(doc["duration"], base["duration"] * 1.3)
            self.assertGreaterEqual(doc["duration"], base["duration"] - 0.5)  # base is optimal
            again = self.tour(dict(body, vary=seed)).json
            self.assertEqual([s["id"] for s in again["stops"]], [s["id"] for s in doc["stops"]])
            orders.add(tuple(s["id"] for s in doc["stops"]))
        self.assertGreater(len(orders), 1)

    def test_errors(self):
        start = point(*self.start)
        cps = self.checkpoints()
        self.assertProblem(self.tour({"start": start}), 400, "invalid_parameter")
        self.assertProblem(self.tour({"checkpoints": [], "start": start}), 400, "invalid_parameter")
        self.assertProblem(self.tour({"checkpoints": cps * 51, "start": start}), 400, "invalid_parameter")  # 306
        self.assertProblem(self.tour({"checkpoints": cps}), 400, "invalid_parameter")
        bad = [{"id": "x", "location": "120,30"}]
        doc = self.assertProblem(self.tour({"checkpoints": bad, "start": start}), 400, "invalid_geojson")
        self.assertEqual(doc["index"], 0)
        bad = [{"id": "x", "location": point(500, 30)}]
        self.assertProblem(self.tour({"checkpoints": bad, "start": start}), 400, "invalid_coordinates")
        self.assertProblem(self.tour({"checkpoints": cps, "start": {"type": "LineString"}}), 400, "invalid_geojson")
        self.assertProblem(self.tour({"checkpoints": cps, "start": start, "profile": "plane"}), 400, "unknown_profile")
        self.assertProblem(self.tour({"checkpoints": cps, "start": start, "crs": "EPSG:1"}), 400, "unsupported_crs")
        self.assertProblem(self.tour({"checkpoints": cps, "start": start, "max_minutes": -5}), 400, "invalid_parameter")
        self.assertProblem(self.tour({"checkpoints": cps, "start": start}, "?vary=abc"), 400, "invalid_parameter")
        self.assertProblem(self.tour({"checkpoints": [cps[0], cps[0]], "start": start}), 400, "invalid_parameter")
        bad = [dict(cps[0], time_window=[30, 10])]
        self.assertProblem(self.tour({"checkpoints": bad, "start": start}), 400, "invalid_parameter")
        self.assertProblem(self.tour({"checkpoints": [dict(cps[0], priority="high")], "start": start}), 400, "invalid_parameter")
        self.assertProblem(self.s.request("POST", "/v1/patrol/tour", raw="{", token=self.admin), 400, "malformed_json")
        doc = self.assertProblem(self.tour({"checkpoints": cps, "start": point(121.5, 29.0)}), 422, "no_route")
        self.assertEqual(doc["point"], "start")
        self.assertProblem(self.s.request("POST", "/v1/patrol/tour", {"checkpoints": cps, "start": start}), 401, "unauthorized")
        self.assertProblem(self.s.request("GET", "/v1/patrol/tour", token=self.admin), 405, "method_not_allowed")


if __name__ == "__main__":
    unittest.main()
