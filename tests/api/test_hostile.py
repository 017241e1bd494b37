"""Hostile requests, as an attacker without a token (or with the weakest one) would send them: each
is refused with a problem document naming the limit, and the same server process answers /health
within 100 ms right after. Raw sockets where urllib would not send the bytes."""
import json
import os
import signal
import socket
import threading
import time
import unittest
import urllib.error
import urllib.request

from harness import ApiTestCase, Server

GRID = "330521104002001"
VILLAGE = "330521104002"
# /health right after a hostile request: HEALTH_PROBES probes sent together, each on a new
# connection; every one answers 200 within HEALTH_PROBE_TIMEOUT_S and the fastest within
# HEALTH_WITHIN_S. Sent together, so that every probe meets a stall the request may have caused (one
# after another, the first would wait the stall out and the others would hide it); the fastest, so
# that probes waiting for a CPU on a busy 2-core CI machine (a load of 10 delays some by 0.2-0.3 s)
# do not fail the test; the limit on each, so that one stalled event loop, holding the probes it is
# given while another loop answers the rest, does.
HEALTH_WITHIN_S = 0.1
HEALTH_PROBES = 6
HEALTH_PROBE_TIMEOUT_S = 1.0


def parse_response(data):
    """(status, headers with lower-case names, body bytes) of one HTTP response, or None."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = data[end + 4:end + 4 + length]
    if len(body) < length:
        return None
    return status, headers, body


def health_probe(port):
    """(status or None, seconds) of one GET /health on a new connection: connect, send, whole answer."""
    start = time.monotonic()
    data = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=HEALTH_PROBE_TIMEOUT_S) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while parse_response(data) is None:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:  # refused, reset, or no answer within the timeout
        pass
    parsed = parse_response(data)
    return (parsed[0] if parsed else None), time.monotonic() - start


class HostileClient:
    """Raw-socket helpers for a test case with a server `self.s` (mixed into an ApiTestCase)."""

    # --- helpers ---------------------------------------------------------------------------

    def connect(self, timeout=10):
        return socket.create_connection(("127.0.0.1", self.s.port), timeout=timeout)

    def read_response(self, sock, timeout=10):
        """Reads one response; fails when none arrives within `timeout` seconds."""
        sock.settimeout(timeout)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            parsed = parse_response(data)
            if parsed:
                return parsed
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        parsed = parse_response(data)
        self.assertIsNotNone(parsed, f"no complete answer, got {data[:300]!r}")
        return parsed

    def exchange(self, *parts, timeout=10):
        with self.connect(timeout) as sock:
            for part in parts:
                sock.sendall(part)
            return self.read_response(sock, timeout)

    def assertRawProblem(self, answer, status, code):
        got_status, headers, body = answer
        self.assertEqual(got_status, status, body[:300])
        self.assertTrue(headers.get("content-type", "").startswith("application/problem+json"), (headers, body[:200]))
        doc = json.loads(body)
        self.assertEqual(doc["code"], code, doc)
        self.assertEqual(doc["status"], status)
        for leak in (b"std::", b"basic_string", b"stoull", b"bad_alloc", b"pistache", b"Pistache"):
            self.assertNotIn(leak, body)
        return doc

    def assertHealthy(self):
        """The same process is alive and answers /health at once (see HEALTH_WITHIN_S)."""
        self.assertIsNone(self.s.proc.poll(), "the server process ended:\n" + self.s.server_log())
        results = [None] * HEALTH_PROBES
        barrier = threading.Barrier(HEALTH_PROBES)

        def probe(i):
            barrier.wait()
            results[i] = health_probe(self.s.port)

        threads = [threading.Thread(target=probe, args=(i,)) for i in range(HEALTH_PROBES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertIsNone(self.s.proc.poll(), "the server process ended:\n" + self.s.server_log())
        statuses = [status for status, _ in results]
        times = sorted(took for _, took in results)
        self.assertEqual(statuses, [200] * HEALTH_PROBES,
                         f"/health probes (None: no answer within {HEALTH_PROBE_TIMEOUT_S} s) took {times}")
        self.assertLess(times[0], HEALTH_WITHIN_S, f"/health took {times[0]:.3f} s at best ({HEALTH_PROBES} probes: {times})")

    def closes(self, sock, timeout=3):
        """True when the server ends the connection within `timeout` seconds."""
        sock.settimeout(timeout)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True


class Hostile(HostileClient, ApiTestCase):
    server_env = {"WANGGE_MAX_BODY_MB": "1"}

    # --- JSON ------------------------------------------------------------------------------

    def test_deep_json_is_refused_and_the_process_lives(self):
        viewer = self.s.token("viewer")
        deep = "[" * 100_000 + "]" * 100_000
        # Whether a viewer's body is read at all (or the role refused first), the process lives.
        r = self.s.request("POST", "/v1/workers", raw=deep, token=viewer)
        self.assertIn(r.status, (403, 422), r)
        self.assertProblem(r, r.status, "json_too_deep" if r.status == 422 else "role_forbidden")
        self.assertHealthy()
        for path in ("/v1/workers", "/v1/areas", "/v1/incidents"):
            doc = self.assertProblem(self.s.request("POST", path, raw=deep, token=self.admin), 422, "json_too_deep")
            self.assertIn("WANGGE_MAX_JSON_DEPTH", doc["detail"])
            self.assertEqual(doc["max_depth"], 64)
            self.assertHealthy()
        # Objects count too, and text that looks like nesting does not.
        deep_objects = '{"a":' * 65 + "1" + "}" * 65
        self.assertProblem(self.s.request("POST", "/v1/workers", raw=deep_objects, token=self.admin), 422, "json_too_deep")
        shallow = {"name": "[" * 1000, "area": VILLAGE, "attributes": json.loads('{"a":' * 60 + "1" + "}" * 60)}
        r = self.s.request("POST", "/v1/workers", shallow, token=self.admin)
        self.assertNotEqual(r.status, 500, r)
        self.assertFalse(r.status == 422 and r.json.get("code") == "json_too_deep", r)
        self.assertHealthy()

    # --- the HTTP edge ---------------------------------------------------------------------

    def test_huge_header_is_refused_at_once(self):
        head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (1 << 20) + b"\r\n\r\n"
        start = time.monotonic()
        doc = self.assertRawProblem(self.exchange(head), 431, "headers_too_large")
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertIn("WANGGE_MAX_HEADER_KB", doc["detail"])
        self.assertHealthy()
        many = b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n"
        doc = self.assertRawProblem(self.exchange(many), 431, "headers_too_large")
        self.assertIn("WANGGE_MAX_HEADERS", doc["detail"])
        self.assertHealthy()

    def test_two_huge_headers_do_not_freeze_the_event_loops(self):
        socks = []
        try:
            for _ in range(2):
                s = self.connect()
                s.sendall(b"GET /health HTTP/1.1\r\nX-Pad: " + b"b" * (2 << 20))
                socks.append(s)
            self.assertHealthy()
            for s in socks:
                self.assertRawProblem(self.read_response(s), 431, "headers_too_large")
        finally:
            for s in socks:
                s.close()
        self.assertHealthy()

    def test_body_over_the_limit_is_refused_before_it_is_sent(self):
        head = (b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % (1536 * 1024))
        with self.connect() as sock:
            sock.sendall(head)  # and not one byte of the body
            doc = self.assertRawProblem(self.read_response(sock, timeout=2), 413, "payload_too_large")
            self.assertIn("WANGGE_MAX_BODY_MB", doc["detail"])
            self.assertTrue(self.closes(sock))
        self.assertHealthy()
        # Sent in full, several times the limit: still answered, and cheaply.
        start = time.monotonic()
        answer = self.exchange(head.replace(b"%d" % (1536 * 1024), b"%d" % (3 << 20)), b"x" * (3 << 20))
        self.assertRawProblem(answer, 413, "payload_too_large")
        self.assertLess(time.monotonic() - start, 2.0)
        self.assertHealthy()

    def test_declared_huge_body_does_not_hold_the_connection(self):
        with self.connect() as sock:
            sock.sendall(b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000000\r\n\r\n")
            start = time.monotonic()
            self.assertRawProblem(self.read_response(sock, timeout=2), 413, "payload_too_large")
            self.assertTrue(self.closes(sock))
            self.assertLess(time.monotonic() - start, 2.0)
        self.assertHealthy()

    def test_impossible_content_lengths(self):
        for value in (b"-1", b"18446744073709551616", b"18446744073709551615", b"1e3", b"0x10", b" ", b"1 2"):
            with self.subTest(value=value):
                answer = self.exchange(b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Length: " + value + b"\r\n\r\n{}")
                self.assertIn(answer[0], (400, 413))
                self.assertRawProblem(answer, answer[0], "malformed_request" if answer[0] == 400 else "payload_too_large")
                self.assertHealthy()
        # Two different lengths: the request a proxy in front could read otherwise.
        answer = self.exchange(b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}abc")
        self.assertRawProblem(answer, 400, "malformed_request")
        self.assertHealthy()

    def test_malformed_chunks(self):
        head = b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        for body in (b"zz\r\n{}\r\n0\r\n\r\n", b"-1\r\n{}\r\n0\r\n\r\n", b"2\r\n{}xx0\r\n\r\n", b"2;ext=1\r\n{}\r\n0\r\n\r\n",
                     b"0x2\r\n{}\r\n0\r\n\r\n", b"2\n{}\r\n0\r\n\r\n"):
            with self.subTest(body=body):
                self.assertRawProblem(self.exchange(head + body), 400, "malformed_request")
                self.assertHealthy()
        for body in (b"ffffffffffffffff\r\n", b"a\r\n0123456789\r\nfffffffffffffff6\r\n", b"200000\r\n"):
            with self.subTest(body=body):
                self.assertRawProblem(self.exchange(head + body), 413, "payload_too_large")
                self.assertHealthy()

    def test_chunked_bodies_still_work(self):
        body = json.dumps({"name": "分块", "area": VILLAGE}).encode()
        chunks = b"".join(b"%x\r\n" % len(body[i:i + 7]) + body[i:i + 7] + b"\r\n" for i in range(0, len(body), 7))
        head = (b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer " + self.admin.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        with self.connect() as sock:
            # In small pieces, as a slow client sends them.
            data = head + chunks + b"0\r\n\r\n"
            for i in range(0, len(data), 5):
                sock.sendall(data[i:i + 5])
            status, _, answer = self.read_response(sock)
        self.assertEqual(status, 201, answer)
        self.assertEqual(json.loads(answer)["name"], "分块")
        self.assertHealthy()

    def test_smuggling_shapes_are_refused(self):
        for head in (b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
                     b"POST /v1/workers HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                     b"POST /v1/workers HTTP/1.1\r\nHost: x\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                     b"GET /health HTTP/1.1\nHost: x\n\n",
                     b"GET /health HTTP/1.1\r\nHost: x\rX: y\r\n\r\n",
                     b"GET /he alth HTTP/1.1\r\nHost: x\r\n\r\n"):
            with self.subTest(head=head):
                self.assertRawProblem(self.exchange(head), 400, "malformed_request")
                self.assertHealthy()
        answer = self.exchange(b"POST /v1/workers HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
        self.assertRawProblem(answer, 501, "transfer_coding_not_implemented")
        self.assertHealthy()
        self.assertRawProblem(self.exchange(b"BREW /health HTTP/1.1\r\n\r\n"), 501, "method_not_implemented")
        self.assertHealthy()
        self.assertRawProblem(self.exchange(b"GET /health HTTP/2.0\r\n\r\n"), 505, "http_version_not_supported")
        self.assertHealthy()

    def test_connection_close_is_honoured(self):
        with self.connect() as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            status, _, _ = self.read_response(sock)
            self.assertEqual(status, 200)
            self.assertTrue(self.closes(sock, timeout=2), "the connection stayed open after Connection: close")
        with self.connect() as sock:
            sock.sendall(b"GET /v1/areas HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            status, _, _ = self.read_response(sock)
            self.assertEqual(status, 401)
            self.assertTrue(self.closes(sock, timeout=2), "the connection stayed open after Connection: close")
        # Kept alive otherwise: two requests on one connection.
        with self.connect() as sock:
            for _ in range(2):
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(self.read_response(sock)[0], 200)
        self.assertHealthy()

    def test_links_do_not_follow_the_host_header(self):
        r = self.s.request("GET", "/v1/areas?limit=1", token=self.admin, headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("evil.example", r.body)
        self.assertHealthy()

    # --- memory ----------------------------------------------------------------------------

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

    def test_font_stack_names_do_not_grow_memory(self):
        status, first = self.fetch("/fonts/warmup/19968-20223.pbf")
        if status == 404:
            self.skipTest("no fonts for map labels installed")
        self.assertEqual(status, 200, first[:200])
        before = self.rss_kib()
        for i in range(120):
            status, body = self.fetch(f"/fonts/stack%20{i}/19968-20223.pbf")
            self.assertEqual(status, 200)
            self.assertIn(f"stack {i}".encode(), body[:40])  # the answer names the stack asked for
        grown = self.rss_kib() - before
        # One cached copy per name would be 120 answers of this size.
        self.assertLess(grown * 1024, 120 * len(first) // 4, f"RSS grew {grown} KiB for 120 names of {len(first)} bytes each")
        self.assertHealthy()

    # --- logs ------------------------------------------------------------------------------

    def test_log_lines_cannot_be_forged(self):
        r = self.s.request("GET", "/v1/nothing%0a2026-01-01T00:00:00Z%20ERROR%20forged%0d")
        self.assertProblem(r, 404, "not_found")
        time.sleep(0.2)
        log = self.s.server_log()
        self.assertNotIn("\n2026-01-01T00:00:00Z ERROR forged", log)
        self.assertIn("\\x0a2026-01-01T00:00:00Z ERROR forged\\x0d", log)
        self.assertHealthy()

    # --- smaller ---------------------------------------------------------------------------

    def test_unknown_incident_status_is_refused(self):
        self.assertProblem(self.s.request("GET", "/v1/incidents?status=bogus", token=self.admin), 400, "invalid_parameter")
        self.assertEqual(self.s.request("GET", "/v1/incidents?status=closed", token=self.admin).status, 200)
        self.assertHealthy()


class HealthCheck(HostileClient, ApiTestCase):
    """assertHealthy, the check every hostile test ends with, fails for a server that is stalled
    (even briefly), and for one that is dead."""

    def test_the_check_fails_when_the_server_stalls_or_dies(self):
        self.assertHealthy()
        pid = self.s.proc.pid
        # Stopped for good: the kernel still accepts the connections, nothing answers them.
        os.kill(pid, signal.SIGSTOP)
        try:
            with self.assertRaises(AssertionError):
                self.assertHealthy()
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertHealthy()
        # Stopped for 0.4 s only, as a CPU-bound request would hold the event loops: every probe
        # meets the stall, the fastest too.
        os.kill(pid, signal.SIGSTOP)
        resume = threading.Timer(0.4, os.kill, (pid, signal.SIGCONT))
        resume.start()
        try:
            with self.assertRaises(AssertionError):
                self.assertHealthy()
        finally:
            resume.join()
            os.kill(pid, signal.SIGCONT)
        self.assertHealthy()
        # Dead: noticed by the process check, and by the probes on their own.
        self.s.proc.kill()
        self.s.proc.wait()
        with self.assertRaises(AssertionError):
            self.assertHealthy()
        self.assertIsNone(health_probe(self.s.port)[0])


class Startup(unittest.TestCase):
    """/health says 200 only when every index is ready, and a crash leaves a line in the log."""

    def test_health_is_ok_only_when_requests_can_be_answered(self):
        s = Server()
        try:
            lon, lat = s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas "
                             f"WHERE code = '{GRID}' AND valid_to IS NULL) q")[0]
            # The harness waited for the first 200: the locator must answer now, without a retry.
            r = s.request("GET", f"/v1/locate?lon={lon}&lat={lat}", token=s.admin_token)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["grid"]["code"], GRID)
        finally:
            s.stop()

    def test_a_crash_leaves_a_log_line(self):
        s = Server()
        try:
            os.kill(s.proc.pid, signal.SIGSEGV)
            s.proc.wait(timeout=10)
            self.assertIn("FATAL the server crashed with signal 11", s.server_log())
        finally:
            s.stop()


if __name__ == "__main__":
    unittest.main()
