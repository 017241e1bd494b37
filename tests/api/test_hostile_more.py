"""More hostile requests and the rules they probe, beside test_hostile.py: a deep JSON body on every
route that reads one (with and without a token), Connection: close in its other spellings, framing
that a proxy in front could read otherwise, links from the configured public URL only, log lines no
path can forge (read in the whole log file), the glyph cache under thousands of font stack names,
the cost gate on area histories, CSV batches with numbers that are no coordinates, the size floor on
the toolkit's split, merge and redistrict and on imports, and tools/run: no token in what it prints,
and a server that dies is started again. After every hostile request the same server process
answers /health (HostileClient.assertHealthy: probes sent together, the fastest within 100 ms)."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

from harness import ApiTestCase, Reply, _need, db_url, free_port, psql
from test_hostile import HostileClient

GRID = "330521104002001"
VILLAGE = "330521104002"
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))

DEEP_ARRAYS = "[" * 100_000 + "]" * 100_000
DEEP_OBJECTS = '{"a":' * 50_000 + "1" + "}" * 50_000

# Every route that reads a JSON (or GeoJSON) body, with the media type it reads.
JSON_ROUTES = [
    ("POST", "/v1/areas", "application/geo+json"),
    ("PATCH", f"/v1/areas/{GRID}", "application/json"),
    ("PATCH", f"/v1/areas/{GRID}?adjust=neighbours", "application/json"),
    ("PATCH", f"/v1/areas/{GRID}?dry_run=true", "application/json"),
    ("POST", "/v1/areas/merge", "application/json"),
    ("POST", f"/v1/areas/{GRID}/split", "application/json"),
    ("POST", f"/v1/areas/{GRID}/reparent", "application/json"),
    ("PUT", f"/v1/areas/{VILLAGE}/children", "application/geo+json"),
    ("PUT", f"/v1/areas/{GRID}/workers", "application/json"),
    ("POST", "/v1/workers", "application/json"),
    ("POST", "/v1/workers/1/position", "application/json"),
    ("POST", "/v1/incidents", "application/json"),
    ("PATCH", "/v1/incidents/1", "application/json"),
    ("POST", "/v1/checkpoints", "application/json"),
    ("PATCH", "/v1/checkpoints/1", "application/json"),
    ("POST", "/v1/checkpoints/1/visits", "application/json"),
    ("POST", "/v1/locate", "application/json"),
    ("POST", "/v1/locate", "application/geo+json"),
    ("POST", "/v1/patrol/tour", "application/json"),
    ("POST", "/v1/patrol/coverage", "application/json"),
    ("POST", "/v1/route/matrix", "application/json"),
    ("POST", "/v1/import?level=grid&parent=" + VILLAGE + "&dry_run=true", "application/geo+json"),
]


def point_in(test, code):
    x, y = test.s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas "
                      f"WHERE code = '{code}' AND valid_to IS NULL) s")[0]
    return float(x), float(y)


class MoreHostile(HostileClient, ApiTestCase):
    server_env = {"WANGGE_MAX_BODY_MB": "1"}

    # --- deep JSON -------------------------------------------------------------------------

    def test_deep_json_on_every_route_that_reads_json(self):
        viewer = self.s.token("viewer")
        for method, path, media in JSON_ROUTES:
            for body in (DEEP_ARRAYS, DEEP_OBJECTS):
                with self.subTest(method=method, path=path, media=media, body=body[:2]):
                    # Without a token: refused before the body is read.
                    r = self.s.request(method, path, raw=body, content_type=media)
                    self.assertEqual(r.status, 401, f"{method} {path} without a token: {r}")
                    self.assertProblem(r, 401, r.json["code"])
                    self.assertHealthy()
                    # The weakest role and the strongest: refused (the role, the depth, the
                    # shape), never a 500, and the process lives.
                    for token in (viewer, self.admin):
                        r = self.s.request(method, path, raw=body, token=token, content_type=media)
                        self.assertTrue(400 <= r.status < 500, f"{method} {path}: {r}")
                        self.assertProblem(r, r.status, r.json["code"])
                        self.assertHealthy()

    # --- Connection: close -----------------------------------------------------------------

    def assertAnsweredThenClosed(self, request, status):
        with self.connect() as sock:
            sock.sendall(request)
            self.assertEqual(self.read_response(sock)[0], status)
            self.assertTrue(self.closes(sock, timeout=2), f"the connection stayed open after {request[:80]!r}")

    def test_connection_close_in_its_other_spellings(self):
        body = b'{"name": "x"}'
        for request, status in (
                (b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n", 200),
                (b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n", 200),
                (b"GET /health HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n", 200),
                # An HTTP/1.0 client that does not ask to keep the connection.
                (b"GET /health HTTP/1.0\r\n\r\n", 200),
                # A refused request with a body, and a 404.
                (b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body, 401),
                (b"GET /v1/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404)):
            with self.subTest(request=request[:60]):
                self.assertAnsweredThenClosed(request, status)
                self.assertHealthy()
        # A request pipelined behind Connection: close is not answered.
        with self.connect() as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                         b"GET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, _ = self.read_response(sock)
            self.assertEqual(status, 200)
            sock.settimeout(2)
            rest = b""
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
            except (socket.timeout, ConnectionResetError):
                pass
            self.assertNotIn(b"HTTP/1.1 404", rest)
        # HTTP/1.0 asking for keep-alive keeps it.
        with self.connect() as sock:
            for _ in range(2):
                sock.sendall(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                self.assertEqual(self.read_response(sock)[0], 200)
        self.assertHealthy()

    # --- framing ---------------------------------------------------------------------------

    def test_lengths_and_codings_a_proxy_could_read_otherwise(self):
        for head in (b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\ncontent-length: 5\r\n\r\n{}abc",
                     b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 2\r\n\r\n{}abc",
                     b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 5\r\n\r\n{}abc",
                     b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Length : 2\r\n\r\n{}",
                     b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}",
                     b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}",
                     b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n{}",
                     b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999999\r\n\r\n{}",
                     b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
                     b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n",
                     b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n0\r\n\r\n"):
            with self.subTest(head=head):
                answer = self.exchange(head)
                self.assertIn(answer[0], (400, 413), answer)
                self.assertRawProblem(answer, answer[0], "malformed_request" if answer[0] == 400 else "payload_too_large")
                self.assertHealthy()

    # --- logs ------------------------------------------------------------------------------

    def whole_log(self):
        self.s.log.flush()
        with open(os.path.join(self.s.var, "server.log"), "rb") as f:
            return f.read()

    def test_no_path_forges_a_log_line(self):
        forged = b"2026-01-01T00:00:00Z ERROR forged"
        paths = {
            "lf": "/v1/nothing%0a2026-01-01T00:00:00Z%20ERROR%20forged-lf",
            "cr": "/v1/nothing%0d2026-01-01T00:00:00Z%20ERROR%20forged-cr",
            "crlf": "/v1/nothing%0d%0a2026-01-01T00:00:00Z%20ERROR%20forged-crlf",
            "esc": "/v1/nothing%1b%5b2K%1b%5b1A2026-01-01T00:00:00Z%20ERROR%20forged-esc",
            "nul": "/v1/nothing%00%0a2026-01-01T00:00:00Z%20ERROR%20forged-nul",
            "401": "/v1/areas/x%0a2026-01-01T00:00:00Z%20ERROR%20forged-401",
            # A backslash cannot pass for the log's own escape.
            "backslash": "/v1/nothing%5cx0a2026-01-01T00:00:00Z%20ERROR%20forged-backslash",
        }
        # A refused request that carries a token: the token is no part of its log line.
        r = self.s.request("GET", "/v1/areas/x%0aforged-token", token=self.admin, headers={"X-Note": "forged-header"})
        self.assertIn(r.status, (400, 404), r)
        for name, path in paths.items():
            with self.subTest(name=name):
                r = self.s.request("GET", path)
                self.assertIn(r.status, (400, 401, 404), r)
                self.assertHealthy()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.whole_log().count(b"forged-") < len(paths):
            time.sleep(0.1)
        log = self.whole_log()
        for ctl in (b"\r", b"\x1b", b"\x00"):
            self.assertNotIn(ctl, log)
        lines = log.split(b"\n")
        for name in paths:
            marker = b"forged-" + name.encode() + b" -> "
            holding = [line for line in lines if marker in line]
            self.assertEqual(len(holding), 1, f"{name}: {holding}")
            line = holding[0]
            self.assertFalse(line.startswith(forged), line)
            self.assertRegex(line.decode("utf-8", "replace"), r"^\d{4}-\d\d-\d\dT\S+ INFO ")
            self.assertIn(b"\\x", line)
        self.assertIn(b"\\x5cx0a2026-01-01T00:00:00Z ERROR forged-backslash", log)
        for line in lines:
            self.assertFalse(line.startswith(b"2026-01-01T00:00:00Z"), line)
        self.assertIn(b"forged-token", log)
        self.assertNotIn(self.admin.encode(), log)

    # --- CSV batches -----------------------------------------------------------------------

    def test_csv_numbers_that_are_no_coordinates(self):
        x, y = point_in(self, GRID)
        # (A first line that is no point is taken for a header, so each starts with a good one.)
        for csv in ("lon,lat\nnan,nan\n", f"{x},{y}\ninf,{y}\n", f"{x},{y}\n-inf,{y}\n", f"{x},{y}\n1e999,{y}\n",
                    f"{x},{y}\n0x10,0x10\n", f"{x},{y}\n" + "9" * 400_000 + ",1\n", f"{x},{y}\n{x}" + "," * 100_000 + "\n"):
            with self.subTest(csv=csv[:40]):
                r = self.s.request("POST", "/v1/locate", raw=csv, token=self.admin, content_type="text/csv")
                self.assertIn(r.status, (400, 422), r)
                self.assertIn(r.json["code"], ("invalid_coordinates", "invalid_batch"), r)
                self.assertProblem(r, r.status, r.json["code"])
                self.assertHealthy()
        # A line is at most 4 KiB: a point with a long extra column is refused by its length alone.
        r = self.s.request("POST", "/v1/locate", raw=f"lon,lat\n{x},{y},{'备注' * 1000}\n", token=self.admin, content_type="text/csv")
        self.assertIn("longer than 4096 bytes", self.assertProblem(r, 400, "invalid_batch")["detail"])
        r = self.s.request("POST", "/v1/locate", raw=f"lon,lat\n{x},{y}\n", token=self.admin, content_type="text/csv")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(json.loads(r.body)["results"][0]["grid"]["code"], GRID)


class PublicUrl(HostileClient, ApiTestCase):
    server_env = {"WANGGE_PUBLIC_URL": "https://wangge.example.org"}
    HOSTILE = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "gopher",
               "Forwarded": "host=evil.example;proto=gopher"}

    def hrefs(self, doc):
        out = []
        if isinstance(doc, dict):
            for k, v in doc.items():
                if k == "href" and isinstance(v, str):
                    out.append(v)
                else:
                    out += self.hrefs(v)
        elif isinstance(doc, list):
            for v in doc:
                out += self.hrefs(v)
        return out

    def test_links_come_from_the_public_url_whatever_the_host_header_says(self):
        checked = 0
        for path in ("/v1/areas?limit=1", f"/v1/areas/{VILLAGE}/children?limit=1", "/v1/incidents?limit=1", "/ogc",
                     "/ogc/collections", "/ogc/collections/grid/items?limit=1"):
            with self.subTest(path=path):
                r = self.s.request("GET", path, token=self.admin, headers=self.HOSTILE)
                self.assertEqual(r.status, 200, r)
                self.assertNotIn("evil.example", r.body)
                self.assertNotIn("gopher", r.body)
                links = self.hrefs(r.json)
                for href in links:
                    if href.startswith("http"):
                        self.assertTrue(href.startswith("https://wangge.example.org/"), href)
                        checked += 1
                self.assertHealthy()
        self.assertGreater(checked, 3, "test precondition: answers with absolute links")
        # The Location of a new case.
        x, y = point_in(self, GRID)
        body = {"location": {"type": "Point", "coordinates": [x, y]}, "category": "市容环境", "source": "hotline",
                "description": "x", "reporter": "1"}
        r = self.s.request("POST", "/v1/incidents", body, token=self.admin, headers=self.HOSTILE)
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.header("Location").startswith("https://wangge.example.org/v1/incidents/"), r.header("Location"))
        self.assertHealthy()


class Glyphs(HostileClient, ApiTestCase):
    RANGE = "19968-20223"  # CJK: the largest answers

    def rss_kib(self):
        with open(f"/proc/{self.s.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def fetch(self, path):
        try:
            with urllib.request.urlopen(self.s.base + path, timeout=60) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def fetch_names(self, names):
        """Fetches the range under each name on 4 connections at once; every answer names its stack."""
        failures = []

        def run(part):
            for name in part:
                status, body = self.fetch(f"/fonts/{urllib.parse.quote(name)}/{self.RANGE}.pbf")
                if status != 200 or name.encode() not in body[:200]:
                    failures.append((name, status))
        threads = [threading.Thread(target=run, args=(names[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])

    def test_thousands_of_font_stack_names_take_no_memory(self):
        status, first = self.fetch(f"/fonts/warmup/{self.RANGE}.pbf")
        if status == 404 and os.environ.get("CI") != "true":
            self.skipTest("no fonts for map labels installed")
        self.assertEqual(status, 200, first[:200])
        # Every HTTP thread and worker has answered a few before the measure starts.
        self.fetch_names([f"warm {i}" for i in range(200)])
        before = self.rss_kib()
        n = 2000
        self.fetch_names([f"Noto Sans {uuid.uuid4().hex} Regular" for _ in range(n)])
        grown = (self.rss_kib() - before) * 1024
        # One cached answer per name would be n answers of this size; allow a twentieth of that.
        self.assertLess(grown, n * len(first) // 20, f"RSS grew {grown >> 10} KiB for {n} names of {len(first)} bytes each")
        self.assertHealthy()


class HistoryGate(HostileClient, ApiTestCase):
    server_env = {"WANGGE_MAX_EXPENSIVE": "1", "WANGGE_DB_WORKERS": "6"}

    def history(self, code, timeout=5):
        req = urllib.request.Request(f"{self.s.base}/v1/areas/{code}/history", headers={"Authorization": "Bearer " + self.admin})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return Reply(resp.status, resp.headers, resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            return Reply(e.code, e.headers, e.read().decode("utf-8"))

    def test_history_takes_a_place_at_the_cost_gate(self):
        self.assertEqual(self.history(GRID).status, 200)
        # The areas table locked by another session: an export takes the one place at the gate and
        # then waits for the table, holding its place until the lock is released.
        locker = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.s.url], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        export = {}
        exporter = None
        try:
            locker.stdin.write("BEGIN;\nLOCK TABLE areas IN ACCESS EXCLUSIVE MODE;\nSELECT 1;\n")
            locker.stdin.flush()
            deadline = time.monotonic() + 20
            while self.s.sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                             "WHERE c.relname = 'areas' AND l.mode = 'AccessExclusiveLock' AND l.granted") != [["1"]]:
                self.assertLess(time.monotonic(), deadline, "the test could not lock the areas table")
                time.sleep(0.05)

            def run_export():
                req = urllib.request.Request(self.s.base + "/v1/export?level=grid", headers={"Authorization": "Bearer " + self.admin})
                try:
                    with urllib.request.urlopen(req, timeout=120) as resp:
                        resp.read()
                        export["status"] = resp.status
                except urllib.error.HTTPError as e:
                    export["status"] = e.code
                    export["body"] = e.read()
            exporter = threading.Thread(target=run_export)
            exporter.start()
            deadline = time.monotonic() + 20
            while self.s.sql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{self.s.db}' AND state = 'active' "
                             "AND wait_event_type = 'Lock'") == [["0"]]:
                self.assertLess(time.monotonic(), deadline, "the export never waited for the areas table")
                self.assertTrue(exporter.is_alive(), export)
                time.sleep(0.05)
            # The gate is full: the history is refused at once instead of waiting for the database.
            start = time.monotonic()
            r = self.history(GRID)
            self.assertProblem(r, 503, "busy")
            self.assertGreater(int(r.header("Retry-After")), 0)
            self.assertLess(time.monotonic() - start, 2.0)
        finally:
            if locker.poll() is None:
                locker.stdin.write("COMMIT;\n")
                locker.stdin.close()
                locker.wait(timeout=30)
            if exporter is not None:
                exporter.join(120)
        # /health asks the database, whose table the test held locked until here.
        self.assertHealthy()
        self.assertEqual(export.get("status"), 200, export)
        # The export gave its place back.
        r = self.history(GRID)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json, r)


class MinimumSizeElsewhere(ApiTestCase):
    """The size floor (25 m², 1 m mean width by default) on the write paths beside create and
    update: split pieces, merged areas, redistricting plans, imported files."""

    def post(self, path, body, etags=None, query=""):
        headers = {"If-Match": ", ".join(etags)} if etags else {}
        return self.s.request("POST", path + query, body, token=self.admin, headers=headers)

    def geom_of(self, code):
        return f"(SELECT geom FROM areas WHERE code = '{code}' AND valid_to IS NULL)"

    def box_inside(self, geom_sql, half=0.00002):
        """SQL of a square of 2·half degrees (about 3.6 m × 4.4 m here) around the centre of the
        largest circle inside the geometry."""
        centre = f"(ST_MaximumInscribedCircle({geom_sql})).center"
        box = f"ST_SetSRID(ST_Expand({centre}, {half}), 4490)"
        self.assertEqual(self.s.sql(f"SELECT ST_Covers({geom_sql}, {box})"), [["t"]], "test precondition: the box fits")
        return box

    def area_m2(self, geom_sql):
        return float(self.s.sql(f"SELECT ST_Area(wg_to_metric({geom_sql}))")[0][0])

    def test_split_may_not_cut_off_a_sliver(self):
        village = "330521101001"
        grid = self.grids_of(village)[0]
        g = self.geom_of(grid)
        xmin, ymin, ymax, width = (float(v) for v in self.s.sql(
            f"SELECT ST_XMin({g}), ST_YMin({g}), ST_YMax({g}), ST_XMax({g}) - ST_XMin({g})")[0])

        def west_of(d):
            return self.area_m2(f"ST_Intersection({g}, ST_MakeEnvelope({xmin - 1}, {ymin - 1}, {xmin + d}, {ymax + 1}, 4490))")
        # A vertical line that cuts off about 10 m² at the west end: more than the 1 m² below which
        # a piece was always refused, less than any grid.
        lo, hi = 0.0, width / 2
        for _ in range(50):
            mid = (lo + hi) / 2
            if west_of(mid) < 10:
                lo = mid
            else:
                hi = mid
        cut = xmin + lo
        self.assertTrue(5 < west_of(lo) < 20, west_of(lo))
        line = {"type": "LineString", "coordinates": [[cut, ymin - 0.001], [cut, ymax + 0.001]]}
        _, etag = self.area(grid)
        for query, etags in (("?dry_run=true", None), ("", [etag])):
            with self.subTest(query=query):
                doc = self.assertProblem(self.post(f"/v1/areas/{grid}/split", {"line": line}, etags, query), 422,
                                         "split_piece_too_small")
                self.assertTrue(any(1 < a < 25 for a in doc["piece_areas_m2"]), doc)
        self.assertEqual(self.area(grid)[1], etag)
        self.assertEqual(self.grids_of(village)[0], grid)

    def test_merge_of_slivers_is_refused(self):
        # Two slivers from before the size floor existed, written straight into the table, side by
        # side in a hole of their grid: merged they are still 16 m².
        village = "330521101002"
        grid = self.grids_of(village)[0]
        box = self.box_inside(self.geom_of(grid))
        west = f"ST_MakeEnvelope(ST_XMin({box}), ST_YMin({box}), (ST_XMin({box}) + ST_XMax({box})) / 2, ST_YMax({box}), 4490)"
        east = f"ST_MakeEnvelope((ST_XMin({box}) + ST_XMax({box})) / 2, ST_YMin({box}), ST_XMax({box}), ST_YMax({box}), 4490)"
        a, b = village + "901", village + "902"
        self.s.sql(f"WITH b AS (SELECT {box} AS g, {west} AS w, {east} AS e), "
                   f"u AS (UPDATE areas SET geom = ST_Multi(ST_Difference(geom, (SELECT g FROM b))) "
                   f"WHERE code = '{grid}' AND valid_to IS NULL RETURNING 1) "
                   f"INSERT INTO areas (code, version, name, level, parent_code, geom, valid_from, changed_by, change) "
                   f"SELECT '{a}', 1, '碎片甲', 'grid', '{village}', ST_Multi(w), now(), 'test', 'create' FROM b, (SELECT count(*) FROM u) n "
                   f"UNION ALL SELECT '{b}', 1, '碎片乙', 'grid', '{village}', ST_Multi(e), now(), 'test', 'create' FROM b")
        total = self.area_m2(f"ST_Union({self.geom_of(a)}, {self.geom_of(b)})")
        self.assertTrue(1 < total < 25, total)
        # The server has heard of both.
        deadline = time.monotonic() + 10
        while self.get("/v1/areas/" + b).status != 200:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.1)
        for query, etags in (("?dry_run=true", None), ("", ["*"])):
            with self.subTest(query=query):
                doc = self.assertProblem(self.post("/v1/areas/merge", {"codes": [a, b]}, etags, query), 422, "area_too_small")
                self.assertAlmostEqual(doc["area_m2"], total, delta=1.0)
                self.assertEqual(doc["min_area_m2"], 25)
        self.assertEqual([c for c in self.grids_of(village) if c in (a, b)], [a, b])

    def quadrants(self, village):
        """The village cut into four by its bounding box centre lines, as SQL expressions."""
        v = self.geom_of(village)
        out = []
        for x0, y0, x1, y1 in [("ST_XMin(g)", "cy", "cx", "ST_YMax(g)"), ("cx", "cy", "ST_XMax(g)", "ST_YMax(g)"),
                               ("ST_XMin(g)", "ST_YMin(g)", "cx", "cy"), ("cx", "ST_YMin(g)", "ST_XMax(g)", "cy")]:
            out.append(f"(SELECT ST_Multi(ST_CollectionExtract(ST_Intersection(g, ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 4490)), 3)) "
                       f"FROM (SELECT g, (ST_XMin(g) + ST_XMax(g)) / 2 AS cx, (ST_YMin(g) + ST_YMax(g)) / 2 AS cy "
                       f"FROM (SELECT {v} AS g) a) b)")
        return out

    def test_redistricting_plan_with_a_sliver_is_refused(self):
        village = "330521004003"
        quads = self.quadrants(village)
        box = self.box_inside(quads[0])
        geoms = [f"ST_Multi(ST_Difference({quads[0]}, {box}))"] + quads[1:] + [f"ST_Multi({box})"]
        plan = {"type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {}, "geometry": self.geojson(g)} for g in geoms]}
        before = self.grids_of(village)
        r = self.s.request("PUT", f"/v1/areas/{village}/children?dry_run=true", plan, token=self.admin)
        doc = self.assertProblem(r, 422, "area_too_small")
        self.assertEqual(doc["index"], 4)
        self.assertTrue(1 < doc["area_m2"] < 25, doc)
        # Without the sliver (given to its quadrant) the same plan passes.
        plan["features"] = plan["features"][:4]
        plan["features"][0]["geometry"] = self.geojson(quads[0])
        r = self.s.request("PUT", f"/v1/areas/{village}/children?dry_run=true", plan, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.grids_of(village), before)

    def test_import_with_a_sliver_is_refused(self):
        village = "330521002002"
        grids = self.grids_of(village)
        box = self.box_inside(self.geom_of(grids[0]))
        features = []
        for i, code in enumerate(grids):
            g = self.geom_of(code)
            if i == 0:
                g = f"ST_Multi(ST_Difference({g}, {box}))"
            features.append({"type": "Feature", "properties": {"code": code, "name": "网格" + code[-3:]},
                             "geometry": self.geojson(g)})
        sliver = village + "901"
        features.append({"type": "Feature", "properties": {"code": sliver, "name": "碎片"}, "geometry": self.geojson(box)})
        data = json.dumps({"type": "FeatureCollection", "features": features}).encode()

        def import_(**params):
            return self.s.request("POST", "/v1/import?" + urllib.parse.urlencode(dict(level="grid", parent=village, mode="upsert", **params)),
                                  raw=data, token=self.admin, content_type="application/geo+json")
        r = import_(dry_run="true")
        self.assertEqual(r.status, 200, r)
        self.assertFalse(r.json["valid"], r.json)
        self.assertIn((sliver, "area_too_small"), {(p.get("code"), p.get("problem")) for p in r.json["problems"]})
        doc = self.assertProblem(import_(), 422, "import_invalid")
        problems = {(p.get("code"), p.get("problem")): p for p in doc["report"]["problems"]}
        self.assertIn((sliver, "area_too_small"), problems)
        self.assertTrue(1 < problems[(sliver, "area_too_small")]["area_m2"] < 25, problems)
        self.assertEqual(self.s.sql(f"SELECT count(*) FROM areas WHERE code = '{sliver}'"), [["0"]])


class ToolsRun(unittest.TestCase):
    """tools/run, as a person starts it: the admin token is in var/admin-token and nowhere in what
    it prints (the server's log included), and a server that dies is started again."""

    def setUp(self):
        self.admin_url = _need("WANGGE_TEST_ADMIN_URL")
        self.db = "wangge_t_" + uuid.uuid4().hex[:12]
        psql(self.admin_url, f'CREATE DATABASE "{self.db}" TEMPLATE "{_need("WANGGE_TEST_TEMPLATE")}"')
        self.addCleanup(psql, self.admin_url, f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        self.var = tempfile.mkdtemp(prefix="wangge-run-")
        self.addCleanup(shutil.rmtree, self.var, True)
        self.port = free_port()
        self.log_path = os.path.join(self.var, "run.log")
        os.makedirs(os.path.join(self.var, "var"))
        env = dict(os.environ, WANGGE_DATABASE_URL=db_url(self.admin_url, self.db), WANGGE_PORT=str(self.port),
                   WANGGE_VAR_DIR=os.path.join(self.var, "var"),
                   WANGGE_BUILD_DIR=os.path.dirname(os.path.abspath(_need("WANGGE_BIN"))))
        self.log = open(self.log_path, "wb")
        self.addCleanup(self.log.close)
        self.run_proc = subprocess.Popen([os.path.join(ROOT, "tools/run")], cwd=ROOT, env=env, stdout=self.log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.addCleanup(self.stop)

    def stop(self):
        if self.run_proc.poll() is None:
            os.killpg(self.run_proc.pid, signal.SIGTERM)
            try:
                self.run_proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.run_proc.pid, signal.SIGKILL)
                self.run_proc.wait()

    def output(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def health(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as resp:
                return resp.status
        except (OSError, urllib.error.HTTPError):
            return None

    def wait_healthy(self, seconds):
        deadline = time.monotonic() + seconds
        while self.health() != 200:
            self.assertIsNone(self.run_proc.poll(), "tools/run ended:\n" + self.output()[-3000:])
            self.assertLess(time.monotonic(), deadline, "no /health 200:\n" + self.output()[-3000:])
            time.sleep(0.2)

    def server_pid(self):
        with open(f"/proc/{self.run_proc.pid}/task/{self.run_proc.pid}/children") as f:
            children = [int(p) for p in f.read().split()]
        for pid in children:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if len(argv) >= 2 and os.path.basename(argv[0]) == b"wangge" and argv[1] == b"serve":
                return pid
        self.fail(f"no wangge serve among the children {children} of tools/run")

    def test_no_token_in_the_output_and_a_dead_server_is_restarted(self):
        self.wait_healthy(300)
        with open(os.path.join(self.var, "var", "admin-token")) as f:
            token = f.read().strip()
        self.assertGreater(len(token), 16)
        out = self.output()
        self.assertNotIn(token, out)
        self.assertIn("admin-token", out)  # where to find it is said
        # The token works: it is the one the server made.
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/v1/areas?limit=1", headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req, timeout=30) as resp:
            self.assertEqual(resp.status, 200)
        # The console's first account: its password is in var/admin-password (0600), never printed,
        # and signs in; the console's address is said.
        password_path = os.path.join(self.var, "var", "admin-password")
        self.assertEqual(os.stat(password_path).st_mode & 0o777, 0o600)
        with open(password_path) as f:
            password = f.read().strip()
        self.assertGreaterEqual(len(password), 16)
        self.assertNotIn(password, out)
        self.assertIn(f"http://127.0.0.1:{self.port}/console", out)
        self.assertIn("admin-password", out)
        login = urllib.request.Request(f"http://127.0.0.1:{self.port}/v1/session", method="POST",
                                       data=json.dumps({"login": "admin", "password": password}).encode(),
                                       headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(login, timeout=30) as resp:
            self.assertIn(resp.status, (200, 201))
            self.assertEqual(json.loads(resp.read())["user"]["login"], "admin")
        # A crash: the server is started again and answers on the same port.
        first = self.server_pid()
        os.kill(first, signal.SIGSEGV)
        deadline = time.monotonic() + 60
        while self.health() == 200:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        self.wait_healthy(120)
        self.assertNotEqual(self.server_pid(), first)
        out = self.output()
        self.assertIn("FATAL the server crashed with signal 11", out)
        self.assertRegex(out, r"wangge serve ended with status \d+; starting it again")
        self.assertNotIn(token, out)
        self.assertNotIn(password, out)


if __name__ == "__main__":
    unittest.main()
