"""What one request may see and cost: scopes on /v1/locate, the size limits of bodies (positions and
rings per geometry, points per batch, parts per form, features per import, GeoPackage views
included), the gate on concurrent expensive requests (503 busy + Retry-After) and a statement
timeout answered as 503 timeout, never 500."""
import json
import math
import os
import sqlite3
import struct
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import unittest
import uuid

from harness import ApiTestCase, Reply, race

SCOPE = "330521110"            # the township the scoped token is limited to
INSIDE_VILLAGE = "330521110002"
OUTSIDE_VILLAGE = "330521113005"


def point_in(test, code):
    x, y = test.s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas "
                      f"WHERE code = '{code}' AND valid_to IS NULL) s")[0]
    return float(x), float(y)


def circle(lon, lat, radius_deg, n):
    ring = [[lon + radius_deg * math.cos(2 * math.pi * i / n), lat + radius_deg * math.sin(2 * math.pi * i / n)]
            for i in range(n)]
    return ring + [ring[0]]


class LocateScopes(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.scoped = cls.s.token("viewer", SCOPE, name="viewer-" + SCOPE)

    def inside_and_outside(self):
        inside = self.grids_of(INSIDE_VILLAGE)[0]
        outside = self.grids_of(OUTSIDE_VILLAGE)[0]
        return inside, point_in(self, inside), outside, point_in(self, outside)

    def test_a_point_outside_the_scope_is_forbidden_inside_answered_in_full(self):
        inside, (ix, iy), outside, (ox, oy) = self.inside_and_outside()
        # Twice each: the first request authenticates through the database (worker path), the
        # second is answered from the token cache on the event loop; both apply the scope.
        for _ in range(2):
            r = self.get(f"/v1/locate?lon={ix}&lat={iy}", self.scoped)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["grid"]["code"], inside)
            self.assertTrue(r.json["hierarchy"], r.json)
            r = self.get(f"/v1/locate?lon={ox}&lat={oy}", self.scoped)
            self.assertProblem(r, 403, "outside_scope")
            self.assertNotIn(outside, r.body)
        # The unscoped admin still sees the point outside the scope.
        r = self.get(f"/v1/locate?lon={ox}&lat={oy}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["grid"]["code"], outside)

    def test_a_batch_marks_the_points_outside_the_scope(self):
        inside, (ix, iy), outside, (ox, oy) = self.inside_and_outside()
        # A worker on the outside grid: its name must not reach the scoped token.
        worker = self.s.request("POST", "/v1/workers", body={"name": "outside-worker-7781", "area": OUTSIDE_VILLAGE},
                                token=self.admin)
        self.assertEqual(worker.status, 201, worker)
        r = self.s.request("PUT", f"/v1/areas/{outside}/workers", body={"workers": [worker.json["id"]]}, token=self.admin)
        self.assertIn(r.status, (200, 204), r)
        body = [[ix, iy], [ox, oy], [ix, iy]]
        r = self.s.request("POST", "/v1/locate", body=body, token=self.scoped)
        self.assertEqual(r.status, 200, r)
        results = json.loads(r.body)["results"]
        self.assertEqual(len(results), 3)
        self.assertEqual(results[0]["grid"]["code"], inside)
        self.assertEqual(results[2]["grid"]["code"], inside)
        self.assertNotIn("outside_scope", results[0])
        hidden = results[1]
        self.assertIs(hidden["outside_scope"], True, hidden)
        self.assertIsNone(hidden["grid"])
        self.assertIsNone(hidden["microgrid"])
        self.assertEqual(hidden["hierarchy"], [])
        self.assertEqual(hidden["workers"], [])
        self.assertEqual(hidden["point"], [ox, oy])
        self.assertNotIn(outside, r.body)
        self.assertNotIn("outside-worker-7781", r.body)
        # The admin's batch names both, and the worker.
        r = self.s.request("POST", "/v1/locate", body=body, token=self.admin)
        results = json.loads(r.body)["results"]
        self.assertEqual(results[1]["grid"]["code"], outside)
        self.assertIn("outside-worker-7781", r.body)

    def test_a_worker_assigned_is_named_by_the_writers_next_locate(self):
        """Read-your-writes: the answer to the assignment comes after this process's worker
        directory holds it (the directory follows NOTIFY on a 100 ms poll), so a locate sent right
        after names the worker, every time."""
        outside = self.grids_of(OUTSIDE_VILLAGE)[0]
        ox, oy = point_in(self, outside)
        for n in range(8):
            name = f"fresh-worker-{n}-{uuid.uuid4().hex[:6]}"
            worker = self.s.request("POST", "/v1/workers", body={"name": name, "area": OUTSIDE_VILLAGE}, token=self.admin)
            self.assertEqual(worker.status, 201, worker)
            r = self.s.request("PUT", f"/v1/areas/{outside}/workers", body={"workers": [worker.json["id"]]}, token=self.admin)
            self.assertIn(r.status, (200, 204), r)
            r = self.get(f"/v1/locate?lon={ox}&lat={oy}", self.admin)
            self.assertEqual(r.status, 200, r)
            self.assertIn(name, [w["name"] for w in r.json["workers"]], (n, r.json["workers"]))


def gpkg_polygon(lon, lat, d):
    """A GeoPackage geometry blob: header (no envelope, little-endian, SRS 4490) and WKB polygon."""
    ring = [(lon, lat), (lon + d, lat), (lon + d, lat + d), (lon, lat + d), (lon, lat)]
    wkb = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", len(ring)) + b"".join(struct.pack("<dd", *p) for p in ring)
    return b"GP" + bytes([0, 1]) + struct.pack("<i", 4490) + wkb


class Limits(ApiTestCase):
    server_env = {"WANGGE_MAX_COORDINATES": "100", "WANGGE_MAX_PARTS": "3", "WANGGE_MAX_BATCH_POINTS": "5",
                  "WANGGE_MAX_FORM_PARTS": "6", "WANGGE_MAX_IMPORT_FEATURES": "2"}

    def import_(self, data, content_type="application/geo+json", **params):
        return self.s.request("POST", "/v1/import?" + urllib.parse.urlencode(params), raw=data,
                              token=self.admin, content_type=content_type)

    def test_positions_and_rings_per_geometry(self):
        grid = self.grids_of(INSIDE_VILLAGE)[0]
        x, y = point_in(self, grid)
        feature = self.feature("330521110002901", "limits", "grid", INSIDE_VILLAGE,
                               {"type": "Polygon", "coordinates": [circle(x, y, 1e-4, 200)]})
        doc = self.assertProblem(self.post_area(feature), 413, "too_many_coordinates")
        self.assertEqual(doc["limit"], 100)
        squares = [[circle(x + i * 1e-4, y, 2e-5, 4)] for i in range(4)]
        feature["geometry"] = {"type": "MultiPolygon", "coordinates": squares}
        doc = self.assertProblem(self.post_area(feature), 413, "too_many_parts")
        self.assertEqual(doc["limit"], 3)
        # The same through the toolkit's redraw (dry run).
        _, etag = self.area(grid)
        r = self.patch(grid, {"geometry": {"type": "Polygon", "coordinates": [circle(x, y, 1e-4, 200)]}}, etag,
                       query="?dry_run=true")
        self.assertProblem(r, 413, "too_many_coordinates")

    def test_points_per_batch(self):
        x, y = point_in(self, self.grids_of(INSIDE_VILLAGE)[0])
        r = self.s.request("POST", "/v1/locate", body=[[x, y]] * 5, token=self.admin)
        self.assertEqual(r.status, 200, r)
        for raw, media in ((json.dumps([[x, y]] * 6), "application/json"),
                           (json.dumps({"type": "MultiPoint", "coordinates": [[x, y]] * 6}), "application/geo+json"),
                           ("lon,lat\n" + f"{x},{y}\n" * 6, "text/csv")):
            with self.subTest(media=media):
                r = self.s.request("POST", "/v1/locate", raw=raw, token=self.admin, content_type=media)
                doc = self.assertProblem(r, 413, "too_many_points")
                self.assertEqual(doc["limit"], 5)

    def test_parts_per_form(self):
        boundary = "wangge-" + uuid.uuid4().hex
        body = b""
        for i in range(7):
            body += f"--{boundary}\r\nContent-Disposition: form-data; name=\"opt{i}\"\r\n\r\nx\r\n".encode()
        body += f"--{boundary}--\r\n".encode()
        r = self.import_(body, content_type=f"multipart/form-data; boundary={boundary}")
        doc = self.assertProblem(r, 413, "too_many_form_parts")
        self.assertEqual(doc["limit"], 6)

    def test_features_per_import(self):
        rows = self.s.sql(
            "SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(json_build_object('type', 'Feature', "
            "'properties', json_build_object('code', code, 'name', name), 'geometry', ST_AsGeoJSON(geom, 9)::json) ORDER BY code)) "
            f"FROM areas WHERE parent_code = '{INSIDE_VILLAGE}' AND valid_to IS NULL")
        fc = json.loads(rows[0][0])
        self.assertGreater(len(fc["features"]), 2)
        r = self.import_(json.dumps(fc).encode(), level="grid", parent=INSIDE_VILLAGE, mode="upsert", dry_run="true")
        doc = self.assertProblem(r, 413, "too_many_features")
        self.assertEqual(doc["limit"], 2)
        fc["features"] = fc["features"][:2]
        r = self.import_(json.dumps(fc).encode(), level="grid", parent=INSIDE_VILLAGE, mode="upsert", dry_run="true")
        self.assertEqual(r.status, 200, r)

    def test_a_geopackage_view_is_counted_as_what_it_expands_to(self):
        # One row in a table, a view multiplying it a thousandfold: a few KB on the wire.
        x, y = point_in(self, self.grids_of(INSIDE_VILLAGE)[0])
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "view.gpkg")
            db = sqlite3.connect(path)
            db.executescript("""
                PRAGMA application_id = 1196444487;
                CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
                  organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
                  description TEXT);
                CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT,
                  description TEXT DEFAULT '', last_change DATETIME, min_x DOUBLE, min_y DOUBLE, max_x DOUBLE,
                  max_y DOUBLE, srs_id INTEGER);
                CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
                  geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL);
                CREATE TABLE base (fid INTEGER PRIMARY KEY, code TEXT, name TEXT, geom BLOB);
                CREATE VIEW grids AS SELECT base.fid * 1000 + n.i AS fid, base.code || n.i AS code, base.name AS name,
                  base.geom AS geom FROM base, (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c
                  WHERE i < 1000) SELECT i FROM c) n;
                INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', NULL);
                INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', NULL);
            """)
            db.execute("INSERT INTO gpkg_spatial_ref_sys VALUES ('CGCS2000', 4490, 'EPSG', 4490, ?, NULL)",
                       ('GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",'
                        '6378137,298.257222101]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],'
                        'AUTHORITY["EPSG","4490"]]',))
            db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES ('grids', 'features', 'grids', 4490)")
            db.execute("INSERT INTO gpkg_geometry_columns VALUES ('grids', 'geom', 'POLYGON', 4490, 0, 0)")
            db.execute("INSERT INTO base VALUES (1, '3305211100029', 'v', ?)", (gpkg_polygon(x, y, 1e-5),))
            db.commit()
            db.close()
            with open(path, "rb") as f:
                data = f.read()
        self.assertLess(len(data), 64 * 1024)
        r = self.import_(data, content_type="application/geopackage+sqlite3", level="grid", parent=INSIDE_VILLAGE,
                         dry_run="true")
        doc = self.assertProblem(r, 413, "too_many_features")
        self.assertEqual(doc["limit"], 2)


