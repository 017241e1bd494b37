"""The console at /console: the area search it relies on (GET /v1/areas?q=), and the journeys of
the people who use it, walked in Debian's Chromium (tests/browser/console_*.mjs) by clicking and
typing, with the results checked here through the API and the database."""
import json
import os
import subprocess
import unittest
import urllib.parse

from harness import ApiTestCase
from mars import to_gcj02

PASSWORD = "青山绿水-2026"
VILLAGE = "330521001001"


def npm_dir():
    return os.environ.get("WANGGE_NPM_DIR") or os.path.join(os.path.dirname(os.environ["WANGGE_BIN"]), "npm")


def artefact_dir():
    d = os.path.join(os.path.dirname(os.environ["WANGGE_BIN"]), "test-artifacts")
    os.makedirs(d, exist_ok=True)
    return d


def ring(geometry):
    return geometry["coordinates"][0][0] if geometry["type"] == "MultiPolygon" else geometry["coordinates"][0]


class AreaSearch(ApiTestCase):
    """GET /v1/areas?q=: a name fragment or the start of a code, within the caller's scope."""

    def search(self, text, token=None):
        return self.get("/v1/areas?" + urllib.parse.urlencode({"q": text, "limit": 100}), token)

    def test_by_name_by_code_and_within_scope(self):
        r = self.search("泰圩社区第2网格")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([f["properties"]["code"] for f in r.json["features"]], ["330521001001002"])
        r = self.search("泰圩社区")
        names = [f["properties"]["name"] for f in r.json["features"]]
        self.assertGreater(len(names), 2)
        self.assertTrue(all("泰圩社区" in n for n in names), names)
        self.assertEqual(r.json["numberMatched"], len(names))
        r = self.get("/v1/areas?q=330521001001&level=grid&limit=100")
        codes = [f["properties"]["code"] for f in r.json["features"]]
        self.assertEqual(codes, self.grids_of(VILLAGE))
        # Out of scope: left out, as in every listing.
        scoped = self.s.token("manager", scope="330521002")
        self.assertEqual(self.search("泰圩社区", scoped).json["features"], [])
        self.assertProblem(self.get("/v1/areas?q="), 400, "invalid_parameter")
        self.assertProblem(self.search("网" * 40), 400, "invalid_parameter")

    def test_the_console_page_and_its_script_are_served(self):
        r = self.s.request("GET", "/console")
        self.assertEqual(r.status, 200, r)
        self.assertIn('lang="zh-CN"', r.body)
        self.assertIn("/vendor/console.js", r.body)
        for name, kind in (("console.js", "text/javascript"), ("console.css", "text/css")):
            r = self.s.request("GET", "/vendor/" + name)
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.header("Content-Type").startswith(kind))
        self.assertNotIn("cdn", self.s.request("GET", "/console").body.lower())

    def test_maplibre_is_its_own_script_before_the_console(self):
        # The browser compiles the two side by side and the map's worker starts before the
        # console's code runs: the page names MapLibre first, and the console's bundle is without it.
        page = self.s.request("GET", "/console").body
        self.assertIn("/vendor/maplibre-gl.js", page)
        self.assertLess(page.index("/vendor/maplibre-gl.js"), page.index("/vendor/console.js"))
        library = self.s.request("GET", "/vendor/maplibre-gl.js")
        self.assertEqual(library.status, 200, library)
        self.assertIn("MapLibre GL JS", library.body)
        console = self.s.request("GET", "/vendor/console.js")
        self.assertNotIn("MapLibre GL JS", console.body)
        self.assertIn("TerraDraw", console.body)


