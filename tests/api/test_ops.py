"""Operations: /metrics in Prometheus' text format (read by the Prometheus client's parser and by a
strict line grammar here), /ready, the drain after SIGTERM (requests under way finish, new
connections are refused, exit code 0, bounded by WANGGE_DRAIN_TIMEOUT_S), JSON log lines."""
import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import ApiTestCase, Server

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # Debian's python3-prometheus-client (tools/test installs it), when this Python is not Debian's.
    import sys
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        text_string_to_metric_families = None

# The text format 0.0.4: comments (# HELP name text / # TYPE name type) and samples
# name{label="value",...} value; nothing else, no blank lines.
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)"
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? ({VALUE})$")
HELP = re.compile(rf"^# HELP ({NAME}) .*$")
TYPE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def strict_parse(text, test):
    """The samples as {(name, frozenset(labels)): value}, failing the test on any line outside the
    grammar, a sample whose family has no TYPE before it, a family typed twice, a series twice, or
    a histogram whose buckets are not cumulative up to +Inf == _count."""
    test.assertTrue(text.endswith("\n"), "the exposition must end with a newline")
    types, samples = {}, {}
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            test.assertRegex(line, HELP)
            continue
        if line.startswith("# TYPE "):
            m = TYPE.match(line)
            test.assertIsNotNone(m, line)
            test.assertNotIn(m.group(1), types, f"family typed twice: {line}")
            types[m.group(1)] = m.group(2)
            continue
        m = SAMPLE.match(line)
        test.assertIsNotNone(m, f"not a sample line: {line!r}")
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if re.sub(r"_(bucket|sum|count)$", "", name) in types else name
        test.assertIn(family, types, f"sample before its TYPE: {line}")
        key = (name, frozenset(LABEL_PAIR.findall(labels)))
        test.assertNotIn(key, samples, f"series twice: {line}")
        samples[key] = float(value.replace("Inf", "inf"))
    for family, kind in types.items():
        if kind != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == family + "_bucket":
                rest = frozenset(p for p in labels if p[0] != "le")
                le = dict(labels)["le"]
                series.setdefault(rest, []).append((math.inf if le == "+Inf" else float(le), v))
        for rest, buckets in series.items():
            buckets.sort()
            counts = [v for _, v in buckets]
            test.assertEqual(counts, sorted(counts), f"{family}{dict(rest)}: buckets not cumulative")
            test.assertEqual(buckets[-1][0], math.inf, f"{family}{dict(rest)}: no +Inf bucket")
            test.assertEqual(buckets[-1][1], samples[(family + "_count", rest)], f"{family}{dict(rest)}: +Inf != _count")
            test.assertIn((family + "_sum", rest), samples)
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


