"""OGC API - Features under /ogc, checked with GDAL's OAPIF driver as a real client (ogrinfo)
and against the database."""
import json
import re
import urllib.parse

from harness import ApiTestCase
from exchange_util import gdal

COLLECTIONS = ["province", "city", "county", "township", "village", "grid", "microgrid", "incidents", "checkpoints"]


class OgcTest(ApiTestCase):
    def ogr(self, *args, token=None):
        return gdal("ogrinfo", "-ro", *args, config={"GDAL_HTTP_HEADERS": "Authorization: Bearer " + (token or self.admin)})

    def db_count(self, collection, where="TRUE"):
        if collection in ("incidents", "checkpoints"):
            sql = f"SELECT count(*) FROM {collection} WHERE {where.replace('a.code', 'grid_code')}"
        else:
            sql = f"SELECT count(*) FROM areas a WHERE level = '{collection}' AND valid_to IS NULL AND {where}"
        return int(self.s.sql(sql)[0][0])

    def test_landing_conformance_api(self):
        r = self.get("/ogc")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/json")
        rels = {l["rel"]: l for l in r.json["links"]}
        for rel in ("service-desc", "conformance", "data"):
            self.assertIn(rel, rels)
        api = self.get(urllib.parse.urlsplit(rels["service-desc"]["href"]).path)
        self.assertEqual(api.status, 200)
        self.assertTrue(api.header("Content-Type").startswith("application/vnd.oai.openapi+json"))
        self.assertTrue(api.json["openapi"].startswith("3.0"))
        self.assertIn("/collections/{collectionId}/items", api.json["paths"])
        conf = self.get("/ogc/conformance").json["conformsTo"]
        for c in ("ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson",
                  "ogcapi-features-2/1.0/conf/crs"):
            self.assertTrue(any(x.endswith(c) for x in conf), c)
        self.assertProblem(self.s.request("GET", "/ogc/collections"), 401, "unauthorized")

    def test_collections(self):
        doc = self.get("/ogc/collections").json
        self.assertEqual([c["id"] for c in doc["collections"]], COLLECTIONS)
        for c in doc["collections"]:
            self.assertEqual(c["storageCrs"], "http://www.opengis.net/def/crs/EPSG/0/4490")
            self.assertIn("http://www.opengis.net/def/crs/OGC/1.3/CRS84", c["crs"])
            self.assertIn("http://www.opengis.net/def/crs/EPSG/0/4549", c["crs"])
        grid = next(c for c in doc["collections"] if c["id"] == "grid")
        bbox = grid["extent"]["spatial"]["bbox"][0]
        ext = self.s.sql("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e "
                         "FROM areas WHERE level = 'grid' AND valid_to IS NULL) s")[0]
        for a, b in zip(bbox, ext):
            self.assertAlmostEqual(a, float(b), places=6)
        self.assertProblem(self.get("/ogc/collections/nope"), 404, "collection_not_found")

    def test_gdal_lists_collections_and_counts_equal_the_database(self):
        out = self.ogr("OAPIF:" + self.s.base + "/ogc")
        listed = re.findall(r"^\d+: (\S+)", out, re.M)
        self.assertEqual(listed, COLLECTIONS)
        for c in ("county", "township", "village", "grid", "incidents", "checkpoints"):
            with self.subTest(collection=c):
                summary = self.ogr("-so", "OAPIF:" + self.s.base + "/ogc", c)
                n = int(re.search(r"Feature Count: (\d+)", summary).group(1))
                self.assertEqual(n, self.db_count(c))
                # Paging through next links to the end (pages of 70, so several).
                full = self.ogr("-oo", "PAGE_SIZE=70", "OAPIF:" + self.s.base + "/ogc", c)
                self.assertEqual(len(re.findall(r"^OGRFeature\(", full, re.M)), self.db_count(c))

    def test_gdal_reads_attributes_and_ids(self):
        full = self.ogr("-oo", "PAGE_SIZE=100", "OAPIF:" + self.s.base + "/ogc", "grid")
        ids = sorted(int(x) for x in re.findall(r"^OGRFeature\(grid\):(\d+)", full, re.M))
        db = sorted(int(r[0]) for r in self.s.sql("SELECT id FROM areas WHERE level = 'grid' AND valid_to IS NULL"))
        self.assertEqual(ids, db)
        names = set(re.findall(r"^  name \(String\) = (.*)$", full, re.M))
        self.assertEqual(names, {r[0] for r in self.s.sql("SELECT name FROM areas WHERE level = 'grid' AND valid_to IS NULL")})

    def test_items_paging_and_headers(self):
        r = self.get("/ogc/collections/grid/items?limit=120")
        self.assertEqual(r.header("Content-Type"), "application/geo+json")
        self.assertEqual(r.header("Content-Crs"), "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>")
        total = self.db_count("grid")
        seen = []
        doc = r.json
        while True:
            self.assertEqual(doc["numberMatched"], total)
            self.assertEqual(doc["numberReturned"], len(doc["features"]))
            seen += [f["id"] for f in doc["features"]]
            nxt = [l["href"] for l in doc["links"] if l["rel"] == "next"]
            if not nxt:
                break
            doc = self.get(nxt[0]).json
        self.assertEqual(len(seen), total)
        self.assertEqual(len(set(seen)), total)
        self.assertTrue(all(isinstance(i, int) for i in seen))
        self.assertProblem(self.get("/ogc/collections/grid/items?limit=10001"), 400, "invalid_parameter")

    def test_crs_and_bbox(self):
        one = self.get("/ogc/collections/checkpoints/items?limit=1").json["features"][0]
        lon, lat = one["geometry"]["coordinates"]
        r = self.get(f"/ogc/collections/checkpoints/items/{one['id']}?crs=http://www.opengis.net/def/crs/EPSG/0/4490")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Crs"), "<http://www.opengis.net/def/crs/EPSG/0/4490>")
        lat2, lon2 = r.json["geometry"]["coordinates"]  # EPSG:4490 is latitude first
        self.assertAlmostEqual(lat, lat2, places=6)
        self.assertAlmostEqual(lon, lon2, places=6)
        gk = self.get(f"/ogc/collections/checkpoints/items/{one['id']}?crs=EPSG:4549").json["geometry"]["coordinates"]
        self.assertTrue(3.0e6 < gk[0] < 3.6e6 and 3e5 < gk[1] < 7e5, gk)  # northing, easting
        # bbox in CRS84 and the same box in EPSG:4490 (lat/lon) select the same rows as PostGIS.
        box = (119.95, 30.48, 120.0, 30.53)
        expected = int(self.s.sql("SELECT count(*) FROM areas WHERE level = 'grid' AND valid_to IS NULL AND "
                                  f"geom && ST_MakeEnvelope({box[0]}, {box[1]}, {box[2]}, {box[3]}, 4490)")[0][0])
        self.assertGreater(expected, 0)
        a = self.get("/ogc/collections/grid/items?bbox=%s,%s,%s,%s" % box).json
        b = self.get("/ogc/collections/grid/items?bbox=%s,%s,%s,%s&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4490"
                     % (box[1], box[0], box[3], box[2])).json
        self.assertEqual(a["numberMatched"], expected)
        self.assertEqual(b["numberMatched"], expected)

    def test_datetime_and_scope(self):
        code = self.s.sql("SELECT code FROM areas WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 1")[0][0]
        before = self.s.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")[0][0]
        _, etag = self.area(code)
        self.assertEqual(self.patch(code, {"properties": {"name": "新名字网格"}}, etag).status, 200)
        then = self.get("/ogc/collections/grid/items?limit=10000&datetime=" + before).json
        now = self.get("/ogc/collections/grid/items?limit=10000").json
        name_then = {f["properties"]["code"]: f["properties"]["name"] for f in then["features"]}
        name_now = {f["properties"]["code"]: f["properties"]["name"] for f in now["features"]}
        self.assertEqual(name_now[code], "新名字网格")
        self.assertNotEqual(name_then[code], "新名字网格")
        self.assertEqual(then["numberMatched"], now["numberMatched"])
        township = code[:9]
        token = self.s.token("viewer", scope=township)
        summary = self.ogr("-so", "OAPIF:" + self.s.base + "/ogc", "grid", token=token)
        n = int(re.search(r"Feature Count: (\d+)", summary).group(1))
        self.assertEqual(n, self.db_count("grid", f"a.code LIKE '{township}%'"))
        outside = self.s.sql(f"SELECT id FROM areas WHERE level = 'grid' AND code NOT LIKE '{township}%' LIMIT 1")[0][0]
        self.assertProblem(self.get(f"/ogc/collections/grid/items/{outside}", token=token), 404, "feature_not_found")
