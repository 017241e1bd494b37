// The CheckpointStore against a real PostGIS: a throwaway database with a small generated county
// (tests/support). The sample's own checkpoints share the grids with the ones a test creates, so
// lists are checked against the database and the test's checkpoints are picked out by id.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "patrol/checkpoints.hpp"
#include "support/refusal.hpp"
#include "support/throwaway_database.hpp"

namespace {

using nlohmann::json;
using wangge::patrol::CheckpointChange;
using wangge::patrol::CheckpointStore;
using wangge::registry::Actor;
using wangge::registry::Role;
using wangge::test::refusal;
using wangge::test::ThrowawayDatabase;

struct Grid {
  std::string code, parent;
  double lon = 0, lat = 0;  // a point inside it
};

json point(double lon, double lat) { return {{"type", "Point"}, {"coordinates", {lon, lat}}}; }

// The checkpoint with this id in a list of them (null when absent).
json find_id(const json& list, long long id) {
  auto it = std::find_if(list.begin(), list.end(), [&](const json& c) { return c["id"] == id; });
  return it == list.end() ? json() : *it;
}

class CheckpointStoreTest : public ::testing::Test {
 protected:
  CheckpointStoreTest() : conn(db.connect()) {
    manager.role = Role::manager;
    manager.name = "store-test";
    worker.role = Role::worker;
    worker.name = "patrol";
  }

  void SetUp() override {
    auto r = conn.exec("test.grids",
                       "SELECT code, parent_code, ST_X(p), ST_Y(p) FROM (SELECT code, parent_code, ST_PointOnSurface(geom) AS p "
                       "FROM areas WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 2) s");
    ASSERT_EQ(r.rows(), 2) << "the sample has fewer than two grids";
    for (int i = 0; i < 2; ++i) grids.push_back({r.str(i, 0), r.str(i, 1), r.number(i, 2), r.number(i, 3)});
  }

  json create_in(const Grid& g, const std::string& frequency = "weekly") {
    CheckpointChange change;
    return store.create(
        conn, manager, {{"grid", g.code}, {"name", "出租房 1号"}, {"location", point(g.lon, g.lat)}, {"frequency", frequency}}, "", change);
  }
  std::string scalar(const std::string& sql, const std::vector<wangge::pg::Param>& params = {}) {
    auto r = conn.exec("test.scalar", sql, params);
    return r.rows() == 0 || r.is_null(0, 0) ? "" : r.str(0, 0);
  }
  long long checkpoints_in_database() { return std::stoll(scalar("SELECT count(*) FROM checkpoints")); }

