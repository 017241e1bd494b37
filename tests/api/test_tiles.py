"""Vector tiles, checked with an independent decoder: GDAL's MVT driver (ogrinfo/ogr2ogr) reads what
wangge encodes, and PostGIS says what should be there. Shared borders are rasterised by
gdal_rasterize to prove that neighbours neither gap nor overlap at any zoom."""
import json
import math
import os
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

from harness import ApiTestCase, Server

HALF = 20037508.342789244
CENTER = (119.98, 30.515)  # inside the sample county (EPSG:4490 ≈ WGS84 at tile precision)


def tile_of(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def tile_bounds(z, x, y):
    size = 2 * HALF / 2 ** z
    return (-HALF + x * size, HALF - (y + 1) * size, -HALF + (x + 1) * size, HALF - y * size)


def fetch(server, path, token, headers=None):
    req = urllib.request.Request(server.base + path, headers=dict(headers or {}, Authorization="Bearer " + token))
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


_decoded = [0]


def decode(data, z, x, y, workdir):
    """All layers of one tile as {layer: [GeoJSON features in EPSG:3857]}, read by GDAL's MVT driver."""
    if not data:
        return {}
    _decoded[0] += 1
    path = os.path.join(workdir, f"{_decoded[0]}-{z}-{x}-{y}.mvt")
    with open(path, "wb") as f:
        f.write(data)
    out = os.path.join(workdir, f"{_decoded[0]}-{z}-{x}-{y}.json")
    layers = {}
    listing = subprocess.run(["ogrinfo", "-ro", "-q", path, "-oo", f"Z={z}", "-oo", f"X={x}", "-oo", f"Y={y}"],
                             check=True, capture_output=True, text=True).stdout
    names = [line.split(":", 1)[1].strip().split(" ")[0] for line in listing.splitlines() if ":" in line]
    for name in names:
        if os.path.exists(out):
            os.remove(out)
        subprocess.run(["ogr2ogr", "-f", "GeoJSON", out, path, name, "-oo", f"Z={z}", "-oo", f"X={x}", "-oo", f"Y={y}"],
                       check=True, capture_output=True)
        with open(out) as f:
            layers[name] = json.load(f)["features"]
    return layers


class Tiles(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="wangge-tiles-")

    def tile(self, layers, z, x, y, headers=None, token=None):
        return fetch(self.s, f"/tiles/{layers}/{z}/{x}/{y}.mvt", token or self.admin, headers)

    def expected_codes(self, level, z, x, y):
        """What PostGIS says a tile must hold: areas of the level that reach into the tile (beyond a
        sliver), and what it may hold: those touching the tile's buffer."""
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        px = (maxx - minx) / 256
        buf = (maxx - minx) * 64 / 4096
        tol = 2 * HALF / 2 ** z / 512 * 0.5
        rows = self.s.sql(
            f"""SELECT a.code,
                       ST_Area(ST_Intersection(g, ST_MakeEnvelope({minx}, {miny}, {maxx}, {maxy}, 3857))) > {4 * px * px},
                       ST_Intersects(g, ST_MakeEnvelope({minx - buf}, {miny - buf}, {maxx + buf}, {maxy + buf}, 3857)),
                       (ST_XMax(g) - ST_XMin(g) < {2 * tol} AND ST_YMax(g) - ST_YMin(g) < {2 * tol})
                FROM areas a, LATERAL (SELECT ST_Transform(a.geom, 3857) AS g) t
                WHERE a.valid_to IS NULL AND a.level = '{level}'""")
        must = {r[0] for r in rows if r[1] == "t" and r[3] == "f"}
        may = {r[0] for r in rows if r[2] == "t"}
        return must, may

    def test_every_layer_decodes_and_matches_postgis_from_z6_to_z16(self):
        minzoom = {"county": 6, "township": 9, "village": 11, "grid": 13}
        for z in range(6, 17):
            zz, x, y = tile_of(*CENTER, z)
            status, headers, body = self.tile("county,township,village,grid,labels", z, x, y)
            self.assertEqual(status, 200, (z, body[:200]))
            self.assertEqual(headers["Content-Type"], "application/vnd.mapbox-vector-tile")
            layers = decode(body, z, x, y, self.tmp)
            for level, mz in minzoom.items():
                with self.subTest(z=z, level=level):
                    got = {f["properties"]["code"] for f in layers.get(level, [])}
                    if z < mz:
                        self.assertEqual(got, set(), f"{level} is not drawn below z{mz}")
                        continue
                    must, may = self.expected_codes(level, z, x, y)
                    self.assertTrue(must, f"the test tile at z{z} should hold some {level}")
                    self.assertLessEqual(must, got, f"missing at z{z}: {sorted(must - got)[:5]}")
                    self.assertLessEqual(got, may, f"unexpected at z{z}: {sorted(got - may)[:5]}")
            # Attributes against the database, for the grids of the deepest tile.
            if z == 16:
                for f in layers["grid"]:
                    p = f["properties"]
                    name, parent, workers = self.s.sql(
                        "SELECT name, parent_code, (SELECT count(*) FROM worker_assignments w WHERE w.grid_code = a.code "
                        f"AND w.unassigned_at IS NULL) FROM areas a WHERE code = '{p['code']}' AND valid_to IS NULL")[0]
                    self.assertEqual((p["name"], p["parent"], p["level"], str(p["workers"])), (name, parent, "grid", workers))
                self.assertTrue(layers["labels"], "labels layer is empty at z16")

    def rasterise(self, geojson_features, bounds, size=256):
        """gdal_rasterize: every pixel counts the polygons covering its centre."""
        _decoded[0] += 1
        src = os.path.join(self.tmp, f"r{_decoded[0]}.geojson")
        with open(src, "w") as f:
            json.dump({"type": "FeatureCollection", "features": geojson_features}, f)
        tif, asc = src + ".tif", src + ".asc"
        subprocess.run(["gdal_rasterize", "-q", "-burn", "1", "-add", "-init", "0", "-ot", "Byte", "-te", *map(str, bounds),
                        "-ts", str(size), str(size), src, tif], check=True, capture_output=True)
        subprocess.run(["gdal_translate", "-q", "-of", "AAIGrid", tif, asc], check=True, capture_output=True)
        with open(asc) as f:
            rows = [line.split() for line in f.read().splitlines()]
        return [[int(v) for v in row] for row in rows if row and not row[0][0].isalpha()]

    def test_shared_borders_have_no_gap_or_overlap_at_any_zoom(self):
        for level, zooms in (("grid", (13, 14, 16)), ("village", (11, 12, 14)), ("township", (9, 10, 12))):
            for z in zooms:
                with self.subTest(level=level, z=z):
                    _, x, y = tile_of(*CENTER, z)
                    status, _, body = self.tile("county," + level, z, x, y)
                    self.assertEqual(status, 200)
                    layers = decode(body, z, x, y, self.tmp)
                    bounds = tile_bounds(z, x, y)
                    counts = self.rasterise(layers[level], bounds)
                    county = self.rasterise(layers["county"], bounds)
                    # Judge the pixels 2 px or more inside the county: its outer edge is nobody's neighbour.
                    n = len(counts)
                    inside = [(i, j) for i in range(2, n - 2) for j in range(2, n - 2)
                              if all(county[i + di][j + dj] for di in (-2, 0, 2) for dj in (-2, 0, 2))]
                    self.assertGreater(len(inside), 500)
                    bad = [(i, j, counts[i][j]) for i, j in inside if counts[i][j] != 1]
                    self.assertEqual(bad, [], f"{len(bad)} pixels with a gap (0) or overlap (>1), e.g. {bad[:5]}")

    def test_if_none_match_gives_304_and_the_etag_is_stable(self):
        z, x, y = tile_of(*CENTER, 14)
        status, headers, body = self.tile("grid", z, x, y)
        etag = headers["ETag"]
        self.assertTrue(etag.startswith('"'))
        status2, headers2, body2 = self.tile("grid", z, x, y, {"If-None-Match": etag})
        self.assertEqual(status2, 304)
        self.assertEqual(body2, b"")
        self.assertEqual(self.tile("grid", z, x, y)[1]["ETag"], etag)

    def test_gzip_when_asked(self):
        z, x, y = tile_of(*CENTER, 14)
        status, headers, body = self.tile("grid", z, x, y, {"Accept-Encoding": "gzip"})
        self.assertEqual(headers["Content-Encoding"], "gzip")
        import gzip
        self.assertEqual(gzip.decompress(body), self.tile("grid", z, x, y)[2])

    def test_cache_off_compresses_only_for_clients_that_take_gzip(self):
        """With the tile cache off a tile is gzip-compressed only when the client takes gzip; either
        way it is the caching server's tile, byte for byte, under the same ETag."""
        import gzip
        other = Server(database=self.s.db, env={"WANGGE_TILE_CACHE_MB": "0"})
        try:
            layers = "township,village,grid,labels"
            for z in (10, 14):
                _, x, y = tile_of(*CENTER, z)
                cached = self.tile(layers, z, x, y)
                plain = fetch(other, f"/tiles/{layers}/{z}/{x}/{y}.mvt", self.admin)
                packed = fetch(other, f"/tiles/{layers}/{z}/{x}/{y}.mvt", self.admin, {"Accept-Encoding": "gzip"})
                self.assertEqual((cached[0], plain[0], packed[0]), (200, 200, 200))
                self.assertIsNone(plain[1].get("Content-Encoding"))
                self.assertEqual(packed[1]["Content-Encoding"], "gzip")
                self.assertGreater(len(plain[2]), 0)
                self.assertEqual(plain[2], cached[2])
                self.assertEqual(gzip.decompress(packed[2]), plain[2])
                self.assertEqual({plain[1]["ETag"], packed[1]["ETag"]}, {cached[1]["ETag"]})
        finally:
            other.stop()

    def test_bad_tile_addresses(self):
        for path in ("/tiles/grid/25/0/0.mvt", "/tiles/grid/3/8/0.mvt", "/tiles/grid/3/0/8.mvt", "/tiles/grid/a/0/0.mvt",
                     "/tiles/grid/3/-1/0.mvt", "/tiles/grid/14/99999999999999999999/0.mvt", "/tiles/grid/1.5/0/0.mvt"):
            with self.subTest(path=path):
                self.assertProblem(self.s.request("GET", path, token=self.admin), 400, "invalid_tile")
        self.assertProblem(self.s.request("GET", "/tiles/roads2/14/0/0.mvt", token=self.admin), 404, "unknown_layer")
        self.assertProblem(self.s.request("GET", "/tiles/nope.json", token=self.admin), 404, "unknown_layer")
        self.assertProblem(self.s.request("GET", "/tiles/" + ",".join(["grid", "village", "township", "county", "province",
                                                                      "city", "microgrid", "labels", "incidents", "roads",
                                                                      "checkpoints"]) + "/1/0/0.mvt",
                                          token=self.admin), 400, "too_many_layers")
        self.assertProblem(self.s.request("GET", "/tiles/grid/14/0/0.mvt"), 401, "unauthorized")

    def test_roads_and_checkpoints_match_postgis(self):
        z, x, y = tile_of(*CENTER, 15)
        status, _, body = self.tile("roads,checkpoints", z, x, y)
        self.assertEqual(status, 200)
        layers = decode(body, z, x, y, self.tmp)
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        buf = (maxx - minx) * 64 / 4096
        inner = f"ST_Transform(ST_MakeEnvelope({minx}, {miny}, {maxx}, {maxy}, 3857), 4490)"
        outer = f"ST_Transform(ST_MakeEnvelope({minx - buf}, {miny - buf}, {maxx + buf}, {maxy + buf}, 3857), 4490)"
        got = {f["properties"]["id"] for f in layers["checkpoints"]}
        must = {int(r[0]) for r in self.s.sql(f"SELECT id FROM checkpoints WHERE ST_Intersects(location, {inner})")}
        may = {int(r[0]) for r in self.s.sql(f"SELECT id FROM checkpoints WHERE ST_Intersects(location, {outer})")}
        self.assertTrue(must)
        self.assertLessEqual(must, got)
        self.assertLessEqual(got, may)
        roads = layers["roads"]
        n_must = int(self.s.sql(f"SELECT count(*) FROM streets WHERE ST_Length(ST_Intersection(geom, {inner})::geography) > 5")[0][0])
        n_may = int(self.s.sql(f"SELECT count(*) FROM streets WHERE ST_Intersects(geom, {outer})")[0][0])
        self.assertTrue(n_must <= len(roads) <= n_may, (n_must, len(roads), n_may))
        self.assertTrue(all(f["geometry"]["type"] in ("LineString", "MultiLineString") for f in roads))
        self.assertTrue(all(f["properties"]["highway"] for f in roads))
        # Below z12 no roads; residential streets only from z14.
        _, x12, y12 = tile_of(*CENTER, 12)
        _, _, b12 = self.tile("roads", 12, x12, y12)
        kinds = {f["properties"]["highway"] for f in decode(b12, 12, x12, y12, self.tmp).get("roads", [])}
        self.assertNotIn("residential", kinds)

    def test_composite_requests_drop_duplicates(self):
        z, x, y = tile_of(*CENTER, 14)
        _, _, one = self.tile("grid,village", z, x, y)
        _, _, dup = self.tile("grid,village,grid", z, x, y)
        self.assertEqual(one, dup)
        self.assertEqual(set(decode(one, z, x, y, self.tmp)), {"grid", "village"})

    def test_tilejson(self):
        r = self.s.request("GET", "/tiles/village,grid.json", token=self.admin)
        self.assertEqual(r.status, 200, r)
        doc = r.json
        self.assertEqual(doc["tilejson"], "3.0.0")
        self.assertTrue(doc["tiles"][0].endswith("/tiles/village,grid/{z}/{x}/{y}.mvt"))
        self.assertEqual([l["id"] for l in doc["vector_layers"]], ["village", "grid"])
        self.assertIn("code", doc["vector_layers"][1]["fields"])
        self.assertEqual(doc["minzoom"], 11)
        w, s, e, n = doc["bounds"]
        self.assertTrue(w < CENTER[0] < e and s < CENTER[1] < n)

    def test_scope_filters_features(self):
        token = self.s.token("viewer", scope="330521001")
        z, x, y = tile_of(*CENTER, 12)
        _, _, body = self.tile("village", z, x, y, token=token)
        codes = {f["properties"]["code"] for f in decode(body, z, x, y, self.tmp).get("village", [])}
        self.assertTrue(codes)
        self.assertTrue(all(c.startswith("330521001") for c in codes), codes)
        _, _, full = self.tile("village", z, x, y)
        self.assertGreater(len(decode(full, z, x, y, self.tmp)["village"]), len(codes))

    def test_no_tile_exceeds_the_budget(self):
        for z in (6, 8, 10, 12):
            _, x, y = tile_of(*CENTER, z)
            status, _, body = self.tile("county,township,village,grid,microgrid,labels,incidents", z, x, y)
            self.assertLessEqual(len(body), 500 * 1024)


class TileFreshness(ApiTestCase):
    """Edits reach the tiles at once in the writing process and within a second in another one."""

    def etags(self, server, tiles):
        return {t: fetch(server, "/tiles/grid,labels/%d/%d/%d.mvt" % t, self.admin)[1]["ETag"] for t in tiles}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="wangge-tiles-")

    def bbox_3857(self, where):
        return tuple(map(float, self.s.sql(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(ST_Transform(geom, 3857)) e "
            f"FROM areas WHERE {where}) t")[0]))

    def assertPatchedNotReloaded(self, server):
        log = server.server_log()
        self.assertIn("tile layer grid patched", log)
        self.assertNotIn("tile layer grid reloaded", log)

    def test_a_redraw_moving_a_shared_border_is_patched_like_a_full_load(self):
        a = self.s.sql("SELECT code FROM areas WHERE level = 'grid' AND valid_to IS NULL "
                       f"AND ST_Covers(geom, ST_SetSRID(ST_MakePoint({CENTER[0]}, {CENTER[1]}), 4490))")[0][0]
        ga = f"(SELECT geom FROM areas WHERE code = '{a}' AND valid_to IS NULL)"
        b = self.s.sql(f"SELECT b.code FROM areas b WHERE b.parent_code = (SELECT parent_code FROM areas WHERE code = '{a}' "
                       f"AND valid_to IS NULL) AND b.code <> '{a}' AND b.valid_to IS NULL "
                       f"AND ST_Length(ST_Intersection(ST_Boundary(b.geom), ST_Boundary({ga}))) > 0 ORDER BY b.code LIMIT 1")[0][0]
        gb = f"(SELECT geom FROM areas WHERE code = '{b}' AND valid_to IS NULL)"
        half = self.s.sql(f"SELECT ST_AsHEXEWKB(ST_Intersection({gb}, ST_Buffer({ga}, (ST_XMax({gb}) - ST_XMin({gb})) / 3)))")[0][0]
        new_a = json.loads(self.s.sql(f"SELECT ST_AsGeoJSON(ST_Multi(ST_CollectionExtract(ST_Union({ga}, '{half}'::geometry), 3)), 9, 0)")[0][0])
        lon, lat = map(float, self.s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface('{half}'::geometry) p) t")[0])
        # Everything a re-cut may reach: the two grids and every grid touching them.
        near = self.bbox_3857(f"level = 'grid' AND valid_to IS NULL AND ST_Intersects(geom, ST_Union({ga}, {gb}))")
        moved = [tile_of(lon, lat, z) for z in (13, 14, 15, 16)]
        tiles = list(moved)
        for z in (13, 15):
            _, cx, cy = tile_of(*CENTER, z)
            tiles += [(z, cx + dx, cy + dy) for dx in (-3, -2, -1, 0, 1, 2, 3) for dy in (-2, -1, 0, 1, 2)]
        tiles = sorted(set(tiles))
        other = Server(database=self.s.db)
        try:
            before = self.etags(self.s, tiles)
            self.assertEqual(self.etags(other, tiles), before)
            r = self.s.request("PATCH", f"/v1/areas/{a}?adjust=neighbours", {"geometry": new_a}, token=self.admin,
                               headers={"If-Match": "*"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["adjusted"], [b])
            after = self.etags(self.s, tiles)
            for t in moved:
                self.assertNotEqual(after[t], before[t], f"tile {t} shows the moved border but kept its ETag")
            far = 0
            for t in tiles:
                bx = tile_bounds(*t)
                m = (bx[2] - bx[0]) * 64 / 4096
                if near[2] < bx[0] - m or near[0] > bx[2] + m or near[3] < bx[1] - m or near[1] > bx[3] + m:
                    far += 1
                    self.assertEqual(after[t], before[t], f"tile {t} is far from the edit but changed")
            self.assertGreater(far, 10)
            deadline = time.time() + 2
            while time.time() < deadline and self.etags(other, moved) != {t: after[t] for t in moved}:
                time.sleep(0.05)
            self.assertEqual(self.etags(other, tiles), after, "the other process's tiles did not follow within 2 s")
            self.assertPatchedNotReloaded(self.s)
            self.assertPatchedNotReloaded(other)
            # A process that loads the edited registry whole draws the very same tiles.
            fresh = Server(database=self.s.db)
            try:
                self.assertEqual(self.etags(fresh, tiles), after, "patched tiles differ from a full load's")
            finally:
                fresh.stop()
            # And the moved border has no gap or overlap at any zoom.
            for z in (14, 16):
                _, x, y = tile_of(lon, lat, z)
                _, _, body = fetch(self.s, f"/tiles/county,grid/{z}/{x}/{y}.mvt", self.admin)
                layers = decode(body, z, x, y, self.tmp)
                bounds = tile_bounds(z, x, y)
                counts, county = Tiles.rasterise(self, layers["grid"], bounds), Tiles.rasterise(self, layers["county"], bounds)
                n = len(counts)
                inside = [(i, j) for i in range(2, n - 2) for j in range(2, n - 2)
                          if all(county[i + di][j + dj] for di in (-2, 0, 2) for dj in (-2, 0, 2))]
                self.assertGreater(len(inside), 500)
                bad = [(i, j, counts[i][j]) for i, j in inside if counts[i][j] != 1]
                self.assertEqual(bad, [], f"z{z}: {len(bad)} pixels with a gap (0) or overlap (>1), e.g. {bad[:5]}")
        finally:
            other.stop()

    def test_an_edit_changes_exactly_the_affected_tiles(self):
        grid = self.s.sql("SELECT code FROM areas WHERE level = 'grid' AND valid_to IS NULL "
                          f"AND ST_Covers(geom, ST_SetSRID(ST_MakePoint({CENTER[0]}, {CENTER[1]}), 4490))")[0][0]
        minx, miny, maxx, maxy = map(float, self.s.sql(
            f"SELECT ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g) FROM (SELECT ST_Transform(geom, 3857) g FROM areas "
            f"WHERE code = '{grid}' AND valid_to IS NULL) t")[0])
        tiles = []
        for z in (13, 15):
            _, cx, cy = tile_of(*CENTER, z)
            tiles += [(z, cx + dx, cy + dy) for dx in (-2, -1, 0, 1, 2) for dy in (-2, -1, 0, 1, 2)]
        other = Server(database=self.s.db)  # a second process on the same database
        try:
            before = self.etags(self.s, tiles)
            before_other = self.etags(other, tiles)
            self.assertEqual(before, before_other)
            contains = {t for t in tiles if any(f["properties"]["code"] == grid for f in
                                                 decode(fetch(self.s, "/tiles/grid/%d/%d/%d.mvt" % t, self.admin)[2], *t,
                                                        tempfile.mkdtemp()).get("grid", []))}
            self.assertTrue(contains)
            r = self.s.request("GET", "/v1/areas/" + grid, token=self.admin)
            r = self.s.request("PATCH", "/v1/areas/" + grid, {"properties": {"name": "改名网格"}}, token=self.admin,
                               headers={"If-Match": r.header("ETag")})
            self.assertEqual(r.status, 200, r)
            after = self.etags(self.s, tiles)
            for t in tiles:
                b = tile_bounds(*t)
                m = (b[2] - b[0]) * 64 / 4096
                touches = not (maxx < b[0] - m or minx > b[2] + m or maxy < b[1] - m or miny > b[3] + m)
                if t in contains:
                    self.assertNotEqual(after[t], before[t], f"tile {t} shows the grid but kept its ETag")
                elif not touches:
                    self.assertEqual(after[t], before[t], f"tile {t} is far from the grid but changed")
            deadline = time.time() + 2
            while time.time() < deadline and self.etags(other, sorted(contains)) != {t: after[t] for t in sorted(contains)}:
                time.sleep(0.05)
            self.assertEqual(self.etags(other, tiles), after, "the other process's tiles did not follow within 2 s")
            self.assertPatchedNotReloaded(other)
        finally:
            other.stop()


class MapPage(ApiTestCase):
    """The page at / in Debian's Chromium: it loads, draws grids and labels, logs no errors."""

    def test_map_page_renders_grids(self):
        npm = os.environ.get("WANGGE_NPM_DIR") or os.path.join(os.path.dirname(os.environ["WANGGE_BIN"]), "npm")
        if not os.path.exists(os.path.join(npm, "node_modules", "playwright-core")):
            self.fail("playwright-core is not installed (tools/test installs it into build/npm)")
        artefacts = os.path.join(os.path.dirname(os.environ["WANGGE_BIN"]), "test-artifacts")
        os.makedirs(artefacts, exist_ok=True)
        shot = os.path.join(artefacts, "map.png")
        script = os.path.join(os.path.dirname(__file__), "..", "browser", "map_check.mjs")
        r = subprocess.run(["node", script, self.s.base, self.admin, shot], env=dict(os.environ, WANGGE_NPM_DIR=npm),
                           capture_output=True, text=True, timeout=180)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(os.path.getsize(shot) > 10000)


if __name__ == "__main__":
    unittest.main()
