"""`wangge sample --outline FILE --live` on the real Deqing outline (DataV, GCJ-02), loaded into a
database of its own (the tests' template keeps the generated rectangle).

The outline is converted here with tests/api/mars.py, independently of the server's C++, and the
registry's result is checked against it in plain PostGIS: the townships' union equals it, every level
partitions its parent (the registry's coverage report and a direct ST_Union/ST_Intersection check
agree), nothing lies outside it, no grid is below the registry's minimum size, and every point (cases,
checkpoints, worker positions) lies inside. The live part: recent positions that the dispatcher's
nearest-worker search uses, and cases in every state, some overdue.

The outline file is read from the real-data folder (WANGGE_GEODATA_SRC, default as README's "Real
data" section says); without it the test is skipped with a message, under CI=true it fails."""
import os
import re
import subprocess
import unittest
import uuid

import mars
from harness import Server, _need, db_url, psql

HERE = os.path.dirname(os.path.abspath(__file__))
GEODATA_SRC = os.environ.get("WANGGE_GEODATA_SRC") or os.path.join(HERE, "..", "..", "..", "shared", "geodata-src")
OUTLINE = os.path.normpath(os.path.join(GEODATA_SRC, "admin", "datav", "county", "330521.json"))
STATES = ["collect", "register", "dispatch", "handle", "hold", "feedback", "verified", "closed", "cancelled"]


def outline_wkt():
    """The outline converted GCJ-02 → WGS84 (taken as CGCS2000: the frames differ by centimetres)."""
    import json
    with open(OUTLINE, encoding="utf-8") as f:
        geometry = json.load(f)["features"][0]["geometry"]
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    parts = []
    for polygon in polygons:
        rings = []
        for ring in polygon:
            rings.append("(" + ",".join("%.10f %.10f" % mars.from_gcj02(lon, lat) for lon, lat in ring) + ")")
        parts.append("(" + ",".join(rings) + ")")
    return "MULTIPOLYGON(" + ",".join(parts) + ")"