class Metrics(ApiTestCase):
    def scrape(self):
        r = self.s.request("GET", "/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/plain; version=0.0.4"), r.headers)
        return r.body

    def grid_point(self):
        code, x, y = self.s.sql(
            "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM areas "
            "WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 1 OFFSET 7) t")[0]
        return code, float(x), float(y)

    def test_a_client_parser_reads_every_family(self):
        self.assertIsNotNone(text_string_to_metric_families, "python3-prometheus-client is not installed")
        self.get("/v1/areas/none-such")  # a 404 of a pattern
        text = self.scrape()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        # The client drops a counter's _total from the family name.
        for name in ("wangge_http_requests", "wangge_http_request_duration_seconds", "wangge_tile_cache_requests",
                     "wangge_tile_cache_bytes", "wangge_tile_cache_entries", "wangge_tile_layer_build_seconds",
                     "wangge_locate_index_build_seconds", "wangge_db_pool_connections", "wangge_db_pool_max_connections",
                     "wangge_listener_connected", "wangge_listener_lag_seconds", "wangge_listener_catch_up_seconds",
                     "wangge_listener_away_seconds", "wangge_listener_reconnects"):
            self.assertIn(name, families, sorted(families))
        self.assertEqual(families["wangge_http_request_duration_seconds"].type, "histogram")
        self.assertEqual(families["wangge_http_requests"].type, "counter")
        strict_parse(text, self)

    def test_requests_count_by_pattern_and_status(self):
        code, x, y = self.grid_point()
        before = strict_parse(self.scrape(), self)
        for _ in range(3):
            self.assertEqual(self.get("/v1/areas/" + code).status, 200)
        self.assertEqual(self.get("/v1/areas/000000000000000").status, 404)
        for _ in range(2):
            self.assertEqual(self.get(f"/v1/locate?lon={x}&lat={y}").status, 200)  # the event-loop route
        self.assertEqual(self.get("/no/such/thing").status, 404)
        after = strict_parse(self.scrape(), self)

        def delta(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        self.assertEqual(delta("wangge_http_requests_total", route="/v1/areas/{code}", method="GET", status="200"), 3)
        self.assertEqual(delta("wangge_http_requests_total", route="/v1/areas/{code}", method="GET", status="404"), 1)
        self.assertEqual(delta("wangge_http_requests_total", route="/v1/locate", method="GET", status="200"), 2)
        self.assertEqual(delta("wangge_http_requests_total", route="(none)", status="404"), 1)
        self.assertEqual(delta("wangge_http_request_duration_seconds_count", route="/v1/areas/{code}", method="GET"), 4)
        # No label carries a path: the area code appears nowhere.
        self.assertFalse(any(code in str(k) for k in after), "a raw path became a label")

    def test_edge_refusals_count_by_code(self):
        def refused(raw):
            answer = b""
            with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as sock:
                try:
                    sock.sendall(raw)  # the edge may answer and stop reading before the end of it
                except OSError:
                    pass
                try:
                    while chunk := sock.recv(65536):
                        answer += chunk
                except ConnectionResetError:
                    pass
            self.assertTrue(answer.startswith(b"HTTP/1.1 "), answer[:200])
            return int(answer.split(b" ", 2)[1])

        before = strict_parse(self.scrape(), self)
        self.assertEqual(refused(b"GET /health HTTP/1.1\nHost: a\n\n"), 400)  # lines end in LF alone
        self.assertEqual(refused(b"GET /health HTTP/3.0\r\nHost: a\r\n\r\n"), 505)
        self.assertEqual(refused(b"GET /health HTTP/1.1\r\nX-Long: " + b"a" * (80 << 10) + b"\r\n\r\n"), 431)
        self.assertEqual(refused(b"GET /health HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n"), 400)
        after = strict_parse(self.scrape(), self)

        def delta(code, status):
            return (value(after, "wangge_http_edge_refusals_total", code=code, status=status) -
                    value(before, "wangge_http_edge_refusals_total", code=code, status=status))

        self.assertEqual(delta("malformed_request", "400"), 2)
        self.assertEqual(delta("http_version_not_supported", "505"), 1)
        self.assertEqual(delta("headers_too_large", "431"), 1)
        self.assertEqual(delta("payload_too_large", "413"), 0)

    def test_tile_cache_and_listeners(self):
        _, x, y = self.grid_point()
        n = 2 ** 14
        tx = int((x + 180) / 360 * n)
        ty = int((1 - math.log(math.tan(math.radians(y)) + 1 / math.cos(math.radians(y))) / math.pi) / 2 * n)
        path = f"/tiles/grid/14/{tx}/{ty}.mvt"
        before = strict_parse(self.scrape(), self)
        for _ in range(3):
            conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
            conn.request("GET", path, headers={"Authorization": "Bearer " + self.admin})
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, body[:200])
            self.assertGreater(len(body), 0)
            conn.close()
        after = strict_parse(self.scrape(), self)
        hits = value(after, "wangge_tile_cache_requests_total", result="hit") - value(before, "wangge_tile_cache_requests_total", result="hit")
        misses = value(after, "wangge_tile_cache_requests_total", result="miss") - value(before, "wangge_tile_cache_requests_total", result="miss")
        self.assertEqual(hits + misses, 3)
        self.assertGreaterEqual(hits, 2)
        self.assertGreater(value(after, "wangge_tile_cache_bytes"), 0)
        for listener in ("area cache listener", "tile feed", "street graph listener", "locator worker watch"):
            self.assertEqual(value(after, "wangge_listener_connected", listener=listener), 1, listener)
            self.assertGreaterEqual(value(after, "wangge_listener_catch_up_seconds_count", listener=listener), 1, listener)
        self.assertGreaterEqual(value(after, "wangge_tile_layer_build_seconds_count", kind="full"), 1)
        self.assertGreater(value(after, "wangge_db_pool_max_connections"), 0)

    def test_an_edit_shows_as_listener_lag_and_a_patch(self):
        code, _, _ = self.grid_point()
        before = strict_parse(self.scrape(), self)
        feature, etag = self.area(code)
        r = self.patch(code, {"properties": {"name": feature["properties"]["name"] + "甲"}}, etag)
        self.assertEqual(r.status, 200, r)
        deadline = time.time() + 5
        while time.time() < deadline:
            after = strict_parse(self.scrape(), self)
            if value(after, "wangge_listener_lag_seconds_count", listener="area cache listener") > value(
                    before, "wangge_listener_lag_seconds_count", listener="area cache listener"):
                break
            time.sleep(0.1)
        self.assertGreater(value(after, "wangge_listener_notifications_total", listener="area cache listener"),
                           value(before, "wangge_listener_notifications_total", listener="area cache listener"))
        self.assertGreater(value(after, "wangge_listener_lag_seconds_count", listener="area cache listener"),
                           value(before, "wangge_listener_lag_seconds_count", listener="area cache listener"))

    def test_ready(self):
        r = self.s.request("GET", "/ready")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"status": "ok", "database": "primary"})


