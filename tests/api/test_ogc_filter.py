"""OGC API - Features Parts 1-3 under /ogc: CQL2 filters (text and JSON) over HTTP against a real
server, each valid one against the rows of a condition written by hand in SQL on the test database,
each invalid one against its 400 problem; queryables, sortby, unknown parameters and bbox-crs."""
import json
import urllib.parse

from harness import ApiTestCase

BOX = "119.95 30.48, 120.0 30.48, 120.0 30.53, 119.95 30.53, 119.95 30.48"
BOX_SQL = f"ST_GeomFromText('POLYGON(({BOX}))', 4490)"
ENV_SQL = "ST_MakeEnvelope(119.95, 30.48, 120.0, 30.53, 4490)"
GK = "http://www.opengis.net/def/crs/EPSG/0/4549"
LATLON = "http://www.opengis.net/def/crs/EPSG/0/4490"

# (collection, filter: text, or a dict for CQL2 JSON; the SQL condition on the table's own columns
# that selects the same rows; options: "history" (datetime=../.., every version of an area),
# "crs" (filter-crs)). {PX} {PY} (a point inside grid G, lon lat), {GE} {GN} (it in EPSG:4549),
# {T0} (when the sample was loaded), {T1} (when grid G was renamed), {T2} (T1 + 1 s) are filled in
# by setUpClass.
VALID = [
    ("grid", "name = '泰圩社区第1网格'", "name = '泰圩社区第1网格'", {}),
    ("grid", "name <> '泰圩社区第1网格'", "name <> '泰圩社区第1网格'", {}),
    ("grid", "population > 1200", "population > 1200", {}),
    ("grid", "population >= 1311", "population >= 1311", {}),
    ("grid", "population < 900", "population < 900", {}),
    ("grid", "households <= 420", "households <= 420", {}),
    ("grid", "code LIKE '330521001%'", "left(code, 9) = '330521001'", {}),
    ("grid", "name LIKE '%社区%' AND code LIKE '330521001%'", "strpos(name, '社区') > 0 AND left(code, 9) = '330521001'", {}),
    ("grid", "name NOT LIKE '%社区%'", "strpos(name, '社区') = 0", {}),
    ("grid", "name LIKE '泰圩社区第_网格'", "name ~ '^泰圩社区第.网格$'", {}),
    ("grid", "code IN ('330521001001001', '330521001001002', 'nope')", "code IN ('330521001001001', '330521001001002')", {}),
    ("grid", "code NOT IN ('330521001001001')", "code <> '330521001001001'", {}),
    ("grid", "population BETWEEN 1000 AND 1200", "population >= 1000 AND population <= 1200", {}),
    ("grid", "population NOT BETWEEN 1000 AND 1200", "(population < 1000 OR population > 1200)", {}),
    ("grid", "valid_to IS NULL", "TRUE", {}),
    ("grid", "valid_to IS NOT NULL", "FALSE", {}),
    ("grid", "households IS NULL OR population IS NOT NULL", "TRUE", {}),
    ("grid", "NOT (population > 1200)", "population <= 1200", {}),
    ("grid", "(population > 1200 OR households < 420) AND parent = '330521001001'",
     "parent_code = '330521001001' AND (population > 1200 OR households < 420)", {}),
    ("grid", "parent = '330521001001' or parent = '330521001002'", "parent_code IN ('330521001001', '330521001002')", {}),
    ("grid", "TRUE", "TRUE", {}),
    ("grid", "false", "FALSE", {}),
    ("grid", "\"name\" = '泰圩社区第1网格'", "name = '泰圩社区第1网格'", {}),
    ("grid", "level = 'grid' AND version = 1", "version = 1", {}),
    ("grid", "population = 1311.0", "population = 1311", {}),
    ("grid", "population > -1 AND population < 1.2e3", "population < 1200", {}),
    ("grid", "changed_by = 'sample'", "changed_by = 'sample'", {}),
    ("grid", f"S_INTERSECTS(geometry, POLYGON(({BOX})))", f"ST_Intersects(geom, {BOX_SQL})", {}),
    ("grid", "S_INTERSECTS(geometry, BBOX(119.95, 30.48, 120.0, 30.53))", f"ST_Intersects(geom, {ENV_SQL})", {}),
    ("grid", "S_INTERSECTS(geometry, POINT({PX} {PY}))", "ST_Covers(geom, ST_SetSRID(ST_MakePoint({PX}, {PY}), 4490))", {}),
    ("grid", "S_CONTAINS(geometry, POINT({PX} {PY}))", "code = '330521001001001'", {}),
    ("village", "S_CONTAINS(geometry, POINT({PX} {PY}))", "code = '330521001001'", {}),
    ("grid", "S_WITHIN(geometry, BBOX(119.9, 30.4, 120.0, 30.6))",
     "ST_Within(geom, ST_MakeEnvelope(119.9, 30.4, 120.0, 30.6, 4490))", {}),
    ("grid", "S_DISJOINT(geometry, BBOX(119.95, 30.48, 120.0, 30.53))", f"NOT ST_Intersects(geom, {ENV_SQL})", {}),
    ("grid", "S_INTERSECTS(geometry, LINESTRING(119.93 30.5, 120.03 30.52))",
     "ST_Intersects(geom, ST_GeomFromText('LINESTRING(119.93 30.5, 120.03 30.52)', 4490))", {}),
    ("grid", "S_INTERSECTS(geometry, MULTIPOINT(({PX} {PY}), (120.0 30.5)))",
     "ST_Intersects(geom, ST_GeomFromText('MULTIPOINT({PX} {PY}, 120.0 30.5)', 4490))", {}),
    ("grid", "s_intersects(geometry, POINT({PY} {PX}))", "code = '330521001001001'", {"crs": LATLON}),
    ("grid", "S_INTERSECTS(geometry, POINT({GN} {GE}))",
     "ST_Intersects(geom, ST_Transform(ST_SetSRID(ST_MakePoint({GE}, {GN}), 4549), 4490))", {"crs": GK}),
    ("grid", "T_INTERSECTS(valid_from, TIMESTAMP('{T0}'))", "valid_from = '{T0}'", {}),
    ("grid", "T_BEFORE(valid_from, TIMESTAMP('{T1}'))", "valid_from < '{T1}'", {"history": True}),
    ("grid", "T_AFTER(valid_from, TIMESTAMP('{T0}'))", "code = '330521001001002' AND valid_to IS NULL", {"history": True}),
    ("grid", "T_INTERSECTS(INTERVAL(valid_from, valid_to), TIMESTAMP('{T1}'))",
     "valid_from <= '{T1}' AND (valid_to IS NULL OR valid_to >= '{T1}')", {"history": True}),
    ("grid", "valid_from > DATE('2020-01-01')", "TRUE", {}),
    ("grid", "valid_from BETWEEN TIMESTAMP('{T0}') AND TIMESTAMP('{T1}')", "TRUE", {"history": True}),
    ("grid", "T_DISJOINT(INTERVAL(valid_from, valid_to), INTERVAL('..', '2020-01-01'))", "TRUE", {"history": True}),
    ("grid", "valid_to IS NOT NULL", "code = '330521001001002' AND valid_to IS NOT NULL", {"history": True}),
    ("grid", "T_BEFORE(INTERVAL(valid_from, valid_to), TIMESTAMP('{T2}'))", "valid_to IS NOT NULL", {"history": True}),
    ("grid", {"op": "and", "args": [{"op": "like", "args": [{"property": "name"}, "%社区%"]},
                                    {"op": ">", "args": [{"property": "population"}, 1200]}]},
     "strpos(name, '社区') > 0 AND population > 1200", {}),
    ("grid", {"op": "in", "args": [{"property": "code"}, ["330521001001001", "330521001001003"]]},
     "code IN ('330521001001001', '330521001001003')", {}),
    ("grid", {"op": "between", "args": [{"property": "households"}, 400, 450]}, "households >= 400 AND households <= 450", {}),
    ("grid", {"op": "isNull", "args": [{"property": "valid_to"}]}, "TRUE", {}),
    ("grid", {"op": "not", "args": [{"op": "=", "args": [{"property": "parent"}, "330521001001"]}]},
     "parent_code <> '330521001001'", {}),
    ("grid", {"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Point", "coordinates": ["{PX}", "{PY}"]}]},
     "code = '330521001001001'", {}),
    ("grid", {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [119.95, 30.48, 120.0, 30.53]}]},
     f"ST_Intersects(geom, {ENV_SQL})", {}),
    ("grid", {"op": "t_after", "args": [{"property": "valid_from"}, {"timestamp": "{T0}"}]},
     "valid_from > '{T0}'", {"history": True}),
    ("grid", {"op": "t_intersects", "args": [{"interval": [{"property": "valid_from"}, {"property": "valid_to"}]},
                                             {"interval": ["2020-01-01", ".."]}]}, "TRUE", {}),
    ("grid", True, "TRUE", {}),
    ("incidents", "category = '街面秩序' AND status IN ('collect', 'feedback')",
     "category = '街面秩序' AND status IN ('collect', 'feedback')", {}),
    ("incidents", "reported_at > TIMESTAMP('2026-09-15T08:00:00+08:00')", "reported_at > '2026-09-15T00:00:00Z'", {}),
    ("incidents", "T_BEFORE(reported_at, DATE('2026-09-01'))", "reported_at < '2026-09-01T00:00:00Z'", {}),
    ("incidents", "S_INTERSECTS(geometry, BBOX(119.95, 30.48, 120.0, 30.53))", f"ST_Intersects(location, {ENV_SQL})", {}),
    ("checkpoints", "kind = 'shop' AND frequency <> 'weekly'", "kind = 'shop' AND frequency <> 'weekly'", {}),
    ("checkpoints", "name LIKE '%店%' OR kind IN ('school', 'hazard')", "strpos(name, '店') > 0 OR kind IN ('school', 'hazard')", {}),
    ("checkpoints", "id < 100 AND grid LIKE '3305210010%'", "id < 100 AND left(grid_code, 10) = '3305210010'", {}),
    ("township", "name LIKE '%街道'", "right(name, 2) = '街道'", {}),
    ("village", "parent = '330521001'", "parent_code = '330521001'", {}),
]

