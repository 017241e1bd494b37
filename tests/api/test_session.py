"""People's accounts and sessions: `wangge user`, POST/GET/DELETE /v1/session, the session cookie
(HttpOnly, SameSite=Strict), CSRF on writes, wrong passwords and the lock, expiry, disabled
accounts, password changes, scopes, and the audit log naming the person."""
import os
import subprocess
import time
import unittest

from harness import ApiTestCase

SCOPE = "330521110"                 # 雷甸镇
INSIDE_VILLAGE = "330521110002"
OUTSIDE_VILLAGE = "330521113005"
PASSWORD = "青山绿水-2026"


class Sessions(ApiTestCase):
    server_env = {"WANGGE_LOGIN_MAX_FAILURES": "3", "WANGGE_LOGIN_LOCK_MINUTES": "1"}

    def user(self, *args, stdin=PASSWORD + "\n"):
        return subprocess.run([self.s.bin, "user", *args], env=self.s.env, input=stdin, capture_output=True, text=True)

    def make(self, login, name, role="manager", scope=SCOPE, password=PASSWORD):
        args = ["create", "--login", login, "--name", name, "--role", role, "--password-stdin"]
        if scope:
            args += ["--scope", scope]
        done = self.user(*args, stdin=password + "\n")
        self.assertEqual(done.returncode, 0, done.stderr)

    def sign_in(self, login, password=PASSWORD):
        return self.s.request("POST", "/v1/session", {"login": login, "password": password})

    def session(self, login, password=PASSWORD):
        """Signs in; returns (cookie header value, csrf token)."""
        r = self.sign_in(login, password)
        self.assertEqual(r.status, 201, r)
        cookie = r.header("Set-Cookie").split(";")[0]
        return cookie, r.json["csrf_token"]

    def call(self, method, path, cookie, csrf=None, body=None):
        headers = {"Cookie": cookie}
        if csrf is not None:
            headers["X-CSRF-Token"] = csrf
        return self.s.request(method, path, body, headers=headers)

    def test_sign_in_gives_an_http_only_strict_cookie_and_the_person(self):
        self.make("zhangsan", "张三")
        r = self.sign_in("zhangsan")
        self.assertEqual(r.status, 201, r)
        cookie = r.header("Set-Cookie")
        self.assertRegex(cookie, r"^wangge_session=ws_[0-9a-f]{64};")
        for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"):
            self.assertIn(attribute, cookie)
        self.assertNotIn("Secure", cookie)  # served on http://127.0.0.1: a Secure cookie would never come back
        self.assertEqual(r.header("Cache-Control"), "no-store")
        self.assertEqual(r.json["user"], {"login": "zhangsan", "name": "张三", "role": "manager", "scope": SCOPE, "worker": None})
        self.assertRegex(r.json["csrf_token"], r"^[0-9a-f]{32}$")
        self.assertRegex(r.json["expires_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # Only hashes are stored, and the password reaches neither the log nor the audit log.
        value = cookie.split(";")[0].split("=", 1)[1]
        stored = self.s.sql("SELECT password_hash, (SELECT string_agg(token_hash, ',') FROM user_sessions) FROM users WHERE login = 'zhangsan'")
        self.assertTrue(stored[0][0].startswith("$argon2id$"), stored)
        self.assertNotIn(value, stored[0][1])
        self.assertNotIn(PASSWORD, self.s.server_log())
        self.assertNotIn(PASSWORD, str(self.s.sql("SELECT detail::text FROM audit_log")))
        # The cookie reads like a token of the same role and scope.
        me = self.call("GET", "/v1/session", cookie.split(";")[0])
        self.assertEqual(me.status, 200, me)
        self.assertEqual(me.json["user"]["login"], "zhangsan")
        self.assertEqual(me.json["csrf_token"], r.json["csrf_token"])
        self.assertEqual(self.call("GET", f"/v1/areas/{INSIDE_VILLAGE}", cookie.split(";")[0]).status, 200)
        self.assertProblem(self.call("GET", f"/v1/areas/{OUTSIDE_VILLAGE}", cookie.split(";")[0]), 403, "outside_scope")

    def test_writes_need_the_csrf_token_and_are_audited_under_the_person(self):
        self.make("lisi", "李四")
        cookie, csrf = self.session("lisi")
        body = {"name": "赵网格员", "phone": "13800000077", "area": INSIDE_VILLAGE}
        self.assertProblem(self.call("POST", "/v1/workers", cookie, body=body), 403, "csrf_failed")
        self.assertProblem(self.call("POST", "/v1/workers", cookie, csrf="0" * 32, body=body), 403, "csrf_failed")
        self.assertEqual(self.s.sql("SELECT count(*) FROM workers WHERE phone = '13800000077'"), [["0"]])
        made = self.call("POST", "/v1/workers", cookie, csrf=csrf, body=body)
        self.assertEqual(made.status, 201, made)
        actors = [row[0] for row in self.s.sql(f"SELECT actor FROM audit_log WHERE target_type = 'worker' AND target = '{made.json['id']}'")]
        self.assertEqual(actors, ["lisi (李四)"])
        # The scope holds for people as for tokens.
        outside = dict(body, phone="13800000078", area=OUTSIDE_VILLAGE)
        self.assertProblem(self.call("POST", "/v1/workers", cookie, csrf=csrf, body=outside), 403, "outside_scope")
        # A viewer's session may read but not write.
        self.make("wangwu", "王五", role="viewer", scope=None)
        viewer_cookie, viewer_csrf = self.session("wangwu")
        self.assertProblem(self.call("POST", "/v1/workers", viewer_cookie, csrf=viewer_csrf, body=dict(body, phone="13800000079")),
                           403, "role_forbidden")

    def test_wrong_passwords_lock_the_account(self):
        self.make("zhaoliu", "赵六")
        self.assertProblem(self.sign_in("zhaoliu", "not the password"), 401, "invalid_credentials")
        # An unknown login answers exactly the same, so logins cannot be probed.
        self.assertProblem(self.sign_in("nobody", "not the password"), 401, "invalid_credentials")
        self.assertProblem(self.sign_in("zhaoliu", "still wrong"), 401, "invalid_credentials")
        locked = self.assertProblem(self.sign_in("zhaoliu", "third time"), 429, "account_locked")
        self.assertGreater(locked["retry_after"], 0)
        # Locked: even the right password is refused, without hashing anything.
        self.assertProblem(self.sign_in("zhaoliu"), 429, "account_locked")
        actions = [row[0] for row in self.s.sql("SELECT action FROM audit_log WHERE target_type = 'user' AND target = 'zhaoliu' ORDER BY id")]
        self.assertEqual(actions, ["user.create", "session.failure", "session.failure", "session.locked"])
        # An administrator's new password lifts the lock.
        done = self.user("passwd", "zhaoliu", "--password-stdin", stdin="另一个密码-2026\n")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(self.sign_in("zhaoliu", "另一个密码-2026").status, 201)
        # A right sign-in starts the count again.
        self.assertEqual(self.s.sql("SELECT failed_logins FROM users WHERE login = 'zhaoliu'"), [["0"]])

    def test_an_expired_session_is_refused(self):
        self.make("qianqi", "钱七")
        cookie, _ = self.session("qianqi")
        self.s.sql("UPDATE user_sessions SET expires_at = clock_timestamp() - interval '1 second' "
                   "WHERE user_id = (SELECT id FROM users WHERE login = 'qianqi')")
        self.assertProblem(self.call("GET", "/v1/areas/330521", cookie), 401, "session_expired")
        self.assertProblem(self.call("GET", "/v1/session", cookie), 401, "session_expired")
        # A made-up cookie is simply not a session.
        self.assertProblem(self.call("GET", "/v1/areas/330521", "wangge_session=ws_" + "0" * 64), 401, "unauthorized")

    def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(self):
        self.make("sunba", "孙八")
        cookie, _ = self.session("sunba")
        self.assertEqual(self.call("GET", f"/v1/areas/{INSIDE_VILLAGE}", cookie).status, 200)
        done = self.user("disable", "sunba")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertProblem(self.sign_in("sunba"), 403, "account_disabled")
        # The wrong password still says only that the credentials are wrong.
        self.assertProblem(self.sign_in("sunba", "wrong password"), 401, "invalid_credentials")
        deadline = time.time() + 20  # the server's session cache lets go within 10 s
        while time.time() < deadline and self.call("GET", f"/v1/areas/{INSIDE_VILLAGE}", cookie).status == 200:
            time.sleep(0.5)
        self.assertProblem(self.call("GET", f"/v1/areas/{INSIDE_VILLAGE}", cookie), 401, "session_expired")
        listed = self.user("list")
        self.assertRegex(listed.stdout, r"sunba\s+manager\s+330521110\s+disabled")
        self.assertEqual(self.user("enable", "sunba").returncode, 0)
        self.assertEqual(self.sign_in("sunba").status, 201)

    def test_sign_out_and_password_change(self):
        self.make("zhoujiu", "周九")
        cookie, csrf = self.session("zhoujiu")
        other_cookie, _ = self.session("zhoujiu")
        self.assertProblem(self.call("PUT", "/v1/session/password", cookie, csrf=csrf,
                                     body={"current_password": "wrong", "new_password": "新的密码-abcdef"}), 403, "wrong_password")
        self.assertProblem(self.call("PUT", "/v1/session/password", cookie, csrf=csrf,
                                     body={"current_password": PASSWORD, "new_password": "short"}), 422, "weak_password")
        changed = self.call("PUT", "/v1/session/password", cookie, csrf=csrf,
                            body={"current_password": PASSWORD, "new_password": "新的密码-abcdef"})
        self.assertEqual(changed.status, 204, changed)
        self.assertProblem(self.sign_in("zhoujiu"), 401, "invalid_credentials")
        self.assertEqual(self.sign_in("zhoujiu", "新的密码-abcdef").status, 201)
        # The other session ended with the change (it was never cached by this server); this one stays.
        self.assertProblem(self.call("GET", "/v1/session", other_cookie), 401, "session_expired")
        self.assertEqual(self.call("GET", "/v1/session", cookie).status, 200)
        # Signing out needs the CSRF token too, then the cookie is cleared and refused.
        self.assertProblem(self.call("DELETE", "/v1/session", cookie), 403, "csrf_failed")
        out = self.call("DELETE", "/v1/session", cookie, csrf=csrf)
        self.assertEqual(out.status, 204, out)
        self.assertIn("Max-Age=0", out.header("Set-Cookie"))
        self.assertProblem(self.call("GET", "/v1/session", cookie), 401, "session_expired")
        self.assertProblem(self.call("GET", "/v1/areas/330521", cookie), 401, "session_expired")

    def test_a_grid_workers_account_stands_for_its_worker_record(self):
        rows = self.s.sql(
            "SELECT c.id, a.worker_id, ST_X(c.location), ST_Y(c.location) FROM checkpoints c "
            "JOIN worker_assignments a ON a.grid_code = c.grid_code AND a.unassigned_at IS NULL "
            f"WHERE c.grid_code LIKE '{SCOPE}%' ORDER BY c.id LIMIT 1")
        self.assertEqual(len(rows), 1, "the sample has a checkpoint with a worker in the scope")
        checkpoint, own, lon, lat = int(rows[0][0]), int(rows[0][1]), float(rows[0][2]), float(rows[0][3])
        other = int(self.s.sql(f"SELECT min(id) FROM workers WHERE id <> {own} AND area_code LIKE '{SCOPE}%'")[0][0])
        own_name = self.s.sql(f"SELECT name FROM workers WHERE id = {own}")[0][0]
        done = self.user("create", "--login", "gridwang", "--name", own_name, "--role", "worker", "--scope", SCOPE,
                         "--worker", str(own), "--password-stdin")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn(f"{own}", self.user("list").stdout)
        # The link is for grid workers' accounts only, one account per worker, to a worker that exists.
        refused = self.user("create", "--login", "manager2", "--name", "经理", "--role", "manager", "--worker", str(own), "--password-stdin")
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("not_a_worker_account", refused.stderr + refused.stdout)
        self.make("gridwang2", "王二", role="worker")
        taken = self.user("link", "gridwang2", "--worker", str(own))
        self.assertNotEqual(taken.returncode, 0)
        self.assertIn("worker_taken", taken.stderr + taken.stdout)
        unknown = self.user("link", "gridwang2", "--worker", "999999999")
        self.assertIn("unknown_worker", unknown.stderr + unknown.stdout)
        self.assertEqual(self.s.sql("SELECT count(*) FROM users WHERE worker_id IS NOT NULL"), [["1"]])

        cookie, csrf = self.session("gridwang")
        me = self.call("GET", "/v1/session", cookie)
        self.assertEqual(me.json["user"]["worker"], {"id": own, "name": own_name})
        # A visit without a worker is credited to the account's worker; as another worker it is refused.
        visit = self.call("POST", f"/v1/checkpoints/{checkpoint}/visits", cookie, csrf, {"note": "巡查正常"})
        self.assertEqual(visit.status, 201, visit)
        self.assertEqual(visit.json["worker"], own)
        self.assertProblem(self.call("POST", f"/v1/checkpoints/{checkpoint}/visits", cookie, csrf, {"worker": other}), 403, "not_own_worker")
        # Positions likewise: its own, not another worker's.
        here = {"lon": lon, "lat": lat}
        self.assertEqual(self.call("POST", f"/v1/workers/{own}/position", cookie, csrf, here).status, 201)
        others_before = self.s.sql(f"SELECT count(*) FROM worker_positions WHERE worker_id = {other}")
        self.assertProblem(self.call("POST", f"/v1/workers/{other}/position", cookie, csrf, here), 403, "not_own_worker")
        self.assertEqual(self.s.sql(f"SELECT count(*) FROM worker_positions WHERE worker_id = {other}"), others_before)
        # Unlinked (e.g. the phone changed hands): the session names no worker any more.
        self.assertEqual(self.user("link", "gridwang", "--worker", "none").returncode, 0)
        self.assertIsNone(self.call("GET", "/v1/session", cookie).json["user"]["worker"])
        # Every link and unlink is in the audit log.
        actions = [r[0] for r in self.s.sql("SELECT action FROM audit_log WHERE action LIKE 'user.%link_worker' ORDER BY id")]
        self.assertEqual(actions, ["user.link_worker", "user.unlink_worker"])

    def test_bad_sign_in_bodies_and_cli_input(self):
        self.assertProblem(self.s.request("POST", "/v1/session", {"login": "x"}), 400, "invalid_body")
        self.assertProblem(self.s.request("POST", "/v1/session", ["login", "password"]), 400, "invalid_body")
        self.assertProblem(self.s.request("POST", "/v1/session", raw="{not json"), 400, "malformed_json")
        self.assertProblem(self.sign_in("zhangsan", "x" * 10000), 401, "invalid_credentials")
        self.assertProblem(self.s.request("GET", "/v1/session"), 401, "unauthorized")
        weak = self.user("create", "--login", "wujiu", "--name", "吴九", "--role", "viewer", "--password-stdin", stdin="1234\n")
        self.assertEqual(weak.returncode, 1)
        self.assertIn("weak_password", weak.stderr)
        bad_login = self.user("create", "--login", "Bad Login", "--name", "x", "--role", "viewer", "--password-stdin")
        self.assertEqual(bad_login.returncode, 1)
        self.assertIn("invalid_login", bad_login.stderr)
        self.make("wujiu", "吴九", role="viewer", scope=None)
        taken = self.user("create", "--login", "wujiu", "--name", "x", "--role", "viewer", "--password-stdin")
        self.assertEqual(taken.returncode, 1)
        self.assertIn("login_taken", taken.stderr)
        # Without a terminal and without --password-stdin a password is generated and printed once.
        generated = subprocess.run([self.s.bin, "user", "create", "--login", "zhengshi", "--name", "郑十", "--role", "viewer"],
                                   env=self.s.env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        self.assertEqual(generated.returncode, 0, generated.stderr)
        password = generated.stdout.strip().rsplit(" ", 1)[1]
        self.assertEqual(len(password), 16)
        self.assertEqual(self.sign_in("zhengshi", password).status, 201)


class SignInPage(ApiTestCase):
    """The map page in Debian's Chromium: a person signs in with the keyboard, sees the map and
    the locate box work with the session cookie alone, and signs out."""

    def test_a_person_signs_in_and_out_in_the_browser(self):
        npm = os.environ.get("WANGGE_NPM_DIR") or os.path.join(os.path.dirname(os.environ["WANGGE_BIN"]), "npm")
        if not os.path.exists(os.path.join(npm, "node_modules", "playwright-core")):
            self.fail("playwright-core is not installed (tools/test installs it into build/npm)")
        done = subprocess.run([self.s.bin, "user", "create", "--login", "chenyi", "--name", "陈一", "--role", "dispatcher",
                               "--password-stdin"], env=self.s.env, input=PASSWORD + "\n", capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        artefacts = os.path.join(os.path.dirname(os.environ["WANGGE_BIN"]), "test-artifacts")
        os.makedirs(artefacts, exist_ok=True)
        script = os.path.join(os.path.dirname(__file__), "..", "browser", "signin_check.mjs")
        r = subprocess.run(["node", script, self.s.base, "chenyi", PASSWORD, "陈一", artefacts],
                           env=dict(os.environ, WANGGE_NPM_DIR=npm), capture_output=True, text=True, timeout=240)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for shot in ("signin.png", "signin-wrong-password.png", "signed-in-map.png", "signed-out.png"):
            self.assertGreater(os.path.getsize(os.path.join(artefacts, shot)), 5000, shot)
        # What the browser did is in the audit log under the person's name.
        actions = [row[0] for row in self.s.sql("SELECT action FROM audit_log WHERE target_type = 'user' AND target = 'chenyi' ORDER BY id")]
        self.assertEqual(actions, ["user.create", "session.failure", "session.create", "session.end"])


if __name__ == "__main__":
    unittest.main()
