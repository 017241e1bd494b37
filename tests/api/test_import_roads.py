"""`wangge import-roads` and a running server that routes on the new roads without a restart.

The hand-written tests/route/data/grid.osm always runs (see its header for the map). The real files
in ../shared/geodata-src/osm (Monaco, Shanghai Huangpu) are skipped with a message when missing and
fail under CI=true. Shortest paths are checked against pgRouting's pgr_dijkstra on the same rows:
costs in seconds with the documented speeds, directed by the per-profile flags."""
import math
import os
import random
import subprocess
import time
import unittest
import urllib.request

from harness import ApiTestCase

HERE = os.path.dirname(os.path.abspath(__file__))
GRID = os.path.normpath(os.path.join(HERE, "../route/data/grid.osm"))
OSM = os.path.normpath(os.path.join(HERE, "../../../shared/geodata-src/osm"))
MONACO = os.path.join(OSM, "monaco.osm.pbf")
MONACO_GZ = os.path.join(OSM, "monaco.osm.gz")  # GraphHopper's older, smaller extract, gzipped XML
SHANGHAI = os.path.join(OSM, "shanghai_huangpu_osmnx.osm")

# The documented speeds (README, "Road network"), km/h.
CAR_SPEED_SQL = """CASE WHEN highway IN ('motorway','motorway_link','trunk','trunk_link') THEN 80
                        WHEN highway IN ('primary','secondary','primary_link','secondary_link') THEN 50
                        WHEN highway IN ('tertiary','tertiary_link') THEN 40 ELSE 30 END"""
SPEED_SQL = {"foot": "5", "ebike": "15", "car": CAR_SPEED_SQL}
CONTENT = ("SELECT md5(string_agg(concat_ws('|', osm_id, name, name_zh, highway, oneway, from_node, to_node, foot_fwd, "
           "foot_bwd, ebike_fwd, ebike_bwd, car_fwd, car_bwd, ST_AsText(geom)), ',' ORDER BY osm_id, from_node, to_node, "
           "ST_AsText(geom))), count(*) FROM streets WHERE source = '{source}'")


def need(path):
    if not os.path.exists(path):
        if os.environ.get("CI") == "true":
            raise AssertionError(f"{path} is missing (CI=true: the real-file tests must run)")
        raise unittest.SkipTest(f"{path} is missing: this real-file import test is skipped")


