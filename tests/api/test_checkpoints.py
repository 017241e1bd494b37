"""Checkpoints: CRUD per grid with ETags, refused writes (outside the grid, unknown grid, stale or
missing ETag, roles), visits, the audit log, the tile layer following a change, and due lists for
each frequency on chosen Asia/Shanghai days."""
import unittest

from harness import ApiTestCase

GRID = "330521104002001"
VILLAGE = "330521104002"


def tile_of(lon, lat, z):
    import math
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


class Checkpoints(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        row = cls.s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas "
                        f"WHERE code = '{GRID}' AND valid_to IS NULL) x")[0]
        cls.inside = [float(row[0]), float(row[1])]
        other = cls.s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas "
                          f"WHERE level = 'grid' AND code <> '{GRID}' AND valid_to IS NULL ORDER BY code LIMIT 1) x")[0]
        cls.outside = [float(other[0]), float(other[1])]

    def body(self, **kw):
        b = {"grid": GRID, "name": "出租房 8号", "kind": "rental", "location": {"type": "Point", "coordinates": self.inside},
             "frequency": "weekly", "service_minutes": 15, "priority": 2}
        b.update(kw)
        return b

    def create(self, **kw):
        r = self.s.request("POST", "/v1/checkpoints", self.body(**kw), token=self.admin)
        self.assertEqual(r.status, 201, r)
        return r.json

    def test_crud_with_etags(self):
        r = self.s.request("POST", "/v1/checkpoints",
                           self.body(time_window={"start": "08:30", "end": "11:00"}), token=self.admin)
        self.assertEqual(r.status, 201, r)
        cp = r.json
        self.assertEqual(r.header("ETag"), cp["etag"])
        self.assertTrue(r.header("Location").endswith(f"/v1/checkpoints/{cp['id']}"))
        self.assertEqual(cp["grid"], GRID)
        self.assertEqual(cp["time_window"], {"start": "08:30", "end": "11:00"})
        self.assertEqual(cp["service_minutes"], 15)
        self.assertAlmostEqual(cp["location"]["coordinates"][0], self.inside[0], places=8)
        got = self.get(f"/v1/checkpoints/{cp['id']}")
        self.assertEqual(got.status, 200)
        self.assertEqual(got.header("ETag"), cp["etag"])
        listed = self.get(f"/v1/checkpoints?grid={GRID}").json["checkpoints"]
        self.assertIn(cp["id"], [c["id"] for c in listed])
        self.assertTrue(all(c["grid"] == GRID for c in listed))

        path = f"/v1/checkpoints/{cp['id']}"
        self.assertProblem(self.s.request("PATCH", path, {"priority": 1}, token=self.admin), 428, "precondition_required")
        self.assertProblem(self.s.request("PATCH", path, {"priority": 1}, token=self.admin,
                                          headers={"If-Match": '"cp-0-v9"'}), 412, "precondition_failed")
        r = self.s.request("PATCH", path, {"priority": 1, "frequency": "every_n_days", "every_days": 3, "time_window": None},
                           token=self.admin, headers={"If-Match": cp["etag"]})
        self.assertEqual(r.status, 200, r)
        changed = r.json
        self.assertEqual((changed["priority"], changed["frequency"], changed["every_days"], changed["version"]), (1, "every_n_days", 3, 2))
        self.assertIsNone(changed["time_window"])
        self.assertNotEqual(changed["etag"], cp["etag"])
        # The old ETag is stale now.
        self.assertProblem(self.s.request("PATCH", path, {"priority": 4}, token=self.admin, headers={"If-Match": cp["etag"]}),
                           412, "precondition_failed")
        # Moving it out of its grid is refused and changes nothing.
        self.assertProblem(self.s.request("PATCH", path, {"location": {"type": "Point", "coordinates": self.outside}},
                                          token=self.admin, headers={"If-Match": changed["etag"]}), 422, "outside_grid")
        self.assertEqual(self.get(path).json["version"], 2)
        audit = self.s.sql(f"SELECT action FROM audit_log WHERE target_type = 'checkpoint' AND target = '{cp['id']}' ORDER BY id")
        self.assertEqual([a[0] for a in audit], ["checkpoint.create", "checkpoint.update"])

        self.assertProblem(self.s.request("DELETE", path, token=self.admin, headers={"If-Match": cp["etag"]}), 412, "precondition_failed")
        self.assertProblem(self.s.request("DELETE", path, token=self.admin), 428, "precondition_required")
        r = self.s.request("DELETE", path, token=self.admin, headers={"If-Match": changed["etag"]})
        self.assertEqual(r.status, 204, r)
        self.assertProblem(self.get(path), 404, "checkpoint_not_found")
        self.assertEqual(self.s.sql(f"SELECT count(*) FROM audit_log WHERE action = 'checkpoint.delete' AND target = '{cp['id']}'"), [["1"]])

    def test_refused_writes(self):
        self.assertProblem(self.s.request("POST", "/v1/checkpoints",
                                          self.body(location={"type": "Point", "coordinates": self.outside}), token=self.admin),
                           422, "outside_grid")
        self.assertProblem(self.s.request("POST", "/v1/checkpoints", self.body(grid="330521104002999"), token=self.admin),
                           422, "unknown_area")
        self.assertProblem(self.s.request("POST", "/v1/checkpoints", self.body(grid=VILLAGE), token=self.admin), 422, "not_a_grid")
        self.assertProblem(self.s.request("POST", "/v1/checkpoints", self.body(frequency="every_n_days"), token=self.admin),
                           422, "missing_property")
        self.assertProblem(self.s.request("POST", "/v1/checkpoints", self.body(frequency="hourly"), token=self.admin),
                           422, "invalid_property")
        self.assertProblem(self.s.request("POST", "/v1/checkpoints", self.body(time_window={"start": "12:00", "end": "09:00"}),
                                          token=self.admin), 422, "invalid_property")
        self.assertProblem(self.s.request("POST", "/v1/checkpoints", self.body(priority=9), token=self.admin), 422, "invalid_property")
        self.assertProblem(self.s.request("POST", "/v1/checkpoints", self.body(colour="red"), token=self.admin), 422, "unknown_property")
        body = self.body()
        del body["location"]
        self.assertProblem(self.s.request("POST", "/v1/checkpoints", body, token=self.admin), 422, "missing_property")
        self.assertProblem(self.s.request("POST", "/v1/checkpoints", self.body(location={"type": "LineString"}), token=self.admin),
                           422, "invalid_location")
        viewer = self.s.token("viewer")
        self.assertProblem(self.s.request("POST", "/v1/checkpoints", self.body(), token=viewer), 403, "role_forbidden")
        elsewhere = self.s.token("manager", scope="330521101")
        self.assertProblem(self.s.request("POST", "/v1/checkpoints", self.body(), token=elsewhere), 403, "outside_scope")
        self.assertProblem(self.get("/v1/checkpoints?grid=330521104002999"), 404, "area_not_found")
        self.assertProblem(self.get("/v1/checkpoints"), 400, "invalid_parameter")
        self.assertProblem(self.get("/v1/checkpoints/abc"), 400, "invalid_parameter")
        self.assertProblem(self.s.request("POST", "/v1/checkpoints", self.body()), 401, "unauthorized")

    def test_gcj02_location_is_converted(self):
        from mars import to_gcj02
        gcj = to_gcj02(*self.inside)
        cp = self.create(location={"type": "Point", "coordinates": list(gcj)}, crs="gcj02")
        self.assertAlmostEqual(cp["location"]["coordinates"][0], self.inside[0], places=6)
        self.assertAlmostEqual(cp["location"]["coordinates"][1], self.inside[1], places=6)

    def test_tile_layer_follows(self):
        import urllib.error
        import urllib.request
        x, y = tile_of(self.inside[0], self.inside[1], 16)

        def etag():
            req = urllib.request.Request(f"{self.s.base}/tiles/checkpoints/16/{x}/{y}.mvt",
                                         headers={"Authorization": "Bearer " + self.admin})
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    return r.status, r.headers.get("ETag")
            except urllib.error.HTTPError as e:
                return e.code, e.headers.get("ETag")
        before = etag()
        self.assertIn(before[0], (200, 204), before)
        cp = self.create(name="新的巡查点")
        after = etag()
        self.assertEqual(after[0], 200, after)
        self.assertNotEqual(before[1], after[1])
        r = self.s.request("DELETE", f"/v1/checkpoints/{cp['id']}", token=self.admin, headers={"If-Match": cp["etag"]})
        self.assertEqual(r.status, 204)
        self.assertEqual(etag(), before)

    def visit(self, cp, at, **kw):
        r = self.s.request("POST", f"/v1/checkpoints/{cp['id']}/visits", dict(visited_at=at, **kw), token=self.admin)
        self.assertEqual(r.status, 201, r)
        return r.json

    def due_ids(self, date):
        r = self.get(f"/v1/patrol/due?grid={GRID}&date={date}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["timezone"], "Asia/Shanghai")
        return {c["id"]: c for c in r.json["checkpoints"]}

    def test_due_lists(self):
        daily = self.create(name="daily", frequency="daily")
        weekly = self.create(name="weekly", frequency="weekly")
        monthly = self.create(name="monthly", frequency="monthly")
        every3 = self.create(name="every 3", frequency="every_n_days", every_days=3)
        # 2026-03-02 is a Monday. Visits in Shanghai time; one just after midnight on 1 April
        # Shanghai time is still 31 March in UTC.
        v = self.visit(daily, "2026-03-03T10:00:00+08:00", note="ok")
        self.assertEqual(v["date"], "2026-03-03")
        self.visit(weekly, "2026-03-03T15:30:00Z")  # 23:30 in Shanghai, still the 3rd
        self.visit(every3, "2026-03-03T09:00:00+08:00")
        v = self.visit(monthly, "2026-03-31T17:00:00Z")
        self.assertEqual(v["date"], "2026-04-01")
        mine = {daily["id"]: "daily", weekly["id"]: "weekly", monthly["id"]: "monthly", every3["id"]: "every3"}

        def due(date):
            got = self.due_ids(date)
            return {mine[i]: got[i] for i in got if i in mine}

        d = due("2026-03-03")
        self.assertEqual(set(d), {"daily", "weekly", "monthly", "every3"})
        self.assertTrue(d["daily"]["done"] and d["weekly"]["done"] and d["every3"]["done"])
        self.assertFalse(d["monthly"]["done"])
        self.assertEqual(d["weekly"]["due_reason"], "never_visited")

        d = due("2026-03-04")
        self.assertEqual(set(d), {"daily", "monthly"})  # weekly: visited this week; every3: a day ago
        self.assertEqual(d["daily"]["last_visit_before"], "2026-03-03")
        self.assertFalse(d["daily"]["done"])

        self.assertEqual(set(due("2026-03-05")), {"daily", "monthly"})
        d = due("2026-03-06")  # three days after the visit
        self.assertEqual(set(d), {"daily", "monthly", "every3"})
        self.assertEqual(d["every3"]["due_reason"], "period_elapsed")
        self.assertEqual(d["every3"]["period_start"], "2026-03-04")

        d = due("2026-03-09")  # a new ISO week
        self.assertIn("weekly", d)
        self.assertEqual(d["weekly"]["last_visit_before"], "2026-03-03")
        self.assertEqual(d["weekly"]["due_reason"], "period_elapsed")

        # The monthly visit counts for April (Shanghai), not for March.
        self.assertIn("monthly", due("2026-03-31"))
        self.assertFalse(due("2026-03-31")["monthly"]["done"])
        self.assertTrue(due("2026-04-01")["monthly"]["done"])
        self.assertNotIn("monthly", due("2026-04-02"))
        self.assertIn("monthly", due("2026-05-01"))

        # Ordered by priority, then id; sample checkpoints of the grid are listed too.
        r = self.get(f"/v1/patrol/due?grid={GRID}&date=2026-03-04").json["checkpoints"]
        self.assertEqual([(c["priority"], c["id"]) for c in r], sorted((c["priority"], c["id"]) for c in r))
        visits = self.get(f"/v1/checkpoints/{daily['id']}/visits").json["visits"]
        self.assertEqual([v["note"] for v in visits], ["ok"])

    def test_visit_and_due_errors(self):
        cp = self.create()
        path = f"/v1/checkpoints/{cp['id']}/visits"
        self.assertProblem(self.s.request("POST", path, {"visited_at": "yesterday"}, token=self.admin), 422, "invalid_property")
        self.assertProblem(self.s.request("POST", path, {"visited_at": "2999-01-01T00:00:00Z"}, token=self.admin),
                           422, "invalid_property")
        self.assertProblem(self.s.request("POST", path, {"worker": 10 ** 12}, token=self.admin), 422, "unknown_worker")
        self.assertProblem(self.s.request("POST", "/v1/checkpoints/999999999/visits", {}, token=self.admin), 404, "checkpoint_not_found")
        self.assertProblem(self.s.request("POST", path, {}, token=self.s.token("viewer")), 403, "role_forbidden")
        worker = self.s.token("worker", scope=VILLAGE)
        self.assertEqual(self.s.request("POST", path, {}, token=worker).status, 201)
        self.assertProblem(self.get(f"/v1/patrol/due?grid={GRID}&date=2026-02-30"), 400, "invalid_parameter")
        self.assertProblem(self.get(f"/v1/patrol/due?grid={GRID}&date=tomorrow"), 400, "invalid_parameter")
        self.assertProblem(self.get("/v1/patrol/due?grid=330521104002999&date=2026-03-01"), 404, "area_not_found")
        self.assertProblem(self.get("/v1/patrol/due"), 400, "invalid_parameter")
        # Without a date: today in Shanghai.
        self.assertEqual(self.get(f"/v1/patrol/due?grid={GRID}").status, 200)


if __name__ == "__main__":
    unittest.main()
