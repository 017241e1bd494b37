"""Bulk reads (WANGGE_DATABASE_BULK_URL) whose server fails during a load: the start-up loads of the
case statistics and the street graph fall back to the primary instead of retrying the failing
server for ever, so the process becomes ready and its figures are complete.

The failing "standby" is real: the bulk URL signs in as a role that may connect but may not read
the tables, so every load there fails half-way with PostgreSQL's own "permission denied" (as a
standby's load fails when it goes down or cancels a long read for a conflict with its replay)."""
import json
import os
import time
import unittest
import urllib.parse
import uuid

from harness import ApiTestCase, Server, db_url, psql


def metric_value(text, name, labels):
    for line in text.splitlines():
        if line.startswith(name + "{") and labels in line:
            return float(line.rsplit(" ", 1)[1])
    return None


class BulkLoadFallsBackToThePrimary(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin_url = os.environ["WANGGE_TEST_ADMIN_URL"]
        cls.db = "wangge_t_" + uuid.uuid4().hex[:12]
        cls.role = "wangge_bulk_" + uuid.uuid4().hex[:8]
        cls.password = uuid.uuid4().hex
        cls.s = None
        psql(cls.admin_url, f'CREATE DATABASE "{cls.db}" TEMPLATE "{os.environ["WANGGE_TEST_TEMPLATE"]}"')
        try:
            psql(cls.admin_url, f"CREATE ROLE {cls.role} LOGIN PASSWORD '{cls.password}'")
            parts = urllib.parse.urlsplit(db_url(cls.admin_url, cls.db))
            bulk = urllib.parse.urlunsplit(parts._replace(netloc=f"{cls.role}:{cls.password}@{parts.hostname}:{parts.port}"))
            cls.s = Server(database=cls.db, env={"WANGGE_DATABASE_BULK_URL": bulk, "WANGGE_BULK_MAX_WAIT_MS": "500"})
        except BaseException:
            cls.cleanup()
            raise
        cls.admin = cls.s.admin_token

    @classmethod
    def tearDownClass(cls):
        cls.cleanup()

    @classmethod
    def cleanup(cls):
        if cls.s is not None:
            cls.s.stop()
        psql(cls.admin_url, f'DROP DATABASE IF EXISTS "{cls.db}" WITH (FORCE)')
        psql(cls.admin_url, f"DROP ROLE IF EXISTS {cls.role}")
    def test_loads_failing_on_the_bulk_server_are_done_on_the_primary(self):
        # Ready means the caches are loaded: without the fallback the street graph's load never
        # finished and the process gave up starting after 120 s.
        self.assertEqual(self.s.request("GET", "/ready").status, 200)
        deadline = time.time() + 30
        text = ""
        while time.time() < deadline:
            text = self.s.request("GET", "/metrics").body
            primary = metric_value(text, "wangge_db_bulk_reads_total", 'served_by="primary"')
            if primary is not None and primary >= 2:
                break
            time.sleep(0.2)
        primary = metric_value(text, "wangge_db_bulk_reads_total", 'served_by="primary"')
        standby = metric_value(text, "wangge_db_bulk_reads_total", 'served_by="standby"')
        print(f"bulk reads after start-up: primary {primary}, standby {standby}")
        self.assertGreaterEqual(primary, 2, "the statistics' and the street graph's loads were done on the primary")
        self.assertEqual(standby, 0)
        log = self.s.server_log()
        self.assertRegex(log, r"bulk load: failed on the standby \(.*permission denied")
        # The statistics really were loaded: the sample's cases are counted.
        root = self.s.sql("SELECT code FROM areas WHERE parent_code IS NULL AND valid_to IS NULL ORDER BY code LIMIT 1")[0][0]
        first, last = self.s.sql("SELECT (min(reported_at) AT TIME ZONE 'Asia/Shanghai')::date, "
                                 "(max(reported_at) AT TIME ZONE 'Asia/Shanghai')::date FROM incidents")[0]
        stats = self.s.request("GET", f"/v1/stats/cases?area={root}&from={first}&to={last}", token=self.admin)
        self.assertEqual(stats.status, 200, stats)
        cases = int(self.s.sql("SELECT count(*) FROM incidents")[0][0])
        self.assertGreater(cases, 0)
        self.assertEqual(stats.json["totals"]["reported"], cases, stats.body[:500])
        # The password of the bulk role never reaches the log.
        self.assertNotIn(self.password, log)

    def test_an_export_failing_on_the_bulk_server_is_done_on_the_primary(self):
        # The export's read fails on the bulk server ("permission denied"), as on a standby that
        # goes down mid-read: the client still gets its file, read on the primary.
        r = self.s.request("GET", "/v1/export?level=grid&format=geojson", token=self.admin)
        self.assertEqual(r.status, 200, r)
        grids = int(self.s.sql("SELECT count(*) FROM areas WHERE level = 'grid' AND valid_to IS NULL")[0][0])
        self.assertGreater(grids, 0)
        self.assertEqual(r.headers.get("X-Feature-Count"), str(grids))
        self.assertEqual(len(json.loads(r.body)["features"]), grids)
        self.assertRegex(self.s.server_log(), r"bulk read: failed on the standby \(.*permission denied")



if __name__ == "__main__":
    unittest.main()
