"""Bad requests: oversize bodies (413), malformed JSON (400), wrong media type (415), malformed query
parameters (400 with stable codes), and the shape of every problem document."""
import json
import unittest

from harness import ApiTestCase

GRID = "330521104002001"
VILLAGE = "330521104002"


class Errors(ApiTestCase):
    server_env = {"WANGGE_MAX_BODY_MB": "1"}

    def test_oversize_body(self):
        geometry = self.area(GRID)[0]["geometry"]
        feature = self.feature(VILLAGE + "901", "大", "grid", VILLAGE, geometry,
                               attributes={"padding": "x" * (1536 * 1024)})
        raw = json.dumps(feature)
        self.assertGreater(len(raw), 1_500_000)
        doc = self.assertProblem(self.s.request("POST", "/v1/areas", raw=raw, token=self.admin), 413, "payload_too_large")
        self.assertIn("1 MiB", doc["detail"])
        _, etag = self.area(GRID)
        self.assertProblem(self.s.request("PATCH", "/v1/areas/" + GRID, raw=json.dumps({"properties": {"name": "y" * 1_600_000}}),
                                          token=self.admin, headers={"If-Match": etag}), 413, "payload_too_large")
        # Just under the limit is fine (and then judged on its content).
        feature["properties"]["attributes"]["padding"] = "x" * (900 * 1024)
        r = self.s.request("POST", "/v1/areas", feature, token=self.admin)
        self.assertProblem(r, 409, "overlaps_sibling")
        # The server is still well.
        self.assertEqual(self.s.request("GET", "/health").status, 200)

    def test_far_oversize_body_is_a_problem_too(self):
        # Well beyond the limit (here 3 MB against 1 MiB) the answer must still be a problem document.
        raw = b'{"name": "' + b"x" * 3_000_000 + b'"}'
        try:
            r = self.s.request("POST", "/v1/workers", raw=raw, token=self.admin)
        except OSError as e:  # a reset connection is no answer at all
            self.fail(f"connection failed instead of a 413: {e!r}")
        self.assertProblem(r, 413, "payload_too_large")
        self.assertEqual(self.s.request("GET", "/health").status, 200)

    def test_malformed_json(self):
        _, etag = self.area(GRID)
        for raw in ('{"type": "Feature",', "not json", "{'single': 'quotes'}", '{"a": 1} trailing', ""):
            with self.subTest(raw=raw):
                doc = self.assertProblem(self.s.request("POST", "/v1/areas", raw=raw, token=self.admin), 400, "malformed_json")
                self.assertNotIn("parse_error", doc["detail"])
                self.assertProblem(self.s.request("PATCH", "/v1/areas/" + GRID, raw=raw, token=self.admin,
                                                  headers={"If-Match": etag}), 400, "malformed_json")
                self.assertProblem(self.s.request("POST", "/v1/workers", raw=raw, token=self.admin), 400, "malformed_json")
                self.assertProblem(self.s.request("PUT", f"/v1/areas/{GRID}/workers", raw=raw, token=self.admin),
                                   400, "malformed_json")
        # Invalid UTF-8 inside a string.
        self.assertProblem(self.s.request("POST", "/v1/workers", raw=b'{"name": "\xff\xfe", "area": "330521104002"}',
                                          token=self.admin), 400, "malformed_json")
        self.assertEqual(self.area(GRID)[1], etag)

    def test_wrong_content_type(self):
        body = json.dumps({"name": "x", "area": VILLAGE})
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"):
            with self.subTest(ctype=ctype):
                self.assertProblem(self.s.request("POST", "/v1/workers", raw=body, token=self.admin, content_type=ctype),
                                   415, "unsupported_media_type")
                self.assertProblem(self.s.request("POST", "/v1/areas", raw=body, token=self.admin, content_type=ctype),
                                   415, "unsupported_media_type")
        # No Content-Type at all.
        self.assertProblem(self.s.request("POST", "/v1/workers", raw=body, token=self.admin, content_type=None),
                           415, "unsupported_media_type")
        # The JSON family is accepted, parameters and case do not matter.
        for ctype in ("application/json; charset=utf-8", "Application/JSON", "application/geo+json"):
            r = self.s.request("POST", "/v1/workers", raw=body, token=self.admin, content_type=ctype)
            self.assertEqual(r.status, 201, (ctype, r))

    def test_bad_query_parameters(self):
        cases = [
            ("/v1/areas?limit=abc", "invalid_parameter", "limit"),
            ("/v1/areas?limit=0", "invalid_parameter", "limit"),
            ("/v1/areas?limit=10001", "invalid_parameter", "limit"),
            ("/v1/areas?limit=1.5", "invalid_parameter", "limit"),
            ("/v1/areas?offset=-1", "invalid_parameter", "offset"),
            ("/v1/areas?offset=x", "invalid_parameter", "offset"),
            ("/v1/areas?at=yesterday", "invalid_parameter", "at"),
            ("/v1/areas?at=2026-13-01T00:00:00Z", "invalid_parameter", "at"),
            ("/v1/areas?at=2026-01-01", "invalid_parameter", "at"),
            ("/v1/areas?bbox=1,2", "invalid_parameter", "bbox"),
            ("/v1/areas?bbox=1,2,3,4,5", "invalid_parameter", "bbox"),
            ("/v1/areas?bbox=a,b,c,d", "invalid_parameter", "bbox"),
            ("/v1/areas?bbox=120,31,119,30", "invalid_parameter", "bbox"),
            ("/v1/areas?bbox=nan,1,2,3", "invalid_parameter", "bbox"),
            ("/v1/areas?level=town", "invalid_parameter", "level"),
            ("/v1/areas?crs=EPSG:2154", "unsupported_crs", "2154"),
            ("/v1/areas?crs=WGS84", "unsupported_crs", "WGS84"),
            (f"/v1/areas/{GRID}?crs=EPSG:2154", "unsupported_crs", "2154"),
            (f"/v1/areas/{GRID}?at=yesterday", "invalid_parameter", "at"),
            (f"/v1/areas/{VILLAGE}/children?at=yesterday", "invalid_parameter", "at"),
            (f"/v1/areas/{VILLAGE}/children?crs=EPSG:2154", "unsupported_crs", "2154"),
            (f"/v1/areas/{GRID}/history?crs=EPSG:2154", "unsupported_crs", "2154"),
        ]
        for path, code, mention in cases:
            with self.subTest(path=path):
                doc = self.assertProblem(self.get(path), 400, code)
                self.assertIn(mention, doc["detail"])

    def test_bad_write_parameters(self):
        _, etag = self.area(GRID)
        self.assertProblem(self.patch(GRID, {"properties": {"name": "x"}}, etag, query="?repair=maybe"), 400, "invalid_parameter")
        self.assertProblem(self.patch(GRID, {"properties": {"name": "x"}}, etag, query="?crs=EPSG:2154"), 400, "unsupported_crs")
        self.assertEqual(self.area(GRID)[1], etag)

    def test_crs_spellings(self):
        for crs in ("EPSG:4490", "4490", "urn:ogc:def:crs:EPSG::4490", "http://www.opengis.net/def/crs/EPSG/0/4490",
                    "http://www.opengis.net/def/crs/OGC/1.3/CRS84", "EPSG:4326", "EPSG:4527", "EPSG:4528", "EPSG:4529",
                    "EPSG:4548", "EPSG:4550"):
            with self.subTest(crs=crs):
                r = self.get(f"/v1/areas/{GRID}?crs={crs}")
                self.assertEqual(r.status, 200, r)

    def test_wrong_json_types(self):
        # Valid JSON of the wrong shape is a client error, never a 500.
        geometry = self.area(GRID)[0]["geometry"]
        bodies = [
            {"type": "Feature", "properties": None, "geometry": geometry},
            {"type": "Feature", "properties": "text", "geometry": geometry},
            {"type": "Feature", "properties": {"code": 1, "name": "x", "level": "grid", "parent": VILLAGE}, "geometry": geometry},
            {"type": "Feature", "properties": {"code": "330521104002901", "name": "x", "level": "grid", "parent": 5},
             "geometry": geometry},
            {"type": 5, "properties": {}, "geometry": geometry},
            {"type": "Feature", "properties": {"code": "330521104002901", "name": "x", "level": "grid", "parent": VILLAGE},
             "geometry": {"type": "Polygon", "coordinates": "nope"}},
            {"type": "Feature", "properties": {"code": "330521104002901", "name": "x", "level": "grid", "parent": VILLAGE},
             "geometry": {"type": "Polygon", "coordinates": [[1, 2, 3, 4]]}},
            {"type": "Feature", "properties": {"code": "330521104002901", "name": "x", "level": "grid", "parent": VILLAGE},
             "geometry": {"type": "MultiPolygon", "coordinates": [[[[1e400, 0], [1, 0], [1, 1], [1e400, 0]]]]}},
            "a string", 42, None,
        ]
        for body in bodies:
            with self.subTest(body=str(body)[:100]):
                r = self.s.request("POST", "/v1/areas", raw=json.dumps(body).replace("Infinity", "1e400"), token=self.admin)
                self.assertIn(r.status, (400, 422), r)
                self.assertProblem(r, r.status, r.json["code"])
                self.assertNotEqual(r.json["code"], "internal")

    def test_invalid_utf8_in_the_path(self):
        # No area has a code that is not even UTF-8: a client error, not a 500.
        for path in ("/v1/areas/%ff%fe", "/v1/areas/%ff%fe/history", "/v1/areas/%ff/children", "/v1/areas/%c3%28/workers"):
            with self.subTest(path=path):
                self.assertProblem(self.get(path), 400, "invalid_encoding")

    def test_at_outside_what_the_database_can_hold(self):
        for at in ("0000-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00"):
            with self.subTest(at=at):
                r = self.get(f"/v1/areas/{GRID}?at={at.replace('+', '%2B')}")
                self.assertIn((r.status, r.json.get("code")), ((400, "invalid_parameter"), (404, "area_not_found")), r)
                self.assertProblem(r, r.status, r.json["code"])
                r = self.get(f"/v1/areas?at={at.replace('+', '%2B')}")
                if r.status == 200:
                    self.assertEqual(r.json["numberMatched"], 0)
                else:
                    self.assertProblem(r, 400, "invalid_parameter")

    def test_impossible_dates_are_refused(self):
        for at in ("2026-02-31T00:00:00Z", "2026-04-31T12:00:00Z", "2026-01-01T00:00:00+99:99", "2026-01-01T24:00:00Z"):
            with self.subTest(at=at):
                self.assertProblem(self.get(f"/v1/areas?at={at.replace('+', '%2B')}"), 400, "invalid_parameter")

    def test_nul_characters_are_refused_not_truncated(self):
        # PostgreSQL text cannot hold U+0000: refuse it instead of storing a cut string (or failing with 500).
        grid = "330521104002002"
        _, etag = self.area(grid)
        for props in ({"name": "前\u0000后"}, {"attributes": {"k": "a\u0000b"}}, {"attributes": {"a\u0000": 1}}):
            with self.subTest(props=props):
                self.assertProblem(self.patch(grid, {"properties": props}, "*"), 422, "invalid_property")
        for body in ({"name": "前\u0000后", "area": VILLAGE}, {"name": "ok", "area": VILLAGE, "attributes": {"x": "\u0000"}},
                     {"name": "ok2", "area": VILLAGE, "phone": "138\u00001"}):
            with self.subTest(body=body):
                self.assertProblem(self.s.request("POST", "/v1/workers", body, token=self.admin), 422, "invalid_property")
        with self.subTest(check="nothing stored"):
            self.assertEqual(self.s.sql("SELECT count(*) FROM workers WHERE name IN ('前', 'ok', 'ok2')"), [["0"]])
            self.assertEqual(self.area(grid)[1], etag, "a name or attribute with U+0000 was stored")

    def test_unknown_area_in_every_sub_resource(self):
        for path in ("/v1/areas/330521104999", "/v1/areas/330521104999/children", "/v1/areas/330521104999/history",
                     "/v1/areas/330521104999001/workers"):
            self.assertProblem(self.get(path), 404, "area_not_found")

    def test_error_catalogue_lists_the_codes(self):
        r = self.s.request("GET", "/api/errors")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/markdown"))
        for code in ("not_found", "method_not_allowed", "unauthorized", "role_forbidden", "outside_scope",
                     "area_not_found", "area_retired", "code_taken", "code_retired", "invalid_code", "invalid_geometry",
                     "invalid_geometry_type", "overlaps_sibling", "outside_parent", "children_outside", "has_children",
                     "precondition_required", "precondition_failed", "payload_too_large", "malformed_json",
                     "unsupported_media_type", "invalid_parameter", "unsupported_crs", "database_unavailable",
                     "worker_not_found", "unknown_area", "unknown_worker", "not_a_grid", "invalid_body", "invalid_feature",
                     "invalid_geojson", "missing_parent", "invalid_level", "parent_not_found", "parent_level_mismatch", "immutable_property", "unknown_property", "invalid_property",
                     "missing_property", "internal"):
            self.assertIn(code, r.body, f"/api/errors does not describe {code}")

    def test_problem_type_points_at_the_catalogue(self):
        doc = self.assertProblem(self.get("/v1/areas?limit=abc"), 400, "invalid_parameter")
        self.assertEqual(doc["type"], "/api/errors#invalid_parameter")
        self.assertEqual(doc["title"], "Bad Request")
        self.assertEqual(doc["status"], 400)
        self.assertEqual(set(doc), {"type", "title", "status", "detail", "code"})


if __name__ == "__main__":
    unittest.main()
