"""Optimistic concurrency: If-Match required (428), stale (412), and truly concurrent writers: exactly
one wins, the other learns it lost (412 for the same area, 409 for overlapping siblings)."""
import unittest

from harness import ApiTestCase, race




class Preconditions(ApiTestCase):
    def test_if_match_is_required_for_every_write(self):
        grid = self.grids_of("330521004009")[0]
        f, etag = self.area(grid)
        self.assertProblem(self.patch(grid, {"properties": {"name": "x"}}, None), 428, "precondition_required")
        self.assertProblem(self.patch(grid, {"type": "Feature", "properties": {"name": "x"}, "geometry": f["geometry"]},
                                      None, method="PUT"), 428, "precondition_required")
        self.assertProblem(self.s.request("DELETE", "/v1/areas/" + grid, token=self.admin), 428, "precondition_required")
        self.assertEqual(self.area(grid)[1], etag)

    def test_stale_etag(self):
        grid = self.grids_of("330521004009")[1]
        _, etag = self.area(grid)
        r = self.patch(grid, {"properties": {"name": "第一次"}}, etag)
        self.assertEqual(r.status, 200, r)
        doc = self.assertProblem(self.patch(grid, {"properties": {"name": "第二次"}}, etag), 412, "precondition_failed")
        self.assertEqual(doc["current_etag"], r.header("ETag"))
        self.assertProblem(self.s.request("DELETE", "/v1/areas/" + grid, token=self.admin, headers={"If-Match": etag}),
                           412, "precondition_failed")
        self.assertEqual(self.area(grid)[0]["properties"]["name"], "第一次")


class Races(ApiTestCase):
    def test_two_clients_patch_the_same_area(self):
        grid = self.grids_of("330521004010")[0]
        for round_ in range(5):
            f, etag = self.area(grid)
            version = f["properties"]["version"]
            a, b = race(lambda: self.patch(grid, {"properties": {"name": f"甲{round_}"}}, etag),
                        lambda: self.patch(grid, {"properties": {"name": f"乙{round_}"}}, etag))
            statuses = sorted([a.status, b.status])
            self.assertEqual(statuses, [200, 412], (a, b))
            winner, loser = (a, b) if a.status == 200 else (b, a)
            self.assertProblem(loser, 412, "precondition_failed")
            self.assertEqual(loser.json["current_etag"], winner.header("ETag"))
            self.assertEqual(winner.json["properties"]["version"], version + 1)
            now, etag_now = self.area(grid)
            self.assertEqual(now["properties"]["name"], winner.json["properties"]["name"])
            self.assertEqual(etag_now, f'"{grid}-v{version + 1}"')
        # Ten writes were tried, five made it: five new versions, no gaps.
        versions = [v["properties"]["version"] for v in self.get(f"/v1/areas/{grid}/history").json["versions"]]
        self.assertEqual(versions, [6, 5, 4, 3, 2, 1])

    def test_patch_races_delete(self):
        # Whoever loses learns why: a PATCH that lost to a DELETE gets 410 (the area is gone) or 412;
        # a DELETE that lost to a PATCH gets 412. Several rounds to hit both orders and the in-between.
        grids = self.grids_of("330521101007") + self.grids_of("330521101008")
        self.assertEqual(len(grids), 8, "test precondition")
        for grid in grids:
            _, etag = self.area(grid)
            p, d = race(lambda: self.patch(grid, {"properties": {"name": "改"}}, etag),
                        lambda: self.s.request("DELETE", "/v1/areas/" + grid, token=self.admin, headers={"If-Match": etag}))
            with self.subTest(grid=grid, patch=p.status, delete=d.status):
                if p.status == 200:
                    self.assertProblem(d, 412, "precondition_failed")
                    self.assertEqual(self.get("/v1/areas/" + grid).status, 200)
                else:
                    self.assertEqual(d.status, 204, d)
                    if p.status == 412:
                        self.assertProblem(p, 412, "precondition_failed")
                    else:
                        self.assertProblem(p, 410, "area_retired")
                    self.assertProblem(self.get("/v1/areas/" + grid), 410, "area_retired")

    def test_two_siblings_grab_the_same_ground(self):
        village = "330521101005"
        grids = self.grids_of(village)
        self.assertGreaterEqual(len(grids), 3, "test precondition")
        a, b, c = grids[:3]
        free = self.s.sql(f"SELECT ST_AsHEXEWKB({self.geom_of(c)})")[0][0]
        self.retire(c)
        new_a = self.geojson(f"ST_Multi(ST_CollectionExtract(ST_Union({self.geom_of(a)}, '{free}'::geometry), 3))")
        new_b = self.geojson(f"ST_Multi(ST_CollectionExtract(ST_Union({self.geom_of(b)}, '{free}'::geometry), 3))")
        _, etag_a = self.area(a)
        _, etag_b = self.area(b)
        ra, rb = race(lambda: self.patch(a, {"geometry": new_a}, etag_a), lambda: self.patch(b, {"geometry": new_b}, etag_b))
        self.assertEqual(sorted([ra.status, rb.status]), [200, 409], (ra, rb))
        winner, loser, loser_code = (a, rb, b) if ra.status == 200 else (b, ra, a)
        doc = self.assertProblem(loser, 409, "overlaps_sibling")
        self.assertEqual(doc["overlapping_codes"], [winner])
        # The partition stays clean: no two current grids of the village overlap.
        overlaps = self.s.sql(f"SELECT count(*) FROM areas x JOIN areas y ON x.code < y.code WHERE x.parent_code = '{village}' "
                              f"AND y.parent_code = '{village}' AND x.valid_to IS NULL AND y.valid_to IS NULL "
                              f"AND ST_Area(wg_to_metric(ST_Intersection(x.geom, y.geom))) > 1")
        self.assertEqual(overlaps, [["0"]])
        self.assertEqual(self.area(loser_code)[1], f'"{loser_code}-v1"')

    def test_two_creates_of_the_same_ground(self):
        village = "330521101002"
        grid = self.grids_of(village)[0]
        geometry = self.retire(grid)
        r1, r2 = race(lambda: self.post_area(self.feature(village + "901", "甲", "grid", village, geometry)),
                      lambda: self.post_area(self.feature(village + "902", "乙", "grid", village, geometry)))
        self.assertEqual(sorted([r1.status, r2.status]), [201, 409], (r1, r2))
        winner, loser = (r1, r2) if r1.status == 201 else (r2, r1)
        doc = self.assertProblem(loser, 409, "overlaps_sibling")
        self.assertEqual(doc["overlapping_codes"], [winner.json["properties"]["code"]])

    def test_two_creates_of_the_same_code(self):
        village = "330521101003"
        grid = self.grids_of(village)[0]
        geometry = self.retire(grid)
        r1, r2 = race(lambda: self.post_area(self.feature(village + "901", "甲", "grid", village, geometry)),
                      lambda: self.post_area(self.feature(village + "901", "乙", "grid", village, geometry)))
        self.assertEqual(sorted([r1.status, r2.status]), [201, 409], (r1, r2))
        loser = r2 if r1.status == 201 else r1
        doc = self.assertProblem(loser, 409, loser.json["code"])
        self.assertIn(doc["code"], ("code_taken", "overlaps_sibling"))
        self.assertEqual(self.s.sql(f"SELECT count(*) FROM areas WHERE code = '{village}901'"), [["1"]])


if __name__ == "__main__":
    unittest.main()
