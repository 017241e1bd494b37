#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/time.hpp"
#include "geom/crs.hpp"
#include "registry/areas.hpp"
#include "registry/codes.hpp"

using namespace wangge;
using namespace wangge::registry;

namespace {
Config defaults() { return Config{}; }
}  // namespace

TEST(Codes, AcceptsTheDomainExamples) {
  CodeRules rules(defaults());
  EXPECT_NO_THROW(rules.validate("330000", Level::province, ""));
  EXPECT_NO_THROW(rules.validate("330500", Level::city, "330000"));
  EXPECT_NO_THROW(rules.validate("330521", Level::county, "330500"));
  EXPECT_NO_THROW(rules.validate("330521001", Level::township, "330521"));
  EXPECT_NO_THROW(rules.validate("330521001002", Level::village, "330521001"));
  EXPECT_NO_THROW(rules.validate("330521001002003", Level::grid, "330521001002"));
  EXPECT_NO_THROW(rules.validate("33052100100200301", Level::microgrid, "330521001002003"));
}

TEST(Codes, RejectsWrongLengthsAndPrefixes) {
  CodeRules rules(defaults());
  EXPECT_THROW(rules.validate("3305210010", Level::township, "330521"), unprocessable);
  EXPECT_THROW(rules.validate("330522001", Level::township, "330521"), unprocessable);  // other county
  EXPECT_THROW(rules.validate("330521000", Level::township, "330521"), unprocessable);  // sequence 000
  EXPECT_THROW(rules.validate("33052100100a", Level::village, "330521001"), unprocessable);
  EXPECT_THROW(rules.validate("330521001002", Level::grid, "330521001"), unprocessable);
  EXPECT_THROW(rules.validate("330600", Level::city, "340000"), unprocessable);
  EXPECT_THROW(rules.validate("330500", Level::county, "330000"), unprocessable);  // city code as county
  EXPECT_THROW(rules.validate("330521001003004", Level::grid, "330521001002"), unprocessable);
}

TEST(Codes, GridPatternIsConfigurable) {
  Config c;
  c.grid_code_pattern = "^[0-9]{12}[0-9]{8}$";  // CJ/T 349 style 20 digits
  CodeRules rules(c);
  EXPECT_NO_THROW(rules.validate("33052100100200000001", Level::grid, "330521001002"));
  EXPECT_THROW(rules.validate("330521001002003", Level::grid, "330521001002"), unprocessable);
}

TEST(Codes, ScopeIsAPrefixOfTheSubtree) {
  EXPECT_EQ(code_prefix("330000"), "33");
  EXPECT_EQ(code_prefix("330500"), "3305");
  EXPECT_EQ(code_prefix("330521"), "330521");
  EXPECT_TRUE(code_within("330521001002003", "330521"));
  EXPECT_TRUE(code_within("330521001002003", "330000"));
  EXPECT_TRUE(code_within("330521", "330521"));
  EXPECT_FALSE(code_within("330522001", "330521"));
  EXPECT_FALSE(code_within("330521002001", "330521001"));
  EXPECT_FALSE(code_within("340100", "330000"));
}

TEST(Levels, ParentLevels) {
  EXPECT_EQ(parent_level(Level::grid), Level::village);
  EXPECT_EQ(parent_level(Level::microgrid), Level::grid);
  EXPECT_FALSE(parent_level(Level::province).has_value());
  EXPECT_EQ(parse_level("village"), Level::village);
  EXPECT_FALSE(parse_level("street").has_value());
}

TEST(IfMatch, SplitsListsAndDropsWeakPrefix) {
  auto tags = parse_if_match(R"("330521001-v2", W/"330521002-v1",*)");
  ASSERT_EQ(tags.size(), 3u);
  EXPECT_EQ(tags[0], "\"330521001-v2\"");
  EXPECT_EQ(tags[1], "\"330521002-v1\"");
  EXPECT_EQ(tags[2], "*");
  EXPECT_EQ(area_etag("330521", 3), "\"330521-v3\"");
}

TEST(Time, Rfc3339RoundTripAndOffsets) {
  auto t = parse_rfc3339("2026-11-29T08:00:00+08:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_rfc3339(*t), "2026-11-29T00:00:00Z");
  auto f = parse_rfc3339("2026-01-01T00:00:00.5Z");
  ASSERT_TRUE(f);
  EXPECT_EQ(format_rfc3339(*f), "2026-01-01T00:00:00.500000Z");
  EXPECT_FALSE(parse_rfc3339("2026-01-01"));
  EXPECT_FALSE(parse_rfc3339("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("yesterday"));
}

TEST(Crs, SupportedForms) {
  EXPECT_EQ(geom::parse_crs(""), 4490);
  EXPECT_EQ(geom::parse_crs("EPSG:4549"), 4549);
  EXPECT_EQ(geom::parse_crs("http://www.opengis.net/def/crs/EPSG/0/3857"), 3857);
  EXPECT_EQ(geom::parse_crs("urn:ogc:def:crs:EPSG::4528"), 4528);
  EXPECT_EQ(geom::parse_crs("http://www.opengis.net/def/crs/OGC/1.3/CRS84"), 4326);
  EXPECT_THROW(geom::parse_crs("EPSG:2154"), bad_request);
  EXPECT_THROW(geom::parse_crs("EPSG:4490x"), bad_request);
}
