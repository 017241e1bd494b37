"""Test harness for API tests: a throwaway database cloned from the sample template and a real
`wangge serve` process talking HTTP. Nothing is mocked.

Environment (set by tools/test): WANGGE_BIN, WANGGE_TEST_ADMIN_URL (libpq URL of the cluster's
`postgres` database), WANGGE_TEST_TEMPLATE (database holding the migrated sample jurisdiction).
"""
import json
import threading
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid


def _need(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run the tests through tools/test")
    return value


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def db_url(admin_url, db):
    parts = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + db, parts.query, parts.fragment))


def psql(url, sql):
    """Runs SQL through psql and returns the rows as lists of strings (tab separated, unaligned)."""
    out = subprocess.run(["psql", "-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name)

    def __repr__(self):
        return f"<Reply {self.status} {self.body[:300]!r}>"


class Server:
    """A database cloned from the template and a wangge server on a free port."""

    def __init__(self, env=None, database=None, database_url=None):
        """`database`: an existing database of the test cluster; `database_url`: any database
        (e.g. on a cluster of the test's own). Without either, a clone of the template."""
        self.bin = _need("WANGGE_BIN")
        if database_url is not None:
            self.admin_url = None
            self.db = urllib.parse.urlsplit(database_url).path.lstrip("/")
            self.owns_db = False
            self.url = database_url
        else:
            self.admin_url = _need("WANGGE_TEST_ADMIN_URL")
            template = _need("WANGGE_TEST_TEMPLATE")
            self.db = database or ("wangge_t_" + uuid.uuid4().hex[:12])
            if database is None:
                psql(self.admin_url, f'CREATE DATABASE "{self.db}" TEMPLATE "{template}"')
                self.owns_db = True
            else:
                self.owns_db = False
            self.url = db_url(self.admin_url, self.db)
        self.var = tempfile.mkdtemp(prefix="wangge-test-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, WANGGE_DATABASE_URL=self.url, WANGGE_PORT=str(self.port),
                        WANGGE_VAR_DIR=self.var, **(env or {}))
        self.log = open(os.path.join(self.var, "server.log"), "wb")
        self.proc = subprocess.Popen([self.bin, "serve"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()  # no orphaned server or database when start-up fails
            raise
        # Written on the first start against a database without tokens; a second server on the same
        # database has none of its own (use the first one's).
        path = os.path.join(self.var, "admin-token")
        self.admin_token = None
        if os.path.exists(path):
            with open(path) as f:
                self.admin_token = f.read().strip()

    def _wait_ready(self):
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("wangge serve exited: " + self.server_log())
            try:
                if self.request("GET", "/health").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("wangge serve did not become ready: " + self.server_log())

    def server_log(self):
        self.log.flush()
        with open(os.path.join(self.var, "server.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def token(self, role, scope=None, name="test"):
        args = [self.bin, "token", "create", "--role", role, "--name", name]
        if scope:
            args += ["--scope", scope]
        return subprocess.run(args, env=self.env, check=True, capture_output=True, text=True).stdout.strip()

    def sql(self, query):
        return psql(self.url, query)

    def request(self, method, path, body=None, token=None, headers=None, raw=None, content_type="application/json"):
        hdrs = dict(headers or {})
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
        elif body is not None:
            data = json.dumps(body).encode()
        if data is not None and content_type and "Content-Type" not in hdrs:
            hdrs["Content-Type"] = content_type
        if token:
            hdrs["Authorization"] = "Bearer " + token
        url = path if path.startswith("http://") else self.base + path
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return Reply(resp.status, resp.headers, resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            return Reply(e.code, e.headers, e.read().decode("utf-8"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if self.owns_db:
            try:
                psql(self.admin_url, f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.var, ignore_errors=True)


class ApiTestCase(unittest.TestCase):
    """One server per test class; `self.s` is it and `self.admin` the first admin token."""

    server_env = None

    @classmethod
    def setUpClass(cls):
        cls.s = Server(env=cls.server_env)
        # A class cleanup runs even when a subclass's setUpClass fails after this point.
        cls.addClassCleanup(cls.s.stop)
        cls.admin = cls.s.admin_token

    def assertProblem(self, reply, status, code):
        self.assertEqual(reply.status, status, reply)
        self.assertTrue((reply.header("Content-Type") or "").startswith("application/problem+json"),
                        f"not a problem document: {reply.headers}{reply.body[:200]!r}")
        try:
            doc = reply.json
        except ValueError:
            self.fail(f"problem body is not JSON: {reply.body[:200]!r}")
        self.assertEqual(doc["code"], code, doc)
        self.assertEqual(doc["status"], status)
        for key in ("type", "title", "detail"):
            self.assertIn(key, doc)
        self.assertIsInstance(doc["type"], str)
        self.assertIsInstance(doc["title"], str)
        self.assertIsInstance(doc["detail"], str)
        self.assertTrue(doc["detail"], doc)
        for leak in ("SELECT", "INSERT", "UPDATE areas", "postgresql://", "ERROR:", "libpq", "std::", "/work/",
                     "nlohmann", "pistache", "sql_error", "SQLSTATE"):
            self.assertNotIn(leak, reply.body)
        return doc

    # --- helpers shared by the test modules -------------------------------------------------

    def get(self, path, token=None):
        return self.s.request("GET", path, token=token or self.admin)

    def area(self, code, token=None):
        """The current Feature of an area (asserting 200) and its ETag."""
        r = self.get("/v1/areas/" + code, token)
        self.assertEqual(r.status, 200, r)
        return r.json, r.header("ETag")

    def retire(self, code, token=None):
        """Retires an area (asserting 204) and returns the geometry it had."""
        feature, etag = self.area(code)
        r = self.s.request("DELETE", "/v1/areas/" + code, token=token or self.admin, headers={"If-Match": etag})
        self.assertEqual(r.status, 204, r)
        return feature["geometry"]

    def grids_of(self, village):
        """Codes of the current grids of a village, in code order."""
        return [row[0] for row in self.s.sql(
            f"SELECT code FROM areas WHERE parent_code = '{village}' AND valid_to IS NULL ORDER BY code")]

    def geojson(self, sql_expr):
        """Evaluates a PostGIS expression (may use the areas table through a scalar subquery) and
        returns it as a GeoJSON dict with 9 decimals."""
        return json.loads(self.s.sql(f"SELECT ST_AsGeoJSON({sql_expr}, 9, 0)")[0][0])

    def geom_of(self, code):
        """SQL expression for the current geometry of an area."""
        return f"(SELECT geom FROM areas WHERE code = '{code}' AND valid_to IS NULL)"

    def echoed_item(self, path, geometry=None, **properties):
        """The OGC item at `path` as a GIS client sends it back in a PUT: the Feature it read (its
        links dropped), every property echoed, with `geometry` and `properties` edited."""
        r = self.s.request("GET", path, token=self.admin)
        self.assertEqual(r.status, 200, r)
        feature = r.json
        feature.pop("links", None)
        if geometry is not None:
            feature["geometry"] = geometry
        feature["properties"].update(properties)
        return feature

    def touching_pair(self, village):
        """The first two grids of a village (in code order) that share a stretch of border."""
        grids = self.grids_of(village)
        for i, a in enumerate(grids):
            for b in grids[i + 1:]:
                if self.s.sql(f"SELECT ST_Length(ST_Intersection(ST_Boundary({self.geom_of(a)}), {self.geom_of(b)})) > 0") == [["t"]]:
                    return a, b
        self.fail("test precondition: two touching grids")

    @staticmethod
    def feature(code, name, level, parent, geometry, **props):
        p = {"code": code, "name": name, "level": level, "parent": parent}
        p.update(props)
        return {"type": "Feature", "properties": p, "geometry": geometry}

    def post_area(self, feature, token=None, query=""):
        return self.s.request("POST", "/v1/areas" + query, feature, token=token or self.admin)

    def patch(self, code, body, etag, token=None, query="", method="PATCH"):
        headers = {"If-Match": etag} if etag is not None else {}
        return self.s.request(method, "/v1/areas/" + code + query, body, token=token or self.admin, headers=headers)


def race(*calls):
    """Runs the calls at the same moment on their own threads; returns their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results
