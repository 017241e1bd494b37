// The registry's AreaStore against a real PostGIS: a throwaway database with wangge's schema and a
// small hierarchy built by each test (county → township → village, two grids side by side in the
// village's southern half, its northern half free for new grids), so
// every answer can be checked against known geometry. Each write is checked twice: in what the
// store returns and in the rows it left in `areas` and `audit_log`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/config.hpp"
#include "core/time.hpp"
#include "registry/areas.hpp"
#include "support/refusal.hpp"
#include "support/throwaway_database.hpp"

namespace {

using nlohmann::json;
using wangge::Micros;
using wangge::registry::Actor;
using wangge::registry::AreaQuery;
using wangge::registry::AreaStore;
using wangge::registry::Role;
using wangge::registry::WriteOptions;
using wangge::test::refusal;
using wangge::test::refusal_extra;
using wangge::test::ThrowawayDatabase;

constexpr const char* kCounty = "330102";
constexpr const char* kTownship = "330102001";
constexpr const char* kVillage = "330102001001";
constexpr const char* kWest = "330102001001001";  // lon 120.00..120.01
constexpr const char* kEast = "330102001001002";  // lon 120.01..120.02

// A rectangle in EPSG:4490 lon/lat, about 960 m by 1,110 m per 0.01°.
json box(double x0, double y0, double x1, double y1) {
  return {{"type", "Polygon"}, {"coordinates", {{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}}}};
}

json feature(const std::string& code, const std::string& name, const std::string& level, const char* parent, const json& geometry) {
  return {{"type", "Feature"},
          {"properties", {{"code", code}, {"name", name}, {"level", level}, {"parent", parent ? json(parent) : json()}}},
          {"geometry", geometry}};
}

WriteOptions if_match(const std::string& etag) {
  WriteOptions o;
  o.if_match = {etag};
  return o;
}

class AreaStoreTest : public ::testing::Test {
 protected:
  AreaStoreTest() : rules(config), store(config, rules), conn(db.connect()) {
    admin.role = Role::admin;
    admin.name = "store-test";
  }

  void SetUp() override {
    store.create(conn, admin, feature(kCounty, "测试县", "county", nullptr, box(120.00, 30.00, 120.02, 30.02)), {});
    store.create(conn, admin, feature(kTownship, "测试镇", "township", kCounty, box(120.00, 30.00, 120.02, 30.02)), {});
    store.create(conn, admin, feature(kVillage, "测试村", "village", kTownship, box(120.00, 30.00, 120.02, 30.02)), {});
    store.create(conn, admin, feature(kWest, "西网格", "grid", kVillage, box(120.00, 30.00, 120.01, 30.01)), {});
    store.create(conn, admin, feature(kEast, "东网格", "grid", kVillage, box(120.01, 30.00, 120.02, 30.01)), {});
  }

  // One value of the database, as text ("" for NULL).
  std::string scalar(const std::string& sql, const std::vector<wangge::pg::Param>& params = {}) {
    auto r = conn.exec("test.scalar", sql, params);
    return r.rows() == 0 || r.is_null(0, 0) ? "" : r.str(0, 0);
  }
  std::string versions_of(const std::string& code) {
    return scalar("SELECT string_agg(version || ':' || (valid_to IS NULL), ',' ORDER BY version) FROM areas WHERE code = $1", {code});
  }
  Micros database_now() { return *wangge::parse_rfc3339(scalar("SELECT wg_time(clock_timestamp())")); }

