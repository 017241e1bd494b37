"""Versions and time travel: history newest first, ?at= on one area, on the list and on children,
at before creation (404), retired areas at a time they were alive."""
import datetime
import time
import unittest
import urllib.parse

from harness import ApiTestCase


def parse(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


def fmt(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def q(ts):
    return urllib.parse.quote(ts, safe="")


class History(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # One grid renamed twice, a little apart, shared by the tests below (they only read it).
        cls.grid = "330521102003001"
        self = cls("test_history_newest_first")  # an instance, for the helpers
        f, etag = self.area(cls.grid)
        cls.v1 = f
        time.sleep(0.05)
        r = self.patch(cls.grid, {"properties": {"name": "第二版"}}, etag)
        assert r.status == 200, r
        cls.v2 = r.json
        time.sleep(0.05)
        r = self.patch(cls.grid, {"properties": {"name": "第三版", "households": 77}}, r.header("ETag"))
        assert r.status == 200, r
        cls.v3 = r.json

    def test_history_newest_first(self):
        r = self.get(f"/v1/areas/{self.grid}/history")
        self.assertEqual(r.status, 200, r)
        doc = r.json
        self.assertEqual(doc["code"], self.grid)
        versions = doc["versions"]
        self.assertEqual([v["properties"]["version"] for v in versions], [3, 2, 1])
        self.assertEqual([v["properties"]["name"] for v in versions], ["第三版", "第二版", self.v1["properties"]["name"]])
        self.assertEqual([v["properties"]["change"] for v in versions], ["update", "update", "sample"])
        # Versions tile time: each ends where the next begins; only the newest is open.
        self.assertIsNone(versions[0]["properties"]["valid_to"])
        self.assertEqual(versions[1]["properties"]["valid_to"], versions[0]["properties"]["valid_from"])
        self.assertEqual(versions[2]["properties"]["valid_to"], versions[1]["properties"]["valid_from"])
        self.assertLess(parse(versions[2]["properties"]["valid_from"]), parse(versions[1]["properties"]["valid_from"]))
        self.assertLess(parse(versions[1]["properties"]["valid_from"]), parse(versions[0]["properties"]["valid_from"]))
        self.assertTrue(all(v["properties"]["changed_by"].startswith("admin#") for v in versions[:2]))

    def test_at_between_versions_returns_the_old_one(self):
        t1 = parse(self.v1["properties"]["valid_from"])
        t2 = parse(self.v2["properties"]["valid_from"])
        t3 = parse(self.v3["properties"]["valid_from"])
        old_name = self.v1["properties"]["name"]
        for at, name, version in ((t1 + (t2 - t1) / 2, old_name, 1), (t1, old_name, 1),
                                  (t2 - datetime.timedelta(microseconds=1), old_name, 1), (t2, "第二版", 2),
                                  (t2 + (t3 - t2) / 2, "第二版", 2), (t3, "第三版", 3),
                                  (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5), "第三版", 3)):
            with self.subTest(at=fmt(at)):
                r = self.get(f"/v1/areas/{self.grid}?at={q(fmt(at))}")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json["properties"]["name"], name)
                self.assertEqual(r.json["properties"]["version"], version)
                self.assertEqual(r.header("ETag"), f'"{self.grid}-v{version}"')

    def test_at_with_an_offset(self):
        t1 = parse(self.v1["properties"]["valid_from"])
        t2 = parse(self.v2["properties"]["valid_from"])
        mid = (t1 + (t2 - t1) / 2).astimezone(datetime.timezone(datetime.timedelta(hours=8)))
        text = mid.strftime("%Y-%m-%dT%H:%M:%S.%f+08:00")
        r = self.get(f"/v1/areas/{self.grid}?at={q(text)}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["properties"]["version"], 1)
        # An unencoded '+' arrives as a space; the server takes it back.
        r = self.get(f"/v1/areas/{self.grid}?at={text}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["properties"]["version"], 1)

    def test_at_before_creation_is_404(self):
        t1 = parse(self.v1["properties"]["valid_from"])
        for at in ("2000-01-01T00:00:00Z", fmt(t1 - datetime.timedelta(microseconds=1))):
            doc = self.assertProblem(self.get(f"/v1/areas/{self.grid}?at={q(at)}"), 404, "area_not_found")
            self.assertIn("did not exist", doc["detail"])

    def test_list_and_children_at_a_time(self):
        village = self.v1["properties"]["parent"]
        t1 = parse(self.v1["properties"]["valid_from"])
        t2 = parse(self.v2["properties"]["valid_from"])
        at = q(fmt(t1 + (t2 - t1) / 2))
        for path in (f"/v1/areas?parent={village}&at={at}", f"/v1/areas/{village}/children?at={at}"):
            doc = self.get(path).json
            names = {f["properties"]["code"]: f["properties"]["name"] for f in doc["features"]}
            self.assertEqual(names[self.grid], self.v1["properties"]["name"], path)
        doc = self.get(f"/v1/areas?parent={village}").json
        self.assertEqual({f["properties"]["code"]: f["properties"]["name"] for f in doc["features"]}[self.grid], "第三版")


class RetiredHistory(ApiTestCase):
    def test_retired_area_keeps_its_past(self):
        village = "330521102004"
        grid = self.grids_of(village)[0]
        f, etag = self.area(grid)
        r = self.patch(grid, {"properties": {"name": "退役前"}}, etag)
        self.assertEqual(r.status, 200, r)
        alive = parse(r.json["properties"]["valid_from"])
        self.retire(grid)
        self.assertProblem(self.get("/v1/areas/" + grid), 410, "area_retired")
        versions = self.get(f"/v1/areas/{grid}/history").json["versions"]
        self.assertEqual([v["properties"]["version"] for v in versions], [2, 1])
        self.assertIsNotNone(versions[0]["properties"]["valid_to"])
        self.assertIn("admin#", versions[0]["properties"]["retired_by"])
        retired_at = parse(versions[0]["properties"]["valid_to"])
        self.assertGreater(retired_at, alive)
        # While it lived it can still be read.
        r = self.get(f"/v1/areas/{grid}?at={q(fmt(alive + (retired_at - alive) / 2))}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["properties"]["name"], "退役前")
        # After it: the list at that time no longer has it; before: it had.
        after = q(fmt(retired_at + datetime.timedelta(microseconds=1)))
        codes = [f["properties"]["code"] for f in self.get(f"/v1/areas?parent={village}&at={after}").json["features"]]
        self.assertNotIn(grid, codes)
        before = q(fmt(alive))
        codes = [f["properties"]["code"] for f in self.get(f"/v1/areas?parent={village}&at={before}").json["features"]]
        self.assertIn(grid, codes)
        # The worker assignments were closed, not deleted.
        rows = self.s.sql(f"SELECT count(*), count(unassigned_at) FROM worker_assignments WHERE grid_code = '{grid}'")
        self.assertEqual(rows[0][0], rows[0][1])


if __name__ == "__main__":
    unittest.main()
