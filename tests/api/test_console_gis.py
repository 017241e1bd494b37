"""The console's 数据交换 screen walked in Debian's Chromium (tests/browser/console_gis_check.mjs):
a GIS user imports a file with a problem, sees it in the list and on the map, imports the
corrected file, and exports a GBK shapefile that GDAL reads back. The results are checked here
through the API, the database and the downloaded file's bytes."""
import base64
import datetime
import json
import os
import tempfile
import urllib.request
import zipfile

from harness import ApiTestCase
from console_people import PASSWORD, ConsolePeople

VILLAGE = "330521001001"
NEW_NAME = "泰圩社区·滨河网格"


class GisJourney(ConsolePeople, ApiTestCase):
    def village_grids(self):
        rows = self.s.sql(
            "SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(json_build_object('type', 'Feature', "
            "'properties', json_build_object('code', code, 'name', name), 'geometry', ST_AsGeoJSON(geom, 9)::json) ORDER BY code)) "
            f"FROM areas WHERE parent_code = '{VILLAGE}' AND valid_to IS NULL")
        return json.loads(rows[0][0])

    def test_a_gis_user_imports_a_corrected_file_and_exports_a_gbk_shapefile(self):
        self.person("lisi", "李四", "manager", "330521001")
        self.person("zhoujiu", "周九", "analyst", "330521001")
        fc = self.village_grids()
        a = fc["features"][0]["properties"]["code"]
        etag_before = self.area(a)[1]
        work = tempfile.mkdtemp(prefix="wangge-gis-")
        # The file with a problem: the first grid swells ~30 m into its neighbours.
        bad = json.loads(json.dumps(fc))
        bad["features"][0]["geometry"] = self.geojson(f"ST_Multi(ST_Buffer({self.geom_of(a)}, 0.0003, 'join=mitre'))")
        bad_file = os.path.join(work, "网格-有问题.geojson")
        with open(bad_file, "w", encoding="utf-8") as f:
            json.dump(bad, f, ensure_ascii=False)
        # The corrected file: the borders as they are, the grid renamed.
        good = json.loads(json.dumps(fc))
        good["features"][0]["properties"]["name"] = NEW_NAME
        good_file = os.path.join(work, "网格-已改正.geojson")
        with open(good_file, "w", encoding="utf-8") as f:
            json.dump(good, f, ensure_ascii=False)
        today = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).date().isoformat()
        out = self.browse("console_gis_check.mjs", {
            "login": "lisi", "password": PASSWORD, "village": VILLAGE, "bad_file": bad_file, "good_file": good_file,
            "name": NEW_NAME, "crs": "EPSG:4549", "today": today, "reader": "zhoujiu"},
            ["console-gis-import-problem.png", "console-gis-import-checked.png", "console-gis-imported.png", "console-gis-export.png",
             "console-gis-ogc.png"])
        # The problem was listed (an overlap of the first feature, located) and drawn on the map;
        # the file could not be imported.
        self.assertEqual(out["bad_valid"], "false", out)
        overlaps = [p for p in out["problems"] if p["problem"] == "overlap"]
        self.assertTrue(overlaps, out["problems"])
        self.assertTrue(all(p["located"] for p in overlaps), overlaps)
        # Said in Chinese, without the server's English detail beside it.
        self.assertTrue(all("与文件中另一要素重叠" in p["text"] and "overlap" not in p["text"] for p in overlaps), overlaps)
        self.assertIn("1", [p["feature"] for p in out["problems"]])
        self.assertFalse(out["commit_enabled_after_bad"])
        self.assertGreater(out["map"]["problem_areas"], 0, "the overlap is not drawn on the map")
        self.assertGreater(out["map"]["flagged_outlines"], 0, "the feature with the problem is not outlined")
        # The corrected file was imported: one new version of the grid, by the person, nothing else.
        self.assertEqual(out["good_valid"], "true")
        self.assertEqual(out["written"], 1)
        grid, etag = self.area(a)
        self.assertNotEqual(etag, etag_before)
        self.assertEqual(grid["properties"]["name"], NEW_NAME)
        self.assertEqual(grid["properties"]["changed_by"], "lisi (李四)")
        self.assertEqual(int(self.s.sql(f"SELECT count(*) FROM areas WHERE parent_code = '{VILLAGE}' AND version > 1")[0][0]), 1)
        # The export: GDAL read the GBK names through the .cpg, in the CRS asked for.
        self.assertIn("encoding=gbk", out["export_url"])
        self.assertIn("crs=EPSG%3A4549", out["export_url"])
        self.assertIn("at=", out["export_url"])
        self.assertTrue(out["ogr_name_found"], out)
        self.assertTrue(out["ogr_srs_has_epsg"], out)
        self.assertEqual(out["ogr_feature_count"], len(fc["features"]))
        with zipfile.ZipFile(out["download"]) as z:
            names = z.namelist()
            cpg = [n for n in names if n.endswith(".cpg")]
            dbf = [n for n in names if n.endswith(".dbf")]
            self.assertTrue(cpg and dbf, names)
            self.assertIn(z.read(cpg[0]).decode("ascii").strip().upper(), ("GBK", "CP936", "936"))
            raw = z.read(dbf[0])
            self.assertIn(NEW_NAME.encode("gbk"), raw)
            self.assertNotIn(NEW_NAME.encode("utf-8"), raw)
        # The OGC API address the page shows works as it says: Basic with a token as the password.
        self.assertEqual(out["ogc_url"], self.s.base + "/ogc")
        self.assertIn("基本", out["ogc_howto"])
        self.assertIn("grid", out["collections"])
        token = self.s.token("analyst", scope="330521001")
        req = urllib.request.Request(out["ogc_url"] + "/collections", headers={
            "Authorization": "Basic " + base64.b64encode(("lisi:" + token).encode()).decode()})
        with urllib.request.urlopen(req, timeout=30) as r:
            self.assertEqual(r.status, 200)
