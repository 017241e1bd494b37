// CQL2 evaluated in memory (cql2_memory.hpp) without a database: SQL's truth values on rows with
// NULLs, LIKE on UTF-8, numbers against integers, IN, BETWEEN, NOT; what it refuses; the prefix
// it offers to an index. (Byte-for-byte agreement with the SQL path over HTTP: tests/api/test_ogc_memory.py.)
#include <gtest/gtest.h>

#include <string>

#include "core/time.hpp"
#include "exchange/cql2_memory.hpp"

using namespace wangge::exchange::cql2;

namespace {

const std::vector<Queryable> kQueryables = {{"code", Type::text, "t.code", ""},
                                            {"name", Type::text, "t.name", ""},
                                            {"population", Type::number, "t.population", ""},
                                            {"valid_from", Type::datetime, "t.valid_from", ""},
                                            {"valid_to", Type::datetime, "t.valid_to", ""},
                                            {"geometry", Type::geometry, "t.geom", ""}};

struct TestRow : Row {
  std::string code, name;
  std::optional<double> population;
  long long valid_from = 0;
  Value get(std::size_t p) const override {
    Value v;
    switch (p) {
      case 0:
        v.type = Value::Type::text;
        v.text = code;
        break;
      case 1:
        v.type = Value::Type::text;
        v.text = name;
        break;
      case 2:
        if (population) {
          v.type = Value::Type::number;
          v.number = *population;
        }
        break;
      case 3:
        v.type = Value::Type::datetime;
        v.micros = valid_from;
        break;
      default:
        break;  // valid_to: NULL
    }
    return v;
  }
};

TestRow row(std::string code, std::string name, std::optional<double> population) {
  TestRow r;
  r.code = std::move(code);
  r.name = std::move(name);
  r.population = population;
  r.valid_from = *wangge::parse_rfc3339("2026-01-01T00:00:00Z");
  return r;
}

// The truth of `filter` on `r`, as compile() would have let it through.
Truth eval(const std::string& filter, const TestRow& r, const std::string& lang = "cql2-text") {
  auto e = parse(filter, lang);
  (void)compile(*e, kQueryables, {});
  auto f = MemoryFilter::prepare(*e, kQueryables);
  EXPECT_TRUE(f.has_value()) << filter;
  return f ? f->evaluate(r) : Truth::unknown;
}

const Truth T = Truth::true_, F = Truth::false_, U = Truth::unknown;

}  // namespace

TEST(Cql2Memory, LikeFollowsPostgresOnUtf8) {
  EXPECT_TRUE(like("泰圩社区第1网格", "%社区%"));
  EXPECT_TRUE(like("泰圩社区第1网格", "泰圩社区第_网格"));
  EXPECT_FALSE(like("泰圩社区第12网格", "泰圩社区第_网格"));
  EXPECT_TRUE(like("泰圩社区第网网格", "泰圩社区第_网格"));  // _ is one character of three bytes
  EXPECT_TRUE(like("330521001001", "330521001%"));
  EXPECT_FALSE(like("33052100", "330521001%"));
  EXPECT_TRUE(like("", "%"));
  EXPECT_FALSE(like("", "_"));
  EXPECT_TRUE(like("abc", "abc"));
  EXPECT_FALSE(like("abc", "ABC"));  // case-sensitive
  EXPECT_TRUE(like("a%c", "a\\%c"));
  EXPECT_FALSE(like("abc", "a\\%c"));
  EXPECT_TRUE(like("a_c", "a\\_c"));
  EXPECT_FALSE(like("abc", "a\\_c"));
  EXPECT_TRUE(like("a\\c", "a\\\\c"));
  EXPECT_TRUE(like("aXbXc", "%b%c"));
  EXPECT_TRUE(like("abababc", "%abc"));
  EXPECT_FALSE(like("ababab", "%abc"));
  EXPECT_TRUE(like("abc", "%%_%"));
  EXPECT_FALSE(like("abc", "____"));
}

