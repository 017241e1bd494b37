"""Reading: the public endpoints, GET /v1/areas (filters, paging, crs), one area, children, history,
unknown paths and methods. Nothing here writes, so every test shares one server."""
import json
import unittest
import urllib.parse

from harness import ApiTestCase

COUNTY = "330521"
TOWNSHIP = "330521001"
VILLAGE = "330521001001"
GRID = "330521001001001"


class PublicEndpoints(ApiTestCase):
    def test_health(self):
        r = self.s.request("GET", "/health")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("application/json"))
        self.assertEqual(r.json, {"status": "ok", "database": "ok"})

    def test_health_head_has_no_body(self):
        r = self.s.request("HEAD", "/health")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, "")

    def test_openapi_document(self):
        r = self.s.request("GET", "/api")
        self.assertEqual(r.status, 200, r)
        self.assertIn("openapi", r.header("Content-Type"))
        self.assertTrue(r.body.startswith("openapi: 3"), r.body[:100])
        # The description covers every endpoint of the registry.
        for path in ("/health", "/v1/areas:", "/v1/areas/{code}:", "/v1/areas/{code}/children:",
                     "/v1/areas/{code}/history:", "/v1/areas/{code}/workers:", "/v1/workers:", "/v1/workers/{id}:"):
            self.assertIn(path, r.body, f"OpenAPI document does not describe {path}")
        for schema_word in ("application/problem+json", "If-Match", "ETag", "bbox", "crs"):
            self.assertIn(schema_word, r.body)

    def test_landing_page(self):
        r = self.s.request("GET", "/")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/html"))
        self.assertIn("<html", r.body)
        self.assertIn('href="/api"', r.body)

    def test_no_auth_needed_for_public_endpoints(self):
        for path in ("/", "/health", "/api"):
            self.assertEqual(self.s.request("GET", path).status, 200, path)

    def test_cache_control_no_store_everywhere(self):
        for method, path, token in (("GET", "/health", None), ("GET", "/v1/areas?limit=1", self.admin),
                                    ("GET", "/v1/areas/" + GRID, self.admin), ("GET", "/nope", None),
                                    ("GET", "/v1/areas", None), ("HEAD", "/health", None)):
            with self.subTest(method=method, path=path):
                r = self.s.request(method, path, token=token)
                self.assertEqual(r.header("Cache-Control"), "no-store", r.headers)

    def test_head_on_resources(self):
        r = self.s.request("HEAD", "/v1/areas/" + GRID, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, "")
        self.assertEqual(r.header("ETag"), f'"{GRID}-v1"')
        r = self.s.request("HEAD", "/v1/areas?limit=1", token=self.admin)
        self.assertEqual((r.status, r.body), (200, ""))

    def test_unknown_paths_are_404_problems(self):
        for path in ("/nope", "/v1", "/v1/nothing", "/v1/areas/%s/nothing" % GRID, "/v1/areas/%s/history/x" % GRID,
                     "/v1/workers/1/x", "/health/x"):
            r = self.s.request("GET", path, token=self.admin)
            doc = self.assertProblem(r, 404, "not_found")
            self.assertIn("no resource", doc["detail"])

    def test_wrong_method_is_405_with_allow(self):
        cases = [("POST", "/health", "GET"), ("DELETE", "/api", "GET"), ("PUT", "/", "GET"),
                 ("PATCH", "/v1/areas", "GET, POST"), ("DELETE", "/v1/areas", "GET, POST"),
                 ("POST", "/v1/areas/" + GRID, "GET, PUT, PATCH, DELETE"),
                 # PUT is the redistricting of a village (the toolkit): the old answer left it out.
                 ("POST", "/v1/areas/%s/children" % VILLAGE, "GET, PUT"),
                 ("DELETE", "/v1/areas/%s/history" % GRID, "GET"),
                 ("POST", "/v1/areas/%s/workers" % GRID, "GET, PUT"),
                 ("DELETE", "/v1/workers", "GET, POST"), ("DELETE", "/v1/workers/1", "GET")]
        for method, path, allow in cases:
            with self.subTest(method=method, path=path):
                r = self.s.request(method, path, token=self.admin, body={} if method in ("POST", "PUT", "PATCH") else None)
                doc = self.assertProblem(r, 405, "method_not_allowed")
                self.assertEqual(doc.get("allow"), allow)
                # RFC 9110 15.5.6: a 405 response MUST carry an Allow header.
                self.assertEqual(r.header("Allow"), allow, f"{method} {path}: 405 without an Allow header")