class Busy(ApiTestCase):
    server_env = {"WANGGE_MAX_EXPENSIVE": "1", "WANGGE_DB_WORKERS": "6"}

    def test_a_full_gate_answers_busy_with_retry_after(self):
        def export():
            # The export is a binary file: read it as bytes (the harness decodes bodies as text).
            req = urllib.request.Request(self.s.base + "/v1/export?level=grid",
                                         headers={"Authorization": "Bearer " + self.admin})
            try:
                with urllib.request.urlopen(req, timeout=120) as resp:
                    resp.read()
                    return Reply(resp.status, resp.headers, "")
            except urllib.error.HTTPError as e:
                return Reply(e.code, e.headers, e.read().decode("utf-8"))
        replies = race(*[export] * 6)
        statuses = sorted(r.status for r in replies)
        self.assertIn(200, statuses, replies)
        busy = [r for r in replies if r.status != 200]
        self.assertTrue(busy, f"six exports at once with WANGGE_MAX_EXPENSIVE=1 were all admitted: {statuses}")
        for r in busy:
            self.assertProblem(r, 503, "busy")
            self.assertGreater(int(r.header("Retry-After")), 0)
        # Every pass was given back: the exports one after another are all admitted.
        for _ in range(3):
            self.assertEqual(export().status, 200)
        # Cheap requests never meet the gate.
        self.assertEqual(self.get("/v1/areas?limit=1").status, 200)


class Timeout(ApiTestCase):
    server_env = {"WANGGE_STATEMENT_TIMEOUT_MS": "400"}

    # The parse statements of AreaStore::prepare_geometry and the toolkit read an SQL error as
    # unreadable input (422), but let a statement timeout through to the ladder (503).
    def test_a_statement_timeout_is_503_timeout(self):
        # A redraw with a ring of many vertices around a grid: the neighbours' adjustment runs
        # longer than the statement limit.
        grid = self.grids_of(INSIDE_VILLAGE)[0]
        x, y = point_in(self, grid)
        _, etag = self.area(grid)
        ring = circle(x, y, 3e-3, 150000)
        r = self.patch(grid, {"geometry": {"type": "Polygon", "coordinates": [ring]}}, etag,
                       query="?adjust=neighbours&dry_run=true")
        self.assertProblem(r, 503, "timeout")
        self.assertGreater(int(r.header("Retry-After")), 0)
        self.assertEqual(self.get("/health").status, 200)


if __name__ == "__main__":
    unittest.main()
