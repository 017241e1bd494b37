// The CQL2 parser and compiler without a database: the SQL they write, the parameters they pass,
// where they say an error is. (The answers' rows are checked over HTTP in tests/api/test_ogc_filter.py.)
#include <gtest/gtest.h>

#include <string>

#include "exchange/cql2.hpp"

using namespace wangge::exchange::cql2;

namespace {

const std::vector<Queryable> kQueryables = {{"name", Type::text, "t.name", ""},
                                            {"population", Type::number, "t.population", ""},
                                            {"valid_from", Type::datetime, "t.valid_from", ""},
                                            {"valid_to", Type::datetime, "t.valid_to", ""},
                                            {"geometry", Type::geometry, "t.geom", ""}};

struct Sql {
  std::string text;
  std::vector<std::optional<std::string>> params;
};

Sql sql_of(const std::string& filter, const std::string& lang = "cql2-text", std::size_t params_before = 0) {
  Sql out;
  out.params.resize(params_before);
  auto e = parse(filter, lang);
  out.text = compile(*e, kQueryables, {}).render(out.params);
  return out;
}

// The position a filter_error reports, or "none".
std::string error_position(const std::string& filter, const std::string& lang = "cql2-text", const Limits& limits = {}) {
  try {
    auto e = parse(filter, lang, limits);
    (void)compile(*e, kQueryables, {});
  } catch (const filter_error& e) {
    EXPECT_EQ(e.code(), "invalid_filter");
    EXPECT_EQ(e.status(), 400);
    return e.position;
  }
  return "none";
}

}  // namespace

TEST(Cql2, ValuesBecomeParametersNumberedAfterTheQuerys) {
  auto s = sql_of("name = 'x''); DROP TABLE t; --' AND population > 10", "cql2-text", 3);
  EXPECT_EQ(s.text, "((t.name = $4::text) AND (t.population > $5::float8))");
  ASSERT_EQ(s.params.size(), 5u);
  EXPECT_EQ(*s.params[3], "x'); DROP TABLE t; --");
  EXPECT_EQ(*s.params[4], "10");
}

TEST(Cql2, TextAndJsonCompileAlike) {
  auto a = sql_of("name LIKE '西湖%' AND NOT population BETWEEN 1 AND 5 OR name IN ('a', 'b')");
  auto b = sql_of(R"({"op":"or","args":[{"op":"and","args":[{"op":"like","args":[{"property":"name"},"西湖%"]},
      {"op":"not","args":[{"op":"between","args":[{"property":"population"},1,5]}]}]},
      {"op":"in","args":[{"property":"name"},["a","b"]]}]})",
                  "cql2-json");
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.params, b.params);
}

TEST(Cql2, TemporalAndSpatial) {
  auto s = sql_of("T_BEFORE(valid_from, TIMESTAMP('2026-01-01T08:00:00+08:00')) AND S_INTERSECTS(geometry, BBOX(120, 30, 121, 31))");
  EXPECT_NE(s.text.find("(t.valid_from < $1::timestamptz)"), std::string::npos) << s.text;
  EXPECT_EQ(*s.params[0], "2026-01-01T00:00:00Z");
  EXPECT_NE(s.text.find("ST_Intersects(t.geom, ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON($2::text), 4490)))"), std::string::npos)
      << s.text;
  auto i = sql_of("T_INTERSECTS(INTERVAL(valid_from, valid_to), INTERVAL('2020-01-01', '..'))");
  EXPECT_NE(i.text.find("coalesce(t.valid_to, 'infinity'::timestamptz) < $1::timestamptz"), std::string::npos) << i.text;
  EXPECT_EQ(*i.params[0], "2020-01-01T00:00:00Z");
}

TEST(Cql2, ErrorsNameThePosition) {
  EXPECT_EQ(error_position("name = "), "7");
  EXPECT_EQ(error_position("name = 'a' AND nope = 1"), "15");
  EXPECT_EQ(error_position("population = 'many'"), "13");
  EXPECT_EQ(error_position("name LIKE 'a' extra"), "14");
  EXPECT_EQ(error_position("S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1)))"), "23");
  EXPECT_EQ(error_position(R"({"op":"=","args":[{"property":"nope"},1]})", "cql2-json"), "/args/0");
  EXPECT_EQ(error_position(R"({"op":"and","args":[true,{"op":"~","args":[]}]})", "cql2-json"), "/args/1/op");
  EXPECT_EQ(error_position("name = 'a'", "cql2-text"), "none");
}

TEST(Cql2, Limits) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "(";
  EXPECT_NE(error_position(deep + "name = 'a'" + std::string(100, ')')), "none");
  std::string wide = "name IN ('a'";
  for (int i = 0; i < 1000; ++i) wide += ",'a'";
  EXPECT_NE(error_position(wide + ")"), "none");
  Limits small;
  small.max_length = 8;
  EXPECT_EQ(error_position("name = 'abcdef'", "cql2-text", small), "0");
  std::string nested_json;
  for (int i = 0; i < 1000; ++i) nested_json += R"({"op":"not","args":[)";
  EXPECT_EQ(error_position(nested_json + "true" + std::string(1000, ']'), "cql2-json"), "");
}

TEST(Cql2, SortbyTakesQueryablesOnly) {
  auto keys = parse_sortby("-population,name", kQueryables);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0], std::make_pair(std::string("t.population"), true));
  EXPECT_EQ(keys[1], std::make_pair(std::string("t.name"), false));
  EXPECT_THROW(parse_sortby("name;DROP", kQueryables), wangge::bad_request);
  EXPECT_THROW(parse_sortby("geometry", kQueryables), wangge::bad_request);
  EXPECT_THROW(parse_sortby("", kQueryables), wangge::bad_request);
}

// GDAL 3.6 names the text encoding by the draft's "cql-text": the same grammar.
TEST(Cql2, DraftNameOfTheTextEncoding) {
  EXPECT_EQ(sql_of("name LIKE 'a%' AND population > 3", "cql-text").text, sql_of("name LIKE 'a%' AND population > 3").text);
  EXPECT_THROW(parse("name = 'a'", "cql-json"), wangge::bad_request);
}