  ThrowawayDatabase db{"checkpoints_store", ThrowawayDatabase::Contents::sample};
  wangge::pg::Connection conn;
  CheckpointStore store;
  Actor manager, worker;
  std::vector<Grid> grids;
};

TEST_F(CheckpointStoreTest, CreateStoresTheCheckpointInItsGrid) {
  CheckpointChange change;
  const json c = store.create(conn, manager,
                              {{"grid", grids[0].code},
                               {"name", "学校"},
                               {"kind", "school"},
                               {"location", point(grids[0].lon, grids[0].lat)},
                               {"frequency", "daily"},
                               {"priority", 1},
                               {"time_window", {{"start", "08:00"}, {"end", "11:30"}}}},
                              "", change);
  const long long id = c["id"].get<long long>();
  EXPECT_EQ(c["grid"], grids[0].code);
  EXPECT_EQ(c["version"], 1);
  EXPECT_EQ(c["etag"], "\"cp-" + std::to_string(id) + "-v1\"");
  EXPECT_EQ(c["time_window"], json({{"start", "08:00"}, {"end", "11:30"}}));
  EXPECT_TRUE(c["last_visit"].is_null());
  ASSERT_EQ(change.locations.size(), 1u);  // what the tile layer redraws
  EXPECT_DOUBLE_EQ(change.locations[0].lon, grids[0].lon);

  EXPECT_EQ(scalar("SELECT grid_code || ' ' || priority || ' ' || ST_Covers(a.geom, c.location) FROM checkpoints c "
                   "JOIN areas a ON a.code = c.grid_code AND a.valid_to IS NULL WHERE c.id = $1",
                   {std::to_string(id)}),
            grids[0].code + " 1 true");
  EXPECT_EQ(
      scalar("SELECT action || ' ' || version_after FROM audit_log WHERE target_type = 'checkpoint' AND target = $1", {std::to_string(id)}),
      "checkpoint.create 1");
  EXPECT_EQ(store.get(conn, manager, id), c);
}

TEST_F(CheckpointStoreTest, CreateRefusesAPlaceOutsideACurrentGrid) {
  const long long before = checkpoints_in_database();
  CheckpointChange change;
  auto body = [&](const std::string& grid, const Grid& at) {
    return json{{"grid", grid}, {"name", "商铺"}, {"location", point(at.lon, at.lat)}, {"frequency", "monthly"}};
  };
  EXPECT_EQ(refusal([&] { store.create(conn, manager, body(grids[0].code, grids[1]), "", change); }), "422 outside_grid");
  EXPECT_EQ(refusal([&] { store.create(conn, manager, body(grids[0].parent, grids[0]), "", change); }), "422 not_a_grid");
  EXPECT_EQ(refusal([&] { store.create(conn, manager, body("330521999999999", grids[0]), "", change); }), "422 unknown_area");
  json no_frequency = body(grids[0].code, grids[0]);
  no_frequency.erase("frequency");
  EXPECT_EQ(refusal([&] { store.create(conn, manager, no_frequency, "", change); }), "422 missing_property");
  EXPECT_EQ(refusal([&] { store.create(conn, worker, body(grids[0].code, grids[0]), "", change); }), "403 role_forbidden");
  EXPECT_EQ(checkpoints_in_database(), before);
  EXPECT_TRUE(change.locations.empty());
}

TEST_F(CheckpointStoreTest, ListByGridHoldsExactlyThatGridsCheckpoints) {
  const long long a1 = create_in(grids[0])["id"].get<long long>();
  const long long a2 = create_in(grids[0])["id"].get<long long>();
  const long long b1 = create_in(grids[1])["id"].get<long long>();

  const json list = store.list(conn, manager, grids[0].code);
  EXPECT_EQ(list["grid"], grids[0].code);
  const json& cps = list["checkpoints"];
  EXPECT_EQ(static_cast<long long>(cps.size()),
            std::stoll(scalar("SELECT count(*) FROM checkpoints WHERE grid_code = $1", {grids[0].code})));
  for (const auto& c : cps) EXPECT_EQ(c["grid"], grids[0].code);
  EXPECT_FALSE(find_id(cps, a1).is_null());
  EXPECT_FALSE(find_id(cps, a2).is_null());
  EXPECT_TRUE(find_id(cps, b1).is_null());
  EXPECT_TRUE(std::is_sorted(cps.begin(), cps.end(), [](const json& x, const json& y) { return x["id"] < y["id"]; }));

  EXPECT_EQ(refusal([&] { store.list(conn, manager, "330521999999999"); }), "404 area_not_found");
  Actor elsewhere = manager;
  elsewhere.scope = grids[1].code;
  EXPECT_EQ(refusal([&] { store.list(conn, elsewhere, grids[0].code); }), "403 outside_scope");
}

TEST_F(CheckpointStoreTest, AVisitIsRecordedAndBecomesTheLastVisit) {
  const long long id = create_in(grids[0])["id"].get<long long>();
  const std::string worker_id = scalar("SELECT min(id) FROM workers");
  ASSERT_FALSE(worker_id.empty()) << "the sample has no workers";

  const json visit =
      store.add_visit(conn, worker, id, {{"visited_at", "2026-11-02T02:00:00Z"}, {"worker", std::stoll(worker_id)}, {"note", "门窗完好"}});
  EXPECT_EQ(visit["checkpoint"], id);
  EXPECT_EQ(visit["date"], "2026-11-02");  // the Asia/Shanghai day: 10:00 there
  EXPECT_EQ(visit["recorded_by"], worker.label());
  store.add_visit(conn, worker, id, {{"visited_at", "2026-10-20T02:00:00Z"}});

  const json visits = store.visits(conn, manager, id);
  ASSERT_EQ(visits["visits"].size(), 2u);
  EXPECT_EQ(visits["visits"][0]["id"], visit["id"]);  // newest first
  EXPECT_EQ(store.get(conn, manager, id)["last_visit"], "2026-11-02T02:00:00.000000Z");
  EXPECT_EQ(scalar("SELECT count(*) || ' ' || max(worker_id) FROM checkpoint_visits WHERE checkpoint_id = $1", {std::to_string(id)}),
            "2 " + worker_id);
}

TEST_F(CheckpointStoreTest, AVisitIsRefusedForAnUnknownCheckpointOrWorkerAndForAViewer) {
  const long long id = create_in(grids[0])["id"].get<long long>();
  EXPECT_EQ(refusal([&] { store.add_visit(conn, worker, 987654321, json::object()); }), "404 checkpoint_not_found");
  EXPECT_EQ(refusal([&] { store.add_visit(conn, worker, id, {{"worker", 987654321}}); }), "422 unknown_worker");
  EXPECT_EQ(refusal([&] { store.add_visit(conn, worker, id, {{"visited_at", "2999-01-01T00:00:00Z"}}); }), "422 invalid_property");
  Actor viewer;
  viewer.role = Role::viewer;
  EXPECT_EQ(refusal([&] { store.add_visit(conn, viewer, id, json::object()); }), "403 role_forbidden");
  EXPECT_EQ(scalar("SELECT count(*) FROM checkpoint_visits WHERE checkpoint_id = $1", {std::to_string(id)}), "0");
}

TEST_F(CheckpointStoreTest, ACheckpointIsDueUntilVisitedInItsPeriod) {
  const long long weekly = create_in(grids[0], "weekly")["id"].get<long long>();
  const long long daily = create_in(grids[0], "daily")["id"].get<long long>();
  // Monday 2 November 2026, 10:00 in Asia/Shanghai.
  store.add_visit(conn, worker, weekly, {{"visited_at", "2026-11-02T02:00:00Z"}});
  store.add_visit(conn, worker, daily, {{"visited_at", "2026-11-02T02:00:00Z"}});

  auto due = [&](const std::string& date) { return store.due(conn, manager, grids[0].code, date)["checkpoints"]; };
  // On the day of the visit both are due (nothing before it) and done.
  json monday = due("2026-11-02");
  EXPECT_EQ(find_id(monday, weekly)["done"], true);
  EXPECT_EQ(find_id(monday, weekly)["due_reason"], "never_visited");
  EXPECT_EQ(find_id(monday, daily)["done"], true);
  // The next day the weekly one is still covered by Monday's visit; the daily one is due again.
  json tuesday = due("2026-11-03");
  EXPECT_TRUE(find_id(tuesday, weekly).is_null());
  EXPECT_EQ(find_id(tuesday, daily)["due_reason"], "period_elapsed");
  EXPECT_EQ(find_id(tuesday, daily)["done"], false);
  // A new week: the weekly one is due again.
  json next_monday = due("2026-11-09");
  EXPECT_EQ(find_id(next_monday, weekly)["last_visit_before"], "2026-11-02");
  EXPECT_EQ(refusal([&] { due("2026-02-30"); }), "400 invalid_parameter");
}

TEST_F(CheckpointStoreTest, UpdateNeedsTheCurrentETagAndRemoveDeletes) {
  const json c = create_in(grids[0]);
  const long long id = c["id"].get<long long>();
  CheckpointChange change;
  EXPECT_EQ(refusal([&] { store.update(conn, manager, id, {{"priority", 5}}, {}, "", change); }), "428 precondition_required");
  EXPECT_EQ(refusal([&] { store.update(conn, manager, id, {{"priority", 5}}, {"\"cp-0-v1\""}, "", change); }), "412 precondition_failed");

  const json v2 = store.update(conn, manager, id, {{"priority", 5}, {"name", "出租房 2号"}}, {c["etag"].get<std::string>()}, "", change);
  EXPECT_EQ(v2["version"], 2);
  EXPECT_EQ(v2["priority"], 5);
  EXPECT_EQ(v2["frequency"], "weekly");  // unsent fields stay
  EXPECT_EQ(scalar("SELECT name || ' ' || version FROM checkpoints WHERE id = $1", {std::to_string(id)}), "出租房 2号 2");
  // Moving it to the other grid's ground without changing its grid is refused.
  EXPECT_EQ(refusal([&] {
              store.update(conn, manager, id, {{"location", point(grids[1].lon, grids[1].lat)}}, {"*"}, "", change);
            }),
            "422 outside_grid");

  EXPECT_EQ(refusal([&] { store.remove(conn, manager, id, {c["etag"].get<std::string>()}, change); }), "412 precondition_failed");
  store.remove(conn, manager, id, {v2["etag"].get<std::string>()}, change);
  EXPECT_EQ(refusal([&] { store.get(conn, manager, id); }), "404 checkpoint_not_found");
  EXPECT_EQ(scalar("SELECT count(*) FROM checkpoints WHERE id = $1", {std::to_string(id)}), "0");
}

}  // namespace
