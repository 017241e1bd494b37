"""HTTP Basic authentication for GIS clients (QGIS's Basic method, GDAL_HTTP_AUTH=BASIC): any user
name, the API token as the password, with the token's role and scope; the 401 offers both schemes;
wrong credentials from one address back off (429 too_many_failures) and are audited once."""
import base64
import os
import subprocess
import time
import unittest

from harness import ApiTestCase

SCOPE = "330521110"
OUTSIDE_VILLAGE = "330521113005"


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class BasicAuth(ApiTestCase):
    server_env = {"WANGGE_AUTH_FREE_FAILURES": "1000"}  # the back-off has its own class below

    def test_the_token_as_the_password(self):
        for user in ("qgis", "", "张三", self.admin):
            with self.subTest(user=user):
                r = self.s.request("GET", "/v1/areas/330521", headers={"Authorization": basic(user, self.admin)})
                self.assertEqual(r.status, 200, r)
        # The token's scope holds as with Bearer.
        scoped = self.s.token("viewer", scope=SCOPE)
        r = self.s.request("GET", f"/v1/areas/{OUTSIDE_VILLAGE}", headers={"Authorization": basic("gis", scoped)})
        self.assertProblem(r, 403, "outside_scope")
        r = self.s.request("GET", "/ogc/collections", headers={"Authorization": basic("gis", scoped)})
        self.assertEqual(r.status, 200, r)

    def test_wrong_basic_credentials_offer_both_schemes(self):
        for header in (basic("qgis", "wg_" + "0" * 64), basic("qgis", ""), "Basic " + base64.b64encode(b"no-colon").decode(),
                       "Basic !!!not-base64!!!", "Basic ", basic("qgis", "x" * 300)):
            with self.subTest(header=header[:40]):
                r = self.s.request("GET", "/v1/areas/330521", headers={"Authorization": header})
                self.assertProblem(r, 401, "unauthorized")
                challenge = r.header("WWW-Authenticate")
                self.assertTrue(challenge.startswith('Bearer realm="wangge"'), challenge)
                self.assertIn('Basic realm="wangge", charset="UTF-8"', challenge)

    def test_gdal_reads_ogc_features_with_basic(self):
        """GDAL's OAPIF driver, as a GIS user would configure it: GDAL_HTTP_AUTH=BASIC and
        GDAL_HTTP_USERPWD=name:token."""
        env = dict(os.environ, GDAL_HTTP_AUTH="BASIC", GDAL_HTTP_USERPWD="gis:" + self.admin, CPL_DEBUG="OFF")
        url = f"OAPIF:{self.s.base}/ogc"
        listed = subprocess.run(["ogrinfo", "-ro", "-q", url], env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn("grid", listed.stdout)
        features = subprocess.run(["ogrinfo", "-ro", "-so", url, "township"], env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(features.returncode, 0, features.stderr)
        self.assertRegex(features.stdout, r"Feature Count: [1-9]")
        # Without credentials GDAL gets the 401 and reads nothing.
        env.pop("GDAL_HTTP_USERPWD")
        refused = subprocess.run(["ogrinfo", "-ro", "-q", url], env=env, capture_output=True, text=True, timeout=120)
        self.assertNotEqual(refused.returncode, 0)


class BackOff(ApiTestCase):
    server_env = {"WANGGE_AUTH_FREE_FAILURES": "3"}

    def test_wrong_credentials_from_one_address_back_off(self):
        # Missing credentials are not guesses: they never back off.
        for _ in range(10):
            self.assertProblem(self.s.request("GET", "/v1/areas/330521"), 401, "unauthorized")
        wrong = {"Authorization": basic("qgis", "wg_" + "1" * 64)}
        for _ in range(4):  # the fourth wrong one starts the back-off
            self.assertProblem(self.s.request("GET", "/v1/areas/330521", headers=wrong), 401, "unauthorized")
        # Now even the right token waits: nothing is checked while the address backs off.
        r = self.s.request("GET", "/v1/areas/330521", token=self.admin)
        doc = self.assertProblem(r, 429, "too_many_failures")
        self.assertGreaterEqual(int(r.header("Retry-After")), 1)
        self.assertEqual(doc["retry_after"], int(r.header("Retry-After")))
        # The sign-in is covered by the same back-off.
        self.assertProblem(self.s.request("POST", "/v1/session", {"login": "nobody", "password": "whatever"}), 429, "too_many_failures")
        # Audited once for the back-off, not once per guess.
        rows = self.s.sql("SELECT actor, target, detail->>'failures' FROM audit_log WHERE action = 'auth.back_off'")
        self.assertEqual(rows, [["client 127.0.0.1", "127.0.0.1", "4"]])
        time.sleep(doc["retry_after"] + 0.2)
        self.assertEqual(self.s.request("GET", "/v1/areas/330521", token=self.admin).status, 200)
        # The next wrong one doubles the wait.
        self.assertProblem(self.s.request("GET", "/v1/areas/330521", headers=wrong), 401, "unauthorized")
        again = self.assertProblem(self.s.request("GET", "/v1/areas/330521", token=self.admin), 429, "too_many_failures")
        self.assertGreaterEqual(again["retry_after"], 2)
        self.assertEqual(self.s.request("GET", "/health").status, 200)


class BackOffBehindProxy(ApiTestCase):
    """Behind a reverse proxy every request comes from the proxy's address: X-Forwarded-For names
    the client, believed only from WANGGE_TRUSTED_PROXIES."""
    server_env = {"WANGGE_AUTH_FREE_FAILURES": "3", "WANGGE_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1/32 ::1"}

    def test_each_forwarded_client_backs_off_alone(self):
        wrong = {"Authorization": basic("qgis", "wg_" + "2" * 64)}
        for _ in range(4):
            self.assertProblem(self.s.request("GET", "/v1/areas/330521", headers=dict(wrong, **{"X-Forwarded-For": "203.0.113.7"})),
                               401, "unauthorized")
        self.assertProblem(self.s.request("GET", "/v1/areas/330521", token=self.admin, headers={"X-Forwarded-For": "203.0.113.7"}),
                           429, "too_many_failures")
        # Another client through the same proxy, and the proxy's own requests, go on.
        self.assertEqual(self.s.request("GET", "/v1/areas/330521", token=self.admin, headers={"X-Forwarded-For": "203.0.113.8"}).status,
                         200)
        self.assertEqual(self.s.request("GET", "/v1/areas/330521", token=self.admin).status, 200)
        # The client is the rightmost address no trusted proxy holds: what the guesser wrote in
        # front of it, and a trusted proxy's hop behind it, change nothing.
        for chain in ("198.51.100.1, 203.0.113.7", "203.0.113.7, 10.1.2.3", " 203.0.113.7 , 10.1.2.3,127.0.0.1"):
            self.assertProblem(self.s.request("GET", "/v1/areas/330521", token=self.admin, headers={"X-Forwarded-For": chain}), 429,
                               "too_many_failures")
        # A header that names no address leaves the peer (the proxy): not backed off.
        self.assertEqual(self.s.request("GET", "/v1/areas/330521", token=self.admin, headers={"X-Forwarded-For": "unknown"}).status, 200)
        rows = self.s.sql("SELECT actor, target FROM audit_log WHERE action = 'auth.back_off'")
        self.assertEqual(rows, [["client 203.0.113.7", "203.0.113.7"]])


class BackOffWithoutTrustedProxies(ApiTestCase):
    server_env = {"WANGGE_AUTH_FREE_FAILURES": "3"}

    def test_a_client_cannot_name_itself(self):
        wrong = {"Authorization": basic("qgis", "wg_" + "3" * 64)}
        for i in range(4):  # a new address in every guess: ignored, the peer backs off
            self.assertProblem(self.s.request("GET", "/v1/areas/330521", headers=dict(wrong, **{"X-Forwarded-For": f"203.0.113.{i}"})),
                               401, "unauthorized")
        self.assertProblem(self.s.request("GET", "/v1/areas/330521", token=self.admin, headers={"X-Forwarded-For": "203.0.113.99"}),
                           429, "too_many_failures")

    def test_a_mistyped_proxy_list_stops_the_server(self):
        env = dict(self.s.env, WANGGE_TRUSTED_PROXIES="10.0.0.0/33", WANGGE_PORT="1")
        r = subprocess.run([self.s.bin, "serve"], env=env, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("WANGGE_TRUSTED_PROXIES", r.stderr)


if __name__ == "__main__":
    unittest.main()
