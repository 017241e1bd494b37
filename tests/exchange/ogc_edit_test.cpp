// The translation of OGC API - Features Part 4 bodies into the registry's, without a database or a
// server (the edits themselves are checked over HTTP in tests/api/test_ogc_edit.py).
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "exchange/ogc_edit.hpp"

using namespace wangge::exchange;
using nlohmann::json;

namespace {

const ogc::Collection& grids() { return *ogc::find_collection("grid"); }

TEST(OgcEdit, ContentCrsWithOrWithoutBrackets) {
  EXPECT_EQ(ogc_edit::content_crs(std::nullopt).srid, 4326);
  EXPECT_FALSE(ogc_edit::content_crs(std::nullopt).lat_first);
  const auto cgcs = ogc_edit::content_crs("<http://www.opengis.net/def/crs/EPSG/0/4490>");
  EXPECT_EQ(cgcs.srid, 4490);
  EXPECT_TRUE(cgcs.lat_first);
  EXPECT_EQ(ogc_edit::content_crs(" http://www.opengis.net/def/crs/EPSG/0/4549 ").srid, 4549);
  EXPECT_EQ(ogc_edit::content_crs("<http://www.opengis.net/def/crs/OGC/1.3/CRS84>").srid, 4326);
  EXPECT_THROW(ogc_edit::content_crs("<http://www.opengis.net/def/crs/EPSG/0/2000>"), wangge::bad_request);
  EXPECT_THROW(ogc_edit::content_crs(std::string(300, 'x')), wangge::bad_request);
}

TEST(OgcEdit, SwapAxesOfEveryPosition) {
  json g = {{"type", "MultiPolygon"}, {"coordinates", {{{{30.5, 120.0}, {30.6, 120.0}, {30.6, 120.1, 7.0}, {30.5, 120.0}}}}}};
  ogc_edit::swap_axes(g);
  EXPECT_EQ(g["coordinates"][0][0][0], json({120.0, 30.5}));
  EXPECT_EQ(g["coordinates"][0][0][2], json({120.1, 30.6, 7.0}));  // a third ordinate stays third
  json collection = {{"type", "GeometryCollection"}, {"geometries", {{{"type", "Point"}, {"coordinates", {1, 2}}}}}};
  ogc_edit::swap_axes(collection);
  EXPECT_EQ(collection["geometries"][0]["coordinates"], json({2, 1}));
  json junk = "not a geometry";
  ogc_edit::swap_axes(junk);  // left for the registry to refuse
  EXPECT_EQ(junk, "not a geometry");
}

TEST(OgcEdit, EchoedFieldsDroppedAttributesParsedLevelFilled) {
  const json echoed = {{"code", "330521001001001"}, {"name", "网格"},      {"workers", 2},      {"version", 3},
                       {"valid_from", "2026"},      {"valid_to", nullptr}, {"changed_by", "x"}, {"attributes", "{\"a\":1}"}};
  const json out = ogc_edit::registry_properties(echoed, grids(), true);
  EXPECT_EQ(out, json({{"code", "330521001001001"}, {"name", "网格"}, {"attributes", {{"a", 1}}}, {"level", "grid"}}));
  EXPECT_EQ(ogc_edit::registry_properties({{"attributes", ""}}, grids(), false), json({{"attributes", json::object()}}));
  EXPECT_THROW(ogc_edit::registry_properties({{"attributes", "[1]"}}, grids(), false), wangge::unprocessable);
  EXPECT_THROW(ogc_edit::registry_properties({{"attributes", "{"}}, grids(), false), wangge::unprocessable);
  EXPECT_THROW(ogc_edit::registry_properties({{"level", "village"}}, grids(), true), wangge::unprocessable);
  EXPECT_THROW(ogc_edit::registry_properties(json::array(), grids(), true), wangge::bad_request);
  // Unknown properties are the registry's to refuse, with its own message.
  EXPECT_TRUE(ogc_edit::registry_properties({{"colour", "red"}}, grids(), false).contains("colour"));
}

TEST(OgcEdit, ChangedPropertiesAreThoseThatDifferFromWhatWasRead) {
  const json read = {{"name", "a"}, {"households", 10}, {"population", nullptr}, {"attributes", json::object()}};
  EXPECT_EQ(ogc_edit::changed_properties({{"name", "a"}, {"households", 10}, {"attributes", json::object()}}, read), json::object());
  EXPECT_EQ(ogc_edit::changed_properties({{"name", "b"}, {"households", 10}}, read), json({{"name", "b"}}));
  EXPECT_EQ(ogc_edit::changed_properties({{"population", 5}, {"parent", nullptr}}, read), json({{"population", 5}}));
}

TEST(OgcEdit, ItemEtagNamesTheVersionAndTheFeature) {
  const std::string tag = ogc::item_etag("330521001001001", 3, R"({"id":7})");
  EXPECT_EQ(tag.rfind("\"330521001001001-v3-", 0), 0u) << tag;
  EXPECT_EQ(tag.size(), std::string("\"330521001001001-v3-\"").size() + 16);
  EXPECT_NE(tag, ogc::item_etag("330521001001001", 3, R"({"id":8})"));
  EXPECT_EQ(tag, ogc::item_etag("330521001001001", 3, R"({"id":7})"));
  // What an edit's If-Match compares: the version's tag inside it; any other tag as it came.
  EXPECT_EQ(ogc::version_tag(tag), "\"330521001001001-v3\"");
  EXPECT_EQ(ogc::version_tag("\"330521001001001-v3\""), "\"330521001001001-v3\"");
  EXPECT_EQ(ogc::version_tag("*"), "*");
  EXPECT_EQ(ogc::version_tag("\"abc\""), "\"abc\"");
  EXPECT_EQ(ogc::version_tag("\"x-0123456789abcdef\""), "\"x-0123456789abcdef\"");        // no version before the digest
  EXPECT_EQ(ogc::version_tag("\"1-v2-0123456789ABCDEF\""), "\"1-v2-0123456789ABCDEF\"");  // not our digest's digits
  EXPECT_EQ(ogc::version_tag("\"1-vx-0123456789abcdef\""), "\"1-vx-0123456789abcdef\"");
}

TEST(OgcEdit, RefusalsHaveBilingualTitles) {
  EXPECT_EQ(*ogc_edit::refusal_title("overlaps_sibling"), "与相邻区域重叠 / Overlaps a neighbouring area");
  EXPECT_TRUE(ogc_edit::refusal_title("gap_opened")->find("adjust=neighbours") != std::string::npos);
  EXPECT_FALSE(ogc_edit::refusal_title("internal"));
}

}  // namespace