class ReadyWithoutDatabase(unittest.TestCase):
    def test_unreachable_database_is_not_ready(self):
        s = Server()
        self.addCleanup(s.stop)
        # The server's connections to its database are ended and new ones refused: /ready says so.
        admin = os.environ["WANGGE_TEST_ADMIN_URL"]
        subprocess.run(["psql", "-X", "-q", admin, "-c", f"ALTER DATABASE \"{s.db}\" WITH ALLOW_CONNECTIONS false"], check=True,
                       capture_output=True)
        try:
            subprocess.run(["psql", "-X", "-q", admin, "-c",
                            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{s.db}'"],
                           check=True, capture_output=True)
            r = s.request("GET", "/ready")
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json["code"], "database_unavailable")
        finally:
            subprocess.run(["psql", "-X", "-q", os.environ["WANGGE_TEST_ADMIN_URL"], "-c",
                            f"ALTER DATABASE \"{s.db}\" WITH ALLOW_CONNECTIONS true"], check=True, capture_output=True)
        deadline = time.time() + 10
        while s.request("GET", "/ready").status != 200 and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(s.request("GET", "/ready").status, 200)


class Drain(unittest.TestCase):
    """Requests held up in the database (a lock on the incidents table) are under way when SIGTERM
    arrives."""

    def start(self, **env):
        s = Server(env=env)
        self.addCleanup(s.stop)
        code, x, y = s.sql(
            "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM areas "
            "WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 1 OFFSET 3) t")[0]
        return s, float(x), float(y)

    def hold_incidents(self, s):
        """A psql session holding an exclusive lock on incidents until its stdin closes."""
        p = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", s.url], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        p.stdin.write("BEGIN;\nLOCK TABLE incidents IN ACCESS EXCLUSIVE MODE;\n\\echo locked\n")
        p.stdin.flush()
        self.assertEqual(p.stdout.readline().strip(), "locked")
        self.addCleanup(lambda: p.poll() is None and p.kill())
        return p

    def post_cases(self, s, x, y, n):
        results = [None] * n

        def post(i):
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
            body = json.dumps({"location": {"type": "Point", "coordinates": [x, y]}, "category": "市容环境",
                               "source": "hotline", "description": f"drain {i}", "reporter": "12345"})
            try:
                conn.request("POST", "/v1/incidents", body, {"Authorization": "Bearer " + s.admin_token,
                                                              "Content-Type": "application/json"})
                resp = conn.getresponse()
                results[i] = (resp.status, resp.read())
            except OSError as e:
                results[i] = ("error", repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        return threads, results

    def wait_blocked(self, s, n):
        deadline = time.time() + 10
        while time.time() < deadline:
            rows = s.sql("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'incidents'::regclass")
            if int(rows[0][0]) >= n:
                return
            time.sleep(0.05)
        self.fail("the requests never waited on the lock")

    def test_requests_under_way_finish_and_new_connections_are_refused(self):
        s, x, y = self.start(WANGGE_DRAIN_TIMEOUT_S="20")
        idle = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)  # open before the signal
        idle.request("GET", "/health", headers={"Connection": "keep-alive"})
        first = idle.getresponse()
        first.read()
        self.assertEqual(first.status, 200)
        lock = self.hold_incidents(s)
        threads, results = self.post_cases(s, x, y, 3)
        self.wait_blocked(s, 3)
        signalled = time.time()
        s.proc.send_signal(signal.SIGTERM)
        # New connections are refused at once.
        refused_after = None
        deadline = time.time() + 3
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", s.port), timeout=1):
                    pass
            except ConnectionRefusedError:
                refused_after = time.time() - signalled
                break
            time.sleep(0.02)
        self.assertIsNotNone(refused_after, "new connections were still accepted 3 s after SIGTERM")
        # A connection opened before is still served, told the server is draining, and closed.
        idle.request("GET", "/ready", headers={"Connection": "keep-alive"})
        r = idle.getresponse()
        self.assertEqual(r.status, 503)
        self.assertEqual(json.loads(r.read())["code"], "draining")
        time.sleep(1)
        self.assertIsNone(s.proc.poll(), "the server exited with requests under way")
        lock.stdin.close()  # the transaction ends; the held requests go on
        lock.wait(timeout=10)
        for t in threads:
            t.join(30)
        self.assertEqual([r[0] for r in results], [201, 201, 201], results)
        code = s.proc.wait(timeout=20)
        took = time.time() - signalled
        self.assertEqual(code, 0, s.server_log())
        self.assertEqual(int(s.sql("SELECT count(*) FROM incidents WHERE description LIKE 'drain %'")[0][0]), 3)
        print(f"\ndrain: new connections refused {refused_after * 1000:.0f} ms after SIGTERM; 3 of 3 requests under way "
              f"answered 201; exit code {code} {took:.2f} s after SIGTERM")
        self.assertIn("drained in", s.server_log())

    def test_the_drain_is_bounded(self):
        s, x, y = self.start(WANGGE_DRAIN_TIMEOUT_S="2")
        self.hold_incidents(s)
        threads, results = self.post_cases(s, x, y, 1)
        self.wait_blocked(s, 1)
        signalled = time.time()
        s.proc.send_signal(signal.SIGTERM)
        code = s.proc.wait(timeout=15)
        took = time.time() - signalled
        for t in threads:
            t.join(10)
        self.assertEqual(code, 0, s.server_log())
        self.assertLess(took, 6, "the drain outlasted WANGGE_DRAIN_TIMEOUT_S=2")
        self.assertGreaterEqual(took, 2)
        self.assertIn("cutting off 1 requests", s.server_log())
        print(f"\nbounded drain: exit code {code} {took:.2f} s after SIGTERM with one request held (limit 2 s)")


class JsonLogs(unittest.TestCase):
    def test_every_line_is_a_json_object(self):
        s = Server(env={"WANGGE_LOG_FORMAT": "json"})
        self.addCleanup(s.stop)
        # A path with a quote, a backslash and a newline (percent-encoded) is logged with its 404.
        status = s.request("GET", "/v1/areas/a%22b%5Cc%0Ad", token=s.admin_token).status
        self.assertIn(status, (400, 404))
        s.proc.send_signal(signal.SIGTERM)
        self.assertEqual(s.proc.wait(timeout=30), 0)
        s.log.flush()
        with open(os.path.join(s.var, "server.log"), encoding="utf-8") as f:
            lines = f.read().splitlines()
        self.assertGreater(len(lines), 3)
        docs = [json.loads(line) for line in lines]
        for d in docs:
            self.assertEqual(set(d), {"time", "level", "msg"}, d)
            self.assertIn(d["level"], ("info", "warn", "error"))
            self.assertRegex(d["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        self.assertIn(f'GET /v1/areas/a"b\\c\nd -> {status}', [d["msg"] for d in docs])
        self.assertTrue(any(d["msg"].startswith("drained in") for d in docs))


if __name__ == "__main__":
    unittest.main()