class ConsoleJourneys(ApiTestCase):
    """People doing their job in the browser; every screen's screenshot is a test artefact."""

    def setUp(self):
        if not os.path.exists(os.path.join(npm_dir(), "node_modules", "playwright-core")):
            self.fail("playwright-core is not installed (tools/test installs it into build/npm)")

    def person(self, login, name, role, scope=None):
        args = [self.s.bin, "user", "create", "--login", login, "--name", name, "--role", role, "--password-stdin"]
        if scope:
            args += ["--scope", scope]
        done = subprocess.run(args, env=self.s.env, input=PASSWORD + "\n", capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)

    def browse(self, script, plan, shots):
        r = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "..", "browser", script), self.s.base,
                            json.dumps(plan), artefact_dir()],
                           env=dict(os.environ, WANGGE_NPM_DIR=npm_dir()), capture_output=True, text=True, timeout=280)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for shot in shots:
            self.assertGreater(os.path.getsize(os.path.join(artefact_dir(), shot)), 5000, shot)
        return json.loads(r.stdout.strip().splitlines()[-1])

    def moved_m2(self, code, geometry):
        """The ground (m²) where the current area and a GeoJSON geometry differ."""
        return float(self.s.sql(f"SELECT ST_Area(ST_SymDifference({self.geom_of(code)}, "
                                f"ST_SetSRID(ST_GeomFromGeoJSON('{json.dumps(geometry)}'), 4490))::geography)")[0][0])

    def shared_vertex(self, a, b):
        """A vertex of grid a in the middle of a border it shares with grid b (its neighbours on a's
        ring are b's vertices too), so moving it into b changes only a and b."""
        ra, rb = ring(self.area(a)[0]["geometry"]), ring(self.area(b)[0]["geometry"])
        in_b = {tuple(c) for c in rb}
        pts = ra[:-1]
        for i, c in enumerate(pts):
            if tuple(c) in in_b and tuple(pts[i - 1]) in in_b and tuple(pts[(i + 1) % len(pts)]) in in_b:
                return c
        return None

    def test_a_manager_redraws_a_grid_previews_commits_and_restores(self):
        self.person("wangwu", "王五", "manager", "330521001")
        grids = self.grids_of(VILLAGE)
        a = b = v = None
        for x in grids:
            for y in grids:
                if x != y and (v := self.shared_vertex(x, y)):
                    a, b = x, y
                    break
            if a:
                break
        self.assertIsNotNone(a, "no two grids of the village share a border of three vertices")
        fa, etag_a = self.area(a)
        fb, etag_b = self.area(b)
        # The vertex moves a quarter of the way to b's centre: the ground around the midpoint of
        # that move passes from b to a, and so does a case reported there.
        cx, cy = (float(x) for x in self.s.sql(f"SELECT ST_X(c), ST_Y(c) FROM ST_PointOnSurface({self.geom_of(b)}) c")[0])
        t = [v[0] + 0.3 * (cx - v[0]), v[1] + 0.3 * (cy - v[1])]
        m = [(v[0] + t[0]) / 2, (v[1] + t[1]) / 2]
        made = self.s.request("POST", "/v1/incidents", {"location": {"type": "Point", "coordinates": m}, "category": "市容环境",
                                                         "source": "hotline", "description": "占道经营"}, token=self.admin)
        self.assertEqual(made.status, 201, made)
        incident = made.json["id"]
        self.assertEqual(self.s.sql(f"SELECT grid_code FROM incidents WHERE id = {incident}")[0][0], b)
        interloper = self.s.token("admin", name="值班电脑")
        out = self.browse("console_grids_check.mjs", {
            "login": "wangwu", "password": PASSWORD, "name": fa["properties"]["name"], "code": a, "neighbour": b,
            "vertex": v, "target": t, "probe": m, "incident": incident, "version": fa["properties"]["version"],
            "interloper": interloper}, ["console-signin.png", "console-grid-found.png", "console-redraw-preview.png",
                                        "console-redraw-conflict.png", "console-redraw-committed.png",
                                        "console-restore-preview.png", "console-restored.png"])
        # Through the API: two new versions of a by the person (the redraw, then the restore), b
        # adjusted twice, both borders back where they were, the case back in b.
        history = self.get(f"/v1/areas/{a}/history").json["versions"]
        v0 = fa["properties"]["version"]
        self.assertEqual([h["properties"]["version"] for h in history][:3], [v0 + 2, v0 + 1, v0])
        self.assertTrue(all(h["properties"]["changed_by"] == "wangwu (王五)" for h in history[:2]), history[:2])
        self.assertLess(self.moved_m2(a, fa["geometry"]), 0.01, "the restore did not bring the grid's border back")
        self.assertLess(self.moved_m2(b, fb["geometry"]), 0.01, "the restore did not bring the neighbour's border back")
        redrawn = history[1]["geometry"]
        self.assertEqual(self.s.sql(f"SELECT ST_Covers(ST_SetSRID(ST_GeomFromGeoJSON('{json.dumps(redrawn)}'), 4490), ST_SetSRID(ST_MakePoint({m[0]}, {m[1]}), 4490))")[0][0], "t",
                         "the committed redraw did not take the dragged ground")
        self.assertEqual(self.s.sql(f"SELECT grid_code FROM incidents WHERE id = {incident}")[0][0], b)
        self.assertEqual(out["moved_incident_listed"], True)
        self.assertIn("值班电脑", out["conflict_text"])

    def test_a_manager_splits_and_merges_back_and_cannot_edit_another_township(self):
        self.person("sunqi", "孙七", "manager", "330521001")
        grid = self.grids_of(VILLAGE)[-1]
        before, _ = self.area(grid)
        minx, miny, maxx, maxy = (float(x) for x in self.s.sql(
            f"SELECT ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g) FROM (SELECT {self.geom_of(grid)} AS g) s")[0])
        # A line across the middle, reaching a little beyond both sides (within the map the page
        # fits to the grid).
        w, cy = maxx - minx, (miny + maxy) / 2
        line = [[minx - 0.03 * w, cy + 0.0001], [maxx + 0.03 * w, cy - 0.0001]]
        foreign = self.s.sql("SELECT code FROM areas WHERE level = 'grid' AND valid_to IS NULL AND code LIKE '330521002%' ORDER BY code LIMIT 1")[0][0]
        foreign_etag = self.area(foreign)[1]
        out = self.browse("console_split_check.mjs", {"login": "sunqi", "password": PASSWORD, "code": grid, "line": line, "foreign": foreign},
                          ["console-split-preview.png", "console-split-committed.png", "console-merge-preview.png",
                           "console-merge-committed.png", "console-outside-scope.png"])
        # Split: the grid retired into two pieces; merge: the pieces retired into one grid that
        # covers exactly the old ground.
        self.assertProblem(self.get("/v1/areas/" + grid), 410, "area_retired")
        pieces = [c for c in out["preview_codes"] if c != grid]
        self.assertEqual(len(pieces), 2, out)
        for c in pieces:
            self.assertProblem(self.get("/v1/areas/" + c), 410, "area_retired")
        merged, _ = self.area(out["merged"])
        self.assertEqual(merged["properties"]["changed_by"], "sunqi (孙七)")
        self.assertLess(self.moved_m2(out["merged"], before["geometry"]), 1.0, "the merged grid does not cover the split grid's ground")
        lineage = self.get(f"/v1/areas/{out['merged']}/lineage").json
        self.assertEqual(sorted(p["predecessor"] for p in lineage["predecessors"] if p["operation"] == "merge"), sorted(pieces))
        self.assertTrue(all(p["predecessor"] == grid for p in lineage["predecessors"] if p["operation"] == "split"), lineage)
        # Outside the scope: the page says so, the API refused, nothing changed.
        self.assertIn("不在您的管辖范围", out["denied_text"])
        self.assertEqual(out["api_status"], {"status": 403, "code": "outside_scope"})
        self.assertEqual(self.area(foreign)[1], foreign_etag)

    def test_a_dispatcher_takes_a_gcj02_case_dispatches_it_to_the_nearest_worker_and_closes_it(self):
        self.person("zhaoliu", "赵六", "dispatcher")
        # A point on a grid with a worker; the worker stands 150 m away, seen a minute ago. A
        # second worker of the grid verifies the handled case; a department of the county takes
        # the category (offered in the assignee picker).
        grid = self.grids_of(VILLAGE)[1]
        lon, lat = (float(x) for x in self.s.sql(f"SELECT ST_X(c), ST_Y(c) FROM ST_PointOnSurface({self.geom_of(grid)}) c")[0])
        workers = self.get(f"/v1/areas/{grid}/workers").json["workers"]
        self.assertTrue(workers, "the sample grid has no worker")
        worker = workers[0]["id"]
        r = self.s.request("POST", "/v1/workers", {"name": "核查员", "area": grid[:12]}, token=self.admin)
        self.assertEqual(r.status, 201, r)
        verifier = r.json["id"]
        r = self.s.request("PUT", f"/v1/areas/{grid}/workers", {"workers": [w["id"] for w in workers] + [verifier]}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        r = self.s.request("POST", "/v1/departments", {"name": "县城管执法大队", "scope": [grid[:6]], "categories": ["市容环境"]},
                           token=self.admin)
        self.assertEqual(r.status, 201, r)
        department = r.json["id"]
        self.s.sql("DELETE FROM worker_positions")
        r = self.s.request("POST", f"/v1/workers/{worker}/position", {"lon": lon + 0.0012, "lat": lat + 0.0006}, token=self.admin)
        self.assertEqual(r.status, 201, r)
        # A case dispatched earlier whose deadline has passed: the dispatcher urges it.
        late = self.s.request("POST", "/v1/incidents", {"location": {"type": "Point", "coordinates": [lon - 0.0004, lat]},
                                                         "category": "市容环境", "source": "hotline", "description": "井盖缺失"},
                              token=self.admin).json["id"]
        # And one whose deadline was extended far ahead: urging it would be refused.
        far = self.s.request("POST", "/v1/incidents", {"location": {"type": "Point", "coordinates": [lon + 0.0004, lat]},
                                                        "category": "市容环境", "source": "hotline", "description": "路灯不亮"},
                             token=self.admin).json["id"]
        for case in (late, far):
            for body in ({"action": "register"}, {"action": "dispatch", "assignee": f"department:{department}"}):
                r = self.s.request("PATCH", f"/v1/incidents/{case}", body, token=self.admin)
                self.assertEqual(r.status, 200, r)
        self.s.sql(f"UPDATE incidents SET deadline = now() - interval '2 hours' WHERE id = {late}")
        r = self.s.request("PATCH", f"/v1/incidents/{far}", {"action": "extend", "working_days": 20}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        gcj = list(to_gcj02(lon, lat))
        out = self.browse("console_cases_check.mjs", {"login": "zhaoliu", "password": PASSWORD, "gcj02": gcj, "verifier": verifier,
                                                      "late": late, "far": far, "point4490": [lon + 0.0005, lat],
                                                      "other": self.s.token("dispatcher", name="视频平台")},
                          ["console-case-board.png", "console-case-board-filtered.png", "console-case-intake.png",
                           "console-case-dispatch.png", "console-case-verify.png", "console-case-closed.png",
                           "console-case-urged.png"])
        case = self.get(f"/v1/incidents/{out['id']}").json
        self.assertEqual(case["status"], "closed", out)
        # The chain: dispatched to the nearest worker, handled and reported back by that worker,
        # verified by the other worker of the grid.
        self.assertIsNotNone(case["verified_at"], case)
        self.assertEqual(case["assignee"], f"worker:{worker}")
        self.assertEqual(case["handled_by"], f"worker:{worker}")
        by_action = {e["action"]: e for e in case["events"]}
        self.assertEqual(by_action["dispatch"]["detail"]["assignee"], f"worker:{worker}")
        self.assertEqual(by_action["verify"]["detail"]["worker"], f"worker:{verifier}")
        self.assertEqual(by_action["verify"]["detail"]["handled_by"], f"worker:{worker}")
        # The verifier picker never offered the handler; the assignee picker offered the department.
        self.assertIn(verifier, out["verifier_options"])
        self.assertNotIn(worker, out["verifier_options"], out)
        self.assertIn(f"department:{department}", out["assignee_options"])
        self.assertIn("核查员", out["detail_text"])
        # The late case: urged through the page, the urging recorded and shown.
        urged = self.get(f"/v1/incidents/{late}").json
        self.assertEqual([u["note"] for u in urged["urgings"]], ["群众再次来电，请今天处置"], urged["urgings"])
        self.assertIn("群众再次来电", out["urgings_text"])
        self.assertIn("县城管执法大队", out["late_row"])
        self.assertEqual(case["input_crs"], "gcj02")
        self.assertEqual(case["grid"], grid, "the GCJ-02 coordinate was not located where it lies")
        self.assertIn(grid, out["intake_text"])
        self.assertEqual(out["nearest"], worker)
        # A step refused because someone else changed the case meanwhile says so on the case.
        self.assertIn("refused_step", out, "no state offered extend, so no refusal was tried")
        self.assertIn("未完成", out["refusal"])
        self.assertIn("数据已被他人修改", out["refusal"])
        actions = [e["action"] for e in case["events"]]
        for a in ("register", "dispatch", "handle", "feedback", "verify", "close"):
            self.assertIn(a, actions)
        self.assertTrue(all(e["actor"].startswith("zhaoliu") for e in case["events"]), case["events"])
        dispatched = [e for e in case["events"] if e["action"] == "dispatch"][0]
        self.assertIn(workers[0]["name"], json.dumps(dispatched, ensure_ascii=False))
        # What each state offered is exactly what the lifecycle allows from it, urging only when
        # the case is overdue or due within the lifecycle's urging window (the server refuses
        # it otherwise).
        lifecycle = self.get("/v1/incidents/lifecycle").json
        window = lifecycle["urge_within_working_minutes"]
        for step in out["steps"]:
            urgent = step["overdue"] or (step["remaining"] is not None and step["remaining"] < window)
            allowed = [a["action"] for a in lifecycle["actions"] if step["status"] in a["from"] and (a["action"] != "urge" or urgent)]
            self.assertEqual(sorted(step["offered"]), sorted(allowed), step)
        self.assertTrue(any(s["status"] == "dispatch" for s in out["steps"]), out["steps"])
        self.assertIn("urge", out["late_offered"])
        self.assertNotIn("urge", out["far_offered"])
        self.assertIn("extend", out["far_offered"])
        self.assertProblem(self.s.request("PATCH", f"/v1/incidents/{far}", {"action": "urge"}, token=self.admin), 409, "not_urgent")
        self.assertEqual(out["final_offered"], [])


class CaseLifecycle(ApiTestCase):
    """GET /v1/incidents/lifecycle: the rules the PATCH enforces, as data."""

    def test_the_lifecycle_document_matches_what_patch_enforces(self):
        r = self.get("/v1/incidents/lifecycle")
        self.assertEqual(r.status, 200, r)
        doc = r.json
        self.assertIn("closed", doc["states"])
        self.assertIn("市容环境", doc["categories"]["categories"])
        by_action = {a["action"]: a for a in doc["actions"]}
        self.assertEqual(by_action["register"]["from"], ["collect"])
        self.assertProblem(self.s.request("GET", "/v1/incidents/lifecycle"), 401, "unauthorized")
        # A case in `collect`: every action the document allows from there is accepted by PATCH in
        # principle; one it does not allow is refused with the same list.
        made = self.s.request("POST", "/v1/incidents", {"location": {"type": "Point", "coordinates": [119.98, 30.515]},
                                                        "category": "咨询", "source": "app"}, token=self.admin)
        self.assertEqual(made.status, 201, made)
        allowed = sorted(a["action"] for a in doc["actions"] if "collect" in a["from"])
        refused = next(a["action"] for a in doc["actions"] if "collect" not in a["from"])
        p = self.assertProblem(self.s.request("PATCH", f"/v1/incidents/{made.json['id']}", {"action": refused}, token=self.admin),
                               409, "transition_not_allowed")
        self.assertEqual(sorted(p["allowed_actions"]), allowed)

    def test_each_action_says_what_it_needs_and_patch_refuses_it_without(self):
        doc = self.get("/v1/incidents/lifecycle").json
        needs = {a["action"]: sorted(i["name"] for i in a["inputs"] if i["required"]) for a in doc["actions"]}
        self.assertEqual(needs["dispatch"], ["assignee"])
        self.assertEqual(needs["redispatch"], ["assignee"])
        self.assertEqual(needs["verify"], ["worker"])
        self.assertEqual(needs["rework"], ["note", "worker"])
        self.assertEqual(needs["register"], [])
        verify = next(a for a in doc["actions"] if a["action"] == "verify")
        self.assertEqual(next(i for i in verify["inputs"] if i["name"] == "worker")["excludes"], "handled_by")
        # Urging is accepted within one working day of the deadline: the calendar's day.
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "geodata", "calendar.json"), encoding="utf-8") as f:
            periods = json.load(f)["work_periods"]
        minutes = lambda t: int(t[:2]) * 60 + int(t[3:])  # noqa: E731
        self.assertEqual(doc["urge_within_working_minutes"], sum(minutes(b) - minutes(a) for a, b in periods))
        self.assertEqual(self.get("/v1/incidents/lifecycle").header("Cache-Control"), "no-cache")
        # A case walked to feedback; at each step the action is refused without its required input,
        # then accepted with it.
        made = self.s.request("POST", "/v1/incidents", {"location": {"type": "Point", "coordinates": [119.98, 30.515]},
                                                        "category": "市容环境", "source": "app"}, token=self.admin).json
        grid_workers = [s["assignee"] for s in made["suggested_assignees"] if s["assignee"].startswith("worker:")]
        self.assertTrue(grid_workers, made["suggested_assignees"])
        handler = grid_workers[0]
        case = f"/v1/incidents/{made['id']}"
        refusals = {"assignee": "assignee_required", "worker": "verifier_required", "note": "missing_property"}

        def step(action, **given):
            for missing in needs[action]:
                body = dict({"action": action}, **given)
                body.pop(missing, None)
                self.assertProblem(self.s.request("PATCH", case, body, token=self.admin), 422, refusals[missing])
            r = self.s.request("PATCH", case, dict({"action": action}, **given), token=self.admin)
            self.assertEqual(r.status, 200, r)

        step("register")
        step("dispatch", assignee=handler)
        step("handle")
        step("feedback")
        other = self.s.request("POST", "/v1/workers", {"name": "复核员", "area": made["grid"][:12]}, token=self.admin).json["id"]
        current = [w["id"] for w in self.get(f"/v1/areas/{made['grid']}/workers").json["workers"]]
        self.assertEqual(self.s.request("PUT", f"/v1/areas/{made['grid']}/workers", {"workers": current + [other]}, token=self.admin).status, 200)
        step("rework", worker=other, note="垃圾未清运干净")
        step("feedback")
        step("verify", worker=other)
        self.assertIsNotNone(self.get(case).json["verified_at"])



