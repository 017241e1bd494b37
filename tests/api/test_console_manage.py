"""Grid managers' actions in the console walked in Debian's Chromium
(tests/browser/console_manage_check.mjs): the coverage report of a village on the map, retiring a
grid, assigning and unassigning workers and redistricting the village with an uploaded plan, each
previewed before it is committed. The results are checked here through the API and the database."""
import json
import os
import tempfile

from harness import ApiTestCase
from console_people import PASSWORD, ConsolePeople

VILLAGE = "330521001001"


class ManagerJourney(ConsolePeople, ApiTestCase):
    def assigned(self, grid):
        return sorted(int(r[0]) for r in self.s.sql(
            f"SELECT worker_id FROM worker_assignments WHERE grid_code = '{grid}' AND unassigned_at IS NULL"))

    def test_a_manager_retires_a_grid_reassigns_workers_and_redistricts_the_gap_away(self):
        self.person("zhouba", "周八", "manager", "330521001")
        childless = ("NOT EXISTS (SELECT 1 FROM areas c WHERE c.parent_code = {0}.code AND c.valid_to IS NULL)")
        # The grid to retire (no micro-grids, with workers) and a neighbour sharing a border with
        # it (no micro-grids either), which takes its ground in the new plan.
        retire, neighbour = self.s.sql(
            f"SELECT r.code, b.code FROM areas r JOIN areas b ON b.parent_code = r.parent_code AND b.code <> r.code "
            f"AND b.valid_to IS NULL AND ST_Length(ST_Intersection(ST_Boundary(r.geom), ST_Boundary(b.geom))::geography) > 50 "
            f"WHERE r.parent_code = '{VILLAGE}' AND r.valid_to IS NULL AND {childless.format('r')} AND {childless.format('b')} "
            f"AND EXISTS (SELECT 1 FROM worker_assignments w WHERE w.grid_code = r.code AND w.unassigned_at IS NULL) "
            f"ORDER BY r.code, b.code LIMIT 1")[0]
        retired_workers = self.assigned(retire)
        retired_ground = self.geom_of(retire)
        retired_wkt = self.s.sql(f"SELECT ST_AsText({retired_ground})")[0][0]
        # Workers: a grid other than those two loses its first worker and gains one of the
        # neighbour's (a worker may serve several grids).
        others = [g for g in self.grids_of(VILLAGE) if g not in (retire, neighbour)]
        workers_grid = next(g for g in others if self.assigned(g))
        unassign = self.assigned(workers_grid)[0]
        assign = next(w for w in self.assigned(neighbour) if w not in self.assigned(workers_grid))
        # The plan: every child but the retired grid, the neighbour grown over the retired ground.
        rows = self.s.sql(
            "SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(json_build_object('type', 'Feature', "
            "'properties', json_build_object('code', code, 'name', name, 'households', households, 'population', population), "
            f"'geometry', ST_AsGeoJSON(CASE WHEN code = '{neighbour}' THEN ST_Multi(ST_Union(geom, {retired_ground})) ELSE geom END, 9)::json) "
            f"ORDER BY code)) FROM areas WHERE parent_code = '{VILLAGE}' AND valid_to IS NULL AND code <> '{retire}'")
        plan_file = os.path.join(tempfile.mkdtemp(prefix="wangge-plan-"), "村重新划分.geojson")
        with open(plan_file, "w", encoding="utf-8") as f:
            f.write(rows[0][0])
        out = self.browse("console_manage_check.mjs", {
            "login": "zhouba", "password": PASSWORD, "village": VILLAGE, "retire": retire, "workers_grid": workers_grid,
            "unassign": unassign, "assign": assign, "plan_file": plan_file},
            ["console-coverage-clean.png", "console-retire-preview.png", "console-coverage-gap.png", "console-workers-preview.png",
             "console-redistrict-preview.png", "console-coverage-after.png"])
        # Coverage: clean, then a gap (drawn), then clean again.
        self.assertEqual(out["coverage_before"]["partition"], "true", out)
        self.assertEqual(out["coverage_gap"]["partition"], "false", out)
        self.assertGreaterEqual(out["coverage_gap"]["gaps"], 1, out)
        self.assertGreater(out["coverage_gap"]["drawn"], 0, "the gap is not drawn on the map")
        self.assertEqual(out["coverage_after"]["partition"], "true", out)
        # Retire: the preview named the workers; the grid is retired by the person and they are unassigned.
        self.assertEqual(sorted(out["retire_workers"]), retired_workers)
        self.assertEqual(out["retire_committed"], "retire:" + retire)
        self.assertProblem(self.get("/v1/areas/" + retire), 410, "area_retired")
        self.assertEqual(self.assigned(retire), [])
        self.assertEqual(self.s.sql(f"SELECT retired_by FROM areas WHERE code = '{retire}' ORDER BY version DESC LIMIT 1")[0][0],
                         "zhouba (周八)")
        # Workers: the preview said who; the API shows the new assignment.
        self.assertEqual((out["workers_added"], out["workers_removed"]), ([assign], [unassign]))
        self.assertIn(assign, self.assigned(workers_grid))
        self.assertNotIn(unassign, self.assigned(workers_grid))
        # Redistrict: the neighbour changed and now covers the retired grid's ground.
        self.assertIn(neighbour, out["redistrict_changed"])
        self.assertEqual(self.s.sql(
            f"SELECT ST_Area(ST_Difference(ST_SetSRID(ST_GeomFromText('{retired_wkt}'), 4490), {self.geom_of(neighbour)})::geography) < 1")[0][0], "t")
        self.assertEqual(self.get(f"/v1/areas/{neighbour}").json["properties"]["changed_by"], "zhouba (周八)")
        cov = self.get(f"/v1/areas/{VILLAGE}/coverage").json
        self.assertTrue(cov["partition"], cov)
