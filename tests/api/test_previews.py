"""What the console's previews stand on: dry runs of a retirement and of a change of a grid's
workers (nothing written, the same answer the real run gives), the list of workers a picker
offers (GET /v1/workers?area=), and the places an import report names (the ground two features
overlap, the part outside the parent) as geometries a map can draw."""
import json
import urllib.parse

from harness import ApiTestCase

VILLAGE = "330521001001"


class RetirePreview(ApiTestCase):
    def assigned(self, grid):
        return sorted(int(r[0]) for r in self.s.sql(
            f"SELECT worker_id FROM worker_assignments WHERE grid_code = '{grid}' AND unassigned_at IS NULL"))

    def test_a_dry_run_names_what_the_retirement_does_and_writes_nothing(self):
        # A grid without micro-grids (an area with children cannot be retired), with workers.
        grid = self.s.sql(
            f"SELECT g.code FROM areas g WHERE g.parent_code = '{VILLAGE}' AND g.valid_to IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM areas c WHERE c.parent_code = g.code AND c.valid_to IS NULL) "
            "AND EXISTS (SELECT 1 FROM worker_assignments w WHERE w.grid_code = g.code AND w.unassigned_at IS NULL) "
            "ORDER BY g.code DESC LIMIT 1")[0][0]
        workers = self.assigned(grid)
        self.assertTrue(workers, "the sample grid has no worker")
        checkpoints = sorted(int(r[0]) for r in self.s.sql(f"SELECT id FROM checkpoints WHERE grid_code = '{grid}'"))
        _, etag = self.area(grid)
        audits = self.s.sql("SELECT count(*) FROM audit_log")[0][0]
        # No If-Match: a dry run needs none and names the ETag the real run needs.
        r = self.s.request("DELETE", f"/v1/areas/{grid}?dry_run=true", token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["dry_run"], True)
        self.assertEqual(r.json["touched"], {grid: etag})
        self.assertEqual(r.json["retired"], [grid])
        self.assertEqual(sorted(r.json["workers_unassigned"]), workers)
        self.assertEqual(r.json["checkpoints_without_grid"], checkpoints)
        # Nothing happened.
        self.assertEqual(self.area(grid)[1], etag)
        self.assertEqual(self.assigned(grid), workers)
        self.assertEqual(self.s.sql("SELECT count(*) FROM audit_log")[0][0], audits)
        # The real run with the ETag the preview named: the same workers are unassigned.
        r = self.s.request("DELETE", f"/v1/areas/{grid}", token=self.admin, headers={"If-Match": etag})
        self.assertEqual(r.status, 204, r)
        self.assertProblem(self.get("/v1/areas/" + grid), 410, "area_retired")
        self.assertEqual(self.assigned(grid), [])

    def test_a_dry_run_is_refused_as_the_real_run_would_be(self):
        # An area with children, a viewer, a manager of another township, an unknown code.
        self.assertProblem(self.s.request("DELETE", f"/v1/areas/{VILLAGE}?dry_run=true", token=self.admin), 409, "has_children")
        grid = self.grids_of(VILLAGE)[0]
        viewer = self.s.token("viewer")
        self.assertProblem(self.s.request("DELETE", f"/v1/areas/{grid}?dry_run=true", token=viewer), 403, "role_forbidden")
        other = self.s.token("manager", scope="330521002")
        self.assertProblem(self.s.request("DELETE", f"/v1/areas/{grid}?dry_run=true", token=other), 403, "outside_scope")
        self.assertProblem(self.s.request("DELETE", "/v1/areas/330521001999999?dry_run=true", token=self.admin), 404, "area_not_found")
        self.assertProblem(self.s.request("DELETE", f"/v1/areas/{grid}?dry_run=perhaps", token=self.admin), 400, "invalid_parameter")
        # Without dry_run the If-Match is still required.
        self.assertProblem(self.s.request("DELETE", f"/v1/areas/{grid}", token=self.admin), 428, "precondition_required")
        self.area(grid)


