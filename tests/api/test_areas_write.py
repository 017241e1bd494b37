"""Writing areas: POST (201, Location, ETag), PATCH (properties, geometry), PUT, DELETE (retire → 410,
history kept), codes never reused, and the property rules. Each test works in its own village."""
import json
import unittest

from harness import ApiTestCase


class CreateAndRetire(ApiTestCase):
    def test_checkpoints_of_a_retired_grid_go_to_the_grid_that_takes_its_place(self):
        village = "330521001011"
        old = self.grids_of(village)[0]
        before = self.get(f"/v1/checkpoints?grid={old}").json["checkpoints"]
        self.assertTrue(before, "the sample gives every grid checkpoints")
        ids = sorted(c["id"] for c in before)
        neighbours = {g: self.get(f"/v1/checkpoints?grid={g}").json["checkpoints"] for g in self.grids_of(village) if g != old}
        geometry = self.retire(old)
        # Retired: the checkpoints keep the retired code (and their visits); the audit names them.
        for c in before:
            r = self.get(f"/v1/checkpoints/{c['id']}")
            self.assertEqual((r.status, r.json["grid"], r.json["etag"]), (200, old, c["etag"]), r)
        named = self.s.sql(f"SELECT detail->>'checkpoints_without_grid' FROM audit_log "
                           f"WHERE action = 'area.retire' AND target = '{old}'")
        self.assertEqual(sorted(json.loads(named[0][0])), ids)
        # A new grid in the freed space adopts them, says so, and their ETags change.
        new = village + "951"  # not "901": test_create_rules checks that no "%901%" code was written
        r = self.post_area(self.feature(new, "新网格", "grid", village, geometry))
        self.assertEqual(r.status, 201, r)
        adopted = r.json["report"]["checkpoints_adopted"]
        self.assertEqual(sorted(a["id"] for a in adopted), ids)
        self.assertEqual({a["from"] for a in adopted}, {old})
        for c in before:
            r = self.get(f"/v1/checkpoints/{c['id']}")
            self.assertEqual(r.json["grid"], new)
            self.assertNotEqual(r.json["etag"], c["etag"])
        # Checkpoints of current grids are never taken.
        for g, listed in neighbours.items():
            self.assertEqual(self.get(f"/v1/checkpoints?grid={g}").json["checkpoints"], listed, g)

    def test_retire_then_create_in_the_freed_space(self):
        village = "330521001002"
        old = self.grids_of(village)[0]
        geometry = self.retire(old)
        # Retired: 410 with the history still readable.
        doc = self.assertProblem(self.get("/v1/areas/" + old), 410, "area_retired")
        self.assertIn(f"/v1/areas/{old}/history", doc["detail"])
        hist = self.get(f"/v1/areas/{old}/history")
        self.assertEqual(hist.status, 200, hist)
        versions = hist.json["versions"]
        self.assertEqual(len(versions), 1)
        self.assertIsNotNone(versions[0]["properties"]["valid_to"])
        self.assertIsNotNone(versions[0]["properties"]["retired_by"])
        self.assertNotIn(old, [f["properties"]["code"] for f in self.get(f"/v1/areas/{village}/children").json["features"]])
        # The code is never reused.
        self.assertProblem(self.post_area(self.feature(old, "复用", "grid", village, geometry)), 409, "code_retired")
        # A new code takes the space.
        new = village + "901"
        r = self.post_area(self.feature(new, "华岭社区新网格", "grid", village, geometry, households=420, population=1300,
                                        attributes={"note": "测试"}))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.header("Location"), f"{self.s.base}/v1/areas/{new}")
        self.assertEqual(r.header("ETag"), f'"{new}-v1"')
        self.assertTrue(r.header("Content-Type").startswith("application/geo+json"))
        p = r.json["properties"]
        self.assertEqual((p["code"], p["name"], p["level"], p["parent"], p["version"]),
                         (new, "华岭社区新网格", "grid", village, 1))
        self.assertEqual((p["households"], p["population"], p["attributes"]), (420, 1300, {"note": "测试"}))
        self.assertIsNone(p["valid_to"])
        # It reads back through the Location, and is stored with the same shape.
        f, etag = self.area(new)
        self.assertEqual(etag, f'"{new}-v1"')
        self.assertEqual(f["properties"]["name"], "华岭社区新网格")
        same = self.s.sql(f"SELECT ST_Equals(a.geom, ST_SetSRID(ST_GeomFromGeoJSON('{__import__('json').dumps(geometry)}'), 4490)) "
                          f"FROM areas a WHERE code = '{new}' AND valid_to IS NULL")
        self.assertEqual(same, [["t"]])
        self.assertIn(new, [f["properties"]["code"] for f in self.get(f"/v1/areas/{village}/children").json["features"]])
        # Taken codes conflict too.
        self.assertProblem(self.post_area(self.feature(new, "again", "grid", village, geometry)), 409, "code_taken")
        # The audit log has both.
        rows = self.s.sql(f"SELECT action, target FROM audit_log WHERE target IN ('{old}', '{new}') ORDER BY id")
        self.assertEqual(rows, [["area.retire", old], ["area.create", new]])

    def test_retire_needs_if_match_and_no_children(self):
        village = "330521001004"
        _, etag = self.area(village)
        doc = self.assertProblem(self.s.request("DELETE", "/v1/areas/" + village, token=self.admin,
                                                headers={"If-Match": etag}), 409, "has_children")
        self.assertIn("children", doc["detail"])
        grid = self.grids_of(village)[0]
        self.assertProblem(self.s.request("DELETE", "/v1/areas/" + grid, token=self.admin), 428, "precondition_required")
        self.assertProblem(self.s.request("DELETE", "/v1/areas/" + grid, token=self.admin,
                                          headers={"If-Match": f'"{grid}-v7"'}), 412, "precondition_failed")
        self.assertEqual(self.get("/v1/areas/" + grid).status, 200)
        self.assertProblem(self.s.request("DELETE", "/v1/areas/330521999999999", token=self.admin,
                                          headers={"If-Match": "*"}), 404, "area_not_found")
        # Retiring twice: gone.
        self.retire(grid)
        self.assertProblem(self.s.request("DELETE", "/v1/areas/" + grid, token=self.admin,
                                          headers={"If-Match": "*"}), 410, "area_retired")
        self.assertProblem(self.patch(grid, {"properties": {"name": "x"}}, "*"), 410, "area_retired")
        self.assertProblem(self.get(f"/v1/areas/{grid}/children"), 410, "area_retired")

    def test_split_a_grid_into_two_halves(self):
        village = "330521001005"
        grid = self.grids_of(village)[0]
        g = self.geom_of(grid)
        west = self.geojson(f"ST_Multi(ST_CollectionExtract(ST_Intersection({g}, ST_MakeEnvelope(ST_XMin({g}) - 1, "
                            f"ST_YMin({g}) - 1, (ST_XMin({g}) + ST_XMax({g})) / 2, ST_YMax({g}) + 1, 4490)), 3))")
        east = self.geojson(f"ST_Multi(ST_CollectionExtract(ST_Intersection({g}, ST_MakeEnvelope((ST_XMin({g}) + ST_XMax({g})) / 2, "
                            f"ST_YMin({g}) - 1, ST_XMax({g}) + 1, ST_YMax({g}) + 1, 4490)), 3))")
        # The west half cannot go in while the grid still covers it.
        r = self.post_area(self.feature(village + "801", "西半", "grid", village, west))
        doc = self.assertProblem(r, 409, "overlaps_sibling")
        self.assertEqual(doc["overlapping_codes"], [grid])
        self.retire(grid)
        for code, name, geom in ((village + "801", "西半", west), (village + "802", "东半", east)):
            r = self.post_area(self.feature(code, name, "grid", village, geom))
            self.assertEqual(r.status, 201, r)
        codes = [f["properties"]["code"] for f in self.get(f"/v1/areas/{village}/children").json["features"]]
        self.assertIn(village + "801", codes)
        self.assertIn(village + "802", codes)
        self.assertNotIn(grid, codes)
        # Together they cover the parent again: no gap, no overlap.
        gap = self.s.sql(f"SELECT ST_Area(wg_to_metric(ST_SymDifference(p.geom, (SELECT ST_Union(geom) FROM areas "
                         f"WHERE parent_code = p.code AND valid_to IS NULL)))) FROM areas p WHERE p.code = '{village}' "
                         f"AND p.valid_to IS NULL")
        self.assertLess(float(gap[0][0]), 1.0)

    def test_a_neighbour_redrawn_over_the_freed_space_adopts_the_checkpoints(self):
        village = "330521001012"
        grids = self.grids_of(village)
        old = grids[0]
        # A sibling that shares a border with it takes its ground by a plain PATCH.
        neighbour = self.s.sql(f"SELECT code FROM areas WHERE parent_code = '{village}' AND valid_to IS NULL "
                               f"AND code <> '{old}' AND ST_Length(ST_Intersection(ST_Boundary(geom), "
                               f"ST_Boundary({self.geom_of(old)}))) > 0 ORDER BY code LIMIT 1")[0][0]
        ids = sorted(c["id"] for c in self.get(f"/v1/checkpoints?grid={old}").json["checkpoints"])
        self.assertTrue(ids)
        union = self.geojson(f"ST_Multi(ST_Union({self.geom_of(neighbour)}, {self.geom_of(old)}))")
        self.retire(old)
        _, etag = self.area(neighbour)
        r = self.patch(neighbour, {"geometry": union}, etag)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(a["id"] for a in r.json["report"]["checkpoints_adopted"]), ids)
        for i in ids:
            self.assertEqual(self.get(f"/v1/checkpoints/{i}").json["grid"], neighbour)

    def test_create_rules(self):
        village = "330521001006"
        grid = self.grids_of(village)[0]
        geometry = self.area(grid)[0]["geometry"]
        cases = [
            (self.feature("33052100100", "x", "grid", village, geometry), 422, "invalid_code"),       # 11 digits
            (self.feature("330521001007901", "x", "grid", village, geometry), 422, "invalid_code"),   # other village's prefix
            (self.feature("33052100100690A", "x", "grid", village, geometry), 422, "invalid_code"),
            (self.feature("330521001006901", "x", "town", village, geometry), 422, "invalid_level"),
            (self.feature("330521001006901", "x", "grid", None, geometry), 422, "missing_parent"),
            (self.feature("330521001999901", "x", "grid", "330521001999", geometry), 422, "parent_not_found"),
            (self.feature("330521001006", "x", "village", "330521001006", geometry), 422, "invalid_code"),
            (self.feature("330521001901", "x", "village", "330521", geometry), 422, "parent_level_mismatch"),
            (self.feature("330521001006901", "", "grid", village, geometry), 422, "invalid_property"),
            (self.feature("330521001006901", "x", "grid", village, geometry, households=-1), 422, "invalid_property"),
            (self.feature("330521001006901", "x", "grid", village, geometry, colour="red"), 422, "unknown_property"),
            ({"type": "Feature", "properties": {"code": "330521001006901", "level": "grid", "parent": village},
              "geometry": geometry}, 422, "missing_property"),
            ({"type": "Feature", "properties": {"code": "330521001006901", "name": "x", "level": "grid", "parent": village}},
             400, "invalid_feature"),
            ({"type": "FeatureCollection", "features": []}, 400, "invalid_feature"),
            ([1, 2, 3], 400, "invalid_feature"),
        ]
        for body, status, code in cases:
            with self.subTest(code=code, body=str(body)[:120]):
                self.assertProblem(self.post_area(body), status, code)
        # A grid's parent must be a village.
        doc = self.assertProblem(self.post_area(self.feature("330521001901001", "x", "grid", "330521001", geometry)),
                                 422, "parent_level_mismatch")
        self.assertIn("village", doc["detail"])
        # Nothing was written.
        self.assertEqual(self.s.sql("SELECT count(*) FROM areas WHERE code LIKE '%901%'"), [["0"]])


