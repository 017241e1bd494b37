"""POST /v1/patrol/coverage: on the sample (every street of a grid traversed, the walk continuous,
closed and starting at the vertex nearest the chosen start; car covers both kerbs of two-way
streets), and on small one-way graphs against pgRouting's pgr_chinesePostmanCost."""
import json
import math
import unittest
import uuid

from harness import ApiTestCase, Server, psql

GRID = "330521104002001"


def street_ends(s, ids):
    """{id: ((lon, lat) first, (lon, lat) last, oneway, metres)} of the streets, as stored."""
    rows = s.sql("SELECT id, ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)), ST_X(ST_EndPoint(geom)), "
                 "ST_Y(ST_EndPoint(geom)), oneway, ST_Length(geom::geography) FROM streets "
                 f"WHERE id IN ({','.join(str(i) for i in ids)})")
    return {int(r[0]): ((float(r[1]), float(r[2])), (float(r[3]), float(r[4])), r[5] == "t", float(r[6])) for r in rows}


def metres(a, b):
    """Approximate metres between two nearby lon/lat points (spherical enough for ranking)."""
    k = math.cos(math.radians((a[1] + b[1]) / 2))
    return math.hypot((a[0] - b[0]) * k * 111320, (a[1] - b[1]) * 110574)


def close(a, b):
    return abs(a[0] - b[0]) < 1e-8 and abs(a[1] - b[1]) < 1e-8


