#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "geom/geojson.hpp"

using namespace wangge;
using nlohmann::json;

TEST(GeoJson, AcceptsPolygonAndMultiPolygon) {
  json p = json::parse(R"({"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]})");
  EXPECT_NO_THROW(geom::checked_polygonal(p));
  json m = json::parse(R"({"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]})");
  EXPECT_NO_THROW(geom::checked_polygonal(m));
}

TEST(GeoJson, UnclosedRingIsUnprocessableWithLocation) {
  json p = json::parse(R"({"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]})");
  try {
    geom::checked_polygonal(p);
    FAIL() << "accepted an unclosed ring";
  } catch (const unprocessable& e) {
    EXPECT_EQ(e.code(), "invalid_geometry");
    auto extra = json::parse(e.extra_json());
    EXPECT_EQ(extra["reason"], "Ring not closed");
    EXPECT_EQ(extra["location"][1], json::parse("[0,1]"));
  }
}

TEST(GeoJson, StructuralErrorsAreBadRequests) {
  EXPECT_THROW(geom::checked_polygonal(json::parse(R"({"coordinates":[]})")), bad_request);
  EXPECT_THROW(geom::checked_polygonal(json::parse(R"({"type":"Polygon","coordinates":[[[0,"a"],[1,0],[1,1],[0,0]]]})")), bad_request);
  EXPECT_THROW(geom::checked_polygonal(json::parse(R"({"type":"Polygon"})")), bad_request);
  EXPECT_THROW(geom::checked_polygonal(json::parse(R"({"type":"Point","coordinates":[0,0]})")), unprocessable);
  EXPECT_THROW(geom::checked_polygonal(json::parse(R"({"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]})")), unprocessable);
}
