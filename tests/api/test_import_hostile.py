"""POST /v1/import with damaged and hostile files: text in the wrong encoding, corrupt shapefile
records, unusable coordinate systems, broken or malicious ZIPs, GeoJSON with coordinates that are
not numbers. Each is answered with a problem document and a stable code (never a 500, never a
server path or GDAL's own text), nothing is written, and /health answers within 100 ms right after.
The files are made here with GDAL's own ogr2ogr (gdal-bin), then damaged byte by byte."""
import io
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time
import urllib.parse
import zipfile

from harness import ApiTestCase

HEALTH_WITHIN_S = 0.1
# A county-sized square in Deqing (Zhejiang), in EPSG:4490.
SQUARE = [[[119.95, 30.50], [120.05, 30.50], [120.05, 30.60], [119.95, 30.60], [119.95, 30.50]]]
PLACEHOLDER = "ZZZZZZ"  # 6 bytes in the .dbf, replaced by the bytes under test
GBK_NAME = "姑苏区".encode("gbk")  # 6 bytes
NOT_TEXT = b"\xff\xfe\xff\xfe\xff\xfe"  # neither UTF-8 nor GBK
LOCAL_CS = 'LOCAL_CS["site grid",LOCAL_DATUM["site",0],UNIT["Meter",1.0],AXIS["X",EAST],AXIS["Y",NORTH]]'
LEAKS = ("/tmp/", "/vsizip/", "/work/", "upload.", "Corrupted", "ERROR 1", "Type is not double", "std::", "basic_string")


def feature(geometry, **props):
    return {"type": "Feature", "properties": {"code": "339999", "name": "test", **props}, "geometry": geometry}


def collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def polygon(coordinates=None):
    return {"type": "Polygon", "coordinates": coordinates or SQUARE}