class Coverage(ApiTestCase):
    def required_ids(self, code):
        return [int(r[0]) for r in self.s.sql(
            "SELECT s.id FROM streets s JOIN areas a ON a.code = '%s' AND a.valid_to IS NULL "
            "WHERE ST_Intersects(s.geom, a.geom) ORDER BY s.id" % code)]

    def check_walk(self, doc, required, start, both_kerbs_for_two_way, obey_oneway=None):
        if obey_oneway is None:
            obey_oneway = both_kerbs_for_two_way
        trav = doc["traversals"]
        self.assertGreater(len(trav), 0)
        ends = street_ends(self.s, {t["street"] for t in trav})
        # Continuous and closed, starting at doc["start"].
        here = tuple(doc["start"]["coordinates"])
        for t in trav:
            a, b, oneway, _ = ends[t["street"]]
            frm, to = (a, b) if t["direction"] == "forward" else (b, a)
            self.assertTrue(close(frm, here), f"walk jumps before street {t['street']}")
            if oneway and obey_oneway:
                self.assertEqual(t["direction"], "forward", "a vehicle against a one-way street")
            here = to
        self.assertTrue(close(here, tuple(doc["start"]["coordinates"])), "walk does not return to its start")
        coords = doc["geometry"]["coordinates"]
        self.assertTrue(close(coords[0], doc["start"]["coordinates"]))
        self.assertTrue(close(coords[-1], doc["start"]["coordinates"]))
        # Every required street served exactly once (car: once per direction on two-way streets).
        served = {}
        for t in trav:
            if t["service"]:
                served.setdefault(t["street"], []).append(t["direction"])
        for sid in required:
            _, _, oneway, _ = ends[sid]
            want = 1 if (oneway or not both_kerbs_for_two_way) else 2
            self.assertEqual(len(served.get(sid, [])), want, f"street {sid}")
            self.assertEqual(len(set(served.get(sid, []))), want, f"street {sid}")
        self.assertEqual(set(served), set(required))
        # Lengths add up.
        self.assertAlmostEqual(doc["distance"], sum(t["distance"] for t in trav), delta=0.05 * len(trav))
        req_len = sum(ends[s][3] * (1 if ends[s][2] or not both_kerbs_for_two_way else 2) for s in required)
        self.assertLess(abs(doc["required_length"] - req_len) / req_len, 1e-4)
        self.assertAlmostEqual(doc["deadhead_length"], doc["distance"] - doc["required_length"], delta=0.05)
        # The start is the walk's vertex nearest the point asked for.
        if start:
            d0 = metres(doc["start"]["coordinates"], start)
            self.assertAlmostEqual(doc["start_offset"], d0, delta=0.01 * d0 + 0.5)
            for a, b, _, _ in ends.values():
                self.assertLessEqual(d0, metres(a, start) * 1.01 + 0.5)
                self.assertLessEqual(d0, metres(b, start) * 1.01 + 0.5)

    def test_foot_covers_every_street_of_the_grid(self):
        required = self.required_ids(GRID)
        self.assertGreater(len(required), 3)
        start = [float(v) for v in self.s.sql(
            f"SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) c FROM areas WHERE code = '{GRID}' AND valid_to IS NULL) x")[0]]
        r = self.s.request("POST", "/v1/patrol/coverage",
                           {"area": GRID, "profile": "foot", "start": {"type": "Point", "coordinates": start}}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        doc = r.json
        self.assertEqual(doc["mode"], "undirected")
        self.assertEqual(doc["crs"], "EPSG:4490")
        self.assertEqual(doc["problem"], "rural_postman")
        proved = "matching" not in doc or doc["matching"]["duration"] <= doc["matching"]["lower_bound"] + 0.05
        self.assertEqual(doc["exact"], doc["components"] == 1 and proved)
        self.check_walk(doc, required, start, False)
        self.assertAlmostEqual(doc["duration"], doc["distance"] / (5 / 3.6), delta=0.1 * len(doc["traversals"]))

    def test_car_covers_both_kerbs_and_keeps_one_ways(self):
        ids = [int(r[0]) for r in self.s.sql(
            "SELECT s.id FROM streets s JOIN areas a ON a.code = '%s' AND a.valid_to IS NULL "
            "WHERE ST_Intersects(s.geom, a.geom) AND s.highway NOT IN ('footway','pedestrian','path','steps','cycleway') "
            "ORDER BY s.id" % GRID)]
        r = self.s.request("POST", "/v1/patrol/coverage", {"area": GRID, "profile": "car"}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        doc = r.json
        self.assertEqual(doc["mode"], "directed")
        self.assertEqual(doc["method"], "min_cost_flow")
        self.check_walk(doc, ids, None, True)

    def test_ebike_is_mixed_and_keeps_one_ways(self):
        ids = [int(r[0]) for r in self.s.sql(
            "SELECT s.id FROM streets s JOIN areas a ON a.code = '%s' AND a.valid_to IS NULL "
            "WHERE ST_Intersects(s.geom, a.geom) AND s.highway NOT IN "
            "('motorway','motorway_link','trunk','trunk_link','steps','footway','pedestrian') ORDER BY s.id" % GRID)]
        self.assertTrue(self.s.sql("SELECT bool_or(oneway) FROM streets")[0][0] == "t")
        r = self.s.request("POST", "/v1/patrol/coverage", {"area": GRID, "profile": "ebike"}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["mode"], "mixed")
        self.check_walk(r.json, ids, None, False, obey_oneway=True)

    def test_explicit_edges_and_deadhead_on_required_only(self):
        required = self.required_ids(GRID)[:4]
        r = self.s.request("POST", "/v1/patrol/coverage", {"edges": required, "profile": "foot"}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.check_walk(r.json, required, None, False)
        # The whole grid's streets with deadheads restricted to them: a classical Chinese postman
        # (when they are connected) that can never be shorter than the rural one.
        everything = self.required_ids(GRID)
        rural = self.s.request("POST", "/v1/patrol/coverage", {"area": GRID}, token=self.admin).json
        r = self.s.request("POST", "/v1/patrol/coverage", {"area": GRID, "deadhead": "required"}, token=self.admin)
        if r.status == 200:
            self.assertEqual(r.json["problem"], "chinese_postman")
            self.check_walk(r.json, everything, None, False)
            self.assertGreaterEqual(r.json["distance"], rural["distance"] - 0.05)
        else:
            self.assertProblem(r, 422, "no_route")

    def test_errors(self):
        def post(body):
            return self.s.request("POST", "/v1/patrol/coverage", body, token=self.admin)
        self.assertProblem(post({"area": GRID, "edges": [1]}), 422, "missing_property")
        self.assertProblem(post({}), 422, "missing_property")
        self.assertProblem(post({"area": "330521999999999"}), 422, "unknown_area")
        self.assertProblem(post({"edges": [10 ** 12]}), 422, "unknown_street")
        self.assertProblem(post({"edges": ["a"]}), 422, "invalid_property")
        self.assertProblem(post({"area": GRID, "profile": "plane"}), 400, "unknown_profile")
        self.assertProblem(post({"area": GRID, "start": {"type": "Point"}}), 422, "invalid_location")
        self.assertProblem(post({"area": GRID, "deadhead": "air"}), 422, "invalid_property")
        self.assertProblem(post({"area": GRID, "colour": "red"}), 422, "unknown_property")
        self.assertProblem(self.s.request("GET", "/v1/patrol/coverage", token=self.admin), 405, "method_not_allowed")
        self.assertProblem(self.s.request("POST", "/v1/patrol/coverage", {"area": GRID}), 401, "unauthorized")


# Small strongly connected one-way graphs, each far from the others: (name, nodes, arcs). The
# solver's own unit test covers many more against brute force.
GRAPHS = [
    ("triangle with chord", [(0, 0), (3, 0), (1, 2), (4, 3)],
     [(0, 1), (1, 2), (2, 0), (1, 3), (3, 2)]),
    ("two cycles sharing a node", [(0, 0), (2, 0), (2, 2), (0, 2), (4, 1), (4, 3)],
     [(0, 1), (1, 2), (2, 3), (3, 0), (2, 4), (4, 5), (5, 2), (1, 4)]),
    ("ladder", [(0, 0), (2, 0), (4, 0), (0, 2), (2, 2), (4, 2)],
     [(0, 1), (1, 2), (2, 5), (5, 4), (4, 3), (3, 0), (1, 4), (2, 4), (3, 1), (5, 1)]),
    ("wheel", [(1, 1), (0, 0), (2, 0), (2, 2), (0, 2)],
     [(1, 2), (2, 3), (3, 4), (4, 1), (0, 1), (3, 0), (0, 4), (2, 0)]),
    ("pgRouting documentation-like", [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1), (1, 2)],
     [(0, 1), (1, 2), (2, 5), (5, 4), (4, 3), (3, 0), (1, 4), (4, 6), (6, 5), (5, 1), (4, 0)]),
]


class PostmanAgainstPgRouting(unittest.TestCase):
    """The streets table replaced by the graphs above (one-way residential streets, so car speed is
    the same everywhere and time is proportional to length); one server routes them all."""

    @classmethod
    def setUpClass(cls):
        import os
        admin = os.environ["WANGGE_TEST_ADMIN_URL"]
        cls.db = "wangge_t_" + uuid.uuid4().hex[:12]
        psql(admin, f'CREATE DATABASE "{cls.db}" TEMPLATE "{os.environ["WANGGE_TEST_TEMPLATE"]}"')
        cls.addClassCleanup(lambda: psql(admin, f'DROP DATABASE IF EXISTS "{cls.db}" WITH (FORCE)'))
        from harness import db_url
        url = db_url(admin, cls.db)
        rows = ["DELETE FROM streets;", "CREATE EXTENSION IF NOT EXISTS pgrouting;",
                "CREATE TABLE pp_edges (graph int, id bigint, source int, target int, cost float8, reverse_cost float8);"]
        cls.ids = {}
        sid = 0
        for g, (_, nodes, arcs) in enumerate(GRAPHS):
            # ~100 m units near Deqing, each graph 0.05 degrees east of the previous one; nodes
            # jittered so no two lengths coincide.
            def at(i):
                x, y = nodes[i]
                return (119.9 + 0.05 * g + 0.001 * x + 0.00007 * i, 30.5 + 0.001 * y + 0.00003 * i * i)
            cls.ids[g] = []
            for a, b in arcs:
                sid += 1
                (x1, y1), (x2, y2) = at(a), at(b)
                rows.append(f"INSERT INTO streets (id, highway, oneway, geom) VALUES ({sid}, 'residential', true, "
                            f"ST_SetSRID(ST_MakeLine(ST_MakePoint({x1!r}, {y1!r}), ST_MakePoint({x2!r}, {y2!r})), 4490));")
                rows.append(f"INSERT INTO pp_edges SELECT {g}, {sid}, {a + 1}, {b + 1}, ST_Length(geom::geography), -1 "
                            f"FROM streets WHERE id = {sid};")
                cls.ids[g].append(sid)
        psql(url, "\n".join(rows))
        cls.s = Server(database=cls.db)
        cls.addClassCleanup(cls.s.stop)
        cls.admin = cls.s.admin_token

    def test_cost_equals_pgr_chinese_postman(self):
        compared, pgr_empty = [], []
        for g, (name, _, _) in enumerate(GRAPHS):
            with self.subTest(graph=name):
                # Deadheads on the graph's own streets only, as pgRouting does.
                r = self.s.request("POST", "/v1/patrol/coverage", {"edges": self.ids[g], "profile": "car", "deadhead": "required"},
                                   token=self.admin)
                self.assertEqual(r.status, 200, r)
                doc = r.json
                self.assertEqual(doc["problem"], "chinese_postman")
                self.assertTrue(doc["exact"])
                self.assertEqual(doc["method"], "min_cost_flow")
                self.assertGreater(doc["deadhead_length"], 0)  # none of these graphs is balanced already
                served = sorted(t["street"] for t in doc["traversals"] if t["service"])
                self.assertEqual(served, sorted(self.ids[g]))
                self.assertTrue(all(t["direction"] == "forward" for t in doc["traversals"]))
                rows = self.s.sql("SELECT pgr_chinesePostmanCost("
                                  f"'SELECT id, source, target, cost, reverse_cost FROM pp_edges WHERE graph = {g}')")
                if not rows:
                    # pgRouting 3.4 answers nothing for some strongly connected graphs (here the
                    # ladder and the wheel, depending on the costs); those are checked for shape only.
                    pgr_empty.append(name)
                    continue
                want = float(rows[0][0])
                self.assertLess(abs(doc["distance"] - want) / want, 1e-4, (doc["distance"], want))
                compared.append(name)
        self.assertGreaterEqual(len(compared), 3, f"pgRouting answered only for {compared}; empty for {pgr_empty}")

if __name__ == "__main__":
    unittest.main()
