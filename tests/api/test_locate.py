"""GET/POST /v1/locate: inside, shared boundaries, gaps (nearest, fallback), outside, GCJ-02/BD-09 and
projected input, at=, changes reaching the locator, batches in every input form, and errors."""
import json
import math
import time
import unittest

from harness import ApiTestCase

from mars import to_bd09, to_gcj02


def to_3857(lon, lat):
    r = 6378137.0
    return math.radians(lon) * r, math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * r


class Locate(ApiTestCase):
    def locate(self, lon, lat, query="", token=None):
        r = self.get(f"/v1/locate?lon={lon!r}&lat={lat!r}{query}", token)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("application/json"))
        return r.json

    def interior_point(self, code):
        x, y = self.s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas "
                          f"WHERE code = '{code}' AND valid_to IS NULL) s")[0]
        return float(x), float(y)

    def first_grid(self):
        return self.s.sql("SELECT code FROM areas WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 1")[0][0]

    def test_inside_with_hierarchy_and_workers(self):
        grid = self.first_grid()
        lon, lat = self.interior_point(grid)
        doc = self.locate(lon, lat)
        self.assertEqual(doc["method"], "inside")
        name = self.s.sql(f"SELECT name FROM areas WHERE code = '{grid}' AND valid_to IS NULL")[0][0]
        self.assertEqual(doc["grid"], {"code": grid, "name": name})
        self.assertIsNone(doc["microgrid"])
        self.assertIsNone(doc["distance_m"])
        self.assertEqual([h["level"] for h in doc["hierarchy"]], ["county", "township", "village", "grid"])
        self.assertEqual([h["code"] for h in doc["hierarchy"]], [grid[:6], grid[:9], grid[:12], grid])
        want = [[int(r[0]), r[1]] for r in self.s.sql(
            f"SELECT w.id, w.name FROM worker_assignments a JOIN workers w ON w.id = a.worker_id "
            f"WHERE a.grid_code = '{grid}' AND a.unassigned_at IS NULL ORDER BY w.id")]
        self.assertTrue(want, "the sample assigns workers to its grids")
        self.assertEqual([[w["id"], w["name"]] for w in doc["workers"]], want)
        self.assertEqual(doc["point"], [lon, lat])

    def test_gcj02_bd09_and_projected_input(self):
        grid = self.first_grid()
        lon, lat = self.interior_point(grid)
        for crs, (x, y) in (("gcj02", to_gcj02(lon, lat)), ("bd09", to_bd09(lon, lat)), ("EPSG:3857", to_3857(lon, lat)),
                            ("EPSG:4326", (lon, lat))):
            doc = self.locate(x, y, "&crs=" + crs)
            self.assertEqual(doc["grid"]["code"], grid, crs)
            self.assertAlmostEqual(doc["point"][0], lon, delta=1e-6, msg=crs)
            self.assertAlmostEqual(doc["point"][1], lat, delta=1e-6, msg=crs)
        # Read as plain EPSG:4490, the GCJ-02 coordinates are hundreds of metres off.
        gx, gy = to_gcj02(lon, lat)
        self.assertGreater(math.hypot((gx - lon) * 96000, (gy - lat) * 111000), 100)
        # Gauss-Krüger zone 40 (EPSG:4549), easting first.
        x, y = [float(v) for v in self.s.sql(
            f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint({lon}, {lat}), 4490), 4549) p) s")[0]]
        self.assertEqual(self.locate(x, y, "&crs=EPSG:4549")["grid"]["code"], grid)

    def test_shared_vertex_goes_to_the_smallest_code(self):
        # A vertex shared by two grids of the sample (exact coordinates from the database).
        rows = self.s.sql(
            "SELECT ST_X(p.geom), ST_Y(p.geom), array_to_string(array_agg(a.code ORDER BY a.code), ',') FROM "
            "(SELECT DISTINCT (ST_DumpPoints(geom)).geom FROM areas WHERE level = 'grid' AND valid_to IS NULL "
            " AND parent_code = (SELECT parent_code FROM areas WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 1)) p "
            "JOIN areas a ON a.level = 'grid' AND a.valid_to IS NULL AND ST_Covers(a.geom, p.geom) "
            "GROUP BY p.geom HAVING count(*) >= 2 LIMIT 5")
        self.assertTrue(rows, "the sample's neighbouring grids share vertices")
        for x, y, codes in rows:
            doc = self.locate(float(x), float(y))
            self.assertEqual(doc["method"], "boundary", doc)
            self.assertEqual(doc["grid"]["code"], codes.split(",")[0])

    def test_outside_is_a_normal_answer(self):
        for lon, lat in ((0.0, 0.0), (121.5, 31.2), (114.17, 22.3)):
            doc = self.locate(lon, lat)
            self.assertEqual((doc["method"], doc["grid"], doc["hierarchy"], doc["workers"]), ("outside", None, [], []))

    def test_errors(self):
        self.assertProblem(self.get("/v1/locate?lat=30"), 400, "invalid_parameter")
        self.assertProblem(self.get("/v1/locate?lon=abc&lat=30"), 400, "invalid_parameter")
        self.assertProblem(self.get("/v1/locate?lon=120&lat=95"), 400, "invalid_coordinates")
        self.assertProblem(self.get("/v1/locate?lon=120&lat=30&crs=EPSG:2000"), 400, "unsupported_crs")
        self.assertProblem(self.get("/v1/locate?lon=120&lat=30&at=yesterday"), 400, "invalid_parameter")
        self.assertProblem(self.s.request("GET", "/v1/locate?lon=120&lat=30"), 401, "unauthorized")
        r = self.s.request("PUT", "/v1/locate", [], token=self.admin)
        self.assertProblem(r, 405, "method_not_allowed")
        self.assertProblem(self.s.request("POST", "/v1/locate", raw="1 2", content_type="text/plain", token=self.admin),
                           415, "unsupported_media_type")
        self.assertProblem(self.s.request("POST", "/v1/locate", raw="[[1,2],[3", token=self.admin), 400, "malformed_json")
        self.assertProblem(self.s.request("POST", "/v1/locate", [[1, 2], [3]], token=self.admin), 400, "invalid_batch")
        self.assertProblem(self.s.request("POST", "/v1/locate", [[1, 2], ["a", 3]], token=self.admin), 400, "invalid_batch")
        self.assertProblem(self.s.request("POST", "/v1/locate", {"type": "LineString", "coordinates": [[1, 2], [3, 4]]},
                                          token=self.admin), 400, "invalid_batch")
        self.assertProblem(self.s.request("POST", "/v1/locate", raw="lon,lat\n1,2\nx,y\n", content_type="text/csv",
                                          token=self.admin), 400, "invalid_batch")
        doc = self.assertProblem(self.s.request("POST", "/v1/locate", [[120, 30], [120, 91]], token=self.admin), 400,
                                 "invalid_coordinates")
        self.assertEqual(doc["index"], 1)
        # Any valid token may locate.
        viewer = self.s.token("viewer", scope="330521001")
        self.assertEqual(self.get("/v1/locate?lon=120&lat=30", viewer).status, 200)

    def test_batch_forms_answer_like_single_locates(self):
        codes = [r[0] for r in self.s.sql(
            "SELECT code FROM areas WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 5")]
        pts = [list(self.interior_point(c)) for c in codes] + [[0.0, 0.0]]
        singles = [self.locate(x, y) for x, y in pts]
        forms = [
            ("application/json", json.dumps(pts)),
            ("application/geo+json", json.dumps({"type": "MultiPoint", "coordinates": pts})),
            ("application/geo+json", json.dumps({"type": "FeatureCollection", "features": [
                {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": p}} for p in pts]})),
            ("text/csv", "lon,lat\n" + "".join(f"{x!r},{y!r}\r\n" for x, y in pts)),
        ]
        for ctype, body in forms:
            r = self.s.request("POST", "/v1/locate", raw=body, content_type=ctype, token=self.admin)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["results"], singles, ctype)
        gcj = [list(to_gcj02(x, y)) for x, y in pts[:-1]]
        r = self.s.request("POST", "/v1/locate?crs=gcj02", gcj, token=self.admin)
        self.assertEqual([d["grid"]["code"] for d in r.json["results"]], codes)
        r = self.s.request("POST", "/v1/locate", [], token=self.admin)
        self.assertEqual(r.json, {"results": []})


class LocateAt(ApiTestCase):
    """at= answers what the current index answers when nothing changed since: the same document for
    interiors, shared vertices and edges (the smallest code), micro-grids, points outside, and in a
    batch; workers as assigned at that moment."""

    def locate(self, lon, lat, query=""):
        r = self.get(f"/v1/locate?lon={lon!r}&lat={lat!r}{query}")
        self.assertEqual(r.status, 200, r)
        return r.json

    def points(self):
        pts = [(float(x), float(y)) for x, y in self.s.sql(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas WHERE level IN ('grid', 'microgrid')"
            " AND valid_to IS NULL ORDER BY level DESC, code LIMIT 12) s")]
        # Vertices shared by grids, and midpoints of their edges.
        pts += [(float(x), float(y)) for x, y in self.s.sql(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_DumpPoints(geom)).geom p FROM areas WHERE level = 'grid'"
            " AND valid_to IS NULL ORDER BY code LIMIT 4) s LIMIT 30")]
        pts += [(float(x), float(y)) for x, y in self.s.sql(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(ST_ExteriorRing((ST_Dump(geom)).geom), 0.37) p"
            " FROM areas WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 6) s")]
        # The jurisdiction's outer edge and beyond.
        x0, y0, x1, y1 = [float(v) for v in self.s.sql(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM areas"
            " WHERE valid_to IS NULL) s")[0]]
        pts += [(x0 - 0.001, y0), (x1 + 0.1, y1 + 0.1), (0.0, 0.0), ((x0 + x1) / 2, y0 - 0.0002)]
        return pts

    def test_at_answers_like_the_current_index(self):
        future = "2100-01-01T00:00:00Z"
        pts = self.points()
        methods = set()
        for x, y in pts:
            now = self.locate(x, y)
            methods.add(now["method"])
            self.assertEqual(self.locate(x, y, "&at=" + future), now, (x, y))
        self.assertTrue({"inside", "boundary", "outside"} <= methods, methods)
        r = self.s.request("POST", "/v1/locate?at=" + future, [list(p) for p in pts], token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["results"], [self.locate(x, y) for x, y in pts])

    def test_at_before_the_sample_is_outside(self):
        x, y = self.points()[0]
        doc = self.locate(x, y, "&at=2000-01-01T00:00:00Z")
        self.assertEqual((doc["method"], doc["grid"], doc["hierarchy"], doc["workers"]), ("outside", None, [], []))

    def test_at_sees_the_workers_of_that_moment(self):
        grid, lon, lat = self.s.sql(
            "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM areas "
            "WHERE level = 'grid' AND valid_to IS NULL ORDER BY code DESC LIMIT 1) s")[0]
        lon, lat = float(lon), float(lat)
        ids = [w["id"] for w in self.get(f"/v1/areas/{grid}/workers").json["workers"]]
        before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time()))
        time.sleep(1.1)
        r = self.s.request("PUT", f"/v1/areas/{grid}/workers", {"workers": ids[1:]}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        time.sleep(1.1)
        after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time()))
        self.assertEqual([w["id"] for w in self.locate(lon, lat, "&at=" + before)["workers"]], ids)
        self.assertEqual([w["id"] for w in self.locate(lon, lat, "&at=" + after)["workers"]], ids[1:])

    def test_at_keeps_scopes(self):
        grid = self.s.sql("SELECT code FROM areas WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 1")[0][0]
        x, y = [float(v) for v in self.s.sql(
            f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas WHERE code = '{grid}'"
            " AND valid_to IS NULL) s")[0]]
        other = self.s.sql(f"SELECT code FROM areas WHERE level = 'village' AND valid_to IS NULL AND code <> '{grid[:12]}'"
                           " ORDER BY code LIMIT 1")[0][0]
        inside, outside = self.s.token("viewer", scope=grid[:12]), self.s.token("viewer", scope=other)
        query = f"/v1/locate?lon={x!r}&lat={y!r}&at=2100-01-01T00:00:00Z"
        self.assertEqual(self.get(query, inside).json["grid"]["code"], grid)
        self.assertProblem(self.get(query, outside), 403, "outside_scope")
        r = self.s.request("POST", "/v1/locate?at=2100-01-01T00:00:00Z", [[x, y]], token=outside)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["results"][0]["outside_scope"])
        self.assertIsNone(r.json["results"][0]["grid"])


