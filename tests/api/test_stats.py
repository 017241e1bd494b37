"""Statistics and evaluation: case figures counted in memory by the server, checked against the same
figures computed independently in SQL here; a township's figures equal the sum of its grids'; scope;
parameter checks; exports (CSV, and XLSX read back with GDAL's ogr2ogr); the evaluation's scores
recomputed from its figures and the weights of geodata/evaluation.json; workers' figures.

Cases are written straight into the database (as another process or a script would); the server
follows them through NOTIFY. Their times are chosen so that working time equals clock time (all
within one working morning of a working day in March 2026), which lets SQL here be the oracle of
handling times without a calendar of its own."""
import csv
import io
import json
import os
import random
import subprocess
import tempfile
import time
import unittest
import urllib.request

from harness import ApiTestCase, Server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Working days of March 2026 from which two days later is a working day too (Mon-Wed).
DAYS = ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-09", "2026-03-10", "2026-03-11",
        "2026-03-16", "2026-03-17", "2026-03-18", "2026-03-23", "2026-03-24", "2026-03-25"]
PERIOD = "from=2026-03-01&to=2026-03-31"
COUNTS = ["reported", "registered", "dispatched", "closed", "closed_on_time", "overdue_now", "returned",
          "verification_due", "verified_on_time"]


def local(day, hhmm):
    return f"{day} {hhmm}:00+08"


