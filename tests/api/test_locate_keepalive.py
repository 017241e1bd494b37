"""GET /v1/locate on kept-alive connections: the server writes these answers itself, bypassing
Pistache's response writer (src/http/server.cpp, send_direct). Every answer on one connection
must be whole and the same as on a fresh connection, mixed with requests that take the ordinary
path (errors, at=, other routes), and nothing unasked may follow once the connection sits idle
past the request timeout. (Pipelining is not tested: Pistache 0.0.5 drops a second request that
arrives in the same read as the first, whatever the route.)"""
import http.client
import json
import socket
import time
import unittest

from harness import ApiTestCase


def read_response(sock_file):
    """Reads one HTTP/1.1 answer with a Content-Length from a socket file: (status, headers, body)."""
    status_line = sock_file.readline()
    if not status_line:
        return None
    version, status, _ = status_line.decode("latin-1").split(" ", 2)
    headers = {}
    while True:
        line = sock_file.readline().decode("latin-1")
        if line in ("\r\n", "\n", ""):
            break
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    body = sock_file.read(int(headers["content-length"]))
    return int(status), headers, body.decode("utf-8")


class LocateKeepAlive(ApiTestCase):
    server_env = {"WANGGE_REQUEST_TIMEOUT_S": "2"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.viewer = cls.s.token("viewer", name="keepalive")
        rows = cls.s.sql("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas "
                         "WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 5) s")
        cls.points = [(float(x), float(y)) for x, y in rows]

    def path(self, i):
        lon, lat = self.points[i % len(self.points)]
        return f"/v1/locate?lon={lon!r}&lat={lat!r}"

    def fresh(self, path):
        r = self.s.request("GET", path, token=self.viewer)
        return r.status, r.body

    def connection(self):
        c = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=10)
        self.addCleanup(c.close)
        return c

    def ask(self, c, path, token=True):
        headers = {"Connection": "keep-alive"}
        if token:
            headers["Authorization"] = "Bearer " + self.viewer
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read().decode("utf-8")

    def test_answers_on_one_connection_match_fresh_connections(self):
        c = self.connection()
        sequence = [
            (self.path(0), True),
            (self.path(1), True),
            ("/v1/locate?lon=abc&lat=30", True),    # a problem, answered by a worker
            (self.path(2), True),
            ("/v1/locate?lon=120.1&lat=30.1", False),  # no token: 401 from a worker
            ("/health", False),
            (self.path(3) + "&at=2020-01-01T00:00:00Z", True),  # at= goes to a worker
            (self.path(4), True),
        ]
        for path, token in sequence:
            status, headers, body = self.ask(c, path, token)
            if token:
                self.assertEqual((status, body), self.fresh(path), path)
            else:
                self.assertIn(status, (200, 401), path)
            if path.startswith("/v1/locate") and status == 200 and "at=" not in path:
                self.assertEqual(headers["content-type"], "application/json")
                self.assertEqual(headers["cache-control"], "no-store")
                self.assertEqual(int(headers["content-length"]), len(body.encode("utf-8")))
                self.assertEqual(json.loads(body)["method"], "inside")
            elif status >= 400:
                self.assertEqual(headers["content-type"], "application/problem+json", body)

    def test_idle_past_the_request_timeout(self):
        # After an answer written directly, an idle connection may be closed by the server, but
        # it must never receive anything that was not asked for (a stray 408, half an answer).
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as sock:
            f = sock.makefile("rb")
            request = (f"GET {self.path(0)} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n"
                       f"Authorization: Bearer {self.viewer}\r\n\r\n").encode()
            sock.sendall(request)
            self.assertEqual(read_response(f)[0], 200)
            time.sleep(3.5)
            sock.settimeout(0.5)
            try:
                stray = sock.recv(1)
            except socket.timeout:
                stray = None  # still open, nothing sent: ask again on it
            if stray is None:
                sock.settimeout(10)
                sock.sendall(request)
                status, _, body = read_response(f)
                self.assertEqual((status, body), self.fresh(self.path(0)))
            else:
                self.assertEqual(stray, b"", "the server sent something unasked on an idle connection")

    def test_without_a_connection_header_the_connection_persists(self):
        # HTTP/1.1 connections persist unless a side says otherwise. (Pistache 0.0.5 alone would
        # answer "Connection: Close" and keep the connection open; clients that believe it open a
        # new connection for every request.)
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as sock:
            f = sock.makefile("rb")
            for i in range(2):
                sock.sendall((f"GET {self.path(i)} HTTP/1.1\r\nHost: x\r\n"
                              f"Authorization: Bearer {self.viewer}\r\n\r\n").encode())
                status, headers, body = read_response(f)
                self.assertEqual(status, 200)
                self.assertEqual(headers["connection"].lower(), "keep-alive")
                self.assertEqual(body, self.fresh(self.path(i))[1])

    def test_asked_to_close_the_answer_says_close_and_the_connection_ends(self):
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as sock:
            sock.sendall((f"GET {self.path(0)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                          f"Authorization: Bearer {self.viewer}\r\n\r\n").encode())
            f = sock.makefile("rb")
            status, headers, body = read_response(f)
            self.assertEqual(status, 200)
            self.assertEqual(headers["connection"].lower(), "close")
            self.assertEqual(body, self.fresh(self.path(0))[1])
            self.assertEqual(f.read(1), b"", "the server kept the connection open after Connection: close")

if __name__ == "__main__":
    unittest.main()
