"""Who may do what where: bearer tokens (401), roles (403 role_forbidden on writes for the read-only
roles) and scopes (403 outside_scope; lists restricted to the scope)."""
import subprocess
import time
import unittest

from harness import ApiTestCase

SCOPE = "330521110"            # 雷甸镇: the township the scoped tokens are limited to
INSIDE_VILLAGE = "330521110002"
OUTSIDE_TOWNSHIP = "330521113"
OUTSIDE_VILLAGE = "330521113005"
READ_ONLY_ROLES = ("dispatcher", "analyst", "worker", "viewer")


class Authentication(ApiTestCase):
    def test_no_token(self):
        for method, path in (("GET", "/v1/areas"), ("GET", "/v1/areas/330521"), ("GET", "/v1/areas/330521/children"),
                             ("GET", "/v1/areas/330521/history"), ("POST", "/v1/areas"), ("PATCH", "/v1/areas/330521"),
                             ("DELETE", "/v1/areas/330521"), ("POST", "/v1/workers"), ("GET", "/v1/workers/1"),
                             ("GET", "/v1/areas/330521001001001/workers"), ("PUT", "/v1/areas/330521001001001/workers")):
            with self.subTest(method=method, path=path):
                r = self.s.request(method, path, body={} if method in ("POST", "PUT", "PATCH") else None)
                self.assertProblem(r, 401, "unauthorized")
                self.assertTrue(r.header("WWW-Authenticate", ).startswith("Bearer"), r.headers)

    def test_bad_tokens(self):
        bad = ["wg_" + "0" * 64, "nonsense", self.admin + "x", self.admin[:-1]]
        for token in bad:
            r = self.s.request("GET", "/v1/areas", token=token)
            self.assertProblem(r, 401, "unauthorized")
            self.assertIsNotNone(r.header("WWW-Authenticate"))
        for header in ("Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer    ", "Token " + self.admin, self.admin):
            with self.subTest(header=header):
                r = self.s.request("GET", "/v1/areas", headers={"Authorization": header})
                self.assertProblem(r, 401, "unauthorized")
                self.assertIsNotNone(r.header("WWW-Authenticate"))

    def test_a_revoked_token_is_refused_within_the_cache_lifetime(self):
        token = self.s.token("viewer", name="to-revoke")
        for path in ("/v1/areas/330521", "/v1/locate?lon=119.95&lat=30.55"):
            self.assertEqual(self.s.request("GET", path, token=token).status, 200, path)
        cli = lambda *a: subprocess.run([self.s.bin, "token", *a], env=self.s.env, capture_output=True, text=True)
        listed = cli("list")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn("to-revoke", listed.stdout)
        self.assertNotIn(token, listed.stdout)  # only the hash is stored, and nothing prints the token
        revoked = cli("revoke", "--name", "to-revoke")
        self.assertEqual(revoked.returncode, 0, revoked.stderr)
        self.assertRegex(revoked.stdout, r"revoked token \d+")
        # Refused once the servers' token cache (10 s) lets go of it: the worker path and the
        # event-loop path of GET /v1/locate alike.
        for path in ("/v1/areas/330521", "/v1/locate?lon=119.95&lat=30.55"):
            deadline = time.time() + 20
            while time.time() < deadline and self.s.request("GET", path, token=token).status == 200:
                time.sleep(0.5)
            self.assertProblem(self.s.request("GET", path, token=token), 401, "unauthorized")
        self.assertIn("token.revoke", [row[0] for row in self.s.sql("SELECT action FROM audit_log WHERE target_type = 'token'")])
        # Nothing left to revoke: exit 1 and a reason; a bad id: exit 2.
        again = cli("revoke", "--name", "to-revoke")
        self.assertEqual(again.returncode, 1)
        self.assertIn("nothing was revoked", again.stderr)
        self.assertEqual(cli("revoke", "abc").returncode, 2)
        # Other tokens are untouched.
        self.assertEqual(self.s.request("GET", "/v1/areas/330521", token=self.admin).status, 200)

    def test_good_token(self):
        self.assertEqual(self.s.request("GET", "/v1/areas", token=self.admin).status, 200)
        r = self.s.request("GET", "/v1/areas", headers={"Authorization": "bearer " + self.admin})
        self.assertEqual(r.status, 200, r)

    def test_revoked_token(self):
        token = self.s.token("viewer", name="revoke-me")
        self.s.sql("UPDATE api_tokens SET revoked_at = now() WHERE name = 'revoke-me'")
        self.assertProblem(self.s.request("GET", "/v1/areas", token=token), 401, "unauthorized")

    def test_revocation_of_a_token_in_use_takes_effect_within_10_s(self):
        token = self.s.token("manager", name="in-use")
        self.assertEqual(self.s.request("GET", "/v1/areas?limit=1", token=token).status, 200)
        self.s.sql("UPDATE api_tokens SET revoked_at = now() WHERE name = 'in-use'")
        start = time.time()
        while time.time() - start < 12:
            r = self.s.request("GET", "/v1/areas?limit=1", token=token)
            if r.status == 401:
                break
            time.sleep(0.25)
        self.assertProblem(r, 401, "unauthorized")
        self.assertLess(time.time() - start, 11)