class ImportRoads(ApiTestCase):
    def import_roads(self, path, *args, check=True):
        started = time.time()
        r = subprocess.run([self.s.bin, "import-roads", path, *args], env=self.s.env, capture_output=True, text=True)
        elapsed = time.time() - started
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        print(f"\n  import-roads {os.path.basename(path)} {' '.join(args)}: {elapsed:.2f} s\n  " +
              r.stderr.strip().replace("\n", "\n  "))
        return r

    def route(self, a, b, profile):
        return self.get(f"/v1/route?from={a[0]!r},{a[1]!r}&to={b[0]!r},{b[1]!r}&profile={profile}")

    def wait_route(self, a, b, profile, ok, timeout=20):
        """Polls until `ok(reply)`: the server rebuilds its graph after the import's NOTIFY."""
        deadline = time.time() + timeout
        while True:
            r = self.route(a, b, profile)
            if ok(r) or time.time() > deadline:
                return r
            time.sleep(0.1)

    def compare_with_pgr(self, source, prefix, seed, pairs=8):
        """Random node pairs per profile: the server's duration equals pgr_dijkstra's on the same
        rows (nodes from exact coordinates, costs in seconds, directed by the per-profile flags), and
        both agree on what is unreachable. For cars a pgRouting path through a restricted via node
        is only a lower bound. Returns how many pairs compared equal per profile."""
        self.s.sql(f"""
            CREATE EXTENSION IF NOT EXISTS pgrouting;
            CREATE TABLE {prefix}_nodes AS
              SELECT row_number() OVER (ORDER BY k) AS id, k, g FROM (
                SELECT DISTINCT ON (ST_AsBinary(p)) ST_AsBinary(p) AS k, p AS g
                FROM (SELECT ST_StartPoint(geom) p FROM streets WHERE source = '{source}'
                      UNION ALL SELECT ST_EndPoint(geom) FROM streets WHERE source = '{source}') e
                ORDER BY ST_AsBinary(p)) d;
            CREATE TABLE {prefix}_edges AS
              SELECT s.*, a.id AS source_id, b.id AS target_id, ST_Length(s.geom::geography) AS metres
              FROM streets s JOIN {prefix}_nodes a ON a.k = ST_AsBinary(ST_StartPoint(s.geom))
                             JOIN {prefix}_nodes b ON b.k = ST_AsBinary(ST_EndPoint(s.geom))
              WHERE s.source = '{source}';
            CREATE TABLE {prefix}_via AS
              SELECT DISTINCT CASE WHEN e.from_node = r.via_node THEN e.source_id ELSE e.target_id END AS id
              FROM street_restrictions r JOIN {prefix}_edges e ON r.via_node IN (e.from_node, e.to_node)
              WHERE r.source = '{source}';
        """)
        # Wait for the server's rebuild: a route on these roads answers.
        a = [float(v) for v in self.s.sql(f"SELECT ST_X(g), ST_Y(g) FROM {prefix}_nodes ORDER BY id LIMIT 1")[0]]
        self.wait_route(a, a, "foot", lambda r: r.status == 200)
        rng = random.Random(seed)
        compared = {"foot": 0, "ebike": 0, "car": 0}
        for profile in ("foot", "ebike", "car"):
            fwd, bwd, speed = f"{profile}_fwd", f"{profile}_bwd", SPEED_SQL[profile]
            edges_sql = (f"SELECT id, source_id AS source, target_id AS target, "
                         f"CASE WHEN {fwd} THEN metres / ({speed} / 3.6) ELSE -1 END AS cost, "
                         f"CASE WHEN {bwd} THEN metres / ({speed} / 3.6) ELSE -1 END AS reverse_cost FROM {prefix}_edges")
            usable = [(int(i), float(x), float(y)) for i, x, y in self.s.sql(
                f"SELECT DISTINCT n.id, ST_X(n.g), ST_Y(n.g) FROM {prefix}_nodes n JOIN {prefix}_edges e "
                f"ON n.id IN (e.source_id, e.target_id) WHERE e.{fwd} OR e.{bwd} ORDER BY n.id")]
            via = {int(v[0]) for v in self.s.sql(f"SELECT id FROM {prefix}_via")} if profile == "car" else set()
            for _ in range(2 * pairs if profile == "car" else pairs):
                s, t = rng.sample(usable, 2)
                rows = self.s.sql(f"SELECT node, agg_cost FROM pgr_dijkstra($${edges_sql}$$, {s[0]}, {t[0]}, true) ORDER BY seq")
                r = self.route(s[1:], t[1:], profile)
                if not rows:
                    doc = self.assertProblem(r, 422, "no_route")
                    self.assertEqual(doc["reason"], "unreachable", (profile, s, t))
                    continue
                want = float(rows[-1][1])
                self.assertEqual(r.status, 200, (profile, s, t, want, r))
                got = r.json["duration"]
                if any(int(node) in via for node, _ in rows[1:-1]):
                    # A restricted turn may lie on pgRouting's path: never faster than it.
                    self.assertGreaterEqual(got, want - 0.1, (profile, s, t))
                else:
                    self.assertAlmostEqual(got, want, delta=0.1 + want * 1e-5, msg=(profile, s, t))
                    compared[profile] += 1
        print(f"\n  {source}: compared with pgr_dijkstra (equal costs): {compared}")
        return compared

    def roads_tile(self, lon, lat, z=16):
        """The raw MVT of the `roads` layer over a point."""
        n = 2 ** z
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
        req = urllib.request.Request(f"{self.s.base}/tiles/roads/{z}/{x}/{y}.mvt", headers={"Authorization": "Bearer " + self.admin})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read()

    def test_1_grid_routed_live_with_profiles_and_restrictions(self):
        n1, n3, n4, n6 = (121.470, 31.230), (121.474, 31.230), (121.470, 31.231), (121.474, 31.231)
        # Before the import the grid is far from every street (the sample lies near Deqing).
        self.assertProblem(self.route(n3, n1, "car"), 422, "no_route")
        self.assertNotIn("南京东路".encode(), self.roads_tile(121.471, 31.230))
        r = self.import_roads(GRID)
        self.assertIn("read 26 nodes, 17 ways (15 routable), 4 relations; 19 edges, 2 turn restrictions (2 skipped), 1 missing", r.stderr)
        self.assertIn("wrote 19 edges and 2 turn restrictions (source osm:grid", r.stderr)
        self.assertRegex(r.stderr, r"in \d+\.\d+ s")
        rows = self.s.sql("SELECT count(*), count(*) FILTER (WHERE name = '南京东路' AND name_zh = '南京东路') "
                          "FROM streets WHERE source = 'osm:grid'")
        self.assertEqual([int(v) for v in rows[0]], [19, 2])
        self.assertEqual(int(self.s.sql("SELECT count(*) FROM streets WHERE source = 'sample'")[0][0]) > 0, True)
        # The running server picks the roads up: 3 -> 1 by car must obey only_right_turn at node 2.
        r = self.wait_route(n3, n1, "car", lambda r: r.status == 200)
        self.assertEqual(r.status, 200, r)
        self.assertAlmostEqual(r.json["distance"], 823.6, delta=1.0)
        foot = self.route(n3, n1, "foot").json
        self.assertAlmostEqual(foot["distance"], 381.0, delta=0.5)
        self.assertAlmostEqual(foot["duration"], foot["distance"] / (5 / 3.6), delta=0.2)
        # One-way row 4 -> 6: cars only eastbound; e-bikes both ways (oneway:bicycle=no).
        self.assertAlmostEqual(self.route(n6, n4, "ebike").json["distance"], 381.0, delta=0.5)
        self.assertGreater(self.route(n6, n4, "car").json["distance"], 600)
        # The tile layer `roads` follows (rebuilt after the graph).
        deadline = time.time() + 20
        while "南京东路".encode() not in self.roads_tile(121.471, 31.230) and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn("南京东路".encode(), self.roads_tile(121.471, 31.230))
        # The island street: snapped, not reachable.
        doc = self.assertProblem(self.route(n1, (121.5005, 31.230), "car"), 422, "no_route")
        self.assertEqual(doc["reason"], "unreachable")

    def test_2_reimport_is_idempotent_and_a_failed_one_changes_nothing(self):
        self.import_roads(GRID)
        before = self.s.sql(CONTENT.format(source="osm:grid"))[0]
        restrictions = self.s.sql("SELECT string_agg(concat_ws('|', osm_id, kind, tag, from_way, via_node, to_way), ',' "
                                  "ORDER BY osm_id) FROM street_restrictions WHERE source = 'osm:grid'")[0]
        self.import_roads(GRID)
        self.assertEqual(self.s.sql(CONTENT.format(source="osm:grid"))[0], before)
        self.assertEqual(int(before[1]), 19)
        self.assertEqual(self.s.sql("SELECT string_agg(concat_ws('|', osm_id, kind, tag, from_way, via_node, to_way), ',' "
                                    "ORDER BY osm_id) FROM street_restrictions WHERE source = 'osm:grid'")[0], restrictions)
        # A file that is not OSM: an error naming it, and the rows are untouched.
        broken = os.path.join(self.s.var, "broken.osm")
        with open(broken, "w") as f:
            f.write("<?xml version='1.0'?><osm version='0.6'><node id='1' lat='31' lon='121'><way")
        r = self.import_roads(broken, "--source", "osm:grid", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid_osm_file", r.stderr)
        self.assertEqual(self.s.sql(CONTENT.format(source="osm:grid"))[0], before)
        # A failure inside the transaction (after the streets were replaced, while the restrictions
        # are written): nothing changes, and the server keeps routing on the old rows.
        self.s.sql("""CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                      BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
                      CREATE TRIGGER test_refuse BEFORE INSERT ON street_restrictions
                        FOR EACH ROW EXECUTE FUNCTION test_refuse();""")
        try:
            r = self.import_roads(GRID, check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("refused by the test", r.stderr)
        finally:
            self.s.sql("DROP TRIGGER test_refuse ON street_restrictions; DROP FUNCTION test_refuse();")
        self.assertEqual(self.s.sql(CONTENT.format(source="osm:grid"))[0], before)
        r = self.route((121.474, 31.230), (121.470, 31.230), "car")
        self.assertAlmostEqual(r.json["distance"], 823.6, delta=1.0)

    def test_3_monaco_matches_pgr_dijkstra(self):
        need(MONACO)
        r = self.import_roads(MONACO)
        self.assertIn("source osm:monaco", r.stderr)
        edges, ways, named = (int(v) for v in self.s.sql(
            "SELECT count(*), count(DISTINCT osm_id), count(*) FILTER (WHERE name IS NOT NULL) "
            "FROM streets WHERE source = 'osm:monaco'")[0])
        # SOURCES.md: 2,927 highway=* ways; intersections cut them into more pieces.
        self.assertGreater(ways, 2000)
        self.assertLess(ways, 2927)
        self.assertGreater(edges, ways)
        self.assertLess(edges, 5 * ways)
        self.assertGreater(named, edges // 4)
        self.assertGreater(int(self.s.sql("SELECT count(*) FROM street_restrictions WHERE source = 'osm:monaco'")[0][0]), 10)
        compared = self.compare_with_pgr("osm:monaco", "mc", seed=6)
        for profile, n in compared.items():
            self.assertGreaterEqual(n, 3, profile)
        # Monaco's no_* restrictions, each as the banned manoeuvre between the middles of its from and
        # to pieces: a car never drives exactly that (a detour, or a shorter legal way if any).
        banned = self.s.sql("""
            SELECT r.osm_id, ST_X(ST_LineInterpolatePoint(f.geom, 0.5)), ST_Y(ST_LineInterpolatePoint(f.geom, 0.5)),
                   ST_X(ST_LineInterpolatePoint(t.geom, 0.5)), ST_Y(ST_LineInterpolatePoint(t.geom, 0.5)),
                   (ST_Length(f.geom::geography) + ST_Length(t.geom::geography)) / 2
            FROM street_restrictions r
            JOIN streets f ON f.source = r.source AND f.osm_id = r.from_way
                          AND ((f.to_node = r.via_node AND f.car_fwd) OR (f.from_node = r.via_node AND f.car_bwd))
            JOIN streets t ON t.source = r.source AND t.osm_id = r.to_way AND t.id <> f.id
                          AND ((t.from_node = r.via_node AND t.car_fwd) OR (t.to_node = r.via_node AND t.car_bwd))
            WHERE r.source = 'osm:monaco' AND r.kind = 'no' ORDER BY r.osm_id, f.id, t.id""")
        detours = 0
        for osm_id, fx, fy, tx, ty, direct in banned:
            r = self.route((float(fx), float(fy)), (float(tx), float(ty)), "car")
            if r.status != 200:
                self.assertProblem(r, 422, "no_route")
                continue
            self.assertNotAlmostEqual(r.json["distance"], float(direct), delta=0.05, msg=f"restriction {osm_id} ignored")
            detours += r.json["distance"] > float(direct)
        print(f"\n  Monaco no_* restrictions checked: {len(banned)}, detours: {detours}")
        self.assertGreaterEqual(detours, 3)
        # Re-import: the same rows.
        before = self.s.sql(CONTENT.format(source="osm:monaco"))[0]
        self.import_roads(MONACO)
        self.assertEqual(self.s.sql(CONTENT.format(source="osm:monaco"))[0], before)

    def test_3b_gzipped_xml(self):
        need(MONACO_GZ)
        r = self.import_roads(MONACO_GZ, "--source", "osm:monaco-gz")
        self.assertIn("read 13739 nodes, 1944 ways", r.stderr)  # SOURCES.md: osmium fileinfo
        edges, ways, named = (int(v) for v in self.s.sql(
            "SELECT count(*), count(DISTINCT osm_id), count(*) FILTER (WHERE name IS NOT NULL) "
            "FROM streets WHERE source = 'osm:monaco-gz'")[0])
        self.assertGreater(ways, 500)
        self.assertLessEqual(ways, 866)  # its highway=* ways
        self.assertGreater(edges, ways)
        self.assertGreater(named, 0)
        before = self.s.sql(CONTENT.format(source="osm:monaco-gz"))[0]
        self.import_roads(MONACO_GZ, "--source", "osm:monaco-gz")
        self.assertEqual(self.s.sql(CONTENT.format(source="osm:monaco-gz"))[0], before)

    def test_4_shanghai_names_and_replace(self):
        need(SHANGHAI)
        r = self.import_roads(SHANGHAI, "--replace")
        self.assertIn("source osm:shanghai_huangpu_osmnx", r.stderr)
        self.assertEqual(self.s.sql("SELECT count(*) FROM streets WHERE source <> 'osm:shanghai_huangpu_osmnx'")[0][0], "0")
        edges, ways, named, yanan = (int(v) for v in self.s.sql(
            "SELECT count(*), count(DISTINCT osm_id), count(*) FILTER (WHERE name ~ '[一-鿿]'), "
            "count(*) FILTER (WHERE name = '延安东路') FROM streets")[0])
        # SOURCES.md: 796 highway ways (drive network), 629 Chinese names.
        self.assertGreater(ways, 700)
        self.assertLessEqual(ways, 796)
        self.assertGreaterEqual(edges, ways)
        self.assertGreater(named, 500)
        self.assertGreater(yanan, 10)
        # Routed on the live server (only these roads are left), as pgRouting does. The file is a
        # clipped drive network (76 pieces by its own node ids), so some pairs are unreachable.
        compared = self.compare_with_pgr("osm:shanghai_huangpu_osmnx", "sh", seed=9)
        self.assertGreaterEqual(compared["car"], 3)

if __name__ == "__main__":
    unittest.main()