class Update(ApiTestCase):
    def test_patch_properties(self):
        grid = self.grids_of("330521002001")[0]
        f, etag = self.area(grid)
        r = self.patch(grid, {"properties": {"name": "新名字", "households": 321, "attributes": {"a": 1, "b": 2}}}, etag)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("ETag"), f'"{grid}-v2"')
        p = r.json["properties"]
        self.assertEqual((p["name"], p["households"], p["version"], p["attributes"]), ("新名字", 321, 2, {"a": 1, "b": 2}))
        self.assertEqual(r.json["geometry"], f["geometry"])  # geometry untouched
        # Merge-patch semantics for attributes: null removes a key, others stay.
        r = self.patch(grid, {"properties": {"attributes": {"a": None, "c": 3}}}, r.header("ETag"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["properties"]["attributes"], {"b": 2, "c": 3})
        self.assertEqual(r.json["properties"]["name"], "新名字")
        self.assertEqual(r.json["properties"]["households"], 321)
        f2, etag2 = self.area(grid)
        self.assertEqual(etag2, f'"{grid}-v3"')
        self.assertEqual(f2["properties"]["version"], 3)
        # Echoes of read-only properties from a GET are ignored.
        r = self.patch(grid, {"properties": dict(f2["properties"], name="回声")}, etag2)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["properties"]["name"], "回声")
        self.assertEqual(r.json["properties"]["version"], 4)

    def test_patch_immutable_and_invalid(self):
        grid = self.grids_of("330521002002")[0]
        _, etag = self.area(grid)
        for props, code in (({"code": "330521002002999"}, "immutable_property"), ({"level": "village"}, "immutable_property"),
                            ({"parent": "330521002003"}, "immutable_property"), ({"name": 5}, "invalid_property"),
                            ({"population": "many"}, "invalid_property"), ({"shape": "round"}, "unknown_property")):
            with self.subTest(props=props):
                self.assertProblem(self.patch(grid, {"properties": props}, etag), 422, code)
        self.assertProblem(self.patch(grid, {}, etag), 400, "invalid_feature")
        self.assertProblem(self.patch(grid, {"properties": []}, etag), 400, "invalid_feature")
        self.assertProblem(self.patch("330521999999999", {"properties": {"name": "x"}}, "*"), 404, "area_not_found")
        self.assertEqual(self.area(grid)[1], etag)  # nothing changed

    def test_patch_geometry_moves_a_shared_boundary(self):
        village = "330521002003"
        a, b = self.grids_of(village)[:2]
        touching = self.s.sql(f"SELECT ST_Intersects({self.geom_of(a)}, {self.geom_of(b)})")
        self.assertEqual(touching, [["t"]], "test precondition: neighbouring grids")
        # Give b's half next to a to a: shrink b first, then grow a.
        gb = self.geom_of(b)
        half_of_b = (f"ST_MakeEnvelope(ST_XMin({gb}) - 1, ST_YMin({gb}) - 1, (ST_XMin({gb}) + ST_XMax({gb})) / 2, "
                     f"ST_YMax({gb}) + 1, 4490)")
        piece = self.s.sql(f"SELECT ST_AsHEXEWKB(ST_Intersection({gb}, {half_of_b}))")[0][0]
        new_b = self.geojson(f"ST_Multi(ST_CollectionExtract(ST_Difference({gb}, '{piece}'::geometry), 3))")
        new_a = self.geojson(f"ST_Multi(ST_CollectionExtract(ST_Union({self.geom_of(a)}, '{piece}'::geometry), 3))")
        _, etag_a = self.area(a)
        _, etag_b = self.area(b)
        # A plain edit keeps the partition: growing a first overlaps b, shrinking b first leaves a gap.
        doc = self.assertProblem(self.patch(a, {"geometry": new_a}, etag_a), 409, "overlaps_sibling")
        self.assertEqual(doc["overlapping_codes"], [b])
        doc = self.assertProblem(self.patch(b, {"geometry": new_b}, etag_b), 409, "gap_opened")
        piece_m2 = float(self.s.sql(f"SELECT ST_Area(wg_to_metric('{piece}'::geometry))")[0][0])
        self.assertAlmostEqual(doc["gap_area_m2"], piece_m2, delta=max(1.0, piece_m2 * 1e-3))
        self.assertEqual(doc["gaps"]["type"], "FeatureCollection")
        # The move in one step: a grows and its neighbour b gives up exactly that ground.
        etags = ", ".join(self.area(c)[1] for c in self.grids_of(village))  # every sibling it may touch
        r = self.patch(a, {"geometry": new_a}, etags, query="?adjust=neighbours")
        self.assertEqual(r.status, 200, r)
        area_a = float(self.s.sql(f"SELECT ST_Area(wg_to_metric({self.geom_of(a)}))")[0][0])
        self.assertAlmostEqual(area_a, float(self.s.sql(f"SELECT ST_Area(wg_to_metric(ST_GeomFromGeoJSON("
                                                        f"'{__import__('json').dumps(new_a)}')))")[0][0]), delta=1.0)
        area_b = float(self.s.sql(f"SELECT ST_Area(wg_to_metric({self.geom_of(b)}))")[0][0])
        self.assertAlmostEqual(area_b, float(self.s.sql(f"SELECT ST_Area(wg_to_metric(ST_GeomFromGeoJSON("
                                                        f"'{__import__('json').dumps(new_b)}')))")[0][0]), delta=1.0)
        # A plain property edit is still an ordinary update.
        _, etag_a = self.area(a)
        r = self.patch(a, {"properties": {"name": "扩大的网格"}}, etag_a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["properties"]["name"], "扩大的网格")
        audit = self.s.sql(f"SELECT action, detail->>'geometry_changed' FROM audit_log WHERE target = '{a}' ORDER BY id")
        self.assertEqual(audit[-1], ["area.update", "false"])

    def test_village_geometry_must_keep_its_children(self):
        village = "330521002004"
        _, etag = self.area(village)
        gv = self.geom_of(village)
        shrunk = self.geojson(f"ST_Multi(ST_CollectionExtract(ST_Intersection({gv}, ST_MakeEnvelope(ST_XMin({gv}) - 1, "
                              f"ST_YMin({gv}) - 1, (ST_XMin({gv}) + ST_XMax({gv})) / 2, ST_YMax({gv}) + 1, 4490)), 3))")
        doc = self.assertProblem(self.patch(village, {"geometry": shrunk}, etag), 422, "children_outside")
        self.assertTrue(set(doc["children_outside"]) <= set(self.grids_of(village)))
        self.assertGreater(len(doc["children_outside"]), 0)

    def test_put_replaces_the_whole_feature(self):
        grid = self.grids_of("330521002005")[0]
        f, etag = self.area(grid)
        r = self.patch(grid, {"properties": {"population": 1000, "attributes": {"k": "v"}}}, etag)
        self.assertEqual(r.status, 200, r)
        etag = r.header("ETag")
        # PUT without the geometry is not a whole Feature.
        self.assertProblem(self.patch(grid, {"properties": {"name": "x"}}, etag, method="PUT"), 400, "invalid_feature")
        # PUT without a name.
        self.assertProblem(self.patch(grid, {"type": "Feature", "properties": {}, "geometry": f["geometry"]}, etag,
                                      method="PUT"), 422, "missing_property")
        body = {"type": "Feature", "properties": {"name": "整体替换", "households": 10}, "geometry": f["geometry"]}
        r = self.patch(grid, body, etag, method="PUT")
        self.assertEqual(r.status, 200, r)
        p = r.json["properties"]
        self.assertEqual((p["name"], p["households"], p["population"], p["attributes"], p["version"], p["change"]),
                         ("整体替换", 10, None, {}, 3, "replace"))
        self.assertEqual(r.header("ETag"), f'"{grid}-v3"')
        self.assertProblem(self.patch(grid, body, etag, method="PUT"), 412, "precondition_failed")
        self.assertProblem(self.patch(grid, body, None, method="PUT"), 428, "precondition_required")

    def test_if_match_forms(self):
        grid = self.grids_of("330521002007")[0]
        _, etag = self.area(grid)
        self.assertProblem(self.patch(grid, {"properties": {"name": "a"}}, None), 428, "precondition_required")
        doc = self.assertProblem(self.patch(grid, {"properties": {"name": "a"}}, f'"{grid}-v2"'), 412, "precondition_failed")
        self.assertEqual(doc["current_etag"], etag)
        r = self.patch(grid, {"properties": {"name": "a"}}, f'"nope", {etag}')  # any of a list
        self.assertEqual(r.status, 200, r)
        r = self.patch(grid, {"properties": {"name": "c"}}, "*")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["properties"]["version"], 3)
        # The old ETag is now stale.
        self.assertProblem(self.patch(grid, {"properties": {"name": "d"}}, etag), 412, "precondition_failed")


