"""Who handles a case: departments (/v1/departments, audited), dispatch to a named assignee (refused
without one, or to one that does not serve the case), re-dispatch and return keeping the chain,
the suggested assignee, verification by another worker of the grid (the handler refused), rework
counted, urging logged and escalated up the area hierarchy after the configured time, and photos
kept in PostgreSQL byte for byte, across a restart of the server."""
import datetime
import json
import struct
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib

from harness import ApiTestCase, Reply, Server

CATEGORY = "市容环境"
# A short escalation period, so that the test sees two steps within seconds.
ESCALATE_MINUTES = 0.04  # 2.4 s
MAX_KB = 64


def png_bytes(width=16, height=16):
    """A real PNG (signature, IHDR, IDAT, IEND), so that sniffing is tested on what a phone sends."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + bytes((x * 16 + y) % 256 for x in range(width * 3)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg_bytes(n=3000):
    # SOI, an APP0 (JFIF) segment, then arbitrary bytes with every value, and EOI.
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * (n // 256) + b"\xff\xd9"


def webp_bytes():
    body = b"WEBPVP8 " + struct.pack("<I", 10) + bytes(10)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def raw_request(server, method, path, data=None, token=None, content_type=None):
    """Like Server.request, but the answer's body stays bytes (photos are not UTF-8)."""
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(server.base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class CaseWorld:
    """A grid of the sample with two new workers of its own, a worker of another township, and a
    department of the grid's county handling CATEGORY."""

    @staticmethod
    def build(test_class):
        s, admin = test_class.s, test_class.admin
        rows = s.sql("SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM areas "
                     "WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 1 OFFSET 40) t")
        test_class.grid, test_class.x, test_class.y = rows[0][0], float(rows[0][1]), float(rows[0][2])
        test_class.county = test_class.grid[:6]
        test_class.township = test_class.grid[:9]
        other = s.sql(f"SELECT code FROM areas WHERE level = 'township' AND valid_to IS NULL AND code <> '{test_class.township}' "
                      "ORDER BY code LIMIT 1")[0][0]
        test_class.other_township = other
        test_class.workers = []
        for name in ("处置员", "核查员"):
            r = s.request("POST", "/v1/workers", {"name": name, "area": test_class.grid[:12]}, token=admin)
            assert r.status == 201, r
            test_class.workers.append(r.json["id"])
        current = s.request("GET", f"/v1/areas/{test_class.grid}/workers", token=admin).json["workers"]
        r = s.request("PUT", f"/v1/areas/{test_class.grid}/workers",
                      {"workers": [w["id"] for w in current] + test_class.workers}, token=admin)
        assert r.status == 200, r
        r = s.request("POST", "/v1/workers", {"name": "外乡网格员", "area": other}, token=admin)
        assert r.status == 201, r
        test_class.stranger = r.json["id"]
        r = s.request("POST", "/v1/departments", {"name": "城管-" + uuid.uuid4().hex[:6], "scope": [test_class.county],
                                                  "categories": [CATEGORY, "违章建筑"]}, token=admin)
        assert r.status == 201, r
        test_class.department = r.json["id"]


class CaseHandling(ApiTestCase):
    server_env = {"WANGGE_ESCALATE_AFTER_MINUTES": str(ESCALATE_MINUTES), "WANGGE_MAX_ATTACHMENT_KB": str(MAX_KB)}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        CaseWorld.build(cls)

    def create(self, category=CATEGORY, token=None):
        body = {"location": {"type": "Point", "coordinates": [self.x, self.y]}, "category": category, "source": "hotline",
                "description": "暴露垃圾"}
        r = self.s.request("POST", "/v1/incidents", body, token=token or self.admin)
        self.assertEqual(r.status, 201, r)
        return r.json["id"]

    def act(self, case, action, token=None, headers=None, **extra):
        return self.s.request("PATCH", f"/v1/incidents/{case}", dict(action=action, **extra), token=token or self.admin,
                              headers=headers)

    def ok(self, case, action, **extra):
        r = self.act(case, action, **extra)
        self.assertEqual(r.status, 200, (action, r))
        return r.json

    def get(self, case):
        r = self.s.request("GET", f"/v1/incidents/{case}", token=self.admin)
        self.assertEqual(r.status, 200, r)
        return r.json

    def worker(self, i):
        return f"worker:{self.workers[i]}"

    def handled_by_worker_0(self):
        """A case at feedback, handled by the first worker."""
        case = self.create()
        self.ok(case, "register")
        self.ok(case, "dispatch", assignee=self.worker(0))
        self.ok(case, "handle")
        self.ok(case, "feedback", note="清理完毕")
        return case

    # -- departments -------------------------------------------------------------------------

    def test_departments_crud_scoped_and_audited(self):
        name = "住建-" + uuid.uuid4().hex[:6]
        r = self.s.request("POST", "/v1/departments", {"name": name, "scope": [self.township], "categories": ["违章建筑"],
                                                       "phone": "12345"}, token=self.admin)
        self.assertEqual(r.status, 201, r)
        dep = r.json
        self.assertEqual((dep["scope"], dep["categories"], dep["assignee"]), ([self.township], ["违章建筑"], f"department:{dep['id']}"))
        self.assertTrue(r.header("Location").endswith(f"/v1/departments/{dep['id']}"))
        etag = r.header("ETag")
        self.assertProblem(self.s.request("POST", "/v1/departments", {"name": name, "scope": [self.county], "categories": ["x"]},
                                          token=self.admin), 409, "name_taken")
        self.assertProblem(self.s.request("POST", "/v1/departments", {"name": "无效", "scope": ["330599999"], "categories": ["x"]},
                                          token=self.admin), 422, "unknown_area")
        self.assertProblem(self.s.request("POST", "/v1/departments", {"name": "空", "scope": [], "categories": ["x"]},
                                          token=self.admin), 422, "missing_property")
        dispatcher = self.s.token("dispatcher")
        self.assertProblem(self.s.request("POST", "/v1/departments", {"name": "调度建的", "scope": [self.county], "categories": ["x"]},
                                          token=dispatcher), 403, "role_forbidden")
        # A manager of another township may neither create in nor change this township's department.
        outsider = self.s.token("manager", scope=self.other_township)
        self.assertProblem(self.s.request("POST", "/v1/departments", {"name": "越界", "scope": [self.township], "categories": ["x"]},
                                          token=outsider), 403, "outside_scope")
        self.assertProblem(self.s.request("GET", f"/v1/departments/{dep['id']}", token=outsider), 403, "outside_scope")
        listed = self.s.request("GET", "/v1/departments?category=" + urllib.parse.quote("违章建筑"),
                                token=dispatcher).json["departments"]
        self.assertIn(dep["id"], [d["id"] for d in listed])
        self.assertTrue(all("违章建筑" in d["categories"] for d in listed))
        self.assertNotIn(dep["id"], [d["id"] for d in self.s.request("GET", "/v1/departments", token=outsider).json["departments"]])

        r = self.s.request("PATCH", f"/v1/departments/{dep['id']}", {"categories": ["违章建筑", "占道经营"]}, token=self.admin,
                           headers={"If-Match": etag})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["categories"], ["占道经营", "违章建筑"])
        self.assertProblem(self.s.request("PATCH", f"/v1/departments/{dep['id']}", {"name": "再改"}, token=self.admin,
                                          headers={"If-Match": etag}), 412, "precondition_failed")
        r = self.s.request("DELETE", f"/v1/departments/{dep['id']}", token=self.admin, headers={"If-Match": r.header("ETag")})
        self.assertEqual(r.status, 204, r)
        self.assertTrue(self.s.request("GET", f"/v1/departments/{dep['id']}", token=self.admin).json["retired"])
        self.assertProblem(self.s.request("PATCH", f"/v1/departments/{dep['id']}", {"name": "x"}, token=self.admin),
                           404, "department_not_found")
        audit = self.s.sql(f"SELECT action, version_before, version_after FROM audit_log WHERE target_type = 'department' "
                           f"AND target = '{dep['id']}' ORDER BY id")
        self.assertEqual(audit, [["department.create", "", "1"], ["department.update", "1", "2"], ["department.retire", "2", "3"]])

    def test_a_department_with_open_cases_is_not_retired(self):
        r = self.s.request("POST", "/v1/departments", {"name": "市场监管-" + uuid.uuid4().hex[:6], "scope": [self.county],
                                                       "categories": [CATEGORY]}, token=self.admin)
        dep = r.json["id"]
        case = self.create()
        self.ok(case, "register")
        self.ok(case, "dispatch", assignee=f"department:{dep}")
        self.assertProblem(self.s.request("DELETE", f"/v1/departments/{dep}", token=self.admin), 409, "department_in_use")
        self.ok(case, "redispatch", assignee=f"department:{self.department}")
        self.assertEqual(self.s.request("DELETE", f"/v1/departments/{dep}", token=self.admin).status, 204)
        # A retired department takes no more cases.
        other = self.create()
        self.ok(other, "register")
        self.assertProblem(self.act(other, "dispatch", assignee=f"department:{dep}"), 422, "unknown_assignee")

    # -- dispatch ----------------------------------------------------------------------------

    def test_the_assignee_is_named_in_the_case_and_on_the_board(self):
        name = "综合执法-" + uuid.uuid4().hex[:6]
        dep = self.s.request("POST", "/v1/departments", {"name": name, "scope": [self.county], "categories": [CATEGORY]},
                             token=self.admin).json["id"]
        by_department, by_worker, undispatched = self.create(), self.create(), self.create()
        for case in (by_department, by_worker):
            self.ok(case, "register")
        self.ok(by_department, "dispatch", assignee=f"department:{dep}")
        self.ok(by_worker, "dispatch", assignee=self.worker(0))
        worker_name = self.s.request("GET", f"/v1/workers/{self.workers[0]}", token=self.admin).json["name"]
        self.assertEqual(self.get(by_department)["assignee_name"], name)
        self.assertEqual(self.get(by_worker)["assignee_name"], worker_name)
        self.assertIsNone(self.get(undispatched)["assignee_name"])
        board = self.s.request("GET", "/v1/incidents?open=true&limit=1000", token=self.admin)
        self.assertEqual(board.status, 200, board)
        names = {c["id"]: c["assignee_name"] for c in board.json["incidents"]}
        self.assertEqual(names[by_department], name)
        self.assertEqual(names[by_worker], worker_name)
        self.assertIsNone(names[undispatched])
        # A board asks only for what its rows show: the same cases, those members only (id always).
        slim = self.s.request("GET", "/v1/incidents?open=true&limit=1000&fields=status,assignee_name,grid_name,grid_name",
                              token=self.admin)
        self.assertEqual(slim.status, 200, slim)
        self.assertEqual(slim.json["numberMatched"], board.json["numberMatched"])
        self.assertEqual(slim.json["counts"], board.json["counts"])
        full = {c["id"]: c for c in board.json["incidents"]}
        # A case stored without its hierarchy (the tests' sample cases) is named by its grid.
        grid_names = dict(self.s.sql("SELECT code, name FROM areas WHERE level = 'grid' AND valid_to IS NULL"))
        self.assertTrue(any(not c["hierarchy"] for c in full.values()), "test precondition: a case without its hierarchy")
        for c in slim.json["incidents"]:
            self.assertEqual(set(c), {"id", "status", "assignee_name", "grid_name"}, c)
            self.assertEqual(c["status"], full[c["id"]]["status"])
            whole = full[c["id"]]
            self.assertEqual(c["grid_name"], whole["hierarchy"][-1]["name"] if whole["hierarchy"] else grid_names.get(whole["grid"]))
        self.assertEqual({c["id"]: c["assignee_name"] for c in slim.json["incidents"]}, names)
        self.assertLess(len(slim.body), len(board.body) / 3)
        self.assertProblem(self.s.request("GET", "/v1/incidents?fields=status,password", token=self.admin), 400, "invalid_parameter")

    def test_a_page_says_what_each_case_says_and_fields_only_trim_it(self):
        # The list builds its members apart from the detail (only those asked for): every member
        # must still be the detail's, whichever members are asked for.
        members = {"id", "location", "category", "source", "status", "description", "reporter", "grid", "microgrid", "method",
                   "distance_m", "hierarchy", "input_crs", "input_coordinates", "reported_at", "dispatched_at", "deadline",
                   "closed_at", "held_from", "version", "overdue", "assignee", "handled_by", "rework_count", "verified_at",
                   "assignee_name", "suggested_assignee", "suggested_assignee_name", "grid_name"}
        by_department, by_worker, registered, unclaimed = self.create(), self.create(), self.create(), self.create(category="无人认领类别")
        for case in (by_department, by_worker, registered, unclaimed):
            self.ok(case, "register")
        self.ok(by_department, "dispatch", assignee=f"department:{self.department}")
        self.ok(by_worker, "dispatch", assignee=self.worker(0))
        self.ok(by_worker, "handle")
        query = f"/v1/incidents?area={self.grid}&open=true&sort=deadline&limit=10000"
        page = self.s.request("GET", query, token=self.admin).json
        items = {i["id"]: i for i in page["incidents"]}
        for case in (by_department, by_worker, registered, unclaimed):
            item, detail = items[case], self.get(case)
            self.assertEqual(set(item), members, case)
            for name in members - {"grid_name", "suggested_assignee_name"}:
                self.assertEqual(item[name], detail[name], (case, name))
            self.assertEqual(item["grid_name"], detail["hierarchy"][-1]["name"])
            suggested = detail["suggested_assignees"]
            self.assertEqual(item["suggested_assignee_name"], suggested[0]["name"] if suggested else None, case)
        self.assertEqual(items[by_worker]["assignee_name"], self.get(by_worker)["assignee_name"])
        self.assertIsNotNone(items[by_department]["deadline"])
        # Asking for members keeps the cases, their order and the counts; each case carries its id
        # and exactly the members asked for, with the values of the whole page.
        order = [i["id"] for i in page["incidents"]]
        for fields in [[m] for m in sorted(members)] + [["grid_name", "suggested_assignee", "assignee_name", "location"]]:
            slim = self.s.request("GET", query + "&fields=" + ",".join(fields), token=self.admin)
            self.assertEqual(slim.status, 200, slim)
            self.assertEqual((slim.json["numberMatched"], slim.json["counts"]), (page["numberMatched"], page["counts"]), fields)
            self.assertEqual([i["id"] for i in slim.json["incidents"]], order, fields)
            for i in slim.json["incidents"]:
                self.assertEqual(i, {k: items[i["id"]][k] for k in ["id"] + fields}, fields)

    def test_dispatch_requires_a_known_assignee_serving_the_case(self):
        case = self.create()
        self.ok(case, "register")
        self.assertProblem(self.act(case, "dispatch"), 422, "assignee_required")
        self.assertProblem(self.act(case, "dispatch", assignee="城管"), 422, "invalid_assignee")
        self.assertProblem(self.act(case, "dispatch", assignee="worker:0"), 422, "invalid_assignee")
        self.assertProblem(self.act(case, "dispatch", assignee="department:987654321"), 422, "unknown_assignee")
        self.assertProblem(self.act(case, "dispatch", assignee="worker:987654321"), 422, "unknown_assignee")
        self.assertProblem(self.act(case, "dispatch", assignee=f"worker:{self.stranger}"), 422, "assignee_out_of_scope")
        far = self.s.request("POST", "/v1/departments", {"name": "外乡城管-" + uuid.uuid4().hex[:6], "scope": [self.other_township],
                                                         "categories": [CATEGORY]}, token=self.admin).json["id"]
        self.assertProblem(self.act(case, "dispatch", assignee=f"department:{far}"), 422, "assignee_out_of_scope")
        wrong_trade = self.s.request("POST", "/v1/departments", {"name": "水务-" + uuid.uuid4().hex[:6], "scope": [self.county],
                                                                 "categories": ["供水"]}, token=self.admin).json["id"]
        self.assertProblem(self.act(case, "dispatch", assignee=f"department:{wrong_trade}"), 422, "assignee_out_of_scope")
        # None of the refusals moved the case or logged a step.
        doc = self.get(case)
        self.assertEqual((doc["status"], doc["assignee"]), ("register", None))
        self.assertEqual([e["action"] for e in doc["events"]], ["collect", "register"])
        done = self.ok(case, "dispatch", assignee=f"department:{self.department}")
        self.assertEqual((done["status"], done["assignee"]), ("dispatch", f"department:{self.department}"))
        self.assertEqual(done["events"][-1]["detail"]["assignee"], f"department:{self.department}")
        self.assertEqual(self.s.sql(f"SELECT assignee FROM incidents WHERE id = {case}"), [[f"department:{self.department}"]])
        mine = self.s.request("GET", f"/v1/incidents?assignee=department:{self.department}&limit=10000", token=self.admin).json
        self.assertIn(case, [i["id"] for i in mine["incidents"]])
        self.assertTrue(all(i["assignee"] == f"department:{self.department}" for i in mine["incidents"]))

    def test_registered_cases_carry_a_suggested_assignee(self):
        case = self.create()
        doc = self.ok(case, "register")
        self.assertEqual(doc["suggested_assignee"], f"department:{self.department}")
        reasons = {s["reason"]: s["assignee"] for s in doc["suggested_assignees"]}
        self.assertEqual(reasons["category"], f"department:{self.department}")
        # The grid's first worker, as the database orders the grid's current assignments.
        first = self.s.sql(f"SELECT worker_id FROM worker_assignments WHERE grid_code = '{self.grid}' AND unassigned_at IS NULL "
                           "ORDER BY assigned_at, worker_id LIMIT 1")[0][0]
        self.assertEqual(reasons["grid"], f"worker:{first}")
        # No department handles this category: the grid's worker is the suggestion.
        other = self.create(category="无人认领类别")
        self.assertEqual(self.get(other)["suggested_assignee"], f"worker:{first}")

    def test_list_items_carry_the_suggested_assignee_of_their_detail(self):
        by_department = self.create()
        self.ok(by_department, "register")
        by_worker = self.create(category="无人认领类别")
        self.ok(by_worker, "register")
        first = self.s.sql(f"SELECT w.id, w.name FROM worker_assignments wa JOIN workers w ON w.id = wa.worker_id "
                           f"WHERE wa.grid_code = '{self.grid}' AND wa.unassigned_at IS NULL "
                           "ORDER BY wa.assigned_at, w.id LIMIT 1")[0]
        department_name = self.s.sql(f"SELECT name FROM departments WHERE id = {self.department}")[0][0]
        page = self.s.request("GET", f"/v1/incidents?area={self.grid}&status=register&limit=10000", token=self.admin).json
        items = {i["id"]: i for i in page["incidents"]}
        self.assertEqual((items[by_department]["suggested_assignee"], items[by_department]["suggested_assignee_name"]),
                         (f"department:{self.department}", department_name))
        self.assertEqual((items[by_worker]["suggested_assignee"], items[by_worker]["suggested_assignee_name"]),
                         (f"worker:{first[0]}", first[1]))
        # Every item of the page says what its own detail says.
        for case_id, item in list(items.items())[:20]:
            self.assertEqual(item["suggested_assignee"], self.get(case_id)["suggested_assignee"], case_id)
        # A case outside every grid and department has no suggestion (null, not absent).
        far = self.s.request("POST", "/v1/incidents", {"location": {"type": "Point", "coordinates": [60.0, 10.0]},
                                                       "category": "无人认领类别", "source": "hotline"}, token=self.admin)
        if far.status == 201:
            listed = self.s.request("GET", f"/v1/incidents?limit=10000&category=" + urllib.parse.quote("无人认领类别"),
                                    token=self.admin).json["incidents"]
            item = next(i for i in listed if i["id"] == far.json["id"])
            self.assertIsNone(item["suggested_assignee"])

    def test_redispatch_and_return_keep_the_chain(self):
        case = self.create()
        self.ok(case, "register")
        first = self.ok(case, "dispatch", assignee=f"department:{self.department}")
        moved = self.ok(case, "redispatch", assignee=self.worker(0), note="就近处置")
        self.assertEqual((moved["status"], moved["assignee"]), ("dispatch", self.worker(0)))
        self.assertEqual(moved["deadline"], first["deadline"])  # the clock runs on
        self.assertProblem(self.act(case, "redispatch", assignee=self.worker(0)), 422, "invalid_assignee")
        back = self.ok(case, "return", note="不属本人")
        self.assertEqual((back["status"], back["assignee"]), ("register", None))
        self.ok(case, "dispatch", assignee=self.worker(1))
        self.ok(case, "handle")
        self.assertEqual(self.ok(case, "return")["status"], "dispatch")
        chain = [(e["action"], e["detail"].get("assignee"), e["detail"].get("previous_assignee")) for e in self.get(case)["events"]
                 if e["action"] in ("dispatch", "redispatch", "return")]
        self.assertEqual(chain, [("dispatch", f"department:{self.department}", None),
                                 ("redispatch", self.worker(0), f"department:{self.department}"),
                                 ("return", self.worker(0), None),
                                 ("dispatch", self.worker(1), None),
                                 ("return", self.worker(1), None)])

    # -- verification ------------------------------------------------------------------------

    def test_verification_by_another_worker_of_the_grid(self):
        case = self.handled_by_worker_0()
        self.assertEqual(self.get(case)["handled_by"], self.worker(0))
        self.assertProblem(self.act(case, "close"), 409, "transition_not_allowed")
        self.assertProblem(self.act(case, "verify"), 422, "verifier_required")
        self.assertProblem(self.act(case, "verify", worker=self.workers[0]), 422, "verifier_is_handler")
        self.assertProblem(self.act(case, "verify", worker=self.stranger), 422, "verifier_not_in_grid")
        self.assertProblem(self.act(case, "verify", worker=987654321), 422, "unknown_worker")
        self.assertProblem(self.act(case, "verify", worker=self.workers[1], attachments=["ftp://x"]), 422, "invalid_property")
        self.assertEqual(self.get(case)["status"], "feedback")
        status, _, body = raw_request(self.s, "POST", f"/v1/incidents/{case}/attachments?kind=after", png_bytes(), self.admin, "image/png")
        self.assertEqual(status, 201, body)
        photo = json.loads(body)["id"]
        # A grid worker's own token may verify (and the worker is named in the body).
        worker_token = self.s.token("worker")
        r = self.act(case, "verify", token=worker_token, worker=self.workers[1], note="现场已清理",
                     attachments=[photo, "https://example.org/p/1.jpg"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "verified")
        self.assertIsNotNone(r.json["verified_at"])
        verify = r.json["events"][-1]
        self.assertEqual((verify["action"], verify["detail"]["worker"], verify["detail"]["handled_by"]),
                         ("verify", self.worker(1), self.worker(0)))
        self.assertEqual(verify["detail"]["attachments"], [{"attachment": photo}, {"url": "https://example.org/p/1.jpg"}])
        closed = self.ok(case, "close")
        self.assertEqual(closed["status"], "closed")
        self.assertEqual(self.s.sql(f"SELECT verified_at IS NOT NULL, rework_count FROM incidents WHERE id = {case}"), [["t", "0"]])

    def test_rework_is_counted(self):
        case = self.handled_by_worker_0()
        self.assertProblem(self.act(case, "rework", worker=self.workers[1]), 422, "missing_property")
        for n in (1, 2):
            r = self.ok(case, "rework", worker=self.workers[1], note=f"第{n}次: 仍有垃圾")
            self.assertEqual((r["status"], r["rework_count"]), ("handle", n))
            self.ok(case, "feedback")
        self.assertEqual(self.s.sql(f"SELECT rework_count, verified_at IS NULL FROM incidents WHERE id = {case}"), [["2", "t"]])
        reworks = [e for e in self.get(case)["events"] if e["action"] == "rework"]
        self.assertEqual([e["detail"]["worker"] for e in reworks], [self.worker(1)] * 2)
        self.assertEqual(self.ok(case, "verify", worker=self.workers[1])["status"], "verified")

    # -- supervision -------------------------------------------------------------------------

    def dispatched_due_soon(self):
        case = self.create()
        self.ok(case, "register")
        self.ok(case, "dispatch", assignee=self.worker(0))
        return case

    def test_urging_is_logged_and_shown(self):
        case = self.dispatched_due_soon()
        # Ten days ahead: nothing to urge yet.
        self.s.sql(f"UPDATE incidents SET deadline = now() + interval '10 days' WHERE id = {case}")
        doc = self.assertProblem(self.act(case, "urge"), 409, "not_urgent")
        self.assertGreater(doc["remaining_working_minutes"], 8 * 60)
        self.s.sql(f"UPDATE incidents SET deadline = now() - interval '1 hour' WHERE id = {case}")
        self.assertProblem(self.act(case, "urge", token=self.s.token("worker")), 403, "role_forbidden")
        self.assertProblem(self.act(case, "urge", token=self.s.token("viewer")), 403, "role_forbidden")
        etag = self.get(case)["etag"]
        r = self.act(case, "urge", token=self.s.token("dispatcher"), note="群众反复投诉, 今日办结", headers={"If-Match": etag})
        self.assertEqual(r.status, 200, r)
        self.assertNotEqual(r.header("ETag"), etag)
        self.assertProblem(self.act(case, "urge", headers={"If-Match": etag}), 412, "precondition_failed")
        self.ok(case, "urge", token=self.s.token("manager"))
        doc = self.get(case)
        self.assertEqual(doc["status"], "dispatch")
        self.assertEqual([(u["assignee"], u["note"], u["answered_at"]) for u in doc["urgings"]],
                         [(self.worker(0), "群众反复投诉, 今日办结", None), (self.worker(0), "", None)])
        urges = [e for e in doc["events"] if e["action"] == "urge"]
        self.assertEqual(len(urges), 2)
        self.assertTrue(urges[0]["detail"]["overdue"])
        self.assertTrue(urges[0]["actor"].startswith("dispatcher#"))
        self.assertEqual(self.s.sql(f"SELECT count(*) FROM incident_urgings WHERE incident_id = {case}"), [["2"]])
        # The assignee finds the urged case among its own.
        mine = self.s.request("GET", f"/v1/incidents?assignee={self.worker(0)}&status=dispatch&limit=10000", token=self.admin).json
        self.assertIn(case, [i["id"] for i in mine["incidents"]])
        # Soon due (within a working day) may be urged too.
        soon = self.dispatched_due_soon()
        self.s.sql(f"UPDATE incidents SET deadline = now() + interval '30 minutes' WHERE id = {soon}")
        self.assertEqual(self.act(soon, "urge").status, 200)

    def test_escalation_after_the_configured_time(self):
        period = ESCALATE_MINUTES * 60
        case = self.dispatched_due_soon()
        self.s.sql(f"UPDATE incidents SET deadline = now() - interval '1 hour' WHERE id = {case}")
        urged = self.ok(case, "urge", note="督办")
        urging = urged["urgings"][0]
        at = datetime.datetime.fromisoformat(urging["at"].replace("Z", "+00:00"))
        above = [h for h in reversed(urged["hierarchy"]) if h["level"] not in ("grid", "microgrid")]
        self.assertEqual(above[0]["level"], "village")
        self.assertEqual(self.get(case)["urgings"][0]["level"], 0)  # well within the period
        time.sleep(max(0.0, at.timestamp() + period + 0.3 - time.time()))
        doc = self.get(case)
        self.assertEqual(doc["urgings"][0]["level"], 1, doc["urgings"])
        step = doc["urgings"][0]["escalations"][0]
        self.assertEqual(step["to"]["code"], above[0]["code"])
        # Recorded at the moment it fell due, not when it was noticed.
        due = datetime.datetime.fromisoformat(step["at"].replace("Z", "+00:00"))
        self.assertAlmostEqual((due - at).total_seconds(), period, delta=0.01)
        time.sleep(max(0.0, at.timestamp() + 2 * period + 0.3 - time.time()))
        doc = self.get(case)
        self.assertEqual([s["to"]["code"] for s in doc["urgings"][0]["escalations"]], [above[0]["code"], above[1]["code"]])
        self.assertEqual(above[1]["level"], "township")
        self.assertEqual([e["detail"]["level"] for e in doc["events"] if e["action"] == "escalate"], [1, 2])
        # Handling answers the urging: it climbs no further.
        handled = self.ok(case, "handle")
        self.assertIsNotNone(handled["urgings"][0]["answered_at"])
        time.sleep(period + 0.3)
        doc = self.get(case)
        self.assertEqual(doc["urgings"][0]["level"], 2)
        self.assertEqual(len([e for e in doc["events"] if e["action"] == "escalate"]), 2)

    # -- attachments -------------------------------------------------------------------------

    def test_attachments_round_trip_and_limits(self):
        case = self.create()
        for kind, data, declared, ctype in (("before", png_bytes(), "image/png", "image/png"),
                                            ("before", jpeg_bytes(), "text/plain", "image/jpeg"),
                                            ("after", webp_bytes(), "application/octet-stream", "image/webp")):
            status, headers, body = raw_request(self.s, "POST", f"/v1/incidents/{case}/attachments?kind={kind}", data,
                                                self.admin, declared)
            self.assertEqual(status, 201, body)
            doc = json.loads(body)
            self.assertEqual((doc["kind"], doc["content_type"], doc["size_bytes"]), (kind, ctype, len(data)))
            status, headers, back = raw_request(self.s, "GET", doc["href"], token=self.admin)
            self.assertEqual(status, 200)
            self.assertEqual(back, data)
            self.assertEqual(headers["Content-Type"], ctype)
        listed = self.s.request("GET", f"/v1/incidents/{case}/attachments", token=self.admin).json["attachments"]
        self.assertEqual([a["kind"] for a in listed], ["before", "before", "after"])
        self.assertEqual([a["id"] for a in self.get(case)["attachments"]], [a["id"] for a in listed])
        self.assertEqual(sum(1 for e in self.get(case)["events"] if e["action"] == "attach"), 3)

        def refused(data, declared="image/png", kind="before", token=None):
            status, headers, body = raw_request(self.s, "POST", f"/v1/incidents/{case}/attachments?kind={kind}", data,
                                                token or self.admin, declared)
            return Reply(status, headers, body.decode("utf-8"))

        self.assertProblem(refused(b"GIF89a" + bytes(100), "image/gif"), 415, "unsupported_image")
        self.assertProblem(refused(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"), 415, "unsupported_image")
        self.assertProblem(refused(jpeg_bytes(), "image/png"), 415, "unsupported_image")  # declared one thing, sent another
        self.assertProblem(refused(b""), 415, "unsupported_image")
        big = png_bytes() + bytes(MAX_KB * 1024)
        doc = self.assertProblem(refused(big), 413, "attachment_too_large")
        self.assertEqual(doc["max_bytes"], MAX_KB * 1024)
        self.assertEqual(refused(png_bytes() + bytes(MAX_KB * 1024 - len(png_bytes()))).status, 201)  # exactly the limit
        self.assertProblem(refused(png_bytes(), kind="during"), 400, "invalid_parameter")
        self.assertProblem(refused(png_bytes(), token=self.s.token("viewer")), 403, "role_forbidden")
        outsider = self.s.token("dispatcher", scope=self.other_township)
        self.assertProblem(refused(png_bytes(), token=outsider), 403, "outside_scope")
        self.assertProblem(self.s.request("GET", f"/v1/incidents/{case}/attachments/987654321", token=self.admin),
                           404, "attachment_not_found")
        self.assertEqual(self.s.sql(f"SELECT count(*) FROM incident_attachments WHERE incident_id = {case}"), [["4"]])
        self.ok(case, "cancel")
        self.assertProblem(refused(png_bytes()), 409, "case_closed")


class AttachmentsSurviveARestart(ApiTestCase):
    def test_bytes_come_back_from_a_new_server_process(self):
        code, x, y = self.s.sql("SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM areas "
                                "WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 1) t")[0]
        case = self.s.request("POST", "/v1/incidents", {"location": {"type": "Point", "coordinates": [float(x), float(y)]},
                                                        "category": CATEGORY, "source": "app"}, token=self.admin).json["id"]
        photos = {}
        for data in (png_bytes(40, 30), jpeg_bytes(20000)):
            status, _, body = raw_request(self.s, "POST", f"/v1/incidents/{case}/attachments?kind=before", data, self.admin,
                                          "application/octet-stream")
            self.assertEqual(status, 201, body)
            photos[json.loads(body)["href"]] = data
        # Stop this server process and serve the same database from a new one.
        self.s.proc.terminate()
        self.s.proc.wait(timeout=10)
        second = Server(database=self.s.db)
        self.addCleanup(second.stop)
        self.assertNotEqual(second.proc.pid, self.s.proc.pid)
        for href, data in photos.items():
            status, headers, back = raw_request(second, "GET", href, token=self.admin)
            self.assertEqual(status, 200)
            self.assertEqual(back, data)
        self.assertEqual(len(second.request("GET", f"/v1/incidents/{case}", token=self.admin).json["attachments"]), 2)


if __name__ == "__main__":
    unittest.main()