TEST(Cql2Memory, ComparisonsAndNulls) {
  const auto r = row("330521001001001", "泰圩社区第1网格", 1200);
  const auto n = row("330521001001002", "b", std::nullopt);
  EXPECT_EQ(eval("population > 1199.5", r), T);
  EXPECT_EQ(eval("population = 1200.0", r), T);
  EXPECT_EQ(eval("population <> 1200", r), F);
  EXPECT_EQ(eval("population < 1.2e3", r), F);
  EXPECT_EQ(eval("population > -1", r), T);
  EXPECT_EQ(eval("population > 1", n), U);
  EXPECT_EQ(eval("NOT (population > 1)", n), U);
  EXPECT_EQ(eval("population > 1 OR name = 'b'", n), T);
  EXPECT_EQ(eval("population > 1 AND name = 'b'", n), U);
  EXPECT_EQ(eval("population > 1 AND name = 'c'", n), F);
  EXPECT_EQ(eval("population IS NULL", n), T);
  EXPECT_EQ(eval("population IS NOT NULL", n), F);
  EXPECT_EQ(eval("valid_to IS NULL", r), T);
  EXPECT_EQ(eval("valid_to > TIMESTAMP('2020-01-01T00:00:00Z')", r), U);
  // Strings compare byte by byte (the database has no locale): digits before letters, 'Z' before 'a'.
  EXPECT_EQ(eval("name > 'Z'", n), T);
  EXPECT_EQ(eval("name < 'a'", n), F);
  EXPECT_EQ(eval("code >= '33052100100100'", r), T);
  EXPECT_EQ(eval("name > '泰'", r), T);
  EXPECT_EQ(eval("TRUE", r), T);
  EXPECT_EQ(eval("false", r), F);
  EXPECT_EQ(eval("1 = 1", r), T);
  EXPECT_EQ(eval("'a' < 'b'", r), T);
}

TEST(Cql2Memory, InBetweenNotAndTimes) {
  const auto r = row("330521001001001", "泰圩社区第1网格", 1200);
  const auto n = row("330521001001002", "b", std::nullopt);
  EXPECT_EQ(eval("code IN ('x', '330521001001001')", r), T);
  EXPECT_EQ(eval("code NOT IN ('x', '330521001001001')", r), F);
  EXPECT_EQ(eval("code NOT IN ('x')", r), T);
  EXPECT_EQ(eval("population IN (1, 2)", n), U);
  EXPECT_EQ(eval("population NOT IN (1, 2)", n), U);
  EXPECT_EQ(eval("population BETWEEN 1200 AND 1300", r), T);
  EXPECT_EQ(eval("population BETWEEN 1300 AND 1200", r), F);  // not symmetric, as in SQL
  EXPECT_EQ(eval("population NOT BETWEEN 1000 AND 1100", r), T);
  EXPECT_EQ(eval("population NOT BETWEEN 1000 AND 1100", n), U);
  EXPECT_EQ(eval("valid_from = TIMESTAMP('2026-01-01T08:00:00+08:00')", r), T);
  EXPECT_EQ(eval("valid_from >= DATE('2026-01-01')", r), T);
  EXPECT_EQ(eval("valid_from > DATE('2026-01-01')", r), F);
  EXPECT_EQ(eval("valid_from BETWEEN TIMESTAMP('2025-12-31T23:59:59.999999Z') AND DATE('2026-01-02')", r), T);
  EXPECT_EQ(eval(R"({"op":"not","args":[{"op":"like","args":[{"property":"name"},"%社区%"]}]})", r, "cql2-json"), F);
  EXPECT_EQ(eval(R"({"op":"in","args":[{"property":"population"},[1200, 5]]})", r, "cql2-json"), T);
}

TEST(Cql2Memory, RefusesWhatItDoesNotEvaluate) {
  for (const char* filter : {"S_INTERSECTS(geometry, POINT(120 30))", "name = 'a' AND S_WITHIN(geometry, BBOX(119, 30, 121, 31))",
                             "T_BEFORE(valid_from, TIMESTAMP('2020-01-01T00:00:00Z'))"}) {
    auto e = parse(filter, "cql2-text");
    EXPECT_FALSE(MemoryFilter::prepare(*e, kQueryables).has_value()) << filter;
  }
}

TEST(Cql2Memory, RequiredPrefixOfTheCode) {
  auto prefix = [](const std::string& filter) {
    auto e = parse(filter, "cql2-text");
    return MemoryFilter::prepare(*e, kQueryables)->required_prefix(0);
  };
  EXPECT_EQ(prefix("code LIKE '330521001%' AND name LIKE '%社区%'"), "330521001");
  EXPECT_EQ(prefix("name LIKE '%社区%' AND code LIKE '3305_1%'"), "3305");
  EXPECT_EQ(prefix("code = '330521001001001'"), "330521001001001");
  EXPECT_EQ(prefix("code LIKE '33%' OR name = 'a'"), "");
  EXPECT_EQ(prefix("code NOT LIKE '33%'"), "");
  EXPECT_EQ(prefix("name LIKE '33%'"), "");
}