class BoardPolling(ApiTestCase):
    """GET /v1/incidents answers an ETag of its answer: the board's poll of an unchanged list costs
    a 304 without a body; any change it would show (a step, a case turning overdue) changes it."""

    def test_an_unchanged_list_is_not_modified_and_a_change_is_seen(self):
        path = "/v1/incidents?limit=2000"
        made = self.s.request("POST", "/v1/incidents", {"location": {"type": "Point", "coordinates": [119.98, 30.515]},
                                                        "category": "市容环境", "source": "app"}, token=self.admin).json
        first = self.get(path)
        self.assertEqual(first.status, 200, first)
        etag = first.header("ETag")
        self.assertRegex(etag, r'^"[0-9a-f]{32}"$')
        self.assertEqual(first.header("Cache-Control"), "private, no-cache")

        def poll(tag, token=None):
            return self.s.request("GET", path, token=token or self.admin, headers={"If-None-Match": tag})

        again = poll(etag)
        self.assertEqual(again.status, 304, again)
        self.assertEqual(again.body, "")
        self.assertEqual(again.header("ETag"), etag)
        self.assertEqual(poll(f'"other", W/{etag}').status, 304)
        self.assertEqual(poll('"0123"').status, 200)
        # Another filter, or another caller's scope, is another answer.
        self.assertNotEqual(self.get(path + "&status=collect").header("ETag"), etag)
        scoped = self.s.token("dispatcher", scope="330521002")
        self.assertEqual(poll(etag, scoped).status, 200)
        # A step on a case changes the list.
        r = self.s.request("PATCH", f"/v1/incidents/{made['id']}", {"action": "register"}, token=self.admin)
        self.assertEqual(r.status, 200, r)
        moved = poll(etag)
        self.assertEqual(moved.status, 200, moved)
        self.assertNotEqual(moved.header("ETag"), etag)
        self.assertIn("register", [c["status"] for c in moved.json["incidents"] if c["id"] == made["id"]])
        # So does time: a dispatched case whose deadline passes is listed overdue, with no write to it.
        r = self.s.request("PATCH", f"/v1/incidents/{made['id']}", {"action": "dispatch", "assignee": made["suggested_assignee"]},
                           token=self.admin)
        self.assertEqual(r.status, 200, r)
        etag = self.get(path).header("ETag")
        self.assertEqual(poll(etag).status, 304)
        self.s.sql(f"UPDATE incidents SET deadline = now() - interval '1 minute' WHERE id = {made['id']}")
        late = poll(etag)
        self.assertEqual(late.status, 200, late)
        self.assertTrue(next(c for c in late.json["incidents"] if c["id"] == made["id"])["overdue"])
        self.assertProblem(self.s.request("GET", path, headers={"If-None-Match": etag}), 401, "unauthorized")


if __name__ == "__main__":
    unittest.main()
