"""Real GIS clients against /ogc, signing in with HTTP Basic (an API token as the password): QGIS
(Debian's python3-qgis, headless, through its authentication manager), GDAL's OAPIF driver
(ogrinfo/ogr2ogr with -where) and OWSLib. Their answers are checked against the server's own
(counts of a CQL2 filter over HTTP, the registry's versions after an edit, the partition).

QGIS and OWSLib run under Debian's /usr/bin/python3, where their packages live; the rendered map
is kept as a test artefact (build/test-artifacts/qgis-grids.png)."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse

from harness import ApiTestCase

HERE = os.path.dirname(os.path.abspath(__file__))
DEBIAN_PYTHON = "/usr/bin/python3"
TOWNSHIP = "330521001"
FILTER = f"code LIKE '{TOWNSHIP}%'"


def artefact_dir():
    d = os.path.join(os.path.dirname(os.environ["WANGGE_BIN"]), "test-artifacts")
    os.makedirs(d, exist_ok=True)
    return d


def debian_module(name):
    if not os.path.exists(DEBIAN_PYTHON):
        return False
    return subprocess.run([DEBIAN_PYTHON, "-c", f"import {name}"], capture_output=True).returncode == 0


class GisClients(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.token = cls.s.token("manager", scope=TOWNSHIP, name="gis desk")

    def api_count(self, collection="grid", flt=FILTER):
        """What the API's CQL2 filter matches for the clients' token (scoped to the township)."""
        r = self.get(f"/ogc/collections/{collection}/items?limit=1&filter=" + urllib.parse.quote(flt), token=self.token)
        self.assertEqual(r.status, 200, r)
        return r.json["numberMatched"]

    def edits_log(self):
        return [line for line in self.s.server_log().splitlines() if "ogc edit" in line]

    def test_gdal_oapif_where(self):
        env = dict(os.environ, GDAL_HTTP_AUTH="BASIC", GDAL_HTTP_USERPWD=f"gis:{self.token}")
        out = tempfile.mkdtemp(prefix="wangge-gdal-")
        self.addCleanup(shutil.rmtree, out, True)
        target = os.path.join(out, "township.geojson")
        r = subprocess.run(["ogr2ogr", "-f", "GeoJSON", target, f"OAPIF:{self.s.base}/ogc", "grid", "-where", FILTER],
                           env=dict(env, CPL_DEBUG="ON"), capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:] + self.s.server_log())
        # GDAL 3.6 sends the filter to the server (as the draft's cql-text, which the server
        # reads as CQL2 text) once the queryables tell it which properties it may name.
        self.assertIn("filter=code%20LIKE%20'330521001%25'&filter-lang=cql-text", r.stderr)
        self.assertNotIn("evaluated on client side", r.stderr)
        with open(target, encoding="utf-8") as f:
            doc = json.load(f)
        codes = [feat["properties"]["code"] for feat in doc["features"]]
        self.assertEqual(len(codes), self.api_count())
        self.assertTrue(all(c.startswith(TOWNSHIP) for c in codes))
        info = subprocess.run(["ogrinfo", "-ro", "-so", "-where", "population > 1200", f"OAPIF:{self.s.base}/ogc", "grid"],
                              env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(info.returncode, 0, info.stderr)
        self.assertIn(f"Feature Count: {self.api_count(flt='population > 1200')}", info.stdout)
        # Without the password GDAL is refused, not answered with an empty layer.
        bad = subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{self.s.base}/ogc", "grid"],
                             env=dict(env, GDAL_HTTP_USERPWD="gis:wrong"), capture_output=True, text=True, timeout=120)
        self.assertNotEqual(bad.returncode, 0)

    def test_gdal_types_layers_from_the_schema(self):
        """GDAL's OAPIF driver takes fields and geometry type from the collection's describedBy
        GML application schema: times that are null on every feature it samples (valid_to of
        current versions) are DateTime, and a collection the token sees empty (a township's
        token, the provinces) still has its fields and its geometry type."""
        env = dict(os.environ, GDAL_HTTP_AUTH="BASIC", GDAL_HTTP_USERPWD=f"gis:{self.token}")

        def layer(collection):
            r = subprocess.run(["ogrinfo", "-ro", "-so", "-nomd", f"OAPIF:{self.s.base}/ogc", collection],
                               env=env, capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            return re.search(r"^Geometry: (.*)$", r.stdout, re.M).group(1), re.findall(r"^([a-z_]+): (\w+) \(", r.stdout, re.M)

        grid = layer("grid")
        self.assertEqual(dict(grid[1])["valid_to"], "DateTime", grid)
        self.assertEqual(dict(grid[1])["valid_from"], "DateTime", grid)
        self.assertEqual(grid[0], "Multi Polygon")
        self.assertEqual(self.api_count("province", "code IS NOT NULL"), 0)
        self.assertEqual(layer("province"), grid)
        incidents = layer("incidents")
        self.assertEqual(incidents[0], "Point")
        # The items' own id first (as before), then each property once.
        self.assertEqual([name for name, _ in incidents[1]], ["id", "category", "source", "status", "description", "reporter",
                                                             "grid", "reported_at"])
        self.assertEqual(dict(incidents[1])["reported_at"], "DateTime")

    def test_schema_as_qgis_reads_it(self):
        """Each collection's Part 5 schema, read the way QGIS (3.44 and later) reads it for a layer's
        fields and geometry type: the properties with a `type`, in x-ogc-propertySeq order, are the
        properties the items carry; `format: date-time` makes a DateTime field; the primary
        geometry's format is the items' geometry type. An empty collection gets the same."""
        conformance = self.get("/ogc/conformance", token=self.token).json["conformsTo"]
        self.assertIn("http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/schemas", conformance)
        formats = {"MultiPolygon": "geometry-multipolygon", "Point": "geometry-point"}
        for collection in ("province", "grid", "incidents", "checkpoints"):
            with self.subTest(collection=collection):
                links = self.get(f"/ogc/collections/{collection}", token=self.token).json["links"]
                href = [l["href"] for l in links if l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/schema"
                        and l["type"] == "application/schema+json"]
                self.assertEqual(len(href), 1, links)
                r = self.get(urllib.parse.urlsplit(href[0]).path, token=self.token)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("Content-Type"), "application/schema+json")
                props = r.json["properties"]
                typed = sorted((p["x-ogc-propertySeq"], name) for name, p in props.items() if "type" in p)
                # An item to compare with: the sample has no province, and every area level has the
                # same properties.
                sample = "grid" if collection == "province" else collection
                feature = self.get(f"/ogc/collections/{sample}/items?limit=1").json["features"][0]
                self.assertEqual([name for _, name in typed], list(feature["properties"]))
                times = sorted(name for name, p in props.items() if p.get("format") == "date-time")
                self.assertEqual(times, {"incidents": ["reported_at"], "checkpoints": []}.get(collection, ["valid_from", "valid_to"]))
                self.assertEqual([p.get("format") for p in props.values() if p.get("x-ogc-role") == "primary-geometry"],
                                 [formats[feature["geometry"]["type"]]])

    @unittest.skipUnless(debian_module("owslib"), "python3-owslib is not installed")
    def test_owslib_filtered_page(self):
        r = subprocess.run([DEBIAN_PYTHON, os.path.join(HERE, "gis_clients", "owslib_client.py"), self.s.base, self.token, FILTER],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        doc = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertIn("grid", doc["collections"])
        self.assertEqual(doc["matched"], self.api_count())
        self.assertEqual(doc["returned"], min(10, doc["matched"]))
        self.assertTrue(all(c.startswith(TOWNSHIP) for c in doc["codes"]))

    @unittest.skipUnless(debian_module("qgis.core"), "python3-qgis is not installed")
    def test_qgis_session(self):
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        r = subprocess.run([DEBIAN_PYTHON, os.path.join(HERE, "gis_clients", "qgis_client.py"), self.s.base, self.token, TOWNSHIP,
                            artefact_dir()], env=env, capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:] + r.stdout[-2000:])
        doc = json.loads(r.stdout.strip().splitlines()[-1])
        print("\nQGIS:", json.dumps({k: v for k, v in doc.items() if k not in ("codes",)}, ensure_ascii=False)[:3000])
        print("QGIS's field types:", doc.get("field_types"), "\nQGIS's empty collection:", doc.get("empty_layer"))
        print("server saw:\n" + "\n".join(self.edits_log()))
        self.assertTrue(doc["layer_valid"], doc)
        for c in ("grid", "village", "township"):
            self.assertIn(c, json.dumps(doc["collections"], ensure_ascii=False))
        # The township's grids: QGIS counts what the API's CQL2 filter counts.
        self.assertEqual(doc["count"], self.api_count())
        self.assertTrue(all(c.startswith(TOWNSHIP) for c in doc["codes"]))
        edited, neighbour = doc["edited"]["code"], doc["edited"]["neighbour"]
        if doc["path"] == "provider":
            self.assertTrue(doc["committed"], doc["commit_errors"])
        else:
            # QGIS 3.22's provider does not save OGC API - Features edits: the session sent the
            # edit through QGIS's network stack instead; first plainly (the overlap refused with a
            # title QGIS shows), then with adjust=neighbours.
            self.assertFalse(doc["capabilities"]["ChangeGeometries"], doc)
            plain = doc["put"]
            self.assertEqual(plain["status"], 409, plain)
            self.assertEqual(plain["answer"]["code"], "overlaps_sibling")
            self.assertIn("重叠", plain["answer"]["title"])
            self.assertEqual(doc["put_adjust"]["status"], 200, doc["put_adjust"])
            self.assertEqual(doc["put_adjust"]["answer"]["adjusted"], [neighbour])
        a, _ = self.area(edited)
        b, _ = self.area(neighbour)
        self.assertEqual(a["properties"]["version"], 2)
        self.assertEqual((b["properties"]["version"], b["properties"]["change"]), (2, "adjust"))
        self.assertEqual(doc["after"][edited]["version"], 2)
        self.assertEqual(doc["after"][neighbour]["version"], 2)
        cover = self.get(f"/v1/areas/{a['properties']['parent']}/coverage")
        self.assertTrue(cover.json["partition"], cover.json)
        self.assertEqual(self.s.sql(f"SELECT actor LIKE '%gis desk%' FROM audit_log WHERE target = '{edited}' "
                                    f"ORDER BY id DESC LIMIT 1"), [["t"]])
        self.assertGreater(os.path.getsize(doc["png"]), 5000)


if __name__ == "__main__":
    unittest.main()
