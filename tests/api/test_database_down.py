"""The database goes away and comes back: /health and writes answer 503 database_unavailable while
it is down, and the same server process recovers by itself once it is back. Runs on a PostgreSQL
cluster of its own (tools/pg) so the other tests are not disturbed."""
import os
import shutil
import subprocess
import time
import unittest
import uuid

from harness import ApiTestCase, Server, free_port

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PG = os.path.join(ROOT, "tools", "pg")
GRID = "330521104003001"


def pg(*args, port=None):
    env = dict(os.environ)
    if port:
        env["WANGGE_PG_PORT"] = str(port)
    r = subprocess.run([PG, *args], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"tools/pg {' '.join(args)} failed: {r.stderr[-2000:]}")
    return r.stdout.strip()


class DatabaseDown(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(ROOT, "var", "pg-dbdown-" + uuid.uuid4().hex[:8])
        cls.s = None
        try:
            # A random free port, not the first free one from 54329 that other clusters race for.
            for attempt in range(3):
                cls.port = free_port()
                try:
                    pg("start", cls.dir, port=cls.port)
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
            url = pg("url", cls.dir, "wangge")
            subprocess.run([os.environ["WANGGE_BIN"], "sample"], env=dict(os.environ, WANGGE_DATABASE_URL=url),
                           check=True, capture_output=True)
            cls.s = Server(database_url=url)
        except BaseException:
            cls.remove_cluster()
            raise
        cls.admin = cls.s.admin_token

    @classmethod
    def tearDownClass(cls):
        if cls.s is not None:
            cls.s.stop()
        cls.remove_cluster()

    @classmethod
    def remove_cluster(cls):
        try:
            pg("stop", cls.dir)
        except RuntimeError:
            pass
        data = os.path.join(cls.dir, "data")
        if os.path.islink(data):  # tools/pg may keep the data elsewhere when postgres cannot write here
            shutil.rmtree(os.path.realpath(data), ignore_errors=True)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def wait_for(self, predicate, seconds=10):
        deadline = time.time() + seconds
        while True:
            result = predicate()
            if result or time.time() > deadline:
                return result
            time.sleep(0.25)

    def test_stop_and_restart(self):
        f, etag = self.area(GRID)
        pid = self.s.proc.pid
        pg("stop", self.dir)
        try:
            r = self.s.request("GET", "/health")
            doc = self.assertProblem(r, 503, "database_unavailable")
            self.assertEqual(doc.get("database"), "unreachable")
            r = self.patch(GRID, {"properties": {"name": "停机时"}}, etag)
            self.assertProblem(r, 503, "database_unavailable")
            # Reads may be served from the server's snapshot of the registry, or refused: never wrong.
            r = self.get("/v1/areas/" + GRID)
            if r.status == 200:
                self.assertEqual(r.json["properties"]["name"], f["properties"]["name"])
            else:
                self.assertProblem(r, 503, "database_unavailable")
            r = self.s.request("POST", "/v1/workers", {"name": "x", "area": GRID[:12]}, token=self.admin)
            self.assertProblem(r, 503, "database_unavailable")
            # Public endpoints that need no database still answer.
            self.assertEqual(self.s.request("GET", "/api").status, 200)
        finally:
            pg("start", self.dir, port=self.port)
        # Back: the same process recovers without a restart.
        ok = self.wait_for(lambda: self.s.request("GET", "/health").status == 200)
        self.assertTrue(ok, self.s.request("GET", "/health"))
        self.assertEqual(self.s.request("GET", "/health").json, {"status": "ok", "database": "ok"})
        self.assertIsNone(self.s.proc.poll())
        self.assertEqual(self.s.proc.pid, pid)
        r = self.wait_for(lambda: (lambda x: x if x.status == 200 else None)(
            self.patch(GRID, {"properties": {"name": "恢复后"}}, etag)), 10)
        self.assertIsNotNone(r, "a write did not succeed within 10 s of the database coming back")
        self.assertEqual(r.json["properties"]["name"], "恢复后")
        self.assertEqual(r.json["properties"]["version"], 2)
        # Nothing of the failed write was kept.
        versions = self.get(f"/v1/areas/{GRID}/history").json["versions"]
        self.assertEqual([v["properties"]["name"] for v in versions], ["恢复后", f["properties"]["name"]])
        # The change listener reconnected too: a change made by another writer reaches this server.
        other = GRID[:-1] + "2"
        self.assertEqual(self.get("/v1/areas/" + other).status, 200)
        self.s.sql(f"UPDATE areas SET name = '别处改' WHERE code = '{other}' AND valid_to IS NULL")
        r = self.wait_for(lambda: (lambda x: x if x.json["properties"]["name"] == "别处改" else None)(
            self.get("/v1/areas/" + other)), 10)
        self.assertIsNotNone(r, "after the database came back, changes by others are no longer seen (stale cache)")


if __name__ == "__main__":
    unittest.main()