def zip_of(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


class ImportFiles(ApiTestCase):
    """Making damaged files and posting them; the tests are in the subclasses."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="wangge-import-hostile-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

    # --- making files ---------------------------------------------------------------------

    def shapefile(self, encoding="UTF-8"):
        """{extension: bytes} of a one-polygon shapefile whose name field holds PLACEHOLDER, its
        .cpg naming `encoding` (ogr2ogr writes it)."""
        d = tempfile.mkdtemp(dir=self.tmp)
        src = os.path.join(d, "in.geojson")
        with open(src, "w") as f:
            json.dump(collection(feature(polygon(), name=PLACEHOLDER)), f)
        subprocess.run(["ogr2ogr", "-f", "ESRI Shapefile", "-lco", "ENCODING=" + encoding, "-a_srs", "EPSG:4490",
                        os.path.join(d, "a.shp"), src], check=True, capture_output=True)
        parts = {}
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            path = os.path.join(d, "a" + ext)
            if os.path.exists(path):
                with open(path, "rb") as f:
                    parts[ext] = f.read()
        return parts

    def shapefile_zip(self, parts):
        return zip_of({"a" + ext: data for ext, data in parts.items()})

    def with_name_bytes(self, parts, raw):
        parts = dict(parts)
        self.assertIn(PLACEHOLDER.encode(), parts[".dbf"])
        parts[".dbf"] = parts[".dbf"].replace(PLACEHOLDER.encode(), raw)
        return parts

    def gpkg_without_geometry(self):
        d = tempfile.mkdtemp(dir=self.tmp)
        csv = os.path.join(d, "plain.csv")
        with open(csv, "w") as f:
            f.write("code,name\n339999,test\n")
        out = os.path.join(d, "plain.gpkg")
        subprocess.run(["ogr2ogr", "-f", "GPKG", out, csv], check=True, capture_output=True)
        with open(out, "rb") as f:
            return f.read()

    # --- posting and checking -------------------------------------------------------------

    def count_areas(self):
        return int(self.s.sql("SELECT count(*) FROM areas")[0][0])

    def post(self, data, content_type="application/octet-stream", **params):
        params.setdefault("level", "county")
        return self.s.request("POST", "/v1/import?" + urllib.parse.urlencode(params), raw=data, token=self.admin,
                              content_type=content_type)

    def refused(self, data, status, code, content_type="application/octet-stream", **params):
        """Posts `data` and checks the problem document, that nothing was written and that the
        server still answers at once. Returns the problem document."""
        before = self.count_areas()
        r = self.post(data, content_type, **params)
        doc = self.assertProblem(r, status, code)
        for leak in LEAKS:
            self.assertNotIn(leak, r.body, f"the answer leaks {leak!r}: {r.body[:400]}")
        self.assertIsNone(self.s.proc.poll(), "the server process ended:\n" + self.s.server_log())
        # The fastest of three: a server still busy with the file (or stuck) is slow every time,
        # while one slow sample on a loaded test machine is the scheduler's.
        times = []
        for _ in range(3):
            started = time.monotonic()
            health = self.s.request("GET", "/health")
            times.append(time.monotonic() - started)
            self.assertEqual(health.status, 200, health)
        self.assertLess(min(times), HEALTH_WITHIN_S, f"/health took {min(times):.3f} s at best after the import")
        self.assertEqual(self.count_areas(), before, "a refused import writes nothing")
        return doc

    def geojson(self, doc_or_text, status, code, **params):
        data = doc_or_text if isinstance(doc_or_text, (bytes, str)) else json.dumps(doc_or_text, allow_nan=True)
        return self.refused(data if isinstance(data, bytes) else data.encode(), status, code, "application/geo+json", **params)

class ImportHostile(ImportFiles):
    # --- text encodings -------------------------------------------------------------------

    def test_gbk_under_a_cpg_saying_utf8_is_read_as_gbk(self):
        """The documented fallback: a .cpg saying UTF-8 over GBK text is read as GBK, and the report says so."""
        parts = self.with_name_bytes(self.shapefile("UTF-8"), GBK_NAME)
        self.assertEqual(parts[".cpg"].strip(), b"UTF-8")
        before = self.count_areas()
        r = self.post(self.shapefile_zip(parts), "application/zip", dry_run="true")
        self.assertEqual(r.status, 200, r)
        self.assertIn("CP936", r.json["encoding"])
        self.assertIn(".cpg says UTF-8", r.json["encoding"])
        self.assertEqual(self.count_areas(), before)

    def test_gbk_text_when_the_caller_says_utf8(self):
        parts = self.with_name_bytes(self.shapefile("UTF-8"), GBK_NAME)
        doc = self.refused(self.shapefile_zip(parts), 422, "encoding_mismatch", "application/zip", encoding="utf-8")
        self.assertIn("feature 1", doc["detail"])

    def test_gbk_text_when_a_form_says_utf8(self):
        """The same through a browser form (multipart/form-data): options are parts beside the file."""
        parts = self.with_name_bytes(self.shapefile("UTF-8"), GBK_NAME)
        boundary = "wangge-hostile-boundary"
        body = b""
        for name, value in (("level", b"county"), ("encoding", b"utf-8")):
            body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.zip"\r\n'
                 "Content-Type: application/zip\r\n\r\n").encode() + self.shapefile_zip(parts) + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        self.refused(body, 422, "encoding_mismatch", f"multipart/form-data; boundary={boundary}")

    def test_text_that_is_neither_utf8_nor_gbk_under_a_utf8_cpg(self):
        parts = self.with_name_bytes(self.shapefile("UTF-8"), NOT_TEXT)
        self.refused(self.shapefile_zip(parts), 422, "encoding_mismatch", "application/zip")

    def test_text_that_is_neither_utf8_nor_gbk_without_cpg(self):
        parts = self.with_name_bytes(self.shapefile("UTF-8"), NOT_TEXT)
        del parts[".cpg"]
        self.refused(self.shapefile_zip(parts), 422, "encoding_mismatch", "application/zip")

    def test_geojson_with_bytes_that_are_not_utf8(self):
        data = json.dumps(collection(feature(polygon(), name=PLACEHOLDER))).encode().replace(PLACEHOLDER.encode(), GBK_NAME)
        r = self.post(data, "application/geo+json")
        # GDAL may refuse the document itself, or hand the bytes on: either is the client's file.
        self.assertIn((r.status, r.json.get("code")), {(400, "unreadable_file"), (422, "encoding_mismatch")}, r)
        self.refused(data, r.status, r.json["code"], "application/geo+json")

    # --- corrupt shapefiles ---------------------------------------------------------------

    def test_corrupt_shp_record(self):
        parts = self.shapefile()
        shp = bytearray(parts[".shp"])
        # Record 1: header (8 bytes), shape type, bounding box (32), parts, then the point count.
        struct.pack_into("<i", shp, 100 + 8 + 4 + 32 + 4, 0x7FFFFFFF)
        parts[".shp"] = bytes(shp)
        self.refused(self.shapefile_zip(parts), 400, "unreadable_file", "application/zip")

    def test_truncated_shp(self):
        parts = self.shapefile()
        parts[".shp"] = parts[".shp"][:130]
        self.refused(self.shapefile_zip(parts), 400, "unreadable_file", "application/zip")

    def test_corrupt_dbf_header(self):
        parts = self.shapefile()
        dbf = bytearray(parts[".dbf"])
        struct.pack_into("<I", dbf, 4, 0x7FFFFFFF)  # record count far beyond the file
        struct.pack_into("<H", dbf, 8, 0xFFFF)  # header length beyond the file
        parts[".dbf"] = bytes(dbf)
        self.refused(self.shapefile_zip(parts), 400, "unreadable_file", "application/zip")

    def test_truncated_dbf(self):
        parts = self.shapefile()
        parts[".dbf"] = parts[".dbf"][:-20]
        self.refused(self.shapefile_zip(parts), 400, "unreadable_file", "application/zip")

    def test_shp_without_dbf(self):
        parts = self.shapefile()
        del parts[".dbf"]
        self.assertIn(".dbf", self.refused(self.shapefile_zip(parts), 400, "unreadable_file", "application/zip")["detail"])

    def test_shp_without_shx(self):
        parts = self.shapefile()
        del parts[".shx"]
        self.assertIn(".shx", self.refused(self.shapefile_zip(parts), 400, "unreadable_file", "application/zip")["detail"])

    # --- coordinate systems ---------------------------------------------------------------

    def test_local_cs_prj(self):
        parts = self.shapefile()
        parts[".prj"] = LOCAL_CS.encode()
        self.refused(self.shapefile_zip(parts), 400, "unsupported_crs", "application/zip")

    def test_garbage_prj(self):
        parts = self.shapefile()
        parts[".prj"] = b"this is not a coordinate system \xff\x00"
        self.refused(self.shapefile_zip(parts), 400, "unsupported_crs", "application/zip")

    def test_coordinates_outside_lon_lat_after_transformation(self):
        doc = self.geojson(collection(feature(polygon([[[0, 0], [1e300, 0], [1e300, 1e300], [0, 0]]]))), 422, "import_invalid",
                           crs="EPSG:4326")
        reasons = {p["problem"] for p in doc["report"]["problems"]} | {x["reason"] for x in doc["report"]["skipped"]}
        self.assertTrue(reasons & {"invalid_geometry", "cannot be transformed to EPSG:4490"}, doc["report"])

    # --- ZIPs -----------------------------------------------------------------------------

    def test_truncated_zip(self):
        data = self.shapefile_zip(self.shapefile())
        self.refused(data[:len(data) // 2], 400, "unreadable_file", "application/zip")

    def test_zip_entry_leaving_the_archive(self):
        parts = self.shapefile()
        data = zip_of({"../../a" + ext: b for ext, b in parts.items()})
        self.refused(data, 400, "unreadable_file", "application/zip")

    def test_zip_without_shapefile(self):
        self.refused(zip_of({"readme.txt": b"hello"}), 400, "unreadable_file", "application/zip")

    # --- empty and odd containers ---------------------------------------------------------

    def test_empty_body(self):
        self.refused(b"", 400, "invalid_body")

    def test_geopackage_with_a_plain_table(self):
        self.refused(self.gpkg_without_geometry(), 422, "invalid_geometry_type", "application/geopackage+sqlite3")

    # --- GeoJSON coordinates and geometries -----------------------------------------------

    def test_non_numeric_coordinates(self):
        self.geojson(collection(feature(polygon([[["a", "b"], ["c", "d"], ["e", "f"], ["a", "b"]]]))), 400, "unreadable_file")

    def test_nan_and_infinity_strings(self):
        self.geojson(collection(feature(polygon([[["NaN", 30], [120, "Infinity"], [121, 31], ["NaN", 30]]]))), 400,
                     "unreadable_file")

    def test_nan_and_infinity_literals(self):
        text = json.dumps(collection(feature(polygon()))).replace("119.95, 30.5]", "NaN, Infinity]", 1)
        self.assertIn("NaN", text)
        r = self.post(text.encode(), "application/geo+json")
        self.assertIn((r.status, r.json.get("code")), {(400, "unreadable_file"), (422, "import_invalid")}, r)
        self.geojson(text, r.status, r.json["code"])

    def test_huge_numbers(self):
        text = json.dumps(collection(feature(polygon()))).replace("119.95", "1e400", 1)
        r = self.post(text.encode(), "application/geo+json")
        self.assertIn((r.status, r.json.get("code")), {(400, "unreadable_file"), (422, "import_invalid")}, r)
        self.geojson(text, r.status, r.json["code"])

    def test_null_geometry(self):
        doc = self.geojson(collection(feature(None)), 422, "import_invalid")
        self.assertEqual(doc["report"]["skipped"][0]["reason"], "no geometry")

    def test_point_where_polygons_are_expected(self):
        doc = self.geojson(collection(feature({"type": "Point", "coordinates": [120, 30.5]})), 422, "import_invalid")
        self.assertEqual(doc["report"]["skipped"][0]["reason"], "not a polygon")

    def test_wrong_field_types(self):
        for code in (330521.5, True, [1, 2], {"a": 1}):
            with self.subTest(code=code):
                self.geojson(collection(feature(polygon(), code=code)), 422, "import_invalid")

    def test_huge_code_and_long_name(self):
        doc = self.geojson(collection(feature(polygon(), code="3" * 3_000_000)), 422, "import_invalid")
        problem = doc["report"]["problems"][0]
        self.assertEqual(problem["problem"], "invalid_code")
        self.assertLessEqual(len(problem["code"]), 64)
        doc = self.geojson(collection(feature(polygon(), name="网" * 101)), 422, "import_invalid")
        self.assertEqual(doc["report"]["problems"][0]["problem"], "invalid_property")

    def test_null_geometry_dry_run_reports_without_writing(self):
        before = self.count_areas()
        r = self.post(json.dumps(collection(feature(None))).encode(), "application/geo+json", dry_run="true")
        self.assertEqual(r.status, 200, r)
        self.assertFalse(r.json["valid"])
        self.assertEqual(self.count_areas(), before)


class ArchiveLimits(ImportFiles):
    """What a ZIP may hold is checked from its directory before anything is inflated: too many
    entries, or files that add up to more than the limit uncompressed (a "zip bomb": here 3 MB of
    zeros in a ZIP of a few KB, against a limit of 2 MB)."""

    server_env = {"WANGGE_MAX_ZIP_ENTRIES": "20", "WANGGE_MAX_UNZIPPED_MB": "2"}

    def test_too_many_entries(self):
        parts = self.shapefile()
        entries = {"a" + ext: data for ext, data in parts.items()}
        entries.update({f"extra/{i}.txt": b"x" for i in range(30)})
        doc = self.refused(zip_of(entries), 413, "archive_too_large", "application/zip")
        self.assertEqual(doc["limit"], 20)
        self.assertIn("WANGGE_MAX_ZIP_ENTRIES", doc["detail"])

    def test_a_zip_bomb(self):
        parts = self.shapefile()
        parts[".dbf"] = parts[".dbf"] + b"\0" * (3 << 20)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for ext, data in parts.items():
                z.writestr("a" + ext, data)
        self.assertLess(len(buf.getvalue()), 100_000)
        doc = self.refused(buf.getvalue(), 413, "archive_too_large", "application/zip")
        self.assertEqual(doc["limit_mb"], 2)
        # Within the limits the same shapefile imports (as a dry run) as before.
        ok = self.post(self.shapefile_zip(self.shapefile()), "application/zip", dry_run="true")
        self.assertEqual(ok.status, 200, ok)
