"""Shared by the console's journey tests: people with accounts (wangge user create) and a browser
check (tests/browser/console_*_check.mjs) run against the test's server, whose screenshots are
kept as test artefacts beside the binary (build/test-artifacts)."""
import json
import os
import subprocess

PASSWORD = "青山绿水-2026"


def npm_dir():
    return os.environ.get("WANGGE_NPM_DIR") or os.path.join(os.path.dirname(os.environ["WANGGE_BIN"]), "npm")


def artefact_dir():
    d = os.path.join(os.path.dirname(os.environ["WANGGE_BIN"]), "test-artifacts")
    os.makedirs(d, exist_ok=True)
    return d


class ConsolePeople:
    """Mixed into an ApiTestCase."""

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
