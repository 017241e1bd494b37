"""Geometry rules on write: invalid geometry with a location, ?repair=true, overlaps with siblings,
staying inside the parent, and input in other CRSs (Web Mercator, Gauss-Krüger) stored in 4490."""
import json
import unittest

from harness import ApiTestCase


def bow_tie(cx, cy, d):
    """A bow-tie (figure of eight) centred on (cx, cy): its edges cross at the centre."""
    return {"type": "Polygon", "coordinates": [[[cx - d, cy - d], [cx + d, cy + d], [cx + d, cy - d], [cx - d, cy + d],
                                                [cx - d, cy - d]]]}


class InvalidGeometry(ApiTestCase):
    village = "330521003001"

    def setUp(self):
        self.code = self.village + "901"  # never created: every geometry here is refused

    def post(self, geometry, query=""):
        return self.post_area(self.feature(self.code, "测试", "grid", self.village, geometry), query=query)

    def centre(self, code):
        return map(float, self.s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas "
                                     f"WHERE code = '{code}' AND valid_to IS NULL) s")[0])

    def test_bow_tie_reports_the_crossing(self):
        doc = self.assertProblem(self.post(bow_tie(119.97, 30.53, 0.001)), 422, "invalid_geometry")
        self.assertEqual(doc["reason"], "Self-intersection")
        self.assertEqual(len(doc["location"]), 2)
        self.assertAlmostEqual(doc["location"][0], 119.97, places=9)
        self.assertAlmostEqual(doc["location"][1], 30.53, places=9)
        self.assertIn("repair=true", doc.get("hint", ""))
        self.assertEqual(self.s.sql(f"SELECT count(*) FROM areas WHERE code = '{self.code}'"), [["0"]])

    def test_self_touching_ring(self):
        # The ring passes through (119.9545, 30.5505) twice: it touches itself at that point.
        ring = [[119.952, 30.549], [119.9545, 30.5505], [119.957, 30.549], [119.957, 30.552], [119.9545, 30.5505],
                [119.952, 30.552], [119.952, 30.549]]
        doc = self.assertProblem(self.post({"type": "Polygon", "coordinates": [ring]}), 422, "invalid_geometry")
        self.assertIn("Self-intersection", doc["reason"])
        self.assertEqual(doc["location"], [119.9545, 30.5505])

    def test_unclosed_ring(self):
        ring = [[119.952, 30.549], [119.957, 30.549], [119.957, 30.552], [119.952, 30.552], [119.9521, 30.5491]]
        doc = self.assertProblem(self.post({"type": "Polygon", "coordinates": [ring]}), 422, "invalid_geometry")
        self.assertEqual(doc["reason"], "Ring not closed")
        self.assertEqual(doc["location"], [[119.952, 30.549], [119.9521, 30.5491]])  # first and last positions
        # Also inside a MultiPolygon, and even with ?repair=true (structure is not repaired).
        closed = ring[:-1] + [ring[0]]
        multi = {"type": "MultiPolygon", "coordinates": [[closed], [ring]]}
        doc = self.assertProblem(self.post(multi, "?repair=true"), 422, "invalid_geometry")
        self.assertEqual(doc["reason"], "Ring not closed")
        self.assertIn("polygon 1", doc["detail"])

    def test_too_few_points(self):
        ring = [[119.952, 30.549], [119.957, 30.549], [119.952, 30.549]]
        doc = self.assertProblem(self.post({"type": "Polygon", "coordinates": [ring]}), 422, "invalid_geometry")
        self.assertEqual(doc["reason"], "Too few points")
        self.assertEqual(doc["location"], [119.952, 30.549])

    def test_hole_outside_shell(self):
        shell = [[119.952, 30.549], [119.957, 30.549], [119.957, 30.552], [119.952, 30.552], [119.952, 30.549]]
        hole = [[119.96, 30.56], [119.961, 30.56], [119.961, 30.561], [119.96, 30.56]]
        doc = self.assertProblem(self.post({"type": "Polygon", "coordinates": [shell, hole]}), 422, "invalid_geometry")
        self.assertEqual(doc["reason"], "Hole lies outside shell")
        self.assertEqual(len(doc["location"]), 2)

    def test_not_polygonal_or_not_geojson(self):
        self.assertProblem(self.post({"type": "Point", "coordinates": [119.95, 30.55]}), 422, "invalid_geometry_type")
        self.assertProblem(self.post({"type": "LineString", "coordinates": [[119.95, 30.55], [119.96, 30.55]]}),
                           422, "invalid_geometry_type")
        self.assertProblem(self.post({"type": "Polygon", "coordinates": [[["a", 30.55], [119.96, 30.55], [119.96, 30.56],
                                                                          ["a", 30.55]]]}), 400, "invalid_geojson")
        # Valid GeoJSON, but an empty area: a rule broken, not a syntax error.
        self.assertEqual(self.assertProblem(self.post({"type": "Polygon", "coordinates": []}), 422, "invalid_geometry")["reason"], "Empty")
        self.assertProblem(self.post({"type": "Polygon"}), 400, "invalid_geojson")
        self.assertProblem(self.post(None), 400, "invalid_geojson")
        self.assertProblem(self.post("POLYGON((0 0,1 0,1 1,0 0))"), 400, "invalid_geojson")

    def test_coordinates_outside_the_crs_are_rejected_not_500(self):
        # Latitude 100° does not exist; 1e300 overflows every measure; the GK point is outside the zone.
        cases = [({"type": "Polygon", "coordinates": [[[500, 100], [600, 100], [600, 200], [500, 100]]]}, ""),
                 ({"type": "Polygon", "coordinates": [[[1e300, 1e300], [2e300, 1e300], [2e300, 2e300], [1e300, 1e300]]]}, ""),
                 ({"type": "Polygon", "coordinates": [[[1e300, 1e300], [2e300, 1e300], [2e300, 2e300], [1e300, 1e300]]]},
                  "?crs=EPSG:4549")]
        for geometry, query in cases:
            with self.subTest(geometry=str(geometry)[:60], query=query):
                self.assertProblem(self.post(geometry, query), 422, "invalid_geometry")

    def test_invalid_geometry_on_patch_leaves_the_area_alone(self):
        grid = self.grids_of(self.village)[-1]
        before, etag = self.area(grid)
        cx, cy = self.centre(grid)
        doc = self.assertProblem(self.patch(grid, {"geometry": bow_tie(cx, cy, 0.0002)}, etag), 422, "invalid_geometry")
        self.assertAlmostEqual(doc["location"][0], cx, places=9)
        self.assertAlmostEqual(doc["location"][1], cy, places=9)
        after, etag2 = self.area(grid)
        self.assertEqual((after, etag2), (before, etag))

    def test_repair_makes_a_valid_multipolygon(self):
        village = "330521003002"
        grid = self.grids_of(village)[0]
        cx, cy = self.centre(grid)
        d = 0.0005
        fits = self.s.sql(f"SELECT ST_Contains({self.geom_of(grid)}, ST_MakeEnvelope({cx - d}, {cy - d}, {cx + d}, {cy + d}, 4490))")
        if fits != [["t"]]:
            d = 0.0002
        self.retire(grid)
        code = village + "901"
        feature = self.feature(code, "修复后的网格", "grid", village, bow_tie(cx, cy, d))
        self.assertProblem(self.post_area(feature), 422, "invalid_geometry")
        r = self.post_area(feature, query="?repair=true")
        self.assertEqual(r.status, 201, r)
        rep = r.json["report"]["repair"]
        self.assertEqual(rep["reason"], "Self-intersection")
        self.assertAlmostEqual(rep["location"][0], cx, places=9)
        self.assertAlmostEqual(rep["location"][1], cy, places=9)
        self.assertEqual(rep["polygons_after"], 2)  # two triangles
        self.assertEqual(rep["vertices_before"], 5)
        self.assertEqual(rep["vertices_after"], 8)
        self.assertGreater(rep["area_after_m2"], 1000)
        self.assertNotEqual(rep["area_before_m2"], rep["area_after_m2"])
        stored = self.s.sql(f"SELECT ST_IsValid(geom), ST_NumGeometries(geom), ST_GeometryType(geom), ST_SRID(geom), "
                            f"round(ST_Area(wg_to_metric(geom))::numeric) FROM areas WHERE code = '{code}'")
        self.assertEqual(stored[0][:4], ["t", "2", "ST_MultiPolygon", "4490"])
        self.assertAlmostEqual(float(stored[0][4]), rep["area_after_m2"], delta=1.0)
        # The Feature itself is a plain Feature: the report is only on the write's response.
        f, _ = self.area(code)
        self.assertNotIn("report", f)
        self.assertEqual(f["geometry"]["type"], "MultiPolygon")
        self.assertEqual(len(f["geometry"]["coordinates"]), 2)
        # The audit log keeps what the repair did.
        detail = json.loads(self.s.sql(f"SELECT detail FROM audit_log WHERE target = '{code}'")[0][0])
        self.assertEqual(detail["repair"]["reason"], "Self-intersection")

    def test_repair_on_patch(self):
        village = "330521003008"
        grid = self.grids_of(village)[0]
        _, etag = self.area(grid)
        cx, cy = self.centre(grid)
        # Repaired, the small bow-tie would leave most of the grid's ground to nobody: refused, unchanged.
        r = self.patch(grid, {"geometry": bow_tie(cx, cy, 0.0002)}, etag, query="?repair=true")
        self.assertProblem(r, 409, "gap_opened")
        self.assertEqual(self.s.sql(f"SELECT version FROM areas WHERE code = '{grid}' AND valid_to IS NULL"), [["1"]])
        # Without repair the same shape is refused for what it is.
        self.assertProblem(self.patch(grid, {"geometry": bow_tie(cx, cy, 0.0002)}, etag), 422, "invalid_geometry")

    def test_repair_of_a_shape_that_overlaps_is_still_refused(self):
        village = "330521003003"
        a, b = self.grids_of(village)[:2]
        # A bow-tie centred on a point of the boundary between a and b.
        px, py = map(float, self.s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Intersection("
                                       f"{self.geom_of(a)}, {self.geom_of(b)})) p) s")[0])
        r = self.post_area(self.feature(village + "901", "x", "grid", village, bow_tie(px, py, 0.0003)), query="?repair=true")
        doc = self.assertProblem(r, 409, "overlaps_sibling")
        self.assertEqual(doc["overlapping_codes"], sorted([a, b]))

    def test_valid_geometry_has_no_repair_report(self):
        village = "330521003004"
        grid = self.grids_of(village)[0]
        geometry = self.retire(grid)
        r = self.post_area(self.feature(village + "901", "x", "grid", village, geometry), query="?repair=true")
        self.assertEqual(r.status, 201, r)
        self.assertNotIn("repair", r.json.get("report", {}))


