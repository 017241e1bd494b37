"""OGC API - Features Part 4: an edit that changes an item's geometry (adjust=neighbours) and its
properties is one transaction and one new version per changed area (the edited one and the
neighbours the adjustment reshapes), or nothing at all when any part is refused; and item GETs
answer If-None-Match with 304 Not Modified. Each test works in its own village of the sample."""
import json

from harness import ApiTestCase

GRID = "/ogc/collections/grid/items"


class OgcAtomicEdit(ApiTestCase):
    def ogc(self, method, path, body=None, headers=None, content_type="application/geo+json"):
        return self.s.request(method, path, body, token=self.admin, headers=headers, content_type=content_type)

    def fid_of(self, code):
        return int(self.s.sql(f"SELECT id FROM areas WHERE code = '{code}' AND valid_to IS NULL")[0][0])

    def versions(self, code):
        """Every version of an area, newest first, as /v1 history answers them."""
        r = self.get(f"/v1/areas/{code}/history")
        self.assertEqual(r.status, 200, r)
        return [v["properties"] for v in r.json["versions"]]

    def audit(self, code):
        return self.s.sql(f"SELECT action, version_before, version_after FROM audit_log "
                          f"WHERE target_type = 'area' AND target = '{code}' ORDER BY id")

    def state(self, *codes):
        """What an edit could change: each area's version rows (id, version, name, households,
        geometry, validity) and its audit rows."""
        return {c: (self.s.sql(f"SELECT id, version, name, households, population, attributes::text, ST_AsHEXEWKB(geom), "
                               f"valid_from, valid_to FROM areas WHERE code = '{c}' ORDER BY version"), self.audit(c))
                for c in codes}

    def grown(self, a, b):
        """a's geometry grown over a third of its neighbour b (which adjust=neighbours gives up)."""
        gb = self.geom_of(b)
        part = self.s.sql(f"SELECT ST_AsHEXEWKB(ST_Intersection({gb}, ST_Buffer({self.geom_of(a)}, "
                          f"(ST_XMax({gb}) - ST_XMin({gb})) / 3)))")[0][0]
        return self.geojson(f"ST_Multi(ST_CollectionExtract(ST_Union({self.geom_of(a)}, '{part}'::geometry), 3))")

    def assertPartition(self, parent):
        r = self.get(f"/v1/areas/{parent}/coverage")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["partition"], json.dumps(r.json)[:500])

    def assertOneVersionEach(self, a, adjusted, new_a, name):
        """a and the neighbours the redraw adjusted went from version 1 to version 2 in one
        transaction; a's version 2 holds both the new geometry and the new name."""
        va = self.versions(a)
        self.assertEqual([v["version"] for v in va], [2, 1], va)
        self.assertEqual((va[0]["name"], va[0]["change"]), (name, "redraw"))
        # One transaction: one instant closes the old versions and opens the new ones.
        self.assertEqual(va[1]["valid_to"], va[0]["valid_from"])
        for n in adjusted:
            vn = self.versions(n)
            self.assertEqual([v["version"] for v in vn], [2, 1], vn)
            self.assertEqual((vn[0]["change"], vn[0]["valid_from"]), ("adjust", va[0]["valid_from"]))
        same = self.s.sql(f"SELECT ST_HausdorffDistance(geom, ST_SetSRID(ST_GeomFromGeoJSON('{json.dumps(new_a)}'), 4490)) < 1e-7 "
                          f"FROM areas WHERE code = '{a}' AND version = 2")
        self.assertEqual(same, [["t"]])
        # One audit row per area for the request: the redraw, 1 → 2 (no second write after it).
        for code in [a] + adjusted:
            self.assertEqual([row for row in self.audit(code) if row[2] in ("2", "3")], [["area.redraw", "1", "2"]], code)

    def test_patch_geometry_and_name_is_one_version(self):
        village = "330521001002"
        a, b = self.touching_pair(village)
        new_a = self.grown(a, b)
        fa = self.fid_of(a)
        r = self.ogc("PATCH", f"{GRID}/{fa}?adjust=neighbours",
                     {"geometry": new_a, "properties": {"name": "扩大改名网格", "households": 55}},
                     content_type="application/merge-patch+json")
        self.assertEqual(r.status, 200, r)
        self.assertIn(b, r.json["adjusted"])
        self.assertEqual((r.json["properties"]["name"], r.json["properties"]["version"]), ("扩大改名网格", 2))
        self.assertTrue(r.header("ETag").startswith(f'"{a}-v2-'), r.header("ETag"))
        self.assertOneVersionEach(a, r.json["adjusted"], new_a, "扩大改名网格")
        # Households the client set are its own; the neighbour's follow its ground by area share.
        self.assertEqual(self.versions(a)[0]["households"], 55)
        self.assertPartition(village)

    def test_put_geometry_and_name_is_one_version(self):
        village = "330521001006"
        a, b = self.touching_pair(village)
        new_a = self.grown(a, b)
        fa = self.fid_of(a)
        # As a GIS client sends it: the Feature it read, every property echoed, the name edited.
        echoed = self.echoed_item(f"{GRID}/{fa}", new_a, name="整体替换扩大网格")
        r = self.ogc("PUT", f"{GRID}/{fa}?adjust=neighbours", echoed)
        self.assertEqual(r.status, 200, r)
        self.assertIn(b, r.json["adjusted"])
        self.assertOneVersionEach(a, r.json["adjusted"], new_a, "整体替换扩大网格")
        # The echoed households do not undo the estimate: a's version 2 holds its predecessors'
        # households by area share, computed here from their version-1 rows.
        predecessors = ", ".join(f"'{c}'" for c in [a] + r.json["adjusted"])
        expected = self.s.sql(
            "SELECT round(sum(o.households * ST_Area(wg_to_metric(ST_Intersection(o.geom, n.geom))) / ST_Area(wg_to_metric(o.geom)))) "
            f"FROM areas o, areas n WHERE o.code IN ({predecessors}) AND o.version = 1 AND n.code = '{a}' AND n.version = 2")[0][0]
        self.assertIsNotNone(self.versions(a)[0]["households"])
        self.assertLessEqual(abs(self.versions(a)[0]["households"] - int(float(expected))), 1)
        self.assertPartition(village)

    def test_put_with_a_new_geometry_replaces_the_properties_as_a_plain_put_does(self):
        village = "330521001007"
        a, b = self.touching_pair(village)
        fa = self.fid_of(a)
        r = self.ogc("PATCH", f"{GRID}/{fa}", {"properties": {"households": 40, "population": 100,
                                                              "attributes": {"owner": "街道办", "note": "旧备注"}}},
                     content_type="application/merge-patch+json")
        self.assertEqual(r.status, 200, r)
        new_a = self.grown(a, b)
        fa = self.fid_of(a)
        # The whole Feature, without the figures and without one attribute: a replacement clears them.
        feature = {"type": "Feature", "geometry": new_a,
                   "properties": {"name": "替换后的网格", "attributes": json.dumps({"owner": "街道办"})}}
        r = self.ogc("PUT", f"{GRID}/{fa}?adjust=neighbours", feature)
        self.assertEqual(r.status, 200, r)
        self.assertIn(b, r.json["adjusted"])
        now = self.versions(a)[0]
        self.assertEqual((now["version"], now["change"], now["name"]), (3, "redraw", "替换后的网格"))
        self.assertEqual((now["households"], now["population"], now["attributes"]), (None, None, {"owner": "街道办"}), now)
        # The neighbour's figures follow its ground as in any redraw: the replacement is a's alone.
        self.assertEqual(self.versions(b)[0]["change"], "adjust")
        self.assertPartition(village)

    def test_v1_redraw_carries_properties_into_the_same_version(self):
        village = "330521001004"
        a, b = self.touching_pair(village)
        new_a = self.grown(a, b)
        dry = self.patch(a, {"geometry": new_a, "properties": {"name": "工具箱改名"}}, None, query="?adjust=neighbours&dry_run=true")
        self.assertEqual(dry.status, 200, dry)
        r = self.patch(a, {"geometry": new_a, "properties": {"name": "工具箱改名"}}, ", ".join(dry.json["touched"].values()),
                       query="?adjust=neighbours")
        self.assertEqual(r.status, 200, r)
        self.assertOneVersionEach(a, r.json["adjusted"], new_a, "工具箱改名")

    def test_refused_property_changes_nothing(self):
        village = "330521001005"
        a, b = self.touching_pair(village)
        new_a = self.grown(a, b)
        fa = self.fid_of(a)
        before = self.state(a, b)
        cases = [({"name": "长" * 101}, "invalid_property"),  # 303 bytes of UTF-8: over the 300-byte limit
                 ({"households": -1}, "invalid_property"),
                 ({"colour": "red"}, "unknown_property"),
                 ({"code": a[:-3] + "999"}, "immutable_property")]
        for props, code in cases:
            with self.subTest(method="PATCH", props=props):
                r = self.ogc("PATCH", f"{GRID}/{fa}?adjust=neighbours", {"geometry": new_a, "properties": props},
                             content_type="application/merge-patch+json")
                self.assertProblem(r, 422, code)
                self.assertEqual(self.state(a, b), before)
            with self.subTest(method="PUT", props=props):
                feature = self.echoed_item(f"{GRID}/{fa}", new_a, **props)
                self.assertProblem(self.ogc("PUT", f"{GRID}/{fa}?adjust=neighbours", feature), 422, code)
                self.assertEqual(self.state(a, b), before)
        # A PUT must name the area, as a plain PUT must.
        feature = self.echoed_item(f"{GRID}/{fa}", new_a)
        del feature["properties"]["name"]
        self.assertProblem(self.ogc("PUT", f"{GRID}/{fa}?adjust=neighbours", feature), 422, "missing_property")
        self.assertEqual(self.state(a, b), before)
        self.assertEqual(self.versions(a)[0]["version"], 1)
        # The same edit with a valid name then goes through, as one version.
        r = self.ogc("PATCH", f"{GRID}/{fa}?adjust=neighbours", {"geometry": new_a, "properties": {"name": "短名"}})
        self.assertEqual(r.status, 200, r)
        self.assertOneVersionEach(a, r.json["adjusted"], new_a, "短名")

    def test_item_answers_304_while_unchanged(self):
        code = self.grids_of("330521002002")[0]
        fid = self.fid_of(code)
        r = self.ogc("GET", f"{GRID}/{fid}")
        self.assertEqual(r.status, 200, r)
        workers = r.json["properties"]["workers"]
        etag = r.header("ETag")
        self.assertTrue(etag.startswith(f'"{code}-v1-'), etag)
        self.assertEqual(r.header("Cache-Control"), "private, no-cache")
        for inm in (etag, "W/" + etag, "*", f'"other", {etag}'):
            with self.subTest(if_none_match=inm):
                r = self.ogc("GET", f"{GRID}/{fid}", headers={"If-None-Match": inm})
                self.assertEqual(r.status, 304, r)
                self.assertEqual(r.body, "")
                self.assertEqual(r.header("ETag"), etag)
                self.assertEqual(r.header("Cache-Control"), "private, no-cache")
                self.assertEqual(r.header("Content-Crs"), "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>")
        # The version's tag alone is not this representation's ETag, nor is another CRS's.
        for inm in (f'"{code}-v1"', '"other"'):
            with self.subTest(if_none_match=inm):
                self.assertEqual(self.ogc("GET", f"{GRID}/{fid}", headers={"If-None-Match": inm}).status, 200)
        crs = "http://www.opengis.net/def/crs/EPSG/0/4490"
        r = self.ogc("GET", f"{GRID}/{fid}?crs={crs}", headers={"If-None-Match": etag})
        self.assertEqual(r.status, 200, r)
        self.assertNotEqual(r.header("ETag"), etag)

        # A worker assigned to the grid changes the Feature (its count of workers), not the version.
        worker = self.s.sql(f"INSERT INTO workers (name, area_code, created_by) VALUES ('测试网格员', '{code}', 'test') RETURNING id")[0][0]
        self.s.sql(f"INSERT INTO worker_assignments (grid_code, worker_id, assigned_at, assigned_by) "
                   f"VALUES ('{code}', {worker}, now(), 'test')")
        r = self.ogc("GET", f"{GRID}/{fid}", headers={"If-None-Match": etag})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["properties"]["workers"], workers + 1)
        etag = r.header("ETag")
        self.assertTrue(etag.startswith(f'"{code}-v1-'), etag)
        self.assertEqual(self.ogc("GET", f"{GRID}/{fid}", headers={"If-None-Match": etag}).status, 304)

        # An edit, conditioned on the item's ETag as a client holds it: the new version has a new id
        # and the PATCH answers the ETag a GET of it gives; the old id's Feature is superseded.
        r = self.ogc("PATCH", f"{GRID}/{fid}", {"properties": {"name": "缓存测试网格"}}, headers={"If-Match": etag})
        self.assertEqual(r.status, 200, r)
        new_fid, new_etag = r.json["id"], r.header("ETag")
        self.assertTrue(new_etag.startswith(f'"{code}-v2-'), new_etag)
        r = self.ogc("GET", f"{GRID}/{fid}", headers={"If-None-Match": etag})
        self.assertEqual(r.status, 200, r)
        self.assertIsNotNone(r.json["properties"]["valid_to"])
        self.assertNotEqual(r.header("ETag"), etag)
        r = self.ogc("GET", f"{GRID}/{new_fid}", headers={"If-None-Match": etag})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.header("ETag"), r.json["properties"]["name"]), (new_etag, "缓存测试网格"))
        self.assertEqual(self.ogc("GET", f"{GRID}/{new_fid}", headers={"If-None-Match": new_etag}).status, 304)
        # A stale item ETag in If-Match still refuses the edit.
        self.assertProblem(self.ogc("PATCH", f"{GRID}/{new_fid}", {"properties": {"name": "x"}}, headers={"If-Match": etag}),
                           412, "precondition_failed")


if __name__ == "__main__":
    import unittest
    unittest.main()