# (filter or dict, expected code, expected position or None, options)
INVALID = [
    ("name = ", "invalid_filter", 7, {}),
    ("nope = 1", "invalid_filter", 0, {}),
    ("name = 'a' AND nope = 1", "invalid_filter", 15, {}),
    ("population = 'many'", "invalid_filter", 13, {}),
    ("name > 5", "invalid_filter", 7, {}),
    ("name LIKE 5", "invalid_filter", 10, {}),
    ("population LIKE '1%'", "invalid_filter", 0, {}),
    ("name = 'unclosed", "invalid_filter", 7, {}),
    ("name == 'a'", "invalid_filter", 6, {}),
    ("S_INTERSECTS(geometry, POLYGON((120 30, 121 30, 121 31)))", "invalid_filter", 23, {}),
    ("S_INTERSECTS(geometry, POLYGON((120 30, 121 30, 121 31, 120 31)))", "invalid_filter", 23, {}),
    ("S_INTERSECTS(geometry, POINT(200 30))", "invalid_filter", 23, {}),
    ("S_INTERSECTS(name, POINT(120 30))", "invalid_filter", 13, {}),
    ("S_CROSSES(geometry, POINT(120 30))", "invalid_filter", 0, {}),
    ("T_BEFORE(name, TIMESTAMP('2020-01-01T00:00:00Z'))", "invalid_filter", 9, {}),
    ("valid_from > TIMESTAMP('yesterday')", "invalid_filter", 23, {}),
    ("valid_from > DATE('2020-02-30')", "invalid_filter", 18, {}),
    ("population BETWEEN 1 AND", "invalid_filter", 24, {}),
    ("code IN ()", "invalid_filter", 9, {}),
    ("(name = 'a'", "invalid_filter", 11, {}),
    ("name = 'a')", "invalid_filter", 10, {}),
    ("NOT", "invalid_filter", 3, {}),
    ("(" * 200 + "name = 'a'" + ")" * 200, "invalid_filter", None, {}),
    ("code IN (" + ", ".join(["'x'"] * 1000) + ")", "invalid_filter", None, {}),
    ("name = '" + "长" * 6000 + "'", "invalid_filter", 0, {}),
    ("geometry = 'x'", "invalid_filter", 0, {}),
    ("name = 'a'; DROP TABLE areas; --", "invalid_filter", 10, {}),
    ("name = 'a' OR 1=1 --", "invalid_filter", 18, {}),
    ("1 = 'a'", "invalid_filter", 4, {}),
    ("name IN ('a', 1)", "invalid_filter", 14, {}),
    ("S_INTERSECTS(geometry, POINT Z(120 30 1))", "invalid_filter", 29, {}),
    ("S_INTERSECTS(geometry, POINT(-1 -1))", "invalid_filter", 23, {"crs": GK}),
    ("pg_sleep(10) IS NULL", "invalid_filter", 0, {}),
    ("valid_from < TIMESTAMP('2020-01-01')", "invalid_filter", 23, {}),
    # Values PostgreSQL would refuse (a 500 before they were checked): a pattern ending in its
    # escape character, a year 0 in UTC, a NUL (JSON \u0000) libpq would cut the string at.
    ("name LIKE 'a\\'", "invalid_filter", 10, {}),
    ("valid_from > TIMESTAMP('0001-01-01T00:00:00+14:00')", "invalid_filter", 23, {}),
    ({"op": "=", "args": [{"property": "name"}, "a\u0000b"]}, "invalid_filter", "/args/1", {}),
    ({"op": "=", "args": [{"property": "name"}]}, "invalid_filter", "/args", {}),
    ({"op": "xor", "args": [True, False]}, "invalid_filter", "/op", {}),
    ("{\"op\":", "invalid_filter", "", {"json": True}),
    ({"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Polygon", "coordinates": [[[0, 0], [1, 0]]]}]},
     "invalid_filter", "/args/1", {}),
    ({"op": "=", "args": [{"property": "population"}, "many"]}, "invalid_filter", "/args/1", {}),
    ({"op": "like", "args": [{"property": "name"}, {"property": "code"}]}, "invalid_filter", "/args/1", {}),
    ({"op": "and", "args": [True, {"op": "=", "args": [{"property": "name; DROP TABLE areas"}, "x"]}]},
     "invalid_filter", "/args/1/args/0", {}),
    ({"op": "t_before", "args": [{"property": "valid_from"}, {"timestamp": "2020-13-01T00:00:00Z"}]},
     "invalid_filter", "/args/1", {}),
    ("name = 'a'", "invalid_parameter", None, {"lang": "cql2-xml"}),
    ("name = 'a'", "unsupported_crs", None, {"crs": "EPSG:9999"}),
]