class Roles(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tokens = {role: cls.s.token(role, SCOPE, name=f"{role}-{SCOPE}") for role in
                      ("admin", "manager") + READ_ONLY_ROLES}

    def grid_in(self, village):
        return self.grids_of(village)[0]

    def test_read_only_roles_can_read_in_scope_but_not_write(self):
        grid = self.grid_in(INSIDE_VILLAGE)
        f, etag = self.area(grid)
        for role in READ_ONLY_ROLES:
            token = self.tokens[role]
            with self.subTest(role=role):
                r = self.get("/v1/areas/" + grid, token)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(self.get(f"/v1/areas/{INSIDE_VILLAGE}/children", token).status, 200)
                self.assertEqual(self.get(f"/v1/areas/{grid}/history", token).status, 200)
                self.assertEqual(self.get(f"/v1/areas/{grid}/workers", token).status, 200)
                doc = self.assertProblem(self.patch(grid, {"properties": {"name": role}}, etag, token), 403, "role_forbidden")
                self.assertIn(role, doc["detail"])
                self.assertProblem(self.patch(grid, {"type": "Feature", "properties": {"name": role},
                                                     "geometry": f["geometry"]}, etag, token, method="PUT"),
                                   403, "role_forbidden")
                self.assertProblem(self.s.request("DELETE", "/v1/areas/" + grid, token=token, headers={"If-Match": etag}),
                                   403, "role_forbidden")
                self.assertProblem(self.post_area(self.feature(INSIDE_VILLAGE + "901", "x", "grid", INSIDE_VILLAGE,
                                                               f["geometry"]), token), 403, "role_forbidden")
                self.assertProblem(self.s.request("POST", "/v1/workers", {"name": "张三", "area": INSIDE_VILLAGE},
                                                  token=token), 403, "role_forbidden")
                self.assertProblem(self.s.request("PUT", f"/v1/areas/{grid}/workers", {"workers": []}, token=token),
                                   403, "role_forbidden")
        self.assertEqual(self.area(grid)[1], etag)  # nothing changed
        self.assertEqual(self.s.sql(f"SELECT count(*) FROM areas WHERE code = '{INSIDE_VILLAGE}901'"), [["0"]])

    def test_reading_outside_the_scope_is_forbidden(self):
        grid = self.grid_in(OUTSIDE_VILLAGE)
        for role in ("admin", "manager") + READ_ONLY_ROLES:
            token = self.tokens[role]
            with self.subTest(role=role):
                for path in (f"/v1/areas/{grid}", f"/v1/areas/{OUTSIDE_VILLAGE}/children", f"/v1/areas/{grid}/history",
                             f"/v1/areas/{grid}/workers", f"/v1/areas/{OUTSIDE_TOWNSHIP}", "/v1/areas/330521"):
                    self.assertProblem(self.get(path, token), 403, "outside_scope")

    def test_lists_are_restricted_to_the_scope(self):
        expect = [r[0] for r in self.s.sql(f"SELECT code FROM areas WHERE valid_to IS NULL AND code LIKE '{SCOPE}%' "
                                           f"ORDER BY code")]
        self.assertGreater(len(expect), 40)
        for role in ("manager", "viewer"):
            with self.subTest(role=role):
                doc = self.get("/v1/areas?limit=1000", self.tokens[role]).json
                self.assertEqual([f["properties"]["code"] for f in doc["features"]], expect)
                self.assertEqual(doc["numberMatched"], len(expect))
                doc = self.get(f"/v1/areas?parent={OUTSIDE_TOWNSHIP}", self.tokens[role]).json
                self.assertEqual((doc["numberMatched"], doc["features"]), (0, []))
                doc = self.get("/v1/areas?level=grid&limit=1000", self.tokens[role]).json
                self.assertTrue(all(f["properties"]["code"].startswith(SCOPE) for f in doc["features"]))
                self.assertEqual(doc["numberMatched"],
                                 int(self.s.sql(f"SELECT count(*) FROM areas WHERE valid_to IS NULL AND level = 'grid' "
                                                f"AND code LIKE '{SCOPE}%'")[0][0]))
        # The unscoped admin sees everything.
        self.assertEqual(self.get("/v1/areas").json["numberMatched"], 412)

    def test_scoped_writers_write_inside_only(self):
        for role, village_in, village_out in (("admin", "330521110003", "330521113002"),
                                              ("manager", "330521110004", "330521113003")):
            token = self.tokens[role]
            with self.subTest(role=role):
                # Inside: PATCH, retire, create.
                grid = self.grid_in(village_in)
                _, etag = self.area(grid)
                r = self.patch(grid, {"properties": {"name": f"{role}改名"}}, etag, token)
                self.assertEqual(r.status, 200, r)
                self.assertIn(f"{role}#", r.json["properties"]["changed_by"])
                geometry = self.retire(grid, token)
                r = self.post_area(self.feature(village_in + "901", "新", "grid", village_in, geometry), token)
                self.assertEqual(r.status, 201, r)
                # Outside: 403 outside_scope, before any precondition or validation.
                out = self.grid_in(village_out)
                f, etag = self.area(out)
                self.assertProblem(self.patch(out, {"properties": {"name": "x"}}, etag, token), 403, "outside_scope")
                self.assertProblem(self.patch(out, {"properties": {"name": "x"}}, None, token), 403, "outside_scope")
                self.assertProblem(self.s.request("DELETE", "/v1/areas/" + out, token=token, headers={"If-Match": etag}),
                                   403, "outside_scope")
                self.assertProblem(self.post_area(self.feature(village_out + "901", "x", "grid", village_out,
                                                               f["geometry"]), token), 403, "outside_scope")
                self.assertEqual(self.area(out)[1], etag)
                # The scope's own root cannot be edited from a village of another township either.
                self.assertProblem(self.post_area(self.feature("330521113901", "x", "village", OUTSIDE_TOWNSHIP,
                                                               f["geometry"]), token), 403, "outside_scope")

    def test_township_token_cannot_edit_the_county(self):
        _, etag = self.area("330521")
        self.assertProblem(self.patch("330521", {"properties": {"name": "x"}}, etag, self.tokens["manager"]),
                           403, "outside_scope")

    def test_village_scope(self):
        token = self.s.token("manager", INSIDE_VILLAGE, name="village-manager")
        doc = self.get("/v1/areas?limit=1000", token).json
        self.assertEqual([f["properties"]["code"] for f in doc["features"]], [INSIDE_VILLAGE] + self.grids_of(INSIDE_VILLAGE))
        sibling_village = "330521110005"
        self.assertProblem(self.get("/v1/areas/" + sibling_village, token), 403, "outside_scope")
        self.assertProblem(self.get("/v1/areas/" + SCOPE, token), 403, "outside_scope")
        grid = self.grids_of(INSIDE_VILLAGE)[-1]
        _, etag = self.area(grid)
        r = self.patch(grid, {"properties": {"households": 5}}, etag, token)
        self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    unittest.main()
