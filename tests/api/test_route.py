"""GET /v1/route and POST /v1/route/matrix on the sample's streets: shortest distances against
pgRouting's pgr_dijkstra on the same streets (foot), partial edges, profiles, errors, and matrices."""
import unittest

from harness import ApiTestCase


# pgRouting's view of the streets, in a test's own database (rt_nodes, rt_edges): node ids from
# exact endpoint coordinates (their WKB), cost the geodesic length, both ways (the foot profile).
PGR_FOOT_TABLES = """
    CREATE EXTENSION IF NOT EXISTS pgrouting;
    CREATE TABLE rt_nodes AS
      SELECT row_number() OVER (ORDER BY k) AS id, k, g FROM (
        SELECT DISTINCT ON (ST_AsBinary(p)) ST_AsBinary(p) AS k, p AS g
        FROM (SELECT ST_StartPoint(geom) p FROM streets UNION ALL SELECT ST_EndPoint(geom) FROM streets) e
        ORDER BY ST_AsBinary(p)) d;
    CREATE TABLE rt_edges AS
      SELECT s.id, a.id AS source, b.id AS target,
             ST_Length(s.geom::geography) AS cost, ST_Length(s.geom::geography) AS reverse_cost
      FROM streets s JOIN rt_nodes a ON a.k = ST_AsBinary(ST_StartPoint(s.geom))
                     JOIN rt_nodes b ON b.k = ST_AsBinary(ST_EndPoint(s.geom));
"""