class AreaList(ApiTestCase):
    def current_codes(self, where="TRUE"):
        return [r[0] for r in self.s.sql(f"SELECT code FROM areas WHERE valid_to IS NULL AND {where} ORDER BY code")]

    def test_default_list_is_a_feature_collection(self):
        r = self.get("/v1/areas")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("application/geo+json"))
        doc = r.json
        self.assertEqual(doc["type"], "FeatureCollection")
        self.assertEqual(doc["numberMatched"], 412)
        self.assertEqual(doc["numberReturned"], 100)  # default limit
        self.assertEqual(len(doc["features"]), 100)
        codes = [f["properties"]["code"] for f in doc["features"]]
        self.assertEqual(codes, self.current_codes()[:100])
        self.assertEqual(codes[0], COUNTY)
        self.assertEqual(doc["features"][0]["properties"]["name"], "德清县")
        rels = {l["rel"] for l in doc["links"]}
        self.assertEqual(rels, {"self", "next"})

    def test_level_filter(self):
        expect = {"county": 1, "township": 10, "village": 101, "grid": 300}
        for level, n in expect.items():
            doc = self.get(f"/v1/areas?level={level}&limit=1000").json
            self.assertEqual(doc["numberMatched"], n, level)
            self.assertEqual(doc["numberReturned"], n, level)
            self.assertTrue(all(f["properties"]["level"] == level for f in doc["features"]))
        doc = self.get("/v1/areas?level=microgrid").json
        self.assertEqual((doc["numberMatched"], doc["numberReturned"], doc["features"]), (0, 0, []))

    def test_parent_filter(self):
        doc = self.get(f"/v1/areas?parent={COUNTY}").json
        codes = [f["properties"]["code"] for f in doc["features"]]
        self.assertEqual(codes, ["330521001", "330521002", "330521003", "330521004", "330521101", "330521102",
                                 "330521103", "330521104", "330521110", "330521113"])
        names = [f["properties"]["name"] for f in doc["features"]]
        self.assertEqual(names[:4], ["武康街道", "舞阳街道", "阜溪街道", "下渚湖街道"])
        doc = self.get(f"/v1/areas?parent={VILLAGE}&level=grid").json
        self.assertEqual([f["properties"]["code"] for f in doc["features"]], self.grids_of(VILLAGE))
        self.assertEqual(doc["numberMatched"], 3)

    def test_paging_next_link_walks_everything(self):
        seen = []
        url = "/v1/areas?level=grid&limit=70"
        pages = 0
        while url:
            r = self.s.request("GET", url, token=self.admin)
            self.assertEqual(r.status, 200, r)
            doc = r.json
            pages += 1
            self.assertEqual(doc["numberMatched"], 300)
            self.assertEqual(doc["numberReturned"], len(doc["features"]))
            seen += [f["properties"]["code"] for f in doc["features"]]
            links = {l["rel"]: l for l in doc["links"]}
            self.assertIn("self", links)
            if pages > 1:
                self.assertIn("prev", links)
            nxt = links.get("next")
            if nxt:
                self.assertEqual(nxt["type"], "application/geo+json")
                parts = urllib.parse.urlsplit(nxt["href"])
                self.assertEqual(parts.netloc, f"127.0.0.1:{self.s.port}")
                q = urllib.parse.parse_qs(parts.query)
                self.assertEqual(q["level"], ["grid"])  # the filters travel along
                self.assertEqual(q["limit"], ["70"])
                url = nxt["href"]
            else:
                url = None
            self.assertLess(pages, 10)
        self.assertEqual(pages, 5)  # 70+70+70+70+20
        self.assertEqual(len(seen), 300)
        self.assertEqual(seen, self.current_codes("level = 'grid'"))

    def test_paging_with_bbox_and_at_in_the_links(self):
        import datetime
        at = (datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8)))).strftime("%Y-%m-%dT%H:%M:%S.%f+08:00")
        base = f"/v1/areas?level=grid&bbox=119.93,30.48,120.0,30.53&at={urllib.parse.quote(at, safe='')}"
        whole = self.get(base + "&limit=1000").json
        self.assertGreater(whole["numberMatched"], 10)
        seen, url = [], base + "&limit=4"
        while url:
            doc = self.s.request("GET", url, token=self.admin).json
            self.assertEqual(doc["numberMatched"], whole["numberMatched"])
            seen += [f["properties"]["code"] for f in doc["features"]]
            nxt = [l["href"] for l in doc["links"] if l["rel"] == "next"]
            url = nxt[0] if nxt else None
            self.assertLessEqual(len(seen), whole["numberMatched"])
        self.assertEqual(seen, [f["properties"]["code"] for f in whole["features"]])
        # The self link reproduces the page.
        page = self.get(base + "&limit=4&offset=4").json
        me = [l["href"] for l in page["links"] if l["rel"] == "self"][0]
        self.assertEqual(self.s.request("GET", me, token=self.admin).json["features"], page["features"])

    def test_limit_and_offset(self):
        all_grids = self.current_codes("level = 'grid'")
        doc = self.get("/v1/areas?level=grid&limit=5&offset=295").json
        self.assertEqual([f["properties"]["code"] for f in doc["features"]], all_grids[295:])
        self.assertEqual(doc["numberReturned"], 5)
        self.assertNotIn("next", {l["rel"] for l in doc["links"]})
        doc = self.get("/v1/areas?level=grid&limit=5&offset=300").json
        self.assertEqual((doc["numberMatched"], doc["numberReturned"], doc["features"]), (300, 0, []))
        doc = self.get("/v1/areas?level=grid&limit=1&offset=7").json
        self.assertEqual(doc["features"][0]["properties"]["code"], all_grids[7])

    def test_bbox_returns_areas_intersecting_it(self):
        # A small box in the middle of one grid: only that grid (and its ancestors) intersect it.
        cx, cy = map(float, self.s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas "
                                       f"WHERE code = '{GRID}') s")[0])
        bbox = f"{cx - 1e-5},{cy - 1e-5},{cx + 1e-5},{cy + 1e-5}"
        doc = self.get(f"/v1/areas?bbox={bbox}").json
        self.assertEqual([f["properties"]["code"] for f in doc["features"]], [COUNTY, TOWNSHIP, VILLAGE, GRID])
        # A larger box: exactly the areas whose geometry intersects it (not merely their bounding boxes).
        minx, miny, maxx, maxy = 119.975, 30.50, 119.99, 30.51
        expect = self.current_codes(f"level = 'grid' AND ST_Intersects(geom, ST_MakeEnvelope({minx},{miny},{maxx},{maxy},4490))")
        self.assertGreater(len(expect), 3)
        doc = self.get(f"/v1/areas?level=grid&bbox={minx},{miny},{maxx},{maxy}&limit=1000").json
        self.assertEqual([f["properties"]["code"] for f in doc["features"]], expect)
        # A tiny box inside the grid's bounding box but outside the grid itself (the grids are irregular):
        # the grid must not be in the answer, only the neighbour the box really touches.
        px, py = map(float, self.s.sql(
            f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Difference(ST_Envelope(geom), "
            f"ST_Buffer(geom, 0.00001))) p FROM areas WHERE code = '{GRID}') s")[0])
        minx, miny, maxx, maxy = px - 1e-6, py - 1e-6, px + 1e-6, py + 1e-6
        expect = self.current_codes(f"level = 'grid' AND ST_Intersects(geom, ST_MakeEnvelope({minx},{miny},{maxx},{maxy},4490))")
        self.assertNotIn(GRID, expect)
        doc = self.get(f"/v1/areas?level=grid&bbox={minx!r},{miny!r},{maxx!r},{maxy!r}").json
        self.assertEqual([f["properties"]["code"] for f in doc["features"]], expect,
                         "bbox must select areas whose geometry intersects it, not just their bounding box")
        self.assertEqual(doc["numberMatched"], len(expect))
        # Far away (Beijing): nothing.
        doc = self.get("/v1/areas?bbox=116.3,39.9,116.4,40.0").json
        self.assertEqual(doc["numberMatched"], 0)

    def test_crs_of_the_output(self):
        doc = self.get(f"/v1/areas?parent={VILLAGE}&crs=EPSG:3857").json
        first = doc["features"][0]
        x, y = first["geometry"]["coordinates"][0][0][0]
        ex, ey = map(float, self.s.sql(
            f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1), 3857) p "
            f"FROM areas WHERE code = '{first['properties']['code']}' AND valid_to IS NULL) s")[0])
        self.assertAlmostEqual(x, ex, delta=0.01)
        self.assertAlmostEqual(y, ey, delta=0.01)
        self.assertGreater(x, 13_000_000)  # metres, not degrees

    def test_list_at_a_time_before_the_sample(self):
        doc = self.get("/v1/areas?at=2000-01-01T00:00:00Z").json
        self.assertEqual((doc["numberMatched"], doc["features"]), (0, []))