class Topology(ApiTestCase):
    def test_overlap_with_a_sibling(self):
        village = "330521003005"
        grids = self.grids_of(village)
        target = grids[1]
        inner = self.geojson(f"ST_Buffer({self.geom_of(target)}, -0.0001)")
        r = self.post_area(self.feature(village + "901", "重叠", "grid", village, inner))
        doc = self.assertProblem(r, 409, "overlaps_sibling")
        self.assertEqual(doc["overlapping_codes"], [target])
        self.assertEqual(len(doc["overlaps"]), 1)
        o = doc["overlaps"][0]
        self.assertEqual(o["code"], target)
        self.assertIn(o["overlap"]["type"], ("Polygon", "MultiPolygon"))
        expect_m2 = float(self.s.sql(f"SELECT ST_Area(wg_to_metric(ST_Buffer({self.geom_of(target)}, -0.0001)))")[0][0])
        self.assertAlmostEqual(o["area_m2"], expect_m2, delta=max(1.0, expect_m2 * 1e-6))
        same = self.s.sql(f"SELECT ST_Area(wg_to_metric(ST_SymDifference(ST_SetSRID(ST_GeomFromGeoJSON('{json.dumps(o['overlap'])}'), 4490), "
                          f"ST_Buffer({self.geom_of(target)}, -0.0001))))")
        self.assertLess(float(same[0][0]), 1.0)
        self.assertIn(target, doc["detail"])

    def test_overlap_names_every_sibling(self):
        village = "330521003006"
        whole = self.geojson(self.geom_of(village))
        doc = self.assertProblem(self.post_area(self.feature(village + "901", "全部", "grid", village, whole)),
                                 409, "overlaps_sibling")
        self.assertEqual(doc["overlapping_codes"], self.grids_of(village))
        self.assertEqual([o["code"] for o in doc["overlaps"]], self.grids_of(village))

    def test_overlap_is_checked_among_siblings_only(self):
        # A township-level polygon over the same ground is not a sibling of a grid: the parent rule applies.
        village = "330521003007"
        grid = self.grids_of(village)[0]
        other_village = "330521003008"
        elsewhere = self.geojson(f"ST_Buffer({self.geom_of(self.grids_of(other_village)[0])}, -0.0001)")
        doc = self.assertProblem(self.post_area(self.feature(village + "901", "外面", "grid", village, elsewhere)),
                                 422, "outside_parent")
        self.assertEqual(doc["parent"], village)
        expect_m2 = float(self.s.sql(f"SELECT ST_Area(wg_to_metric(ST_GeomFromGeoJSON('{json.dumps(elsewhere)}')))")[0][0])
        self.assertAlmostEqual(doc["outside_area_m2"], expect_m2, delta=max(1.0, expect_m2 * 1e-6))
        self.assertIn(doc["outside"]["type"], ("Polygon", "MultiPolygon"))
        self.assertIn("tolerance_m", doc)
        self.assertEqual(self.area(grid)[1], f'"{grid}-v1"')

    def test_partly_outside_the_parent(self):
        village = "330521004002"
        grid = self.grids_of(village)[0]
        # The grid's shape grown by ~30 m: it overlaps the siblings and leaves the village somewhere.
        grown = self.geojson(f"ST_Buffer({self.geom_of(grid)}, 0.0003)")
        self.retire(grid)
        r = self.post_area(self.feature(village + "901", "长大", "grid", village, grown))
        self.assertIn(r.status, (409, 422), r)
        outside = self.s.sql(f"SELECT ST_Area(wg_to_metric(ST_Difference(ST_SetSRID(ST_GeomFromGeoJSON('{json.dumps(grown)}'), 4490), "
                             f"{self.geom_of(village)})))")
        self.assertGreater(float(outside[0][0]), 100)
        doc = self.assertProblem(r, 422, "outside_parent")  # the parent rule is checked first
        self.assertAlmostEqual(doc["outside_area_m2"], float(outside[0][0]), delta=1.0)

    def test_grid_moved_to_other_parent_geometry_via_patch(self):
        village = "330521004003"
        grid = self.grids_of(village)[0]
        _, etag = self.area(grid)
        far = self.geojson(f"ST_Buffer({self.geom_of(self.grids_of('330521004004')[0])}, -0.0001)")
        doc = self.assertProblem(self.patch(grid, {"geometry": far}, etag), 422, "outside_parent")
        self.assertEqual(doc["parent"], village)
        self.assertEqual(self.area(grid)[1], etag)


