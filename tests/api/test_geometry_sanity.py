"""Degenerate geometry is refused: grids and micro-grids below the minimum size (area and mean
width) on create, on update and as the neighbour a redraw would shrink; projected input outside its
CRS's domain (Web Mercator wraps x around the globe) before anything is stored. A real small
micro-grid is still accepted."""
import json
import unittest

from harness import ApiTestCase

WORLD = 40075016.685578488  # 2πR of Web Mercator: x + WORLD is the same longitude, wrapped


class MinimumSize(ApiTestCase):
    def point_in(self, code):
        x, y = self.s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface({self.geom_of(code)}) p) s")[0]
        return float(x), float(y)

    def count(self, code):
        return int(self.s.sql(f"SELECT count(*) FROM areas WHERE code = '{code}'")[0][0])

    def test_sliver_grid_inside_a_sibling_is_refused(self):
        village = "330521101001"
        grid = self.grids_of(village)[0]
        x, y = self.point_in(grid)
        d = 5e-10  # a square of 1e-9°: about 1e-8 m², an overlap far below the 1 m² tolerance
        sliver = {"type": "Polygon", "coordinates": [[[x, y], [x + 2 * d, y], [x + 2 * d, y + 2 * d], [x, y + 2 * d], [x, y]]]}
        code = village + "901"
        doc = self.assertProblem(self.post_area(self.feature(code, "碎片", "grid", village, sliver)), 422, "area_too_small")
        self.assertEqual(doc["code"], "area_too_small")
        self.assertLess(doc["area_m2"], 1e-6)
        self.assertEqual(doc["min_area_m2"], 25)
        self.assertEqual(self.count(code), 0)

    def test_thin_strip_is_refused_by_its_width(self):
        village = "330521101002"
        grid = self.grids_of(village)[0]
        x, y = self.point_in(grid)
        self.retire(grid)
        # About 100 m long and 0.4 m wide: 40 m², above the area floor, but no area anyone patrols.
        w, length = 0.0000036, 0.001
        strip = {"type": "Polygon", "coordinates": [[[x, y], [x + length, y], [x + length, y + w], [x, y + w], [x, y]]]}
        code = village + "901"
        r = self.post_area(self.feature(code, "细条", "grid", village, strip))
        doc = self.assertProblem(r, 422, "area_too_small")
        self.assertGreater(doc["area_m2"], 25)
        self.assertLess(doc["width_m"], 1)
        self.assertEqual(self.count(code), 0)

    def test_update_to_a_sliver_is_refused(self):
        village = "330521101003"
        grid = self.grids_of(village)[0]
        x, y = self.point_in(grid)
        _, etag = self.area(grid)
        tiny = {"type": "Polygon", "coordinates": [[[x, y], [x + 1e-5, y], [x + 1e-5, y + 1e-5], [x, y + 1e-5], [x, y]]]}
        self.assertProblem(self.patch(grid, {"geometry": tiny}, etag), 422, "area_too_small")
        self.assertEqual(self.area(grid)[1], etag)

    def test_redraw_may_not_shrink_a_neighbour_to_a_sliver(self):
        village = "330521003002"
        a, b = self.touching_pair(village)
        gb = self.geom_of(b)
        # a takes all of b but a square of about 4 m × 4.4 m (17 m²): more than the 1 m² at which a
        # neighbour "vanishes", less than any real grid.
        keep = f"ST_Expand(ST_PointOnSurface({gb}), 0.00002)"
        new_a = self.geojson(f"ST_Multi(ST_CollectionExtract(ST_Difference(ST_Union({self.geom_of(a)}, {gb}), {keep}), 3))")
        left = float(self.s.sql(f"SELECT ST_Area(wg_to_metric(ST_Intersection({gb}, {keep})))")[0][0])
        self.assertTrue(1 < left < 25, left)
        (_, ea), (_, eb) = self.area(a), self.area(b)
        r = self.s.request("PATCH", f"/v1/areas/{a}?adjust=neighbours", {"geometry": new_a}, token=self.admin,
                           headers={"If-Match": f"{ea}, {eb}"})
        doc = self.assertProblem(r, 409, "neighbour_too_small")
        self.assertEqual(doc["neighbour"], b)
        self.assertIn(b, doc["detail"])
        self.assertAlmostEqual(doc["area_m2"], left, delta=1.0)
        self.assertEqual((self.area(a)[1], self.area(b)[1]), (ea, eb))
        # The dry run says the same.
        dry = self.patch(a, {"geometry": new_a}, None, query="?adjust=neighbours&dry_run=true")
        self.assertProblem(dry, 409, "neighbour_too_small")

    def test_small_real_microgrid_is_accepted(self):
        grid = self.grids_of("330521101005")[0]
        x, y = self.point_in(grid)
        # One kiosk: about 6 m × 6.7 m.
        d = 0.00003
        kiosk = {"type": "Polygon", "coordinates": [[[x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]]]}
        r = self.post_area(self.feature(grid + "01", "报刊亭", "microgrid", grid, kiosk))
        self.assertEqual(r.status, 201, r)
        # And a street strip 100 m long, 3 m wide, beside it.
        y0 = y + 2 * d
        strip = {"type": "Polygon", "coordinates": [[[x - 0.0005, y0], [x + 0.0005, y0], [x + 0.0005, y0 + 0.000027],
                                                     [x - 0.0005, y0 + 0.000027], [x - 0.0005, y0]]]}
        fits = self.s.sql(f"SELECT ST_Covers({self.geom_of(grid)}, ST_SetSRID(ST_GeomFromGeoJSON('{json.dumps(strip)}'), 4490))")
        if fits == [["t"]]:
            r = self.post_area(self.feature(grid + "02", "街面", "microgrid", grid, strip))
            self.assertEqual(r.status, 201, r)


