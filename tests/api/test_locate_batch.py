"""A batch of 1M points in one POST /v1/locate (CSV in, one result per line out), read line by line."""
import http.client
import json
import random
import time
import unittest

from harness import ApiTestCase

N = 1_000_000


class LocateBatchOfAMillion(ApiTestCase):
    # Default limits: the ~25 MB CSV body is under the 32 MB body limit, and the ~450 MB answer is
    # far above Pistache's response limit (4x the body limit), which only a streamed answer passes.

    def test_a_million_points(self):
        x0, y0, x1, y1 = [float(v) for v in self.s.sql(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(geom) e FROM areas WHERE level = 'grid' AND valid_to IS NULL) s")[0]]
        rng = random.Random(1)
        pts = [(round(rng.uniform(x0, x1), 7), round(rng.uniform(y0, y1), 7)) for _ in range(N)]
        body = "lon,lat\n" + "".join(f"{x},{y}\n" for x, y in pts)
        t0 = time.time()
        conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=120)
        conn.request("POST", "/v1/locate", body=body.encode(),
                     headers={"Content-Type": "text/csv", "Authorization": "Bearer " + self.admin})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Transfer-Encoding"), "chunked")
        self.assertIsNone(resp.getheader("Content-Length"))
        self.assertEqual(resp.readline(), b'{"results":[\n')
        n = 0
        ended = False
        methods = {}
        checks = {i: None for i in [0, 1, N // 2, N - 2, N - 1] + rng.sample(range(N), 60)}
        while True:
            line = resp.readline()
            if line == b"]}\n":
                ended = True
                break
            if not line:
                break
            doc = json.loads(line.rstrip(b",\n"))
            methods[doc["method"]] = methods.get(doc["method"], 0) + 1
            if n in checks:
                checks[n] = doc
            n += 1
        conn.close()
        elapsed = time.time() - t0
        self.assertTrue(ended, "the answer was cut short")
        self.assertEqual(n, N)
        self.assertGreater(methods.get("inside", 0), N // 2)
        # Spot checks: the same answers as single locates, in input order (each answer echoes its point).
        for i, doc in checks.items():
            x, y = pts[i]
            single = self.get(f"/v1/locate?lon={x}&lat={y}").json
            self.assertEqual(doc, single, f"point {i}")
        # The server is still there and answers the next request.
        self.assertEqual(self.get("/health").status, 200)
        # Most of the time is this client parsing a million JSON lines; the bound leaves room for a
        # loaded CI machine.
        self.assertLess(elapsed, 150, "1M points took too long")
        print(f"\n1M points located over HTTP in {elapsed:.1f} s: {methods}")


if __name__ == "__main__":
    unittest.main()