class LocateFollowsChanges(ApiTestCase):
    """Retiring a grid opens a gap: nearest within 50 m, else the village (属地兜底); at= still sees it."""

    server_env = {"WANGGE_LOCATE_NEAREST_M": "50"}

    def test_gap_nearest_fallback_and_at(self):
        village = self.s.sql("SELECT parent_code FROM areas WHERE level = 'grid' AND valid_to IS NULL "
                             "GROUP BY parent_code HAVING count(*) >= 3 ORDER BY parent_code LIMIT 1")[0][0]
        grid = self.grids_of(village)[1]
        geom = f"(SELECT geom FROM areas WHERE code = '{grid}' AND valid_to IS NULL)"
        # The point of the grid farthest from its boundary, and a point ~20 m inside its edge.
        far = self.s.sql(f"SELECT ST_X(c), ST_Y(c), ST_Distance(c::geography, ST_Boundary({geom})::geography) "
                         f"FROM (SELECT (ST_MaximumInscribedCircle({geom})).center c) s")[0]
        lon, lat, radius = float(far[0]), float(far[1]), float(far[2])
        self.assertGreater(radius, 60, "the grid is big enough to leave a gap wider than 50 m")
        before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time()))
        time.sleep(1.1)
        self.assertEqual(self.locate(lon, lat)["grid"]["code"], grid)
        # ~20 m inside the grid's edge: once the grid is gone, the nearest neighbour, with its distance.
        near = self.s.sql(
            f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(ST_MakeLine(ST_ClosestPoint(ST_Boundary({geom}), c), c),"
            f" 20.0 / ST_Distance(c::geography, ST_Boundary({geom})::geography)) p FROM "
            f"(SELECT (ST_MaximumInscribedCircle({geom})).center c) s) t")[0]
        self.retire(grid)
        deadline = time.time() + 1.0  # changes reach the locator within 1 s
        while True:
            doc = self.locate(lon, lat)
            if doc["method"] != "inside" or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(doc["method"], "fallback", doc)
        self.assertEqual(doc["grid"], None)
        self.assertEqual(doc["hierarchy"][-1]["code"], village)
        doc = self.locate(float(near[0]), float(near[1]))
        self.assertEqual(doc["method"], "nearest", doc)
        self.assertAlmostEqual(doc["distance_m"], 20.0, delta=1.0)
        neighbours = [r[0] for r in self.s.sql(
            f"SELECT code FROM areas WHERE level = 'grid' AND valid_to IS NULL AND "
            f"ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint({near[0]}, {near[1]}), 4490)::geography, 21)")]
        self.assertIn(doc["grid"]["code"], neighbours)
        # As of before the change, the grid is still there.
        doc = self.locate(lon, lat, "&at=" + before)
        self.assertEqual((doc["method"], doc["grid"]["code"]), ("inside", grid))
        doc = self.locate(float(near[0]), float(near[1]), "&at=" + before)
        self.assertEqual((doc["method"], doc["grid"]["code"]), ("inside", grid))
        # As of after it, at= reads the same gap from the database: the same answers, distance
        # and hierarchy included.
        time.sleep(1.1)
        after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time()))
        for x, y in ((lon, lat), (float(near[0]), float(near[1]))):
            self.assertEqual(self.locate(x, y, "&at=" + after), self.locate(x, y))
        r = self.s.request("POST", "/v1/locate?at=" + before, [[lon, lat], [float(near[0]), float(near[1])]], token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([d["grid"]["code"] for d in r.json["results"]], [grid, grid])

    def locate(self, lon, lat, query=""):
        r = self.get(f"/v1/locate?lon={lon!r}&lat={lat!r}{query}")
        self.assertEqual(r.status, 200, r)
        return r.json


class LocateFollowsWorkers(ApiTestCase):
    """Assignments and worker edits reach the locator through NOTIFY (migration 0007) well before the
    5 s safety poll would have found them."""

    def test_assignment_and_rename_arrive_within_a_second(self):
        grid, lon, lat = self.s.sql(
            "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM areas "
            "WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 1) s")[0]
        path = f"/v1/locate?lon={lon}&lat={lat}"
        self.assertEqual(self.get(path).json["grid"]["code"], grid)
        village = self.s.sql(f"SELECT parent_code FROM areas WHERE code = '{grid}' AND valid_to IS NULL")[0][0]
        r = self.s.request("POST", "/v1/workers", {"name": "钱七", "area": village}, token=self.admin)
        self.assertEqual(r.status, 201, r)
        new = r.json["id"]
        ids = [w["id"] for w in self.get(f"/v1/areas/{grid}/workers").json["workers"]]
        r = self.s.request("PUT", f"/v1/areas/{grid}/workers", {"workers": ids + [new]}, token=self.admin)
        self.assertEqual(r.status, 200, r)

        def wait_for(pred):
            deadline = time.time() + 1.0
            while True:
                doc = self.get(path).json
                if pred(doc) or time.time() > deadline:
                    return doc
                time.sleep(0.05)

        doc = wait_for(lambda d: new in [w["id"] for w in d["workers"]])
        self.assertIn(new, [w["id"] for w in doc["workers"]], doc)
        # A rename outside the API (the trigger is on the table) arrives the same way.
        self.s.sql(f"UPDATE workers SET name = '钱七七' WHERE id = {new}")
        doc = wait_for(lambda d: "钱七七" in [w["name"] for w in d["workers"]])
        self.assertIn("钱七七", [w["name"] for w in doc["workers"]], doc)


if __name__ == "__main__":
    unittest.main()
