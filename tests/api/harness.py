"""Test harness for API tests: a throwaway database cloned from the sample template and a real
`wangge serve` process talking HTTP. Nothing is mocked.

Environment (set by tools/test): WANGGE_BIN, WANGGE_TEST_ADMIN_URL (libpq URL of the cluster's
`postgres` database), WANGGE_TEST_TEMPLATE (database holding the migrated sample jurisdiction).
"""
import json
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

    def __init__(self, env=None, database=None):
        self.bin = _need("WANGGE_BIN")
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
        self._wait_ready()
        with open(os.path.join(self.var, "admin-token")) as f:
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
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
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
        cls.admin = cls.s.admin_token

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def assertProblem(self, reply, status, code):
        self.assertEqual(reply.status, status, reply)
        self.assertTrue(reply.header("Content-Type", ).startswith("application/problem+json"), reply.headers)
        doc = reply.json
        self.assertEqual(doc["code"], code, doc)
        self.assertEqual(doc["status"], status)
        for key in ("type", "title", "detail"):
            self.assertIn(key, doc)
        for leak in ("SELECT", "INSERT", "postgresql://", "ERROR:", "libpq"):
            self.assertNotIn(leak, reply.body)
        return doc