class ProjectedRange(ApiTestCase):
    def test_web_mercator_wrapped_around_the_globe_is_refused(self):
        village = "330521101006"
        grid = self.grids_of(village)[0]
        merc = json.loads(self.s.sql(f"SELECT ST_AsGeoJSON(ST_Transform({self.geom_of(grid)}, 3857), 3, 0)")[0][0])
        self.retire(grid)
        # The same ground one whole turn east: PostGIS would wrap it back onto the village.
        shifted = {"type": merc["type"],
                   "coordinates": [[[[p[0] + WORLD, p[1]] for p in ring] for ring in poly] for poly in merc["coordinates"]]}
        code = village + "901"
        r = self.post_area(self.feature(code, "绕地球一圈", "grid", village, shifted), query="?crs=EPSG:3857")
        doc = self.assertProblem(r, 422, "invalid_geometry")
        self.assertEqual(doc["reason"], "Coordinates outside the CRS's domain")
        self.assertEqual(self.s.sql(f"SELECT count(*) FROM areas WHERE code = '{code}'"), [["0"]])
        # The same ground inside the domain is fine.
        r = self.post_area(self.feature(code, "原地", "grid", village, merc), query="?crs=EPSG:3857")
        self.assertEqual(r.status, 201, r)

    def test_gauss_kruger_far_outside_its_zone_is_refused(self):
        village = "330521101007"
        grid = self.grids_of(village)[0]
        gk = json.loads(self.s.sql(f"SELECT ST_AsGeoJSON(ST_Transform({self.geom_of(grid)}, 4549), 3, 0)")[0][0])
        far = {"type": gk["type"],
               "coordinates": [[[[p[0] + 5_000_000, p[1]] for p in ring] for ring in poly] for poly in gk["coordinates"]]}
        doc = self.assertProblem(self.post_area(self.feature(village + "901", "x", "grid", village, far), query="?crs=EPSG:4549"),
                                 422, "invalid_geometry")
        self.assertEqual(doc["reason"], "Coordinates outside the CRS's domain")

    def test_points_outside_the_domain(self):
        # x = 3e7 would be longitude −90.5.
        r = self.get("/v1/locate?lon=30000000&lat=3500000&crs=EPSG:3857")
        self.assertProblem(r, 400, "invalid_coordinates")
        before = self.s.sql("SELECT count(*) FROM incidents")
        body = {"location": {"type": "Point", "coordinates": [30000000, 3500000]}, "crs": "EPSG:3857",
                "category": "市容环境", "source": "hotline", "description": "x", "reporter": "1"}
        self.assertProblem(self.s.request("POST", "/v1/incidents", body, token=self.admin), 400, "invalid_coordinates")
        self.assertEqual(self.s.sql("SELECT count(*) FROM incidents"), before)
        body["location"]["coordinates"] = [39_500_000 + 2_000_000, 3_400_000]
        body["crs"] = "EPSG:4527"
        self.assertProblem(self.s.request("POST", "/v1/incidents", body, token=self.admin), 400, "invalid_coordinates")
        # Inside the domain, Deqing in Web Mercator still locates.
        r = self.get("/v1/locate?lon=13358338.9&lat=3573597.7&crs=EPSG:3857")
        self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    unittest.main()
