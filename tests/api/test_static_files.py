"""The map page's and the console's vendored files (/vendor/*): gzip-encoded when the client asks
for it (Accept-Encoding) and plain otherwise, each form under its own ETag, revalidated with
If-None-Match, kept by caches for a day and varied on Accept-Encoding."""
import gzip
import http.client
import subprocess
import unittest
import urllib.parse

from harness import ApiTestCase


class VendorFiles(ApiTestCase):

    def fetch(self, path, headers=None):
        # http.client sends no Accept-Encoding of its own and hands back the bytes as they came.
        u = urllib.parse.urlsplit(self.s.base)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def test_gzip_when_asked_plain_otherwise(self):
        status, plain_h, plain = self.fetch("/vendor/console.js")
        self.assertEqual(status, 200)
        self.assertNotIn("content-encoding", plain_h)
        self.assertTrue(plain_h["content-type"].startswith("text/javascript"), plain_h)
        self.assertGreater(len(plain), 100000)
        plain.decode("utf-8")  # the script itself, not compressed bytes

        status, h, body = self.fetch("/vendor/console.js", {"Accept-Encoding": "gzip, deflate, br"})
        self.assertEqual(status, 200)
        self.assertEqual(h.get("content-encoding"), "gzip")
        self.assertTrue(h["content-type"].startswith("text/javascript"), h)
        self.assertEqual(gzip.decompress(body), plain)
        self.assertLess(len(body), len(plain) // 2)
        self.assertEqual(int(h["content-length"]), len(body))
        for headers in (plain_h, h):
            self.assertIn("Accept-Encoding", headers["vary"])
            self.assertEqual(headers["cache-control"], "public, max-age=86400")
        self.assertNotEqual(h["etag"], plain_h["etag"])

        # gzip refused by q=0, or only identity offered: the plain file.
        for refusal in ("gzip;q=0", "identity", "br"):
            status, h2, body2 = self.fetch("/vendor/console.js", {"Accept-Encoding": refusal})
            self.assertEqual(status, 200, refusal)
            self.assertNotIn("content-encoding", h2, refusal)
            self.assertEqual(body2, plain, refusal)
            self.assertEqual(h2["etag"], plain_h["etag"])
        status, h2, _ = self.fetch("/vendor/console.js", {"Accept-Encoding": "deflate, gzip;q=0.5"})
        self.assertEqual(h2.get("content-encoding"), "gzip")

        # The stylesheets are compressed as well.
        status, h2, body2 = self.fetch("/vendor/maplibre-gl.css", {"Accept-Encoding": "gzip"})
        self.assertEqual(status, 200)
        self.assertEqual(h2.get("content-encoding"), "gzip")
        self.assertTrue(h2["content-type"].startswith("text/css"), h2)
        self.assertIn(b".maplibregl-map", gzip.decompress(body2))

    def test_revalidation_per_representation(self):
        _, gz, _ = self.fetch("/vendor/console.css", {"Accept-Encoding": "gzip"})
        _, plain, _ = self.fetch("/vendor/console.css")
        status, h, body = self.fetch("/vendor/console.css", {"Accept-Encoding": "gzip", "If-None-Match": gz["etag"]})
        self.assertEqual((status, body), (304, b""))
        self.assertEqual(h["etag"], gz["etag"])
        status, _, body = self.fetch("/vendor/console.css", {"If-None-Match": plain["etag"]})
        self.assertEqual((status, body), (304, b""))
        # The plain form's tag does not stand for the gzip form, nor the other way round.
        status, h, body = self.fetch("/vendor/console.css", {"Accept-Encoding": "gzip", "If-None-Match": plain["etag"]})
        self.assertEqual(status, 200)
        self.assertEqual(h.get("content-encoding"), "gzip")
        self.assertGreater(len(body), 0)
        status, h, _ = self.fetch("/vendor/console.css", {"If-None-Match": gz["etag"]})
        self.assertEqual(status, 200)
        self.assertNotIn("content-encoding", h)

    def test_the_api_description_parses(self):
        # /api is what the console's "API" link opens and what client generators read: it must be a
        # YAML document (Debian's python3-yaml, which python3-qgis brings in, is the parser here).
        status, headers, body = self.fetch("/api")
        self.assertEqual(status, 200)
        check = ("import sys, yaml\n"
                 "doc = yaml.safe_load(sys.stdin)\n"
                 "assert doc['openapi'].startswith('3.') and doc['paths'], 'not an OpenAPI 3 document'\n")
        done = subprocess.run(["/usr/bin/python3", "-c", check], input=body, capture_output=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr.decode("utf-8", "replace")[-600:])

    def test_unknown_file_is_a_problem(self):
        status, h, _ = self.fetch("/vendor/passwd", {"Accept-Encoding": "gzip"})
        self.assertEqual(status, 404)
        self.assertTrue(h["content-type"].startswith("application/problem+json"), h)


if __name__ == "__main__":
    unittest.main()