class Route(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s.sql(PGR_FOOT_TABLES)

    def node(self, order):
        """A street node at a corner of the network: [id, lon, lat]."""
        row = self.s.sql(f"SELECT id, ST_X(g), ST_Y(g) FROM rt_nodes ORDER BY {order} LIMIT 1")[0]
        return int(row[0]), float(row[1]), float(row[2])

    def pgr_distance(self, a, b):
        rows = self.s.sql(f"SELECT max(agg_cost) FROM pgr_dijkstra("
                          f"'SELECT id, source, target, cost, reverse_cost FROM rt_edges', {a}, {b}, true)")
        return float(rows[0][0])

    def route(self, a, b, profile="foot"):
        return self.get(f"/v1/route?from={a[0]!r},{a[1]!r}&to={b[0]!r},{b[1]!r}&profile={profile}")

    def test_foot_distance_matches_pgr_dijkstra(self):
        pairs = [("ST_X(g) + ST_Y(g)", "ST_X(g) + ST_Y(g) DESC"),   # south-west to north-east
                 ("ST_X(g) - ST_Y(g)", "ST_X(g) - ST_Y(g) DESC"),   # north-west to south-east
                 ("ST_Y(g), id", "abs(ST_X(g) - 119.98) + abs(ST_Y(g) - 30.52)")]
        for first, second in pairs:
            a, b = self.node(first), self.node(second)
            r = self.route(a[1:], b[1:])
            self.assertEqual(r.status, 200, r)
            doc = r.json
            want = self.pgr_distance(a[0], b[0])
            self.assertGreater(want, 1000)
            self.assertLess(abs(doc["distance"] - want) / want, 0.01, (doc["distance"], want))
            self.assertAlmostEqual(doc["duration"], doc["distance"] / (5 / 3.6), delta=0.2)
            self.assertEqual(doc["profile"], "foot")
            self.assertEqual(doc["geometry"]["type"], "LineString")
            coords = doc["geometry"]["coordinates"]
            self.assertAlmostEqual(coords[0][0], a[1], places=8)
            self.assertAlmostEqual(coords[-1][1], b[2], places=8)

    def test_mid_street_points_and_profiles(self):
        # Quarter and three quarters along two streets: the path starts and ends mid-street.
        p = [float(v) for v in self.s.sql(
            "SELECT ST_X(ST_LineInterpolatePoint(geom, 0.25)), ST_Y(ST_LineInterpolatePoint(geom, 0.25)) "
            "FROM streets WHERE NOT oneway ORDER BY id LIMIT 1")[0]]
        q = [float(v) for v in self.s.sql(
            "SELECT ST_X(ST_LineInterpolatePoint(geom, 0.75)), ST_Y(ST_LineInterpolatePoint(geom, 0.75)) "
            "FROM streets WHERE NOT oneway ORDER BY id DESC LIMIT 1")[0]]
        docs = {}
        for profile in ("foot", "ebike", "car"):
            r = self.route(p, q, profile)
            self.assertEqual(r.status, 200, r)
            docs[profile] = r.json
            coords = docs[profile]["geometry"]["coordinates"]
            self.assertAlmostEqual(coords[0][0], p[0], places=7)
            self.assertAlmostEqual(coords[-1][0], q[0], places=7)
        # Foot may use every street both ways, so its path is never longer than the vehicles'.
        self.assertLessEqual(docs["foot"]["distance"], docs["ebike"]["distance"] + 0.01)
        self.assertLess(docs["car"]["duration"], docs["ebike"]["duration"] * 1.5)
        self.assertLess(docs["ebike"]["duration"], docs["foot"]["duration"])

    def test_errors(self):
        a = self.node("ST_X(g) + ST_Y(g)")[1:]
        ok = f"{a[0]!r},{a[1]!r}"
        self.assertProblem(self.get(f"/v1/route?to={ok}"), 400, "invalid_parameter")
        self.assertProblem(self.get(f"/v1/route?from=abc&to={ok}"), 400, "invalid_parameter")
        self.assertProblem(self.get(f"/v1/route?from=1,2,3&to={ok}"), 400, "invalid_parameter")
        self.assertProblem(self.get(f"/v1/route?from={ok}&to={ok}&profile=plane"), 400, "unknown_profile")
        doc = self.assertProblem(self.get(f"/v1/route?from=121.5,29.0&to={ok}"), 422, "no_route")
        self.assertEqual(doc["point"], "from")
        doc = self.assertProblem(self.get(f"/v1/route?from={ok}&to=121.5,29.0"), 422, "no_route")
        self.assertEqual(doc["point"], "to")
        self.assertProblem(self.s.request("GET", f"/v1/route?from={ok}&to={ok}"), 401, "unauthorized")
        self.assertProblem(self.s.request("POST", f"/v1/route?from={ok}&to={ok}", {}, token=self.admin), 405, "method_not_allowed")
        self.assertProblem(self.s.request("POST", "/v1/route/matrix", {"points": [a] * 101}, token=self.admin), 400, "invalid_parameter")
        self.assertProblem(self.s.request("POST", "/v1/route/matrix", {"points": [[1]]}, token=self.admin), 400, "invalid_parameter")
        self.assertProblem(self.s.request("POST", "/v1/route/matrix", {"points": [a], "profile": "x"}, token=self.admin),
                           400, "unknown_profile")

    def test_matrix_symmetric_for_foot(self):
        rows = self.s.sql("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(geom, 0.5) p FROM streets "
                          "ORDER BY id LIMIT 6 OFFSET 0) s UNION ALL SELECT ST_X(g), ST_Y(g) FROM "
                          "(SELECT g FROM rt_nodes ORDER BY ST_X(g) + ST_Y(g) DESC LIMIT 1) n")
        points = [[float(x), float(y)] for x, y in rows] + [[121.5, 29.0]]  # the last one is off the network
        r = self.s.request("POST", "/v1/route/matrix", {"points": points, "profile": "foot"}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        doc = r.json
        n = len(points)
        self.assertEqual(doc["unreachable_points"], [n - 1])
        for i in range(n):
            self.assertEqual(len(doc["distances"][i]), n)
            for j in range(n):
                d, t = doc["distances"][i][j], doc["durations"][i][j]
                if n - 1 in (i, j):
                    self.assertIsNone(d)
                    self.assertIsNone(t)
                    continue
                self.assertAlmostEqual(d, doc["distances"][j][i], delta=0.02)
                self.assertAlmostEqual(t, doc["durations"][j][i], delta=0.2)
                if i == j:
                    self.assertEqual(d, 0)
        # A matrix entry is the same as the single route.
        one = self.route(points[0], points[6]).json
        self.assertAlmostEqual(doc["distances"][0][6], one["distance"], delta=0.01)


if __name__ == "__main__":
    unittest.main()