  ThrowawayDatabase db{"areas_store"};
  wangge::Config config;
  wangge::registry::CodeRules rules;
  AreaStore store;
  wangge::pg::Connection conn;
  Actor admin;
};

TEST_F(AreaStoreTest, CreateStoresVersionOneAndGetReadsItBack) {
  const auto created =
      store.create(conn, admin, feature("330102001001003", "北网格", "grid", kVillage, box(120.00, 30.01, 120.01, 30.02)), {});
  EXPECT_EQ(created.area.etag, "\"330102001001003-v1\"");
  const json f = json::parse(created.area.feature);
  EXPECT_EQ(f["properties"]["version"], 1);
  EXPECT_EQ(f["properties"]["parent"], kVillage);
  EXPECT_EQ(f["properties"]["change"], "create");
  EXPECT_EQ(f["properties"]["changed_by"], admin.label());

  const auto read = store.get(conn, "330102001001003", std::nullopt, 4490);
  EXPECT_EQ(read.etag, created.area.etag);
  EXPECT_EQ(json::parse(read.feature), f);

  EXPECT_EQ(versions_of("330102001001003"), "1:true");
  EXPECT_EQ(scalar("SELECT ST_Equals(geom, ST_MakeEnvelope(120.00, 30.01, 120.01, 30.02, 4490)) FROM areas WHERE code = '330102001001003'"),
            "t");
  EXPECT_EQ(scalar("SELECT action || ' ' || target_type || ' v' || version_after FROM audit_log WHERE target = '330102001001003'"),
            "area.create area v1");
}

TEST_F(AreaStoreTest, CreateRefusesATakenCodeAndAnUnknownParent) {
  EXPECT_EQ(refusal([&] { store.create(conn, admin, feature(kWest, "又一个", "grid", kVillage, box(120.0, 30.01, 120.01, 30.02)), {}); }),
            "409 code_taken");
  EXPECT_EQ(refusal([&] {
              store.create(conn, admin, feature("330102001002001", "孤儿", "grid", "330102001002", box(120.0, 30.01, 120.01, 30.02)), {});
            }),
            "422 parent_not_found");
  EXPECT_EQ(scalar("SELECT count(*) FROM areas"), "5");
}

TEST_F(AreaStoreTest, CreateRefusesAnOverlapWithASibling) {
  // Half of it lies on the west grid.
  const auto overlapping = feature("330102001001003", "重叠", "grid", kVillage, box(120.005, 30.00, 120.01, 30.02));
  EXPECT_EQ(refusal([&] { store.create(conn, admin, overlapping, {}); }), "409 overlaps_sibling");
  EXPECT_EQ(json::parse(refusal_extra([&] { store.create(conn, admin, overlapping, {}); }))["overlapping_codes"], json({kWest}));
  EXPECT_EQ(versions_of("330102001001003"), "");
  EXPECT_EQ(scalar("SELECT count(*) FROM audit_log WHERE target = '330102001001003'"), "0");
}

TEST_F(AreaStoreTest, CreateRefusesAChildOutsideItsParent) {
  EXPECT_EQ(refusal([&] {
              store.create(conn, admin, feature("330102001001003", "越界", "grid", kVillage, box(120.00, 30.01, 120.01, 30.03)), {});
            }),
            "422 outside_parent");
  EXPECT_EQ(versions_of("330102001001003"), "");
}

TEST_F(AreaStoreTest, UpdateNeedsTheCurrentETagAndMakesANewVersion) {
  json patch = {{"properties", {{"name", "西网格（新）"}, {"households", 120}}}};
  EXPECT_EQ(refusal([&] { store.update(conn, admin, kWest, patch, {}, false); }), "428 precondition_required");
  EXPECT_EQ(refusal([&] { store.update(conn, admin, kWest, patch, if_match("\"330102001001001-v7\""), false); }),
            "412 precondition_failed");
  EXPECT_EQ(versions_of(kWest), "1:true");

  const auto v2 = store.update(conn, admin, kWest, patch, if_match("\"330102001001001-v1\""), false);
  EXPECT_EQ(v2.area.etag, "\"330102001001001-v2\"");
  const json p = json::parse(v2.area.feature)["properties"];
  EXPECT_EQ(p["name"], "西网格（新）");
  EXPECT_EQ(p["households"], 120);
  EXPECT_EQ(p["change"], "update");
  // The old version ends exactly where the new one begins.
  EXPECT_EQ(versions_of(kWest), "1:false,2:true");
  EXPECT_EQ(scalar("SELECT (SELECT valid_to FROM areas WHERE code = $1 AND version = 1) = "
                   "(SELECT valid_from FROM areas WHERE code = $1 AND version = 2)",
                   {kWest}),
            "t");
  // The ETag that was current a moment ago is stale now.
  EXPECT_EQ(refusal([&] { store.update(conn, admin, kWest, patch, if_match("\"330102001001001-v1\""), false); }),
            "412 precondition_failed");
  EXPECT_EQ(scalar("SELECT string_agg(action || ' v' || version_before || '>v' || version_after, ',') FROM audit_log "
                   "WHERE target = $1 AND action <> 'area.create'",
                   {kWest}),
            "area.update v1>v2");
}

TEST_F(AreaStoreTest, PatchKeepsWhatItDoesNotSendAndPutClearsIt) {
  auto v2 = store.update(conn, admin, kWest, {{"properties", {{"households", 120}, {"population", 300}}}}, if_match("*"), false);
  auto v3 = store.update(conn, admin, kWest, {{"properties", {{"name", "西网格二"}}}}, if_match(v2.area.etag), false);
  json p = json::parse(v3.area.feature)["properties"];
  EXPECT_EQ(p["households"], 120);
  EXPECT_EQ(p["population"], 300);

  const json whole = feature(kWest, "西网格三", "grid", kVillage, box(120.00, 30.00, 120.01, 30.01));
  auto v4 = store.update(conn, admin, kWest, whole, if_match(v3.area.etag), true);
  p = json::parse(v4.area.feature)["properties"];
  EXPECT_EQ(p["name"], "西网格三");
  EXPECT_TRUE(p["households"].is_null());
  EXPECT_EQ(p["change"], "replace");
  EXPECT_EQ(scalar("SELECT households IS NULL AND population IS NULL FROM areas WHERE code = $1 AND valid_to IS NULL", {kWest}), "t");
}

TEST_F(AreaStoreTest, UpdateRefusesAGeometryThatLeavesAGapInTheParent) {
  // The west grid would give up its western half, which no sibling covers.
  json shrink = {{"geometry", box(120.005, 30.00, 120.01, 30.01)}};
  EXPECT_EQ(refusal([&] { store.update(conn, admin, kWest, shrink, if_match("*"), false); }), "409 gap_opened");
  const json extra = json::parse(refusal_extra([&] { store.update(conn, admin, kWest, shrink, if_match("*"), false); }));
  EXPECT_NEAR(extra["gap_area_m2"].get<double>(), 534000, 10000);  // 0.005° × 0.01° at 30° N: 482 m × 1,109 m
  EXPECT_EQ(versions_of(kWest), "1:true");

  // Growing into the east grid is an overlap instead.
  EXPECT_EQ(refusal([&] {
              store.update(conn, admin, kWest, {{"geometry", box(120.00, 30.00, 120.015, 30.01)}}, if_match("*"), false);
            }),
            "409 overlaps_sibling");
  EXPECT_EQ(versions_of(kWest), "1:true");
}

TEST_F(AreaStoreTest, GetAtAPastMomentAnswersTheVersionValidThen) {
  const Micros before_creation = database_now();
  store.create(conn, admin, feature("330102001001003", "北网格", "grid", kVillage, box(120.00, 30.01, 120.01, 30.02)), {});
  const Micros between = database_now();
  store.update(conn, admin, "330102001001003", {{"properties", {{"name", "北网格二"}}}}, if_match("*"), false);

  auto then = json::parse(store.get(conn, "330102001001003", between, 4490).feature);
  EXPECT_EQ(then["properties"]["name"], "北网格");
  EXPECT_EQ(then["properties"]["version"], 1);
  EXPECT_EQ(json::parse(store.get(conn, "330102001001003", std::nullopt, 4490).feature)["properties"]["name"], "北网格二");
  EXPECT_EQ(refusal([&] { store.get(conn, "330102001001003", before_creation, 4490); }), "404 area_not_found");

  // As of `between` the list holds the first version; now, the second.
  AreaQuery q;
  q.parent = kVillage;
  q.at = between;
  EXPECT_EQ(store.list(conn, q).matched, 3);
  EXPECT_NE(store.list(conn, q).features.find("\"北网格\""), std::string::npos);

  const json history = json::parse(store.history(conn, "330102001001003", 4490));
  ASSERT_EQ(history["versions"].size(), 2u);
  EXPECT_EQ(history["versions"][0]["properties"]["version"], 2);  // newest first
  EXPECT_EQ(history["versions"][1]["properties"]["name"], "北网格");
}

TEST_F(AreaStoreTest, RetireEndsTheAreaButKeepsItsHistory) {
  EXPECT_EQ(refusal([&] { store.retire(conn, admin, kVillage, if_match("*")); }), "409 has_children");
  EXPECT_EQ(refusal([&] { store.retire(conn, admin, kEast, if_match("\"330102001001002-v2\"")); }), "412 precondition_failed");
  EXPECT_EQ(versions_of(kEast), "1:true");

  store.retire(conn, admin, kEast, if_match("\"330102001001002-v1\""));
  EXPECT_EQ(versions_of(kEast), "1:false");
  EXPECT_EQ(scalar("SELECT retired_by FROM areas WHERE code = $1", {kEast}), admin.label());
  EXPECT_EQ(refusal([&] { store.get(conn, kEast, std::nullopt, 4490); }), "410 area_retired");
  EXPECT_EQ(json::parse(store.history(conn, kEast, 4490))["versions"].size(), 1u);
  // A retired code is never given out again.
  EXPECT_EQ(refusal([&] { store.create(conn, admin, feature(kEast, "东网格", "grid", kVillage, box(120.01, 30.00, 120.02, 30.01)), {}); }),
            "409 code_retired");
  EXPECT_EQ(refusal([&] { store.retire(conn, admin, kEast, if_match("*")); }), "410 area_retired");
}

TEST_F(AreaStoreTest, ListFiltersByLevelParentAndBoundingBox) {
  AreaQuery grids;
  grids.level = "grid";
  auto page = store.list(conn, grids);
  EXPECT_EQ(page.matched, 2);
  EXPECT_EQ(page.returned, 2);
  const json features = json::parse(page.features);
  ASSERT_EQ(features.size(), 2u);
  EXPECT_EQ(features[0]["id"], kWest);  // ordered by code
  EXPECT_EQ(features[1]["id"], kEast);

  AreaQuery west_only;
  west_only.parent = kVillage;
  west_only.bbox = std::array<double, 4>{120.002, 30.002, 120.005, 30.005};
  page = store.list(conn, west_only);
  EXPECT_EQ(page.matched, 1);
  EXPECT_EQ(json::parse(page.features)[0]["id"], kWest);

  AreaQuery paged;
  paged.parent = kVillage;
  paged.limit = 1;
  paged.offset = 1;
  page = store.list(conn, paged);
  EXPECT_EQ(page.matched, 2);
  EXPECT_EQ(page.returned, 1);
  EXPECT_EQ(json::parse(page.features)[0]["id"], kEast);

  AreaQuery scoped;
  scoped.scope = kTownship;
  EXPECT_EQ(store.list(conn, scoped).matched, 4);  // the township and all below it
}

}  // namespace