class WorkersPreview(ApiTestCase):
    def test_a_dry_run_answers_the_new_assignment_and_writes_nothing(self):
        grids = self.grids_of(VILLAGE)
        grid, other = grids[0], grids[1]
        before = self.get(f"/v1/areas/{grid}/workers").json["workers"]
        self.assertTrue(before, "the sample grid has no worker")
        newcomer = self.get(f"/v1/areas/{other}/workers").json["workers"][0]["id"]
        keep = [w["id"] for w in before[1:]]
        body = {"workers": keep + [newcomer]}
        r = self.s.request("PUT", f"/v1/areas/{grid}/workers?dry_run=true", body, token=self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["dry_run"], True)
        self.assertEqual(r.json["added"], [newcomer])
        self.assertEqual(r.json["removed"], [before[0]["id"]])
        self.assertEqual(sorted(w["id"] for w in r.json["workers"]), sorted(keep + [newcomer]))
        self.assertEqual(self.get(f"/v1/areas/{grid}/workers").json["workers"], before)
        # The real run answers what the preview said.
        real = self.s.request("PUT", f"/v1/areas/{grid}/workers", body, token=self.admin)
        self.assertEqual(real.status, 200, real)
        self.assertEqual((real.json["added"], real.json["removed"], real.json["dry_run"]), (r.json["added"], r.json["removed"], False))
        self.assertEqual(sorted(w["id"] for w in self.get(f"/v1/areas/{grid}/workers").json["workers"]), sorted(keep + [newcomer]))
        # A dry run checks as the real run does.
        self.assertProblem(self.s.request("PUT", f"/v1/areas/{VILLAGE}/workers?dry_run=true", {"workers": []}, token=self.admin),
                           422, "not_a_grid")
        self.assertProblem(self.s.request("PUT", f"/v1/areas/{grid}/workers?dry_run=true", {"workers": [987654321]}, token=self.admin),
                           422, "unknown_worker")

    def test_the_workers_of_an_area(self):
        r = self.get("/v1/workers?area=" + VILLAGE)
        self.assertEqual(r.status, 200, r)
        expected = sorted(int(x[0]) for x in self.s.sql(f"SELECT id FROM workers WHERE area_code LIKE '{VILLAGE}%'"))
        self.assertTrue(expected, "the sample village has no worker")
        self.assertEqual([w["id"] for w in r.json["workers"]], expected)
        self.assertEqual(r.json["truncated"], False)
        grids = {int(x[0]): x[1] for x in self.s.sql(
            "SELECT worker_id, string_agg(grid_code, ',' ORDER BY grid_code) FROM worker_assignments "
            "WHERE unassigned_at IS NULL GROUP BY worker_id")}
        for w in r.json["workers"]:
            self.assertEqual(",".join(w["grids"]), grids.get(w["id"], ""), w)
        # Scopes: inside yes, outside no; the area must exist; it is required.
        inside = self.s.token("viewer", scope="330521001")
        self.assertEqual(self.get("/v1/workers?area=" + VILLAGE, inside).json["workers"], r.json["workers"])
        outside = self.s.token("viewer", scope="330521002")
        self.assertProblem(self.get("/v1/workers?area=" + VILLAGE, outside), 403, "outside_scope")
        self.assertProblem(self.get("/v1/workers?area=330521001999"), 404, "area_not_found")
        self.assertProblem(self.get("/v1/workers"), 400, "invalid_parameter")
        self.assertProblem(self.s.request("GET", "/v1/workers?area=" + VILLAGE), 401, "unauthorized")


class ImportReportPlaces(ApiTestCase):
    def test_overlaps_and_overhangs_come_with_their_ground(self):
        rows = self.s.sql(
            "SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(json_build_object('type', 'Feature', "
            "'properties', json_build_object('code', code, 'name', name), 'geometry', ST_AsGeoJSON(geom, 9)::json) ORDER BY code)) "
            f"FROM areas WHERE parent_code = '{VILLAGE}' AND valid_to IS NULL")
        fc = json.loads(rows[0][0])
        a, b = fc["features"][0]["properties"]["code"], fc["features"][1]["properties"]["code"]
        # The first grid swells by ~30 m: into its neighbours (overlaps within the file) and, where
        # it borders the village, out of it.
        fc["features"][0]["geometry"] = self.geojson(f"ST_Multi(ST_Buffer({self.geom_of(a)}, 0.0003, 'join=mitre'))")
        r = self.s.request("POST", "/v1/import?" + urllib.parse.urlencode(
            {"level": "grid", "parent": VILLAGE, "mode": "upsert", "dry_run": "true"}),
            raw=json.dumps(fc).encode(), token=self.admin, content_type="application/geo+json")
        self.assertEqual(r.status, 200, r)
        self.assertFalse(r.json["valid"])
        overlaps = [p for p in r.json["problems"] if p["problem"] == "overlap"]
        self.assertTrue(any(p["code"] == a and p["with"] == b for p in overlaps), r.json["problems"])
        for p in overlaps:
            self.assertIn(p["geometry"]["type"], ("Polygon", "MultiPolygon"), p)
            # The geometry is the overlapping ground: its area is the area the report states.
            m2 = float(self.s.sql(f"SELECT ST_Area(ST_SetSRID(ST_GeomFromGeoJSON('{json.dumps(p['geometry'])}'), 4490)::geography)")[0][0])
            self.assertAlmostEqual(m2, p["area_m2"], delta=0.02 * p["area_m2"] + 1)
            # and lies inside both features.
            self.assertEqual(self.s.sql(
                f"SELECT ST_Covers(ST_Buffer({self.geom_of(p['with'])}, 0.0000001), ST_SetSRID(ST_GeomFromGeoJSON('{json.dumps(p['geometry'])}'), 4490))")[0][0], "t")
        outside = [p for p in r.json["problems"] if p["problem"] == "outside_parent"]
        self.assertEqual([p["code"] for p in outside], [a], r.json["problems"])
        ground = outside[0]["geometry"]
        self.assertEqual(self.s.sql(
            f"SELECT ST_Intersects(ST_SetSRID(ST_GeomFromGeoJSON('{json.dumps(ground)}'), 4490), {self.geom_of(VILLAGE)}) "
            f"AND ST_Area(ST_Intersection(ST_SetSRID(ST_GeomFromGeoJSON('{json.dumps(ground)}'), 4490), {self.geom_of(VILLAGE)})) < 1e-12")[0][0], "t",
            "the ground outside the parent lies inside it")
        # Nothing was written.
        self.assertEqual(int(self.s.sql(f"SELECT max(version) FROM areas WHERE code = '{a}'")[0][0]), 1)
