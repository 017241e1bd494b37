// The redistricting phases that need no database: reading the plan and numbering the children.
// The phases inside the transaction (the partition check, the swap) are exercised by the API tests
// (tests/api/test_toolkit.py) and the property test.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.hpp"
#include "registry/redistrict.hpp"

namespace {

using nlohmann::json;
using wangge::toolkit::redistricting::assign_codes;
using wangge::toolkit::redistricting::Located;
using wangge::toolkit::redistricting::numbering_order;
using wangge::toolkit::redistricting::parse_plan;
using wangge::toolkit::redistricting::PlannedChild;

const std::string kParent = "110101001001";

json square(double x, double y) {
  return {{"type", "Polygon"}, {"coordinates", {{{x, y}, {x + 0.01, y}, {x + 0.01, y + 0.01}, {x, y + 0.01}, {x, y}}}}};
}

json feature(json properties, double x = 116.0, double y = 39.0) {
  return {{"type", "Feature"}, {"properties", std::move(properties)}, {"geometry", square(x, y)}};
}

json plan_of(json features) { return {{"type", "FeatureCollection"}, {"features", std::move(features)}}; }

// The error's stable code, or "" when parsing succeeded.
std::string refusal(const json& body) {
  try {
    parse_plan(body, kParent);
  } catch (const wangge::Error& e) {
    return e.code();
  }
  return "";
}

TEST(RedistrictParsePlan, ReadsCodesNamesCountsAndAttributes) {
  auto plan = parse_plan(plan_of({feature({{"code", kParent + "001"}, {"name", "东"}, {"households", 12}, {"attributes", {{"k", "v"}}}}),
                                  feature({{"population", nullptr}, {"parent", kParent}, {"etag", "\"x\""}}), feature(nullptr)}),
                         kParent);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].code, kParent + "001");
  EXPECT_EQ(plan[0].name, "东");
  EXPECT_EQ(plan[0].households, 12);
  EXPECT_TRUE(plan[0].has_counts);
  EXPECT_EQ(plan[0].attributes, json({{"k", "v"}}));
  EXPECT_FALSE(plan[1].code);
  EXPECT_FALSE(plan[1].population);
  EXPECT_TRUE(plan[1].has_counts);  // an explicit null is a figure: no estimate
  EXPECT_FALSE(plan[2].has_counts);
  EXPECT_FALSE(plan[2].geometry.empty());
}

TEST(RedistrictParsePlan, RefusesWhatIsNoPlan) {
  EXPECT_EQ(refusal(json::object()), "invalid_feature");
  EXPECT_EQ(refusal(plan_of(json::array())), "invalid_feature");
  EXPECT_EQ(refusal(plan_of({json{{"type", "Feature"}}})), "invalid_feature");
  EXPECT_EQ(refusal(plan_of({feature(json::array())})), "invalid_feature");
}

TEST(RedistrictParsePlan, RefusesBadProperties) {
  EXPECT_EQ(refusal(plan_of({feature({{"code", 7}})})), "invalid_property");
  EXPECT_EQ(refusal(plan_of({feature({{"name", ""}})})), "invalid_property");
  EXPECT_EQ(refusal(plan_of({feature({{"name", std::string(301, 'x')}})})), "invalid_property");
  EXPECT_EQ(refusal(plan_of({feature({{"households", -1}})})), "invalid_property");
  EXPECT_EQ(refusal(plan_of({feature({{"attributes", "x"}})})), "invalid_property");
  EXPECT_EQ(refusal(plan_of({feature({{"parent", "110101001002"}})})), "invalid_property");
  EXPECT_EQ(refusal(plan_of({feature({{"colour", "red"}})})), "unknown_property");
}

TEST(RedistrictParsePlan, RefusesPlansAboveTheLimit) {
  json features = json::array();
  for (int i = 0; i < 20001; ++i) features.push_back(json::object());
  EXPECT_EQ(refusal(plan_of(features)), "plan_too_large");
}

TEST(RedistrictNumbering, RowsNorthToSouthEachWestToEast) {
  // Two rows of two; the rows' centres differ by less than half a piece height within a row.
  std::vector<Located> items = {{0, 1.0, 0.0, 1.0}, {1, 0.0, 0.1, 1.0}, {2, 1.0, 1.2, 1.0}, {3, 0.0, 1.0, 1.0}};
  EXPECT_EQ(numbering_order(items), (std::vector<std::size_t>{3, 2, 1, 0}));
  EXPECT_TRUE(numbering_order({}).empty());
}

TEST(RedistrictNumbering, FreshCodesSkipTheGivenOnes) {
  std::vector<PlannedChild> plan(3);
  plan[1].code = kParent + "002";
  assign_codes(plan, {2, 0}, {kParent + "001", kParent + "002", kParent + "003"}, {kParent + "002"});
  EXPECT_EQ(plan[2].code, kParent + "001");
  EXPECT_EQ(plan[0].code, kParent + "003");
  EXPECT_EQ(plan[1].code, kParent + "002");
}

}  // namespace
