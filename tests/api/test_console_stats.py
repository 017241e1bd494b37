"""The console's statistics page (统计分析), walked in Debian's Chromium by a township leader
(tests/browser/console_stats_check.mjs): the numbers its charts draw, read back from the ECharts
instances, equal the API's answer fetched here independently; the evaluation's XLSX download is a
real workbook."""
import csv
import datetime
import json
import os
import subprocess
import time
import unittest
import urllib.parse
import zipfile

from harness import ApiTestCase
from test_console import PASSWORD, artefact_dir, npm_dir

TOWNSHIP = "330521001"


def shanghai_today():
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).date()


class StatisticsPage(ApiTestCase):
    def test_the_chart_library_is_its_own_script(self):
        # Loaded when the statistics page is opened: the console's first load does not carry it.
        charts = self.s.request("GET", "/vendor/console-charts.js")
        self.assertEqual(charts.status, 200, charts)
        self.assertTrue(charts.header("Content-Type").startswith("text/javascript"))
        self.assertIn("_echarts_instance_", charts.body)
        console = self.s.request("GET", "/vendor/console.js")
        self.assertEqual(console.status, 200, console)
        self.assertNotIn("_echarts_instance_", console.body)
        self.assertIn("/vendor/console-charts.js", console.body)

    def setUp(self):
        if not os.path.exists(os.path.join(npm_dir(), "node_modules", "playwright-core")):
            self.fail("playwright-core is not installed (tools/test installs it into build/npm)")

    def browse(self, script, plan, shots):
        r = subprocess.run(["node", os.path.join(os.path.dirname(__file__), "..", "browser", script), self.s.base,
                            json.dumps(plan), artefact_dir()],
                           env=dict(os.environ, WANGGE_NPM_DIR=npm_dir()), capture_output=True, text=True, timeout=280)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for shot in shots:
            self.assertGreater(os.path.getsize(os.path.join(artefact_dir(), shot)), 5000, shot)
        return json.loads(r.stdout.strip().splitlines()[-1])

    def stats(self, **query):
        r = self.get("/v1/stats/cases?" + urllib.parse.urlencode(query))
        self.assertEqual(r.status, 200, r)
        return r.json

    def test_a_township_leader_reads_the_charts_and_downloads_the_evaluation(self):
        done = subprocess.run([self.s.bin, "user", "create", "--login", "zhouba", "--name", "周八", "--role", "analyst",
                               "--scope", TOWNSHIP, "--password-stdin"], env=self.s.env, input=PASSWORD + "\n",
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        today = shanghai_today()
        period = {"area": TOWNSHIP, "from": str(today - datetime.timedelta(days=6)), "to": str(today)}
        # Today's cases in two villages of the township, in two categories, one closed: the
        # charts have numbers of today beside the sample's.
        before = self.stats(**period)["totals"]["reported"]
        points = self.s.sql(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM areas WHERE level = 'grid' "
                            f"AND valid_to IS NULL AND code LIKE '{TOWNSHIP}%' ORDER BY code LIMIT 5) s")
        made = []
        for i, (x, y) in enumerate(points):
            r = self.s.request("POST", "/v1/incidents", {"location": {"type": "Point", "coordinates": [float(x), float(y)]},
                                                         "category": "市容环境" if i % 2 else "街面秩序", "source": "hotline"},
                               token=self.admin)
            self.assertEqual(r.status, 201, r)
            made.append(r.json)
        case = f"/v1/incidents/{made[0]['id']}"
        r = self.s.request("POST", "/v1/departments", {"name": "镇综合执法队", "scope": [TOWNSHIP], "categories": ["街面秩序"]},
                           token=self.admin)
        self.assertEqual(r.status, 201, r)
        verifier = self.get(f"/v1/areas/{made[0]['grid']}/workers").json["workers"][0]["id"]
        for body in ({"action": "register"}, {"action": "dispatch", "assignee": f"department:{r.json['id']}"},
                     {"action": "handle"}, {"action": "feedback"}, {"action": "verify", "worker": verifier}, {"action": "close"}):
            r = self.s.request("PATCH", case, body, token=self.admin)
            self.assertEqual(r.status, 200, (body, r))
        deadline = time.time() + 20
        while self.stats(**period)["totals"]["reported"] < before + len(made):
            self.assertLess(time.time(), deadline, "the case statistics did not follow the new cases")
            time.sleep(0.3)

        long_from = str(today.replace(day=1) - datetime.timedelta(days=150))[:8] + "01"
        out = self.browse("console_stats_check.mjs", dict(period, login="zhouba", password=PASSWORD, long_from=long_from,
                                                          empty_from="2021-01-01", empty_to="2021-01-31"),
                          ["console-stats.png", "console-stats-months.png", "console-stats-tables.png", "console-stats-empty.png"])
        # An empty period names itself and offers the 30 days up to the latest case (today's, made above).
        self.assertIn("2021-01-01 至 2021-01-31 没有事件", out["note"])
        latest = urllib.parse.parse_qs(out["latest_query"])
        self.assertEqual(latest["to"], [str(today)])
        self.assertEqual(latest["from"], [str(today - datetime.timedelta(days=29))])

        print(f"\nstatistics page: opened in {out['open_ms']} ms, a typed period answered in {out['query_ms']} ms "
              "(figures, two charts, evaluation and workers' tables)")
        # The page opens on the person's scope and the last 30 days.
        self.assertEqual(out["default_area"], TOWNSHIP)
        self.assertIn("from=" + str(today - datetime.timedelta(days=29)), out["default_query"])
        self.assertEqual(out["query"], urllib.parse.urlencode(period))

        # The trend chart: every day of the period, the API's figures for each (0 for a day
        # without cases).
        days = self.stats(group_by="day", **period)
        by_day = {g["group"]: g for g in days["groups"]}
        labels = [str(today - datetime.timedelta(days=6 - i)) for i in range(7)]
        self.assertEqual(out["time"]["labels"], labels)
        self.assertEqual(out["time"]["series"]["上报"], [by_day[d]["reported"] if d in by_day else 0 for d in labels])
        self.assertEqual(out["time"]["series"]["结案"], [by_day[d]["closed"] if d in by_day else 0 for d in labels])
        self.assertGreaterEqual(out["time"]["series"]["上报"][-1], len(made))
        self.assertGreaterEqual(out["time"]["series"]["结案"][-1], 1)

        # Over months (the sample's cases may lie months back): every month of the period, with the
        # API's figures of that month; the distribution charts below stay on the typed period.
        months = self.stats(group_by="month", **dict(period, **{"from": long_from}))
        by_month = {g["group"]: g for g in months["groups"]}
        labels = sorted({str(datetime.date.fromordinal(d))[:7]
                         for d in range(datetime.date.fromisoformat(long_from).toordinal(), today.toordinal() + 1)})
        self.assertEqual(out["time_title"], "事件趋势 (按月)")
        self.assertEqual(out["time_by_month"]["labels"], labels)
        self.assertEqual(out["time_by_month"]["series"]["上报"], [by_month[m]["reported"] if m in by_month else 0 for m in labels])
        self.assertEqual(out["time_by_month"]["series"]["结案"], [by_month[m]["closed"] if m in by_month else 0 for m in labels])
        self.assertEqual(sum(out["time_by_month"]["series"]["上报"]), months["totals"]["reported"])

        # The distribution chart, by category, then (over the longer period) by the township's villages.
        for key, by, asked in (("split", "category", period), ("split_by_area", "area", dict(period, **{"from": long_from}))):
            groups = self.stats(group_by=by, **asked)["groups"]
            drawn = dict(zip(out[key]["labels"], out[key]["series"]["上报"]))
            self.assertEqual(drawn, {g["name"] or g["group"]: g["reported"] for g in groups}, by)
            self.assertEqual(dict(zip(out[key]["labels"], out[key]["series"]["当前超期"])),
                             {g["name"] or g["group"]: g["overdue_now"] for g in groups}, by)
        villages = self.get(f"/v1/areas/{TOWNSHIP}/children").json["features"]
        self.assertEqual(sorted(out["split_by_area"]["labels"]), sorted(f["properties"]["name"] for f in villages))

        # The headline figures and rates.
        totals = days["totals"]
        self.assertEqual(int(out["headline"]["reported"]), totals["reported"])
        self.assertEqual(int(out["headline"]["closed"]), totals["closed"])
        rate = totals["on_time_close_rate"]
        self.assertEqual(out["headline"]["on_time_close_rate"], "—" if rate is None else f"{rate * 100:.1f}%")
        for title in ("按期结案率", "返工率", "及时核查率", "得分", "巡查完成率"):
            self.assertIn(title, out["headers"])

        # The evaluation: one row per village, ranked as the API ranks them.
        month = str(today)[:7]
        evaluation = self.get(f"/v1/stats/evaluation?area={TOWNSHIP}&period={month}").json
        self.assertEqual([row[1] for row in out["evaluation_rows"]], [a["name"] for a in evaluation["areas"]])
        self.assertEqual([row[0] for row in out["evaluation_rows"]], [str(a["rank"]) for a in evaluation["areas"]])
        workers = self.get("/v1/stats/workers?" + urllib.parse.urlencode(period)).json["workers"]
        self.assertEqual(out["worker_rows"], len(workers))

        # The XLSX download: a workbook (a ZIP with xl/workbook.xml) naming the villages.
        self.assertEqual(out["xlsx_name"], "evaluation.xlsx")
        self.assertIn("format=xlsx", out["xlsx_href"])
        self.assertIn("period=" + month, out["xlsx_href"])
        self.assertTrue(zipfile.is_zipfile(out["xlsx"]))
        with zipfile.ZipFile(out["xlsx"]) as book:
            self.assertIn("xl/workbook.xml", book.namelist())
            text = "".join(book.read(n).decode("utf-8") for n in book.namelist() if n.startswith("xl/") and n.endswith(".xml"))
        for a in evaluation["areas"]:
            self.assertIn(a["name"], text)
        # The departments' ranking as CSV, with the department the case was dispatched to.
        self.assertEqual(out["departments_csv_name"], "evaluation-departments.csv")
        with open(out["departments_csv"], encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([(x["rank"], x["name"], x["closed"]) for x in rows],
                         [(str(d["rank"]), d["name"], str(d["closed"])) for d in evaluation["departments"]])
        self.assertIn("镇综合执法队", [x["name"] for x in rows])


if __name__ == "__main__":
    unittest.main()
