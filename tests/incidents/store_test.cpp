// The IncidentStore against a real PostGIS: a throwaway database with a small generated county
// (tests/support), located through a Locator built from it, as the server does. Every case a test
// creates uses a category of its own, so the sample's cases never blur what a test counts; the
// database is the oracle for what the store wrote.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "incidents/store.hpp"
#include "locate/service.hpp"
#include "support/refusal.hpp"
#include "support/throwaway_database.hpp"

namespace {

using nlohmann::json;
using wangge::incidents::CaseRules;
using wangge::incidents::IncidentQuery;
using wangge::incidents::IncidentStore;
using wangge::registry::Actor;
using wangge::registry::Role;
using wangge::test::refusal;
using wangge::test::refusal_extra;
using wangge::test::ThrowawayDatabase;

std::string source_file(const std::string& path) {
  std::ifstream in(std::string(WANGGE_SOURCE_DIR) + "/" + path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

constexpr const char* kCategory = "测试类别";  // not in the sample; the default limit of 5 working days

struct Grid {
  std::string code;
  double lon = 0, lat = 0;  // a point inside it
};

class IncidentStoreTest : public ::testing::Test {
 protected:
  IncidentStoreTest()
      : conn(db.connect()),
        store(CaseRules::parse(source_file("geodata/calendar.json"), source_file("geodata/case_categories.json"))),
        locator(wangge::locate::Options{}) {
    dispatcher.role = Role::dispatcher;
    dispatcher.name = "store-test";
  }

  void SetUp() override {
    locator.on_change(conn, {});  // a full build from the database
    auto r = conn.exec("test.grids",
                       "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) AS p FROM areas "
                       "WHERE level = 'grid' AND valid_to IS NULL ORDER BY code LIMIT 2) s");
    ASSERT_EQ(r.rows(), 2) << "the sample has fewer than two grids";
    for (int i = 0; i < 2; ++i) grids.push_back({r.str(i, 0), r.number(i, 1), r.number(i, 2)});
    // Two workers of the first grid: one handles cases, the other verifies them.
    for (const char* name : {"处置员", "核查员"}) {
      auto w = conn.exec("test.worker", "INSERT INTO workers (name, area_code, created_by) VALUES ($1, $2, 'test') RETURNING id",
                         {std::string(name), grids[0].code});
      workers.push_back(w.integer(0, 0));
      conn.exec("test.assign",
                "INSERT INTO worker_assignments (grid_code, worker_id, assigned_at, assigned_by) VALUES ($1, $2, now(), 'test')",
                {grids[0].code, std::to_string(workers.back())});
    }
  }

  json create_in(const Grid& g, const std::string& category = kCategory) {
    json body = {{"location", {{"type", "Point"}, {"coordinates", {g.lon, g.lat}}}},
                 {"category", category},
                 {"source", "hotline"},
                 {"description", "路面破损"}};
    return store.create(conn, dispatcher, body, locator.current(), "");
  }
  // Dispatch goes to the first worker, verification and rework come from the second.
  json act(long long id, const std::string& action, const std::vector<std::string>& if_match = {}) {
    json body = {{"action", action}};
    if (action == "dispatch") body["assignee"] = "worker:" + std::to_string(workers[0]);
    if (action == "verify" || action == "rework") body["worker"] = workers[1];
    if (action == "rework") body["note"] = "still broken";
    return store.transition(conn, dispatcher, id, body, if_match);
  }
  std::string scalar(const std::string& sql, const std::vector<wangge::pg::Param>& params = {}) {
    auto r = conn.exec("test.scalar", sql, params);
    return r.rows() == 0 || r.is_null(0, 0) ? "" : r.str(0, 0);
  }
  // The status column and the logged steps of a case, e.g. "register: collect>collect,register>register".
  std::string state_of(long long id) {
    const std::string i = std::to_string(id);
    return scalar("SELECT status FROM incidents WHERE id = $1", {i}) + ": " +
           scalar("SELECT string_agg(action || '>' || to_status, ',' ORDER BY at, id) FROM incident_events WHERE incident_id = $1", {i});
  }

  ThrowawayDatabase db{"incidents_store", ThrowawayDatabase::Contents::sample};
  wangge::pg::Connection conn;
  IncidentStore store;
  wangge::locate::Locator locator;
  Actor dispatcher;
  std::vector<Grid> grids;
  std::vector<long long> workers;
};

TEST_F(IncidentStoreTest, CreateLocatesTheCaseInItsGrid) {
  const json c = create_in(grids[0]);
  const long long id = c["id"].get<long long>();
  EXPECT_EQ(c["status"], "collect");
  EXPECT_EQ(c["grid"], grids[0].code);
  EXPECT_EQ(c["method"], "inside");
  EXPECT_EQ(c["version"], 1);
  EXPECT_EQ(c["etag"], "\"inc-" + std::to_string(id) + "-v1\"");
  ASSERT_EQ(c["events"].size(), 1u);
  EXPECT_EQ(c["events"][0]["action"], "collect");
  // The hierarchy runs from the county down to the grid.
  EXPECT_EQ(c["hierarchy"].back()["code"], grids[0].code);

  EXPECT_EQ(scalar("SELECT grid_code || ' ' || created_by || ' ' || ST_Covers(a.geom, i.location) FROM incidents i "
                   "JOIN areas a ON a.code = i.grid_code AND a.valid_to IS NULL WHERE i.id = $1",
                   {std::to_string(id)}),
            grids[0].code + " " + dispatcher.label() + " true");
  EXPECT_EQ(state_of(id), "collect: collect>collect");
  EXPECT_EQ(store.get(conn, dispatcher, id)["grid"], grids[0].code);
}

TEST_F(IncidentStoreTest, CreateRefusesABadBodyAndWritesNothing) {
  const std::string before = scalar("SELECT count(*) FROM incidents");
  json body = {
      {"location", {{"type", "Point"}, {"coordinates", {grids[0].lon, grids[0].lat}}}}, {"category", kCategory}, {"source", "fax"}};
  EXPECT_EQ(refusal([&] { store.create(conn, dispatcher, body, locator.current(), ""); }), "422 invalid_property");
  body["source"] = "app";
  body["location"] = {{"type", "LineString"}};
  EXPECT_EQ(refusal([&] { store.create(conn, dispatcher, body, locator.current(), ""); }), "422 invalid_location");
  body["location"] = {{"type", "Point"}, {"coordinates", {grids[0].lon, grids[0].lat}}};
  Actor viewer;
  viewer.role = Role::viewer;
  EXPECT_EQ(refusal([&] { store.create(conn, viewer, body, locator.current(), ""); }), "403 role_forbidden");
  EXPECT_EQ(scalar("SELECT count(*) FROM incidents"), before);
}

TEST_F(IncidentStoreTest, ACaseRunsItsLifecycleToClosed) {
  const long long id = create_in(grids[0])["id"].get<long long>();
  EXPECT_EQ(act(id, "register")["status"], "register");
  const json dispatched = act(id, "dispatch");
  EXPECT_EQ(dispatched["status"], "dispatch");
  ASSERT_TRUE(dispatched["deadline"].is_string());
  // Five working days (the default limit) take at least four calendar days, whatever the weekday
  // (the working-time arithmetic itself is calendar_test's).
  const auto deadline = *wangge::parse_rfc3339(dispatched["deadline"].get<std::string>());
  const auto at = *wangge::parse_rfc3339(dispatched["dispatched_at"].get<std::string>());
  EXPECT_GT(deadline - at, 4LL * 24 * 3600 * 1000000);
  EXPECT_EQ(act(id, "handle")["status"], "handle");
  EXPECT_EQ(act(id, "feedback")["status"], "feedback");
  EXPECT_EQ(refusal([&] { act(id, "close"); }), "409 transition_not_allowed");  // not before verification
  const json verified = act(id, "verify");
  EXPECT_EQ(verified["status"], "verified");
  EXPECT_TRUE(verified["verified_at"].is_string());
  const json closed = act(id, "close");
  EXPECT_EQ(closed["status"], "closed");
  EXPECT_EQ(closed["version"], 7);
  EXPECT_TRUE(closed["closed_at"].is_string());
  EXPECT_EQ(closed["events"].size(), 7u);
  EXPECT_EQ(closed["assignee"], "worker:" + std::to_string(workers[0]));
  EXPECT_EQ(state_of(id),
            "closed: collect>collect,register>register,dispatch>dispatch,handle>handle,feedback>feedback,verify>verified,close>closed");
  EXPECT_EQ(scalar("SELECT deadline = $2::timestamptz FROM incidents WHERE id = $1",
                   {std::to_string(id), dispatched["deadline"].get<std::string>()}),
            "t");
}

TEST_F(IncidentStoreTest, RefusesATransitionTheStateDoesNotAllow) {
  const long long id = create_in(grids[0])["id"].get<long long>();
  EXPECT_EQ(refusal([&] { act(id, "dispatch"); }), "409 transition_not_allowed");
  const json extra = json::parse(refusal_extra([&] { act(id, "close"); }));
  EXPECT_EQ(extra["status"], "collect");
  EXPECT_EQ(extra["allowed_actions"], json({"register", "cancel"}));
  EXPECT_EQ(refusal([&] { act(id, "archive"); }), "422 unknown_action");
  EXPECT_EQ(refusal([&] { act(987654321, "register"); }), "404 incident_not_found");
  // Nothing moved, nothing was logged.
  EXPECT_EQ(state_of(id), "collect: collect>collect");
  EXPECT_EQ(scalar("SELECT version FROM incidents WHERE id = $1", {std::to_string(id)}), "1");

  act(id, "cancel");
  EXPECT_EQ(refusal([&] { act(id, "register"); }), "409 transition_not_allowed");  // cancelled is final
}

TEST_F(IncidentStoreTest, AStaleETagIsRefused) {
  const json c = create_in(grids[0]);
  const long long id = c["id"].get<long long>();
  const json registered = act(id, "register", {c["etag"].get<std::string>()});
  EXPECT_EQ(registered["etag"], "\"inc-" + std::to_string(id) + "-v2\"");
  EXPECT_EQ(refusal([&] { act(id, "dispatch", {c["etag"].get<std::string>()}); }), "412 precondition_failed");
  EXPECT_EQ(state_of(id), "register: collect>collect,register>register");
  EXPECT_EQ(act(id, "dispatch", {"*"})["status"], "dispatch");
}

TEST_F(IncidentStoreTest, ReturnGoesBackAStepAndResumeRestoresTheHeldState) {
  const long long id = create_in(grids[0])["id"].get<long long>();
  act(id, "register");
  act(id, "dispatch");
  act(id, "handle");
  EXPECT_EQ(act(id, "return")["status"], "dispatch");
  act(id, "handle");
  const json held = act(id, "hold");
  EXPECT_EQ(held["status"], "hold");
  EXPECT_EQ(held["held_from"], "handle");
  EXPECT_EQ(act(id, "resume")["status"], "handle");
  EXPECT_EQ(
      state_of(id),
      "handle: collect>collect,register>register,dispatch>dispatch,handle>handle,return>dispatch,handle>handle,hold>hold,resume>handle");
}

TEST_F(IncidentStoreTest, DispatchNeedsAnAssigneeAndTheHandlerDoesNotVerify) {
  const long long id = create_in(grids[0])["id"].get<long long>();
  act(id, "register");
  EXPECT_EQ(refusal([&] { store.transition(conn, dispatcher, id, {{"action", "dispatch"}}, {}); }), "422 assignee_required");
  EXPECT_EQ(refusal([&] {
              store.transition(conn, dispatcher, id, {{"action", "dispatch"}, {"assignee", "worker:987654321"}}, {});
            }),
            "422 unknown_assignee");
  EXPECT_EQ(state_of(id), "register: collect>collect,register>register");
  act(id, "dispatch");
  act(id, "handle");
  act(id, "feedback");
  const json by_handler = {{"action", "verify"}, {"worker", workers[0]}};
  EXPECT_EQ(refusal([&] { store.transition(conn, dispatcher, id, by_handler, {}); }), "422 verifier_is_handler");
  EXPECT_EQ(act(id, "rework")["rework_count"], 1);
  act(id, "feedback");
  EXPECT_EQ(act(id, "rework")["rework_count"], 2);
  EXPECT_EQ(scalar("SELECT rework_count FROM incidents WHERE id = $1", {std::to_string(id)}), "2");
}

TEST_F(IncidentStoreTest, ListFiltersByAreaStatusAndCategory) {
  const long long a1 = create_in(grids[0])["id"].get<long long>();
  const long long a2 = create_in(grids[0])["id"].get<long long>();
  const long long b1 = create_in(grids[1])["id"].get<long long>();
  act(a2, "register");

  IncidentQuery ours;
  ours.category = kCategory;
  json page = store.list(conn, dispatcher, ours);
  EXPECT_EQ(page["numberMatched"], 3);
  ASSERT_EQ(page["incidents"].size(), 3u);
  EXPECT_EQ(page["incidents"][0]["id"], a1);  // ordered by id
  EXPECT_EQ(page["incidents"][2]["id"], b1);

  IncidentQuery in_grid = ours;
  in_grid.area = grids[0].code;
  page = store.list(conn, dispatcher, in_grid);
  EXPECT_EQ(page["numberMatched"], 2);
  for (const auto& i : page["incidents"]) EXPECT_EQ(i["grid"], grids[0].code);

  IncidentQuery registered = in_grid;
  registered.status = "register";
  page = store.list(conn, dispatcher, registered);
  ASSERT_EQ(page["incidents"].size(), 1u);
  EXPECT_EQ(page["incidents"][0]["id"], a2);

  // Every case of the grid, the sample's included: the database is the oracle.
  IncidentQuery whole_grid;
  whole_grid.area = grids[1].code;
  whole_grid.limit = 1;
  page = store.list(conn, dispatcher, whole_grid);
  const long long in_grid_b = std::stoll(scalar("SELECT count(*) FROM incidents WHERE grid_code = $1", {grids[1].code}));
  EXPECT_EQ(page["numberMatched"].get<long long>(), in_grid_b);
  EXPECT_EQ(page["incidents"].size(), 1u);

  // A token scoped to the other grid sees only that grid's cases: the sample's there and b1.
  Actor scoped = dispatcher;
  scoped.scope = grids[1].code;
  EXPECT_EQ(store.list(conn, scoped, IncidentQuery{})["numberMatched"].get<long long>(), in_grid_b);
  page = store.list(conn, scoped, ours);
  ASSERT_EQ(page["incidents"].size(), 1u);
  EXPECT_EQ(page["incidents"][0]["id"], b1);
  EXPECT_EQ(refusal([&] { store.get(conn, scoped, a1); }), "403 outside_scope");
}

}  // namespace