class Hierarchy(ApiTestCase):
    def half(self, code, west=True):
        g = self.geom_of(code)
        mid = f"(ST_XMin({g}) + ST_XMax({g})) / 2"
        env = (f"ST_MakeEnvelope(ST_XMin({g}) - 1, ST_YMin({g}) - 1, {mid}, ST_YMax({g}) + 1, 4490)" if west else
               f"ST_MakeEnvelope({mid}, ST_YMin({g}) - 1, ST_XMax({g}) + 1, ST_YMax({g}) + 1, 4490)")
        return self.geojson(f"ST_Multi(ST_CollectionExtract(ST_Intersection({g}, {env}), 3))")

    def test_microgrids_inside_a_grid(self):
        grid = self.grids_of("330521102006")[0]
        west, east = self.half(grid, True), self.half(grid, False)
        r = self.post_area(self.feature(grid + "01", "微网格一", "microgrid", grid, west))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["properties"]["parent"], grid)
        self.assertProblem(self.post_area(self.feature(grid + "02", "微网格二", "microgrid", grid, west)), 409, "overlaps_sibling")
        self.assertProblem(self.post_area(self.feature(grid + "1", "短", "microgrid", grid, east)), 422, "invalid_code")
        self.assertProblem(self.post_area(self.feature(grid + "03", "x", "grid", grid, east)), 422, "invalid_code")
        # Children of the grid.
        doc = self.get(f"/v1/areas/{grid}/children").json
        self.assertEqual([f["properties"]["code"] for f in doc["features"]], [grid + "01"])
        # The grid cannot be retired while it has a micro-grid, nor shrink away from it.
        _, etag = self.area(grid)
        self.assertProblem(self.s.request("DELETE", "/v1/areas/" + grid, token=self.admin, headers={"If-Match": etag}),
                           409, "has_children")
        doc = self.assertProblem(self.patch(grid, {"geometry": east}, etag), 422, "children_outside")
        self.assertEqual(doc["children_outside"], [grid + "01"])
        # Workers can be assigned to micro-grids.
        r = self.s.request("PUT", f"/v1/areas/{grid}01/workers", {"workers": [1]}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        # Retire the micro-grid: now the grid may go.
        self.retire(grid + "01")
        self.retire(grid)

    def test_a_second_county_as_a_root(self):
        moved = self.geojson(f"ST_Translate({self.geom_of('330521')}, 0.3, 0)")
        r = self.post_area(self.feature("330522", "长兴县(测试)", "county", None, moved))
        self.assertEqual(r.status, 201, r)
        self.assertIsNone(r.json["properties"]["parent"])
        near = self.geojson(f"ST_Translate({self.geom_of('330521')}, 0.05, 0)")
        doc = self.assertProblem(self.post_area(self.feature("330523", "安吉县(测试)", "county", None, near)),
                                 409, "overlaps_sibling")
        self.assertEqual(doc["overlapping_codes"], ["330521"])
        # A scoped admin cannot create roots outside its scope.
        scoped = self.s.token("admin", "330521", name="county-admin")
        far = self.geojson(f"ST_Translate({self.geom_of('330521')}, 0.6, 0)")
        self.assertProblem(self.post_area(self.feature("330524", "x", "county", None, far), scoped), 403, "outside_scope")
        self.assertEqual(self.get("/v1/areas?level=county").json["numberMatched"], 2)


if __name__ == "__main__":
    unittest.main()
