"""GET /v1/export and `wangge export`: every file is read back by GDAL's tools (ogr2ogr, ogrinfo,
gdalsrsinfo), never by wangge's own code, and compared with the database."""
import csv
import io
import os
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
import zipfile

from harness import ApiTestCase
from exchange_util import dbf_header, epsg_of_prj, gdal, read_features


class ExportTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="wangge-export-test-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def export(self, token=None, expect=200, **params):
        """Downloads an export; returns the path of the saved file (or the Reply when not 200)."""
        url = self.s.base + "/v1/export?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + (token or self.admin)})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                body = resp.read()
                self.assertEqual(expect, resp.status)
                disposition = resp.headers["Content-Disposition"]
                name = disposition.split('filename="')[1].rstrip('"')
                path = os.path.join(self.tmp, f"{len(os.listdir(self.tmp))}_{name}")
                with open(path, "wb") as f:
                    f.write(body)
                self.last_headers = resp.headers
                return path
        except urllib.error.HTTPError as e:
            from harness import Reply
            reply = Reply(e.code, e.headers, e.read().decode("utf-8"))
            if expect == 200:
                self.fail(f"export {params} failed: {reply}")
            return reply

    def unzip(self, path):
        out = path + ".d"
        with zipfile.ZipFile(path) as z:
            z.extractall(out)
        return out

    def db_grids(self, where="TRUE"):
        rows = self.s.sql(
            "SELECT a.code, a.name, a.parent_code, coalesce(a.households::text, ''), coalesce(a.population::text, ''), "
            "a.version, (SELECT count(*) FROM worker_assignments w WHERE w.grid_code = a.code AND w.unassigned_at IS NULL) "
            f"FROM areas a WHERE a.level = 'grid' AND a.valid_to IS NULL AND {where} ORDER BY a.code")
        return {r[0]: {"name": r[1], "parent": r[2], "households": r[3], "population": r[4], "version": int(r[5]),
                       "workers": int(r[6])} for r in rows}

    def assertGridsEqual(self, features, expected, field_map=None):
        m = field_map or {}
        got = {}
        for f in features:
            p = f["properties"]
            got[p[m.get("code", "code")]] = {
                "name": p[m.get("name", "name")], "parent": p[m.get("parent", "parent")],
                "households": "" if p[m.get("households", "households")] is None else str(p[m.get("households", "households")]),
                "population": "" if p[m.get("population", "population")] is None else str(p[m.get("population", "population")]),
                "version": int(p[m.get("version", "version")]), "workers": int(p[m.get("workers", "workers")])}
        self.assertEqual(len(features), len(expected))
        self.assertEqual(got, expected)

    # --- shapefiles ---------------------------------------------------------------------------

    def test_shapefile_utf8_zip(self):
        path = self.export(level="grid")
        self.assertEqual(self.last_headers["Content-Type"], "application/zip")
        # Streamed from the file GDAL wrote, in chunks, not built in memory as one body.
        self.assertEqual(self.last_headers["Transfer-Encoding"], "chunked")
        self.assertIsNone(self.last_headers["Content-Length"])
        with zipfile.ZipFile(path) as z:
            names = sorted(z.namelist())
        self.assertEqual(names, sorted(["areas_grid.shp", "areas_grid.shx", "areas_grid.dbf", "areas_grid.prj",
                                        "areas_grid.cpg", "areas_grid_fields.csv"]))
        d = self.unzip(path)
        with open(os.path.join(d, "areas_grid.cpg")) as f:
            self.assertEqual(f.read().strip(), "UTF-8")
        ldid, fields = dbf_header(os.path.join(d, "areas_grid.dbf"))
        self.assertEqual(ldid, 0, "a UTF-8 DBF must not declare a code page in its LDID (ArcGIS prefers the LDID)")
        self.assertTrue(all(len(n) <= 10 for n in fields), fields)
        features = read_features(os.path.join(d, "areas_grid.shp"))
        self.assertGridsEqual(features, self.db_grids())
        self.assertTrue(any("网格" in f["properties"]["name"] for f in features))
        # GDAL also reads the ZIP as it is.
        self.assertEqual(len(read_features("/vsizip/" + path + "/areas_grid.shp")), len(features))

    def test_shapefile_gbk_with_and_without_cpg(self):
        path = self.export(level="grid", encoding="gbk")
        d = self.unzip(path)
        dbf = os.path.join(d, "areas_grid.dbf")
        ldid, _ = dbf_header(dbf)
        self.assertEqual(ldid, 0x4D, "GBK DBF must carry LDID 0x4D (CP936)")
        with open(os.path.join(d, "areas_grid.cpg")) as f:
            self.assertEqual(f.read().strip(), "936")
        expected = self.db_grids()
        shp = os.path.join(d, "areas_grid.shp")
        self.assertGridsEqual(read_features(shp), expected)                                   # .cpg
        self.assertGridsEqual(read_features(shp, config={"SHAPE_ENCODING": "CP936"}), expected)
        os.remove(os.path.join(d, "areas_grid.cpg"))
        self.assertGridsEqual(read_features(shp), expected)                                   # LDID alone
        self.assertGridsEqual(read_features(shp, config={"SHAPE_ENCODING": "CP936"}), expected)
        # The bytes really are GBK, not UTF-8.
        with open(dbf, "rb") as f:
            data = f.read()
        some = next(iter(expected.values()))["name"]
        self.assertIn(some.encode("gbk"), data)
        self.assertNotIn(some.encode("utf-8"), data)

    def test_long_values_cut_on_character_boundaries(self):
        code = sorted(self.db_grids())[0]
        _, etag = self.area(code)
        note = "网格化管理" * 60  # 900 bytes in UTF-8, 600 in GBK
        r = self.patch(code, {"properties": {"attributes": {"note": note}}}, etag)
        self.assertEqual(r.status, 200, r)
        full = self.s.sql(f"SELECT attributes::text FROM areas WHERE code = '{code}' AND valid_to IS NULL")[0][0]
        for encoding, codec in (("utf-8", "utf-8"), ("gbk", "gbk")):
            path = self.export(level="grid", encoding=encoding, area=code)
            d = self.unzip(path)
            dbf = os.path.join(d, f"areas_grid_{code}.dbf")
            # ogr2ogr would replace invalid bytes; read the DBF bytes directly for the cut itself.
            feats = read_features(os.path.join(d, f"areas_grid_{code}.shp"))
            self.assertEqual(len(feats), 1)
            value = feats[0]["properties"]["attributes"]
            self.assertTrue(full.startswith(value), (encoding, value[-20:]))
            encoded = len(value.encode(codec))
            self.assertLessEqual(encoded, 254, encoding)
            self.assertGreater(encoded, 254 - 3, encoding)
            self.assertNotIn("\ufffd", value)
            # The DBF holds the field under its full name (10 bytes exactly).
            _, names = dbf_header(dbf)
            self.assertIn(b"attributes", names)

    def test_field_names_at_most_10_bytes_and_mapping(self):
        path = self.export(layer="incidents", encoding="gbk")
        d = self.unzip(path)
        _, names = dbf_header(os.path.join(d, "incidents.dbf"))
        self.assertTrue(all(len(n) <= 10 for n in names), names)
        self.assertEqual(len(set(n.upper() for n in names)), len(names))
        with open(os.path.join(d, "incidents_fields.csv"), encoding="utf-8-sig") as f:
            mapping = {row["name"]: row["field"] for row in csv.DictReader(f)}
        self.assertEqual(mapping["description"], "descriptio")
        self.assertEqual(mapping["reported_at"], "reported_a")
        self.assertEqual([n.decode() for n in names], list(mapping.values()))
        feats = read_features(os.path.join(d, "incidents.shp"))
        db = {int(r[0]): r[1] for r in self.s.sql("SELECT id, description FROM incidents")}
        self.assertEqual({f["properties"]["id"]: f["properties"]["descriptio"] for f in feats}, db)

    def test_prj_identified_as_requested_epsg(self):
        for epsg in (4490, 4326, 3857, 4527, 4528, 4529, 4548, 4549, 4550):
            with self.subTest(epsg=epsg):
                path = self.export(level="township", crs=f"EPSG:{epsg}")
                d = self.unzip(path)
                self.assertEqual(epsg_of_prj(os.path.join(d, "areas_township.prj")), f"EPSG:{epsg}")
                with open(os.path.join(d, "areas_township.prj")) as f:
                    prj = f.read()
                self.assertFalse(prj.startswith(("GEOGCRS", "PROJCRS")), "the .prj must be ESRI WKT1")
        # Coordinates really are in the zone: a Gauss-Krüger easting without zone prefix near 500 km.
        path = self.export(level="township", crs="EPSG:4549")
        ext = gdal("ogrinfo", "-so", "-al", "/vsizip/" + path + "/areas_township.shp")
        line = next(l for l in ext.splitlines() if l.startswith("Extent"))
        x = float(line.split("(")[1].split(",")[0])
        self.assertTrue(300000 < x < 700000, line)

    # --- other formats ------------------------------------------------------------------------

    def test_every_format_carries_the_same_attributes(self):
        expected = self.db_grids()
        for fmt, media in (("gpkg", "application/geopackage+sqlite3"), ("geojson", "application/geo+json"),
                           ("flatgeobuf", "application/flatgeobuf"), ("kml", "application/vnd.google-earth.kml+xml"),
                           ("csv", "text/csv")):
            with self.subTest(format=fmt):
                path = self.export(level="grid", format=fmt)
                self.assertTrue(self.last_headers["Content-Type"].startswith(media))
                feats = read_features(path)
                if fmt == "kml":
                    # KML keeps the name in <name>, read back as "Name".
                    for f in feats:
                        f["properties"]["name"] = f["properties"].pop("Name")
                self.assertGridsEqual(feats, expected)
                for f in feats:
                    self.assertIsNotNone(f["geometry"])

    def test_at_reproduces_the_past(self):
        code = sorted(self.db_grids())[-1]
        before = self.s.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")[0][0]
        old_name = self.db_grids()[code]["name"]
        _, etag = self.area(code)
        r = self.patch(code, {"properties": {"name": "改名后的网格"}}, etag)
        self.assertEqual(r.status, 200, r)
        now = {f["properties"]["code"]: f["properties"] for f in read_features(self.export(level="grid", format="gpkg"))}
        then = {f["properties"]["code"]: f["properties"] for f in
                read_features(self.export(level="grid", format="gpkg", at=before))}
        self.assertEqual(now[code]["name"], "改名后的网格")
        self.assertEqual(then[code]["name"], old_name)
        self.assertEqual(then[code]["version"], now[code]["version"] - 1)
        self.assertEqual(len(then), len(now))

    def test_incidents_and_checkpoints(self):
        for layer, table in (("incidents", "incidents"), ("checkpoints", "checkpoints")):
            with self.subTest(layer=layer):
                feats = read_features(self.export(layer=layer, format="gpkg"))
                db = {int(r[0]): r[1] for r in self.s.sql(f"SELECT id, grid_code FROM {table}")}
                self.assertEqual({f["properties"]["id"]: f["properties"]["grid"] for f in feats}, db)

    # --- access and errors --------------------------------------------------------------------

    def test_scope_limits_the_export(self):
        township = self.s.sql("SELECT code FROM areas WHERE level = 'township' AND valid_to IS NULL ORDER BY code LIMIT 1")[0][0]
        token = self.s.token("viewer", scope=township)
        feats = read_features(self.export(token=token, level="grid", format="geojson"))
        self.assertGridsEqual(feats, self.db_grids(f"a.code LIKE '{township}%'"))
        other = self.s.sql(f"SELECT code FROM areas WHERE level = 'township' AND code <> '{township}' LIMIT 1")[0][0]
        self.assertProblem(self.export(token=token, expect=403, level="grid", area=other), 403, "outside_scope")
        inc = read_features(self.export(token=token, layer="incidents", format="geojson"))
        n = self.s.sql(f"SELECT count(*) FROM incidents WHERE grid_code LIKE '{township}%'")[0][0]
        self.assertEqual(len(inc), int(n))

    def test_errors(self):
        r = self.s.request("GET", "/v1/export?level=grid")
        self.assertProblem(r, 401, "unauthorized")
        self.assertProblem(self.export(expect=400, format="dwg"), 400, "invalid_parameter")
        self.assertProblem(self.export(expect=400, format="gpkg", encoding="gbk"), 400, "invalid_parameter")
        self.assertProblem(self.export(expect=400, crs="EPSG:2000"), 400, "unsupported_crs")
        self.assertProblem(self.export(expect=400, level="hamlet"), 400, "invalid_parameter")
        self.assertProblem(self.export(expect=400, layer="checkpoints", at="2026-01-01T00:00:00Z"), 400, "invalid_parameter")
        self.assertProblem(self.export(expect=404, area="339999"), 404, "area_not_found")

    def test_cli_export_matches(self):
        out = os.path.join(self.tmp, "cli_grid.zip")
        p = subprocess.run([self.s.bin, "export", "--level", "grid", "--encoding", "gbk", "--output", out],
                           env=self.s.env, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertGridsEqual(read_features("/vsizip/" + out + "/areas_grid.shp"), self.db_grids())
        p = subprocess.run([self.s.bin, "export", "--format", "nope"], env=self.s.env, capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("format", p.stderr)


class ShapefilePartsTest(ApiTestCase):
    """A shapefile part stops short of 2 GB and the rows go on in the next part; here the limit is
    lowered to 20 kB (WANGGE_SHAPEFILE_PART_MB) so the sample's grids need several parts."""
    server_env = {"WANGGE_SHAPEFILE_PART_MB": "0.02"}

    def test_parts_split_the_rows_and_gdal_reads_them_all(self):
        tmp = tempfile.mkdtemp(prefix="wangge-export-parts-")
        self.addCleanup(shutil.rmtree, tmp, True)
        url = self.s.base + "/v1/export?" + urllib.parse.urlencode({"level": "grid"})
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + self.admin})
        with urllib.request.urlopen(req, timeout=120) as resp:
            path = os.path.join(tmp, "grids.zip")
            with open(path, "wb") as f:
                f.write(resp.read())
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            z.extractall(tmp)
        shps = sorted(n for n in names if n.endswith(".shp"))
        self.assertGreaterEqual(len(shps), 3, names)
        self.assertEqual(shps[0], "areas_grid.shp")
        self.assertIn("areas_grid_2.shp", shps)
        codes = []
        for shp in shps:
            base = shp[:-4]
            for ext in (".shx", ".dbf", ".prj", ".cpg"):
                self.assertIn(base + ext, names)
            self.assertLess(os.path.getsize(os.path.join(tmp, shp)), 20 * 1024 + 16 * 4096, shp)
            codes += [f["properties"]["code"] for f in read_features(os.path.join(tmp, shp))]
        expected = [r[0] for r in self.s.sql("SELECT code FROM areas WHERE level = 'grid' AND valid_to IS NULL ORDER BY code")]
        self.assertEqual(sorted(codes), expected, "every grid exactly once over the parts")
