"""POST /v1/import modes (insert, upsert, replace-children), multipart uploads and the CLI's progress,
on the sample jurisdiction: a village's grids are exported as GeoJSON by the server and imported back,
changed. Every result is read back from the database."""
import json
import os
import subprocess
import urllib.parse
import uuid

from harness import ApiTestCase


class ImportModesTest(ApiTestCase):
    VILLAGE = "330521110005"

    def post(self, data, content_type="application/geo+json", token=None, **params):
        return self.s.request("POST", "/v1/import?" + urllib.parse.urlencode(params), raw=data,
                              token=token or self.admin, content_type=content_type)

    def village_grids(self, village=None):
        """The current grids of a village as a GeoJSON FeatureCollection with code and name (EPSG:4490)."""
        rows = self.s.sql(
            "SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(json_build_object('type', 'Feature', "
            "'properties', json_build_object('code', code, 'name', name), 'geometry', ST_AsGeoJSON(geom, 9)::json) ORDER BY code)) "
            f"FROM areas WHERE parent_code = '{village or self.VILLAGE}' AND valid_to IS NULL")
        return json.loads(rows[0][0])

    def versions(self, code):
        return [(int(v), t == "") for v, t in self.s.sql(
            f"SELECT version, coalesce(valid_to::text, '') FROM areas WHERE code = '{code}' ORDER BY version")]

    def test_insert_refuses_existing_codes_and_upsert_updates_them(self):
        fc = self.village_grids()
        codes = [f["properties"]["code"] for f in fc["features"]]
        data = json.dumps(fc).encode()
        r = self.post(data, level="grid", parent=self.VILLAGE)
        doc = self.assertProblem(r, 422, "import_invalid")
        taken = {p["code"] for p in doc["report"]["problems"] if p["problem"] == "code_taken"}
        self.assertEqual(taken, set(codes), doc["report"]["problems"])
        # The same file again as upsert: nothing changes (no new versions).
        r = self.post(data, level="grid", parent=self.VILLAGE, mode="upsert")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["updated"], r.json["unchanged"], r.json["inserted"]), (0, len(codes), 0), r.json)
        self.assertEqual(self.versions(codes[0]), [(1, True)])
        # Rename one grid and move the border between the first two (the first gives 1/3 of itself
        # to the second): both get a new version; the others stay.
        a, b = codes[0], codes[1]
        shared = self.s.sql(f"SELECT ST_Length(ST_Intersection(ST_Boundary((SELECT geom FROM areas WHERE code = '{a}' "
                            f"AND valid_to IS NULL)), (SELECT geom FROM areas WHERE code = '{b}' AND valid_to IS NULL)))")[0][0]
        self.assertGreater(float(shared), 0, "the first two grids of the sample village must touch")
        moved = (f"ST_Intersection((SELECT geom FROM areas WHERE code = '{a}' AND valid_to IS NULL), "
                 f"ST_Buffer((SELECT geom FROM areas WHERE code = '{b}' AND valid_to IS NULL), 0.001))")
        new_a = self.geojson(f"ST_Multi(ST_CollectionExtract(ST_Difference((SELECT geom FROM areas WHERE code = '{a}' AND valid_to IS NULL), {moved}), 3))")
        new_b = self.geojson(f"ST_Multi(ST_CollectionExtract(ST_Union((SELECT geom FROM areas WHERE code = '{b}' AND valid_to IS NULL), {moved}), 3))")
        for f in fc["features"]:
            if f["properties"]["code"] == a:
                f["geometry"] = new_a
                f["properties"]["name"] = "导入改名网格"
            elif f["properties"]["code"] == b:
                f["geometry"] = new_b
        before_a = self.area(a)[1]
        lon, lat = map(float, self.s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface({moved}) AS p) t")[0])
        r = self.post(json.dumps(fc).encode(), level="grid", parent=self.VILLAGE, mode="upsert", dry_run="true")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["valid"], r.json)
        self.assertEqual(self.versions(a), [(1, True)], "a dry run writes nothing")
        r = self.post(json.dumps(fc).encode(), level="grid", parent=self.VILLAGE, mode="upsert")
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json["updated"], r.json["unchanged"], r.json["inserted"]), (2, len(codes) - 2, 0), r.json)
        # Read-your-writes: the importer's very next reads, answered from memory, hold the import.
        page = self.get("/ogc/collections/grid/items?filter=" + urllib.parse.quote(f"code = '{a}'"))
        self.assertEqual(page.status, 200, page)
        self.assertEqual([f["properties"]["name"] for f in page.json["features"]], ["导入改名网格"])
        located = self.get(f"/v1/locate?lon={lon}&lat={lat}")
        self.assertEqual(located.status, 200, located)
        self.assertEqual(located.json["grid"]["code"], b, "the part the import moved is located in its new grid")
        self.assertEqual(self.versions(a), [(1, False), (2, True)])
        self.assertEqual(self.versions(b), [(1, False), (2, True)])
        self.assertEqual(self.versions(codes[2]), [(1, True)])
        feature, etag = self.area(a)
        self.assertEqual(feature["properties"]["name"], "导入改名网格")
        self.assertNotEqual(etag, before_a)
        # Still a partition: the village's coverage report finds no gap or overlap.
        cov = self.get(f"/v1/areas/{self.VILLAGE}/coverage").json
        self.assertTrue(cov["partition"], cov)
        self.assertEqual((cov["gaps"]["features"], cov["overlaps"]["features"]), ([], []), cov)
        audit = self.s.sql(f"SELECT version_after FROM audit_log WHERE action = 'area.import' AND target = '{a}'")
        self.assertEqual([row[0] for row in audit], ["2"])

    def test_upsert_refuses_overlaps_with_siblings_it_keeps(self):
        village = "330521110004"
        fc = self.village_grids(village)
        a, b = fc["features"][0]["properties"]["code"], fc["features"][1]["properties"]["code"]
        # Only the first grid, grown into the second: the second stays, so the two overlap.
        grown = self.geojson(f"ST_Multi(ST_Union((SELECT geom FROM areas WHERE code = '{a}' AND valid_to IS NULL), "
                             f"ST_Intersection((SELECT geom FROM areas WHERE code = '{b}' AND valid_to IS NULL), "
                             f"ST_Buffer((SELECT geom FROM areas WHERE code = '{a}' AND valid_to IS NULL), 0.0005))))")
        only_a = {"type": "FeatureCollection", "features": [dict(fc["features"][0], geometry=grown)]}
        r = self.post(json.dumps(only_a).encode(), level="grid", parent=village, mode="upsert")
        doc = self.assertProblem(r, 422, "import_invalid")
        self.assertIn("overlaps_sibling", {p["problem"] for p in doc["report"]["problems"]})
        self.assertEqual(self.versions(a), [(1, True)])

    def test_replace_children_swaps_the_whole_set(self):
        village = "330521001010"  # five grids in the sample
        fc = self.village_grids(village)
        old_codes = [f["properties"]["code"] for f in fc["features"]]
        self.assertGreaterEqual(len(old_codes), 3)
        # The plan: the first two grids become one new grid with a fresh code; the rest stay.
        first, second = old_codes[0], old_codes[1]
        merged = self.geojson(f"ST_Multi(ST_UnaryUnion(ST_Collect((SELECT geom FROM areas WHERE code = '{first}' AND valid_to IS NULL), "
                              f"(SELECT geom FROM areas WHERE code = '{second}' AND valid_to IS NULL))))")
        new_code = village + "900"
        plan = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"code": new_code, "name": "合并后网格"}, "geometry": merged}]
            + fc["features"][2:]}
        # A plan with a gap (one grid left out) is refused, listing the gap; nothing changes.
        holey = {"type": "FeatureCollection", "features": plan["features"][:-1]}
        r = self.post(json.dumps(holey).encode(), level="grid", parent=village, mode="replace-children")
        doc = self.assertProblem(r, 422, "import_invalid")
        gaps = [p for p in doc["report"]["problems"] if p["problem"] == "gap"]
        self.assertEqual(len(gaps), 1, doc)
        self.assertGreater(gaps[0]["gap_m2"], 1000)
        self.assertEqual(self.versions(first), [(1, True)])
        # Dry run: the redistricting's own answer, nothing written.
        r = self.post(json.dumps(plan).encode(), level="grid", parent=village, mode="replace-children", dry_run="true")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["valid"], r.json)
        self.assertIn("operation", r.json)
        self.assertEqual(self.versions(first), [(1, True)])
        r = self.post(json.dumps(plan).encode(), level="grid", parent=village, mode="replace-children")
        self.assertEqual(r.status, 201, r)
        current = [row[0] for row in self.s.sql(
            f"SELECT code FROM areas WHERE parent_code = '{village}' AND valid_to IS NULL ORDER BY code")]
        self.assertEqual(current, sorted(old_codes[2:] + [new_code]))
        self.assertEqual(self.versions(first), [(1, False)])
        lineage = self.get(f"/v1/areas/{new_code}/lineage").json
        self.assertIn(first, json.dumps(lineage))
        self.assertIn(second, json.dumps(lineage))
        cov = self.get(f"/v1/areas/{village}/coverage").json
        self.assertTrue(cov["partition"], cov)
        self.assertEqual((cov["gaps"]["features"], cov["overlaps"]["features"]), ([], []), cov)

    def test_multipart_upload_with_options_in_parts(self):
        village = "330521110002"
        fc = self.village_grids(village)
        boundary = "wangge-" + uuid.uuid4().hex
        body = b""
        for name, value in (("level", "grid"), ("parent", village), ("mode", "upsert"), ("dry_run", "true")):
            body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"村网格.geojson\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode() + json.dumps(fc).encode() + f"\r\n--{boundary}--\r\n".encode()
        r = self.post(body, content_type=f"multipart/form-data; boundary={boundary}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["mode"], "upsert")
        self.assertEqual(r.json["features"], len(fc["features"]))
        self.assertTrue(r.json["dry_run"])
        # Broken bodies are refused clearly.
        r = self.post(body[: len(body) // 2], content_type=f"multipart/form-data; boundary={boundary}")
        self.assertProblem(r, 400, "invalid_body")
        r = self.post(body, content_type="multipart/form-data")
        self.assertProblem(r, 400, "invalid_body")
        no_file = f"--{boundary}\r\nContent-Disposition: form-data; name=\"level\"\r\n\r\ngrid\r\n--{boundary}--\r\n".encode()
        r = self.post(no_file, content_type=f"multipart/form-data; boundary={boundary}")
        self.assertProblem(r, 400, "invalid_body")
        r = self.post(b"x", content_type="multipart/mixed; boundary=x")
        self.assertProblem(r, 415, "unsupported_media_type")

    def test_bad_mode_and_replace_without_parent(self):
        data = json.dumps(self.village_grids()).encode()
        self.assertProblem(self.post(data, level="grid", parent=self.VILLAGE, mode="merge"), 400, "invalid_parameter")
        self.assertProblem(self.post(data, level="grid", mode="replace-children"), 400, "invalid_parameter")

    def test_cli_reports_progress_on_stderr(self):
        village = "330521110001"
        path = os.path.join(self.s.var, "grids.geojson")
        with open(path, "w") as f:
            json.dump(self.village_grids(village), f)
        env = dict(os.environ, WANGGE_DATABASE_URL=self.s.url)
        p = subprocess.run([self.s.bin, "import", path, "--level", "grid", "--parent", village, "--mode", "upsert", "--dry_run"],
                           capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("features", p.stderr)
        self.assertIn("checking codes", p.stderr)
        report = json.loads(p.stdout)
        self.assertEqual(report["mode"], "upsert")
        self.assertTrue(report["valid"], report)

    def test_parent_field_spreads_one_file_over_several_parents(self):
        villages = ("330521001001", "330521001002")
        rows = self.s.sql(
            "SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(json_build_object('type', 'Feature', "
            "'properties', json_build_object('code', code, 'name', name, 'cun', parent_code), 'geometry', ST_AsGeoJSON(geom, 9)::json) "
            f"ORDER BY code)) FROM areas WHERE parent_code IN {villages} AND valid_to IS NULL")
        fc = json.loads(rows[0][0])
        r = self.post(json.dumps(fc).encode(), level="grid", parent_field="cun", mode="upsert", dry_run="true")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["valid"], r.json)
        self.assertEqual(r.json["updated_or_unchanged"], len(fc["features"]))
        # A feature naming a parent that does not exist, one naming a parent of the wrong level.
        fc["features"][0]["properties"]["cun"] = "330521001999"
        fc["features"][1]["properties"]["cun"] = "330521001"
        r = self.post(json.dumps(fc).encode(), level="grid", parent_field="cun", mode="upsert", dry_run="true")
        self.assertEqual(r.status, 200, r)
        problems = {p["problem"] for p in r.json["problems"]}
        self.assertTrue({"parent_not_found", "parent_level_mismatch"} <= problems, r.json["problems"])
        self.assertProblem(self.post(json.dumps(fc).encode(), level="grid", parent="330521001001", parent_field="cun"),
                           400, "invalid_parameter")
        self.assertProblem(self.post(json.dumps(fc).encode(), level="grid", parent_field="nope"), 400, "invalid_parameter")