class InputCrs(ApiTestCase):
    def roundtrip(self, village, srid, decimals):
        grid = self.grids_of(village)[0]
        original = self.s.sql(f"SELECT ST_AsHEXEWKB(geom) FROM areas WHERE code = '{grid}' AND valid_to IS NULL")[0][0]
        projected = json.loads(self.s.sql(f"SELECT ST_AsGeoJSON(ST_Transform('{original}'::geometry, {srid}), {decimals}, 0)")[0][0])
        self.retire(grid)
        code = village + "901"
        r = self.post_area(self.feature(code, "投影输入", "grid", village, projected), query=f"?crs=EPSG:{srid}")
        self.assertEqual(r.status, 201, r)
        # The answer speaks the CRS of the request.
        x, y = r.json["geometry"]["coordinates"][0][0][0]
        self.assertEqual(projected["type"], "MultiPolygon")
        self.assertAlmostEqual(x, projected["coordinates"][0][0][0][0], delta=0.01)
        self.assertAlmostEqual(y, projected["coordinates"][0][0][0][1], delta=0.01)
        # Stored in CGCS2000 geographic, within a millimetre or so of where it was.
        row = self.s.sql(f"SELECT ST_SRID(geom), ST_HausdorffDistance(geom, '{original}'::geometry), ST_NPoints(geom), "
                         f"ST_NPoints('{original}'::geometry) FROM areas WHERE code = '{code}' AND valid_to IS NULL")[0]
        self.assertEqual(row[0], "4490")
        self.assertLess(float(row[1]), 1e-7)
        self.assertEqual(row[2], row[3])
        f, _ = self.area(code)
        lon, lat = f["geometry"]["coordinates"][0][0][0]
        self.assertTrue(119.9 < lon < 120.1 and 30.4 < lat < 30.6, (lon, lat))
        return code, projected

    def test_web_mercator(self):
        _, projected = self.roundtrip("330521004005", 3857, 4)
        self.assertGreater(projected["coordinates"][0][0][0][0], 13_000_000)

    def test_gauss_kruger_zone_40(self):
        code, projected = self.roundtrip("330521004006", 4549, 4)
        e, n = projected["coordinates"][0][0][0][:2]
        self.assertTrue(350_000 < e < 600_000 and 3_300_000 < n < 3_450_000, (e, n))  # x = easting, y = northing
        # PATCH in the same CRS: the shape as a GIS in zone 40 holds it (0.1 mm rounding). Shrinking
        # it by 10 m would leave a gap among its siblings (409).
        _, etag = self.area(code)
        shrunk = json.loads(self.s.sql(f"SELECT ST_AsGeoJSON(ST_Buffer(ST_Transform({self.geom_of(code)}, 4549), -10), 4, 0)")[0][0])
        self.assertProblem(self.patch(code, {"geometry": shrunk}, etag, query="?crs=EPSG:4549"), 409, "gap_opened")
        shrunk = json.loads(self.s.sql(f"SELECT ST_AsGeoJSON(ST_Transform({self.geom_of(code)}, 4549), 4, 0)")[0][0])
        r = self.patch(code, {"geometry": shrunk}, etag, query="?crs=EPSG:4549")
        self.assertEqual(r.status, 200, r)
        area = float(self.s.sql(f"SELECT ST_Area(ST_Transform({self.geom_of(code)}, 4549))")[0][0])
        expect = float(self.s.sql(f"SELECT ST_Area(ST_GeomFromGeoJSON('{json.dumps(shrunk)}'))")[0][0])
        self.assertAlmostEqual(area, expect, delta=expect * 1e-6)

    def test_swapped_axes_land_elsewhere(self):
        # Northing, easting (EPSG axis order) in GeoJSON x/y is far away from Deqing: refused, not stored.
        village = "330521004007"
        grid = self.grids_of(village)[0]
        g = json.loads(self.s.sql(f"SELECT ST_AsGeoJSON(ST_Transform({self.geom_of(grid)}, 4549), 3, 0)")[0][0])
        swapped = {"type": g["type"], "coordinates": [[[[p[1], p[0]] for p in ring] for ring in poly] for poly in g["coordinates"]]}
        r = self.post_area(self.feature(village + "901", "x", "grid", village, swapped), query="?crs=EPSG:4549")
        self.assertEqual(r.status, 422, r)
        self.assertIn(r.json["code"], ("outside_parent", "invalid_geometry"))
        self.assertProblem(r, 422, r.json["code"])

    def test_unsupported_crs(self):
        village = "330521004008"
        doc = self.assertProblem(self.post_area(self.feature(village + "901", "x", "grid", village,
                                                             bow_tie(120, 30.5, 0.001)), query="?crs=EPSG:2154"),
                                 400, "unsupported_crs")
        self.assertIn("2154", doc["detail"])


if __name__ == "__main__":
    unittest.main()