class Stats(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.s
        # A township with several villages and grids, and a grid of another township.
        cls.township = s.sql(
            "SELECT t.code FROM areas t WHERE t.level = 'township' AND t.valid_to IS NULL AND "
            "(SELECT count(*) FROM areas g WHERE g.level = 'grid' AND g.valid_to IS NULL AND g.code LIKE t.code || '%') >= 4 ORDER BY t.code LIMIT 1")[0][0]
        cls.grids = [r[0] for r in s.sql(
            f"SELECT code FROM areas WHERE level = 'grid' AND valid_to IS NULL AND code LIKE '{cls.township}%' ORDER BY code")]
        cls.village = s.sql(f"SELECT parent_code FROM areas WHERE code = '{cls.grids[0]}' AND valid_to IS NULL")[0][0]
        cls.other_township = s.sql(
            f"SELECT code FROM areas WHERE level = 'township' AND valid_to IS NULL AND code <> '{cls.township}' "
            "AND EXISTS (SELECT 1 FROM areas g WHERE g.level = 'grid' AND g.valid_to IS NULL AND g.code LIKE areas.code || '%') "
            "ORDER BY code LIMIT 1")[0][0]
        cls.outside_grid = s.sql(
            f"SELECT code FROM areas WHERE level = 'grid' AND valid_to IS NULL AND code LIKE '{cls.other_township}%' "
            "ORDER BY code LIMIT 1")[0][0]
        rng = random.Random(1515)
        rows, feedback = [], []
        statuses = ["collect", "register", "dispatch", "handle", "feedback", "closed", "closed", "closed", "cancelled", "hold"]
        grids = cls.grids[:4] + [cls.outside_grid]
        for n in range(160):
            grid = grids[n % len(grids)]
            day = rng.choice(DAYS)
            status = rng.choice(statuses)
            category = rng.choice(["市容环境", "街面秩序", "施工管理"])
            source = rng.choice(["hotline", "app", "worker", "video"])
            dispatched = deadline = closed = verified = fb = None
            if status not in ("collect", "register", "cancelled"):
                dispatched = local(day, "09:00")
                # Overdue open cases: deadlines in March; some open cases are due far ahead.
                deadline = local(day, "10:00") if rng.random() < 0.7 else "2099-01-01 00:00:00+08"
            if status == "closed":
                minutes = rng.randint(1, 180)
                closed = f"timestamptz '{local(day, '09:00')}' + interval '{minutes} minutes'"
            if status in ("feedback", "closed") and rng.random() < 0.8:
                fb = local(day, "10:00")
                if status == "closed":
                    # In time (half an hour later) or late (two working days later).
                    late = local(f"{day[:-2]}{int(day[-2:]) + 2:02d}", "10:00")
                    verified = local(day, "10:30") if rng.random() < 0.6 else late
            rework = rng.choice([0, 0, 0, 1, 2]) if status in ("handle", "feedback", "closed") else 0
            assignee = rng.choice(["worker:1", "worker:2", None])
            q = lambda v: "NULL" if v is None else (v if v.startswith("timestamptz") else f"'{v}'")
            rows.append(
                f"((SELECT ST_PointOnSurface(geom) FROM areas WHERE code = '{grid}' AND valid_to IS NULL), "
                f"'{category}', '{source}', '{status}', 'stats-{n}', '{grid}', '{local(day, '08:40')}', "
                f"{q(dispatched)}, {q(deadline)}, {q(closed)}, {rework}, {q(verified)}, {q(assignee)})")
            if fb:
                feedback.append(f"('stats-{n}', '{fb}'::timestamptz)")
        # A case in a gap between grids: its key is the village its location answer ended in.
        # Closed, so that no server re-locates it into a grid (open cases follow the boundaries).
        rows.append(
            f"((SELECT ST_PointOnSurface(geom) FROM areas WHERE code = '{cls.grids[0]}' AND valid_to IS NULL), "
            f"'市容环境', 'hotline', 'closed', 'stats-gap', NULL, '{local('2026-03-05', '09:00')}', "
            f"'{local('2026-03-05', '09:10')}', '{local('2026-03-05', '10:10')}', '{local('2026-03-05', '09:55')}', 1, NULL, NULL)")
        # A case in February: outside the period of most questions.
        rows.append(
            f"((SELECT ST_PointOnSurface(geom) FROM areas WHERE code = '{cls.grids[0]}' AND valid_to IS NULL), "
            f"'市容环境', 'app', 'register', 'stats-feb', '{cls.grids[0]}', '{local('2026-02-27', '09:00')}', "
            "NULL, NULL, NULL, 0, NULL, NULL)")
        s.sql("INSERT INTO incidents (location, category, source, status, description, grid_code, reported_at, dispatched_at, "
              "deadline, closed_at, rework_count, verified_at, assignee) VALUES " + ", ".join(rows) + "; "
              f"UPDATE incidents SET hierarchy = jsonb_build_array(jsonb_build_object('code', '{cls.village}', 'level', 'village')) "
              "WHERE description = 'stats-gap'; "
              "INSERT INTO incident_events (incident_id, actor, action, at) SELECT i.id, 'test', 'feedback', v.at "
              "FROM incidents i JOIN (VALUES " + ", ".join(feedback) + ") v(d, at) ON i.description = v.d")
        cls.expected_reported = int(s.sql(
            f"SELECT count(*) FROM incidents WHERE (grid_code LIKE '{cls.township}%' OR description = 'stats-gap') "
            "AND reported_at >= '2026-03-01 00:00+08' AND reported_at < '2026-04-01 00:00+08'")[0][0])
        cls.wait_for(f"/v1/stats/cases?area={cls.township}&{PERIOD}", lambda d: d["totals"]["reported"] == cls.expected_reported)

    @classmethod
    def wait_for(cls, path, ok, token=None):
        """The server follows the database through NOTIFY: asks until the answer shows the writes."""
        deadline = time.time() + 30
        last = None
        while time.time() < deadline:
            last = cls.s.request("GET", path, token=token or cls.admin)
            if last.status == 200 and ok(last.json):
                return last.json
            time.sleep(0.1)
        raise AssertionError(f"the statistics did not catch up: {last}")

    def oracle(self, where, group=None):
        """The figures of the cases matching `where`, computed in SQL (per `group` expression when given)."""
        sel = f"{group}, " if group else ""
        rows = self.s.sql(
            f"SELECT {sel}count(*), count(*) FILTER (WHERE status NOT IN ('collect', 'cancelled')), count(dispatched_at), "
            "count(*) FILTER (WHERE status = 'closed'), "
            "count(*) FILTER (WHERE status = 'closed' AND (deadline IS NULL OR closed_at <= deadline)), "
            "count(*) FILTER (WHERE status IN ('dispatch', 'handle', 'hold') AND deadline < now()), "
            "count(*) FILTER (WHERE rework_count > 0), "
            "count(*) FILTER (WHERE fb IS NOT NULL OR verified_at IS NOT NULL), "
            "count(*) FILTER (WHERE verified_at IS NOT NULL AND (fb IS NULL OR verified_at - fb <= interval '4 hours')), "
            "coalesce(sum(extract(epoch FROM closed_at - dispatched_at) / 60) FILTER (WHERE status = 'closed'), 0)::bigint, "
            "percentile_disc(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - dispatched_at) / 60) "
            "  FILTER (WHERE status = 'closed') "
            "FROM incidents i LEFT JOIN LATERAL (SELECT max(at) AS fb FROM incident_events e WHERE e.incident_id = i.id "
            "  AND e.action = 'feedback') f ON true "
            f"WHERE reported_at >= '2026-03-01 00:00+08' AND reported_at < '2026-04-01 00:00+08' AND ({where}) "
            + (f"GROUP BY {group} ORDER BY 1" if group else ""))
        out = {}
        for r in rows:
            key = r[0] if group else None
            v = r[1:] if group else r
            figures = dict(zip(COUNTS, map(int, v[:9])))
            figures["handling_minutes"] = int(v[9])
            figures["p90_minutes"] = float(v[10]) if v[10] else None
            out[key] = figures
        return out if group else out[None]

    def assertFigures(self, got, want, what):
        for k in COUNTS:
            self.assertEqual(got[k], want[k], f"{what}: {k}")
        if want["closed"]:
            self.assertAlmostEqual(got["avg_handling_working_hours"], want["handling_minutes"] / want["closed"] / 60, places=9, msg=what)
            self.assertAlmostEqual(got["p90_handling_working_hours"], want["p90_minutes"] / 60, places=9, msg=what)
            self.assertAlmostEqual(got["on_time_close_rate"], want["closed_on_time"] / want["closed"], places=12, msg=what)
        else:
            self.assertIsNone(got["avg_handling_working_hours"], what)
            self.assertIsNone(got["on_time_close_rate"], what)
        if want["verification_due"]:
            self.assertAlmostEqual(got["rework_rate"], want["returned"] / want["verification_due"], places=12, msg=what)
            self.assertAlmostEqual(got["timely_verification_rate"], want["verified_on_time"] / want["verification_due"], places=12, msg=what)

    def get(self, path, token=None):
        r = self.s.request("GET", path, token=token or self.admin)
        self.assertEqual(r.status, 200, r)
        return r

    def test_a_grid_has_exact_figures(self):
        doc = self.get(f"/v1/stats/cases?area={self.grids[0]}&{PERIOD}").json
        want = self.oracle(f"grid_code = '{self.grids[0]}'")
        self.assertGreater(want["closed"], 3)
        self.assertGreater(want["overdue_now"], 0)
        self.assertGreater(want["returned"], 0)
        self.assertGreater(want["verified_on_time"], 0)
        self.assertLess(want["verified_on_time"], want["verification_due"])
        self.assertFigures(doc["totals"], want, self.grids[0])
        self.assertEqual(doc["area"]["level"], "grid")

    def test_township_equals_the_sum_of_its_grids(self):
        doc = self.get(f"/v1/stats/cases?area={self.township}&{PERIOD}&group_by=level&level=grid").json
        per_grid = self.oracle(f"grid_code LIKE '{self.township}%'", group="grid_code")
        rows = {g["group"]: g for g in doc["groups"]}
        self.assertEqual(sorted(rows), self.grids, "one row per grid of the township, empty ones included")
        for code in self.grids:
            if code in per_grid:
                self.assertFigures(rows[code], per_grid[code], code)
            else:
                self.assertEqual(rows[code]["reported"], 0)
        # The township: its grids' figures plus the case in a gap inside it, nothing else.
        gap = self.oracle("description = 'stats-gap'")
        for k in COUNTS:
            self.assertEqual(doc["totals"][k], sum(f[k] for f in per_grid.values()) + gap[k], k)
        self.assertFigures(doc["totals"], self.oracle(f"grid_code LIKE '{self.township}%' OR description = 'stats-gap'"), "township")
        self.assertNotIn(self.outside_grid, rows)

    def test_children_roll_up(self):
        doc = self.get(f"/v1/stats/cases?area={self.township}&{PERIOD}&group_by=area").json
        villages = {r[0]: r[1] for r in self.s.sql(
            f"SELECT code, name FROM areas WHERE parent_code = '{self.township}' AND valid_to IS NULL ORDER BY code")}
        self.assertEqual([g["group"] for g in doc["groups"]], list(villages))
        self.assertEqual([g["name"] for g in doc["groups"]], list(villages.values()))
        for g in doc["groups"]:
            self.assertFigures(g, self.oracle(f"grid_code LIKE '{g['group']}%' OR (grid_code IS NULL AND description = 'stats-gap' "
                                              f"AND '{self.village}' LIKE '{g['group']}%')"), g["group"])

    def test_groupings_partition_the_totals(self):
        for by, column in (("category", "category"), ("source", "source"), ("assignee", "coalesce(assignee, '')"),
                           ("day", "to_char(reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')")):
            doc = self.get(f"/v1/stats/cases?area={self.township}&{PERIOD}&group_by={by}").json
            want = self.oracle(f"grid_code LIKE '{self.township}%' OR description = 'stats-gap'", group=column)
            self.assertEqual(sorted(g["group"] for g in doc["groups"]), sorted(want), by)
            for g in doc["groups"]:
                self.assertFigures(g, want[g["group"]], f"{by} {g['group']}")
        months = self.get(f"/v1/stats/cases?area={self.township}&from=2026-02-01&to=2026-03-31&group_by=month").json
        self.assertEqual([g["group"] for g in months["groups"]], ["2026-02", "2026-03"])
        self.assertEqual(months["groups"][0]["reported"], 1)  # the February case
        self.assertEqual(months["groups"][1]["reported"], self.expected_reported)
        weeks = self.get(f"/v1/stats/cases?area={self.township}&{PERIOD}&group_by=week").json
        self.assertTrue(all(g["group"] in ("2026-02-23", "2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30")
                            for g in weeks["groups"]), weeks["groups"])
        self.assertEqual(sum(g["reported"] for g in weeks["groups"]), self.expected_reported)

    def test_scope(self):
        inside = self.s.token("viewer", scope=self.township, name="stats-township")
        outside = self.s.token("viewer", scope=self.other_township, name="stats-other")
        self.assertProblem(self.s.request("GET", f"/v1/stats/cases?area={self.township}&{PERIOD}", token=outside), 403, "outside_scope")
        self.assertProblem(self.s.request("GET", f"/v1/stats/evaluation?area={self.township}&period=2026-03", token=outside),
                           403, "outside_scope")
        self.assertProblem(self.s.request("GET", f"/v1/stats/workers?area={self.township}", token=outside), 403, "outside_scope")
        # Without area= a scoped token sees its own area and nothing more.
        own = self.get(f"/v1/stats/cases?{PERIOD}", token=inside).json
        self.assertEqual(own["area"]["code"], self.township)
        self.assertEqual(own["totals"]["reported"], self.expected_reported)
        other = self.get(f"/v1/stats/cases?{PERIOD}", token=outside).json
        self.assertEqual(other["totals"]["reported"], self.oracle(f"grid_code LIKE '{self.other_township}%'")["reported"])
        self.assertProblem(self.s.request("GET", f"/v1/stats/cases?{PERIOD}"), 401, "unauthorized")

    def test_parameters_are_checked(self):
        for query, status, code in (
                ("group_by=everything", 400, "invalid_parameter"),
                ("from=2026-13-01", 400, "invalid_parameter"),
                ("from=2026-03-02&to=2026-03-01", 400, "invalid_parameter"),
                ("from=2000-01-01&to=2026-01-01", 400, "invalid_parameter"),
                ("group_by=level", 400, "invalid_parameter"),
                ("level=grid", 400, "invalid_parameter"),
                (f"area={self.grids[0]}&group_by=level&level=township", 400, "invalid_parameter"),
                ("area=33x", 400, "invalid_parameter"),
                ("area=999999999999999", 404, "area_not_found"),
                ("format=pdf", 400, "invalid_parameter"),
                ("bogus=1", 400, "invalid_parameter"),
                ("area=" + "3" * 100, 400, "invalid_parameter")):
            self.assertProblem(self.s.request("GET", "/v1/stats/cases?" + query, token=self.admin), status, code)
        for query in ("period=2026-13", "period=2026-Q5", "period=26", "", "period=2026-03&bogus=1"):
            self.assertProblem(self.s.request("GET", f"/v1/stats/evaluation?area={self.township}&" + query, token=self.admin),
                               400, "invalid_parameter")

    def test_follows_writes(self):
        grid = self.grids[1]
        before = self.get(f"/v1/stats/cases?area={grid}&{PERIOD}").json["totals"]
        self.s.sql(f"UPDATE incidents SET status = 'closed', closed_at = dispatched_at + interval '7 minutes', rework_count = 3 "
                   f"WHERE id = (SELECT id FROM incidents WHERE grid_code = '{grid}' AND status = 'handle' "
                   "AND reported_at >= '2026-03-01' ORDER BY id LIMIT 1)")
        want = self.oracle(f"grid_code = '{grid}'")
        self.assertEqual(want["closed"], before["closed"] + 1)
        doc = self.wait_for(f"/v1/stats/cases?area={grid}&{PERIOD}", lambda d: d["totals"]["closed"] == want["closed"])
        self.assertFigures(doc["totals"], want, grid)

    def test_a_second_server_loads_the_same_figures(self):
        # The first server followed the writes key by key; a new one reads every case at start-up.
        path = f"/v1/stats/cases?area={self.township}&{PERIOD}&group_by=level&level=grid"
        first = self.get(path).json
        other = Server(database=self.s.db)
        try:
            deadline = time.time() + 30
            while True:
                r = other.request("GET", path, token=self.admin)
                if r.status == 200 or time.time() > deadline:
                    break
                self.assertProblem(r, 503, "stats_loading")
                time.sleep(0.1)
            self.assertEqual(r.status, 200, r)
            second = r.json
        finally:
            other.stop()
        self.assertEqual(second["groups"], first["groups"])
        self.assertEqual(second["totals"], first["totals"])

    def test_exports(self):
        doc = self.get(f"/v1/stats/cases?area={self.township}&{PERIOD}&group_by=category").json
        r = self.get(f"/v1/stats/cases?area={self.township}&{PERIOD}&group_by=category&format=csv")
        self.assertTrue(r.header("Content-Type").startswith("text/csv"))
        rows = list(csv.DictReader(io.StringIO(r.body.lstrip("\ufeff"))))
        self.assertEqual([x["group"] for x in rows], [g["group"] for g in doc["groups"]] + ["total"])
        self.assertEqual([int(x["reported"]) for x in rows], [g["reported"] for g in doc["groups"]] + [doc["totals"]["reported"]])
        self.assertEqual(rows[-1]["closed"], str(doc["totals"]["closed"]))

        raw = urllib.request.urlopen(urllib.request.Request(
            f"{self.s.base}/v1/stats/cases?area={self.township}&{PERIOD}&group_by=category&format=xlsx",
            headers={"Authorization": "Bearer " + self.admin})).read()
        self.assertEqual(raw[:2], b"PK")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "cases.xlsx")
            with open(path, "wb") as f:
                f.write(raw)
            # GDAL reads it back: the sheet's rows as CSV, field types as written.
            out = subprocess.run(["ogr2ogr", "-f", "CSV", "/vsistdout/", path], check=True, capture_output=True, text=True).stdout
            info = subprocess.run(["ogrinfo", "-so", "-al", path], check=True, capture_output=True, text=True).stdout
        sheet = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual([x["group"] for x in sheet], [g["group"] for g in doc["groups"]] + ["total"])
        self.assertEqual([int(x["reported"]) for x in sheet], [g["reported"] for g in doc["groups"]] + [doc["totals"]["reported"]])
        for x, g in zip(sheet, doc["groups"] + [doc["totals"]]):
            if g["on_time_close_rate"] is not None:
                self.assertAlmostEqual(float(x["on_time_close_rate"]), g["on_time_close_rate"], places=9)
        self.assertRegex(info, r"reported: Integer(64)? ")
        self.assertIn("on_time_close_rate: Real", info)

        for path in (f"/v1/stats/evaluation?area={self.township}&period=2026-03", f"/v1/stats/workers?area={self.township}"):
            r = self.get(f"{path}&format=csv")
            self.assertTrue(r.header("Content-Type").startswith("text/csv"))
            self.assertGreater(len(r.body.splitlines()), 1)
            raw = urllib.request.urlopen(urllib.request.Request(
                f"{self.s.base}{path}&format=xlsx", headers={"Authorization": "Bearer " + self.admin})).read()
            self.assertEqual(raw[:2], b"PK")

    def test_evaluation_scores_and_ranks(self):
        doc = self.get(f"/v1/stats/evaluation?area={self.township}&period=2026-03").json
        with open(os.path.join(ROOT, "geodata", "evaluation.json"), encoding="utf-8") as f:
            weights = json.load(f)["weights"]
        villages = [r[0] for r in self.s.sql(
            f"SELECT code FROM areas WHERE parent_code = '{self.township}' AND valid_to IS NULL ORDER BY code")]
        self.assertEqual(sorted(a["code"] for a in doc["areas"]), villages)
        self.assertEqual(doc["departments"], [], "no department is registered yet")
        for a in doc["areas"]:
            f = self.oracle(f"grid_code LIKE '{a['code']}%' OR (grid_code IS NULL AND description = 'stats-gap' "
                            f"AND '{self.village}' LIKE '{a['code']}%')")
            for k in COUNTS:
                self.assertEqual(a[k], f[k], (a["code"], k))
            rates = {
                "closure_rate": f["closed"] / f["registered"] if f["registered"] else None,
                "on_time_close_rate": f["closed_on_time"] / f["closed"] if f["closed"] else None,
                "timely_verification_rate": f["verified_on_time"] / f["verification_due"] if f["verification_due"] else None,
                "rework_rate": f["returned"] / f["verification_due"] if f["verification_due"] else None,
                "overdue_rate": f["overdue_now"] / f["dispatched"] if f["dispatched"] else None,
            }
            num = den = 0.0
            for name, w in weights.items():
                if rates[name] is None:
                    self.assertIsNone(a[name])
                    continue
                self.assertAlmostEqual(a[name], rates[name], places=12)
                num += w * (1 - rates[name] if name in ("rework_rate", "overdue_rate") else rates[name])
                den += w
            if den:
                self.assertAlmostEqual(a["score"], round(num / den * 100, 2), places=6, msg=a["code"])
            else:
                self.assertIsNone(a["score"])
        scored = [a for a in doc["areas"] if a["score"] is not None]
        self.assertTrue(scored)
        self.assertEqual([a["score"] for a in scored], sorted((a["score"] for a in scored), reverse=True))
        self.assertEqual(doc["areas"][0]["rank"], 1)
        for prev, cur in zip(doc["areas"], doc["areas"][1:]):
            if cur["score"] == prev["score"]:
                self.assertEqual(cur["rank"], prev["rank"])
        # The period is the month: the February case does not count.
        feb = self.get(f"/v1/stats/evaluation?area={self.township}&period=2026-02").json
        self.assertEqual(sum(a["reported"] for a in feb["areas"]), 1)

        # With departments registered, each is evaluated on the cases assigned to it, by id or by
        # name, inside the area.
        self.s.sql("INSERT INTO departments (name, scope, categories, created_by) VALUES "
                   f"('城管', ARRAY['{self.township}'], ARRAY['other'], 'test'), "
                   f"('住建', ARRAY['{self.township}'], ARRAY['other'], 'test'), "
                   f"('市场监管', ARRAY['{self.township}'], ARRAY['other'], 'test'); "
                   "UPDATE incidents SET assignee = 'department:1' WHERE assignee = 'worker:1' AND description LIKE 'stats-%'; "
                   "UPDATE incidents SET assignee = '住建' WHERE assignee = 'worker:2' AND description LIKE 'stats-%'")
        inside = f"(grid_code LIKE '{self.township}%' OR description = 'stats-gap')"
        want = {"1": self.oracle(f"{inside} AND assignee = 'department:1'"), "2": self.oracle(f"{inside} AND assignee = '住建'")}
        doc = self.wait_for(f"/v1/stats/evaluation?area={self.township}&period=2026-03",
                            lambda d: d["departments"] and {x["code"]: x["reported"] for x in d["departments"]}.get("1") == want["1"]["reported"])
        deps = {x["code"]: x for x in doc["departments"]}
        self.assertEqual(sorted(deps), ["1", "2", "3"])
        for code in ("1", "2"):
            self.assertGreater(want[code]["reported"], 0)
            for k in COUNTS:
                self.assertEqual(deps[code][k], want[code][k], (code, k))
        self.assertEqual(deps["3"]["reported"], 0)
        self.assertIsNone(deps["3"]["score"])
        self.assertEqual(deps["3"]["rank"], 3, "a department without a score ranks last")

    def test_workers(self):
        grid = self.grids[2]
        wid = self.s.sql(f"INSERT INTO workers (name, area_code, created_by) VALUES ('统计员', '{grid}', 'test') RETURNING id")[0][0]
        self.s.sql(f"INSERT INTO worker_assignments (grid_code, worker_id, assigned_at, assigned_by) VALUES ('{grid}', {wid}, now(), 'test')")
        cp = [r[0] for r in self.s.sql(
            f"INSERT INTO checkpoints (grid_code, name, kind, location, frequency) SELECT '{grid}', n, 'other', "
            f"ST_PointOnSurface(geom), f FROM areas, (VALUES ('daily', 'a'), ('weekly', 'b')) v(f, n) "
            f"WHERE code = '{grid}' AND valid_to IS NULL RETURNING id")]
        # Daily checkpoint: visited on 2 of the 10 days (twice on one day); weekly: in 1 of 2 weeks.
        self.s.sql(
            "INSERT INTO checkpoint_visits (checkpoint_id, visited_at, worker_id, recorded_by) VALUES "
            f"({cp[0]}, '2026-03-02 09:00+08', {wid}, 't'), ({cp[0]}, '2026-03-02 15:00+08', {wid}, 't'), "
            f"({cp[0]}, '2026-03-05 09:00+08', {wid}, 't'), ({cp[1]}, '2026-03-03 09:00+08', {wid}, 't'), "
            f"({cp[0]}, '2026-03-20 09:00+08', {wid}, 't')")
        # Positions: two steps 10 minutes apart, then a 2-hour break (not patrol).
        self.s.sql(
            "INSERT INTO worker_positions (worker_id, location, at, recorded_by) VALUES "
            f"({wid}, ST_SetSRID(ST_MakePoint(120.0, 30.0), 4490), '2026-03-02 09:00+08', 't'), "
            f"({wid}, ST_SetSRID(ST_MakePoint(120.001, 30.0), 4490), '2026-03-02 09:10+08', 't'), "
            f"({wid}, ST_SetSRID(ST_MakePoint(120.001, 30.001), 4490), '2026-03-02 09:20+08', 't'), "
            f"({wid}, ST_SetSRID(ST_MakePoint(121.0, 30.0), 4490), '2026-03-02 11:20+08', 't')")
        metres = float(self.s.sql(
            "SELECT ST_Distance(ST_SetSRID(ST_MakePoint(120.0, 30.0), 4490)::geography, ST_SetSRID(ST_MakePoint(120.001, 30.0), 4490)::geography) "
            "+ ST_Distance(ST_SetSRID(ST_MakePoint(120.001, 30.0), 4490)::geography, ST_SetSRID(ST_MakePoint(120.001, 30.001), 4490)::geography)")[0][0])
        handled = int(self.s.sql(f"SELECT count(*) FROM incidents WHERE assignee = 'worker:{wid}' AND status = 'closed' "
                                 "AND closed_at >= '2026-03-02 00:00+08' AND closed_at < '2026-03-12 00:00+08'")[0][0])
        # Due over the 10 days: once per day, week (7 days), month (30 days) or n days, per
        # checkpoint of the grid (the sample's own too).
        periods = {"daily": 1, "weekly": 7, "monthly": 30}
        due = sum(-(-10 // (periods.get(f) or int(n))) for f, n in self.s.sql(
            f"SELECT frequency, coalesce(every_days, 0) FROM checkpoints WHERE grid_code = '{grid}'"))
        self.assertGreaterEqual(due, 12)
        doc = self.get(f"/v1/stats/workers?area={grid}&from=2026-03-02&to=2026-03-11").json
        row = next(w for w in doc["workers"] if w["worker"] == int(wid))
        self.assertEqual(row["checkpoints_due"], due)
        self.assertEqual(row["checkpoints_visited"], 2 + 1)  # the visit of 2026-03-20 lies outside
        self.assertAlmostEqual(row["patrol_completion_rate"], 3 / due)
        self.assertAlmostEqual(row["patrol_metres"], metres, delta=0.1)
        self.assertAlmostEqual(row["patrol_hours"], 20 / 60, places=3)
        self.assertEqual(row["cases_handled"], handled)


