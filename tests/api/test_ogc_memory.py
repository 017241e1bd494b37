"""OGC items pages of the area levels from the process's area cache: byte for byte the pages of the
SQL path. Two servers on one database, one serving pages from memory (the default), one with
WANGGE_OGC_FROM_MEMORY=0, answer every filter of test_ogc_filter's table, paging, sortby, CRSs and
scopes; their bodies must be equal but for the timeStamp. Then: the memory server really answers
from memory (a change made behind the cache's back shows only in the SQL server's page), and a
page read right after an edit through the same process shows the edit."""
import json
import re
import urllib.parse

from harness import ApiTestCase, Server
from test_ogc_filter import INVALID, VALID, fill

PUBLIC = {"WANGGE_PUBLIC_URL": "http://wangge.test"}  # the same links from both servers
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
AREA_LEVELS = ("province", "city", "county", "township", "village", "grid", "microgrid")


def without_timestamp(body):
    return re.sub(r'^\{"type":"FeatureCollection","timeStamp":"[^"]*",', '{"type":"FeatureCollection",', body)


class OgcMemoryTest(ApiTestCase):
    server_env = PUBLIC

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sql_server = Server(env={**PUBLIC, "WANGGE_OGC_FROM_MEMORY": "0"}, database=cls.s.db)
        cls.addClassCleanup(cls.sql_server.stop)
        s = cls.s
        px, py = s.sql("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas "
                       "WHERE code = '330521001001001' AND valid_to IS NULL) s")[0]
        ge, gn = s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint({px}, {py}), 4490), 4549) p) s")[0]
        fmt = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"
        cls.values = dict(PX=px, PY=py, GE=ge, GN=gn)
        cls.values["T0"] = s.sql(f"SELECT to_char(min(valid_from) AT TIME ZONE 'UTC', {fmt}) FROM areas")[0][0]
        # A second version of a grid, as test_ogc_filter makes, so the history filters have one.
        r = s.request("GET", "/v1/areas/330521001001002", token=cls.admin)
        assert r.status == 200, r
        r = s.request("PATCH", "/v1/areas/330521001001002", {"properties": {"name": "泰圩社区第2网格（改）"}}, token=cls.admin,
                      headers={"If-Match": r.header("ETag")})
        assert r.status == 200, r
        cls.values["T1"] = s.sql(f"SELECT to_char(valid_from AT TIME ZONE 'UTC', {fmt}) FROM areas "
                                 "WHERE code = '330521001001002' AND valid_to IS NULL")[0][0]
        cls.values["T2"] = s.sql(f"SELECT to_char((valid_from + interval '1 second') AT TIME ZONE 'UTC', {fmt}) FROM areas "
                                 "WHERE code = '330521001001002' AND valid_to IS NULL")[0][0]

    def both(self, path, token=None):
        token = token or self.admin
        return self.s.request("GET", path, token=token), self.sql_server.request("GET", path, token=token)

    def assertSamePage(self, path, token=None):
        mem, sql = self.both(path, token)
        self.assertEqual(mem.status, sql.status, (path, mem, sql))
        self.assertEqual(mem.header("Content-Type"), sql.header("Content-Type"))
        self.assertEqual(mem.header("Content-Crs"), sql.header("Content-Crs"))
        if mem.status == 200:
            self.assertEqual(without_timestamp(mem.body), without_timestamp(sql.body), path)
            self.assertNotEqual(without_timestamp(mem.body), mem.body)  # the timeStamp was there to cut
        else:
            a, b = mem.json, sql.json
            self.assertEqual((a.get("code"), a.get("position"), a.get("detail")), (b.get("code"), b.get("position"), b.get("detail")))
        return mem

    @staticmethod
    def query(filt, options, extra=None):
        q = {}
        if isinstance(filt, (dict, bool)) or options.get("json"):
            q["filter"] = filt if options.get("json") else json.dumps(filt, ensure_ascii=False)
            q["filter-lang"] = "cql2-json"
        else:
            q["filter"] = filt
        if "lang" in options:
            q["filter-lang"] = options["lang"]
        if "crs" in options:
            q["filter-crs"] = options["crs"]
        if options.get("history"):
            q["datetime"] = "../.."
        q.update(extra or {})
        return urllib.parse.urlencode(q)

    def test_every_filter_of_the_table_gives_the_same_bytes(self):
        nonempty = 0
        for collection, filt, _, options in VALID:
            filt = fill(filt, self.values)
            for extra in ({"limit": "10000"}, {"limit": "7", "offset": "3"}, {"limit": "2", "sortby": "-population,name"}):
                with self.subTest(collection=collection, filter=filt, extra=extra):
                    r = self.assertSamePage(f"/ogc/collections/{collection}/items?" + self.query(filt, options, extra))
                    nonempty += r.status == 200 and bool(r.json["features"])
        self.assertGreater(nonempty, len(VALID) * 2)
        for filt, _, _, options in INVALID:
            with self.subTest(filter=str(filt)[:80]):
                self.assertSamePage("/ogc/collections/grid/items?" + self.query(filt, options))

    def test_levels_paging_sorting_crs_and_scope(self):
        paths = []
        for level in AREA_LEVELS:
            paths.append(f"/ogc/collections/{level}/items?limit=10000")
            paths.append(f"/ogc/collections/{level}/items")
        for sortby in ("-population,code", "name", "households,-version", "-parent,-households", "valid_from,-name",
                       "-changed_by,population", "valid_to,code", "-code", "level,-valid_from"):
            for page in ("limit=10000", "limit=5", "limit=5&offset=17", "limit=50&offset=290"):
                paths.append(f"/ogc/collections/grid/items?sortby={urllib.parse.quote(sortby)}&{page}")
        for page in ("limit=1", "limit=1&offset=299", "limit=10&offset=295", "offset=300", "offset=100000", "limit=100&offset=150"):
            paths.append(f"/ogc/collections/grid/items?{page}")
            paths.append(f"/ogc/collections/grid/items?{page}&filter=" + urllib.parse.quote("name LIKE '%社区%'"))
        for crs in (CRS84, EPSG4326, EPSG4490, "http://www.opengis.net/def/crs/EPSG/0/3857"):
            paths.append(f"/ogc/collections/grid/items?limit=20&crs={urllib.parse.quote(crs)}")
            paths.append(f"/ogc/collections/village/items?limit=3&crs={urllib.parse.quote(crs)}")
        paths.append("/ogc/collections/grid/items?limit=20&bbox=119.95,30.48,120.0,30.53")
        paths.append("/ogc/collections/grid/items?datetime=../..&limit=10000")
        for path in paths:
            with self.subTest(path=path):
                self.assertSamePage(path)
        for scope in ("330521002", "330521001001", "330521"):
            token = self.s.token("viewer", scope=scope)
            for path in ("/ogc/collections/grid/items?limit=10000", "/ogc/collections/village/items?sortby=-population",
                         "/ogc/collections/grid/items?limit=10000&filter=" + urllib.parse.quote("population > 1000"),
                         "/ogc/collections/grid/items?filter=" + urllib.parse.quote("code LIKE '330521001%'")):
                with self.subTest(scope=scope, path=path):
                    self.assertSamePage(path, token=token)

    def test_the_memory_server_answers_from_memory(self):
        # A change the cache is not told of (the trigger that notifies is off for it) shows in the
        # SQL server's page only: had the memory server asked the database, it would show there too.
        code = "330521001001003"
        path = "/ogc/collections/grid/items?filter=" + urllib.parse.quote(f"code = '{code}'")
        self.assertSamePage(path)
        name = self.s.sql(f"SELECT name FROM areas WHERE code = '{code}' AND valid_to IS NULL")[0][0]
        self.s.sql("BEGIN; ALTER TABLE areas DISABLE TRIGGER areas_notify; "
                   f"UPDATE areas SET name = name || '·' WHERE code = '{code}' AND valid_to IS NULL; "
                   "ALTER TABLE areas ENABLE TRIGGER areas_notify; COMMIT")
        try:
            mem, sql = self.both(path)
            self.assertEqual(mem.json["features"][0]["properties"]["name"], name)
            self.assertEqual(sql.json["features"][0]["properties"]["name"], name + "·")
            forced = self.both(path + "&bbox=-180,-90,180,90")  # a bbox goes to the database on both
            self.assertEqual(forced[0].json["features"][0]["properties"]["name"], name + "·")
        finally:
            self.s.sql("BEGIN; ALTER TABLE areas DISABLE TRIGGER areas_notify; "
                       f"UPDATE areas SET name = '{name}' WHERE code = '{code}' AND valid_to IS NULL; "
                       "ALTER TABLE areas ENABLE TRIGGER areas_notify; COMMIT")
        self.assertSamePage(path)

    def test_a_page_right_after_an_edit_shows_it(self):
        code = "330521001002001"
        by_code = "/ogc/collections/grid/items?filter=" + urllib.parse.quote(f"code = '{code}'")
        for i in range(4):
            # Through /v1/areas ...
            _, etag = self.area(code)
            name = f"读写网格{i}"
            r = self.s.request("PATCH", f"/v1/areas/{code}", {"properties": {"name": name}}, token=self.admin,
                               headers={"If-Match": etag})
            self.assertEqual(r.status, 200, r)
            page = self.get("/ogc/collections/grid/items?filter=" + urllib.parse.quote(f"name = '{name}'")).json
            self.assertEqual([f["properties"]["code"] for f in page["features"]], [code])
            self.assertEqual(page["features"][0]["properties"]["version"], r.json["properties"]["version"])
            # ... and through /ogc (PATCH of the current version's feature id).
            fid = self.get(by_code).json["features"][0]["id"]
            r = self.s.request("PATCH", f"/ogc/collections/grid/items/{fid}", {"properties": {"population": 4000 + i}},
                               token=self.admin, content_type="application/merge-patch+json")
            self.assertEqual(r.status, 200, r)
            page = self.get(by_code).json
            self.assertEqual(page["features"][0]["id"], r.json["id"])
            self.assertEqual(page["features"][0]["properties"]["population"], 4000 + i)
        self.assertSamePage(by_code)