def fill(value, values):
    """The placeholders filled in: in text, and in CQL2 JSON, where a coordinate "{PX}" becomes a number."""
    if isinstance(value, str):
        if value in ("{PX}", "{PY}"):
            return float(values[value[1:-1]])
        for k, v in values.items():
            value = value.replace("{" + k + "}", v)
        return value
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    return value


class OgcFilterTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.s
        cls.values = {}
        px, py = s.sql("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas "
                       "WHERE code = '330521001001001' AND valid_to IS NULL) s")[0]
        ge, gn = s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint({px}, {py}), 4490), 4549) p) s")[0]
        fmt = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"
        cls.values.update(PX=px, PY=py, GE=ge, GN=gn)
        cls.values["T0"] = s.sql(f"SELECT to_char(min(valid_from) AT TIME ZONE 'UTC', {fmt}) FROM areas")[0][0]
        # A second version of grid G, so that the temporal functions have a history to choose from.
        r = s.request("GET", "/v1/areas/330521001001002", token=cls.admin)
        assert r.status == 200, r
        r = s.request("PATCH", "/v1/areas/330521001001002", {"properties": {"name": "泰圩社区第2网格（改）"}}, token=cls.admin,
                      headers={"If-Match": r.header("ETag")})
        assert r.status == 200, r
        cls.values["T1"] = s.sql(f"SELECT to_char(valid_from AT TIME ZONE 'UTC', {fmt}) FROM areas "
                                 "WHERE code = '330521001001002' AND valid_to IS NULL")[0][0]
        cls.values["T2"] = s.sql(f"SELECT to_char((valid_from + interval '1 second') AT TIME ZONE 'UTC', {fmt}) FROM areas "
                                 "WHERE code = '330521001001002' AND valid_to IS NULL")[0][0]

    def items(self, collection, filt, options=None, token=None, extra=""):
        options = options or {}
        q = {"limit": "10000"}
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
        return self.get(f"/ogc/collections/{collection}/items?" + urllib.parse.urlencode(q) + extra, token=token)

    def expected_ids(self, collection, where, history=False):
        if collection in ("incidents", "checkpoints"):
            sql = f"SELECT id FROM {collection} WHERE {where}"
        else:
            current = "" if history else " AND valid_to IS NULL"
            sql = f"SELECT id FROM areas WHERE level = '{collection}'{current} AND ({where})"
        return sorted(int(r[0]) for r in self.s.sql(sql))

    def test_valid_filters_select_the_rows_sql_selects(self):
        self.assertGreaterEqual(len(VALID) + len(INVALID), 60)
        nonempty = 0
        for collection, filt, where, options in VALID:
            filt = fill(filt, self.values)
            where = fill(where, self.values)
            with self.subTest(collection=collection, filter=filt):
                r = self.items(collection, filt, options)
                self.assertEqual(r.status, 200, r)
                doc = r.json
                got = sorted(f["id"] for f in doc["features"])
                want = self.expected_ids(collection, where, options.get("history", False))
                self.assertEqual(got, want)
                self.assertEqual(doc["numberMatched"], len(want))
                nonempty += bool(want)
        # A table of empty answers would agree with a server that filters everything away.
        self.assertGreater(nonempty, len(VALID) * 3 // 4)

    def test_invalid_filters_are_400_naming_the_position(self):
        for filt, code, position, options in INVALID:
            with self.subTest(filter=str(filt)[:80]):
                r = self.items("grid", filt, options)
                doc = self.assertProblem(r, 400, code)
                if code == "invalid_filter" and position is not None:
                    self.assertEqual(doc.get("position"), position, doc)
                if code == "invalid_filter":
                    self.assertIn("position", doc)

    def test_filter_with_bbox_datetime_paging_and_scope(self):
        filt = "name LIKE '%社区%'"
        want = self.expected_ids("grid", f"strpos(name, '社区') > 0 AND geom && {ENV_SQL}")
        self.assertTrue(want)
        r = self.items("grid", filt, extra="&bbox=119.95,30.48,120.0,30.53")
        self.assertEqual(sorted(f["id"] for f in r.json["features"]), want)
        # Paging keeps the filter in its links.
        page = self.get("/ogc/collections/grid/items?limit=5&" + urllib.parse.urlencode({"filter": filt})).json
        seen = []
        while True:
            seen += [f["id"] for f in page["features"]]
            nxt = [l["href"] for l in page["links"] if l["rel"] == "next"]
            if not nxt:
                break
            page = self.get(nxt[0]).json
        self.assertEqual(sorted(seen), self.expected_ids("grid", "strpos(name, '社区') > 0"))
        # A scoped token sees the filtered rows of its scope only.
        token = self.s.token("viewer", scope="330521002")
        r = self.items("grid", "population > 1000", token=token)
        self.assertEqual(sorted(f["id"] for f in r.json["features"]),
                         self.expected_ids("grid", "population > 1000 AND left(code, 9) = '330521002'"))
        # Nothing the filter held reached the database as SQL: the areas table is still there.
        r = self.items("grid", "name = 'x''); DROP TABLE areas; --'")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["numberMatched"], 0)
        self.assertEqual(len(self.expected_ids("grid", "TRUE")), 300)

    def test_workers_counted_per_page_as_for_an_export(self):
        # A page counts each grid's workers through the index by grid; the count must be the one an
        # export (every assignment counted at once) writes.
        want = {r[0]: int(r[1]) for r in self.s.sql(
            "SELECT a.code, count(w.id) FROM areas a LEFT JOIN worker_assignments w ON w.grid_code = a.code "
            "AND w.unassigned_at IS NULL WHERE a.level = 'grid' AND a.valid_to IS NULL GROUP BY a.code")}
        self.assertTrue(any(want.values()))
        doc = self.items("grid", "code LIKE '3305210%'").json
        self.assertTrue(doc["features"])
        for f in doc["features"]:
            self.assertEqual(f["properties"]["workers"], want[f["properties"]["code"]], f["properties"]["code"])
        one = doc["features"][0]
        r = self.get(f"/ogc/collections/grid/items/{one['id']}").json
        self.assertEqual(r["properties"]["workers"], want[one["properties"]["code"]])

    def test_sortby(self):
        r = self.get("/ogc/collections/grid/items?limit=10000&sortby=-population,code")
        self.assertEqual(r.status, 200, r)
        got = [f["id"] for f in r.json["features"]]
        want = [int(x[0]) for x in self.s.sql("SELECT id FROM areas WHERE level = 'grid' AND valid_to IS NULL "
                                              "ORDER BY population DESC, code")]
        self.assertEqual(got, want)
        r = self.get("/ogc/collections/checkpoints/items?limit=10000&sortby=%2Bname,-id&filter=kind%3D'shop'")
        self.assertEqual(r.status, 200, r)
        want = [int(x[0]) for x in self.s.sql("SELECT id FROM checkpoints WHERE kind = 'shop' ORDER BY name, id DESC")]
        self.assertEqual([f["id"] for f in r.json["features"]], want)
        for bad in ("nope", "geometry", "name;DROP", "", "-"):
            with self.subTest(sortby=bad):
                doc = self.assertProblem(self.get("/ogc/collections/grid/items?sortby=" + urllib.parse.quote(bad)), 400,
                                         "invalid_parameter")
                self.assertEqual(doc["parameter"], "sortby")

    def test_unknown_parameters_are_400(self):
        fid = self.s.sql("SELECT id FROM areas WHERE level = 'grid' AND valid_to IS NULL LIMIT 1")[0][0]
        for path in ("/ogc", "/ogc/conformance", "/ogc/api", "/ogc/collections", "/ogc/collections/grid",
                     "/ogc/collections/grid/queryables", "/ogc/collections/grid/items",
                     f"/ogc/collections/grid/items/{fid}"):
            with self.subTest(path=path):
                doc = self.assertProblem(self.get(path + "?filtr=name%3D'x'"), 400, "unknown_parameter")
                self.assertEqual(doc["parameter"], "filtr")
                self.assertEqual(self.get(path + "?f=json").status, 200)
        # A filter on a single feature is not a thing the resource offers.
        self.assertProblem(self.get("/ogc/collections/grid/items/1?filter=TRUE"), 400, "unknown_parameter")
        self.assertProblem(self.get("/ogc/collections/grid/items?f=html"), 400, "invalid_parameter")
        for p in ("filter-lang=cql2-text", "filter-crs=EPSG:4490"):
            self.assertProblem(self.get("/ogc/collections/grid/items?" + p), 400, "invalid_parameter")
        # Before: 401 without a token, whatever the parameters.
        self.assertProblem(self.s.request("GET", "/ogc/collections/grid/items?nope=1"), 401, "unauthorized")

    def test_queryables(self):
        coll = self.get("/ogc/collections/grid").json
        link = [l for l in coll["links"] if l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/queryables"]
        self.assertEqual(len(link), 1)
        r = self.get(urllib.parse.urlsplit(link[0]["href"]).path)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/schema+json")
        q = r.json
        self.assertEqual(q["type"], "object")
        self.assertTrue(q["$schema"].startswith("https://json-schema.org/"))
        props = q["properties"]
        self.assertEqual(props["name"]["type"], "string")
        self.assertEqual(props["population"]["type"], "integer")
        self.assertEqual(props["valid_from"], {**props["valid_from"], "type": "string", "format": "date-time"})
        self.assertEqual(props["valid_to"]["format"], "date-time")
        self.assertEqual(props["geometry"]["format"], "geometry-multipolygon")
        self.assertEqual(self.get("/ogc/collections/checkpoints/queryables").json["properties"]["geometry"]["format"],
                         "geometry-point")
        # Every queryable can be filtered on (a queryable the compiler did not know would be a 400).
        for name, p in props.items():
            if name == "geometry":
                filt = "S_INTERSECTS(geometry, BBOX(119, 30, 121, 31))"
            elif p.get("format") == "date-time":
                filt = f"{name} IS NULL OR {name} > TIMESTAMP('2000-01-01T00:00:00Z')"
            elif p["type"] == "integer":
                filt = f"{name} >= 0"
            else:
                filt = f"{name} LIKE '%'"
            with self.subTest(queryable=name):
                self.assertEqual(self.items("grid", filt).status, 200)
        self.assertProblem(self.get("/ogc/collections/nope/queryables"), 404, "collection_not_found")
        conf = self.get("/ogc/conformance").json["conformsTo"]
        for c in ("ogcapi-features-3/1.0/conf/queryables", "ogcapi-features-3/1.0/conf/filter",
                  "ogcapi-features-3/1.0/conf/features-filter", "cql2/1.0/conf/cql2-text", "cql2/1.0/conf/cql2-json",
                  "cql2/1.0/conf/basic-cql2"):
            self.assertTrue(any(x.endswith(c) for x in conf), c)
        api = self.get("/ogc/api").json
        self.assertIn("/collections/{collectionId}/queryables", api["paths"])
        names = [p["name"] for p in api["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]]
        for n in ("filter", "filter-lang", "filter-crs", "sortby", "bbox-crs"):
            self.assertIn(n, names)

    def test_bbox_crs(self):
        # The county in EPSG:3857 and in Gauss-Krüger (northing first) selects every grid it covers.
        merc = [float(v) for v in self.s.sql("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
                                             "ST_Extent(ST_Transform(geom, 3857)) e FROM areas WHERE level = 'county') s")[0]]
        r = self.get("/ogc/collections/grid/items?limit=1&bbox=%f,%f,%f,%f&bbox-crs=EPSG:3857" % tuple(merc))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["numberMatched"], 300)
        gk = [float(v) for v in self.s.sql("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
                                           "ST_Extent(ST_Transform(geom, 4549)) e FROM areas WHERE code = '330521001001001') s")[0]]
        r = self.get("/ogc/collections/grid/items?limit=1000&bbox=%f,%f,%f,%f&bbox-crs=%s" % (gk[1], gk[0], gk[3], gk[2], GK))
        self.assertEqual(r.status, 200, r)
        ids = [f["id"] for f in r.json["features"]]
        self.assertIn(int(self.s.sql("SELECT id FROM areas WHERE code = '330521001001001' AND valid_to IS NULL")[0][0]), ids)
        self.assertLess(len(ids), 300)
        # Checks: unknown CRS, no bbox, outside the CRS's domain, axis order mistaken.
        self.assertProblem(self.get("/ogc/collections/grid/items?bbox=1,2,3,4&bbox-crs=EPSG:9999"), 400, "unsupported_crs")
        doc = self.assertProblem(self.get("/ogc/collections/grid/items?bbox-crs=EPSG:4490"), 400, "invalid_parameter")
        self.assertEqual(doc["parameter"], "bbox-crs")
        self.assertProblem(self.get(f"/ogc/collections/grid/items?bbox=-10,0,10,10&bbox-crs={GK}"), 400, "invalid_parameter")
        self.assertProblem(self.get("/ogc/collections/grid/items?bbox=119.9,30.4,120.1,30.6&bbox-crs=" + LATLON), 400,
                           "invalid_parameter")
        self.assertProblem(self.get("/ogc/collections/grid/items?bbox=119.9,95,120.1,96"), 400, "invalid_parameter")
