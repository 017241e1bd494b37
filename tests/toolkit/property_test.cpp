// Property test of the toolkit: thousands of random redraw (adjust=neighbours), split and
// merge operations on one village of the sample, some of them dry runs. After each one the village's
// grids must still partition it (gap, overlap and overhang below the tolerance) and every open
// incident in the village must lie in exactly one grid, the one it is assigned to.
//
// Runs against a throwaway clone of the test template (tests/support/throwaway_database.hpp) and
// fails loudly without tools/test's environment. WANGGE_PROPERTY_OPS (default 2000) and
// WANGGE_PROPERTY_SEED (default 20231) change the run; a failure prints the seed and the step.
// WANGGE_PROPERTY_TRACE=1 prints every split line and skipped pick; WANGGE_PROPERTY_KEEP=1 keeps the
// database for a post-mortem.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>

#include "core/config.hpp"
#include "core/error.hpp"
#include "registry/migrate.hpp"
#include "registry/toolkit.hpp"
#include "support/throwaway_database.hpp"

namespace {

using nlohmann::json;
using wangge::pg::Connection;
using wangge::test::ThrowawayDatabase;

std::string env(const char* name, const char* fallback = nullptr) {
  const char* v = std::getenv(name);
  if (v && *v) return v;
  if (fallback) return fallback;
  throw std::runtime_error(std::string(name) + " is not set: run through tools/test (or set the test environment)");
}

// The refusals a random edit may meet; the size floor (area_too_small, neighbour_too_small) is
// one of them: random cuts make slivers.
const std::set<std::string> kExpectedRefusals = {"gap_opened",       "neighbour_would_vanish", "split_piece_too_small", "line_does_not_cut",
                                                 "overlaps_sibling", "outside_parent",         "areas_not_touching",    "invalid_geometry",
                                                 "invalid_line",     "area_too_small",         "neighbour_too_small"};

TEST(ToolkitProperty, RandomOperationsKeepThePartition) {
  // The village below is one of the default sample's, which the test template holds.
  ThrowawayDatabase::Options options = ThrowawayDatabase::options_with(ThrowawayDatabase::Contents::test_template);
  options.keep = std::getenv("WANGGE_PROPERTY_KEEP") != nullptr;  // for post-mortems
  ThrowawayDatabase db("property", options);
  Connection conn = db.connect(60000);
  wangge::registry::migrate(conn);

  wangge::Config config;
  config.database_url = db.url();
  // A few thousand operations use more than 999 codes: let the sequence grow to 4 digits.
  config.grid_code_pattern = "^[0-9]{15,16}$";
  wangge::registry::CodeRules rules(config);
  wangge::registry::AreaStore areas(config, rules);
  wangge::toolkit::Toolkit tk(config, rules, areas);
  wangge::registry::Actor actor;
  actor.role = wangge::registry::Role::admin;
  actor.name = "property-test";

  const int ops = std::stoi(env("WANGGE_PROPERTY_OPS", "2000"));
  const unsigned seed = static_cast<unsigned>(std::stoul(env("WANGGE_PROPERTY_SEED", "20231")));
  std::mt19937 rng(seed);
  const std::string village = "330521110005";
  const double tol = config.overlap_tolerance_m2;

  // Open incidents spread over the village, each in the grid that covers it.
  conn.exec("seed", "SELECT setseed($1::float8)", {std::to_string((seed % 1000) / 1000.0)});
  conn.exec("incidents",
            "INSERT INTO incidents (location, category, source, status, grid_code) "
            "SELECT p.geom, '街面秩序', 'app', 'dispatch', (SELECT a.code FROM areas a WHERE a.parent_code = $1 "
            "  AND a.valid_to IS NULL AND ST_Covers(a.geom, p.geom) ORDER BY a.code LIMIT 1) "
            "FROM areas v, ST_Dump(ST_GeneratePoints(v.geom, 80, $2::int)) p WHERE v.code = $1 AND v.valid_to IS NULL",
            {village, std::to_string(seed % 100000)});

  std::map<std::string, int> done, refused;
  int dry_runs = 0;
  for (int step = 0; step < ops; ++step) {
    SCOPED_TRACE("seed " + std::to_string(seed) + ", step " + std::to_string(step));
    auto grids = conn.exec("grids", "SELECT code FROM areas WHERE parent_code = $1 AND valid_to IS NULL ORDER BY code", {village});
    ASSERT_GT(grids.rows(), 0);
    std::string a = grids.str(static_cast<int>(rng() % static_cast<unsigned>(grids.rows())), 0);
    const int n = grids.rows();
    // Keep the village between 3 and 14 grids so every kind of operation stays possible.
    const unsigned roll = rng() % 100;
    std::string kind = roll < 35 ? "split" : roll < 65 ? "merge" : "redraw";
    if (n <= 3 && kind == "merge") kind = "split";
    if (n >= 14 && kind == "split") kind = "merge";
    wangge::toolkit::OperationOptions o;
    o.if_match = {"*"};
    o.dry_run = rng() % 10 == 0;
    const std::string rseed = std::to_string(rng() % 1000000);
    const double u = static_cast<double>(rng() % 10000) / 10000.0;
    auto before = conn.exec("rows", "SELECT count(*), max(id) FROM areas");
    try {
      if (kind == "split") {
        auto line = conn.exec(
            "line",
            "SELECT ST_AsGeoJSON(ST_MakeLine(ST_Translate(p, -d * cos(t), -d * sin(t)), ST_Translate(p, d * cos(t), d * sin(t))), 9) "
            "FROM (SELECT (ST_Dump(ST_GeneratePoints(geom, 1, $2::int))).geom AS p, "
            "  ST_XMax(geom) - ST_XMin(geom) + ST_YMax(geom) - ST_YMin(geom) AS d, $3::float8 * pi() AS t "
            "  FROM areas WHERE code = $1 AND valid_to IS NULL) s",
            {a, rseed, std::to_string(u)});
        // No point could be drawn inside a grid of a square metre or two: nothing to cut.
        if (line.rows() == 0 || !line.opt(0, 0)) {
          ++refused["no_split_line"];
          continue;
        }
        if (std::getenv("WANGGE_PROPERTY_TRACE")) std::cerr << "step " << step << " split " << a << " " << line.str(0, 0) << "\n";
        tk.split(conn, actor, a, {{"line", json::parse(line.str(0, 0))}}, o);
      } else {
        // Neighbours share more than 0.5 m of boundary. A grid without any (a sliver left by earlier
        // operations) gives way to a random neighbouring pair of the village, so such leftovers
        // cannot stall the run.
        const std::string neighbours =
            "SELECT x.code, b.code FROM areas x JOIN areas b ON b.parent_code = x.parent_code AND b.valid_to IS NULL "
            "  AND b.code <> x.code AND b.geom && x.geom WHERE x.valid_to IS NULL AND ";
        const std::string shared =
            "  AND ST_Length(ST_Intersection(ST_Boundary(wg_to_metric(x.geom)), ST_Buffer(ST_Transform(b.geom, "
            "    ST_SRID(wg_to_metric(x.geom))), 0.05))) > 0.5 ORDER BY x.code, b.code";
        auto nb = conn.exec("neighbour", neighbours + "x.code = $1" + shared, {a});
        if (nb.rows() == 0) nb = conn.exec("neighbour_pairs", neighbours + "x.parent_code = $1" + shared, {village});
        if (nb.rows() == 0) {
          if (std::getenv("WANGGE_PROPERTY_TRACE")) std::cerr << "step " << step << " " << kind << " " << a << ": no neighbour\n";
          ++refused["no_neighbour"];
          continue;
        }
        const int pick = static_cast<int>(rng() % static_cast<unsigned>(nb.rows()));
        a = nb.str(pick, 0);
        const std::string b = nb.str(pick, 1);
        if (kind == "merge") {
          tk.merge(conn, actor, {{"codes", {a, b}}}, o);
        } else {
          // Grow into (or give up) a disc around a point of the shared boundary, 15-100 m across.
          const bool grow = rng() % 10 < 6;
          const double r_deg = (15.0 + 85.0 * u) / 111000.0;
          auto g = conn.exec(
              "redraw_geometry",
              "WITH x AS (SELECT geom FROM areas WHERE code = $1 AND valid_to IS NULL), "
              "b AS (SELECT geom FROM areas WHERE code = $2 AND valid_to IS NULL), "
              "v AS (SELECT geom FROM areas WHERE code = $3 AND valid_to IS NULL), "
              "q AS (SELECT ST_ClosestPoint(ST_Boundary(x.geom), (ST_Dump(ST_GeneratePoints(b.geom, 1, $4::int))).geom) AS p FROM x, b) "
              "SELECT ST_AsGeoJSON(CASE WHEN $6 THEN ST_Union(x.geom, ST_Intersection(ST_Buffer(q.p, $5::float8), v.geom)) "
              "  ELSE ST_Difference(x.geom, ST_Buffer(q.p, $5::float8)) END, 9) FROM x, v, q",
              {a, b, village, rseed, std::to_string(r_deg), grow ? "true" : "false"});
          // No point could be drawn in a neighbour of a square metre or two: nothing to redraw.
          if (g.rows() == 0 || !g.opt(0, 0)) {
            ++refused["no_redraw_geometry"];
            continue;
          }
          tk.redraw(conn, actor, a, {{"geometry", json::parse(g.str(0, 0))}}, o, true);
        }
      }
      ++done[kind];
      if (o.dry_run) {
        ++dry_runs;
        auto after = conn.exec("rows", "SELECT count(*), max(id) FROM areas");
        ASSERT_EQ(after.str(0, 0) + "/" + after.str(0, 1), before.str(0, 0) + "/" + before.str(0, 1))
            << "a dry run of " << kind << " left rows behind";
      }
    } catch (const wangge::Error& e) {
      ASSERT_TRUE(kExpectedRefusals.count(e.code()) && (e.status() == 409 || e.status() == 422))
          << kind << " of " << a << ": unexpected " << e.status() << " " << e.code() << ": " << e.what();
      ++refused[kind + ":" + e.code()];
    }

    // The invariants, measured by PostGIS.
    auto check = conn.exec(
        "check",
        "WITH p AS (SELECT geom FROM areas WHERE code = $1 AND valid_to IS NULL), "
        "c AS (SELECT code, geom FROM areas WHERE parent_code = $1 AND valid_to IS NULL), "
        "u AS (SELECT ST_Union(geom) AS g FROM c), "
        "open AS (SELECT i.id, i.grid_code, i.location FROM incidents i, p WHERE ST_Covers(p.geom, i.location) "
        "  AND i.status <> ALL(ARRAY['closed','cancelled','evaluated','invalid'])) "
        // Every gap, overlap and overhang counts with its full area, measured as stored (planar in
        // EPSG:4490; wg_to_metric segmentizes before projecting, see migration 0008).
        "SELECT ST_Area(wg_to_metric(ST_Difference(p.geom, u.g))), ST_Area(wg_to_metric(ST_Difference(u.g, p.geom))), "
        "  (SELECT coalesce(sum(ST_Area(wg_to_metric(ST_Intersection(x.geom, y.geom)))), 0) FROM c x JOIN c y "
        "     ON x.code < y.code AND x.geom && y.geom), "
        "  (SELECT count(*) FROM open o WHERE NOT EXISTS (SELECT 1 FROM c WHERE c.code = o.grid_code AND ST_Covers(c.geom, o.location))), "
        "  (SELECT count(*) FROM open o WHERE (SELECT count(*) FROM c WHERE ST_Contains(c.geom, o.location)) <> 1), "
        "  (SELECT count(*) FROM open), "
        "  (SELECT coalesce(max(ST_Area(wg_to_metric(d.geom))), 0) FROM ST_Dump(ST_CollectionExtract(ST_Difference(p.geom, u.g), 3)) d), "
        "  (SELECT count(*) FROM ST_Dump(ST_CollectionExtract(ST_Difference(p.geom, u.g), 3)) d) "
        "FROM p, u",
        {village});
    const double gap = check.number(0, 0), overhang = check.number(0, 1), overlap = check.number(0, 2);
    ASSERT_LT(gap, tol) << "gap after " << kind << " of " << a << ": largest piece " << check.number(0, 6) << " m² of "
                        << check.integer(0, 7);
    ASSERT_LT(overhang, tol) << "grids outside the village after " << kind << " of " << a;
    ASSERT_LT(overlap, tol) << "overlap after " << kind << " of " << a;
    ASSERT_EQ(check.integer(0, 3), 0) << "open incidents not in their grid after " << kind << " of " << a;
    ASSERT_EQ(check.integer(0, 4), 0) << "open incidents inside no grid or several after " << kind << " of " << a;
    ASSERT_GE(check.integer(0, 5), 80);
  }
  std::string summary;
  for (const auto& [k, v] : done) summary += k + "=" + std::to_string(v) + " ";
  summary += "dry_runs=" + std::to_string(dry_runs) + " | refused: ";
  for (const auto& [k, v] : refused) summary += k + "=" + std::to_string(v) + " ";
  std::cout << "[ toolkit property ] " << ops << " operations, seed " << seed << ": " << summary << std::endl;
  // A run that refused nearly everything would prove nothing.
  EXPECT_GT(done["split"], ops / 10);
  EXPECT_GT(done["merge"], ops / 10);
  EXPECT_GT(done["redraw"], ops / 10);
}

}  // namespace