class EvaluationTables(ApiTestCase):
    """The evaluation's exports carry either table: the areas' (default) or, with
    table=departments, the departments' ranking with the figures behind each score."""

    def test_the_departments_table_exports_as_csv_and_xlsx(self):
        township = "330521001"
        deps = []
        for name in ("镇城管中队", "镇市场监管所"):
            r = self.s.request("POST", "/v1/departments", {"name": name, "scope": [township], "categories": ["市容环境"]}, token=self.admin)
            self.assertEqual(r.status, 201, r)
            deps.append(r.json["id"])
        # Cases of this month in the township: two dispatched to the first department, one to the second.
        x, y = (float(v) for v in self.s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas "
                                             f"WHERE level = 'grid' AND valid_to IS NULL AND code LIKE '{township}%' ORDER BY code LIMIT 1) s")[0])
        for dep in (deps[0], deps[0], deps[1]):
            made = self.s.request("POST", "/v1/incidents", {"location": {"type": "Point", "coordinates": [x, y]}, "category": "市容环境",
                                                            "source": "hotline"}, token=self.admin).json
            for body in ({"action": "register"}, {"action": "dispatch", "assignee": f"department:{dep}"}):
                r = self.s.request("PATCH", f"/v1/incidents/{made['id']}", body, token=self.admin)
                self.assertEqual(r.status, 200, r)
        period = self.s.sql("SELECT to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')")[0][0]
        path = f"/v1/stats/evaluation?area={township}&period={period}"
        deadline = time.time() + 20
        while True:
            doc = self.get(path).json
            by = {d["code"]: d for d in doc["departments"]}
            if by.get(str(deps[0]), {}).get("dispatched") == 2:
                break
            self.assertLess(time.time(), deadline, doc["departments"])
            time.sleep(0.3)
        self.assertEqual(by[str(deps[1])]["dispatched"], 1)

        r = self.get(path + "&table=departments&format=csv")
        self.assertEqual(r.status, 200, r)
        self.assertIn('filename="evaluation-departments.csv"', r.header("Content-Disposition"))
        rows = list(csv.DictReader(io.StringIO(r.body.lstrip("\ufeff"))))
        self.assertEqual([x["code"] for x in rows], [d["code"] for d in doc["departments"]])
        self.assertEqual([x["name"] for x in rows], [d["name"] for d in doc["departments"]])
        self.assertEqual([x["rank"] for x in rows], [str(d["rank"]) for d in doc["departments"]])
        self.assertEqual([int(x["dispatched"]) for x in rows], [d["dispatched"] for d in doc["departments"]])
        # The default stays the areas' table.
        areas = list(csv.DictReader(io.StringIO(self.get(path + "&format=csv").body.lstrip("\ufeff"))))
        self.assertEqual([x["code"] for x in areas], [a["code"] for a in doc["areas"]])
        self.assertEqual(self.get(path + "&table=areas&format=csv").body, self.get(path + "&format=csv").body)

        raw = urllib.request.urlopen(urllib.request.Request(f"{self.s.base}{path}&table=departments&format=xlsx",
                                                            headers={"Authorization": "Bearer " + self.admin})).read()
        with tempfile.TemporaryDirectory() as d:
            book = os.path.join(d, "departments.xlsx")
            with open(book, "wb") as f:
                f.write(raw)
            out = subprocess.run(["ogr2ogr", "-f", "CSV", "/vsistdout/", book], check=True, capture_output=True, text=True).stdout
        sheet = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual([x["name"] for x in sheet], [d["name"] for d in doc["departments"]])
        self.assertEqual([int(x["dispatched"]) for x in sheet], [d["dispatched"] for d in doc["departments"]])

        self.assertProblem(self.get(path + "&table=workers"), 400, "invalid_parameter")


if __name__ == "__main__":
    unittest.main()
