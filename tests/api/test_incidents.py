"""Incidents: located at creation (also from GCJ-02 phone coordinates), moved through the lifecycle
with refused transitions, timed in working time, listed with filters, re-assigned when the grid
under them changes. (Assignees, verification, urging and photos: test_case_handling.)"""
import unittest
import uuid

from harness import ApiTestCase
from mars import to_gcj02


class Incidents(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Dispatch names an assignee: a department of the whole registry for the test category, and
        # a worker of the test grid who verifies what the department handled.
        counties = [row[0] for row in cls.s.sql("SELECT code FROM areas WHERE level = 'county' AND valid_to IS NULL")]
        r = cls.s.request("POST", "/v1/departments", {"name": "城管-" + uuid.uuid4().hex[:6], "scope": counties,
                                                      "categories": ["市容环境"]}, token=cls.admin)
        assert r.status == 201, r
        cls.department = f"department:{r.json['id']}"

    def verifier(self, grid):
        r = self.s.request("POST", "/v1/workers", {"name": "核查员", "area": grid}, token=self.admin)
        self.assertEqual(r.status, 201, r)
        current = [w["id"] for w in self.s.request("GET", f"/v1/areas/{grid}/workers", token=self.admin).json["workers"]]
        self.assertEqual(self.s.request("PUT", f"/v1/areas/{grid}/workers", {"workers": current + [r.json["id"]]},
                                        token=self.admin).status, 200)
        return r.json["id"]
    def grid_point(self):
        """A grid of the sample and a point well inside it (EPSG:4490)."""
        code, x, y = self.s.sql(
            "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM areas "
            "WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 1 OFFSET 40) t")[0]
        return code, float(x), float(y)

    def create(self, x, y, token=None, **extra):
        body = {"location": {"type": "Point", "coordinates": [x, y]}, "category": "市容环境", "source": "hotline",
                "description": "暴露垃圾", "reporter": "12345"}
        body.update(extra)
        return self.s.request("POST", "/v1/incidents", body, token=token or self.admin)

    def act(self, incident, action, token=None, **extra):
        if action == "dispatch" and "assignee" not in extra:
            extra["assignee"] = self.department
        return self.s.request("PATCH", f"/v1/incidents/{incident}", dict(action=action, **extra), token=token or self.admin)

    def test_location_is_stored_exactly(self):
        # Nine decimals (0.1 mm) come back as sent: the stored point is the one that was located.
        code, x, y = self.grid_point()
        x, y = round(float(x), 6) + 0.000000123, round(float(y), 6) + 0.000000456
        r = self.create(x, y)
        self.assertEqual(r.status, 201, r)
        sx, sy = self.s.sql(f"SELECT ST_X(location), ST_Y(location) FROM incidents WHERE id = {r.json['id']}")[0]
        self.assertEqual((float(sx), float(sy)), (x, y))

    def test_create_locates_and_logs(self):
        code, x, y = self.grid_point()
        r = self.create(x, y)
        self.assertEqual(r.status, 201, r)
        doc = r.json
        self.assertEqual(doc["grid"], code)
        self.assertEqual(doc["method"], "inside")
        self.assertEqual(doc["status"], "collect")
        self.assertEqual([h["level"] for h in doc["hierarchy"]][:4], ["county", "township", "village", "grid"])
        self.assertTrue(r.header("Location").endswith(f"/v1/incidents/{doc['id']}"))
        self.assertEqual([e["action"] for e in doc["events"]], ["collect"])
        got = self.s.request("GET", f"/v1/incidents/{doc['id']}", token=self.admin)
        self.assertEqual(got.status, 200)
        self.assertEqual(got.json["grid"], code)

    def test_gcj02_input_lands_where_the_converted_point_is(self):
        code, x, y = self.grid_point()
        # What a phone map would show for the point: GCJ-02, computed by the tests' own formulas.
        gx, gy = to_gcj02(x, y)
        r = self.create(gx, gy, crs="gcj02")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["grid"], code)
        lon, lat = r.json["location"]["coordinates"]
        self.assertAlmostEqual(lon, x, places=6)
        self.assertAlmostEqual(lat, y, places=6)

    def test_the_whole_lifecycle(self):
        # Since verification (核查) was added, close follows a verify by a worker of the grid.
        code, x, y = self.grid_point()
        case = self.create(x, y).json["id"]
        verifier = self.verifier(code)
        for action, status in (("register", "register"), ("dispatch", "dispatch"), ("handle", "handle"),
                               ("feedback", "feedback"), ("verify", "verified"), ("close", "closed")):
            r = self.act(case, action, note="ok", **({"worker": verifier} if action == "verify" else {}))
            self.assertEqual(r.status, 200, (action, r))
            self.assertEqual(r.json["status"], status)
            if action == "dispatch":
                self.assertIsNotNone(r.json["deadline"])
                self.assertGreater(r.json["deadline"], r.json["dispatched_at"])
        doc = self.s.request("GET", f"/v1/incidents/{case}", token=self.admin).json
        self.assertEqual([e["action"] for e in doc["events"]],
                         ["collect", "register", "dispatch", "handle", "feedback", "verify", "close"])
        self.assertIsNotNone(doc["closed_at"])
        self.assertTrue(all(e["actor"].startswith("admin#") for e in doc["events"][1:]))

    def test_refused_transitions(self):
        _, x, y = self.grid_point()
        case = self.create(x, y).json["id"]
        r = self.act(case, "close")
        self.assertProblem(r, 409, "transition_not_allowed")
        self.assertEqual(sorted(r.json["allowed_actions"]), ["cancel", "register"])
        self.assertProblem(self.act(case, "teleport"), 422, "unknown_action")
        self.assertEqual(self.act(case, "cancel").status, 200)
        self.assertProblem(self.act(case, "register"), 409, "transition_not_allowed")
        self.assertProblem(self.s.request("PATCH", "/v1/incidents/999999999", {"action": "register"}, token=self.admin),
                           404, "incident_not_found")

    def test_hold_resume_return_extend(self):
        _, x, y = self.grid_point()
        case = self.create(x, y).json["id"]
        self.act(case, "register")
        first = self.act(case, "dispatch").json["deadline"]
        self.assertEqual(self.act(case, "hold").json["status"], "hold")
        self.assertEqual(self.act(case, "resume").json["status"], "dispatch")
        later = self.act(case, "extend", working_days=2).json["deadline"]
        self.assertGreater(later, first)
        self.assertProblem(self.act(case, "extend"), 422, "invalid_property")
        self.assertEqual(self.act(case, "return").json["status"], "register")

    def test_if_match_and_roles(self):
        _, x, y = self.grid_point()
        created = self.create(x, y)
        case, etag = created.json["id"], created.header("ETag")
        self.assertEqual(self.s.request("PATCH", f"/v1/incidents/{case}", {"action": "register"}, token=self.admin,
                                        headers={"If-Match": etag}).status, 200)
        self.assertProblem(self.s.request("PATCH", f"/v1/incidents/{case}", {"action": "dispatch"}, token=self.admin,
                                          headers={"If-Match": etag}), 412, "precondition_failed")
        viewer = self.s.token("viewer")
        self.assertProblem(self.create(x, y, token=viewer), 403, "role_forbidden")
        worker = self.s.token("worker")
        self.assertProblem(self.act(case, "dispatch", token=worker), 403, "role_forbidden")
        self.act(case, "dispatch")
        self.assertEqual(self.act(case, "handle", token=worker).status, 200)
        outsider = self.s.token("dispatcher", scope="330521110")
        code = self.s.sql(f"SELECT grid_code FROM incidents WHERE id = {case}")[0][0]
        if not code.startswith("330521110"):
            self.assertProblem(self.s.request("GET", f"/v1/incidents/{case}", token=outsider), 403, "outside_scope")

    def test_list_filters_and_overdue(self):
        code, x, y = self.grid_point()
        case = self.create(x, y).json["id"]
        self.act(case, "register")
        self.act(case, "dispatch")
        r = self.s.request("GET", f"/v1/incidents?area={code}&status=dispatch", token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertIn(case, [i["id"] for i in r.json["incidents"]])
        self.assertTrue(all(i["grid"] == code for i in r.json["incidents"]))
        self.assertNotIn(case, [i["id"] for i in self.s.request("GET", "/v1/incidents?overdue=true&limit=10000", token=self.admin).json["incidents"]])
        self.s.sql(f"UPDATE incidents SET deadline = now() - interval '1 hour' WHERE id = {case}")
        overdue = self.s.request("GET", "/v1/incidents?overdue=true&limit=10000", token=self.admin).json
        self.assertIn(case, [i["id"] for i in overdue["incidents"]])
        self.assertTrue(all(i["overdue"] for i in overdue["incidents"]))
        page = self.s.request("GET", "/v1/incidents?limit=5", token=self.admin).json
        self.assertEqual(page["numberReturned"], 5)
        self.assertGreater(page["numberMatched"], 5)
        self.assertEqual(page["links"][0]["rel"], "next")

    def test_board_page_by_deadline_with_counts(self):
        # The case board's request: open cases of an area, the most urgent first, one page, and
        # counts of every match (by state, overdue) beside it.
        code, x, y = self.grid_point()
        late, soon, undated, ended = (self.create(x, y, source=s).json["id"] for s in ("hotline", "app", "hotline", "app"))
        for case in (late, soon):
            self.act(case, "register")
            self.act(case, "dispatch")
        self.s.sql(f"UPDATE incidents SET deadline = now() - interval '1 hour' WHERE id = {late}")
        self.s.sql(f"UPDATE incidents SET deadline = now() + interval '2 hours' WHERE id = {soon}")
        self.s.sql(f"UPDATE incidents SET status = 'cancelled' WHERE id = {ended}")
        path = f"/v1/incidents?area={code}&open=true&sort=deadline&limit=10000"
        board = self.s.request("GET", path, token=self.admin).json
        ids = [i["id"] for i in board["incidents"]]
        self.assertNotIn(ended, ids)
        self.assertLess(ids.index(late), ids.index(soon))
        self.assertLess(ids.index(soon), ids.index(undated))
        deadlines = [i["deadline"] for i in board["incidents"]]
        dated = [d for d in deadlines if d is not None]
        self.assertEqual(deadlines[:len(dated)], sorted(dated))  # by deadline, the undated last
        self.assertTrue(all(i["status"] not in ("closed", "cancelled") for i in board["incidents"]))
        counts = board["counts"]
        self.assertEqual(sum(counts["status"].values()), board["numberMatched"])
        self.assertEqual(counts["status"], {s: sum(1 for i in board["incidents"] if i["status"] == s)
                                            for s in {i["status"] for i in board["incidents"]}})
        self.assertEqual(counts["overdue"], sum(1 for i in board["incidents"] if i["overdue"]))
        self.assertGreaterEqual(counts["overdue"], 1)
        # One row of the page; the counts still cover every match.
        first = self.s.request("GET", path.replace("limit=10000", "limit=1"), token=self.admin).json
        self.assertEqual([i["id"] for i in first["incidents"]], ids[:1])
        self.assertEqual((first["counts"], first["numberMatched"]), (counts, board["numberMatched"]))
        # Without open=true the cancelled case is listed; source filters on the server.
        self.assertIn(ended, [i["id"] for i in self.s.request("GET", f"/v1/incidents?area={code}&limit=10000", token=self.admin).json["incidents"]])
        hotline = self.s.request("GET", f"/v1/incidents?area={code}&source=hotline&limit=10000", token=self.admin).json["incidents"]
        self.assertIn(late, [i["id"] for i in hotline])
        self.assertNotIn(soon, [i["id"] for i in hotline])
        self.assertTrue(all(i["source"] == "hotline" for i in hotline))
        self.assertProblem(self.s.request("GET", "/v1/incidents?sort=priority", token=self.admin), 400, "invalid_parameter")
        self.assertProblem(self.s.request("GET", "/v1/incidents?source=fax", token=self.admin), 400, "invalid_parameter")

    def test_bad_input(self):
        self.assertProblem(self.s.request("POST", "/v1/incidents", {"location": {"type": "Point", "coordinates": [1]},
                                                                    "category": "x", "source": "app"}, token=self.admin),
                           422, "invalid_location")
        _, x, y = self.grid_point()
        self.assertProblem(self.create(x, y, source="fax"), 422, "invalid_property")
        self.assertProblem(self.create(x, y, crs="EPSG:2154"), 400, "unsupported_crs")
        self.assertProblem(self.s.request("GET", "/v1/incidents/abc", token=self.admin), 400, "invalid_parameter")
        self.assertProblem(self.s.request("GET", "/v1/incidents"), 401, "unauthorized")

    def test_open_cases_follow_a_retired_grid(self):
        code, x, y = self.grid_point()
        case = self.create(x, y).json["id"]
        self.assertEqual(self.s.sql(f"SELECT grid_code FROM incidents WHERE id = {case}")[0][0], code)
        etag = self.s.request("GET", f"/v1/areas/{code}", token=self.admin).header("ETag")
        r = self.s.request("DELETE", f"/v1/areas/{code}", token=self.admin, headers={"If-Match": etag})
        self.assertEqual(r.status, 204, r)
        import time
        deadline = time.time() + 5
        while time.time() < deadline:
            doc = self.s.request("GET", f"/v1/incidents/{case}", token=self.admin).json
            if doc["grid"] != code:
                break
            time.sleep(0.1)
        self.assertNotEqual(doc["grid"], code)
        self.assertIn(doc["method"], ("nearest", "fallback"))
        moves = [e for e in doc["events"] if e["action"] == "reassign"]
        self.assertEqual(len(moves), 1)
        self.assertEqual(moves[0]["detail"]["from_grid"], code)


if __name__ == "__main__":
    unittest.main()
