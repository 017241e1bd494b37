"""OGC API - Features Part 4 under /ogc: create, replace, update and retire grids through the
registry's own rules (nesting, no overlap, no gap, adjust=neighbours), ETags and If-Match, the
version a feature id names as the precondition, Content-Crs, roles, scopes, Basic authentication
and the audit log. Each test works in its own village of the sample."""
import base64
import json

from harness import ApiTestCase

GRID = "/ogc/collections/grid/items"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"


class OgcEdit(ApiTestCase):
    def ogc(self, method, path, body=None, token=None, headers=None, content_type="application/geo+json"):
        return self.s.request(method, path, body, token=token or self.admin, headers=headers, content_type=content_type)

    def fid_of(self, code):
        return int(self.s.sql(f"SELECT id FROM areas WHERE code = '{code}' AND valid_to IS NULL")[0][0])

    def item(self, code):
        r = self.ogc("GET", f"{GRID}/{self.fid_of(code)}")
        self.assertEqual(r.status, 200, r)
        return r

    def audit(self, code):
        return self.s.sql(f"SELECT actor, action, version_before, version_after FROM audit_log "
                          f"WHERE target_type = 'area' AND target = '{code}' ORDER BY id")

    def assertPartition(self, parent):
        r = self.get(f"/v1/areas/{parent}/coverage")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["partition"], json.dumps(r.json)[:500])

    def test_conformance_and_etag(self):
        conf = self.get("/ogc/conformance").json["conformsTo"]
        for c in ("create-replace-delete", "update", "features"):
            self.assertIn(f"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/{c}", conf)
        code = self.grids_of("330521001002")[0]
        r = self.item(code)
        # The version's tag (as /v1/areas gives it) and a digest of the Feature as served.
        self.assertRegex(r.header("ETag"), f'^"{code}-v1-[0-9a-f]{{16}}"$')
        self.assertTrue(r.header("ETag").startswith(self.area(code)[1][:-1] + "-"))
        api = self.get("/ogc/api").json
        self.assertIn("put", api["paths"]["/collections/{collectionId}/items/{featureId}"])
        self.assertIn("post", api["paths"]["/collections/{collectionId}/items"])

    def test_patch_properties_then_the_old_id_is_superseded(self):
        code = self.grids_of("330521001003")[0]
        fid = self.fid_of(code)
        r = self.ogc("PATCH", f"{GRID}/{fid}", {"properties": {"name": "改名网格", "population": 777}},
                     content_type="application/merge-patch+json")
        self.assertEqual(r.status, 200, r)
        new_fid = self.fid_of(code)
        self.assertNotEqual(new_fid, fid)  # an edit makes a new version, which has a new id
        self.assertEqual(r.json["id"], new_fid)
        self.assertEqual(r.json["properties"]["name"], "改名网格")
        self.assertEqual(r.json["properties"]["population"], 777)
        self.assertEqual(r.json["properties"]["version"], 2)
        self.assertTrue(r.header("ETag").startswith(f'"{code}-v2-'), r.header("ETag"))
        self.assertTrue(r.header("Location").endswith(f"{GRID}/{new_fid}"))
        f, _ = self.area(code)
        self.assertEqual((f["properties"]["name"], f["properties"]["population"], f["properties"]["change"]), ("改名网格", 777, "update"))
        self.assertEqual(self.audit(code)[-1][1:], ["area.update", "1", "2"])
        self.assertTrue(self.audit(code)[-1][0].startswith("admin#"))
        # The id of version 1 no longer takes edits: its copy is stale.
        doc = self.assertProblem(self.ogc("PATCH", f"{GRID}/{fid}", {"properties": {"name": "又改"}}), 409, "feature_superseded")
        self.assertEqual(doc["current_feature_id"], new_fid)
        self.assertIn("reload", doc["title"])
        self.assertEqual(self.area(code)[0]["properties"]["name"], "改名网格")

    def test_stale_if_match_and_unknown_ids(self):
        code = self.grids_of("330521001004")[0]
        fid = self.fid_of(code)
        doc = self.assertProblem(self.ogc("PATCH", f"{GRID}/{fid}", {"properties": {"name": "x网格"}}, headers={"If-Match": f'"{code}-v7"'}),
                                 412, "precondition_failed")
        self.assertEqual(doc["current_etag"], f'"{code}-v1"')
        self.assertIn("要素已被修改", doc["title"])
        r = self.ogc("PATCH", f"{GRID}/{fid}", {"properties": {"name": "x网格"}}, headers={"If-Match": f'"{code}-v1"'})
        self.assertEqual(r.status, 200, r)
        self.assertProblem(self.ogc("PATCH", f"{GRID}/99999999", {"properties": {"name": "y"}}), 404, "feature_not_found")
        village_fid = self.fid_of("330521001004")
        self.assertProblem(self.ogc("PATCH", f"{GRID}/{village_fid}", {"properties": {"name": "y"}}), 404, "feature_not_found")
        self.assertProblem(self.ogc("POST", "/ogc/collections/incidents/items", {"type": "Feature"}), 405, "method_not_allowed")
        self.assertProblem(self.ogc("PATCH", f"{GRID}/{self.fid_of(code)}?foo=1", {"properties": {}}), 400, "unknown_parameter")

    def test_put_what_get_answered_with_geometry_in_cgcs2000(self):
        code = self.grids_of("330521001005")[0]
        # The Feature as a GIS client read it (latitude first, as EPSG:4490 orders the axes), every
        # field echoed back (workers, version, times, attributes as text), two of them edited.
        r = self.ogc("GET", f"{GRID}/{self.fid_of(code)}?crs={EPSG4490}")
        self.assertEqual(r.status, 200, r)
        feature = r.json
        feature["properties"]["name"] = "整体替换网格"
        feature["properties"]["households"] = 321
        feature["properties"]["attributes"] = json.dumps({"note": "QGIS"})
        feature.pop("links")
        before = self.s.sql(f"SELECT ST_AsText(geom) FROM areas WHERE code = '{code}' AND valid_to IS NULL")[0][0]
        r = self.ogc("PUT", f"{GRID}/{self.fid_of(code)}", feature, headers={"Content-Crs": f"<{EPSG4490}>"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Crs"), f"<{EPSG4490}>")
        f, _ = self.area(code)
        self.assertEqual((f["properties"]["name"], f["properties"]["households"], f["properties"]["change"]),
                         ("整体替换网格", 321, "replace"))
        self.assertEqual(f["properties"]["attributes"], {"note": "QGIS"})
        # The geometry came back where it was: the axes were read latitude first.
        same = self.s.sql(f"SELECT ST_HausdorffDistance(geom, ST_GeomFromText('{before}', 4490)) < 1e-8 "
                          f"FROM areas WHERE code = '{code}' AND valid_to IS NULL")
        self.assertEqual(same, [["t"]])
        self.assertEqual(self.audit(code)[-1][1], "area.replace")
        self.assertProblem(self.ogc("PUT", f"{GRID}/{self.fid_of(code)}", {"properties": {"name": "x"}}), 400, "invalid_feature")
        self.assertProblem(self.ogc("PUT", f"{GRID}/{self.fid_of(code)}", feature, headers={"Content-Crs": "<EPSG:2000>"}),
                           400, "unsupported_crs")

    def test_overlap_and_gap_refused_then_neighbours_adjusted(self):
        village = "330521003002"
        a, b = self.touching_pair(village)
        gb = self.geom_of(b)
        half = self.s.sql(f"SELECT ST_AsHEXEWKB(ST_Intersection({gb}, ST_Buffer({self.geom_of(a)}, "
                          f"(ST_XMax({gb}) - ST_XMin({gb})) / 3)))")[0][0]
        new_a = self.geojson(f"ST_Multi(ST_CollectionExtract(ST_Union({self.geom_of(a)}, '{half}'::geometry), 3))")
        fa, fb = self.fid_of(a), self.fid_of(b)
        doc = self.assertProblem(self.ogc("PATCH", f"{GRID}/{fa}", {"geometry": new_a}), 409, "overlaps_sibling")
        self.assertEqual(doc["overlapping_codes"], [b])
        self.assertIn("重叠", doc["title"])
        self.assertIn("Overlaps", doc["title"])
        shrunk = self.geojson(f"ST_Buffer({self.geom_of(a)}, -0.0003)")
        doc = self.assertProblem(self.ogc("PUT", f"{GRID}/{fa}", {"type": "Feature", "geometry": shrunk,
                                                                   "properties": self.area(a)[0]["properties"]}), 409, "gap_opened")
        self.assertIn("空白", doc["title"])
        self.assertEqual(self.fid_of(a), fa)  # nothing changed
        # A PUT as a GIS client sends it: every property echoed back, the name edited.
        echoed = self.echoed_item(f"{GRID}/{fa}", new_a, name="扩大网格")
        r = self.ogc("PUT", f"{GRID}/{fa}?adjust=neighbours", echoed)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["adjusted"], [b])
        fa2, _ = self.area(a)
        # One version holds the new geometry and the edited name (test_ogc_atomic checks more).
        self.assertEqual((fa2["properties"]["version"], fa2["properties"]["name"], fa2["properties"]["change"]),
                         (2, "扩大网格", "redraw"))
        self.assertEqual(self.audit(a)[-1][1:], ["area.redraw", "1", "2"])
        fb2, _ = self.area(b)
        self.assertEqual((fb2["properties"]["change"], fb2["properties"]["version"]), ("adjust", 2))
        self.assertNotEqual(self.fid_of(b), fb)
        self.assertPartition(village)
        # The neighbour's old id is stale now too.
        self.assertProblem(self.ogc("PATCH", f"{GRID}/{fb}?adjust=neighbours", {"geometry": new_a}), 409, "feature_superseded")

    def test_delete_retires_and_post_creates(self):
        village = "330521004002"
        code = self.grids_of(village)[-1]
        shape = self.geojson(self.geom_of(code))
        fid = self.fid_of(code)
        self.assertProblem(self.ogc("DELETE", f"{GRID}/{fid}", headers={"If-Match": f'"{code}-v9"'}), 412, "precondition_failed")
        r = self.ogc("DELETE", f"{GRID}/{fid}")
        self.assertEqual(r.status, 204, r)
        self.assertProblem(self.get("/v1/areas/" + code), 410, "area_retired")
        self.assertEqual(self.audit(code)[-1][1], "area.retire")
        self.assertProblem(self.ogc("DELETE", f"{GRID}/{fid}"), 410, "area_retired")
        # The freed ground takes a new grid; the collection gives the level.
        new_code = village + "090"
        feature = {"type": "Feature", "geometry": shape,
                   "properties": {"code": new_code, "name": "新建网格", "parent": village, "workers": 0, "version": None,
                                  "attributes": ""}}
        r = self.ogc("POST", GRID, feature)
        self.assertEqual(r.status, 201, r)
        new_fid = self.fid_of(new_code)
        self.assertTrue(r.header("Location").endswith(f"{GRID}/{new_fid}"))
        self.assertTrue(r.header("ETag").startswith(f'"{new_code}-v1-'), r.header("ETag"))
        self.assertEqual(r.json["properties"]["level"], "grid")
        self.assertEqual(self.audit(new_code)[-1][1], "area.create")
        self.assertPartition(village)
        # The same ground twice overlaps; another level does not belong in this collection.
        feature["properties"]["code"] = village + "091"
        doc = self.assertProblem(self.ogc("POST", GRID, feature), 409, "overlaps_sibling")
        self.assertIn("Overlaps", doc["title"])
        feature["properties"]["level"] = "village"
        self.assertProblem(self.ogc("POST", GRID, feature), 422, "invalid_level")

    def test_roles_scopes_and_authentication(self):
        code = self.grids_of("330521001006")[0]
        fid = self.fid_of(code)
        body = {"properties": {"name": "无权网格"}}
        elsewhere = self.s.token("manager", scope="330521002", name="other township")
        self.assertProblem(self.ogc("PATCH", f"{GRID}/{fid}", body, token=elsewhere), 403, "outside_scope")
        viewer = self.s.token("viewer", name="viewer")
        doc = self.assertProblem(self.ogc("PATCH", f"{GRID}/{fid}", body, token=viewer), 403, "role_forbidden")
        self.assertIn("无编辑权限", doc["title"])
        r = self.s.request("PATCH", f"{GRID}/{fid}", body)
        self.assertProblem(r, 401, "unauthorized")
        self.assertIn("Basic", r.header("WWW-Authenticate"))
        self.assertEqual(self.fid_of(code), fid)
        # A GIS client's Basic authentication (the token as the password) edits like the bearer.
        manager = self.s.token("manager", scope="330521001", name="qgis desk")
        basic = "Basic " + base64.b64encode(f"qgis:{manager}".encode()).decode()
        r = self.s.request("PATCH", f"{GRID}/{fid}", body, headers={"Authorization": basic}, content_type="application/geo+json")
        self.assertEqual(r.status, 200, r)
        self.assertIn("qgis desk", self.audit(code)[-1][0])


if __name__ == "__main__":
    import unittest
    unittest.main()