class OneArea(ApiTestCase):
    def test_feature_with_etag(self):
        r = self.get("/v1/areas/" + GRID)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("application/geo+json"))
        self.assertEqual(r.header("ETag"), f'"{GRID}-v1"')
        f = r.json
        self.assertEqual(f["type"], "Feature")
        self.assertEqual(f["id"], GRID)
        p = f["properties"]
        self.assertEqual(p["code"], GRID)
        self.assertEqual(p["name"], "泰圩社区第1网格")
        self.assertEqual(p["level"], "grid")
        self.assertEqual(p["parent"], VILLAGE)
        self.assertEqual(p["version"], 1)
        self.assertIsNone(p["valid_to"])
        self.assertRegex(p["valid_from"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        self.assertEqual(f["geometry"]["type"], "MultiPolygon")
        expect = self.geojson(self.geom_of(GRID))
        self.assertEqual(f["geometry"]["coordinates"], expect["coordinates"])

    def test_levels_and_parents(self):
        for code, level, parent, name in ((COUNTY, "county", None, "德清县"), (TOWNSHIP, "township", COUNTY, "武康街道"),
                                          (VILLAGE, "village", TOWNSHIP, "泰圩社区")):
            f, etag = self.area(code)
            self.assertEqual((f["properties"]["level"], f["properties"]["parent"], f["properties"]["name"]),
                             (level, parent, name))
            self.assertEqual(etag, f'"{code}-v1"')

    def test_unknown_area(self):
        self.assertProblem(self.get("/v1/areas/330521999999999"), 404, "area_not_found")
        self.assertProblem(self.get("/v1/areas/330521999999999/history"), 404, "area_not_found")
        self.assertProblem(self.get("/v1/areas/330521999999999/children"), 404, "area_not_found")

    def test_crs_4549_output_is_easting_northing(self):
        f = self.get(f"/v1/areas/{GRID}?crs=EPSG:4549").json
        x, y = f["geometry"]["coordinates"][0][0][0]
        self.assertTrue(350_000 < x < 600_000, x)       # easting near the 120°E central meridian
        self.assertTrue(3_300_000 < y < 3_450_000, y)   # northing at 30.5°N
        ex, ey = map(float, self.s.sql(
            f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1), 4549) p "
            f"FROM areas WHERE code = '{GRID}') s")[0])
        self.assertAlmostEqual(x, ex, delta=0.01)
        self.assertAlmostEqual(y, ey, delta=0.01)

    def test_children(self):
        r = self.get(f"/v1/areas/{VILLAGE}/children")
        self.assertEqual(r.status, 200, r)
        doc = r.json
        self.assertEqual(doc["type"], "FeatureCollection")
        self.assertEqual([f["properties"]["code"] for f in doc["features"]], self.grids_of(VILLAGE))
        self.assertEqual(doc["numberMatched"], 3)
        doc = self.get(f"/v1/areas/{COUNTY}/children").json
        self.assertEqual(doc["numberMatched"], 10)
        self.assertTrue(all(f["properties"]["parent"] == COUNTY for f in doc["features"]))
        doc = self.get(f"/v1/areas/{GRID}/children").json
        self.assertEqual((doc["numberMatched"], doc["features"]), (0, []))

    def test_history_in_another_crs(self):
        v = self.get(f"/v1/areas/{GRID}/history?crs=EPSG:3857").json["versions"][0]
        x, y = v["geometry"]["coordinates"][0][0][0]
        self.assertTrue(13_300_000 < x < 13_400_000 and 3_500_000 < y < 3_600_000, (x, y))

    def test_unscoped_viewer_reads_all_writes_nothing(self):
        viewer = self.s.token("viewer", name="all-viewer")
        self.assertEqual(self.get("/v1/areas", viewer).json["numberMatched"], 412)
        self.assertEqual(self.get("/v1/areas/" + GRID, viewer).status, 200)
        self.assertProblem(self.patch(GRID, {"properties": {"name": "x"}}, f'"{GRID}-v1"', viewer), 403, "role_forbidden")

    def test_history_of_an_unchanged_area(self):
        r = self.get(f"/v1/areas/{GRID}/history")
        self.assertEqual(r.status, 200, r)
        doc = r.json
        self.assertEqual(len(doc["versions"]), 1)
        v = doc["versions"][0]
        self.assertEqual((v["type"], v["properties"]["version"], v["properties"]["name"]), ("Feature", 1, "泰圩社区第1网格"))


if __name__ == "__main__":
    unittest.main()