class SampleOutline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(OUTLINE):
            if os.environ.get("CI") == "true":
                raise AssertionError(f"{OUTLINE} is missing (CI=true: the real-outline test must run)")
            raise unittest.SkipTest(f"{OUTLINE} is missing: the real-outline sample test is skipped")
        admin = _need("WANGGE_TEST_ADMIN_URL")
        cls.db = "wangge_t_" + uuid.uuid4().hex[:12]
        psql(admin, f'CREATE DATABASE "{cls.db}"')
        cls.addClassCleanup(lambda: psql(admin, f'DROP DATABASE IF EXISTS "{cls.db}" WITH (FORCE)'))
        env = dict(os.environ, WANGGE_DATABASE_URL=db_url(admin, cls.db))
        run = subprocess.run([_need("WANGGE_BIN"), "sample", "--outline", OUTLINE, "--live"], env=env,
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise AssertionError("wangge sample --outline failed: " + run.stderr)
        cls.output = run.stdout
        print("\n  " + run.stdout.strip().replace("\n", "\n  "))
        cls.s = Server(database=cls.db)
        cls.addClassCleanup(cls.s.stop)
        cls.admin = cls.s.admin_token
        cls.s.sql("CREATE TABLE test_outline AS SELECT ST_SetSRID(ST_GeomFromText('%s'), 4490) AS g" % outline_wkt())

    def one(self, query):
        return self.s.sql(query)[0][0]

    def test_output_names_the_outline(self):
        m = re.search(r"clipped to the outline (\S+) .*: (\d+) areas generated, (\d+) kept, (\d+) grids cut", self.output)
        self.assertIsNotNone(m, self.output)
        self.assertEqual(m.group(1), OUTLINE)
        generated, kept = int(m.group(2)), int(m.group(3))
        self.assertEqual(kept, int(self.one("SELECT count(*) FROM areas WHERE valid_to IS NULL")))
        self.assertLessEqual(kept, generated)
        cut = int(m.group(4))
        self.assertGreater(cut, 0)  # the border runs through grids: they are clipped, not kept whole
        print(f"\n  areas generated {generated}, kept after clipping {kept}, fell outside {generated - kept}, grids cut by the border {cut}")
        print("  per level: " + ", ".join(f"{level} {n}" for level, n in self.s.sql(
            "SELECT level, count(*) FROM areas WHERE valid_to IS NULL GROUP BY level ORDER BY min(length(code))")))

    def test_townships_union_equals_the_outline(self):
        outline_m2, union_m2, symdiff_m2, county_m2 = (float(v) for v in self.s.sql(
            "WITH u AS (SELECT ST_Union(geom) g FROM areas WHERE level = 'township' AND valid_to IS NULL) "
            "SELECT ST_Area(o.g::geography), ST_Area(u.g::geography), ST_Area(ST_SymDifference(o.g, u.g)::geography), "
            "  (SELECT ST_Area(geom::geography) FROM areas WHERE code = '330521' AND valid_to IS NULL) "
            "FROM test_outline o, u")[0])
        print(f"\n  outline {outline_m2 / 1e6:.3f} km², townships' union {union_m2 / 1e6:.3f} km², county {county_m2 / 1e6:.3f} km², "
              f"symmetric difference {symdiff_m2:.1f} m² ({symdiff_m2 / outline_m2 * 100:.5f} %)")
        # The server's inverse (1e-7°) and this one (1e-9°) differ by centimetres along ~250 km of border.
        self.assertLess(symdiff_m2, 20_000)
        self.assertLess(abs(union_m2 - outline_m2) / outline_m2, 1e-4)
        self.assertLess(abs(county_m2 - union_m2), 1.0)
        # The real county: about 936 km².
        self.assertTrue(900e6 < outline_m2 < 980e6, outline_m2)
        self.assertEqual(self.s.sql("SELECT code, name FROM areas WHERE level = 'township' AND valid_to IS NULL ORDER BY code"), [
            ["330521001", "武康街道"], ["330521002", "舞阳街道"], ["330521003", "阜溪街道"], ["330521004", "下渚湖街道"],
            ["330521005", "康乾街道"], ["330521101", "乾元镇"], ["330521102", "新市镇"], ["330521103", "洛舍镇"],
            ["330521104", "钟管镇"], ["330521110", "雷甸镇"], ["330521113", "禹越镇"], ["330521114", "新安镇"],
            ["330521115", "莫干山镇"]])

    def test_every_level_partitions_its_parent(self):
        parents = [r[0] for r in self.s.sql(
            "SELECT code FROM areas a WHERE valid_to IS NULL AND EXISTS "
            "(SELECT 1 FROM areas c WHERE c.parent_code = a.code AND c.valid_to IS NULL) ORDER BY code")]
        self.assertGreater(len(parents), 50)
        for code in parents:
            cov = self.s.request("GET", f"/v1/areas/{code}/coverage", token=self.admin).json
            self.assertTrue(cov["partition"], cov)
            self.assertGreater(cov["share_covered"], 0.99999, cov)
        # Plain PostGIS, without the registry's tolerance: gaps, overlaps and overhangs per parent.
        worst = self.s.sql(
            "WITH p AS (SELECT code, geom FROM areas a WHERE valid_to IS NULL AND EXISTS "
            "  (SELECT 1 FROM areas c WHERE c.parent_code = a.code AND c.valid_to IS NULL)), "
            "u AS (SELECT p.code, ST_Union(c.geom) g FROM p JOIN areas c ON c.parent_code = p.code AND c.valid_to IS NULL GROUP BY p.code), "
            "o AS (SELECT a.parent_code code, sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)) m2 FROM areas a JOIN areas b "
            "  ON a.parent_code = b.parent_code AND a.code < b.code AND a.geom && b.geom "
            "  WHERE a.valid_to IS NULL AND b.valid_to IS NULL AND ST_Relate(a.geom, b.geom, '2********') GROUP BY 1) "
            "SELECT coalesce(max(ST_Area(ST_Difference(p.geom, u.g)::geography)), 0), "
            "  coalesce(max(ST_Area(ST_Difference(u.g, p.geom)::geography)), 0), coalesce((SELECT max(m2) FROM o), 0) "
            "FROM p JOIN u USING (code)")[0]
        gap, overhang, overlap = (float(v) for v in worst)
        print(f"\n  PostGIS: largest gap {gap:.6f} m², overhang {overhang:.6f} m², overlap {overlap:.6f} m² (per parent)")
        for v in (gap, overhang, overlap):
            self.assertLess(v, 0.01)
        self.assertEqual(self.one("SELECT count(*) FROM areas WHERE valid_to IS NULL AND NOT ST_IsValid(geom)"), "0")

    def test_nothing_outside_the_outline_and_nothing_too_small(self):
        # The two GCJ-02 inverses disagree by up to a centimetre or so: 10 cm of slack along the border.
        outside = self.s.sql(
            "WITH b AS (SELECT ST_SetSRID(ST_Buffer(g::geography, 0.1)::geometry, 4490) g FROM test_outline) "
            "SELECT a.code, ST_Area(ST_Difference(a.geom, b.g)::geography) FROM areas a, b "
            "WHERE a.valid_to IS NULL AND NOT ST_CoveredBy(a.geom, b.g)")
        self.assertEqual(outside, [])
        largest = float(self.one("SELECT max(ST_Area(ST_Difference(a.geom, o.g)::geography)) FROM areas a, test_outline o "
                                 "WHERE a.valid_to IS NULL AND a.level = 'grid'"))
        print(f"\n  largest part of a grid beyond the independently converted outline: {largest:.3f} m²")
        # The registry's own rule (defaults: 25 m², mean width 2·area/perimeter of 1 m), in its metric frame.
        small = self.s.sql(
            "SELECT code, ST_Area(wg_to_metric(geom)), 2 * ST_Area(wg_to_metric(geom)) / ST_Perimeter(wg_to_metric(geom)) "
            "FROM areas WHERE valid_to IS NULL AND level IN ('grid', 'microgrid') "
            "AND (ST_Area(wg_to_metric(geom)) < 25 OR 2 * ST_Area(wg_to_metric(geom)) / ST_Perimeter(wg_to_metric(geom)) < 1)")
        self.assertEqual(small, [])
        smallest = self.s.sql("SELECT min(ST_Area(geom::geography)), max(ST_NumGeometries(geom)) FROM areas "
                              "WHERE level = 'grid' AND valid_to IS NULL")[0]
        print(f"\n  smallest grid {float(smallest[0]) / 1e4:.1f} ha; most parts of a grid: {smallest[1]}")
        self.assertEqual(smallest[1], "1")
        # Households and population still add up level by level.
        self.assertEqual(self.s.sql(
            "SELECT p.code FROM areas p JOIN areas c ON c.parent_code = p.code AND c.valid_to IS NULL WHERE p.valid_to IS NULL "
            "GROUP BY p.code, p.households, p.population HAVING sum(c.households) <> p.households OR sum(c.population) <> p.population"),
            [])
        # Streets reach into the county; none lies wholly outside it.
        self.assertEqual(self.one("SELECT count(*) FROM streets s, test_outline o WHERE NOT ST_Intersects(s.geom, o.g)"), "0")

    def test_points_lie_inside(self):
        for table, column in (("incidents", "location"), ("checkpoints", "location"), ("worker_positions", "location")):
            total, inside, in_grid = (int(v) for v in self.s.sql(
                f"SELECT count(*), count(*) FILTER (WHERE ST_Covers(o.g, t.{column})), "
                f"  count(*) FILTER (WHERE EXISTS (SELECT 1 FROM areas a WHERE a.level = 'grid' AND a.valid_to IS NULL "
                f"    AND ST_Covers(a.geom, t.{column}))) FROM {table} t, test_outline o")[0])
            print(f"\n  {table}: {total}, inside the outline {inside}, inside a grid {in_grid}", end="")
            self.assertGreater(total, 0)
            self.assertEqual(inside, total, table)
            self.assertEqual(in_grid, total, table)
        # Every case got a grid from the locator.
        self.assertEqual(self.one("SELECT count(*) FROM incidents WHERE grid_code IS NULL"), "0")

    def test_live_workers_and_cases(self):
        fresh = int(self.one("SELECT count(DISTINCT worker_id) FROM worker_positions WHERE at > now() - interval '1 hour'"))
        total = int(self.one("SELECT count(*) FROM workers"))
        self.assertGreater(fresh, total // 5)
        self.assertEqual(self.one("SELECT count(*) FROM worker_positions WHERE at > now()"), "0")
        counts = {}
        for state in STATES:
            r = self.s.request("GET", f"/v1/incidents?status={state}&limit=1", token=self.admin)
            self.assertEqual(r.status, 200, r)
            counts[state] = r.json["numberMatched"]
            self.assertGreater(counts[state], 0, state)
        r = self.s.request("GET", "/v1/incidents?overdue=true&limit=100", token=self.admin)
        self.assertEqual(r.status, 200, r)
        overdue = r.json["incidents"]
        self.assertTrue(overdue and all(c["overdue"] for c in overdue), r)
        within = self.s.request("GET", "/v1/incidents?status=dispatch&limit=100", token=self.admin).json["incidents"]
        self.assertTrue(any(c["deadline"] and not c["overdue"] for c in within), "no dispatched case within its limit")
        print(f"\n  cases by state {counts}; overdue {r.json['numberMatched']}; workers {total}, with a position "
              f"under an hour old {fresh}")
        # The dispatcher's view: an overdue case has live workers near it.
        case = overdue[0]
        lon, lat = case["location"]["coordinates"]
        near = self.s.request("GET", f"/v1/dispatch/nearest-workers?lon={lon}&lat={lat}&k=5&profile=ebike", token=self.admin)
        self.assertEqual(near.status, 200, near)
        self.assertGreater(len(near.json["workers"]), 0, near.json)
        for w in near.json["workers"]:
            self.assertIsNotNone(w["position_at"])

    def test_cases_have_their_event_logs(self):
        """Every case shows how it got where it is: its event log runs from collect to its state,
        in time order, never in the future; the months before the live part are finished (closed
        with times, or cancelled), so the board holds only the live cases."""
        self.assertEqual(self.one("SELECT count(*) FROM incidents i WHERE NOT EXISTS "
                                  "(SELECT 1 FROM incident_events e WHERE e.incident_id = i.id)"), "0")
        self.assertEqual(self.one("SELECT count(*) FROM incidents i WHERE status <> (SELECT e.to_status FROM "
                                  "incident_events e WHERE e.incident_id = i.id ORDER BY e.at DESC, e.id DESC LIMIT 1)"), "0")
        self.assertEqual(self.one("SELECT count(*) FROM incident_events WHERE at > now()"), "0")
        self.assertEqual(self.one("SELECT count(*) FROM (SELECT at < lag(at) OVER (PARTITION BY incident_id ORDER BY id) AS back "
                                  "FROM incident_events) t WHERE back"), "0")
        self.assertEqual(self.one("SELECT count(*) FROM incidents WHERE reported_at < '2026-11-01' "
                                  "AND status NOT IN ('closed', 'cancelled')"), "0")
        self.assertEqual(self.one("SELECT count(*) FROM incidents WHERE status = 'closed' AND (dispatched_at IS NULL "
                                  "OR deadline IS NULL OR verified_at IS NULL OR NOT (reported_at < dispatched_at "
                                  "AND dispatched_at < verified_at AND verified_at <= closed_at))"), "0")
        late = int(self.one("SELECT count(*) FROM incidents WHERE status = 'closed' AND closed_at > deadline"))
        closed = int(self.one("SELECT count(*) FROM incidents WHERE status = 'closed'"))
        self.assertTrue(0 < late < closed // 2, (late, closed))
        # As the console reads it: a closed case's timeline, step by step, the dispatch naming the worker.
        case_id = self.one("SELECT id FROM incidents WHERE status = 'closed' ORDER BY id LIMIT 1")
        r = self.s.request("GET", f"/v1/incidents/{case_id}", token=self.admin)
        self.assertEqual(r.status, 200, r)
        steps = [e["action"] for e in r.json["events"]]
        self.assertEqual(steps, ["collect", "register", "dispatch", "handle", "feedback", "verify", "close"], r.json["events"])
        # Where it is, as a case reported through the API says it: county down to its grid.
        chain = r.json["hierarchy"]
        self.assertEqual([a["level"] for a in chain], ["county", "township", "village", "grid"], chain)
        self.assertEqual(chain[-1]["code"], r.json["grid"])
        self.assertTrue(all(a["name"] for a in chain), chain)
        self.assertEqual(self.one("SELECT count(*) FROM incidents WHERE hierarchy = '[]'::jsonb"), "0")
        dispatch = r.json["events"][2]
        self.assertEqual(dispatch["detail"]["assignee"], r.json["assignee"])
        self.assertTrue(dispatch["detail"]["assignee_name"])
        print(f"\n  closed cases {closed}, of them late {late}; events "
              f"{self.one('SELECT count(*) FROM incident_events')}")


if __name__ == "__main__":
    unittest.main()
